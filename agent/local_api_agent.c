/* local_api_agent.c — the agent's own endpoints under /agent (DESIGN §6). */
#include "agent/local_api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/util.h"

/* A time as RFC 3339, or null when never (0). */
static cJSON *add_time(cJSON *o, const char *name, int64_t ms)
{
    char t[40];
    if (ms <= 0)
        return cJSON_AddNullToObject(o, name);
    store_time_format(ms, t, sizeof t);
    return cJSON_AddStringToObject(o, name, t);
}

static int add_counts(cJSON *o, const char *const *names, const int64_t *vals, int n)
{
    for (int i = 0; i < n; i++)
        if (!cJSON_AddNumberToObject(o, names[i], (double)vals[i]))
            return -1;
    return 0;
}

/* One freshness figure set: ages in seconds since the last check, null
 * when no record has been checked. */
static int add_ages(cJSON *o, const char *name, const sync_freshness *f)
{
    static const char *const names[] = { "p50_s", "p95_s", "max_s" };
    const int64_t v[] = { f->p50_s, f->p95_s, f->max_s };
    cJSON *a = cJSON_AddObjectToObject(o, name);

    if (!a)
        return -1;
    for (int i = 0; i < 3; i++)
        if (!(f->records > 0 ? cJSON_AddNumberToObject(a, names[i], (double)v[i])
                             : cJSON_AddNullToObject(a, names[i])))
            return -1;
    return 0;
}

/* "remote" (what the remote was asked and offers) and "freshness" (how
 * long since the replica was confirmed) of GET /agent/status. */
static int add_remote(cJSON *d, const sync_status *ss)
{
    cJSON *o, *c;

    if (!(o = cJSON_AddObjectToObject(d, "remote")) ||
        !cJSON_AddNumberToObject(o, "requests_last_hour", (double)ss->requests_last_hour) ||
        !cJSON_AddNumberToObject(o, "request_budget", (double)ss->request_budget) ||
        !cJSON_AddBoolToObject(o, "rate_limited", ss->rate_limited) ||
        !(c = cJSON_AddObjectToObject(o, "capabilities")) ||
        !cJSON_AddBoolToObject(c, "etag", ss->etag) ||
        !cJSON_AddBoolToObject(c, "gzip", ss->gzip) ||
        !cJSON_AddBoolToObject(c, "rate_limit_headers", ss->rate_limit_headers))
        return -1;
    if (!(o = cJSON_AddObjectToObject(d, "freshness")) || add_ages(o, "hot", &ss->hot) < 0 ||
        add_ages(o, "all", &ss->all) < 0 ||
        !cJSON_AddBoolToObject(o, "max_age_met", !ss->max_age_unmet))
        return -1;
    return 0;
}

static enum MHD_Result do_status(local_api_request *r)
{
    static const char *const outbox_names[] = { "pending", "rejected", "held" };
    static const char *const replica_names[] = { "customers", "contacts", "assets", "work_orders" };
    store *st = r->api->st;
    syncctl_status ss;
    int64_t ob[3] = { 0, 0, 0 }, rep[ENT__COUNT] = { 0 }, open = 0, unacked = 0, clock_off = 0, v;
    cJSON *root = NULL, *d, *o;
    char *js = NULL;
    enum MHD_Result ret;
    int rc;

    syncctl_status_get(r->api->sc, &ss);
    rc = store_outbox_counts(st, &ob[0], &ob[1], &ob[2]);
    if (rc == STORE_OK)
        rc = store_conflicts_open_count(st, &open);
    if (rc == STORE_OK)
        rc = store_conflicts_unacked_count(st, &unacked);
    for (int e = 0; e < ENT__COUNT && rc == STORE_OK; e++)
        rc = store_count(st, (store_entity)e, &rep[e]);
    if (rc == STORE_OK)
        rc = store_meta_get_int(st, "clock_offset_ms", 0, &clock_off);
    /* After a restart, before the first cycle ends, the times of the last
     * run come from the replica where the engine keeps them. */
    if (rc == STORE_OK && !ss.last_sync_ms &&
        store_meta_get_int(st, "last_sync_ms", 0, &v) == STORE_OK)
        ss.last_sync_ms = v;
    if (rc == STORE_OK && !ss.last_success_ms &&
        store_meta_get_int(st, "last_success_ms", 0, &v) == STORE_OK)
        ss.last_success_ms = v;
    if (rc != STORE_OK)
        return local_api_reply_store_error(r, rc, "State");

