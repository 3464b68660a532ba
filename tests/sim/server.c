/* The HTTP server: libmicrohttpd with a small pool of epoll threads (one
 * per core).  A latency fault suspends its connection (delay.c) instead of
 * sleeping, so delayed requests overlap; the database lock is held only
 * while a handler runs.  Measured with wrk on 2 cores (16 kept-alive
 * clients, work-order detail GETs): ~20k requests/s here against ~14.6k
 * with a thread per connection, which spent its time switching threads.
 *
 * Keep-alive: libmicrohttpd 0.9.75 answers "Connection: close" when a
 * response is queued on the first call of the access handler for a
 * request, so the handler always returns on its first call and answers on
 * a later one (after the body, if any, has arrived). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "sim.h"

#define MAX_CONNECTIONS 512
#define CONNECTION_MEMORY (64 * 1024)  /* bounds the request line and headers */
#define IDLE_TIMEOUT_S 120
#define MAX_POOL 8

/* Request phases: faults are drawn once, before a latency delay; the rest
 * runs when the connection is resumed. */
enum phase { PHASE_NEW, PHASE_DELAYED };

/* one per request: the body as it arrives */
struct req_ctx {
    char *body;
    size_t len, cap;
    int too_large;
    enum phase phase;
    struct fault_decision fd;
};

int req_query(const struct sim_request *rq, const char *name, const char **value)
{
    const char *v = NULL;
    size_t vlen = 0;

    if (!rq->conn)
        return 0;
    if (MHD_lookup_connection_value_n(rq->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name),
                                      &v, &vlen) != MHD_YES)
        return 0;
    *value = v ? v : "";
    return 1;
}

