/*
 * db.c — opening the database (file mode, pragmas, migrations), the
 * transaction and savepoint discipline, errors, the statement cache and
 * the change hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

void (*si_test_crash_hook)(const char *point);

void si_crash_point(const char *point)
{
    if (si_test_crash_hook)
        si_test_crash_hook(point);
}

/*
 * The schema, as an append-only list: entry i takes a database from
 * user_version i to i+1.  Never edit a shipped entry; add one.
 *
 * records holds every entity's rows: the local view (body), the last
 * remote version (remote_body, NULL for a record created here), the list
 * projection of the local view (summary, NULL when it is the whole body),
 * and one indexed column per list filter.  updated_at/updated_ms are the
 * remote version's, the only ones that order versions.
 */
static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE records ("
    "  entity INTEGER NOT NULL,"
    "  id TEXT NOT NULL,"
    "  parent_id TEXT,"
    "  body TEXT NOT NULL,"
    "  remote_body TEXT,"
    "  summary TEXT,"
    "  status TEXT,"
    "  customer_id TEXT,"
    "  contact_id TEXT,"
    "  technician_id TEXT,"
    "  branch_id TEXT,"
    "  sched_day TEXT,"
    "  created_at TEXT,"
    "  created_ms INTEGER,"
    "  name TEXT,"
    "  number TEXT,"
    "  updated_at TEXT,"
    "  updated_ms INTEGER,"
    "  etag TEXT,"
    "  deleted_locally INTEGER NOT NULL DEFAULT 0,"
    "  seen_gen INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (entity, id));"
    "CREATE INDEX records_status ON records(entity, status, id);"
    "CREATE INDEX records_customer ON records(entity, customer_id, id);"
    "CREATE INDEX records_contact ON records(entity, contact_id) WHERE contact_id IS NOT NULL;"
    "CREATE INDEX records_tech ON records(entity, technician_id, sched_day, id);"
    "CREATE INDEX records_branch ON records(entity, branch_id, id);"
    "CREATE INDEX records_sched ON records(entity, sched_day, id);"
    "CREATE INDEX records_created ON records(entity, created_ms);"
    "CREATE INDEX records_parent ON records(entity, parent_id);"
    "CREATE INDEX records_seen ON records(entity, seen_gen);"
    "CREATE TABLE outbox ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  op_id TEXT NOT NULL UNIQUE,"
    "  entity INTEGER NOT NULL,"
    "  record_id TEXT NOT NULL,"
    "  parent_id TEXT,"
    "  kind INTEGER NOT NULL,"
    "  fields TEXT NOT NULL,"
    "  base_values TEXT NOT NULL,"
    "  base_updated_at TEXT,"
    "  edited_at INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT);"
    "CREATE INDEX outbox_record ON outbox(entity, record_id, seq);"
    "CREATE INDEX outbox_state ON outbox(state, next_attempt);"
    "CREATE TABLE conflicts ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  op_id TEXT,"
    "  entity INTEGER NOT NULL,"
    "  record_id TEXT NOT NULL,"
    "  rule TEXT NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),"
    "  base TEXT NOT NULL,"
    "  local TEXT NOT NULL,"
    "  remote TEXT NOT NULL,"
    "  remote_updated_ms INTEGER,"
    "  created_ms INTEGER NOT NULL,"
    "  resolved_ms INTEGER,"
    "  resolution TEXT);"
    "CREATE INDEX conflicts_state ON conflicts(state);"
    "CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE pulls (gen INTEGER PRIMARY KEY AUTOINCREMENT);",
    /*
     * 2: lighter rows and fewer index entries per record, for the pull's
     * sake (a record written by a pull updated ten B-trees and stored its
     * JSON three times).  remote_same = 1: the remote version is the body
     * itself (no pending edits), and remote_body is NULL.  Each filter
     * index holds only the records that have its column; no index on
     * seen_gen (eviction reads the rows once per complete walk, while
     * every pull updated it).  No partial index may compare entity with a
     * constant: statements that bind entity would then be prepared again
     * at every execution (SQLite re-plans when such a binding changes).
     */
    "ALTER TABLE records ADD COLUMN remote_same INTEGER NOT NULL DEFAULT 0;"
    "DROP INDEX records_seen;"
    "DROP INDEX records_status;"
    "CREATE INDEX records_status ON records(entity, status, id) WHERE status IS NOT NULL;"
    "DROP INDEX records_customer;"
    "CREATE INDEX records_customer ON records(entity, customer_id, id)"
    "  WHERE customer_id IS NOT NULL;"
    "DROP INDEX records_tech;"
    "CREATE INDEX records_tech ON records(entity, technician_id, sched_day, id)"
    "  WHERE technician_id IS NOT NULL;"
    "DROP INDEX records_branch;"
    "CREATE INDEX records_branch ON records(entity, branch_id, id) WHERE branch_id IS NOT NULL;"
    "DROP INDEX records_sched;"
    "CREATE INDEX records_sched ON records(entity, sched_day, id) WHERE sched_day IS NOT NULL;"
    "DROP INDEX records_parent;"
    "CREATE INDEX records_parent ON records(entity, parent_id) WHERE parent_id IS NOT NULL;",
    /*
     * 3: the revalidation schedule's knowledge of each record (see
     * store/revalidate.c): its own table, so the records' rows (written
     * by every pull) stay as they are.
     */
    "CREATE TABLE revalidation ("
    "  entity INTEGER NOT NULL,"
    "  id TEXT NOT NULL,"
    "  checked_ms INTEGER,"
    "  first_ms INTEGER,"
    "  seen_updated_ms INTEGER,"
    "  changes INTEGER NOT NULL DEFAULT 0,"
    "  summary TEXT,"
    "  PRIMARY KEY (entity, id)) WITHOUT ROWID;",
};

