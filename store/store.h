/*
 * store.h — the SQLite replica, the durable outbox, the conflict log and the
 * sync state of fieldsync.  This header is the whole interface of store/;
 * each section names the file that implements it.
 *
 * The store knows the data model (entities, their read and write shapes,
 * the remote's validation rules) but nothing of HTTP or sockets.
 *
 * Conventions
 *   - Every function returning int returns STORE_OK (0) or a negative
 *     store_rc; store_errmsg() then describes the failure in one line.
 *   - Times are Unix milliseconds (int64_t) passed in by the caller, so
 *     tests control the clock.  Timestamps in JSON are RFC 3339 UTC.
 *   - Strings returned through char ** are allocated with malloc and freed
 *     by the caller; JSON text in and out is UTF-8.
 *   - Every mutating function is atomic: it commits whole or not at all.
 *     Inside store_tx_begin()/store_tx_commit() it joins that transaction
 *     (savepoints), so a caller can group many calls into one commit.
 *   - A store handle is used by one thread at a time.  Several handles may
 *     be open on one file (WAL): readers never wait for a writer.
 */
#ifndef FIELDSYNC_STORE_H
#define FIELDSYNC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct store store;

typedef enum {
    STORE_OK = 0,
    STORE_ERR = -1,          /* SQLite or I/O failure */
    STORE_NOTFOUND = -2,     /* no such record, op or conflict */
    STORE_INVALID = -3,      /* validation failed: see store_errdetails() */
    STORE_STATE = -4,        /* not allowed in the object's current state */
    STORE_NEWER_SCHEMA = -5, /* database written by a newer fieldsync */
    STORE_NOMEM = -6,
    STORE_BUSY = -7,         /* database locked by another process */
    STORE_CORRUPT = -8,      /* not a fieldsync database, or damaged */
} store_rc;

typedef enum {
    ENT_CUSTOMER = 0,
    ENT_CONTACT,
    ENT_ASSET,
    ENT_WORK_ORDER,
    ENT__COUNT
} store_entity;

/* "customer", "contact", "asset", "work_order". */
const char *store_entity_name(store_entity e);
/* Parses the names above; returns STORE_OK or STORE_INVALID. */
int store_entity_from_name(const char *name, store_entity *out);

/* ---- opening (open.c) and the handle (db.c) ---------------------------- */

/*
 * Opens (creating 0600 if absent) the database at path and migrates it to
 * the current schema in one transaction.  WAL, synchronous=FULL, foreign
 * keys on, busy timeout.  A database whose user_version is newer than this
 * build's is refused with STORE_NEWER_SCHEMA, never downgraded (nor
 * touched); a file that is not SQLite, or a SQLite database that is not
 * fieldsync's, is refused with STORE_CORRUPT.  Ops left "in flight" by a
 * crash go back to pending (their outcome is unknown, and a create is
 * retried with the same idempotency key), counted as one attempt; this is
 * done only by the first handle opened on the file (no other handle open
 * in any process, told by flock(2)), so opening a second handle never
 * disturbs a push in progress.
 * On failure *out is NULL and err (if given) holds one line.
 */
int store_open(const char *path, store **out, char *err, size_t errlen);
void store_close(store *s);

/* Schema version this build writes (PRAGMA user_version). */
int store_schema_version(void);

/* One line describing the last failure on s; never NULL. */
const char *store_errmsg(const store *s);
/*
 * After STORE_INVALID: a JSON array of {"field","message"} in the remote's
 * error format, owned by s, valid until the next call on s.
 */
const char *store_errdetails(const store *s);

/* Groups the following calls into one transaction. Not nestable. */
int store_tx_begin(store *s);
int store_tx_commit(store *s);
int store_tx_rollback(store *s);

/*
 * Gives back the memory the handle holds only for speed (its page cache,
 * up to 64 MiB while a large pull writes), e.g. at the end of a sync
 * cycle, so that an idle daemon does not keep it resident.  Later reads
 * fill the cache again as needed.
 */
