/* fieldsync-sim: a stand-in for the remote Field Service Management API.
 *
 * This is the one internal header of the simulator.  Each section below is
 * the interface of one .c file; structures whose insides only one file needs
 * are opaque here.  Threads: libmicrohttpd runs one thread per connection;
 * the database is guarded by one mutex (struct sim.db_lock), faults and
 * statistics each by their own. */
#ifndef FIELDSYNC_SIM_H
#define FIELDSYNC_SIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#define SIM_MAX_BODY (1024 * 1024)   /* larger request bodies get 413 */
#define SIM_LOG_CAP 10000            /* request log keeps this many entries */
#define SIM_MAX_IDEM_KEY 255         /* longest Idempotency-Key accepted */
#define SIM_DEFAULT_PER_PAGE 25
#define SIM_MAX_PER_PAGE 100

/* ---- log.c: one line per event on stderr ---- */
void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- prng.c: splitmix64, never rand() ---- */
struct prng {
    uint64_t state;
};
void prng_init(struct prng *p, uint64_t seed);
uint64_t prng_next(struct prng *p);
double prng_unit(struct prng *p);              /* uniform in [0, 1) */
uint32_t prng_below(struct prng *p, uint32_t n); /* uniform in [0, n) */

/* ---- clock.c: the server clock, shifted by --clock-skew ---- */
#define CLOCK_TEXT_MAX 96   /* room for any int the formats could print */
void clock_set_skew_ms(int64_t skew_ms);
int64_t clock_now_ms(void);
/* CLOCK_MONOTONIC in seconds: for rates and timers, which neither
 * --clock-skew nor a wall-clock step may move */
double clock_mono_s(void);
/* "2026-11-22T10:15:00.123Z" */
void clock_format_ms(int64_t ms, char out[CLOCK_TEXT_MAX]);
/* --timestamps s: records show created_at/updated_at in whole seconds */
void clock_set_stamp_seconds(int on);
int clock_stamp_seconds(void);
/* a record's created_at/updated_at as the API shows it: clock_format_ms,
 * or "2026-11-22T10:15:00Z" (the second, truncated) with --timestamps s */
void clock_format_stamp(int64_t ms, char out[CLOCK_TEXT_MAX]);
/* "Sun, 22 Nov 2026 10:15:00 GMT" (RFC 7231 IMF-fixdate) */
void clock_format_http(int64_t ms, char out[CLOCK_TEXT_MAX]);
/* YYYY-MM-DDTHH:MM:SS[.fff…]Z; 0 on success, -1 if malformed */
int clock_parse_rfc3339(const char *s, int64_t *ms);
/* YYYY-MM-DD as midnight UTC; 0 on success, -1 if malformed */
int clock_parse_date(const char *s, int64_t *ms);
/* the later of now and last + 1 ms: keeps a record's updated_at rising */
int64_t clock_stamp_after(int64_t last_ms);

/* ---- db.c: the SQLite store ---- */
/* Opens (and creates or upgrades) the store; path NULL means in memory.
 * Returns NULL after logging why. */
sqlite3 *db_open(const char *path);
void db_close(sqlite3 *db);
/* A cached prepared statement, reset and unbound; NULL on error (logged).
 * Valid until db_close; the caller must hold the database lock. */
sqlite3_stmt *db_stmt(sqlite3 *db, const char *sql);
int db_exec(sqlite3 *db, const char *sql);          /* 0 or -1 (logged) */
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);
/* 1 if the one-parameter query returns a row, 0 if not, -1 on error */
int db_exists(sqlite3 *db, const char *sql, const char *param);
/* steps a statement that returns no rows and resets it; 0, or -1 logged */
int db_step_done(sqlite3 *db, sqlite3_stmt *st);
/* runs a one-parameter statement that returns no rows; 0 or -1 */
int db_run(sqlite3 *db, const char *sql, const char *param);
/* the first column of the one-parameter query's first row as an integer;
 * 0 or -1 (logged) */