int store_schema_version(void)
{
    return (int)(sizeof migrations / sizeof migrations[0]);
}

/* ---- errors ----------------------------------------------------------- */

int si_fail(store *s, int rc, const char *fmt, ...)
{
    va_list ap;

    if (!s)
        return rc;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

static int map_sqlite(int code)
{
    switch (code & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_ERR;   /* a failure reported with no SQLite error */
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_NOMEM:
        return STORE_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return STORE_CORRUPT;
    default:
        return STORE_ERR;
    }
}

int si_dberr(store *s, const char *what)
{
    int code = sqlite3_errcode(s->db);

    return si_fail(s, map_sqlite(code), "%s: %s", what, sqlite3_errmsg(s->db));
}

int si_detail(cJSON *details, const char *field, const char *message)
{
    cJSON *d = cJSON_CreateObject();

    if (!d || !cJSON_AddStringToObject(d, "field", field) ||
        !cJSON_AddStringToObject(d, "message", message) ||
        !cJSON_AddItemToArray(details, d)) {
        cJSON_Delete(d);
        return -1;
    }
    return 0;
}

int si_invalid(store *s, cJSON *details, const char *msg)
{
    char *text = details ? si_json_print(details) : NULL;

    cJSON_Delete(details);
    if (!text)
        return si_fail(s, STORE_NOMEM, "out of memory");
    free(s->details);
    s->details = text;
    return si_fail(s, STORE_INVALID, "%s", msg);
}

const char *store_errmsg(const store *s)
{
    return s ? s->errmsg : "no store";
}

const char *store_errdetails(const store *s)
{
    return s && s->details ? s->details : "[]";
}

/* ---- statements ------------------------------------------------------- */

sqlite3_stmt *si_stmt(store *s, const char *sql)
{
    si_cached *slot = NULL;
    sqlite3_stmt *st = NULL;
    char *copy;

    for (size_t i = 0; i < SI_STMT_CACHE; i++) {
        if (s->cache[i].sql && strcmp(s->cache[i].sql, sql) == 0) {
            sqlite3_reset(s->cache[i].st);
            sqlite3_clear_bindings(s->cache[i].st);
            return s->cache[i].st;
        }
        if (!slot && !s->cache[i].sql)
            slot = &s->cache[i];
    }
    /* Full: evict round-robin a statement that is not running. */
    for (size_t tries = 0; !slot && tries < SI_STMT_CACHE; tries++) {
        si_cached *c = &s->cache[s->cache_next];

        s->cache_next = (s->cache_next + 1) % SI_STMT_CACHE;
        if (!sqlite3_stmt_busy(c->st)) {
            sqlite3_finalize(c->st);
            free(c->sql);
            c->sql = NULL;
            c->st = NULL;
            slot = c;
        }
    }
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        si_dberr(s, "prepare");
        return NULL;
    }
    if (!slot)
        goto uncached_fail;
    copy = strdup(sql);
    if (!copy)
        goto uncached_fail;
    slot->sql = copy;
    slot->st = st;
    return st;
uncached_fail:
    sqlite3_finalize(st);
    si_fail(s, STORE_NOMEM, "statement cache: out of memory");
    return NULL;
}

int si_one_int(store *s, sqlite3_stmt *st, int64_t *out, const char *what)
{
    int rc;

    if (!st)
        return STORE_ERR;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? STORE_OK : si_dberr(s, what);
}