void store_release_memory(store *s);

/*
 * Leaves WAL checkpoints to the other handles on the file, so that this
 * handle's commits never wait for one: the local API's durable writes
 * (the sync engine's handle, which commits at least once a cycle and a
 * cycle follows every burst of local writes, checkpoints for both).
 */
void store_defer_checkpoints(store *s);

/*
 * A number that changes whenever the database may have changed since the
 * last call: a commit by this handle or by any other (another handle of
 * this process, another process).  For caches of read answers.
 */
int store_data_version(store *s, int64_t *version_out);

/*
 * Called after a commit, once for each record whose local view changed
 * (what: "changed" or "deleted"); used by the agent's event stream.
 */
typedef void (*store_change_fn)(void *ud, store_entity e, const char *id,
                                const char *what);
void store_set_change_hook(store *s, store_change_fn fn, void *ud);

/* ---- time and ids (text.c, over util.h) -------------------------------- */

/* Parses RFC 3339 (Z or ±hh:mm, optional fraction) or YYYY-MM-DD. */
int store_time_parse(const char *text, int64_t *ms_out);
/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least 32 bytes). */
void store_time_format(int64_t ms, char *buf, size_t len);
/* A random version 4 UUID, 36 chars + NUL, from getrandom(2). */
int store_uuid(char out[37]);

/* ---- reading the replica (query.c; the names: model.c) ----------------- */

typedef enum {
    STORE_SYNC_SYNCED = 0,  /* nothing queued */
    STORE_SYNC_PENDING,     /* ops queued or in flight */
    STORE_SYNC_CONFLICT,    /* an op held for a manual resolution */
    STORE_SYNC_REJECTED,    /* an op the server rejected, awaiting retry/discard */
} store_sync_state;

/* "synced", "pending", "conflict", "rejected". */
const char *store_sync_state_name(store_sync_state st);

/*
 * Filters of the local API (DESIGN §6).  NULL or 0 means "not given".
 * Which apply depends on the entity:
 *   customers:   search (case-insensitive substring of name or
 *                customer_number), status, branch_id, created_after
 *   contacts:    customer_id (required)
 *   assets:      customer_id (required)
 *   work orders: status, customer_id, technician_id, from_date and
 *                to_date (inclusive, on scheduled_date's date)
 */
typedef struct {
    int page;                  /* 1-based; 0 means 1 */
    int per_page;              /* 0 means 25; above 100 is clamped to 100 */
    const char *search;
    const char *status;
    const char *branch_id;
    const char *created_after; /* YYYY-MM-DD or RFC 3339 */
    const char *customer_id;
    const char *technician_id;
    const char *from_date;     /* YYYY-MM-DD */
    const char *to_date;       /* YYYY-MM-DD */
} store_query;

/*
 * One page of an entity's list, in the remote's list shape:
 *   {"data":[summary…],"meta":{"current_page","total_pages","total_count"}}
 * Items are the remote's summary shape of each record (its list-endpoint
 * fields) plus "_sync":{"state":…,"checked_at":…} (checked_at: when the
 * copy was last confirmed against the remote, null if never; revalidate.c).
 * Records deleted locally are hidden.
 * Served from indexes, ordered by id.  total_pages is
 * ceil(total_count / per_page) (0 when nothing matches); a page past the
 * end is empty.  created_after is strict, as the remote filters (created_at
 * > it; a date means its midnight UTC); search is a substring match where %
 * and _ are literal, case-insensitive for ASCII.
 * Invalid filter values (negative page or per_page, unknown status, bad
 * dates, missing customer_id for contacts/assets) give STORE_INVALID.
 */
int store_list(store *s, store_entity e, const store_query *q, char **json_out);

/*
 * The local view of one record (remote version with pending edits applied)
 * in the detail shape plus "_sync":{"state":…,"checked_at":…}, as a JSON object.
 * STORE_NOTFOUND if absent or deleted locally.
 */
