/*
 * store_internal.h — shared only among the store/ sources (and the store's own unit
 * tests).  Nothing here is part of the interface; see store.h for that.
 */
#ifndef FIELDSYNC_STORE_INTERNAL_H
#define FIELDSYNC_STORE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/util.h"

#define SI_SCHEMA_VERSION 5
#define SI_APP_ID 0x46535943          /* "FSYC" in PRAGMA application_id */
#define SI_MAX_JSON (1024 * 1024)     /* bodies and fields, as the remote's 413 */
#define SI_MAX_ID 128                 /* bytes in an id */
#define SI_MAX_FILTER 1024            /* bytes in a list filter value */
#define SI_STMT_CACHE 96

/*
 * Enum values as SQL text, for statements that compare stored columns with
 * them (entity, kind and state are stored as numbers).  Each is checked
 * against its enum at compile time: renumbering an enum cannot leave a
 * query comparing with the old value.
 */
#define SI_SQL_ENT_CUSTOMER "0"
#define SI_SQL_ENT_CONTACT "1"
#define SI_SQL_ENT_ASSET "2"
#define SI_SQL_ENT_WORK_ORDER "3"
#define SI_SQL_OP_CREATE "0"
#define SI_SQL_OPST_PENDING "0"
#define SI_SQL_OPST_REJECTED "3"
#define SI_SQL_OPST_HELD "4"
_Static_assert(ENT_CUSTOMER == 0, "SI_SQL_ENT_CUSTOMER");
_Static_assert(ENT_CONTACT == 1, "SI_SQL_ENT_CONTACT");
_Static_assert(ENT_ASSET == 2, "SI_SQL_ENT_ASSET");
_Static_assert(ENT_WORK_ORDER == 3, "SI_SQL_ENT_WORK_ORDER");
_Static_assert(OP_CREATE == 0, "SI_SQL_OP_CREATE");
_Static_assert(OPST_PENDING == 0, "SI_SQL_OPST_PENDING");
_Static_assert(OPST_REJECTED == 3, "SI_SQL_OPST_REJECTED");
_Static_assert(OPST_HELD == 4, "SI_SQL_OPST_HELD");
/* The contact and the asset: the entities whose parent is a customer. */
#define SI_SQL_CHILD_ENTITIES "(" SI_SQL_ENT_CONTACT ", " SI_SQL_ENT_ASSET ")"

/* ---- the handle (db.c; opening and migrations: open.c) ------------- */

typedef struct {
    store_entity e;
    char *id;
    const char *what;   /* "changed" or "deleted" (static) */
} si_change;

typedef struct {
    char *sql;
    sqlite3_stmt *st;
} si_cached;

struct store {
    sqlite3 *db;
    int lock_fd;             /* flock(2) on the file: who opened first */
    int depth;               /* internal transaction nesting */
    int user_tx;             /* inside store_tx_begin() */
    char errmsg[512];
    char *details;           /* after STORE_INVALID */
    store_change_fn hook;
    void *hook_ud;
    si_change *changes;      /* collected until COMMIT */
    size_t nchanges, capchanges;
    si_cached cache[SI_STMT_CACHE];
    size_t cache_next;       /* round-robin eviction slot */
    size_t marks[16];        /* nchanges at each savepoint */
};

