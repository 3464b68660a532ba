/*
 * test_sync_harness.h — shared by the sync tests that run the simulator
 * (tests/system/test_sync_*.c): runs the real fieldsync-sim from
 * $FIELDSYNC_BUILD on a free port, talks to it over HTTP with libcurl (its
 * /__sim/ controls and the "dispatcher's" API calls), and gives each test a
 * temporary database and a sync engine pointed at the simulator.  Included
 * by each test file (each is its own program), so everything here is
 * static.
 */
#ifndef TEST_SYNC_HARNESS_H
#define TEST_SYNC_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "store/store.h"
#include "sync/sync.h"
#include "tests/unit/test_util.h"

#define H_FN static __attribute__((unused))

/* The technician whose scope the tests sync, unless a test says otherwise. */
#define H_TECH "tech-001"

typedef struct {
    pid_t pid;
    char url[128];            /* http://127.0.0.1:PORT */
    char api[160];            /* url + /api/v1 */
    char dir[64];             /* private temporary directory */
    char db[128];             /* dir/replica.db */
    sync_engine *se;
    store *st;                /* a second handle, for the test's own reads and edits */
} harness;

H_FN int64_t h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts the simulator with the given extra arguments (NULL-terminated). */
H_FN int h_sim_start(harness *h, const char *const *extra)
{
    const char *build = getenv("FIELDSYNC_BUILD");
    char bin[512], line[256];
    const char *argv[32];
    int fds[2], n = 0;
    size_t got = 0;
    struct pollfd pfd;

    if (!build)
        build = "build";
    snprintf(bin, sizeof bin, "%s/fieldsync-sim", build);
    argv[n++] = bin;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    if (pipe(fds))
        return -1;
    h->pid = fork();
    if (h->pid < 0)
        return -1;
    if (h->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(fds[1], 1);
        if (null >= 0 && !getenv("H_SIM_STDERR"))
            dup2(null, 2);
        close(fds[0]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    /* The first line is "listening on http://ADDR:PORT". */
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
        ssize_t r;
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        r = read(fds[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = '\0';
    }
    close(fds[0]);
    line[got] = '\0';
    if (sscanf(line, "listening on %127s", h->url) != 1) {
        fprintf(stderr, "sim did not start: %s\n", line);
        return -1;
    }
    snprintf(h->api, sizeof h->api, "%s/api/v1", h->url);
    return 0;
}

H_FN void h_sim_stop(harness *h)
{
    int status;

    if (h->pid <= 0)
        return;
    kill(h->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
            h->pid = 0;
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);   /* waiting for the child to exit, bounded */
    }
    kill(h->pid, SIGKILL);
    waitpid(h->pid, &status, 0);
    h->pid = 0;
}

typedef struct {
    char *p;
    size_t n;
} h_buf;

static size_t h_write(char *d, size_t s, size_t m, void *ud)
{
    h_buf *b = ud;
    char *p = realloc(b->p, b->n + s * m + 1);
    if (!p)
        return 0;
    memcpy(p + b->n, d, s * m);
    b->p = p;
    b->n += s * m;
    b->p[b->n] = '\0';
    return s * m;
}

/*
 * One HTTP request to the simulator: path is appended to its root URL;
 * with auth the Bearer key is sent (the dispatcher's API calls).  Returns
 * the status (0 on failure); *body_out (if given) gets the body.
 */
H_FN long h_http(harness *h, const char *method, const char *path,
                 const char *body, int auth, char **body_out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hd = NULL;
    h_buf b = {NULL, 0};
    char url[1024];
    long status = 0;

    if (!c)
        return 0;
    snprintf(url, sizeof url, "%s%s", h->url, path);
    if (auth)
        hd = curl_slist_append(hd, "Authorization: Bearer sim-key");
    if (body)
        hd = curl_slist_append(hd, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, h_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    if (body_out)
        *body_out = b.p;
    else
        free(b.p);
    return status;
}

/* GETs a JSON document from the simulator (NULL on failure). */
H_FN cJSON *h_get_json(harness *h, const char *path, int auth)
{
    char *body = NULL;
    cJSON *j = NULL;

    if (h_http(h, "GET", path, NULL, auth, &body) == 200 && body)
        j = cJSON_Parse(body);
    free(body);
    return j;
}

/* The dispatcher edits a record through the normal API; returns status. */
H_FN long h_dispatch(harness *h, const char *method, const char *api_path,
                     const char *body)
{
    char path[512];
    snprintf(path, sizeof path, "/api/v1%s", api_path);
    return h_http(h, method, path, body, 1, NULL);
}

H_FN long h_faults(harness *h, const char *json)
{
    return json ? h_http(h, "POST", "/__sim/faults", json, 0, NULL)
                : h_http(h, "DELETE", "/__sim/faults", NULL, 0, NULL);
}

/* A route's count of answers with the given status in /__sim/stats. */
H_FN long h_stat(const cJSON *stats, const char *route, const char *status)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(stats, "routes"), route);
    const cJSON *v;

    if (!status)
        v = cJSON_GetObjectItemCaseSensitive(r, "count");
    else
        v = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(r, "status"), status);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

/* The record with this id in an array of the sim's state, or NULL. */
H_FN const cJSON *h_find(const cJSON *state, const char *table, const char *id)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(state, table)) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (cJSON_IsString(i) && strcmp(i->valuestring, id) == 0)
            return it;
    }
    return NULL;
}

