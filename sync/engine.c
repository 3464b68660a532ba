/*
 * engine.c — the sync engine's life cycle and one sync cycle: push what is
 * ready, pull the scope, push what the pull unblocked.  The engine owns its
 * own store handle and HTTP client; progress, cancel and wake time are the
 * only parts touched from other threads (mutex and atomics).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/remote.h"

static void free_config(sync_engine *se)
{
    free(se->api_url);
    free(se->technician_id);
    free(se->branch_id);
    free(se->ca_file);
    if (se->api_key) {
        explicit_bzero(se->api_key, strlen(se->api_key));
        free(se->api_key);
    }
    se->api_url = se->api_key = se->technician_id = se->branch_id = se->ca_file = NULL;
}

static int dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (!s || !*s)
        return 0;
    *out = strdup(s);
    return *out ? 0 : -1;
}

/* Copies cfg into se (strings duplicated) and makes a new HTTP client. */
static int apply_config(sync_engine *se, const sync_config *cfg, char *err,
                        size_t errlen)
{
    sync_engine tmp;
    sync_remote_config rc;
    sync_remote_client *rm = NULL;
    const char *env;

    memset(&tmp, 0, sizeof tmp);
    if (!cfg->api_url || !*cfg->api_url) {
        snprintf(err, errlen, "no api_url configured");
        return -1;
    }
    if (dup_opt(cfg->api_url, &tmp.api_url) || dup_opt(cfg->api_key, &tmp.api_key) ||
        dup_opt(cfg->technician_id, &tmp.technician_id) ||
        dup_opt(cfg->branch_id, &tmp.branch_id) || dup_opt(cfg->ca_file, &tmp.ca_file)) {
        snprintf(err, errlen, "out of memory");
        free_config(&tmp);
        return -1;
    }
    memset(&rc, 0, sizeof rc);
    rc.api_url = tmp.api_url;
    rc.api_key = tmp.api_key;
    rc.ca_file = tmp.ca_file;
    rc.proxy = cfg->proxy; /* sync_remote_new keeps its own copy */
    rc.max_connections = cfg->max_connections > 0 ? cfg->max_connections : 8;
    rc.connect_timeout_ms = cfg->connect_timeout_ms;
    rc.request_timeout_ms = cfg->request_timeout_ms;
    rc.cancel = &se->cancel;
    rc.log = &se->log;
    if (sync_remote_new(&rc, &rm, err, errlen)) {
        free_config(&tmp);
        return -1;
    }
    sync_remote_free(se->rm);
    free_config(se);
    se->rm = rm;
    se->api_url = tmp.api_url;
    se->api_key = tmp.api_key;
    se->technician_id = tmp.technician_id;
    se->branch_id = tmp.branch_id;
    se->ca_file = tmp.ca_file;
    se->days_back = cfg->days_back > 0 ? cfg->days_back : 7;
    se->days_ahead = cfg->days_ahead > 0 ? cfg->days_ahead : 30;
    se->max_connections = rc.max_connections;
    se->policy = cfg->policy;
    se->connect_timeout_ms = cfg->connect_timeout_ms;
    se->request_timeout_ms = cfg->request_timeout_ms;
    se->backoff_scale = cfg->backoff_scale;
    if (se->backoff_scale <= 0 && (env = getenv("FIELDSYNC_TEST_BACKOFF_SCALE")))
        se->backoff_scale = strtod(env, NULL);
    if (se->backoff_scale <= 0)
        se->backoff_scale = 1.0;
    se->interval_s = cfg->interval_s > 0 ? cfg->interval_s : 60;
    se->request_budget = cfg->request_budget > 0 ? cfg->request_budget : 300;
    se->max_age_s = cfg->max_age_s > 0 ? cfg->max_age_s : 86400;
    sync_pace_configure(&se->pace, se->interval_s, se->request_budget, se->max_age_s,
                        se->backoff_scale);
    {
        sync_remote_pacer hooks;
        sync_pace_hooks(&se->pace, &hooks);
        sync_remote_set_pacer(se->rm, &hooks);
    }
    sync_log_init(&se->log, cfg->log_fn, cfg->log_ud, cfg->log_level);
    return 0;
}