int si_step_done(store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int out = STORE_OK;

    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = si_dberr(s, what);
    sqlite3_reset(st);
    return out;
}

int si_bind_text(sqlite3_stmt *st, int idx, const char *text)
{
    int rc = text ? sqlite3_bind_text(st, idx, text, -1, SQLITE_TRANSIENT)
                  : sqlite3_bind_null(st, idx);

    return rc == SQLITE_OK ? STORE_OK : STORE_NOMEM;
}

char *si_col_dup(sqlite3_stmt *st, int col, int *oom)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    char *p;

    if (!t)
        return NULL;
    p = strdup(t);
    if (!p)
        *oom = 1;
    return p;
}

static int exec(store *s, const char *sql, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return si_dberr(s, what);
    return STORE_OK;
}

/* One statement of the transaction discipline, prepared once: every
 * record a pull stores opens and releases a savepoint, and compiling
 * those each time was a tenth of the pull's CPU. */
static int tx_exec(store *s, const char *sql, const char *what)
{
    sqlite3_stmt *st = si_stmt(s, sql);

    return st ? si_step_done(s, st, what) : STORE_ERR;
}

/* ---- change hook ------------------------------------------------------ */

int si_changed(store *s, store_entity e, const char *id, const char *what)
{
    si_change *c;

    if (!s->hook)
        return STORE_OK;
    if (s->nchanges == s->capchanges) {
        size_t cap = s->capchanges ? s->capchanges * 2 : 16;
        si_change *nc = realloc(s->changes, cap * sizeof *nc);

        if (!nc)
            return si_fail(s, STORE_NOMEM, "out of memory");
        s->changes = nc;
        s->capchanges = cap;
    }
    c = &s->changes[s->nchanges];
    c->id = strdup(id);
    if (!c->id)
        return si_fail(s, STORE_NOMEM, "out of memory");
    c->e = e;
    c->what = what;
    s->nchanges++;
    return STORE_OK;
}

static void drop_changes(store *s, size_t from)
{
    for (size_t i = from; i < s->nchanges; i++)
        free(s->changes[i].id);
    s->nchanges = from;
}

/*
 * After a COMMIT: one call per record, with its last "what", in the order
 * of each record's last change.  The list is taken off the handle first so
 * that the hook may use the store.
 */
static void fire_changes(store *s)
{
    si_change *list = s->changes;
    size_t n = s->nchanges;

    s->changes = NULL;
    s->nchanges = s->capchanges = 0;
    for (size_t i = 0; i < n; i++) {
        int later = 0;

        for (size_t j = i + 1; j < n && !later && n <= 4096; j++)
            later = list[j].e == list[i].e && strcmp(list[j].id, list[i].id) == 0;
        if (!later && s->hook)
            s->hook(s->hook_ud, list[i].e, list[i].id, list[i].what);
    }
    for (size_t i = 0; i < n; i++)
        free(list[i].id);
    free(list);
}

void store_set_change_hook(store *s, store_change_fn fn, void *ud)
{
    s->hook = fn;
    s->hook_ud = ud;
}

/* ---- transactions ----------------------------------------------------- */

int si_tx_begin(store *s)
{
    int rc;

    if (s->depth >= (int)(sizeof s->marks / sizeof s->marks[0]))
        return si_fail(s, STORE_ERR, "transactions nested too deep");
    if (s->depth == 0 && !s->user_tx)
        rc = tx_exec(s, "BEGIN IMMEDIATE", "begin");
    else
        rc = tx_exec(s, "SAVEPOINT si", "savepoint");
    if (rc == STORE_OK)
        s->marks[s->depth++] = s->nchanges;
    return rc;
}

