/*
 * remote.c — the HTTP client of the sync engine, on libcurl's multi
 * interface.  One multi handle and a pool of max_connections easy handles
 * live as long as the engine, so connections stay alive across requests
 * and cycles.  Rules kept here for every request:
 *   - TLS verification is always on (an extra CA bundle may be added);
 *   - redirects are not followed (a 3xx is an error): the Authorization
 *     header must never travel to another host;
 *   - only http and https;
 *   - a response body is capped (over the cap the transfer is aborted and
 *     the request fails);
 *   - the API key is only ever in the Authorization header: it is in no
 *     URL, log line or error text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "sync/remote.h"

struct sync_remote_client {
    CURLM *multi;
    CURL **easy;           /* pool, max_connections handles */
    sync_remote_req **busy;     /* request on each handle, NULL if free */
    char (*errbuf)[CURL_ERROR_SIZE];
    struct curl_slist **hdrs;
    int nhandles;
    int active;            /* handles busy */
    char *api_url;         /* without trailing '/' */
    char *auth_header;     /* "Authorization: Bearer …" */
    char *ca_file;
    char *proxy;           /* NULL: libcurl's *_proxy environment variables */
    long connect_timeout_ms, request_timeout_ms;
    atomic_int *cancel;
    const sync_logger *log;
    int64_t connects;      /* connections opened, over the client's life */
    sync_remote_pacer pacer;
    int have_pacer;
    int64_t paced_ms;      /* the pacer's last "not yet": how long */
};

static int curl_ready;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void sync_remote_free(sync_remote_client *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nhandles; i++) {
        if (r->easy && r->easy[i]) {
            if (r->busy && r->busy[i])
                curl_multi_remove_handle(r->multi, r->easy[i]);
            curl_easy_cleanup(r->easy[i]);
        }
        if (r->hdrs)
            curl_slist_free_all(r->hdrs[i]);
    }
    if (r->multi)
        curl_multi_cleanup(r->multi);
    free(r->easy);
    free(r->busy);
    free(r->errbuf);
    free(r->hdrs);
    free(r->api_url);
    if (r->auth_header) {
        /* Do not leave the key lying in freed memory. */
        explicit_bzero(r->auth_header, strlen(r->auth_header));
        free(r->auth_header);
    }
    free(r->ca_file);
    free(r->proxy);
    free(r);
}

int sync_remote_new(const sync_remote_config *cfg, sync_remote_client **out, char *err, size_t errlen)
{
    sync_remote_client *r = NULL;
    size_t len;
    int n = cfg->max_connections > 0 ? cfg->max_connections : 8;
    int rc = -1;

    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (!curl_ready) {
        snprintf(err, errlen, "libcurl initialisation failed");
        return -1;
    }
    if (!cfg->api_url || (strncmp(cfg->api_url, "http://", 7) != 0 &&
                          strncmp(cfg->api_url, "https://", 8) != 0)) {
        snprintf(err, errlen, "api_url must start with http:// or https://");
        return -1;
    }
    if (!cfg->api_key || !*cfg->api_key || strpbrk(cfg->api_key, "\r\n")) {
        snprintf(err, errlen, "API key missing or malformed");
        return -1;
    }
    if (n > 64)
        n = 64;
    r = calloc(1, sizeof *r);
    if (!r)
        goto nomem;
    r->nhandles = n;
    r->easy = calloc((size_t)n, sizeof *r->easy);
    r->busy = calloc((size_t)n, sizeof *r->busy);
    r->errbuf = calloc((size_t)n, sizeof *r->errbuf);
    r->hdrs = calloc((size_t)n, sizeof *r->hdrs);
    r->api_url = strdup(cfg->api_url);
    len = strlen("Authorization: Bearer ") + strlen(cfg->api_key) + 1;
    r->auth_header = malloc(len);
    if (!r->easy || !r->busy || !r->errbuf || !r->hdrs || !r->api_url ||
        !r->auth_header)
        goto nomem;
    snprintf(r->auth_header, len, "Authorization: Bearer %s", cfg->api_key);
    len = strlen(r->api_url);
    while (len > 0 && r->api_url[len - 1] == '/')
        r->api_url[--len] = '\0';
    if (cfg->ca_file && !(r->ca_file = strdup(cfg->ca_file)))
        goto nomem;
    if (cfg->proxy && !(r->proxy = strdup(cfg->proxy)))
        goto nomem;
    r->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    r->request_timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 60000;
    r->cancel = cfg->cancel;
    r->log = cfg->log;
    r->multi = curl_multi_init();
    if (!r->multi)
        goto nomem;
    for (int i = 0; i < n; i++)
        if (!(r->easy[i] = curl_easy_init()))
            goto nomem;
    if (curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n) ||
        curl_multi_setopt(r->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n) ||
        curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, (long)n) ||
        curl_multi_setopt(r->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX)) {
        snprintf(err, errlen, "libcurl multi options refused");
        goto out;
    }
    *out = r;
    r = NULL;
    rc = 0;
    goto out;