int store_get(store *s, store_entity e, const char *id, char **json_out);

/* Everything the sync engine needs to know about one stored record. */
typedef struct {
    char *id;
    char *parent_id;      /* contact/asset: customer id; else NULL */
    char *body;           /* local view, no "_sync" */
    char *remote_body;    /* last remote version; NULL if created locally */
    char *updated_at;     /* remote updated_at; NULL if never seen remotely */
    char *etag;           /* remote ETag; NULL if none */
    int deleted_locally;  /* a delete is queued */
    store_sync_state state;
} store_record;

int store_record_get(store *s, store_entity e, const char *id, store_record *out);
void store_record_release(store_record *r);

/* Records per entity (not counting local deletes), for status. */
int store_count(store *s, store_entity e, int64_t *count_out);

/* ---- local writes (write.c; validation: validate.c) --------------------- */

/*
 * A local write, as the local API receives it: fields in the remote's
 * WRITE shape (customer_id, contact_id, technician_id, branch_id…).
 *
 * Each function validates like the remote would (STORE_INVALID with
 * details: required fields, types, enumerations, references that must
 * exist in the replica, unknown fields), then in ONE durable transaction
 * applies the change to the replica (mapping write shape to read shape and
 * filling names known from the replica) and appends an op to the outbox:
 * op id (UUID v4), entity, record id, kind, changed fields, the base (the
 * record's remote updated_at and the changed fields' values in its remote
 * version), and the edit time.  Unsent ops of one record coalesce:
 *   update+update -> one update (later values win, earliest base kept)
 *   create+update -> one create
 *   create+delete -> nothing (the record disappears)
 *   update+delete -> one delete
 * An op that has ever been attempted is never coalesced into: its outcome
 * on the remote may already be fixed.  An update that changes nothing
 * (all values equal the local view) appends no op.
 *
 * On success *json_out (if not NULL) receives the record as store_get()
 * would return it.  Times are the edit time in ms.
 *
 * Input JSON with a duplicated key (anywhere) is STORE_INVALID, as is a
 * body over 1 MiB or an id over 128 bytes.  Assets are read-only: writes
 * give STORE_STATE.  Deleting a customer that has work orders neither
 * completed nor cancelled gives STORE_STATE (the remote answers 409).
 */
/* parent_id: the customer of a contact; NULL for other entities.
 * The new record's id is "local-<uuid>". */
int store_local_create(store *s, store_entity e, const char *parent_id,
                       const cJSON *fields, int64_t now_ms, char **json_out);
/*
 * store_local_create() for a request with an Idempotency-Key (NULL or "":
 * none): a key seen before gets the first answer again (*replayed_out = 1)
 * — the record as it is now, under the server's id once pushed — and
 * nothing is queued; the same key with another request (entity, parent or
 * body) is STORE_INVALID, as the remote refuses it.  The key and its
 * answer are kept in the create's transaction, for 24 hours and at most
 * 10,000 keys.  A key over 255 bytes is STORE_INVALID.
 * Creating a customer whose name (trimmed, ASCII case folded) a customer
 * in the replica has is STORE_STATE, as the remote answers 409.
 */
int store_local_create_keyed(store *s, store_entity e, const char *parent_id,
                             const cJSON *fields, const char *idem_key, int64_t now_ms,
                             char **json_out, int *replayed_out);
int store_local_update(store *s, store_entity e, const char *id,
                       const cJSON *fields, int64_t now_ms, char **json_out);
int store_local_delete(store *s, store_entity e, const char *id, int64_t now_ms);

/* ---- the outbox as the sync engine sees it (outbox.c; names: model.c) -- */

typedef enum { OP_CREATE = 0, OP_UPDATE, OP_DELETE } store_op_kind;

