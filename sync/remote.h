/*
 * remote.h — the HTTP client of the sync engine (remote.c), on libcurl's
 * multi interface: concurrent requests over kept-alive connections, the
 * answers' ETag, Date and Retry-After read, bodies capped.  Private to
 * sync/ (and its unit tests); this header is the client's whole interface.
 */
#ifndef FIELDSYNC_SYNC_REMOTE_H
#define FIELDSYNC_SYNC_REMOTE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/util.h"
#include "sync/sync_int.h"

#define SYNC_REMOTE_MAX_BODY_LIST   (16u << 20)
#define SYNC_REMOTE_MAX_BODY_DETAIL (4u << 20)

typedef struct sync_remote_client sync_remote_client;

typedef struct {
    const char *api_url;
    const char *api_key;
    const char *ca_file;
    const char *proxy;        /* NULL: libcurl's *_proxy environment variables */
    int max_connections;
    long connect_timeout_ms;
    long request_timeout_ms;
    atomic_int *cancel;       /* checked between and during transfers */
    const sync_logger *log;
} sync_remote_config;

/* One HTTP exchange.  Fill the request part, run it, read the rest. */
struct sync_remote_req {
    /* request */
    const char *method;       /* "GET", "POST", "PUT", "DELETE" (static) */
    char *url;                /* full URL, owned (sync_remote_req_clear frees) */
    char *body;               /* request body, owned; NULL if none */
    char if_none_match[192];  /* "" if none */
    char idempotency_key[64]; /* "" if none */
    size_t max_body;          /* 0: SYNC_REMOTE_MAX_BODY_LIST */
    /* answer */
    long status;              /* 0: no answer (transport error, cancelled) */
    int cancelled;
    int too_large;
    char err[256];            /* transport error text, "" if none */
    fs_buf answer;            /* the answer's bytes, capped at max_body */
    char *resp;               /* answer's text, NUL-terminated; NULL if empty */
    size_t resp_len;
    char etag[192];           /* "" if none */
    char date[64];            /* raw Date header, "" if none */
    int64_t retry_after_ms;   /* -1 if none */
    int64_t sent_ms;          /* local wall time the request was sent */
    int64_t recv_ms;          /* local wall time its first byte came back */
    int64_t date_ms;          /* parsed Date, -1 if none */
    int gzip;                 /* the body came gzipped */
    /*
     * The remote's quota as this answer states it, from the IETF draft's
     * RateLimit / RateLimit-Policy or the common X-RateLimit-*; -1 where
     * not said.  reset: ms until the quota is whole again.
     */
    int64_t rl_limit, rl_remaining, rl_reset_ms, rl_window_ms;
    /* the caller's bookkeeping (set after sync_remote_req_set; remote.c never
     * reads them): what the request is for, in a sync_remote_stream */
    void *owner;
    int role;
    size_t index;
};

int sync_remote_new(const sync_remote_config *cfg, sync_remote_client **out, char *err, size_t errlen);
void sync_remote_free(sync_remote_client *r);
/* Wakes a sync_remote_run blocked in poll (any thread). */
void sync_remote_wakeup(sync_remote_client *r);

/* Prepares req as method on api_url + path (path already escaped).
 * Frees what the request held before.  0 or -1 (memory). */
int sync_remote_req_set(sync_remote_client *r, sync_remote_req *req, const char *method,
                   const char *path);
/* Frees the request's owned buffers and clears it. */
void sync_remote_req_clear(sync_remote_req *req);

/*
 * Runs the requests concurrently (up to max_connections at a time) over
 * the client's kept-alive connections and returns when all have answered,
 * failed, or (cancel flag) been aborted.  Fills each request's answer.
 * Returns the number of requests that got an HTTP answer.  Date headers
 * are fed to clk if not NULL; bytes received are added to *bytes.
 */
int sync_remote_run(sync_remote_client *r, sync_remote_req **reqs, size_t n, sync_clock *clk,
               int64_t *bytes);

/*
 * A stream of requests whose next ones depend on earlier answers (a list
 * page names the details to fetch; a fetched record decides its PUT), so
 * that every connection is kept busy rather than waiting for a whole
 * batch.  next() hands out the request to start next (NULL: none now);
 * done() is told each request that finished (answered, failed, or
 * cancelled), and may make more requests available to next().
 */
typedef struct {
    sync_remote_req *(*next)(void *ud);
    void (*done)(void *ud, sync_remote_req *req);
    void *ud;
    sync_clock *clk;      /* fed Date headers, or NULL */
    int64_t *bytes;       /* bytes received are added, or NULL */
} sync_remote_stream;

/*
 * Starts requests on free connections, moves transfers along, and calls
 * done() for each that finished; with timeout_ms > 0 it waits that long at
 * most for something to happen when nothing did at once.  Never blocks
 * with timeout_ms 0 (a caller busy with the store pumps between records).
 * On cancel every transfer is aborted (done() sees cancelled set).
 * Returns the number of transfers still running.
 */
int sync_remote_pump(sync_remote_client *r, const sync_remote_stream *s, int timeout_ms);

/* Installs the pacer (sync_int.h) every request of the client goes through. */
void sync_remote_set_pacer(sync_remote_client *r, const sync_remote_pacer *p);

/* Connections the client has opened so far (keep-alive shows as few). */
int64_t sync_remote_connects(const sync_remote_client *r);

/* Percent-encodes s for a path segment or query value into out. 0 or -1
 * if it does not fit. */
int sync_remote_escape(const char *s, char *out, size_t outlen);

/* Classes of answers, for push and pull. */
typedef enum {
    SYNC_REMOTE_OK = 0,        /* 2xx */
    SYNC_REMOTE_NOT_MODIFIED,  /* 304 */
    SYNC_REMOTE_TRANSIENT,     /* no answer, timeout, 408, 429, 5xx, 3xx, too large */
    SYNC_REMOTE_AUTH,          /* 401 */
    SYNC_REMOTE_NOT_FOUND,     /* 404 */
    SYNC_REMOTE_CONFLICT,      /* 409 */
    SYNC_REMOTE_REJECTED,      /* other 4xx: 400, 403, 422, ... */
    SYNC_REMOTE_CANCELLED,
} sync_remote_class;
sync_remote_class sync_remote_classify(const sync_remote_req *req);

#endif /* FIELDSYNC_SYNC_REMOTE_H */
