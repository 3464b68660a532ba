/*
 * fuzz_local_api.c — libFuzzer target: the local API's request path, from
 * the request line to the store and back.
 *
 * Input: "METHOD TARGET\n" then the body (the rest), e.g.
 *   PUT /api/v1/work-orders/wo-00001?x=1
 *   {"notes":"hello"}
 *
 * The real access handler of agent/local_api.c and the /agent routes of
 * local_api_agent.c run against a seeded replica; libmicrohttpd, the sync
 * controller and the event hub are replaced by the stand-ins below, which
 * take the handler from MHD_start_daemon() and replay what libmicrohttpd
 * does for one request: the first call, the body in chunks, the final
 * call, a resume after a suspend, the completion.  Each input runs inside
 * one transaction that is rolled back, so every input sees the same
 * replica and a crash reproduces from its file alone.
 *
 * Checked beyond the sanitizers: exactly one answer is queued for each
 * request; its status is a real HTTP status; a body with an answer is
 * JSON with "data" or "error".
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "agent/events.h"
#include "agent/local_api_int.h"
#include "store/util.h"
#include "agent/syncctl.h"
#include "tests/fuzz/fuzz_common.h"

/* ---- the stand-in for libmicrohttpd ------------------------------------ */

#define MAX_ARGS 64

struct MHD_Daemon {
    MHD_AccessHandlerCallback handler;
    void *handler_cls;
    MHD_RequestCompletedCallback completed;
    void *completed_cls;
    MHD_NotifyConnectionCallback notify;
    void *notify_cls;
};

struct MHD_Response {
    char *data;
    size_t len;
};

struct MHD_Connection {
    union MHD_ConnectionInfo info;   /* connect_fd: a socketpair end */
    union MHD_ConnectionInfo ctx;    /* socket_context, set when it starts */
    char *keys[MAX_ARGS], *values[MAX_ARGS];
    int nargs;
    char content_length[32];
    int has_length;
    int queued;                      /* answers queued for this request */
    unsigned status;
    char *body;
    size_t body_len;
    int suspended, resumed;
};

static struct MHD_Daemon the_daemon;

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
                                    MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    va_list ap;
    int opt;
    (void)flags;
    (void)port;
    (void)apc;
    (void)apc_cls;
    the_daemon.handler = dh;
    the_daemon.handler_cls = dh_cls;
    va_start(ap, dh_cls);
    /* The options local_api.c passes; any other means the harness is out
     * of date, which must not go unnoticed. */
    while ((opt = va_arg(ap, int)) != MHD_OPTION_END) {
        switch (opt) {
        case MHD_OPTION_EXTERNAL_LOGGER:
            (void)va_arg(ap, void *);
            (void)va_arg(ap, void *);
            break;
        case MHD_OPTION_NOTIFY_COMPLETED:
            the_daemon.completed = va_arg(ap, MHD_RequestCompletedCallback);
            the_daemon.completed_cls = va_arg(ap, void *);
            break;
        case MHD_OPTION_NOTIFY_CONNECTION:
            the_daemon.notify = va_arg(ap, MHD_NotifyConnectionCallback);
            the_daemon.notify_cls = va_arg(ap, void *);
            break;
        case MHD_OPTION_LISTEN_SOCKET:
            close(va_arg(ap, int));
            break;
        case MHD_OPTION_CONNECTION_LIMIT:
        case MHD_OPTION_CONNECTION_TIMEOUT:
            (void)va_arg(ap, unsigned int);
            break;
        case MHD_OPTION_CONNECTION_MEMORY_LIMIT:
            (void)va_arg(ap, size_t);
            break;
        default:
            fprintf(stderr, "fuzz_local_api: unknown MHD option %d\n", opt);
            abort();
        }
    }
    va_end(ap);
    return &the_daemon;
}

void MHD_stop_daemon(struct MHD_Daemon *d) { (void)d; }

const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *d,
                                                enum MHD_DaemonInfoType t, ...)
{
    (void)d;
    (void)t;
    return NULL;
}

/* The front (http_front.c) hands connections over; none come here. */
enum MHD_Result MHD_add_connection(struct MHD_Daemon *d, MHD_socket fd,
                                   const struct sockaddr *addr, socklen_t addrlen)
{
    (void)d;
    (void)addr;
    (void)addrlen;
    close(fd);
    return MHD_NO;
}