typedef enum {
    OPST_PENDING = 0, /* waiting to be pushed (maybe after next_attempt_ms) */
    OPST_INFLIGHT,    /* claimed by a push; back to pending after a crash */
    OPST_DONE,        /* settled on the remote (the op is then removed from
                         the outbox: never seen in a listing) */
    OPST_REJECTED,    /* 400/403/422 or delete 409: kept with the error */
    OPST_HELD,        /* conflict under the manual policy, awaiting a resolve */
} store_op_state;

/* "create"/"update"/"delete" and "pending"/"in_flight"/"done"/"rejected"/"held". */
const char *store_op_kind_name(store_op_kind k);
const char *store_op_state_name(store_op_state st);

typedef struct {
    int64_t seq;            /* order of the outbox */
    char op_id[37];         /* UUID, also the Idempotency-Key of a create */
    store_entity entity;
    char *record_id;
    char *parent_id;        /* contact create: the customer id */
    store_op_kind kind;
    char *fields;           /* JSON object, write shape ("{}" for delete) */
    char *base_values;      /* JSON object: the changed fields in the base */
    char *base_updated_at;  /* remote updated_at of the base; NULL for create */
    int64_t edited_at_ms;   /* the (latest) local edit time */
    store_op_state state;
    int attempts;           /* pushes that ended without settling the op:
                               retry_later, reject, hold, or a crash while
                               in flight; > 0 means never coalesced into */
    int64_t next_attempt_ms;
    char *last_error;       /* JSON: the server's error object, or NULL */
} store_op;

void store_op_release(store_op *op);
void store_ops_free(store_op *ops, int n);

/*
 * Claims up to max ops that are ready to push at now_ms and marks them in
 * flight (durably).  Ready means: pending, due (next_attempt_ms <= now_ms),
 * the first unsettled op of its record (rejected and held ops block the
 * later ops of their record only), and referring to no record whose create
 * is still unsent (a create is pushed before anything that refers to it).
 * Ops of different records are independent: one failing record never
 * holds back another.  *ops_out is an array of *n_out ops to free with
 * store_ops_free().
 */
int store_outbox_claim(store *s, int64_t now_ms, int max, store_op **ops_out, int *n_out);

/*
 * The earliest next_attempt_ms of an op that is ready but for the clock
 * (pending, first unsettled of its record, referring to no unsent create);
 * INT64_MAX if there is none.  Ops blocked by a rejected or held op are not
 * counted: no amount of waiting makes them ready.
 */
int store_outbox_next_due(store *s, int64_t *ms_out);

/* Ops pending (incl. in flight), rejected and held, for status. */
int store_outbox_counts(store *s, int64_t *pending, int64_t *rejected, int64_t *held);

/*
 * The queued and unsettled ops (pending, in flight, rejected, held) in
 * outbox order as a JSON array of objects: op_id, entity, record_id,
 * kind, state, attempts, next_attempt_at, fields, base_values,
 * base_updated_at, edited_at, last_error.
 */
int store_outbox_list(store *s, char **json_out);

/* ---- settling pushed ops (settle.c; the id remap: remap.c) ------------- */

/*
 * Settles a create: in one transaction marks it done and replaces the
 * local id by server_id everywhere — the record, references to it in
 * other records (customer.id, contact.id, indexed columns), and the
 * record id, parent id and fields of later ops — then stores the remote
 * record (detail shape, may be NULL if the answer carried none) as the
 * record's remote version.  The remote version is what the create made
 * (its fields over the remote's defaults) overlaid with the answer's
 * top-level members, so the spec's short answer ({id, work_order_number,
 * status, created_at}) is enough; updated_at is the answer's (unknown
 * without one, so the next pull applies).  STORE_STATE unless the op is a
 * pending or in-flight create.
 */
int store_op_create_done(store *s, const char *op_id, const char *server_id,
                         const char *remote_json, const char *etag);

/*
 * A conflict found while settling an update: for each field both sides
 * changed to different values, its base, local and remote values.
 */