    root = cJSON_CreateObject();
    if (!root || !(d = cJSON_AddObjectToObject(root, "data")))
        goto oom;
    if (!cJSON_AddStringToObject(d, "version", FIELDSYNC_VERSION) ||
        !cJSON_AddBoolToObject(d, "online", ss.online) ||
        !cJSON_AddBoolToObject(d, "syncing", ss.syncing) ||
        !cJSON_AddBoolToObject(d, "auth_error", ss.auth_error) ||
        !add_time(d, "last_sync_at", ss.last_sync_ms) ||
        !add_time(d, "last_success_at", ss.last_success_ms) ||
        !add_time(d, "next_sync_at", ss.next_sync_ms))
        goto oom;
    if (!(o = cJSON_AddObjectToObject(d, "outbox")) || add_counts(o, outbox_names, ob, 3) < 0)
        goto oom;
    if (!(o = cJSON_AddObjectToObject(d, "conflicts")) || !cJSON_AddNumberToObject(o, "open", (double)open) ||
        !cJSON_AddNumberToObject(o, "unacknowledged", (double)unacked))
        goto oom;
    if (!(ss.last_error[0] ? cJSON_AddStringToObject(d, "last_error", ss.last_error)
                           : cJSON_AddNullToObject(d, "last_error")))
        goto oom;
    if (!(o = cJSON_AddObjectToObject(d, "replica")) ||
        add_counts(o, replica_names, rep, ENT__COUNT) < 0)
        goto oom;
    if (!(o = cJSON_AddObjectToObject(d, "progress")) ||
        !cJSON_AddStringToObject(o, "phase", ss.progress.phase ? ss.progress.phase : "idle") ||
        !cJSON_AddNumberToObject(o, "records_done", (double)ss.progress.records_done) ||
        !cJSON_AddNumberToObject(o, "records_total", (double)ss.progress.records_total) ||
        !cJSON_AddNumberToObject(o, "ops_done", (double)ss.progress.ops_done) ||
        !cJSON_AddNumberToObject(o, "ops_total", (double)ss.progress.ops_total))
        goto oom;
    if (!cJSON_AddNumberToObject(d, "clock_offset_ms", (double)clock_off) ||
        add_remote(d, &ss.sync) < 0)
        goto oom;
    js = cJSON_PrintUnformatted(root);
oom:
    cJSON_Delete(root);
    ret = js ? local_api_reply_json(r, 200, js) : local_api_reply_error(r, 503, "Out of memory", NULL);
    return ret;
}

/* Called on the sync thread when the cycle ends (sum NULL: stopping). */
static void wait_done(syncctl_waiter *w, const sync_summary *sum)
{
    local_api_request *r = w->ud;
    if (sum) {
        r->sum = *sum;
        r->have_sum = 1;
    }
    r->wait_done = 1;
    MHD_resume_connection(r->conn);
}

