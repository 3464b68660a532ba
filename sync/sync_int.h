/*
 * sync_int.h — private interface between the files of sync/: the remote
 * client, the merge rules, retry backoff, the server clock estimate, the
 * validation of remote bodies, logging, and the engine structure that
 * pull.c and push.c work on.  Nothing outside sync/ (except sync's own unit
 * tests) includes this file; the module's interface is sync.h.
 */
#ifndef FIELDSYNC_SYNC_INT_H
#define FIELDSYNC_SYNC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/store.h"
#include "sync/sync.h"

/* ---- logging (log.c) ------------------------------------------------- */

typedef struct {
    sync_log_fn fn;     /* NULL: stderr */
    void *ud;
    int level;          /* most verbose level emitted */
} sync_logger;

void sync_log_init(sync_logger *lg, sync_log_fn fn, void *ud, int level);
/* Formats and emits one line if level is enabled. */
void sync_log_emit(const sync_logger *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like Redis' serverLog: arguments are not evaluated below the level. */
#define SLOG(lg, lvl, ...)                                                   \
    do {                                                                     \
        if ((lvl) <= (lg)->level)                                            \
            sync_log_emit((lg), (lvl), __VA_ARGS__);                         \
    } while (0)

/* Wall clock in ms and a monotonic clock in ms. */
int64_t sync_wall_ms(void);
int64_t sync_mono_ms(void);

/* ---- backoff (backoff.c) ---------------------------------------------- */

#define SYNC_BACKOFF_MIN_MS 1000
#define SYNC_BACKOFF_MAX_MS (5 * 60 * 1000)
/* Retry-After beyond this is taken as this: a server asking for a day is
 * asked again within the hour rather than never. */
#define SYNC_RETRY_AFTER_MAX_MS (60 * 60 * 1000)

/* A small PRNG (xorshift64*), seeded from getrandom(2) when seed is 0. */
uint64_t sync_rand_next(uint64_t *state);
void sync_rand_seed(uint64_t *state, uint64_t seed);

/*
 * Delay before the next try of an op that failed `attempts` times
 * (attempts >= 1): full jitter, uniform in [1 s, min(5 min, 1 s * 2^attempts)].
 * A Retry-After delay (retry_after_ms >= 0) is a floor.  The result is then
 * multiplied by scale (tests shorten the wait; scale <= 0 means 1).
 */
int64_t sync_backoff_ms(int attempts, int64_t retry_after_ms, double scale,
                        uint64_t *rng);

/*
 * Parses a Retry-After value: delta-seconds or an HTTP date (relative to
 * now_ms).  0 and *delay_ms >= 0 (clamped to SYNC_RETRY_AFTER_MAX_MS), or
 * -1 if unparsable.
 */
int sync_retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms);

/* ---- server clock (clock.c) -------------------------------------------- */

#define SYNC_CLOCK_WINDOW 15

/*
 * Offset of the server's clock from ours (server - local, ms), estimated
 * from Date headers.  A Date names the second in which the server answered,
 * and that moment lies between our sending the request and its first byte
 * coming back; so one answer only bounds the offset, to an interval about
 * one second wide:  [Date - received, Date + 1000 - sent].
 *
 * Intervals from answers in different sub-second phases overlap only
 * around the true offset, so intersecting them narrows the estimate far
 * below the header's resolution.  We keep one interval per server second
 * (answers within one second add nothing new: they are intersected) for
 * the last SYNC_CLOCK_WINDOW seconds seen, and take the middle of the
 * region where the most intervals agree (Marzullo's algorithm): a stale
 * Date from a cache or an answer stuck in a queue is outvoted, not
 * averaged in, and a server whose clock is stepped is followed once its
 * new intervals are the majority of the window.
 */
typedef struct {
    int64_t lo, hi;
} sync_clock_iv;

typedef struct {
    sync_clock_iv iv[SYNC_CLOCK_WINDOW];
    int64_t date[SYNC_CLOCK_WINDOW]; /* the Date each interval came from */
    int n, last;                     /* count; index of the newest */
    int64_t offset_ms;   /* current estimate */
    int known;           /* 1 once an estimate exists (sample or loaded) */
} sync_clock;

void sync_clock_init(sync_clock *c, int64_t loaded_offset_ms, int known);
/* One answer: its Date, and our wall times when the request went out and
 * when the answer's first byte came back. */
void sync_clock_add(sync_clock *c, int64_t server_date_ms, int64_t sent_ms, int64_t recv_ms);
int64_t sync_clock_offset(const sync_clock *c);

/* ---- merge (merge.c) --------------------------------------------------- */