H_FN const char *h_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

H_FN const char *h_ref(const cJSON *o, const char *k)
{
    return h_str(cJSON_GetObjectItemCaseSensitive(o, k), "id");
}

/* Makes the temp dir and the engine; cfg fields not set get test values. */
H_FN int h_engine(harness *h, sync_config *cfg)
{
    char err[256];

    if (!h->dir[0]) {
        snprintf(h->dir, sizeof h->dir, "/tmp/fieldsync-sync-XXXXXX");
        if (!mkdtemp(h->dir))
            return -1;
        snprintf(h->db, sizeof h->db, "%s/replica.db", h->dir);
    }
    if (!cfg->api_url)
        cfg->api_url = h->api;
    if (!cfg->api_key)
        cfg->api_key = "sim-key";
    if (sync_engine_new(cfg, h->db, &h->se, err, sizeof err)) {
        fprintf(stderr, "engine: %s\n", err);
        return -1;
    }
    if (!h->st && store_open(h->db, &h->st, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "store: %s\n", err);
        return -1;
    }
    return 0;
}

H_FN void h_teardown(harness *h)
{
    sync_engine_free(h->se);
    h->se = NULL;
    store_close(h->st);
    h->st = NULL;
    h_sim_stop(h);
    if (h->dir[0])
        tu_rmtree(h->dir);
    h->dir[0] = '\0';
}

H_FN int h_cycle(harness *h, sync_summary *sum)
{
    return sync_cycle_run(h->se, h_now_ms(), sum);
}

/* The simulator with its arguments (NULL-terminated), an engine with cfg
 * (see h_engine), and a first sync that must complete; its summary goes
 * to *first when given. */
H_FN void h_start(harness *h, const char *const *sim_args, sync_config *cfg,
                  sync_summary *first)
{
    sync_summary s;

    assert_int_equal(h_sim_start(h, sim_args), 0);
    assert_int_equal(h_engine(h, cfg), 0);
    assert_int_equal(h_cycle(h, &s), 0);
    assert_true(s.complete);
    if (first)
        *first = s;
}

/* h_start with a seed for the simulator and H_TECH's scope, retry waits
 * scaled down to milliseconds. */
H_FN void h_start_seed(harness *h, const char *seed)
{
    const char *const args[] = {"--seed", seed, NULL};
    sync_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.technician_id = H_TECH;
    cfg.backoff_scale = 0.0001;
    h_start(h, args, &cfg, NULL);
}

/* Pending (incl. in flight) ops in the outbox. */
H_FN int64_t h_pending(harness *h)
{
    int64_t p = -1, r = -1, held = -1;
    if (store_outbox_counts(h->st, &p, &r, &held) != STORE_OK)
        return -1;
    return p;
}

/* A store record's local view, parsed (NULL if absent). */
H_FN cJSON *h_local(harness *h, store_entity e, const char *id)
{
    char *json = NULL;
    cJSON *j = NULL;
    if (store_get(h->st, e, id, &json) == STORE_OK && json)
        j = cJSON_Parse(json);
    free(json);
    return j;
}

/* Asserts that a record is in the replica with field (a string) == want. */
H_FN void h_assert_local(harness *h, store_entity e, const char *id, const char *field,
                         const char *want)
{
    cJSON *j = h_local(h, e, id);
    const char *v;

    if (!j)
        fail_msg("%s is not in the replica", id);
    v = h_str(j, field);
    if (!v)
        fail_msg("%s has no string %s", id, field);
    assert_string_equal(v, want);
    cJSON_Delete(j);
}

