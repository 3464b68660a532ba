/*
 * sync.h — the sync engine of fieldsync: pulls the technician's scope from
 * the remote API into the store and pushes the store's outbox to it, by the
 * updated_at rules of DESIGN §5.  This header is the whole interface of
 * sync/.  It uses libcurl and the store; it knows nothing of sockets or of
 * the local API.
 *
 * Threading: an engine runs its cycles on one thread (the caller's) with
 * its own store handle.  sync_engine_cancel(), sync_progress_get() and
 * sync_engine_wake_time() may be called from any other thread.
 */
#ifndef FIELDSYNC_SYNC_H
#define FIELDSYNC_SYNC_H

#include <stddef.h>
#include <stdint.h>

typedef struct sync_engine sync_engine;

typedef enum {
    POLICY_LWW = 0,     /* later of local edit time and remote updated_at */
    POLICY_SERVER_WINS,
    POLICY_CLIENT_WINS,
    POLICY_MANUAL,      /* held until resolved through the socket or CLI */
} sync_policy;

/* "lww", "server_wins", "client_wins", "manual"; parse returns 0 or -1. */
const char *sync_policy_name(sync_policy p);
int sync_policy_parse(const char *name, sync_policy *out);

/* Log levels, most severe first. */
enum { SYNC_LOG_ERROR = 1, SYNC_LOG_WARN, SYNC_LOG_INFO, SYNC_LOG_DEBUG };
/* Receives one log line (no newline); level is one of SYNC_LOG_*. */
typedef void (*sync_log_fn)(void *ud, int level, const char *line);

typedef struct {
    const char *api_url;        /* base incl. version, e.g. http://127.0.0.1:8080/api/v1 */
    const char *api_key;        /* never logged */
    const char *technician_id;  /* NULL: no technician scope */
    const char *branch_id;      /* NULL: no branch scope */
    int days_back;              /* default 7 */
    int days_ahead;             /* default 30 */
    int max_connections;        /* default 8 */
    sync_policy policy;
    long connect_timeout_ms;    /* 0: default 10 s */
    long request_timeout_ms;    /* 0: default 60 s */
    const char *ca_file;        /* extra CA bundle; NULL: system default */
    const char *proxy;          /* proxy URL; NULL: libcurl's https_proxy etc. */
    /*
     * Logging: one line per event, never the key.  log_fn NULL: stderr.
     * log_level is the most verbose level passed on (SYNC_LOG_*); 0 means
     * SYNC_LOG_WARN.  Lines above it are not even formatted.
     */
    sync_log_fn log_fn;
    void *log_ud;
    int log_level;
    /*
     * Multiplies every retry delay (backoff and Retry-After), for tests
     * only; 0 means 1.0, or the value of the environment variable
     * FIELDSYNC_TEST_BACKOFF_SCALE when that is set.
     */
    double backoff_scale;
    /*
     * The revalidation schedule (DESIGN §5, docs/SYNC.md); every time
     * constant of it derives from these three.  0 means the default.
     *   interval_s: how often the hot set is looked at (default 60);
     *   request_budget: requests per hour spent revalidating what the
     *     replica holds (default 300), a ceiling, not a target;
     *   max_age_s: the longest a record goes unchecked while the budget
     *     allows (default 86400).
     */
    int interval_s;
    int request_budget;
    int max_age_s;
} sync_config;

/* What one cycle did. */
typedef struct {
    int64_t started_ms, finished_ms;
    int online;                 /* the remote answered at least once */
    int auth_error;             /* 401: pushing paused, queue kept */
    int complete;               /* the pull walked the whole scope */
    int64_t pulled;             /* records stored or changed */
    int64_t unchanged;          /* 304 or same version */
    int64_t evicted;
    int64_t deleted_remotely;
    int64_t pushed;             /* ops settled on the remote */
    int64_t conflicts;
    int64_t rejected;
    int64_t retried;            /* transient failures, to be retried */
    int64_t errors;             /* records skipped for bad data, failed requests */
    int64_t bytes_down;
    char last_error[256];       /* one line, "" if none; never the key */
} sync_summary;