/* What one three-way merge of an update decided. */
typedef struct {
    cJSON *put;          /* fields to send in the PUT (may be empty) */
    cJSON *c_base;       /* conflicting fields: base values; NULL if none */
    cJSON *c_local;      /* ... local values */
    cJSON *c_remote;     /* ... remote values */
    int conflicts;       /* number of conflicting fields */
    int hold;            /* manual policy and a conflict: hold the op */
    const char *outcome; /* "local_won", "remote_won", "held"; NULL if none */
} sync_merge_result;

/*
 * Merges an update field by field.  rmt: the remote record's values of
 * the op's fields (write shape); base: those fields in the version the edit
 * was made against; local: the op's fields.  local_edit_ms is the local
 * edit time on our clock, offset_ms the server clock offset, remote_ms the
 * remote updated_at (for lww).  0, or -1 if out of memory.
 */
int sync_merge(const cJSON *rmt, const cJSON *base, const cJSON *local,
               sync_policy policy, int64_t local_edit_ms, int64_t offset_ms,
               int64_t remote_ms, sync_merge_result *out);
void sync_merge_result_free(sync_merge_result *r);

/* Equality of two JSON values for the merge (NULL = JSON null; two
 * strings that are the same instant in RFC 3339 are equal). */
int sync_json_equal(const cJSON *a, const cJSON *b);

/* ---- validation of remote bodies (validate.c) --------------------------- */

/* An id we accept from the remote: 1..128 bytes of [A-Za-z0-9._~:@-]. */
int sv_id_ok(const char *id);

/*
 * Parses a response body: a JSON object with "data" an array (want_array)
 * or an object.  Returns the root (caller deletes) or NULL with err set.
 */
cJSON *sv_parse(const char *body, size_t len, int want_array, char *err,
                size_t errlen);

typedef struct {
    int64_t current_page, total_pages, total_count;
} sv_meta;

/* Most list pages read for one customer's contacts or assets (100 each). */
#define SYNC_MAX_CHILD_PAGES 100
/* A list claiming more pages than this is malformed (1e8 records). */
#define SYNC_MAX_LIST_PAGES 1000000

/* Reads "meta" of a list answer; -1 with err if absent or wrong types. */
int sv_meta_get(const cJSON *root, sv_meta *m, char *err, size_t errlen);

/*
 * Checks one record: an object, no duplicate keys, a valid string id,
 * known fields of the right JSON types, and (detail=1, or contacts which
 * only come in lists) a parsable updated_at.  0 or -1 with err.
 */
int sv_record_ok(store_entity e, const cJSON *rec, int detail, char *err,
                 size_t errlen);

/* ---- remote client (remote.c) ------------------------------------------ */

#define REMOTE_MAX_BODY_LIST   (16u << 20)
#define REMOTE_MAX_BODY_DETAIL (4u << 20)

typedef struct remote_client remote_client;

typedef struct {
    const char *api_url;
    const char *api_key;
    const char *ca_file;
    const char *proxy;
    int max_connections;
    long connect_timeout_ms;
    long request_timeout_ms;
    atomic_int *cancel;       /* checked between and during transfers */
    const sync_logger *log;
} remote_config;

/* One HTTP exchange.  Fill the request part, run it, read the rest. */
typedef struct {
    /* request */
    const char *method;       /* "GET", "POST", "PUT", "DELETE" (static) */
    char *url;                /* full URL, owned (remote_req_clear frees) */
    char *body;               /* request body, owned; NULL if none */
    char if_none_match[192];  /* "" if none */
    char idempotency_key[64]; /* "" if none */
    size_t max_body;          /* 0: REMOTE_MAX_BODY_LIST */
    /* answer */
    long status;              /* 0: no answer (transport error, cancelled) */
    int cancelled;
    int too_large;
    char err[256];            /* transport error text, "" if none */
    char *resp;               /* body, NUL-terminated; NULL if empty */
    size_t resp_len, resp_cap;
    char etag[192];           /* "" if none */
    char date[64];            /* raw Date header, "" if none */
    int64_t retry_after_ms;   /* -1 if none */
    int64_t sent_ms;          /* local wall time the request was sent */
    int64_t recv_ms;          /* local wall time its first byte came back */
    int64_t date_ms;          /* parsed Date, -1 if none */
    /* the caller's bookkeeping (set after remote_req_set; remote.c never
     * reads them): what the request is for, in a remote_stream */
    void *owner;
    int role;
    size_t index;
} remote_req;