int db_int(sqlite3 *db, const char *sql, const char *param, int64_t *out);
/* binds text, or NULL for a NULL pointer */
int db_bind_text(sqlite3_stmt *st, int idx, const char *s);
/* column as a string, NULL for SQL NULL */
const char *db_col_text(sqlite3_stmt *st, int col);
/* next id of a table ("cust", "customers" → "cust-042"); the
 * sequence is the table's largest seq + 1, trashed rows included, so an id
 * is never handed out twice.  0 or -1. */
int db_next_id(sqlite3 *db, const char *table, const char *prefix, int width,
               int64_t *seq, char *out, size_t outsz);
/* deletes every record, key and counter (for reset); 0 or -1 */
int db_clear(sqlite3 *db);

/* ---- seed.c: deterministic demo data ---- */
struct seed_params {
    uint64_t seed;
    int customers;
    int work_orders;
    int technicians;
};
/* Fills an empty store from params, inside the caller's transaction. */
int seed_generate(sqlite3 *db, const struct seed_params *p);

/* ---- the request and response the handlers see (server.c) ---- */
struct sim;
struct sim_request {
    struct sim *sim;
    void *conn;                /* the libmicrohttpd connection; NULL for
                                * a write the sim makes itself (--churn) */
    const char *method;
    const char *path;          /* decoded, without the query */
    const char *body;          /* NUL-terminated, may be NULL */
    size_t body_len;
    const char *id;            /* the {id} of the matched route, or NULL */
};

struct sim_response {
    int status;
    char *body;                /* malloc'd JSON text or NULL */
    size_t body_len;
    char etag[80];             /* quoted, or empty */
    char allow[64];            /* for 405, or empty */
    int applied;               /* a write changed the store */
};

/* A query parameter: returns 1 and sets *value when present (value may be
 * "" for "?x" or "?x="), 0 when absent. */
int req_query(const struct sim_request *rq, const char *name, const char **value);
/* A request header, or NULL. */
const char *req_header(const struct sim_request *rq, const char *name);

/* ---- respond.c: JSON answers in the API's formats ---- */
/* These take ownership of their cJSON arguments. */
void resp_json(struct sim_response *rs, int status, cJSON *root);
void resp_data(struct sim_response *rs, int status, cJSON *data);
void resp_error(struct sim_response *rs, int status, const char *code,
                const char *message, cJSON *details);
void resp_internal(struct sim_response *rs);      /* 500 */
void resp_empty(struct sim_response *rs, int status);
/* details entry {"field":…, "message":…}; returns -1 on allocation failure */
int details_add(cJSON *details, const char *field, const char *message);
/* the detail ETag of a record, after its body is set: from its id, its
 * updated_at and a hash of the body */
void resp_set_etag(struct sim_response *rs, const char *id, int64_t updated_ms);
/* Parses the body as a JSON object; on failure answers 400 and returns NULL. */
cJSON *req_json_object(const struct sim_request *rq, struct sim_response *rs);

/* ---- validate.c: the write rules shared by every entity ---- */
enum field_kind {
    FK_STRING,    /* any string, bounded by max */
    FK_NAME,      /* non-blank string, bounded by max */
    FK_EMAIL,     /* string holding '@' when non-empty */
    FK_ENUM,      /* one of choices */
    FK_ADDRESS,   /* object of street, city, state, postal_code, country */
    FK_STRMAP,    /* object of strings */
    FK_BOOL,
    FK_INT,       /* integer in 0..max */
    FK_DATETIME,  /* RFC 3339 UTC */
    FK_REF        /* id of an existing record, checked with ref_sql */
};
#define FF_REQUIRED 1u   /* must be present on create */
#define FF_NULLABLE 2u   /* null is accepted (and stored as NULL) */

struct field_spec {
    const char *name;           /* key in the write shape */
    const char *column;         /* column it is stored in */
    enum field_kind kind;
    unsigned flags;
    long max;                   /* FK_STRING/FK_NAME length, FK_INT bound */
    const char *const *choices; /* FK_ENUM, NULL-terminated */
    const char *ref_sql;        /* FK_REF: one-parameter existence query */
    const char *ref_message;    /* FK_REF: detail when it does not exist */
};

/* The fields of one write, after validation: items[i] is the body's value
 * for specs[i], or NULL when the body does not name it. */
