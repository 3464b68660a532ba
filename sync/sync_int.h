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
#include "store/util.h"
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

/* Clocks: fs_wall_ms() and fs_mono_ms() of store/util.h, the one copy. */

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
int sync_id_ok(const char *id);

/*
 * Parses a response body: a JSON object with "data" an array (want_array)
 * or an object.  Returns the root (caller deletes) or NULL with err set.
 */
cJSON *sync_body_parse(const char *body, size_t len, int want_array, char *err,
                size_t errlen);

typedef struct {
    int64_t current_page, total_pages, total_count;
} sync_list_meta;

/* Most list pages read for one customer's contacts or assets (100 each). */
#define SYNC_MAX_CHILD_PAGES 100
/* A list claiming more pages than this is malformed (1e8 records). */
#define SYNC_MAX_LIST_PAGES 1000000

/* Reads "meta" of a list answer; -1 with err if absent or wrong types. */
int sync_list_meta_get(const cJSON *root, sync_list_meta *m, char *err, size_t errlen);

/*
 * Checks one record: an object, no duplicate keys, a valid string id,
 * known fields of the right JSON types, and (detail=1, or contacts which
 * only come in lists) a parsable updated_at.  0 or -1 with err.
 */
int sync_record_ok(store_entity e, const cJSON *rec, int detail, char *err,
                 size_t errlen);


/* The remote client (remote.c); its interface is sync/remote.h. */
typedef struct sync_remote_client sync_remote_client;
typedef struct sync_remote_req sync_remote_req;

/*
 * Pacing: asked before every request starts, told when it starts and when
 * it answers, so that one place can hold every request of the engine to
 * the remote's limits (pace.c).  delay_ms() returns 0 when a request may
 * start now, else how long to wait.  Without a pacer requests start as
 * soon as a connection is free.
 */
typedef struct {
    int64_t (*delay_ms)(void *ud);
    void (*started)(void *ud, const sync_remote_req *req);
    void (*answered)(void *ud, const sync_remote_req *req);
    void *ud;
} sync_remote_pacer;

/* ---- pacing and the request budget (pace.c) ----------------------------- */

#define SYNC_PACE_MINUTES 60   /* requests counted per minute, for the last hour */

/*
 * Everything the engine knows of the remote's patience, and the budget's
 * token bucket.  Times are monotonic ms.  Changed on the cycle's thread,
 * read by status from any thread, under mu.
 */
typedef struct {
    /* from the configuration */
    int64_t interval_ms, max_age_ms;
    int budget;                  /* requests per hour */
    double scale;                /* backoff scale (tests) */
    /* the remote's limits */
    int64_t pause_until;         /* nothing starts before (429, quota spent) */
    int64_t next_start;          /* spacing while the quota runs low */
    int consec_429;
    double factor;               /* budget multiplier after 429s, (0, 1] */
    int64_t factor_at;
    int64_t rl_limit, rl_remaining, rl_window_ms, rl_reset_at, rl_seen_at;
    int in_flight;
    int64_t last_429;            /* -1: none */
    /* the budget: tokens are requests; every request started spends one */
    double tokens;
    int64_t tokens_at;
    /* counting */
    int64_t minute_count[SYNC_PACE_MINUTES];
    int64_t minute_of[SYNC_PACE_MINUTES];
    int64_t requests, answers_429;
    int cap_etag, cap_gzip, cap_rl;
    uint64_t *rng;
    pthread_mutex_t *mu;         /* the engine's: status reads from other threads */
} sync_pace;

/* mu guards the figures; the accessors below take it themselves, except
 * sync_pace_last_hour() and sync_pace_limited() (caller holds it). */
void sync_pace_init(sync_pace *p, uint64_t *rng, pthread_mutex_t *mu);
/* Takes interval, budget, max_age from the engine's configuration. */
void sync_pace_configure(sync_pace *p, int interval_s, int budget, int max_age_s,
                         double scale);
/* The client's hooks (remote.h), over p. */
void sync_pace_hooks(sync_pace *p, sync_remote_pacer *out);
/* Budget tokens at now (monotonic ms), refilled at the budget's rate
 * times the 429 factor, up to the bucket's capacity. */
double sync_pace_tokens(sync_pace *p, int64_t now);
/* The bucket's capacity: the largest burst after an outage. */
double sync_pace_capacity(const sync_pace *p);
/* Requests per ms the budget allows now (after 429s: less). */
double sync_pace_rate(sync_pace *p, int64_t now);
int64_t sync_pace_last_hour(const sync_pace *p, int64_t now);
/* Held back by the remote now: paused, or spacing a low quota. */
int sync_pace_limited(const sync_pace *p, int64_t now);

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
    sync_remote_client *rm;
    sync_clock clk;
    uint64_t rng;
    atomic_int cancel;

    sync_event_fn ev_fn;
    void *ev_ud;

    pthread_mutex_t mu;        /* guards prog and wake_ms */
    sync_progress prog;
    int64_t wake_ms;

    /* the revalidation schedule (revalidate.c) */
    int interval_s, request_budget, max_age_s;
    sync_pace pace;
    uint64_t phase_seed;       /* this agent's random phase */
    int64_t sweep_next;        /* monotonic ms: the next sweep page is due */
    int64_t status_next;       /* ... the next in_progress / on_hold lists */
    int64_t today_next;        /* ... the next list of today's hot work orders */
    /* for status, under mu: the check times at the quantiles of age, so
     * that ages at any later moment are now minus these */
    struct {
        int64_t p50, p95, oldest, n;   /* wall ms; n = 0: none */
    } fresh_hot, fresh_all;
    int max_age_unmet;
    int last_online;           /* the last cycle that asked reached the remote */

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
int sync_run(sync_engine *se, sync_remote_req **reqs, size_t n);

/* pull.c: walks the scope into the store. 0, or -1 on a store failure. */
int sync_pull(sync_engine *se);
/* revalidate.c: spends the request budget (docs/SYNC.md). 0, or -1 on a
 * store failure. */
int sync_revalidate(sync_engine *se);
/* Recomputes the freshness figures status shows, from the store. */
void sync_freshness_update(sync_engine *se);
/* One list walked for the scope: an entity's list endpoint and filters. */
typedef struct {
    store_entity ent;          /* ENT_WORK_ORDER or ENT_CUSTOMER */
    char query[600];           /* filters, escaped, "" or "a=b&c=d" */
} sync_walk;

/*
 * The lists that make up the scope at now (their dates on the server's
 * clock), and a text naming them (the cursor of a walk is for one scope).
 * 0, or -1 if an id does not fit.
 */
int sync_build_walks(sync_engine *se, int64_t now, sync_walk w[2], int *nw, char *scope,
                     size_t scopelen);

/* The key whose value names the scope of the last complete walk. */
#define SYNC_STATE_WALKED "walked_scope"
/* Identifies the scope (not its dates) for SYNC_STATE_WALKED. */
void sync_scope_id(const sync_engine *se, char *out, size_t len);
/* An FNV-1a hash of a list item's text, as 16 hex digits, for change hints. */
void sync_summary_hash(const cJSON *item, char out[17]);
/* push.c: pushes the ready ops. 0, or -1 on a store failure. */
int sync_push(sync_engine *se);

/* The key under which the clock offset is kept in the store's sync state. */
#define SYNC_STATE_CLOCK "clock_offset_ms"

#endif /* FIELDSYNC_SYNC_INT_H */