nomem:
    snprintf(err, errlen, "out of memory");
out:
    sync_remote_free(r);
    return rc;
}

void sync_remote_set_pacer(sync_remote_client *r, const sync_remote_pacer *p)
{
    r->have_pacer = p != NULL;
    if (p)
        r->pacer = *p;
}

void sync_remote_wakeup(sync_remote_client *r)
{
    if (r && r->multi)
        curl_multi_wakeup(r->multi);
}

/* What an answer's headers fill: unknown until they come. */
static void clear_answer_headers(sync_remote_req *req)
{
    req->etag[0] = req->date[0] = '\0';
    req->retry_after_ms = -1;
    req->gzip = 0;
    req->rl_limit = req->rl_remaining = req->rl_reset_ms = req->rl_window_ms = -1;
}

void sync_remote_req_clear(sync_remote_req *req)
{
    free(req->url);
    free(req->body);
    fs_buf_release(&req->answer);
    memset(req, 0, sizeof *req);
}

int sync_remote_req_set(sync_remote_client *r, sync_remote_req *req, const char *method,
                   const char *path)
{
    size_t len = strlen(r->api_url) + strlen(path) + 1;

    sync_remote_req_clear(req);
    req->method = method;
    req->date_ms = -1;
    clear_answer_headers(req);
    req->url = malloc(len);
    if (!req->url)
        return -1;
    snprintf(req->url, len, "%s%s", r->api_url, path);
    return 0;
}

int sync_remote_escape(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= outlen)
                return -1;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    sync_remote_req *req = ud;
    size_t n = size * nmemb;

    if (fs_buf_add(&req->answer, data, n) != FS_BUF_OK) {
        req->too_large = fs_buf_error(&req->answer) == FS_BUF_TOO_BIG;
        return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    req->resp = req->answer.data;
    req->resp_len = req->answer.len;
    return n;
}

/* Copies a header's value (trimmed) into out if name matches. */
static int header_value(const char *line, size_t len, const char *name,
                        char *out, size_t outlen)
{
    size_t nl = strlen(name), vl;
    const char *v;

    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return 0;
    v = line + nl + 1;
    vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl >= outlen)
        vl = outlen - 1;   /* bounded: an over-long header is cut */
    memcpy(out, v, vl);
    out[vl] = '\0';
    return 1;
}

/* A non-negative integer at p, or -1. */
static int64_t num_at(const char *p)
{
    char *end;
    long long v;

    while (*p == ' ' || *p == '\t' || *p == '"')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    v = strtoll(p, &end, 10);
    return v < 0 ? -1 : (int64_t)v;
}

/* The integer after key= (key alone, not the tail of a longer key) in a
 * structured-field list such as "limit=10, remaining=3, reset=1" or
 * "\"default\";r=3;t=1", or -1. */
static int64_t param(const char *v, const char *key)
{
    size_t kl = strlen(key);

    for (const char *p = v; (p = strstr(p, key)); p += kl) {
        int starts = p == v || strchr(" ,;\t", p[-1]) != NULL;
        if (starts && p[kl] == '=')
            return num_at(p + kl + 1);
    }
    return -1;
}

/* X-RateLimit-Reset is seconds from now, or (by some vendors) a Unix time. */
static int64_t reset_ms(int64_t v)
{
    int64_t now_s = fs_wall_ms() / 1000;

    if (v > 1000000000)
        return v > now_s ? (v - now_s) * 1000 : 0;
    return v * 1000;
}