typedef struct {
    const char *rule;         /* "lww", "server_wins", "client_wins", "manual",
                                 "deleted_remotely" */
    const char *outcome;      /* "local_won", "remote_won", "held" */
    const char *base_json;    /* JSON object field -> base value */
    const char *local_json;   /* JSON object field -> local value */
    const char *remote_json;  /* JSON object field -> remote value */
    int64_t remote_updated_ms;
    int64_t now_ms;           /* when it was found (created_at of the log
                                 entry); 0 means the wall clock */
} store_conflict_in;

/*
 * Settles an update or delete as done.  remote_json is the record as the
 * remote now has it (after our PUT; NULL for a delete).  In one
 * transaction: the op is done, the conflict (if any) is logged, and the
 * remote version becomes the record's base with later pending ops
 * re-applied on top.  An update without remote_json takes its own fields
 * as now being the remote's.  A conflict passed here is logged as
 * resolved ("auto"); see store_conflict_resolve() to flip it.  A delete
 * done removes the record (and a customer's contacts and assets).
 */
int store_op_done(store *s, const char *op_id, const char *remote_json,
                  const char *etag, const store_conflict_in *conflict);

/*
 * Holds an update whose conflict waits for a manual resolution, logging
 * the conflict (outcome "held") in the same transaction; the record shows
 * "_sync":{"state":"conflict"} until it is resolved.
 */
int store_op_hold(store *s, const char *op_id, const store_conflict_in *conflict);

/* An in-flight op goes back to pending unchanged (attempts and next try
 * kept): its push was cancelled or paused by a 401.  STORE_STATE if the op
 * is not in flight. */
int store_op_unclaim(store *s, const char *op_id);

/* A transient failure: back to pending, attempts+1, not before next_ms. */
int store_op_retry_later(store *s, const char *op_id, int64_t next_ms,
                         const char *error_text);

/*
 * The server rejected the op (400/403/422, delete 409): it is kept as
 * rejected with the server's error JSON, and the record's local view goes
 * back to its remote version (with the record's other ops re-applied).
 * A rejected create leaves the local record visible as "rejected".
 */
int store_op_reject(store *s, const char *op_id, const char *error_json);

/*
 * The record was deleted remotely (404) while this op was pending: the op
 * is settled as a conflict "deleted_remotely" (the local values are kept
 * in the conflict log) and the record is removed from the replica, with
 * its other ops (each logged the same way).  For a delete op this is
 * simply done.
 */
int store_op_remote_gone(store *s, const char *op_id, int64_t now_ms);

/* Users' actions on a rejected op: push it again, or drop it (restoring
 * the record's remote version).  STORE_STATE if not rejected. */
int store_op_user_retry(store *s, const char *op_id);
int store_op_user_discard(store *s, const char *op_id);


/* ---- remote apply, the pull (apply.c) ------------------------------------ */

typedef enum {
    UPSERT_APPLIED = 0, /* stored as the new remote version */
    UPSERT_REBASED,     /* stored; pending local edits re-applied on top */
    UPSERT_UNCHANGED,   /* same updated_at as stored: nothing to do */
    UPSERT_STALE,       /* older than the stored version: ignored */
} store_upsert_result;

/*
 * Starts a pull generation: records marked seen with it stay; those not
 * seen when store_evict_unseen() runs after a complete walk are evicted.
 */
int store_pull_begin(store *s, int64_t *generation_out);

/*
 * Stores a remote record (detail shape; list items are never passed here
 * because they carry no updated_at, except contacts and assets which only
 * have list endpoints) by the rules of DESIGN §5: a record whose updated_at
 * is older than the stored one never replaces it; pending local edits are
 * never overwritten but re-applied on top of the new remote version; the
 * record is marked seen in generation.  parent_id is the customer of a
 * contact or asset, NULL otherwise.  The JSON is validated (an object with
 * a string "id" and, where the entity has one, a parsable "updated_at");
 * a bad record gives STORE_INVALID and changes nothing.
 */
int store_remote_upsert(store *s, store_entity e, const char *json,
                        const char *etag, const char *parent_id,
                        int64_t generation, store_upsert_result *result_out);

