/*
 * local_api.c — libmicrohttpd plumbing of the local API and the /api/v1
 * routes served from the replica (see local_api.h).
 *
 * The keep-alive trap (NOTES.md): libmicrohttpd 0.9.75 answers
 * "Connection: close" to a response queued on the first call of the
 * access handler for a request.  So the first call only creates the
 * request's state; answers are queued on a later call, once the body has
 * been received.  The only answer queued on the first call is one after
 * which the connection should close anyway (413 for a declared oversize
 * body).  A stranger's connection, and a first request too malformed for
 * libmicrohttpd, never get here: http_front.c answers them.
 */
#include "agent/local_api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/http_front.h"
#include "store/util.h"

int64_t local_api_now_ms(void)
{
    return fs_wall_ms();
}

/* ---- answers ---------------------------------------------------------- */

static enum MHD_Result queue(local_api_request *r, unsigned status, struct MHD_Response *resp,
                             const char *ctype)
{
    enum MHD_Result ret;
    if (!resp)
        return MHD_NO; /* out of memory: MHD closes the connection */
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Queues a JSON answer; allow, when not NULL, is the Allow header (405). */
static enum MHD_Result send_json(local_api_request *r, unsigned status, char *json_take,
                                 const char *allow)
{
    struct MHD_Response *resp;
    if (!json_take)
        return MHD_NO;
    if (status == 200 && r->cache_key)
        read_cache_put(r->api->cache, r->cache_key, r->cache_version, json_take,
                       strlen(json_take));
    resp = MHD_create_response_from_buffer(strlen(json_take), json_take, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(json_take);
        return MHD_NO;
    }
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return queue(r, status, resp, "application/json");
}

enum MHD_Result local_api_reply_json(local_api_request *r, unsigned status, char *json_take)
{
    return send_json(r, status, json_take, NULL);
}

/* {"data":<data_json>} without reparsing data_json. */
enum MHD_Result local_api_reply_data(local_api_request *r, unsigned status, const char *data_json)
{
    size_t n = strlen(data_json) + 11;
    char *out = malloc(n);
    if (!out)
        return MHD_NO;
    snprintf(out, n, "{\"data\":%s}", data_json);
    return local_api_reply_json(r, status, out);
}

/*
 * Every error answer of the local API is made here, in the remote's shape
 * {"error":{"code","message","details"?}} (api_error_json), the code
 * following from the status.
 */
static enum MHD_Result send_error(local_api_request *r, unsigned status, const char *message,
                                  const char *details_json, const char *allow)
{
    return send_json(r, status, api_error_json(api_error_code(status), message, details_json),
                     allow);
}

enum MHD_Result local_api_reply_error(local_api_request *r, unsigned status, const char *message,
                                      const char *details_json)
{
    return send_error(r, status, message, details_json, NULL);
}

enum MHD_Result local_api_reply_field_error(local_api_request *r, unsigned status,
                                            const char *message, const char *field,
                                            const char *field_message)
{
    char *details = api_details_one(field, field_message);
    enum MHD_Result ret;
    if (!details)
        return MHD_NO;
    ret = send_error(r, status, message, details, NULL);
    free(details);
    return ret;
}

enum MHD_Result local_api_reply_empty(local_api_request *r, unsigned status)
{
    return queue(r, status, MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT),
                 NULL);
}

/* Maps a store failure to the remote's status codes. */
enum MHD_Result local_api_reply_store_error(local_api_request *r, int rc, const char *what)
{
    store *st = r->api->st;
    char msg[300];
    switch (rc) {
    case STORE_NOTFOUND:
        snprintf(msg, sizeof msg, "%s not found", what);
        return local_api_reply_error(r, 404, msg, NULL);
    case STORE_INVALID:
        return local_api_reply_error(r, 422, "Validation failed", store_errdetails(st));
    case STORE_STATE:
        return local_api_reply_error(r, 409, store_errmsg(st), NULL);
    default:
        fs_log_error("local api: store failure: %s", store_errmsg(st));
        snprintf(msg, sizeof msg, "the replica is unavailable: %s", store_errmsg(st));
        return local_api_reply_error(r, 503, msg, NULL);
    }
}