static void on_store_change(void *ud, store_entity e, const char *id,
                            const char *what)
{
    sync_engine *se = ud;
    cJSON *o;
    char *text;

    if (!se->ev_fn)
        return;
    o = cJSON_CreateObject();
    if (!o)
        return;
    if (cJSON_AddStringToObject(o, "entity", store_entity_name(e)) &&
        cJSON_AddStringToObject(o, "id", id) &&
        cJSON_AddStringToObject(o, "what", what) &&
        (text = cJSON_PrintUnformatted(o))) {
        se->ev_fn(se->ev_ud, "record_changed", text);
        free(text);
    }
    cJSON_Delete(o);
}

int sync_engine_new(const sync_config *cfg, const char *db_path,
                    sync_engine **out, char *err, size_t errlen)
{
    sync_engine *se;
    int64_t off = 0;
    char *v = NULL;
    int rc = -1;

    *out = NULL;
    se = calloc(1, sizeof *se);
    if (!se) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (pthread_mutex_init(&se->mu, NULL)) {
        snprintf(err, errlen, "mutex init failed");
        free(se);
        return -1;
    }
    atomic_init(&se->cancel, 0);
    se->prog.phase = "idle";
    se->wake_ms = INT64_MAX;
    sync_log_init(&se->log, cfg->log_fn, cfg->log_ud, cfg->log_level);
    sync_rand_seed(&se->rng, 0);
    sync_pace_init(&se->pace, &se->rng, &se->mu);
    se->phase_seed = sync_rand_next(&se->rng);
    se->sweep_next = -1;
    if (apply_config(se, cfg, err, errlen))
        goto out;
    if (store_open(db_path, &se->st, err, errlen) != STORE_OK)
        goto out;
    store_set_change_hook(se->st, on_store_change, se);
    /* The last estimate survives restarts: the first lww decision of a
     * session need not wait for a Date header. */
    if (store_meta_get(se->st, SYNC_STATE_CLOCK, &v) == STORE_OK && v &&
        store_meta_get_int(se->st, SYNC_STATE_CLOCK, 0, &off) == STORE_OK)
        sync_clock_init(&se->clk, off, 1);
    else
        sync_clock_init(&se->clk, 0, 0);
    free(v);
    *out = se;
    se = NULL;
    rc = 0;
out:
    sync_engine_free(se);
    return rc;
}

void sync_engine_free(sync_engine *se)
{
    if (!se)
        return;
    sync_remote_free(se->rm);
    store_close(se->st);
    free_config(se);
    pthread_mutex_destroy(&se->mu);
    free(se);
}

int sync_engine_reconfigure(sync_engine *se, const sync_config *cfg,
                            char *err, size_t errlen)
{
    return apply_config(se, cfg, err, errlen);
}

void sync_engine_cancel(sync_engine *se)
{
    atomic_store(&se->cancel, 1);
    sync_remote_wakeup(se->rm);
}

int sync_cancelled(sync_engine *se)
{
    return atomic_load(&se->cancel) != 0;
}

void sync_progress_get(sync_engine *se, sync_progress *out)
{
    pthread_mutex_lock(&se->mu);
    *out = se->prog;
    pthread_mutex_unlock(&se->mu);
}

void sync_progress_set(sync_engine *se, const char *phase)
{
    pthread_mutex_lock(&se->mu);
    se->prog.phase = phase;
    se->prog.running = strcmp(phase, "idle") != 0;
    pthread_mutex_unlock(&se->mu);
}

void sync_progress_add(sync_engine *se, int64_t done, int64_t total,
                       int64_t ops_done, int64_t ops_total)
{
    pthread_mutex_lock(&se->mu);
    se->prog.records_done += done;
    se->prog.records_total += total;
    se->prog.ops_done += ops_done;
    se->prog.ops_total += ops_total;
    pthread_mutex_unlock(&se->mu);
}