/* Reads the rate-limit headers of both conventions into req. */
static void ratelimit_header(const char *line, size_t n, sync_remote_req *req)
{
    char v[256];
    int64_t x;

    if (header_value(line, n, "X-RateLimit-Limit", v, sizeof v) ||
        header_value(line, n, "RateLimit-Limit", v, sizeof v)) {
        req->rl_limit = num_at(v);
    } else if (header_value(line, n, "X-RateLimit-Remaining", v, sizeof v) ||
               header_value(line, n, "RateLimit-Remaining", v, sizeof v)) {
        req->rl_remaining = num_at(v);
    } else if (header_value(line, n, "X-RateLimit-Reset", v, sizeof v) ||
               header_value(line, n, "RateLimit-Reset", v, sizeof v)) {
        if ((x = num_at(v)) >= 0)
            req->rl_reset_ms = reset_ms(x);
    } else if (header_value(line, n, "RateLimit-Policy", v, sizeof v)) {
        /* "10;w=1" (draft 7) or "\"default\";q=10;w=1" (later drafts). */
        x = param(v, "q");
        req->rl_limit = x >= 0 ? x : num_at(v);
        if ((x = param(v, "w")) >= 0)
            req->rl_window_ms = x * 1000;
    } else if (header_value(line, n, "RateLimit", v, sizeof v)) {
        if ((x = param(v, "limit")) >= 0)
            req->rl_limit = x;
        if ((x = param(v, "remaining")) >= 0 || (x = param(v, "r")) >= 0)
            req->rl_remaining = x;
        if ((x = param(v, "reset")) >= 0 || (x = param(v, "t")) >= 0)
            req->rl_reset_ms = x * 1000;
    }
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    sync_remote_req *req = ud;
    size_t n = size * nmemb;
    char ra[64];

    /* A new status line (after a 100 Continue): forget earlier headers. */
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        clear_answer_headers(req);
        return n;
    }
    if (header_value(line, n, "Content-Encoding", ra, sizeof ra)) {
        req->gzip = strcasecmp(ra, "gzip") == 0;
        return n;
    }
    if (header_value(line, n, "ETag", req->etag, sizeof req->etag))
        return n;
    if (header_value(line, n, "Date", req->date, sizeof req->date))
        return n;
    if (header_value(line, n, "Retry-After", ra, sizeof ra)) {
        int64_t d;
        if (sync_retry_after_parse(ra, fs_wall_ms(), &d) == 0)
            req->retry_after_ms = d;
        return n;
    }
    if (n > 9 && (strncasecmp(line, "RateLimit", 9) == 0 ||
                  strncasecmp(line, "X-RateLimit", 11) == 0))
        ratelimit_header(line, n, req);
    return n;
}

static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln,
                       curl_off_t ult, curl_off_t uln)
{
    sync_remote_client *r = ud;
    (void)dlt, (void)dln, (void)ult, (void)uln;
    /* Non-zero aborts the transfer: a cancel is honoured mid-transfer. */
    return r->cancel && atomic_load(r->cancel) ? 1 : 0;
}

static int setup(sync_remote_client *r, int i, sync_remote_req *req)
{
    CURL *e = r->easy[i];
    struct curl_slist *h = NULL, *t;
    char line[256];
    int rc = -1;

    curl_easy_reset(e);
    r->errbuf[i][0] = '\0';
    fs_buf_release(&req->answer);
    fs_buf_init(&req->answer, req->max_body ? req->max_body : SYNC_REMOTE_MAX_BODY_LIST);
    req->resp = NULL;
    req->resp_len = 0;
    req->status = 0;
    req->cancelled = req->too_large = 0;
    req->err[0] = '\0';
    req->date_ms = -1;
    clear_answer_headers(req);

#define ADD(s) do { if (!(t = curl_slist_append(h, (s)))) goto out; h = t; } while (0)
    ADD(r->auth_header);
    ADD("Accept: application/json");
    /* No "Expect: 100-continue" round trip before a body. */
    ADD("Expect:");
    if (req->body)
        ADD("Content-Type: application/json");
    if (req->if_none_match[0]) {
        snprintf(line, sizeof line, "If-None-Match: %s", req->if_none_match);
        ADD(line);
    }
    if (req->idempotency_key[0]) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", req->idempotency_key);
        ADD(line);
    }
