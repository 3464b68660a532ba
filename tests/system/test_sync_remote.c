/*
 * test_sync_remote.c — the remote client's rules, against two small HTTP
 * servers of the test's own (libmicrohttpd) and the simulator:
 *   - redirects are not followed, so the API key never reaches another host;
 *   - a body over the cap fails that request only;
 *   - the Authorization, User-Agent, Accept-Encoding and Idempotency-Key
 *     headers go out as they should;
 *   - Date headers feed the clock; ETag and Retry-After are read;
 *   - many requests share few kept-alive connections;
 *   - a cancel aborts transfers in progress at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "sync/remote.h"
#include "tests/system/test_sync_harness.h"

typedef struct {
    struct MHD_Daemon *d;
    int port;
    int hits;                 /* requests received */
    char auth[256], ua[128], ae[128], idem[80];
    int other_port;           /* where /redirect points */
} srv;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version,
                               const char *upload, size_t *upload_size, void **con_cls)
{
    srv *s = cls;
    struct MHD_Response *r;
    const char *v;
    char loc[128];
    enum MHD_Result ret;
    static char big[5 << 20];
    (void)method, (void)version, (void)upload;

    if (!*con_cls) {          /* first call: headers only (keep-alive pattern) */
        *con_cls = s;
        return MHD_YES;
    }
    if (*upload_size) {       /* body bytes: swallow, answer on the last call */
        *upload_size = 0;
        return MHD_YES;
    }
    s->hits++;
    v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(s->auth, sizeof s->auth, "%s", v ? v : "");
    v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    snprintf(s->ua, sizeof s->ua, "%s", v ? v : "");
    v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    snprintf(s->ae, sizeof s->ae, "%s", v ? v : "");
    v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    snprintf(s->idem, sizeof s->idem, "%s", v ? v : "");

    if (strcmp(url, "/api/v1/redirect") == 0) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        snprintf(loc, sizeof loc, "http://127.0.0.1:%d/steal", s->other_port);
        MHD_add_response_header(r, "Location", loc);
        ret = MHD_queue_response(c, 302, r);
    } else if (strcmp(url, "/api/v1/big") == 0) {
        memset(big, 'x', sizeof big);
        r = MHD_create_response_from_buffer(sizeof big, big, MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, 200, r);
    } else if (strcmp(url, "/api/v1/busy") == 0) {
        r = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", "7");
        ret = MHD_queue_response(c, 429, r);
    } else {
        static const char body[] = "{\"data\":{\"id\":\"x-1\"}}";
        r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
                                            MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "ETag", "\"x-1-abc\"");
        MHD_add_response_header(r, "Date", "Sun, 06 Nov 1994 08:49:37 GMT");
        ret = MHD_queue_response(c, 200, r);
    }
    MHD_destroy_response(r);
    return ret;
}

static int srv_start(srv *s)
{
    const union MHD_DaemonInfo *info;

    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_SUPPRESS_DATE_NO_CLOCK,
                            0, NULL, NULL, handler, s, MHD_OPTION_END);
    if (!s->d)
        return -1;
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s->port ? 0 : -1;
}

typedef struct {
    srv a, b;
    sync_remote_client *rm;
    atomic_int cancel;
    sync_logger log;
    sync_clock clk;
    harness h;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    sync_remote_config rc;
    char url[128], err[256];

    if (!f || srv_start(&f->a) || srv_start(&f->b))
        return -1;
    f->a.other_port = f->b.port;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1", f->a.port);
    sync_log_init(&f->log, NULL, NULL, SYNC_LOG_ERROR);
    sync_clock_init(&f->clk, 0, 0);
    atomic_init(&f->cancel, 0);
    memset(&rc, 0, sizeof rc);
    rc.api_url = url;
    rc.api_key = "secret-key-123";
    rc.max_connections = 4;
    rc.cancel = &f->cancel;
    rc.log = &f->log;
    if (sync_remote_new(&rc, &f->rm, err, sizeof err))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sync_remote_free(f->rm);
    MHD_stop_daemon(f->a.d);
    MHD_stop_daemon(f->b.d);
    h_teardown(&f->h);
    free(f);
    return 0;
}

static void run1(fx *f, sync_remote_req *req)
{
    sync_remote_req *one = req;
    sync_remote_run(f->rm, &one, 1, &f->clk, NULL);
}