int64_t sync_engine_wake_time(sync_engine *se)
{
    int64_t w;

    pthread_mutex_lock(&se->mu);
    w = se->wake_ms;
    pthread_mutex_unlock(&se->mu);
    return w;
}

void sync_set_event_hook(sync_engine *se, sync_event_fn fn, void *ud)
{
    se->ev_fn = fn;
    se->ev_ud = ud;
}

void sync_emit(sync_engine *se, const char *type, const char *json)
{
    if (se->ev_fn)
        se->ev_fn(se->ev_ud, type, json);
}

int64_t sync_now(const sync_engine *se)
{
    return se->cycle_now0 + (fs_mono_ms() - se->cycle_mono0);
}

void sync_set_error(sync_engine *se, const char *fmt, ...)
{
    va_list ap;

    if (!se->sum)
        return;
    va_start(ap, fmt);
    vsnprintf(se->sum->last_error, sizeof se->sum->last_error, fmt, ap);
    va_end(ap);
}

int sync_store_fatal(int rc)
{
    return rc == STORE_ERR || rc == STORE_NOMEM || rc == STORE_BUSY ||
           rc == STORE_CORRUPT || rc == STORE_NEWER_SCHEMA;
}

int sync_run(sync_engine *se, sync_remote_req **reqs, size_t n)
{
    int answered;

    if (n == 0)
        return 0;
    answered = sync_remote_run(se->rm, reqs, n, &se->clk, &se->sum->bytes_down);
    if (answered > 0)
        se->sum->online = 1;
    return answered;
}

/*
 * The earliest next try of an op that only waits for the clock.  Ops
 * blocked behind a rejected or held op are left out by the store: counting
 * them as due would start a cycle every second for nothing.
 */
static int64_t next_wake(sync_engine *se)
{
    int64_t wake = INT64_MAX;

    if (store_outbox_next_due(se->st, &wake) != STORE_OK)
        return INT64_MAX;
    return wake;
}

void sync_scope_id(const sync_engine *se, char *out, size_t len)
{
    snprintf(out, len, "%s|%s|%s", se->api_url, se->technician_id ? se->technician_id : "",
             se->branch_id ? se->branch_id : "");
}

/* A scheduled cycle walks the whole scope until one walk of this scope
 * has finished, and resumes a walk that was interrupted. */
static int walk_needed(sync_engine *se)
{
    char *cur = NULL, *walked = NULL, id[1200];
    int need;

    sync_scope_id(se, id, sizeof id);
    if (store_meta_get(se->st, "pull_cursor", &cur) != STORE_OK ||
        store_meta_get(se->st, SYNC_STATE_WALKED, &walked) != STORE_OK)
        need = 1;
    else
        need = (cur && *cur) || !walked || strcmp(walked, id) != 0;
    free(cur);
    free(walked);
    return need;
}