/* ---- /api/v1 ------------------------------------------------------------- */

static const char *entity_title(store_entity e)
{
    switch (e) {
    case ENT_CUSTOMER: return "Customer";
    case ENT_CONTACT: return "Contact";
    case ENT_ASSET: return "Asset";
    default: return "Work order";
    }
}

/* 0 if the customer exists; otherwise the answer has been queued. */
static int need_customer(local_api_request *r, const char *id, enum MHD_Result *ret)
{
    char *js = NULL;
    int rc = store_get(r->api->st, ENT_CUSTOMER, id, &js);
    free(js);
    if (rc == STORE_OK)
        return 0;
    *ret = local_api_reply_store_error(r, rc, "Customer");
    return -1;
}

static enum MHD_Result do_list(local_api_request *r, const routes_hit *rt, const api_query *q)
{
    store_entity e = api_route_entity(rt->id);
    store_query sq;
    const char *field;
    char msg[200], *js = NULL;
    enum MHD_Result ret;
    int rc;

    if (api_query_to_store(q, rt->id, &sq, &field, msg, sizeof msg) < 0) {
        return local_api_reply_field_error(r, 400, "Invalid query parameter", field, msg);
    }
    if (rt->param[0]) {
        if (need_customer(r, rt->param, &ret) < 0)
            return ret;
        sq.customer_id = rt->param;
    }
    rc = store_list(r->api->st, e, &sq, &js);
    if (rc == STORE_INVALID) {
        ret = local_api_reply_error(r, 400, "Invalid query parameter", store_errdetails(r->api->st));
    } else if (rc != STORE_OK) {
        ret = local_api_reply_store_error(r, rc, entity_title(e));
    } else {
        ret = local_api_reply_json(r, 200, js);
        js = NULL;
    }
    free(js);
    return ret;
}

static enum MHD_Result do_write(local_api_request *r, const routes_hit *rt, int method)
{
    store_entity e = api_route_entity(rt->id);
    store *st = r->api->st;
    cJSON *fields = NULL;
    char why[200], *js = NULL;
    enum MHD_Result ret;
    int rc, replayed = 0;

    if (method != ROUTE_DELETE) {
        fields = api_parse_body(fs_buf_str(&r->body), fs_buf_len(&r->body), why, sizeof why);
        if (!fields)
            return local_api_reply_error(r, 400, why, NULL);
    }
    if (method == ROUTE_POST) {
        const char *parent = NULL;
        if (rt->id == ROUTE_CUSTOMER_CONTACTS) {
            if (need_customer(r, rt->param, &ret) < 0)
                goto out;
            parent = rt->param;
        }
        rc = store_local_create_keyed(st, e, parent, fields,
                                      MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                                  "Idempotency-Key"),
                                      local_api_now_ms(), &js, &replayed);
    } else if (method == ROUTE_PUT) {
        rc = store_local_update(st, e, rt->param, fields, local_api_now_ms(), &js);
    } else {
        rc = store_local_delete(st, e, rt->param, local_api_now_ms());
    }
    if (rc != STORE_OK) {
        ret = local_api_reply_store_error(r, rc, entity_title(e));
        goto out;
    }
    /* Durable now; the push can wait for the debounce.  A replayed
     * Idempotency-Key queued nothing. */
    if (!replayed)
        syncctl_local_write(r->api->sc);
    if (method == ROUTE_DELETE)
        ret = local_api_reply_empty(r, 204);
    else
        ret = local_api_reply_data(r, method == ROUTE_POST ? 201 : 200, js ? js : "null");
out:
    free(js);
    cJSON_Delete(fields);
    return ret;
}

/* Appends one GET argument to the cache key, lengths first, so that no
 * two different argument lists make the same key. */