int remote_new(const remote_config *cfg, remote_client **out, char *err, size_t errlen);
void remote_free(remote_client *r);
/* Wakes a remote_run blocked in poll (any thread). */
void remote_wakeup(remote_client *r);

/* Prepares req as method on api_url + path (path already escaped).
 * Frees what the request held before.  0 or -1 (memory). */
int remote_req_set(remote_client *r, remote_req *req, const char *method,
                   const char *path);
/* Frees the request's owned buffers and clears it. */
void remote_req_clear(remote_req *req);

/*
 * Runs the requests concurrently (up to max_connections at a time) over
 * the client's kept-alive connections and returns when all have answered,
 * failed, or (cancel flag) been aborted.  Fills each request's answer.
 * Returns the number of requests that got an HTTP answer.  Date headers
 * are fed to clk if not NULL; bytes received are added to *bytes.
 */
int remote_run(remote_client *r, remote_req **reqs, size_t n, sync_clock *clk,
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
    remote_req *(*next)(void *ud);
    void (*done)(void *ud, remote_req *req);
    void *ud;
    sync_clock *clk;      /* fed Date headers, or NULL */
    int64_t *bytes;       /* bytes received are added, or NULL */
} remote_stream;

/*
 * Starts requests on free connections, moves transfers along, and calls
 * done() for each that finished; with timeout_ms > 0 it waits that long at
 * most for something to happen when nothing did at once.  Never blocks
 * with timeout_ms 0 (a caller busy with the store pumps between records).
 * On cancel every transfer is aborted (done() sees cancelled set).
 * Returns the number of transfers still running.
 */
int remote_pump(remote_client *r, const remote_stream *s, int timeout_ms);

/* Connections the client has opened so far (keep-alive shows as few). */
int64_t remote_connects(const remote_client *r);

/* Percent-encodes s for a path segment or query value into out. 0 or -1
 * if it does not fit. */
int remote_escape(const char *s, char *out, size_t outlen);

/* Classes of answers, for push and pull. */
typedef enum {
    RC_OK = 0,        /* 2xx */
    RC_NOT_MODIFIED,  /* 304 */
    RC_TRANSIENT,     /* no answer, timeout, 408, 429, 5xx, 3xx, too large */
    RC_AUTH,          /* 401 */
    RC_NOT_FOUND,     /* 404 */
    RC_CONFLICT,      /* 409 */
    RC_REJECTED,      /* other 4xx: 400, 403, 422, ... */
    RC_CANCELLED,
} remote_class;
remote_class remote_classify(const remote_req *req);

/* ---- the engine (engine.c) --------------------------------------------- */

struct sync_engine {
    /* configuration, strings owned */
    char *api_url, *api_key, *technician_id, *branch_id, *ca_file;
    int days_back, days_ahead, max_connections;
    sync_policy policy;
    long connect_timeout_ms, request_timeout_ms;
    double backoff_scale;

    sync_logger log;
    store *st;
    remote_client *rm;
    sync_clock clk;
    uint64_t rng;
    atomic_int cancel;

    sync_event_fn ev_fn;
    void *ev_ud;

    pthread_mutex_t mu;        /* guards prog and wake_ms */
    sync_progress prog;
    int64_t wake_ms;

    /* the running cycle */
    int64_t cycle_now0;        /* caller's now_ms at start */
    int64_t cycle_mono0;
    sync_summary *sum;
    int auth_stop;             /* 401 seen: stop talking to the remote */
};

/* The cycle's notion of now: the caller's now_ms plus elapsed time. */
int64_t sync_now(const sync_engine *se);
int sync_cancelled(sync_engine *se);
/* Records the summary's last_error (one line). */
void sync_set_error(sync_engine *se, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sync_progress_set(sync_engine *se, const char *phase);
void sync_progress_add(sync_engine *se, int64_t done, int64_t total,
                       int64_t ops_done, int64_t ops_total);
void sync_emit(sync_engine *se, const char *type, const char *json);
/* Is this store failure one that must stop the cycle (the database itself
 * failing, as opposed to one record's state)? */
int sync_store_fatal(int rc);
/* Runs a batch on the engine's client, feeding clock and summary. */
int sync_run(sync_engine *se, remote_req **reqs, size_t n);

/* pull.c: walks the scope into the store. 0, or -1 on a store failure. */
int sync_pull(sync_engine *se);
/* push.c: pushes the ready ops. 0, or -1 on a store failure. */
int sync_push(sync_engine *se);

/* The key under which the clock offset is kept in the store's sync state. */
#define SYNC_STATE_CLOCK "clock_offset_ms"

#endif /* FIELDSYNC_SYNC_INT_H */