#undef ADD
    if (curl_easy_setopt(e, CURLOPT_URL, req->url) ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS) ||
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms) ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->request_timeout_ms) ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "fieldsync/" FIELDSYNC_VERSION) ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h) ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, req) ||
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) ||
        curl_easy_setopt(e, CURLOPT_HEADERDATA, req) ||
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L) ||
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress) ||
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, r) ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf[i]) ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)req))
        goto out;
    if (r->ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file))
        goto out;
    if (r->proxy && curl_easy_setopt(e, CURLOPT_PROXY, r->proxy))
        goto out;
    if (strcmp(req->method, "GET") != 0) {
        if (curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method))
            goto out;
        if (req->body &&
            (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body)) ||
             curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body)))
            goto out;
    }
    curl_slist_free_all(r->hdrs[i]);
    r->hdrs[i] = h;
    h = NULL;
    rc = 0;
out:
    curl_slist_free_all(h);
    return rc;
}

static void finish(sync_remote_client *r, int i, CURLcode cc, sync_clock *clk, int64_t *bytes)
{
    CURL *e = r->easy[i];
    sync_remote_req *req = r->busy[i];
    curl_off_t total = 0, pre = 0, first = 0;
    long status = 0, nconn = 0;
    int64_t now = fs_wall_ms();

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &first);
    if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK)
        r->connects += nconn;
    /* The server wrote its Date between our sending the request and its
     * first byte coming back: the clock estimate uses both ends. */
    req->sent_ms = now - (int64_t)(total / 1000) + (int64_t)(pre / 1000);
    req->recv_ms = now - (int64_t)(total / 1000) + (int64_t)(first / 1000);
    if (bytes)
        *bytes += (int64_t)req->resp_len;
    if (cc != CURLE_OK) {
        req->status = 0;
        if (req->too_large)
            snprintf(req->err, sizeof req->err, "response body over %zu bytes",
                     req->max_body ? req->max_body : (size_t)SYNC_REMOTE_MAX_BODY_LIST);
        else if (cc == CURLE_ABORTED_BY_CALLBACK)
            req->cancelled = 1, snprintf(req->err, sizeof req->err, "cancelled");
        else
            snprintf(req->err, sizeof req->err, "%s",
                     r->errbuf[i][0] ? r->errbuf[i] : curl_easy_strerror(cc));
    } else {
        req->status = status;
    }
    if (req->date[0]) {
        time_t t = curl_getdate(req->date, NULL);
        if (t != (time_t)-1) {
            req->date_ms = (int64_t)t * 1000;
            if (clk && req->status > 0)
                sync_clock_add(clk, req->date_ms, req->sent_ms, req->recv_ms);
        }
    }
    curl_multi_remove_handle(r->multi, e);
    r->busy[i] = NULL;
}

/* Hands free handles to the stream's next requests; the number started. */
static int fill(sync_remote_client *r, const sync_remote_stream *s)
{
    int started = 0;

    for (int i = 0; i < r->nhandles; i++) {
        sync_remote_req *req;

        if (r->busy[i])
            continue;
        if (r->have_pacer && (r->paced_ms = r->pacer.delay_ms(r->pacer.ud)) > 0)
            break;
        if (!(req = s->next(s->ud)))
            break;
        if (setup(r, i, req) || curl_multi_add_handle(r->multi, r->easy[i]) != CURLM_OK) {
            req->status = 0;
            snprintf(req->err, sizeof req->err, "could not start the request");
            s->done(s->ud, req);
            continue;
        }
        r->busy[i] = req;
        r->active++;
        started++;
        if (r->have_pacer)
            r->pacer.started(r->pacer.ud, req);
        SLOG(r->log, SYNC_LOG_DEBUG, "%s %s", req->method, req->url);
    }
    return started;
}