static enum MHD_Result key_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    fs_buf *k = cls;
    (void)kind;
    return fs_buf_addf(k, "&%zu:%s%zu:%s", strlen(key), key, value ? strlen(value) : 0,
                       value ? value : "") == FS_BUF_OK
               ? MHD_YES
               : MHD_NO;
}

/*
 * A GET answered from the cache when the replica has not changed since
 * it was made: 1 (answer queued in *ret) or 0 (go on; r->cache_key is set
 * when the answer should be kept).
 */
static int cached_get(local_api_request *r, const char *url, enum MHD_Result *ret)
{
    local_api *api = r->api;
    const char *body;
    char *key;
    size_t len;
    fs_buf kb;

    if (!api->cache || store_data_version(api->st, &r->cache_version) != STORE_OK)
        return 0;
    /* The URL and arguments are bounded by libmicrohttpd's memory per
     * connection; so is the key. */
    fs_buf_init(&kb, 2 * LOCAL_API_MEMORY_LIMIT);
    fs_buf_adds(&kb, url);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, key_arg, &kb);
    key = fs_buf_take(&kb);
    if (!key)
        return 0;
    body = read_cache_get(api->cache, key, r->cache_version, &len);
    if (!body) {
        r->cache_key = key;
        return 0;
    }
    free(key);
    *ret = queue(r, 200,
                 MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY),
                 "application/json");
    return 1;
}

static enum MHD_Result records_dispatch(local_api_request *r, const char *url, const routes_hit *rt,
                                        const api_query *q, int method)
{
    char *js = NULL;
    enum MHD_Result ret;
    int rc;

    if (method == ROUTE_GET && cached_get(r, url, &ret))
        return ret;

    switch (rt->id) {
    case ROUTE_CUSTOMERS:
    case ROUTE_WORK_ORDERS:
    case ROUTE_CUSTOMER_CONTACTS:
        if (method == ROUTE_GET)
            return do_list(r, rt, q);
        return do_write(r, rt, method);
    case ROUTE_CUSTOMER_ASSETS:
    case ROUTE_CUSTOMER_WORK_ORDERS:
        return do_list(r, rt, q);
    default:
        break;
    }
    if (method != ROUTE_GET)
        return do_write(r, rt, method);
    rc = store_get(r->api->st, api_route_entity(rt->id), rt->param, &js);
    if (rc != STORE_OK)
        ret = local_api_reply_store_error(r, rc, entity_title(api_route_entity(rt->id)));
    else
        ret = local_api_reply_data(r, 200, js);
    free(js);
    return ret;
}

/* ---- the access handler ------------------------------------------------- */

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    api_query_set(cls, key, value);
    return MHD_YES;
}

static enum MHD_Result dispatch(local_api_request *r, const char *url, const char *method_name)
{
    routes_hit rt;
    api_query q;
    int method = routes_method_bit(method_name);
    char allow[64];

    if (routes_match(url, &rt) < 0)
        return local_api_reply_error(r, 404, "Not found", NULL);
    if (!(routes_methods(rt.id) & method)) {
        routes_allow_header(rt.id, allow, sizeof allow);
        return send_error(r, 405, "Method not allowed", NULL, allow);
    }
    if (r->too_large)
        return local_api_reply_error(r, 413, "The request body is larger than 1 MiB", NULL);
    memset(&q, 0, sizeof q);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    if (rt.id >= ROUTE_AGENT_STATUS)
        return local_api_agent_dispatch(r, &rt, &q, method);
    return records_dispatch(r, url, &rt, &q, method);
}

/* Appends upload data; a body past API_MAX_BODY (or one we cannot hold)
 * is forgotten, and the answer will be 413. */