static int run_cycle(sync_engine *se, int64_t now_ms, int scheduled, sync_summary *out)
{
    int rc = 0, cancelled;
    int64_t wake, requests0;

    memset(out, 0, sizeof *out);
    atomic_store(&se->cancel, 0);
    se->sum = out;
    se->auth_stop = 0;
    se->cycle_now0 = now_ms;
    se->cycle_mono0 = fs_mono_ms();
    out->started_ms = now_ms;
    pthread_mutex_lock(&se->mu);
    memset(&se->prog, 0, sizeof se->prog);
    se->prog.running = 1;
    se->prog.phase = "push";
    pthread_mutex_unlock(&se->mu);

    requests0 = se->pace.requests;
    rc = sync_push(se);
    if (rc == 0 && !se->auth_stop && !sync_cancelled(se)) {
        sync_progress_set(se, "pull");
        rc = scheduled && !walk_needed(se) ? sync_revalidate(se) : sync_pull(se);
    }
    if (rc == 0 && !se->auth_stop && !sync_cancelled(se)) {
        sync_progress_set(se, "push");
        rc = sync_push(se);
    }
    cancelled = sync_cancelled(se);
    /* A scheduled cycle with nothing due asks nothing: the remote is as
     * reachable as the last answer said. */
    if (se->pace.requests == requests0 && !cancelled)
        out->online = se->last_online;
    se->last_online = out->online;
    out->auth_error = se->auth_stop;
    if (out->auth_error && !out->last_error[0])
        snprintf(out->last_error, sizeof out->last_error,
                 "the remote refused the API key (401)");
    if (cancelled && !out->last_error[0])
        snprintf(out->last_error, sizeof out->last_error, "cancelled");
    out->finished_ms = sync_now(se);

    /* Bookkeeping for status; a failure here does not undo the cycle. */
    sync_freshness_update(se);
    if (se->clk.known)
        store_meta_set_int(se->st, SYNC_STATE_CLOCK, sync_clock_offset(&se->clk));
    store_meta_set_int(se->st, "last_sync_ms", out->finished_ms);
    if (rc == 0 && out->online && !out->auth_error && !cancelled && out->errors == 0)
        store_meta_set_int(se->st, "last_success_ms", out->finished_ms);
    store_meta_set(se->st, "last_error", out->last_error);

    wake = next_wake(se);
    /* Idle until the next cycle: the page cache is not worth keeping. */
    store_release_memory(se->st);
    pthread_mutex_lock(&se->mu);
    se->wake_ms = wake;
    se->prog.running = 0;
    se->prog.phase = "idle";
    pthread_mutex_unlock(&se->mu);
    se->sum = NULL;
    /* The caller logs the cycle's one info line; this is for debugging. */
    SLOG(&se->log, SYNC_LOG_DEBUG,
         "cycle: pulled %lld unchanged %lld evicted %lld pushed %lld "
         "conflicts %lld rejected %lld retried %lld errors %lld%s%s",
         (long long)out->pulled, (long long)out->unchanged,
         (long long)out->evicted, (long long)out->pushed,
         (long long)out->conflicts, (long long)out->rejected,
         (long long)out->retried, (long long)out->errors,
         out->auth_error ? " auth_error" : "", cancelled ? " cancelled" : "");
    return rc;
}

int sync_cycle_run(sync_engine *se, int64_t now_ms, sync_summary *out)
{
    return run_cycle(se, now_ms, 0, out);
}

int sync_cycle_run_scheduled(sync_engine *se, int64_t now_ms, sync_summary *out)
{
    return run_cycle(se, now_ms, 1, out);
}

static void fill_freshness(int64_t now_ms, int64_t p50, int64_t p95, int64_t oldest,
                           int64_t n, sync_freshness *f)
{
    f->records = n;
    if (n == 0) {
        f->p50_s = f->p95_s = f->max_s = -1;
        return;
    }
    f->p50_s = now_ms > p50 ? (now_ms - p50) / 1000 : 0;
    f->p95_s = now_ms > p95 ? (now_ms - p95) / 1000 : 0;
    f->max_s = now_ms > oldest ? (now_ms - oldest) / 1000 : 0;
}

void sync_status_get(sync_engine *se, int64_t now_ms, sync_status *out)
{
    int64_t mono = fs_mono_ms();

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&se->mu);
    out->requests_last_hour = sync_pace_last_hour(&se->pace, mono);
    out->request_budget = se->request_budget;
    out->budget_factor = se->pace.factor;
    out->rate_limited = sync_pace_limited(&se->pace, mono);
    out->etag = se->pace.cap_etag;
    out->gzip = se->pace.cap_gzip;
    out->rate_limit_headers = se->pace.cap_rl;
    fill_freshness(now_ms, se->fresh_hot.p50, se->fresh_hot.p95, se->fresh_hot.oldest,
                   se->fresh_hot.n, &out->hot);
    fill_freshness(now_ms, se->fresh_all.p50, se->fresh_all.p95, se->fresh_all.oldest,
                   se->fresh_all.n, &out->all);
    out->max_age_unmet = se->max_age_unmet;
    pthread_mutex_unlock(&se->mu);
}