int si_tx_end(store *s, int rc)
{
    int level = --s->depth;

    if (level == 0 && !s->user_tx) {
        if (rc == STORE_OK) {
            rc = tx_exec(s, "COMMIT", "commit");
            if (rc != STORE_OK)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        } else {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
        if (rc == STORE_OK)
            fire_changes(s);
        else
            drop_changes(s, 0);
        return rc;
    }
    if (rc == STORE_OK) {
        rc = tx_exec(s, "RELEASE si", "release");
        if (rc == STORE_OK)
            return rc;
    }
    sqlite3_exec(s->db, "ROLLBACK TO si; RELEASE si", NULL, NULL, NULL);
    drop_changes(s, s->marks[level]);
    return rc;
}

int si_read_begin(store *s, int *began)
{
    *began = 0;
    if (s->depth > 0 || s->user_tx)
        return STORE_OK;
    if (tx_exec(s, "BEGIN", "begin read") != STORE_OK)
        return STORE_ERR;
    *began = 1;
    return STORE_OK;
}

void si_read_end(store *s, int began)
{
    if (began)
        tx_exec(s, "COMMIT", "end read");
}

int store_tx_begin(store *s)
{
    int rc;

    if (s->user_tx || s->depth)
        return si_fail(s, STORE_STATE, "a transaction is already open");
    rc = tx_exec(s, "BEGIN IMMEDIATE", "begin");
    if (rc == STORE_OK)
        s->user_tx = 1;
    return rc;
}

int store_tx_commit(store *s)
{
    int rc;

    if (!s->user_tx)
        return si_fail(s, STORE_STATE, "no transaction is open");
    rc = tx_exec(s, "COMMIT", "commit");
    if (rc != STORE_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        drop_changes(s, 0);
    }
    s->user_tx = 0;
    if (rc == STORE_OK)
        fire_changes(s);
    return rc;
}

int store_tx_rollback(store *s)
{
    if (!s->user_tx)
        return si_fail(s, STORE_STATE, "no transaction is open");
    s->user_tx = 0;
    drop_changes(s, 0);
    if (sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        return si_dberr(s, "rollback");
    return STORE_OK;
}

/* ---- opening ---------------------------------------------------------- */

static int pragma_int(store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return si_dberr(s, sql);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = si_dberr(s, sql);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? STORE_OK : rc;
}

/* A file that is not empty and does not start with SQLite's magic is
 * refused before SQLite is let near it. */
static int check_header(store *s, int fd, const char *path)
{
    static const char magic[16] = "SQLite format 3";
    char head[16];
    struct stat stt;
    ssize_t n;

    if (fstat(fd, &stt) != 0)
        return si_fail(s, STORE_ERR, "%s: %s", path, strerror(errno));
    if (!S_ISREG(stt.st_mode))
        return si_fail(s, STORE_CORRUPT, "%s: not a regular file", path);
    if (stt.st_size == 0)
        return STORE_OK;
    n = pread(fd, head, sizeof head, 0);
    if (n != (ssize_t)sizeof head || memcmp(head, magic, sizeof magic) != 0)
        return si_fail(s, STORE_CORRUPT, "%s: not a SQLite database (refusing to touch it)",
                       path);
    return STORE_OK;
}

/* Refuses a file that is not ours or is newer than this build. */
static int check_owner(store *s, const char *path, int64_t *version_out)
{
    int64_t version = 0, app = 0, tables = 0;
    int rc;

    if ((rc = pragma_int(s, "PRAGMA user_version", &version)) != STORE_OK ||
        (rc = pragma_int(s, "PRAGMA application_id", &app)) != STORE_OK ||
        (rc = pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables)) != STORE_OK) {
        /* A damaged file fails here: say which file. */
        char why[512];
        snprintf(why, sizeof why, "%.500s", store_errmsg(s));
        return si_fail(s, rc, "%s: %s", path, why);
    }
    if (app != 0 && app != SI_APP_ID)
        return si_fail(s, STORE_CORRUPT,
                       "%s: a SQLite database of another application (application_id %lld)",
                       path, (long long)app);
    if (app == 0 && (version != 0 || tables != 0))
        return si_fail(s, STORE_CORRUPT,
                       "%s: a SQLite database that is not fieldsync's (it has other tables)",
                       path);
    if (version > store_schema_version())
        return si_fail(s, STORE_NEWER_SCHEMA,
                       "%s: schema version %lld is newer than this build's (%d): "
                       "upgrade fieldsync; the file was left untouched",
                       path, (long long)version, store_schema_version());
    *version_out = version;
    return STORE_OK;
}

/*
 * Brings the schema to this build's version in one transaction.  The
 * version is read again inside the write transaction, so two processes
 * opening one new file at once migrate it once.
 */
static int migrate(store *s, const char *path)
{
    int64_t version = 0;
    int have = store_schema_version();
    int rc;
    char sql[64];

    rc = exec(s, "BEGIN IMMEDIATE", "begin migration");
    if (rc != STORE_OK)
        return rc;
    if ((rc = check_owner(s, path, &version)) != STORE_OK)
        goto out;
    for (int64_t v = version; v < have; v++) {
        rc = exec(s, migrations[v], "migration");
        if (rc != STORE_OK)
            goto out;
    }
    if (version < have) {
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", have);
        if ((rc = exec(s, sql, "set user_version")) != STORE_OK)
            goto out;
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d", SI_APP_ID);
        if ((rc = exec(s, sql, "set application_id")) != STORE_OK)
            goto out;
    }
    rc = exec(s, "COMMIT", "commit migration");
out:
    if (rc != STORE_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int set_pragmas(store *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    const char *mode;
    int rc = STORE_OK;

    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
        return si_dberr(s, "journal_mode");
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = si_dberr(s, "journal_mode");
        goto out;
    }
    mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        rc = si_fail(s, STORE_ERR, "%s: cannot use WAL (journal mode %s)", path,
                     mode ? mode : "?");
        goto out;
    }
    /* The default 2 MB page cache makes a replica of 100k records (a few
     * hundred MB) read its index pages back from the kernel on every
     * write; 64 MiB is a ceiling, allocated only as pages are used. */
    rc = exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536",
              "pragmas");
out:
    sqlite3_finalize(st);
    return rc;
}