MHD_socket MHD_quiesce_daemon(struct MHD_Daemon *d)
{
    (void)d;
    return MHD_INVALID_SOCKET;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->data = malloc(size + 1);
    if (!r->data) {
        free(r);
        return NULL;
    }
    memcpy(r->data, buffer, size);
    r->data[size] = '\0';
    r->len = size;
    if (mode == MHD_RESPMEM_MUST_FREE)
        free(buffer);
    return r;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *r, const char *h, const char *v)
{
    (void)r;
    if (!h || !v || strchr(v, '\n') || strchr(v, '\r'))
        abort(); /* a header value that would split the answer */
    return MHD_YES;
}

void MHD_destroy_response(struct MHD_Response *r)
{
    if (!r)
        return;
    free(r->data);
    free(r);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status,
                                   struct MHD_Response *r)
{
    if (c->queued++) {
        fprintf(stderr, "fuzz_local_api: a second answer to one request\n");
        abort();
    }
    c->status = status;
    c->body = malloc(r->len + 1);
    memcpy(c->body, r->data, r->len + 1);
    c->body_len = r->len;
    return MHD_YES;
}

int MHD_get_connection_values(struct MHD_Connection *c, enum MHD_ValueKind kind,
                              MHD_KeyValueIterator it, void *cls)
{
    if (kind != MHD_GET_ARGUMENT_KIND)
        return 0;
    for (int i = 0; i < c->nargs; i++)
        if (it && it(cls, MHD_GET_ARGUMENT_KIND, c->keys[i], c->values[i]) != MHD_YES)
            return i + 1;
    return c->nargs;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind kind,
                                        const char *key)
{
    if (kind == MHD_HEADER_KIND && c->has_length && strcasecmp(key, "Content-Length") == 0)
        return c->content_length;
    return NULL;
}

const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *c,
                                                        enum MHD_ConnectionInfoType t, ...)
{
    if (t == MHD_CONNECTION_INFO_CONNECTION_FD)
        return &c->info;
    return t == MHD_CONNECTION_INFO_SOCKET_CONTEXT ? &c->ctx : NULL;
}

void MHD_suspend_connection(struct MHD_Connection *c)
{
    if (c->suspended)
        abort();
    c->suspended = 1;
}

void MHD_resume_connection(struct MHD_Connection *c)
{
    if (!c->suspended)
        abort(); /* resuming what is not suspended: MHD would misbehave */
    c->suspended = 0;
    c->resumed = 1;
}

/* ---- the stand-ins for the sync controller and the event hub ------------- */

void syncctl_sync_now(syncctl *c) { (void)c; }
void syncctl_local_write(syncctl *c) { (void)c; }

int syncctl_wait(syncctl *c, syncctl_waiter *w)
{
    sync_summary sum;
    (void)c;
    memset(&sum, 0, sizeof sum);
    sum.online = 1;
    sum.complete = 1;
    snprintf(sum.last_error, sizeof sum.last_error, "none");
    w->done(w, &sum); /* a cycle that ends at once */
    return 0;
}

void syncctl_status_get(syncctl *c, syncctl_status *out)
{
    (void)c;
    memset(out, 0, sizeof *out);
    out->progress.phase = "idle";
}

char *syncctl_summary_json(const sync_summary *s)
{
    char buf[128];
    snprintf(buf, sizeof buf, "{\"online\":%s,\"pushed\":%lld}", s->online ? "true" : "false",
             (long long)s->pushed);
    return strdup(buf);
}

void events_publish(events_hub *h, const char *type, const char *json)
{
    (void)h;
    (void)type;
    if (!json || !cJSON_Parse(json))
        abort();
}

struct MHD_Response *events_response(events_hub *h, struct MHD_Connection *conn)
{
    (void)h;
    (void)conn;
    return NULL;
}

/* ---- the driver ------------------------------------------------------------ */