struct field_values {
    const struct field_spec *specs;
    size_t count;
    const cJSON *items[24];
};

/* Checks body against specs (create: required fields must be present).
 * Appends problems to details; returns 0 when valid, 1 when invalid, -1 on
 * an internal error. */
int validate_fields(sqlite3 *db, const struct field_spec *specs, size_t count,
                    const cJSON *body, int create, struct field_values *out,
                    cJSON *details);
/* Binds a validated value (text, integer, JSON text for objects, NULL). */
int validate_bind(sqlite3_stmt *st, int idx, const struct field_spec *spec,
                  const cJSON *item);
/* Parses the request body and validates it against specs; answers 400 or
 * 422 and returns NULL when it is not valid, else the parsed body, which
 * the caller frees (fv points into it). */
cJSON *validate_request(const struct sim_request *rq, struct sim_response *rs,
                        const struct field_spec *specs, size_t count, int create,
                        struct field_values *fv);
/* The item for a named field, or NULL. */
const cJSON *field_item(const struct field_values *fv, const char *name);
/* "UPDATE table SET a = ?, b = ?, updated_at = ? WHERE id = ?" over the
 * present fields, executed; 0 or -1. */
int validate_apply_update(sqlite3 *db, const char *table,
                          const struct field_values *fv, int64_t updated_ms,
                          const char *id);
/* "INSERT INTO table (id, seq, created_at, updated_at, <present fields>,
 * <extra columns>) VALUES …" executed; extra holds (column, text value)
 * pairs for defaults and derived columns, ending with NULL.  0 or -1. */
int validate_apply_insert(sqlite3 *db, const char *table, const char *id,
                          int64_t seq, int64_t now_ms,
                          const struct field_values *fv,
                          const char *const *extra);

/* ---- records.c: stored rows → the API's JSON shapes ---- */
/* Each returns 0 with *out set (NULL when there is no such live record)
 * or -1 on an error.  *updated_ms (when asked) gets the record's version. */
int rec_customer_detail(sqlite3 *db, const char *id, cJSON **out, int64_t *updated_ms);
int rec_work_order_detail(sqlite3 *db, const char *id, cJSON **out, int64_t *updated_ms);
/* The detail the API shows: with --documented-detail (set once at start)
 * without notes and work_order_type, as the spec page's example; the
 * state dump keeps showing them. */
extern int rec_documented_detail;
int rec_work_order_shown(sqlite3 *db, const char *id, cJSON **out, int64_t *updated_ms);
int rec_contact(sqlite3 *db, const char *id, cJSON **out);
/* updated_at of a live record in table, or 0 when there is none; -1 error */
int rec_updated_at(sqlite3 *db, const char *table, const char *id, int64_t *out);
typedef int (*rec_detail_fn)(sqlite3 *db, const char *id, cJSON **out,
                             int64_t *updated_ms);
/* Answers {"data": detail} with its ETag, or 404 with missing_message. */
void rec_respond(struct sim_response *rs, sqlite3 *db, rec_detail_fn fn,
                 const char *id, int status, const char *missing_message);
/* Moves a record to the trash, stamping updated_at; 0 or -1. */
int rec_trash(sqlite3 *db, const char *table, const char *id, int64_t old_updated_ms);
/* Stamps a record's updated_at (its embedded parts changed); 0 or -1. */
int rec_touch(sqlite3 *db, const char *table, const char *id);
/* Row readers for list queries; the SELECT lists they expect: */
extern const char REC_CUSTOMER_SUMMARY_COLS[];
extern const char REC_CONTACT_COLS[];
extern const char REC_ASSET_COLS[];
extern const char REC_WORK_ORDER_SUMMARY_COLS[];
extern const char REC_WORK_ORDER_SUMMARY_FROM[];
extern const char REC_WORK_ORDER_SUMMARY_JOIN[];
cJSON *rec_customer_summary_row(sqlite3_stmt *st);
cJSON *rec_contact_row(sqlite3_stmt *st);
cJSON *rec_asset_row(sqlite3_stmt *st);
cJSON *rec_work_order_summary_row(sqlite3_stmt *st);
/* Appends fn(row) to arr for every row of the bound statement st, then
 * resets it; 0 or -1. */