static void take_upload(local_api_request *r, const char *data, size_t n)
{
    if (r->too_large)
        return;
    if (fs_buf_add(&r->body, data, n) != FS_BUF_OK) {
        r->too_large = 1;
        fs_buf_release(&r->body);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    local_api *api = cls;
    local_api_request *r = *con_cls;
    (void)version;

    if (!r) {
        const char *cl;
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->api = api;
        r->conn = conn;
        fs_buf_init(&r->body, API_MAX_BODY);
        *con_cls = r;
        /* The peer was checked by the front (http_front.c). */
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > API_MAX_BODY)
            return local_api_reply_error(r, 413, "The request body is larger than 1 MiB", NULL);
        return MHD_YES; /* the keep-alive trap: answer on a later call */
    }
    if (*upload_data_size) {
        take_upload(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->waiting) {
        /* Resumed by the sync thread (wait_done), or called again. */
        if (!r->wait_done) {
            MHD_suspend_connection(conn);
            return MHD_YES;
        }
        r->waiting = 0;
        if (!r->have_sum)
            return local_api_reply_error(r, 503, "The daemon is stopping", NULL);
        {
            char *js = syncctl_summary_json(&r->sum);
            enum MHD_Result ret = js ? local_api_reply_data(r, 200, js) : MHD_NO;
            free(js);
            return ret;
        }
    }
    return dispatch(r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    local_api_request *r = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (!r)
        return;
    fs_buf_release(&r->body);
    free(r->cache_key);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    fs_log_debug("local api: %s", line);
}

static void on_store_change(void *ud, store_entity e, const char *id, const char *what)
{
    local_api *api = ud;
    cJSON *o = cJSON_CreateObject();
    char *js = NULL;
    if (o && cJSON_AddStringToObject(o, "entity", store_entity_name(e)) &&
        cJSON_AddStringToObject(o, "id", id) && cJSON_AddStringToObject(o, "what", what))
        js = cJSON_PrintUnformatted(o);
    if (js)
        events_publish(api->hub, "record_changed", js);
    free(js);
    cJSON_Delete(o);
}

int local_api_start(int listen_fd, const char *db_path, gid_t group, syncctl *sc,
                    events_hub *hub, local_api **out, char *err, size_t errlen)
{
    local_api *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a) {
        snprintf(err, errlen, "out of memory");
        close(listen_fd);
        return -1;
    }
    a->sc = sc;
    a->hub = hub;
    a->group = group;
    a->self = getuid();
    if (store_open(db_path, &a->st, err, errlen) != STORE_OK) {
        close(listen_fd);
        free(a);
        return -1;
    }
    store_set_change_hook(a->st, on_store_change, a);
    /* A write's answer waits for its commit, never for a checkpoint of
     * the WAL (a p99 of 6 times a bare commit's): the sync thread does
     * them. */
    store_defer_checkpoints(a->st);
    a->cache = read_cache_new(LOCAL_API_CACHE_BYTES);
    /* One internal polling thread: every handler runs there, one store
     * handle suffices, and suspended connections cost nothing.
     * The front (http_front.h) accepts the connections and hands them
     * over once their first request head is known to be one
     * libmicrohttpd will pass to on_request: it listens, MHD does not. */
    a->mhd = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET |
            MHD_USE_ITC | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, a,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)LOCAL_API_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)LOCAL_API_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LOCAL_API_MEMORY_LIMIT,
        MHD_OPTION_END);
    if (!a->mhd)
        snprintf(err, errlen, "cannot start the HTTP server on the socket");
    if (!a->mhd ||
        http_front_start(listen_fd, a->mhd, a->self, a->group, &a->front, err, errlen) < 0) {
        if (a->mhd)
            MHD_stop_daemon(a->mhd);
        else
            close(listen_fd);
        store_close(a->st);
        read_cache_free(a->cache);
        free(a);
        return -1;
    }
    *out = a;
    return 0;
}

void local_api_stop(local_api *a)
{
    if (!a)
        return;
    /* Stop accepting first (the front closes the listening socket). */
    http_front_stop(a->front);
    MHD_stop_daemon(a->mhd);
    store_close(a->st);
    read_cache_free(a->cache);
    free(a);
}