static void test_headers_etag_date(void **state)
{
    fx *f = *state;
    sync_remote_req req;

    memset(&req, 0, sizeof req);
    assert_int_equal(sync_remote_req_set(f->rm, &req, "POST", "/things"), 0);
    req.body = strdup("{\"a\":1}");
    snprintf(req.idempotency_key, sizeof req.idempotency_key, "op-42");
    run1(f, &req);
    assert_int_equal(req.status, 200);
    assert_int_equal(sync_remote_classify(&req), SYNC_REMOTE_OK);
    assert_string_equal(f->a.auth, "Bearer secret-key-123");
    assert_string_equal(f->a.ua, "fieldsync/" FIELDSYNC_VERSION);
    assert_non_null(strstr(f->a.ae, "gzip"));
    assert_string_equal(f->a.idem, "op-42");
    assert_string_equal(req.etag, "\"x-1-abc\"");
    assert_int_equal(req.date_ms, (int64_t)784111777 * 1000);
    /* A server clock 32 years behind shows in the estimate. */
    assert_true(sync_clock_offset(&f->clk) < -1000000000000LL);
    assert_non_null(strstr(req.resp, "x-1"));
    sync_remote_req_clear(&req);
}

/* A redirect is an answer, never followed: the other host sees nothing. */
static void test_redirect_not_followed(void **state)
{
    fx *f = *state;
    sync_remote_req req;

    memset(&req, 0, sizeof req);
    assert_int_equal(sync_remote_req_set(f->rm, &req, "GET", "/redirect"), 0);
    run1(f, &req);
    assert_int_equal(req.status, 302);
    assert_int_equal(sync_remote_classify(&req), SYNC_REMOTE_TRANSIENT);
    assert_int_equal(f->b.hits, 0);
    sync_remote_req_clear(&req);
}

/* Over the cap: this request fails, the next one on the client works. */
static void test_body_cap(void **state)
{
    fx *f = *state;
    sync_remote_req big, ok;
    sync_remote_req *both[2] = {&big, &ok};

    memset(&big, 0, sizeof big);
    memset(&ok, 0, sizeof ok);
    assert_int_equal(sync_remote_req_set(f->rm, &big, "GET", "/big"), 0);
    big.max_body = SYNC_REMOTE_MAX_BODY_DETAIL;
    assert_int_equal(sync_remote_req_set(f->rm, &ok, "GET", "/fine"), 0);
    sync_remote_run(f->rm, both, 2, NULL, NULL);
    assert_int_equal(big.status, 0);
    assert_true(big.too_large);
    assert_non_null(strstr(big.err, "over"));
    assert_null(strstr(big.err, "secret-key"));
    assert_int_equal(ok.status, 200);
    sync_remote_req_clear(&big);
    sync_remote_req_clear(&ok);
}

static void test_retry_after_read(void **state)
{
    fx *f = *state;
    sync_remote_req req;

    memset(&req, 0, sizeof req);
    assert_int_equal(sync_remote_req_set(f->rm, &req, "GET", "/busy"), 0);
    run1(f, &req);
    assert_int_equal(req.status, 429);
    assert_int_equal(sync_remote_classify(&req), SYNC_REMOTE_TRANSIENT);
    assert_int_equal(req.retry_after_ms, 7000);
    sync_remote_req_clear(&req);
}

/* No answer at all (nothing listens): a transient failure, no status. */
static void test_connection_refused(void **state)
{
    fx *f = *state;
    sync_remote_client *rm;
    sync_remote_config rc;
    sync_remote_req req, *one = &req;
    char err[256];

    memset(&rc, 0, sizeof rc);
    rc.api_url = "http://127.0.0.1:1/api/v1";
    rc.api_key = "k";
    rc.log = &f->log;
    assert_int_equal(sync_remote_new(&rc, &rm, err, sizeof err), 0);
    memset(&req, 0, sizeof req);
    assert_int_equal(sync_remote_req_set(rm, &req, "GET", "/x"), 0);
    assert_int_equal(sync_remote_run(rm, &one, 1, NULL, NULL), 0);
    assert_int_equal(req.status, 0);
    assert_int_equal(sync_remote_classify(&req), SYNC_REMOTE_TRANSIENT);
    assert_true(req.err[0]);
    sync_remote_req_clear(&req);
    sync_remote_free(rm);
    /* A key with a line break, or no scheme, is refused up front. */
    rc.api_key = "k\r\nX-Evil: 1";
    assert_int_equal(sync_remote_new(&rc, &rm, err, sizeof err), -1);
    rc.api_key = "k";
    rc.api_url = "ftp://example.com/";
    assert_int_equal(sync_remote_new(&rc, &rm, err, sizeof err), -1);
}

/* 200 GETs with max_connections 4 against the simulator: a handful of
 * kept-alive connections carry them all. */