static enum MHD_Result do_sync(local_api_request *r, const api_query *q)
{
    int wait = api_parse_bool(q->wait);
    if (wait < 0) {
        return local_api_reply_field_error(r, 400, "Invalid query parameter", "wait",
                                           "must be true or false");
    }
    if (!wait) {
        syncctl_sync_now(r->api->sc);
        return local_api_reply_data(r, 202, "{\"started\":true}");
    }
    /* Suspend before registering: the sync thread may answer at once, and
     * must only ever resume a connection that is already suspended. */
    r->waiter.done = wait_done;
    r->waiter.ud = r;
    r->waiting = 1;
    MHD_suspend_connection(r->conn);
    if (syncctl_wait(r->api->sc, &r->waiter) < 0) {
        r->wait_done = 1;
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

static enum MHD_Result do_outbox_list(local_api_request *r)
{
    char *js = NULL;
    enum MHD_Result ret;
    int rc = store_outbox_list(r->api->st, &js);
    ret = rc == STORE_OK ? local_api_reply_data(r, 200, js) : local_api_reply_store_error(r, rc, "Outbox");
    free(js);
    return ret;
}

static enum MHD_Result do_outbox_op(local_api_request *r, const routes_hit *rt, int retry)
{
    store *st = r->api->st;
    int rc = retry ? store_op_user_retry(st, rt->param) : store_op_user_discard(st, rt->param);
    cJSON *o;
    char *js = NULL;

    if (rc == STORE_STATE)
        return local_api_reply_error(r, 409, "The op is not rejected: only a rejected op can be retried or discarded", NULL);
    if (rc != STORE_OK)
        return local_api_reply_store_error(r, rc, "Op");
    fs_log_info("local api: op %s %s by the user", rt->param, retry ? "queued again" : "discarded");
    if (!retry)
        return local_api_reply_empty(r, 204);
    syncctl_local_write(r->api->sc);
    o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "op_id", rt->param) &&
        cJSON_AddStringToObject(o, "state", "pending"))
        js = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!js)
        return MHD_NO;
    {
        enum MHD_Result ret = local_api_reply_data(r, 200, js);
        free(js);
        return ret;
    }
}

/* The conflicts as JSON, filtered by state ("open", "resolved", NULL). */
static int conflicts_json(store *st, const char *state, char **out)
{
    cJSON *arr, *c, *next;
    int rc = store_conflicts_list(st, state && !strcmp(state, "open"), out);
    if (rc != STORE_OK || !state || strcmp(state, "resolved") != 0)
        return rc;
    arr = cJSON_Parse(*out);
    free(*out);
    *out = NULL;
    if (!arr)
        return STORE_NOMEM;
    for (c = arr->child; c; c = next) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "state");
        next = c->next;
        if (!cJSON_IsString(s) || strcmp(s->valuestring, "resolved") != 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(arr, c));
    }
    *out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return *out ? STORE_OK : STORE_NOMEM;
}

static enum MHD_Result do_conflicts(local_api_request *r, const api_query *q)
{
    char *js = NULL;
    enum MHD_Result ret;
    int rc;
    if (q->state && strcmp(q->state, "open") && strcmp(q->state, "resolved") &&
        strcmp(q->state, "all")) {
        return local_api_reply_field_error(r, 400, "Invalid query parameter", "state",
                                           "must be open, resolved or all");
    }
    rc = conflicts_json(r->api->st, q->state && strcmp(q->state, "all") ? q->state : NULL, &js);
    ret = rc == STORE_OK ? local_api_reply_data(r, 200, js) : local_api_reply_store_error(r, rc, "Conflicts");
    free(js);
    return ret;
}

static int parse_conflict_id(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s || strlen(s) > 18)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

/* Answers with one conflict as it is now. */
static enum MHD_Result reply_conflict(local_api_request *r, int64_t id)
{
    char *js = NULL;
    enum MHD_Result ret;
    int rc = store_conflict_get(r->api->st, id, &js);

    ret = rc == STORE_OK ? local_api_reply_data(r, 200, js) : local_api_reply_store_error(r, rc, "Conflict");
    free(js);
    return ret;
}

static enum MHD_Result do_resolve(local_api_request *r, const routes_hit *rt)
{
    store *st = r->api->st;
    cJSON *body = NULL;
    const cJSON *keep;
    char why[200];
    enum MHD_Result ret;
    int64_t id;
    int keep_local, rc;