/*
 * store_remote_upsert() of a record the caller has parsed already (the
 * pull's answers): the same checks and rules, without printing it to text
 * and parsing it again.  rec is neither changed nor kept.
 */
int store_remote_upsert_item(store *s, store_entity e, const cJSON *rec, const char *etag,
                             const char *parent_id, int64_t generation,
                             store_upsert_result *result_out);

/* The stored ETag of a record, for If-None-Match; STORE_NOTFOUND if none. */
int store_record_etag(store *s, store_entity e, const char *id, char **etag_out);

/* A record still in scope whose body did not change (304): mark it seen. */
int store_mark_seen(store *s, store_entity e, const char *id, int64_t generation);
/* Marks the contacts and assets of a customer seen (their parent was 304). */
int store_mark_children_seen(store *s, const char *customer_id, int64_t generation);

/*
 * The remote answered 404 for a record: it was deleted remotely.  Removed
 * from the replica unless it has unsettled ops (those settle it at push);
 * a customer takes its contacts and assets (those without ops) along.
 * STORE_NOTFOUND if the record is not stored.
 */
int store_remote_gone(store *s, store_entity e, const char *id);

/*
 * Evicts records of entity e not seen in generation (they left scope),
 * except those with unsettled ops; children of an evicted customer go
 * with it.  Call only after a complete walk of the scope.
 */
int store_evict_unseen(store *s, store_entity e, int64_t generation, int64_t *evicted_out);

/* ---- conflicts (conflicts.c) ---------------------------------------------- */

/*
 * Conflicts as a JSON array, newest first: id, op_id, entity, record_id,
 * rule, outcome, state ("open"|"resolved"), base, local, remote (objects),
 * created_at, resolved_at, resolution, lost_local, acknowledged_at.
 *
 * A conflict held under the manual policy is "open" until resolved.  One
 * settled automatically (lww, server_wins, client_wins, deleted_remotely)
 * is logged "resolved" with resolution "auto".  resolution is then
 * "keep_local" or "keep_remote" once the user has decided.
 */
int store_conflicts_list(store *s, int open_only, char **json_out);
int store_conflicts_open_count(store *s, int64_t *count_out);
/* One conflict as a JSON object (the list's item shape); STORE_NOTFOUND. */
int store_conflict_get(store *s, int64_t conflict_id, char **json_out);

/*
 * A conflict whose outcome discarded a local value — the remote won (lww,
 * server_wins, deleted_remotely) and was not overturned, or the user kept
 * the remote side — has "lost_local": true in the list and stays
 * unacknowledged ("acknowledged_at": null) until store_conflict_ack(), so
 * that a lost edit never passes unnoticed.  Acknowledging any existing
 * conflict succeeds (again: the first time is kept); STORE_NOTFOUND if
 * there is none with that id.
 */
int store_conflicts_unacked_count(store *s, int64_t *count_out);
int store_conflict_ack(store *s, int64_t conflict_id, int64_t now_ms);
/* Acknowledges every unacknowledged one; *acked_out: how many. */
int store_conflicts_ack_all(store *s, int64_t now_ms, int64_t *acked_out);

/*
 * Resolves a conflict: keep_local=1 keeps the local values (a held op
 * becomes pending with its base moved to the remote values, so the next
 * push overwrites them), keep_local=0 keeps the remote values (the
 * conflicting fields leave the held op — its other fields did not
 * conflict and are still pushed; an op left empty is dropped — and the
 * record's local view is rebuilt).
 * An auto-settled conflict may be flipped once: choosing the side that
 * lost queues a new update carrying its values, based on the record's
 * current remote version; choosing the side that won only records the
 * decision.  keep_local on "deleted_remotely" is STORE_STATE (it would
 * mean creating the record again; its values stay in the log).
 * STORE_STATE if the user already resolved it.
 */
int store_conflict_resolve(store *s, int64_t conflict_id, int keep_local, int64_t now_ms);