static void test_keepalive_reuse(void **state)
{
    fx *f = *state;
    const char *const args[] = {"--seed", "5", NULL};
    sync_remote_client *rm;
    sync_remote_config rc;
    sync_remote_req reqs[200], *ptrs[200];
    char err[256], path[64];
    int ok = 0;

    assert_int_equal(h_sim_start(&f->h, args), 0);
    memset(&rc, 0, sizeof rc);
    rc.api_url = f->h.api;
    rc.api_key = "sim-key";
    rc.max_connections = 4;
    rc.log = &f->log;
    assert_int_equal(sync_remote_new(&rc, &rm, err, sizeof err), 0);
    memset(reqs, 0, sizeof reqs);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 100; i++) {
            snprintf(path, sizeof path, "/work-orders/wo-%05d", i + 1);
            assert_int_equal(sync_remote_req_set(rm, &reqs[round * 100 + i], "GET", path), 0);
            ptrs[i] = &reqs[round * 100 + i];
        }
        /* Two batches: connections survive from one to the next. */
        sync_remote_run(rm, ptrs, 100, NULL, NULL);
    }
    for (int i = 0; i < 200; i++) {
        ok += reqs[i].status == 200;
        sync_remote_req_clear(&reqs[i]);
    }
    print_message("200 GETs, max_connections 4: %lld connections opened\n",
                  (long long)sync_remote_connects(rm));
    assert_int_equal(ok, 200);
    assert_true(sync_remote_connects(rm) <= 4);
    sync_remote_free(rm);
}

/* The port the simulator listens on. */
static int sim_port(const harness *h)
{
    const char *colon = strrchr(h->url, ':');
    return colon ? atoi(colon + 1) : 0;
}

/* Established TCP connections (IPv4) to 127.0.0.1:port, from /proc. */
static int established_to(int port)
{
    FILE *fp = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned lport, rport, st;
    int n = 0;

    if (!fp)
        return 0;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, " %*d: %*8x:%x %*8x:%x %x", &lport, &rport, &st) == 3 &&
            (int)rport == port && st == 1)
            n++;
    fclose(fp);
    return n;
}

/* A cancel from another thread ends transfers in progress at once. */
typedef struct {
    sync_remote_client *rm;
    sync_remote_req *reqs[4];
    int64_t returned_ms;
} runner;

static void *run_thread(void *ud)
{
    runner *r = ud;
    sync_remote_run(r->rm, r->reqs, 4, NULL, NULL);
    r->returned_ms = fs_mono_ms();
    return NULL;
}

static void test_cancel_is_prompt(void **state)
{
    fx *f = *state;
    const char *const args[] = {"--seed", "5", NULL};
    sync_remote_client *rm;
    sync_remote_config rc;
    sync_remote_req reqs[4];
    runner r;
    pthread_t t;
    char err[256];
    int64_t cancelled_at, deadline;

    assert_int_equal(h_sim_start(&f->h, args), 0);
    assert_int_equal(h_faults(&f->h, "{\"latency_ms\":20000,\"path_prefix\":\"/api/v1/\"}") / 100, 2);
    memset(&rc, 0, sizeof rc);
    rc.api_url = f->h.api;
    rc.api_key = "sim-key";
    rc.max_connections = 4;
    rc.cancel = &f->cancel;
    rc.log = &f->log;
    assert_int_equal(sync_remote_new(&rc, &rm, err, sizeof err), 0);
    memset(reqs, 0, sizeof reqs);
    memset(&r, 0, sizeof r);
    r.rm = rm;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sync_remote_req_set(rm, &reqs[i], "GET", "/work-orders/wo-00001"), 0);
        r.reqs[i] = &reqs[i];
    }
    assert_int_equal(pthread_create(&t, NULL, run_thread, &r), 0);
    /* Wait (bounded) until our four connections to the sim are up: the
     * requests are then on their way (the sim holds them for 20 s). */
    deadline = fs_mono_ms() + 5000;
    while (established_to(sim_port(&f->h)) < 4 && fs_mono_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);   /* between polls of the condition */
    }
    cancelled_at = fs_mono_ms();
    print_message("cancel: waited %lld ms for the connections\n",
                  (long long)(cancelled_at - (deadline - 5000)));
    atomic_store(&f->cancel, 1);
    sync_remote_wakeup(rm);
    pthread_join(t, NULL);
    print_message("cancel: transfers ended %lld ms after the cancel\n",
                  (long long)(r.returned_ms - cancelled_at));
    assert_true(r.returned_ms - cancelled_at < 1000);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sync_remote_classify(&reqs[i]), SYNC_REMOTE_CANCELLED);
        sync_remote_req_clear(&reqs[i]);
    }
    sync_remote_free(rm);
    h_faults(&f->h, NULL);
}

/* Every test case has its own fixture: setup before, teardown after. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_headers_etag_date),
        TEST(test_redirect_not_followed),
        TEST(test_body_cap),
        TEST(test_retry_after_read),
        TEST(test_connection_refused),
        TEST(test_keepalive_reuse),
        TEST(test_cancel_is_prompt),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests_name("sync_remote", tests, NULL, NULL);
}