    if (parse_conflict_id(rt->param, &id) < 0)
        return local_api_reply_error(r, 404, "Conflict not found", NULL);
    body = api_parse_body(fs_buf_str(&r->body), fs_buf_len(&r->body), why, sizeof why);
    if (!body)
        return local_api_reply_error(r, 400, why, NULL);
    keep = cJSON_GetObjectItemCaseSensitive(body, "keep");
    if (!cJSON_IsString(keep) ||
        (strcmp(keep->valuestring, "local") && strcmp(keep->valuestring, "remote"))) {
        ret = local_api_reply_field_error(r, 422, "Validation failed", "keep",
                                          "must be \"local\" or \"remote\"");
        goto out;
    }
    keep_local = strcmp(keep->valuestring, "local") == 0;
    rc = store_conflict_resolve(st, id, keep_local, local_api_now_ms());
    if (rc == STORE_STATE) {
        ret = local_api_reply_error(r, 409, "The conflict is already resolved", NULL);
        goto out;
    }
    if (rc != STORE_OK) {
        ret = local_api_reply_store_error(r, rc, "Conflict");
        goto out;
    }
    fs_log_info("local api: conflict %lld resolved, keeping the %s values", (long long)id,
             keep_local ? "local" : "remote");
    syncctl_local_write(r->api->sc);
    ret = reply_conflict(r, id);
out:
    cJSON_Delete(body);
    return ret;
}

/* POST /agent/conflicts/{id}/ack: the user has seen what was lost. */
static enum MHD_Result do_ack(local_api_request *r, const routes_hit *rt)
{
    int64_t id;
    int rc;

    if (strcmp(rt->param, "all") == 0) { /* `fieldsync conflicts ack --all` */
        char js[64];
        int64_t n;

        rc = store_conflicts_ack_all(r->api->st, local_api_now_ms(), &n);
        if (rc != STORE_OK)
            return local_api_reply_store_error(r, rc, "Conflicts");
        fs_log_info("local api: %lld conflicts acknowledged", (long long)n);
        snprintf(js, sizeof js, "{\"acknowledged\":%lld}", (long long)n);
        return local_api_reply_data(r, 200, js);
    }
    if (parse_conflict_id(rt->param, &id) < 0)
        return local_api_reply_error(r, 404, "Conflict not found", NULL);
    rc = store_conflict_ack(r->api->st, id, local_api_now_ms());
    if (rc != STORE_OK)
        return local_api_reply_store_error(r, rc, "Conflict");
    fs_log_info("local api: conflict %lld acknowledged", (long long)id);
    return reply_conflict(r, id);
}

static enum MHD_Result do_events(local_api_request *r)
{
    struct MHD_Response *resp = events_response(r->api->hub, r->conn);
    enum MHD_Result ret;
    if (!resp)
        return local_api_reply_error(r, 503, "The event stream is unavailable", NULL);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result local_api_agent_dispatch(local_api_request *r, const routes_hit *rt, const api_query *q, int method)
{
    switch (rt->id) {
    case ROUTE_AGENT_STATUS: return do_status(r);
    case ROUTE_AGENT_SYNC: return do_sync(r, q);
    case ROUTE_AGENT_OUTBOX: return do_outbox_list(r);
    case ROUTE_AGENT_OUTBOX_OP: return do_outbox_op(r, rt, 0);
    case ROUTE_AGENT_OUTBOX_RETRY: return do_outbox_op(r, rt, 1);
    case ROUTE_AGENT_CONFLICTS: return do_conflicts(r, q);
    case ROUTE_AGENT_CONFLICT_RESOLVE: return do_resolve(r, rt);
    case ROUTE_AGENT_CONFLICT_ACK: return do_ack(r, rt);
    case ROUTE_AGENT_EVENTS: return do_events(r);
    default: break;
    }
    (void)method;
    return local_api_reply_error(r, 404, "Not found", NULL);
}