static local_api *api;
static int peer_fds[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *db = fz_db_path("local-api");
    char err[256];
    (void)argc;
    (void)argv;
    fs_log_set_level(FS_LOG_ERROR);
    fz_seed(db, 1);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, peer_fds) < 0)
        abort();
    if (local_api_start(dup(peer_fds[0]), db, (gid_t)-1, NULL, NULL, &api, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_local_api: %s\n", err);
        abort();
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding in place, as libmicrohttpd does for paths and
 * arguments ("+" is a space in arguments). */
static void unescape(char *s, int plus)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
            r += 2;
        } else if (plus && *r == '+') {
            *w++ = ' ';
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static void check_answer(const struct MHD_Connection *c, const char *method)
{
    cJSON *j;
    if (c->queued != 1) {
        fprintf(stderr, "fuzz_local_api: %d answers\n", c->queued);
        abort();
    }
    if (c->status < 200 || c->status > 599)
        abort();
    if (c->body_len == 0) {
        if (c->status != 204 && strcmp(method, "HEAD") != 0)
            abort(); /* only 204 has no body */
        return;
    }
    j = cJSON_ParseWithLength(c->body, c->body_len);
    if (!j || (!cJSON_GetObjectItemCaseSensitive(j, "data") &&
               !cJSON_GetObjectItemCaseSensitive(j, "error"))) {
        fprintf(stderr, "fuzz_local_api: %u answer is not the API's JSON: %.200s\n", c->status,
                c->body);
        abort();
    }
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct MHD_Connection conn;
    char *text, *nl, *line, *sp, *target, *query, *body;
    const char *method;
    size_t body_len, zero = 0;
    void *con_cls = NULL;
    enum MHD_Result ret;

    if (size > 2 * 1024 * 1024)
        return 0;
    text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    nl = memchr(text, '\n', size);
    line = text;
    if (nl) {
        *nl = '\0';
        body = nl + 1;
        body_len = size - (size_t)(body - text);
    } else {
        body = text + size;
        body_len = 0;
    }
    sp = strchr(line, ' ');
    if (!sp) {
        free(text);
        return 0;
    }
    *sp = '\0';
    method = line;
    target = sp + 1;
    if (!*method || strchr(target, ' ')) {
        free(text);
        return 0;
    }

    memset(&conn, 0, sizeof conn);
    conn.info.connect_fd = peer_fds[1];
    /* Each input is a request on a connection of its own. */
    if (the_daemon.notify)
        the_daemon.notify(the_daemon.notify_cls, &conn, &conn.ctx.socket_context,
                          MHD_CONNECTION_NOTIFY_STARTED);
    query = strchr(target, '?');
    if (query) {
        *query++ = '\0';
        for (char *tok = strtok(query, "&"); tok && conn.nargs < MAX_ARGS; tok = strtok(NULL, "&")) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq++ = '\0';
            unescape(tok, 1);
            if (eq)
                unescape(eq, 1);
            conn.keys[conn.nargs] = tok;
            conn.values[conn.nargs++] = eq; /* "?a": no value */
        }
    }
    unescape(target, 0);
    if (body_len) {
        snprintf(conn.content_length, sizeof conn.content_length, "%zu", body_len);
        conn.has_length = 1;
    }

    fz_rng_reset();
    if (store_tx_begin(api->st) != STORE_OK)
        abort();
    /* The first call: state only (or 403/413 at once). */
    ret = the_daemon.handler(the_daemon.handler_cls, &conn, target, method, "HTTP/1.1", NULL,
                             &zero, &con_cls);
    if (ret == MHD_YES && !conn.queued) {
        /* The body in chunks of up to 4 KiB, as it may arrive. */
        size_t off = 0;
        while (off < body_len && ret == MHD_YES) {
            size_t n = body_len - off < 4096 ? body_len - off : 4096;
            size_t left = n;
            ret = the_daemon.handler(the_daemon.handler_cls, &conn, target, method, "HTTP/1.1",
                                     body + off, &left, &con_cls);
            if (left != 0)
                abort(); /* the handler must take all it is given */
            off += n;
        }
        if (ret == MHD_YES)
            ret = the_daemon.handler(the_daemon.handler_cls, &conn, target, method, "HTTP/1.1",
                                     NULL, &zero, &con_cls);
        /* Resumed after a suspend: libmicrohttpd calls again. */
        for (int i = 0; i < 2 && ret == MHD_YES && conn.resumed && !conn.queued; i++) {
            conn.resumed = 0;
            ret = the_daemon.handler(the_daemon.handler_cls, &conn, target, method, "HTTP/1.1",
                                     NULL, &zero, &con_cls);
        }
    }
    if (ret == MHD_YES)
        check_answer(&conn, method);
    if (conn.suspended)
        abort(); /* left suspended: the client would wait forever */
    if (the_daemon.completed)
        the_daemon.completed(the_daemon.completed_cls, &conn, &con_cls,
                             MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (the_daemon.notify)
        the_daemon.notify(the_daemon.notify_cls, &conn, &conn.ctx.socket_context,
                          MHD_CONNECTION_NOTIFY_CLOSED);
    if (store_tx_rollback(api->st) != STORE_OK)
        abort();
    free(conn.body);
    free(text);
    return 0;
}