/* ---- the sync engine's key/value table (meta.c) ------------------------- */

/*
 * A small key/value table for the sync engine: cursors of an interrupted
 * pull, last sync and last success times, the server clock offset, the
 * last error.  *value_out is NULL (and STORE_OK) when the key is unset;
 * store_meta_set() with a NULL value unsets it.  Keys up to 256 bytes,
 * values up to 64 KiB.
 */
int store_meta_get(store *s, const char *key, char **value_out);
int store_meta_set(store *s, const char *key, const char *value);
int store_meta_get_int(store *s, const char *key, int64_t dflt, int64_t *out);
int store_meta_set_int(store *s, const char *key, int64_t value);

/* ---- the data model, shared with sync/ (model.c) -------------------------- */

/*
 * The values that the write-shape fields named in `names` (a JSON array
 * or object whose keys are the names) have in a read-shape record:
 * customer_id from customer.id, technician_id from technician.id, …
 * Returns a new JSON object the caller deletes; absent fields are null.
 */
cJSON *store_write_view(store_entity e, const cJSON *record, const cJSON *names);

/*
 * Applies write-shape fields to a read-shape record in place, mapping
 * ids to nested objects and filling names known from the replica.
 */
int store_apply_fields(store *s, store_entity e, cJSON *record, const cJSON *fields);

/* ---- revalidation: what the schedule knows of each record (revalidate.c) -- */

/*
 * For the sync engine's revalidation schedule (DESIGN §5): when each
 * record's local copy was last confirmed against the remote's detail
 * ("checked"), how often its updated_at has been seen to move, and the
 * last list summary seen for it (a change hint).  Kept in its own table,
 * keyed by entity and id; rows of records no longer stored are dropped by
 * store_reval_prune().
 */
typedef struct {
    store_entity entity;      /* ENT_WORK_ORDER or ENT_CUSTOMER */
    char *id;
    char *status;             /* work order: its status; else NULL */
    char *technician_id;      /* work order: its technician's id; else NULL */
    char *customer_id;        /* work order: its customer's id; else NULL */
    char sched_day[11];       /* work order: YYYY-MM-DD (UTC) scheduled; "" if none */
    int64_t updated_ms;       /* the remote version's updated_at */
    int64_t checked_ms;       /* last confirmed against the detail; -1 never */
    int64_t first_ms;         /* first confirmed; -1 never */
    int64_t changes;          /* updated_at moves seen between two checks */
} store_reval_row;

/*
 * Every work order and customer known remotely (a record created here and
 * not yet pushed has no remote version to check), with its schedule data.
 * *rows_out is an array of *n_out rows to free with store_reval_rows_free().
 */
int store_reval_rows(store *s, store_reval_row **rows_out, size_t *n_out);
void store_reval_rows_free(store_reval_row *rows, size_t n);

/*
 * The record's stored copy was just confirmed against (or replaced by) the
 * remote's detail at now_ms: checked_ms = now_ms, and a change is counted
 * when its updated_at differs from the one of the previous check.  Call in
 * the transaction that stored the answer.  STORE_NOTFOUND if not stored.
 */
int store_reval_checked(store *s, store_entity e, const char *id, int64_t now_ms);

/*
 * A list summary of the record was seen; hash names its content.  Sets
 * *changed to 1 when it differs from the last one kept (0 the first time:
 * nothing to compare with).  keep: remember it — the first time, or in
 * the transaction that stores the detail the change sent for, so that a
 * crash before that detail came leaves the hint standing.
 */
int store_reval_summary(store *s, store_entity e, const char *id, const char *hash,
                        int keep, int *changed);

/*
 * When the record was last confirmed (-1 if never).  A contact or asset
 * has no detail of its own: it was confirmed with its customer.
 */
int store_reval_checked_at(store *s, store_entity e, const char *id, int64_t *ms_out);

/* Drops the schedule rows of records no longer stored. */
int store_reval_prune(store *s);

#endif /* FIELDSYNC_STORE_H */