const char *req_header(const struct sim_request *rq, const char *name)
{
    if (!rq->conn)
        return NULL;
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* keeps at most SIM_MAX_BODY bytes; the rest is read and dropped so the
 * 413 can still go out on a kept-alive connection */
static void body_append(struct req_ctx *ctx, const char *data, size_t n)
{
    if (ctx->too_large || ctx->len + n > SIM_MAX_BODY) {
        ctx->too_large = 1;
        return;
    }
    if (ctx->len + n + 1 > ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap : 4096;
        char *b;

        while (cap < ctx->len + n + 1)
            cap *= 2;
        b = realloc(ctx->body, cap);
        if (!b) {
            /* treated like an oversized body: refused, never half-read */
            ctx->too_large = 1;
            return;
        }
        ctx->body = b;
        ctx->cap = cap;
    }
    memcpy(ctx->body + ctx->len, data, n);
    ctx->len += n;
    ctx->body[ctx->len] = '\0';
}

/* 1 when Accept-Encoding takes gzip (and not with q=0) */
static int wants_gzip(const char *accept)
{
    const char *p = accept;

    while (p && *p) {
        const char *end = strchr(p, ','), *semi;
        size_t len;

        if (!end)
            end = p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        semi = memchr(p, ';', (size_t)(end - p));
        len = (size_t)((semi ? semi : end) - p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if ((len == 4 && strncasecmp(p, "gzip", 4) == 0) ||
            (len == 1 && *p == '*')) {
            const char *q = semi ? strstr(semi, "q=") : NULL;

            if (!q || q > end || strtod(q + 2, NULL) > 0)
                return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* gzips rs->body in place; on failure the body stays as it was (0 or -1) */
static int gzip_body(struct sim_response *rs)
{
    z_stream zs;
    unsigned char *out;
    uLong bound;
    int rc;

    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    bound = deflateBound(&zs, (uLong)rs->body_len);
    out = malloc(bound);
    if (!out) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (unsigned char *)rs->body;
    zs.avail_in = (uInt)rs->body_len;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    rc = deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return -1;
    }
    free(rs->body);
    rs->body = (char *)out;
    rs->body_len = zs.total_out;
    return 0;
}

/* 1 when If-None-Match names etag (or is "*"); weak tags compare too, as
 * RFC 7232 wants for GET */
static int etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm;

    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0 &&
            (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t'))
            return 1;
        p = strchr(p, ',');
    }
    return 0;
}

static int add_header(struct MHD_Response *r, const char *name, const char *value)
{
    return MHD_add_response_header(r, name, value) == MHD_YES ? 0 : -1;
}

/* Both conventions a client may know: the IETF httpapi draft's
 * (draft-ietf-httpapi-ratelimit-headers-07: a policy list item N;w=WINDOW
 * and a dictionary limit, remaining, reset) and the common X-RateLimit-*
 * trio.  Both resets are delta seconds until the bucket is full again. */
static int add_ratelimit_headers(struct MHD_Response *r, const struct rl_view *rl)
{
    char policy[64], now[128], n[3][24];
    int bad = 0;

    snprintf(policy, sizeof policy, "%ld;w=%d", rl->limit, rl->window_s);
    snprintf(now, sizeof now, "limit=%ld, remaining=%ld, reset=%d", rl->limit,
             rl->remaining, rl->reset_s);
    snprintf(n[0], sizeof n[0], "%ld", rl->limit);
    snprintf(n[1], sizeof n[1], "%ld", rl->remaining);
    snprintf(n[2], sizeof n[2], "%d", rl->reset_s);
    bad |= add_header(r, "RateLimit-Policy", policy);
    bad |= add_header(r, "RateLimit", now);
    bad |= add_header(r, "X-RateLimit-Limit", n[0]);
    bad |= add_header(r, "X-RateLimit-Remaining", n[1]);
    bad |= add_header(r, "X-RateLimit-Reset", n[2]);
    return bad;
}

/* queues rs and returns libmicrohttpd's verdict; frees rs->body */
static enum MHD_Result send_response(struct MHD_Connection *conn,
                                     const struct sim_request *rq,
                                     struct sim_response *rs, size_t *bytes_out,
                                     int replayed, int retry_after,
                                     const struct rl_view *rl)
{
    const char *accept = req_header(rq, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    int gz = rs->body_len > 0 && accept && wants_gzip(accept) && gzip_body(rs) == 0;
    struct MHD_Response *r;
    char date[CLOCK_TEXT_MAX], num[24];
    enum MHD_Result ret;
    int bad = 0;

    char *body = rs->body;

    /* the body moves to libmicrohttpd, which frees it with the response */
    *bytes_out = rs->body_len;
    rs->body = NULL;
    if (*bytes_out) {
        r = MHD_create_response_from_buffer(*bytes_out, body, MHD_RESPMEM_MUST_FREE);
        if (!r)
            free(body);
    } else {
        free(body);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    /* the server clock, skew included, so clients can measure the offset */
    clock_format_http(clock_now_ms(), date);
    bad |= add_header(r, MHD_HTTP_HEADER_DATE, date);
    if (*bytes_out)
        bad |= add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    bad |= add_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (gz)
        bad |= add_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (rs->etag[0])
        bad |= add_header(r, MHD_HTTP_HEADER_ETAG, rs->etag);
    if (rs->allow[0])
        bad |= add_header(r, MHD_HTTP_HEADER_ALLOW, rs->allow);
    if (rs->status == 401)
        bad |= add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (retry_after >= 0) {
        snprintf(num, sizeof num, "%d", retry_after);
        bad |= add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    if (replayed)
        bad |= add_header(r, "Idempotent-Replayed", "true");
    if (rl)
        bad |= add_ratelimit_headers(r, rl);
    ret = bad ? MHD_NO : MHD_queue_response(conn, (unsigned int)rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* constant time, so the key cannot be guessed byte by byte from timings */
static int authorized(const struct sim_request *rq)
{
    const char *h = req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *key = rq->sim->cfg.api_key;
    size_t klen = strlen(key), hlen;
    unsigned char diff = 0;

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    hlen = strlen(h);
    for (size_t i = 0; i < klen; i++)
        diff |= (unsigned char)(key[i] ^ (i < hlen ? h[i] : 0));
    return diff == 0 && hlen == klen;
}

void server_run_handler(const struct sim_request *rq, struct sim_response *rs,
                        route_handler handler, const char *idem, int *replayed)
{
    struct sim *sim = rq->sim;
    int write = strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0;
    enum idem_result ir = IDEM_NEW;

    pthread_mutex_lock(&sim->db_lock);
    if (write && db_begin(sim->db)) {
        resp_internal(rs);
        goto out;
    }
    if (idem)
        ir = idem_lookup(sim->db, idem, rq, rs);
    if (ir == IDEM_NEW)
        handler(rq, rs);
    else if (ir == IDEM_ERROR)
        resp_internal(rs);
    *replayed = ir == IDEM_REPLAY;
    /* only successes are remembered: a client that fixes a refused body
     * may send it again under the same key */
    if (idem && ir == IDEM_NEW && rs->status >= 200 && rs->status < 300 &&
        idem_store(sim->db, idem, rq, rs)) {
        resp_internal(rs);
    }
    if (write) {
        if (rs->status >= 500) {
            db_rollback(sim->db);
            rs->applied = 0;
        } else if (db_commit(sim->db)) {
            db_rollback(sim->db);
            rs->applied = 0;
            resp_internal(rs);
        }
    }
out:
    pthread_mutex_unlock(&sim->db_lock);
}

/* With --rate-limit, takes the key's token for an authorized request
 * (read or write, whatever its answer, 304s too): 1 when there was none
 * left.  *known says rl was filled. */
static int over_limit(struct sim *sim, struct rl_view *rl, int *known)
{
    if (!sim->ratelimit)
        return 0;
    *known = 1;
    return !ratelimit_take(sim->ratelimit, rl);
}

/* an /api/v1 request: faults, then key, size, route and handler */
static enum MHD_Result serve_api(struct MHD_Connection *conn, struct sim_request *rq,
                                 struct req_ctx *ctx)
{
    struct sim *sim = rq->sim;
    struct fault_decision *fd = &ctx->fd;
    struct route_match m;
    struct sim_response rs = {0};
    struct stats_entry se = {rq->method, rq->path, ROUTE_UNMATCHED, 0, 0, NULL, 0, 0, 0};
    struct rl_view rl;
    int replayed = 0, retry_after = -1, rl_known = 0;
    enum MHD_Result ret;

    router_match(rq->path, rq->method, &m);
    se.route = m.route;
    if (strcmp(rq->method, "POST") == 0 && !sim->cfg.no_idempotency)
        se.idempotency_key = req_header(rq, "Idempotency-Key");
    if (ctx->phase == PHASE_NEW) {
        faults_decide(sim->faults, rq->method, rq->path, fd);
        if (fd->action == FAULT_OFFLINE || fd->action == FAULT_DROP_BEFORE) {
            se.dropped = 1;
            stats_record(sim->stats, &se);
            return MHD_NO;
        }
        ctx->phase = PHASE_DELAYED;
        /* answered when resumed; if it cannot wait, it answers now */
        if (fd->latency_ms > 0 && delays_add(sim->delays, conn, fd->latency_ms) == 0)
            return MHD_YES;
    }

    if (fd->action == FAULT_429) {
        resp_error(&rs, 429, "rate_limited", "Too many requests", NULL);
        retry_after = fd->retry_after;
    } else if (fd->action == FAULT_ERROR) {
        resp_error(&rs, fd->error_status,
                   fd->error_status >= 500 ? "server_error" : "client_error",
                   "Injected fault", NULL);
    } else if (!authorized(rq)) {
        resp_error(&rs, 401, "unauthorized", "Missing or invalid API key", NULL);
    } else if (over_limit(sim, &rl, &rl_known)) {
        resp_error(&rs, 429, "rate_limited", "Too many requests", NULL);
        retry_after = rl.retry_after_s;
        se.rate_limited = 1;
    } else if (ctx->too_large) {
        resp_error(&rs, 413, "payload_too_large", "Request body is larger than 1 MiB", NULL);
    } else if (m.route == ROUTE_UNMATCHED) {
        resp_error(&rs, 404, "not_found", "No such resource", NULL);
    } else if (!m.handler) {
        snprintf(rs.allow, sizeof rs.allow, "%s", m.allow);
        resp_error(&rs, 405, "method_not_allowed", "Method not allowed", NULL);
    } else if (se.idempotency_key && (!*se.idempotency_key ||
                                      strlen(se.idempotency_key) > SIM_MAX_IDEM_KEY)) {
        resp_error(&rs, 400, "bad_request", "Idempotency-Key must be 1 to 255 characters",
                   NULL);
    } else {
        rq->id = m.id;
        server_run_handler(rq, &rs, m.handler, se.idempotency_key, &replayed);
    }

    se.status = rs.status;
    se.applied = rs.applied;
    /* --etag off is the API as documented: no validators at all, so no 304
     * either (If-None-Match is then never matched) */
    if (sim->cfg.no_etag)
        rs.etag[0] = '\0';
    if (fd->action == FAULT_DROP_AFTER) {
        free(rs.body);
        se.dropped = 1;
        stats_record(sim->stats, &se);
        return MHD_NO;
    }
    if (fd->action == FAULT_BAD_BODY) {
        /* a 200 whose JSON is cut off mid-way */
        static const char cut[] = "{\"data\":{\"id\":";

        if (rs.body_len < 2) {
            free(rs.body);
            rs.body = strdup(cut);
            rs.body_len = rs.body ? strlen(cut) : 0;
        } else {
            rs.body_len /= 2;
        }
        rs.status = 200;
        rs.etag[0] = '\0';
    } else if (rs.status == 200 && rs.etag[0] &&
               (strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0)) {
        const char *inm = req_header(rq, MHD_HTTP_HEADER_IF_NONE_MATCH);

        if (inm && etag_matches(inm, rs.etag))
            resp_empty(&rs, 304);
    }
    se.status = rs.status;
    /* answers that never reached the limiter (401, injected faults) still
     * say where the key's bucket stands */
    if (sim->ratelimit && !rl_known)
        ratelimit_peek(sim->ratelimit, &rl);
    ret = send_response(conn, rq, &rs, &se.bytes_out, replayed, retry_after,
                        sim->ratelimit ? &rl : NULL);
    stats_record(sim->stats, &se);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct req_ctx *ctx = *con_cls;
    struct sim_request rq;
    struct sim_response rs = {0};
    size_t bytes;

    (void)version;
    if (!ctx) {
        /* first call: answer later (see the keep-alive note above) */
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return MHD_NO;
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_data_size) {
        body_append(ctx, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    memset(&rq, 0, sizeof rq);
    rq.sim = cls;
    rq.conn = conn;
    rq.method = method;
    rq.path = url;
    rq.body = ctx->body;
    rq.body_len = ctx->len;
    if (strcmp(url, "/api/v1") == 0 || strncmp(url, "/api/v1/", 8) == 0)
        return serve_api(conn, &rq, ctx);
    if (ctx->too_large)
        resp_error(&rs, 413, "payload_too_large", "Request body is larger than 1 MiB", NULL);
    else if (strncmp(url, "/__sim/", 7) == 0)
        controls_handle(&rq, &rs);
    else
        resp_error(&rs, 404, "not_found", "No such resource", NULL);
    return send_response(conn, &rq, &rs, &bytes, 0, -1, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_ctx *ctx = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (ctx) {
        free(ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    sim_log("http: %s", line);
}

/* the listening socket, made here so a busy port is reported plainly */
static int listen_on(const char *bind_addr, int port, char *addr, size_t addrsz,
                     int *bound_port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1, v6 = strchr(bind_addr, ':') != NULL;

    memset(&ss, 0, sizeof ss);
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, bind_addr, &s6->sin6_addr) != 1)
            goto bad_addr;
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, bind_addr, &s4->sin_addr) != 1)
            goto bad_addr;
        sl = sizeof *s4;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sim_log("socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 128)) {
        sim_log("cannot listen on %s port %d: %s", bind_addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
        sim_log("getsockname: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *bound_port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                           : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(addr, addrsz, v6 ? "[%s]" : "%s", bind_addr);
    return fd;
bad_addr:
    sim_log("--bind %s is not an IPv4 or IPv6 address", bind_addr);
    return -1;
}

int server_start(struct sim *sim, char *addr, size_t addrsz, int *port)
{
    int fd = listen_on(sim->cfg.bind, sim->cfg.port, addr, addrsz, port);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned int pool = cores < 1 ? 1 : cores > MAX_POOL ? MAX_POOL : (unsigned int)cores;
    struct MHD_Daemon *d;

    if (fd < 0)
        return -1;
    sim->delays = delays_start();
    if (!sim->delays) {
        sim_log("cannot start the delay timer");
        close(fd);
        return -1;
    }
    /* Date is added by send_response: it must follow the skewed clock */
    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                             MHD_USE_ERROR_LOG | MHD_USE_SUPPRESS_DATE_NO_CLOCK,
                         0, NULL, NULL, on_request, sim,
                         MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                         MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_TIMEOUT_S,
                         MHD_OPTION_THREAD_POOL_SIZE, pool,
                         MHD_OPTION_END);
    if (!d) {
        sim_log("cannot start the HTTP server");
        delays_stop(sim->delays);
        delays_free(sim->delays);
        sim->delays = NULL;
        close(fd);
        return -1;
    }
    sim->daemon = d;
    return 0;
}

void server_stop(struct sim *sim)
{
    /* libmicrohttpd refuses to stop with suspended connections: resume
     * the delayed ones first (they are then answered or closed) */
    delays_stop(sim->delays);
    if (sim->daemon)
        MHD_stop_daemon(sim->daemon);
    sim->daemon = NULL;
    delays_free(sim->delays);
    sim->delays = NULL;
}