/* Finishes the transfers libcurl reports done; the number finished. */
static int complete(sync_remote_client *r, const sync_remote_stream *s)
{
    CURLMsg *msg;
    int left, finished = 0;

    while ((msg = curl_multi_info_read(r->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (int i = 0; i < r->nhandles; i++)
            if (r->busy[i] && r->easy[i] == msg->easy_handle) {
                sync_remote_req *req = r->busy[i];
                finish(r, i, msg->data.result, s->clk, s->bytes);
                r->active--;
                if (r->have_pacer)
                    r->pacer.answered(r->pacer.ud, req);
                finished++;
                if (req->status <= 0)
                    SLOG(r->log, SYNC_LOG_INFO, "%s %s: %s", req->method, req->url, req->err);
                s->done(s->ud, req);
                break;
            }
    }
    return finished;
}

static void abort_all(sync_remote_client *r, const sync_remote_stream *s)
{
    for (int i = 0; i < r->nhandles; i++)
        if (r->busy[i]) {
            sync_remote_req *req = r->busy[i];
            req->status = 0;
            req->cancelled = 1;
            snprintf(req->err, sizeof req->err, "cancelled");
            curl_multi_remove_handle(r->multi, r->easy[i]);
            r->busy[i] = NULL;
            r->active--;
            if (r->have_pacer)
                r->pacer.answered(r->pacer.ud, req);
            s->done(s->ud, req);
        }
}

int sync_remote_pump(sync_remote_client *r, const sync_remote_stream *s, int timeout_ms)
{
    int waited = 0;

    /* Bounded when not waiting: a fast server must not keep a caller that
     * pumps between its own work from getting back to it. */
    for (int round = 0; timeout_ms > 0 || round < 4; round++) {
        int still = 0, moved, wait = timeout_ms;

        if (r->cancel && atomic_load(r->cancel)) {
            abort_all(r, s);
            return 0;
        }
        r->paced_ms = 0;
        moved = fill(r, s);
        if (r->active > 0 && curl_multi_perform(r->multi, &still) != CURLM_OK)
            SLOG(r->log, SYNC_LOG_WARN, "curl_multi_perform failed");
        moved += complete(r, s);
        if (moved)
            continue;   /* answers free handles, and may bring new requests */
        /* Held back by the pacer: wait for the moment it names (or an
         * answer), not longer; with nothing running, that wait is a
         * sleep a cancel still interrupts (curl_multi_wakeup). */
        if (r->paced_ms > 0 && r->paced_ms < wait)
            wait = (int)r->paced_ms;
        if (waited || timeout_ms <= 0 || (r->active == 0 && r->paced_ms <= 0))
            break;
        curl_multi_poll(r->multi, NULL, 0, wait, NULL);
        waited = 1;
    }
    return r->active;
}

/* sync_remote_run as a stream over an array. */
typedef struct {
    sync_remote_req **reqs;
    size_t n, next, answered;
} batch;

static sync_remote_req *batch_next(void *ud)
{
    batch *b = ud;

    return b->next < b->n ? b->reqs[b->next++] : NULL;
}

static void batch_done(void *ud, sync_remote_req *req)
{
    batch *b = ud;

    if (req->status > 0)
        b->answered++;
}

int sync_remote_run(sync_remote_client *r, sync_remote_req **reqs, size_t n, sync_clock *clk,
               int64_t *bytes)
{
    batch b = {reqs, n, 0, 0};
    sync_remote_stream s = {batch_next, batch_done, &b, clk, bytes};

    for (size_t k = 0; k < n; k++) {
        reqs[k]->status = 0;
        reqs[k]->cancelled = 0;
        reqs[k]->err[0] = '\0';
    }
    while (b.next < n || r->active > 0) {
        if (r->cancel && atomic_load(r->cancel)) {
            abort_all(r, &s);
            for (; b.next < n; b.next++) {
                reqs[b.next]->cancelled = 1;
                snprintf(reqs[b.next]->err, sizeof reqs[b.next]->err, "cancelled");
            }
            break;
        }
        sync_remote_pump(r, &s, 250);
    }
    return (int)b.answered;
}

int64_t sync_remote_connects(const sync_remote_client *r)
{
    return r->connects;
}

sync_remote_class sync_remote_classify(const sync_remote_req *req)
{
    long s = req->status;

    if (req->cancelled)
        return SYNC_REMOTE_CANCELLED;
    if (s == 0)
        return SYNC_REMOTE_TRANSIENT;
    if (s >= 200 && s < 300)
        return SYNC_REMOTE_OK;
    if (s == 304)
        return SYNC_REMOTE_NOT_MODIFIED;
    if (s == 401)
        return SYNC_REMOTE_AUTH;
    if (s == 404)
        return SYNC_REMOTE_NOT_FOUND;
    if (s == 409)
        return SYNC_REMOTE_CONFLICT;
    if (s == 408 || s == 429 || s >= 500 || (s >= 300 && s < 400))
        return SYNC_REMOTE_TRANSIENT;
    return SYNC_REMOTE_REJECTED;
}