/* Sets the one-line message and returns rc. */
int si_fail(store *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A SQLite failure: maps the handle's error code to a store_rc, with what. */
int si_dberr(store *s, const char *what);
/* STORE_INVALID with details (a cJSON array, ownership taken). */
int si_invalid(store *s, cJSON *details, const char *msg);
/* Appends {"field","message"} to details; -1 on allocation failure. */
int si_detail(cJSON *details, const char *field, const char *message);

/*
 * A cached prepared statement for sql (compared by content), reset and
 * unbound; NULL (error set) on failure.  A statement must not be used
 * twice at once: finish iterating before calling anything that may run
 * the same SQL.
 */
sqlite3_stmt *si_stmt(store *s, const char *sql);
/* Runs st (bound), which yields one integer, into *out and resets it;
 * NULL st (a failed si_stmt) is STORE_ERR. */
int si_one_int(store *s, sqlite3_stmt *st, int64_t *out, const char *what);
/* Runs st to completion (no rows expected) and resets it. */
int si_step_done(store *s, sqlite3_stmt *st, const char *what);
/* Binds text, or NULL for a NULL pointer. */
int si_bind_text(sqlite3_stmt *st, int idx, const char *text);
/* Column text as a malloc'd copy; NULL for SQL NULL (check *oom). */
char *si_col_dup(sqlite3_stmt *st, int col, int *oom);

/*
 * Collecting a scan's rows before changing them.  si_collect() steps st
 * (bound) to SQLITE_DONE, growing rows->items by size bytes a row and
 * calling fill() to copy the row into the new item (fill returns STORE_OK
 * or STORE_NOMEM, and on failure leaves nothing to free).  Any step result
 * other than a row or SQLITE_DONE is an error, never the end of the rows.
 * st is reset.  On failure every filled item is given to release(), the
 * array freed and *rows left empty.  A NULL st (a failed si_stmt) is
 * STORE_ERR.  On success the caller owns rows->items.
 */
typedef struct {
    void *items;
    int n, cap;
} si_rows;
typedef int (*si_row_fn)(sqlite3_stmt *st, void *item);
typedef void (*si_item_fn)(void *item);
int si_collect(store *s, sqlite3_stmt *st, size_t size, si_row_fn fill,
               si_item_fn release, si_rows *rows, const char *what);

/* A record named by entity and id. */
typedef struct {
    store_entity e;
    char *id;
} si_ref;
/* The rows (entity, id) of st; on failure *refs is NULL and *n 0. */
int si_refs_collect(store *s, sqlite3_stmt *st, si_ref **refs, int *n, const char *what);
void si_refs_free(si_ref *refs, int n);

/*
 * Internal transactions: the outermost is BEGIN IMMEDIATE (a writer takes
 * the lock up front, so it never fails half-way on an upgrade), inner ones
 * and those inside store_tx_begin() are savepoints.  si_tx_end() commits
 * or releases when rc is STORE_OK and rolls back otherwise; it returns the
 * final rc.  The change hook runs after the outermost COMMIT only.
 */
int si_tx_begin(store *s);
int si_tx_end(store *s, int rc);
/* A read snapshot for multi-statement reads (a no-op inside a
 * transaction); *began says whether si_read_end() must end it. */
int si_read_begin(store *s, int *began);
void si_read_end(store *s, int began);
/* Records a change for the hook (no-op without a hook). */
int si_changed(store *s, store_entity e, const char *id, const char *what);

/*
 * Test-only crash points: when set, called with the point's name at the
 * windows a crash test wants to hit (e.g. "local_write:replica_applied",
 * between the replica update and the outbox append).  NULL in production.
 */
extern void (*si_test_crash_hook)(const char *point);
void si_crash_point(const char *point);

/* ---- text.c (and util.h, the helpers shared with the other layers) ---- */

/* The cap of the buffers the store fills from its own rows: a list page
 * of 100 records of at most SI_MAX_JSON bytes each fits. */
#define SI_MAX_TEXT ((size_t)128 * 1024 * 1024)

/*
 * Parses JSON text of at most SI_MAX_JSON bytes, rejecting trailing
 * garbage and duplicate object keys anywhere.  On failure returns NULL and
 * *why says which (static text or filled into whybuf).
 */
cJSON *si_json_parse(const char *text, char *whybuf, size_t whylen);
/* The string member key of obj, or NULL. */
const char *si_jstr(const cJSON *obj, const char *key);
/* Sets obj[key] = val in place (keeping the key's position); takes val. */
int si_jset(cJSON *obj, const char *key, cJSON *val);
/* Compact text of item; NULL on allocation failure. */
char *si_json_print(const cJSON *item);
/* Code points in UTF-8 text. */
size_t si_utf8_len(const char *p);
char *si_strdup(const char *p);   /* NULL-safe */
/* "…}" + ",\"_sync\":{\"state\":\"st\",\"checked_at\":…,…}}" appended to
 * b; checked_ms < 0: never checked (null). */
void si_buf_add_with_sync(fs_buf *b, const char *obj_text, store_sync_state st,
                          const char *number, const char *write_only, int64_t checked_ms);
/*
 * A record created here has a provisional customer_number/work_order_number
 * of the remote's type (a string) until the server's replaces it on push:
 * SI_PROVISIONAL_PREFIX and 16 hex digits of its local id's UUID, which no
 * server number can be mistaken for (the remote's are "C-10001", "WO-…").
 */
#define SI_PROVISIONAL_PREFIX "LOCAL-"
/* Fields written and absent from the remote's detail: model.c. */
int si_write_only_merge(store *s, store_entity e, const cJSON *answer, const char *fields,
                        const char *old, char **list_out);
int si_number_provisional(const char *number);

/* ---- model.c (si_validate: validate.c) ------------------------------- */

/* Index columns of a record, pointing into its body. */
typedef struct {
    const char *status, *customer_id, *contact_id, *technician_id, *branch_id;
    const char *name, *number, *created_at;
    int64_t created_ms;
    int has_created_ms;
    char sched_day[11];   /* "" when no scheduled date */
} si_cols;

void si_columns(store_entity e, const cJSON *body, const char *parent_id, si_cols *out);
/* The list-item projection of a record; NULL when it is the whole record. */
cJSON *si_summary(store_entity e, const cJSON *body);
/*
 * Validates write-shape fields as the remote would.  body is the record's
 * local view for an update (NULL on create).  Returns STORE_OK,
 * STORE_INVALID (details set on s) or an error.
 */
int si_validate(store *s, store_entity e, const cJSON *fields, int create,
                const cJSON *body);
/*
 * A locally created record in the detail shape: the entity's fields with
 * the remote's defaults, then fields applied.  created_at is RFC 3339.
 */
cJSON *si_synthesize(store *s, store_entity e, const char *id, const char *parent_id,
                     const cJSON *fields, const char *created_at);
/* 1 if status is a valid value of e's status, else 0. */
int si_valid_status(store_entity e, const char *status);

/* ---- replica.c ------------------------------------------------------- */

typedef struct {
    store_entity e;
    char *id;
    char *parent_id;
    cJSON *body;          /* the local view */
    char *remote_body;    /* last remote version; NULL if created locally */
    char *updated_at;     /* the remote version's */
    char *etag;
    int deleted_locally;
    int64_t seen_gen;
} si_rec;

/* Loads a record (also one deleted locally); STORE_NOTFOUND if absent. */
int si_rec_load(store *s, store_entity e, const char *id, si_rec *out);
/* Inserts or replaces the row, deriving columns and summary from body. */
int si_rec_save(store *s, const si_rec *r);
void si_rec_release(si_rec *r);
/* Deletes the row (not its ops). */
int si_rec_delete(store *s, store_entity e, const char *id);
/*
 * Rebuilds r's local view from its remote version (or, for a record
 * created locally, its create op) with every unsettled op re-applied in
 * outbox order; rejected updates and deletes are left out.
 */
int si_recompute(store *s, si_rec *r);
/* Recomputes, saves and reports a change when the view changed. */
int si_refresh(store *s, store_entity e, const char *id);
/* The record's state from its unsettled ops: a held op shows as a
 * conflict, else a rejected one as rejected, else any op as pending. */
#define SI_STATE_SQL(ent, id)                                                     \
    "(SELECT MAX(CASE o.state WHEN " SI_SQL_OPST_HELD " THEN 3"                    \
    " WHEN " SI_SQL_OPST_REJECTED " THEN 2 ELSE 1 END) FROM outbox o "             \
    "WHERE o.entity = " ent " AND o.record_id = " id ")"

/*
 * A record's checked_at (revalidate.c) as a column, NULL if never: a
 * contact or asset was confirmed with its customer.
 */
#define SI_CHECKED_SQL(ent, id, parent)                                             \
    "(SELECT v.checked_ms FROM revalidation v WHERE "                              \
    "(" ent " IN (" SI_SQL_ENT_CONTACT ", " SI_SQL_ENT_ASSET ") AND v.entity = "    \
    SI_SQL_ENT_CUSTOMER " AND v.id = " parent ") OR "                               \
    "(" ent " NOT IN (" SI_SQL_ENT_CONTACT ", " SI_SQL_ENT_ASSET ") AND v.entity = " \
    ent " AND v.id = " id "))"
/* The column's value: ms, or -1 for NULL. */
int64_t si_checked_from_col(sqlite3_stmt *st, int col);

/* The state of a row's SI_STATE_SQL column, whose values are ranks (3 held,
 * 2 rejected, 1 pending: MAX picks the strongest), not store_sync_state. */
store_sync_state si_state_from_col(sqlite3_stmt *st, int col);
store_sync_state si_state_of(store *s, store_entity e, const char *id, int *err);
/* Saves r and reports a change when its view or visibility changed from
 * old_text / old_deleted. */
int si_save_and_report(store *s, const si_rec *r, const char *old_text, int old_deleted);
/* 1 if the record has unsettled ops, 0 if not, <0 on error. */
int si_has_ops(store *s, store_entity e, const char *id);
/* STORE_INVALID (message set) for a missing or over-long id. */
int si_check_id(store *s, const char *id);

/* ---- apply.c --------------------------------------------------------- */

/* Deletes the contacts and assets of a customer that have no ops. */
int si_drop_children(store *s, const char *customer_id);

/* ---- outbox.c -------------------------------------------------------- */

/* An op's columns in store_op order, plain and for a query on "outbox o". */
#define SI_OP_COLS                                                                \
    "seq, op_id, entity, record_id, parent_id, kind, fields, base_values, "        \
    "base_updated_at, edited_at, state, attempts, next_attempt, last_error"
#define SI_OP_COLS_O                                                              \
    "o.seq, o.op_id, o.entity, o.record_id, o.parent_id, o.kind, o.fields, "       \
    "o.base_values, o.base_updated_at, o.edited_at, o.state, o.attempts, "         \
    "o.next_attempt, o.last_error"

/* The ops of a prepared SI_OP_COLS query (si_collect); on failure *ops is
 * NULL and *n 0. */
int si_ops_collect(store *s, sqlite3_stmt *st, store_op **ops, int *n, const char *what);
/* Loads an op by id; STORE_NOTFOUND if absent. */
int si_op_load(store *s, const char *op_id, store_op *out);
/* The unsettled ops of one record in outbox order. */
int si_ops_of(store *s, store_entity e, const char *id, store_op **ops, int *n);
int si_op_delete(store *s, const char *op_id);
int si_op_set_state(store *s, const char *op_id, store_op_state st, int add_attempt);

/* ---- write.c --------------------------------------------------------- */

/*
 * A local update without validation (used to queue a conflict's winning
 * values); same coalescing and durability as store_local_update().
 */
int si_local_update(store *s, store_entity e, const char *id, const cJSON *fields,
                    int64_t now_ms, int validate, char **json_out);

/* ---- remap.c --------------------------------------------------------- */

/* Replaces the local id from by the server's to everywhere it is held
 * (records, references in other records, ops), in the caller's
 * transaction. */
int si_remap(store *s, store_entity e, const char *from, const char *to);
/* Replaces, in place, every string equal to from at the top level of obj
 * and every {"id": from} object member's id.  Returns 1 if any changed. */
int si_rewrite_ids(cJSON *obj, const char *from, const char *to);

/* ---- conflicts.c ----------------------------------------------------- */

/* Logs a conflict; held ones are open, the rest resolved "auto". */
int si_conflict_log(store *s, const store_op *op, const store_conflict_in *c,
                    int64_t now_ms);

/* ---- test support ---------------------------------------------------- */

/*
 * Checks that every record's stored local view equals the one rebuilt from
 * its remote version and its ops, and that every op has its record.  0 if
 * consistent, else STORE_ERR with the first difference in store_errmsg().
 */
int si_check_consistency(store *s);

#endif /* FIELDSYNC_STORE_INTERNAL_H */