/* Progress of the running cycle, for display. */
typedef struct {
    int running;
    const char *phase;          /* "idle", "pull", "push" (static string) */
    int64_t records_done, records_total;   /* pull: known so far */
    int64_t ops_done, ops_total;           /* push */
} sync_progress;

/*
 * Scope (DESIGN §5): with technician_id, that technician's work orders
 * scheduled from today-days_back to today+days_ahead (UTC dates on the
 * server's clock) with their customers, contacts and assets; with
 * branch_id, also every customer of that branch (a branch alone: those
 * customers and no work orders); with neither, everything.
 *
 * The engine keeps these keys in the store's sync state: "clock_offset_ms"
 * (server clock minus ours), "last_sync_ms", "last_success_ms",
 * "last_error" and "pull_cursor" (an interrupted pull's resume point).
 */

/*
 * Creates an engine on the database at db_path (opened with its own store
 * handle).  The config's strings are copied.  0 or -1 with err filled.
 */
int sync_engine_new(const sync_config *cfg, const char *db_path,
                    sync_engine **out, char *err, size_t errlen);
void sync_engine_free(sync_engine *se);

/* Replaces the configuration (SIGHUP); not during a cycle. */
int sync_engine_reconfigure(sync_engine *se, const sync_config *cfg,
                            char *err, size_t errlen);

/*
 * Runs one cycle: push what is ready, pull the scope, push again what the
 * pull unblocked.  Blocks until done or cancelled.  Returns 0 if the cycle
 * ran (see the summary for what happened, including a remote that could
 * not be reached) or -1 on a local failure (the store).
 */
int sync_cycle_run(sync_engine *se, int64_t now_ms, sync_summary *out);

/*
 * Runs one scheduled cycle: push what is ready, then spend the request
 * budget where it matters (docs/SYNC.md): the hot work orders' list, list
 * summaries of the window as change hints, and the details that are due,
 * most important and most overdue first; records new to the scope are
 * fetched at once.  The first cycle (or one after the scope changed) walks
 * the whole scope as sync_cycle_run() does.  Meant to be run every
 * interval_s; returns as sync_cycle_run().
 */
int sync_cycle_run_scheduled(sync_engine *se, int64_t now_ms, sync_summary *out);

/* Age since the last check (seconds) over a set of records; -1 if empty. */
typedef struct {
    int64_t p50_s, p95_s, max_s;
    int64_t records;
} sync_freshness;

/* What the agent shows of the remote and of the replica's freshness. */
typedef struct {
    int64_t requests_last_hour;  /* every request to the remote, budgeted or not */
    int request_budget;          /* as configured */
    double budget_factor;        /* (0, 1]: below 1 after 429s, recovering */
    int rate_limited;            /* a 429 or a quota running low holds us back */
    int etag, gzip, rate_limit_headers;  /* what the remote was seen to offer */
    sync_freshness hot, all;     /* as of the call */
    int max_age_unmet;           /* the budget cannot check everything within max_age */
} sync_status;

/* Fills out (any thread); now_ms: the wall clock. */
void sync_status_get(sync_engine *se, int64_t now_ms, sync_status *out);

/*
 * Asks a running cycle to stop soon: transfers in progress are aborted at
 * once, ops in flight go back to pending (a create keeps its idempotency
 * key), and an interrupted pull resumes from its cursor next time.
 * Committed work stays committed.  The flag is cleared when a cycle starts,
 * so a cancel between cycles does not carry over.
 */
void sync_engine_cancel(sync_engine *se);

void sync_progress_get(sync_engine *se, sync_progress *out);

/*
 * When the engine next has something to do on its own (the earliest
 * retry of a backed-off op), in ms; INT64_MAX if nothing.
 */
int64_t sync_engine_wake_time(sync_engine *se);

/*
 * Events as they happen during a cycle (record changed, conflict), for the
 * agent's event stream.  Called on the cycle's thread.
 */
typedef void (*sync_event_fn)(void *ud, const char *type, const char *json);
void sync_set_event_hook(sync_engine *se, sync_event_fn fn, void *ud);

#endif /* FIELDSYNC_SYNC_H */