/* Asserts that the sim's state has a record id in table with field
 * (a string) == want. */
H_FN void h_assert_sim(harness *h, const char *table, const char *id, const char *field,
                       const char *want)
{
    cJSON *st = h_get_json(h, "/__sim/state", 0);
    const char *v;

    if (!st)
        fail_msg("no state from the sim");
    v = h_str(h_find(st, table, id), field);
    if (!v)
        fail_msg("the sim's %s %s has no string %s", table, id, field);
    assert_string_equal(v, want);
    cJSON_Delete(st);
}

/* Asserts a record's sync state in the replica ("_sync": {"state": ...}). */
H_FN void h_assert_sync_state(harness *h, store_entity e, const char *id, const char *want)
{
    cJSON *j = h_local(h, e, id);

    if (!j)
        fail_msg("%s is not in the replica", id);
    assert_string_equal(h_str(cJSON_GetObjectItemCaseSensitive(j, "_sync"), "state"), want);
    cJSON_Delete(j);
}

/* A local update with fields given as JSON text. */
H_FN int h_update(harness *h, store_entity e, const char *id, const char *fields,
                  int64_t when)
{
    cJSON *f = cJSON_Parse(fields);
    int rc = f ? store_local_update(h->st, e, id, f, when, NULL) : -1;
    if (rc)
        fprintf(stderr, "local update %s: %s %s\n", id, store_errmsg(h->st),
                store_errdetails(h->st));
    cJSON_Delete(f);
    return rc;
}

/* A local create; the new local id is copied to id_out. */
H_FN int h_create(harness *h, store_entity e, const char *parent, const char *fields,
                  char *id_out, size_t idlen)
{
    cJSON *f = cJSON_Parse(fields), *rec = NULL;
    char *json = NULL;
    int rc = f ? store_local_create(h->st, e, parent, f, h_now_ms(), &json) : -1;

    if (rc)
        fprintf(stderr, "local create: %s %s\n", store_errmsg(h->st),
                store_errdetails(h->st));
    if (rc == 0 && (rec = cJSON_Parse(json)) && h_str(rec, "id"))
        snprintf(id_out, idlen, "%s", h_str(rec, "id"));
    cJSON_Delete(rec);
    cJSON_Delete(f);
    free(json);
    return rc;
}

/* Ids of the work orders of technician tech in the sim's state whose
 * scheduled date lies in [today-back, today+ahead] (UTC, server clock). */
H_FN int h_in_window(const cJSON *wo, const char *tech, int back, int ahead,
                     int64_t server_now)
{
    char from[16], to[16], day[11];
    time_t tf = (time_t)(server_now / 1000 - (int64_t)back * 86400);
    time_t tt = (time_t)(server_now / 1000 + (int64_t)ahead * 86400);
    struct tm tm;
    const char *sd = h_str(wo, "scheduled_date");
    const char *t = h_ref(wo, "technician");

    if (!sd || !t || strcmp(t, tech) != 0)
        return 0;
    gmtime_r(&tf, &tm);
    strftime(from, sizeof from, "%Y-%m-%d", &tm);
    gmtime_r(&tt, &tm);
    strftime(to, sizeof to, "%Y-%m-%d", &tm);
    snprintf(day, sizeof day, "%.10s", sd);
    return strcmp(day, from) >= 0 && strcmp(day, to) <= 0;
}

/* cmocka setup/teardown: a fresh harness per test, everything stopped and
 * removed afterwards. */
H_FN int h_setup_cb(void **state)
{
    harness *h = calloc(1, sizeof *h);
    *state = h;
    return h ? 0 : -1;
}

H_FN int h_teardown_cb(void **state)
{
    harness *h = *state;
    h_teardown(h);
    free(h);
    return 0;
}

/* A test case with a fresh harness of its own. */
#define H_TEST(f) cmocka_unit_test_setup_teardown(f, h_setup_cb, h_teardown_cb)

/* How many records of a table in the sim's state have field == value, and
 * the first of them. */
H_FN int h_count_by(const cJSON *state, const char *table, const char *field,
                    const char *value, const cJSON **first)
{
    const cJSON *r;
    int n = 0;

    if (first)
        *first = NULL;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(state, table)) {
        const char *v = h_str(r, field);
        if (v && strcmp(v, value) == 0) {
            if (n++ == 0 && first)
                *first = r;
        }
    }
    return n;
}

#endif /* TEST_SYNC_HARNESS_H */