int rec_append_rows(sqlite3_stmt *st, cJSON *(*fn)(sqlite3_stmt *st), cJSON *arr);
/* 1 when table holds a live record id (its updated_at in *updated);
 * otherwise answers 404 with missing_message (or 500) and returns 0. */
int rec_find_live(struct sim_response *rs, sqlite3 *db, const char *table,
                  const char *id, const char *missing_message, int64_t *updated);
/* Adds a stored timestamp (ms, NULL → null) under name. */
cJSON *rec_add_time(cJSON *obj, const char *name, sqlite3_stmt *st, int col);

/* ---- list.c: paginated lists with filters ---- */
#define LIST_MAX_BINDS 12
struct list_query {
    const char *select_cols;   /* e.g. REC_CONTACT_COLS */
    const char *from;          /* "contacts", or a table and its alias */
    const char *alias;         /* with join: the alias in from ("w") */
    const char *join;          /* "JOIN …" adding columns only, or NULL */
    char where[512];           /* built with list_where */
    const char *binds[LIST_MAX_BINDS];
    int64_t int_binds[LIST_MAX_BINDS];
    int bind_is_int[LIST_MAX_BINDS];
    int nbinds;
    const char *order;         /* "seq" */
    cJSON *(*row)(sqlite3_stmt *st);
};
void list_init(struct list_query *q, const char *select_cols, const char *from,
               const char *order, cJSON *(*row)(sqlite3_stmt *st));
/* Joins a table that only adds columns: exactly one row for each row of
 * from (alias: from's alias).  Conditions name from's columns only. */
void list_join(struct list_query *q, const char *alias, const char *join);
/* Appends "AND <cond>" with one text (or integer) parameter. */
int list_where(struct list_query *q, const char *cond, const char *value);
int list_where_int(struct list_query *q, const char *cond, int64_t value);
/* Appends a condition that uses the same text parameter n times. */
int list_where_n(struct list_query *q, const char *cond, const char *value, int n);
/* Reads page/per_page (400 on bad values), runs the count and the page,
 * answers {"data":[…],"meta":{…}}. */
void list_respond(const struct sim_request *rq, struct sim_response *rs,
                  sqlite3 *db, struct list_query *q);
/* Validates an enum filter value: 1 valid, 0 answered 400. */
int list_check_choice(struct sim_response *rs, const char *param,
                      const char *value, const char *const *choices);

/* ---- routes_*.c: the API's handlers (called with the db lock held and
 * inside a transaction for writes) ---- */
typedef void (*route_handler)(const struct sim_request *rq, struct sim_response *rs);
void customers_list(const struct sim_request *rq, struct sim_response *rs);
void customers_get(const struct sim_request *rq, struct sim_response *rs);
void customers_create(const struct sim_request *rq, struct sim_response *rs);
void customers_update(const struct sim_request *rq, struct sim_response *rs);
void customers_delete(const struct sim_request *rq, struct sim_response *rs);
void customers_assets(const struct sim_request *rq, struct sim_response *rs);
void customers_work_orders(const struct sim_request *rq, struct sim_response *rs);
void contacts_list(const struct sim_request *rq, struct sim_response *rs);
void contacts_create(const struct sim_request *rq, struct sim_response *rs);
void contacts_update(const struct sim_request *rq, struct sim_response *rs);
void contacts_delete(const struct sim_request *rq, struct sim_response *rs);
void work_orders_list(const struct sim_request *rq, struct sim_response *rs);
void work_orders_get(const struct sim_request *rq, struct sim_response *rs);
void work_orders_create(const struct sim_request *rq, struct sim_response *rs);
void work_orders_update(const struct sim_request *rq, struct sim_response *rs);
void work_orders_delete(const struct sim_request *rq, struct sim_response *rs);
/* Shared by the work-order lists: adds status/technician/date filters,
 * 1 on success, 0 when it answered 400. */
int work_orders_filters(const struct sim_request *rq, struct sim_response *rs,
                        struct list_query *q);
