/*
 * open.c — opening the database: file mode and ownership checks, pragmas,
 * the schema as an append-only list of migrations, recovery of ops left in
 * flight by a crash.
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
     * 3: the key/value table of the sync engine is "meta": "state" also
     * named a record's sync state, an op's state and a conflict's.
     */
    "ALTER TABLE sync_state RENAME TO meta;",
    /*
     * 4 (issue 13): a conflict that discarded a local value stays
     * unacknowledged (acked_ms NULL) until the user has seen it; the
     * fields the remote accepts but never shows (write_only, a JSON array
     * or NULL); the local API's Idempotency-Keys with the first answer,
     * kept a bounded time (created_ms) so a retrying script is safe.
     */
    "ALTER TABLE conflicts ADD COLUMN acked_ms INTEGER;"
    "ALTER TABLE records ADD COLUMN write_only TEXT;"
    "CREATE TABLE idempotency ("
    "  key TEXT PRIMARY KEY,"
    "  fingerprint TEXT NOT NULL,"
    "  entity INTEGER NOT NULL,"
    "  record_id TEXT NOT NULL,"
    "  answer TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX idempotency_created ON idempotency(created_ms);",
    /*
     * 5: the revalidation schedule's knowledge of each record (see
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

/* ---- opening ---------------------------------------------------------- */

static int exec(store *s, const char *sql, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return si_dberr(s, what);
    return STORE_OK;
}

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