/*
 * Ops left in flight by a process that died: their outcome is unknown, so
 * they go back to pending (a create is retried under the same idempotency
 * key) and count as attempted, so nothing is ever coalesced into them.
 * Only the first handle on the file may do this: another handle in a live
 * process may be pushing them right now.  flock(2) on our own descriptor
 * tells: an exclusive lock is granted only when no other handle (in any
 * process) holds the file.  SQLite's own locks are fcntl locks, which do
 * not interact with flock on Linux.
 */
static int recover_inflight(store *s)
{
    char sql[128];

    snprintf(sql, sizeof sql,
             "UPDATE outbox SET state = %d, attempts = attempts + 1 WHERE state = %d",
             OPST_PENDING, OPST_INFLIGHT);
    return exec(s, sql, "recover in-flight ops");
}

int store_open(const char *path, store **out, char *err, size_t errlen)
{
    store *s = NULL;
    int64_t version = 0;
    int rc, first;

    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!path || !out) {
        if (err)
            snprintf(err, errlen, "store_open: no path");
        return STORE_INVALID;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        if (err)
            snprintf(err, errlen, "out of memory");
        return STORE_NOMEM;
    }
    /* Created here, 0600, so SQLite never creates it under a loose umask;
     * SQLite gives the -wal and -shm files the database file's mode. */
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        rc = si_fail(s, STORE_ERR, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = check_header(s, s->lock_fd, path);
    if (rc != STORE_OK)
        goto out;
    first = flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0;
    if (!first && flock(s->lock_fd, LOCK_SH) != 0) {
        rc = si_fail(s, STORE_ERR, "%s: lock: %s", path, strerror(errno));
        goto out;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = s->db ? si_dberr(s, path) : si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    /* Looked at before any pragma writes to it: a newer or foreign file is
     * left exactly as it was. */
    if (sqlite3_busy_timeout(s->db, 5000) != SQLITE_OK) {
        rc = si_dberr(s, "busy_timeout");
        goto out;
    }
    if ((rc = check_owner(s, path, &version)) != STORE_OK ||
        (rc = set_pragmas(s, path)) != STORE_OK || (rc = migrate(s, path)) != STORE_OK)
        goto out;
    if (first) {
        rc = recover_inflight(s);
        if (rc != STORE_OK)
            goto out;
        /* Not atomic, which is fine: we have finished recovering, and a
         * handle slipping in between recovers nothing we claimed. */
        flock(s->lock_fd, LOCK_SH);
    }
out:
    if (rc != STORE_OK) {
        if (err)
            snprintf(err, errlen, "%s", s->errmsg);
        store_close(s);
        return rc;
    }
    *out = s;
    return STORE_OK;
}

void store_defer_checkpoints(store *s)
{
    if (s && s->db)
        sqlite3_wal_autocheckpoint(s->db, 0);
}

void store_release_memory(store *s)
{
    if (s && s->db)
        sqlite3_db_release_memory(s->db);
}

int store_data_version(store *s, int64_t *version_out)
{
    int64_t dv = 0;
    int rc = si_one_int(s, si_stmt(s, "PRAGMA data_version"), &dv, "data version");

    /* data_version moves with other connections' commits; this handle's
     * own writes (committed or not) show in its change count.  Both only
     * grow, so the sum moves when either does. */
    if (rc == STORE_OK)
        *version_out = dv * 1000003 + sqlite3_total_changes64(s->db);
    return rc;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->db) {
        if (s->user_tx || s->depth)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        for (size_t i = 0; i < SI_STMT_CACHE; i++) {
            sqlite3_finalize(s->cache[i].st);
            free(s->cache[i].sql);
        }
        sqlite3_close_v2(s->db);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    drop_changes(s, 0);
    free(s->changes);
    free(s->details);
    free(s);
}