/* the vocabularies the rules and seed share */
extern const char *const WO_STATUSES[];
extern const char *const WO_PRIORITIES[];
extern const char *const WO_TYPES[];
extern const char *const CUSTOMER_STATUSES[];
extern const char *const CUSTOMER_TYPES[];
extern const char *const PAYMENT_TERMS[];

/* ---- router.c: path templates → handlers ---- */
#define ROUTE_UNMATCHED (-1)
struct route_match {
    int route;                 /* index, or ROUTE_UNMATCHED */
    route_handler handler;     /* NULL when the method is not allowed */
    char id[128];              /* the {id} segment */
    char allow[64];            /* methods the route takes */
};
/* Matches an /api/v1 path and method. */
void router_match(const char *path, const char *method, struct route_match *m);
int router_count(void);
const char *router_template(int route);   /* "/api/v1/work-orders/{id}" */

/* ---- faults.c: injected failures, shared by all connections ---- */
enum fault_action {
    FAULT_NONE,
    FAULT_OFFLINE,       /* drop the connection, nothing applied */
    FAULT_429,
    FAULT_ERROR,         /* answer error_status */
    FAULT_DROP_BEFORE,   /* drop, nothing applied */
    FAULT_DROP_AFTER,    /* apply, then drop */
    FAULT_BAD_BODY       /* apply, answer 200 with a broken body */
};
struct fault_decision {
    enum fault_action action;
    int latency_ms;
    int error_status;
    int retry_after;
};
struct faults;
struct faults *faults_new(uint64_t seed);
void faults_free(struct faults *f);
/* Draws the faults for one /api/v1 request. */
void faults_decide(struct faults *f, const char *method, const char *path,
                   struct fault_decision *d);
/* Merges a JSON object of settings; 0, or -1 with a message in err. */
int faults_set(struct faults *f, const cJSON *obj, char *err, size_t errsz);
void faults_clear(struct faults *f, uint64_t seed);
cJSON *faults_json(struct faults *f);

/* ---- delay.c: latency faults served by suspending the connection ---- */
struct delays;
struct delays *delays_start(void);           /* starts the timer thread */
/* Suspends conn (a struct MHD_Connection, from its access handler) and
 * resumes it after ms; 0, or -1 when it could not (then do not wait). */
int delays_add(struct delays *d, void *conn, int ms);
/* how many requests wait out their latency now */
int delays_pending(struct delays *d);
/* Resumes every waiting connection now, refuses new ones and stops the
 * timer: call before stopping the server. */
void delays_stop(struct delays *d);
void delays_free(struct delays *d);

/* ---- stats.c: request counters and the request log ---- */
struct stats;
struct stats_entry {
    const char *method;
    const char *path;
    int route;                 /* router index or ROUTE_UNMATCHED */
    int status;                /* 0 when no answer was sent */
    size_t bytes_out;
    const char *idempotency_key;
    int applied;
    int dropped;
    int rate_limited;          /* refused by --rate-limit (429) */
};
struct stats *stats_new(void);
void stats_free(struct stats *s);
void stats_record(struct stats *s, const struct stats_entry *e);
cJSON *stats_json(struct stats *s);
/* entries with seq > since, oldest first, as a JSON array */
cJSON *stats_log_json(struct stats *s, uint64_t since);
void stats_clear(struct stats *s, int also_log);

/* ---- idempotency.c: Idempotency-Key replays, kept in the store ---- */
enum idem_result { IDEM_NEW, IDEM_REPLAY, IDEM_REUSED, IDEM_ERROR };
/* Looks the key up for this request; on IDEM_REPLAY fills rs with the
 * first answer. */
enum idem_result idem_lookup(sqlite3 *db, const char *key,
                             const struct sim_request *rq,
                             struct sim_response *rs);
/* Remembers the answer to the first request with this key; 0 or -1. */
int idem_store(sqlite3 *db, const char *key, const struct sim_request *rq,
               const struct sim_response *rs);

/* ---- ratelimit.c: --rate-limit, the API key's token bucket ---- */
struct ratelimit;
/* what an answer tells the client about the bucket */
struct rl_view {
    long limit;                /* N */
    int window_s;              /* 1, 60 or 3600 */
    long remaining;            /* whole tokens left after this request */
    int reset_s;               /* seconds until the bucket is full again */
    int retry_after_s;         /* seconds until a token, 0 when one is there */
};
/* "N/s", "N/min" or "N/h" (N from 1 to 1000000); 0 or -1 */
int ratelimit_parse(const char *s, long *limit, int *window_s);
struct ratelimit *ratelimit_new(long limit, int window_s);   /* full */
void ratelimit_free(struct ratelimit *rl);
/* Takes a token for one request: 1 when there was one, 0 when the
 * request must be refused (429); v describes the bucket after it. */
int ratelimit_take(struct ratelimit *rl, struct rl_view *v);
/* v without taking a token (answers that did not reach the limiter) */
void ratelimit_peek(struct ratelimit *rl, struct rl_view *v);
void ratelimit_refill(struct ratelimit *rl);                  /* full again */
/* {"limit","window_s","remaining","reset_s"}, or NULL */
cJSON *ratelimit_json(struct ratelimit *rl);

/* ---- churn.c: --churn, random dispatcher edits and their log ---- */
struct churn;
/* "N/h" (also "N/min", "N/s"), N a non-negative decimal, at most 1000 a
 * second in all; *per_hour gets the rate.  0 or -1. */
int churn_parse(const char *s, double *per_hour);
/* Starts the edit thread at per_hour (0: paused until set at run time);
 * NULL on failure. */
struct churn *churn_start(struct sim *sim, double per_hour, uint64_t seed);
/* Stops the thread (call before the database closes); churn_free too. */
void churn_stop(struct churn *c);
void churn_free(struct churn *c);
/* Back to the --churn rate, every kind and the seed's first draw; the log
 * is emptied but its sequence numbers keep rising. */
void churn_reset(struct churn *c, uint64_t seed);
/* {"rate_per_hour": N, "kinds": [...] | null}; 0, or -1 with err and
 * nothing changed. */
int churn_set(struct churn *c, const cJSON *obj, char *err, size_t errsz);
/* {"rate_per_hour","kinds","changes","last_seq"}, or NULL */
cJSON *churn_json(struct churn *c);
/* {"data":[changes with seq > since], "last_seq", "first_seq"}, or NULL */
cJSON *churn_changes_json(struct churn *c, uint64_t since);

/* ---- controls.c: /__sim/ ---- */
void controls_handle(const struct sim_request *rq, struct sim_response *rs);

/* ---- server.c: the HTTP server ---- */
struct sim_config {
    const char *bind;
    int port;
    const char *api_key;
    const char *db_path;
    struct seed_params seed;
    int64_t clock_skew_ms;
    int no_idempotency;
    int no_etag;               /* --etag off: no ETag, no 304 */
    int stamp_seconds;         /* --timestamps s */
    long rate_limit;           /* --rate-limit N/window; 0: none */
    int rate_window_s;
    double churn_per_hour;     /* --churn; 0: none until set at run time */
};

struct sim {
    struct sim_config cfg;
    sqlite3 *db;
    pthread_mutex_t db_lock;   /* guards db */
    struct faults *faults;
    struct stats *stats;
    struct delays *delays;
    struct ratelimit *ratelimit;   /* NULL without --rate-limit */
    struct churn *churn;
    void *daemon;              /* struct MHD_Daemon */
};

/* Starts serving on cfg.bind:cfg.port; fills the bound address and port.
 * 0 or -1 (logged). */
int server_start(struct sim *sim, char *addr, size_t addrsz, int *port);
void server_stop(struct sim *sim);
/* Runs a handler as a request of a client would be run: under the
 * database lock, inside one transaction for writes, with Idempotency-Key
 * replays when idem is set.  rq->conn may be NULL (a write the sim makes
 * itself, with no query or headers). */
void server_run_handler(const struct sim_request *rq, struct sim_response *rs,
                        route_handler handler, const char *idem, int *replayed);
/* Regenerates the seed data inside a transaction; 0 or -1. */
int sim_reseed(struct sim *sim, const struct seed_params *p);

#endif
