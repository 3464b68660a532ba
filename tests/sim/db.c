/* The SQLite store: schema migrations, a cache of prepared statements and
 * small helpers.  The process has one connection, guarded by the caller's
 * lock (struct sim.db_lock), so the statement cache needs no lock of its
 * own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Append-only: each entry upgrades user_version i to i + 1.  Records are
 * never removed: DELETE sets deleted = 1 (the trash), which also keeps ids
 * and numbers from being handed out twice. */
static const char *const migrations[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE branches(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL);"
    "CREATE TABLE technicians(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL);"
    "CREATE TABLE customers(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL, customer_number TEXT NOT NULL, status TEXT NOT NULL,"
    "  customer_type TEXT, email TEXT, phone TEXT, fax TEXT, website TEXT,"
    "  address TEXT, billing_address TEXT, branch_id TEXT, tax_id TEXT,"
    "  payment_terms TEXT, notes TEXT, custom_fields TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX customers_name ON customers(lower(trim(name, char(32,9,10,13))))"
    "  WHERE deleted = 0;"
    "CREATE TABLE contacts(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  customer_id TEXT NOT NULL, name TEXT NOT NULL, title TEXT, email TEXT,"
    "  phone TEXT, is_primary INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX contacts_customer ON contacts(customer_id);"
    "CREATE TABLE assets(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  customer_id TEXT NOT NULL, name TEXT NOT NULL, asset_type TEXT,"
    "  manufacturer TEXT, model TEXT, serial_number TEXT, install_date TEXT,"
    "  location TEXT, status TEXT, created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX assets_customer ON assets(customer_id);"
    "CREATE TABLE work_orders(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  work_order_number TEXT NOT NULL, status TEXT NOT NULL,"
    "  priority TEXT NOT NULL, work_order_type TEXT, description TEXT,"
    "  notes TEXT, customer_id TEXT NOT NULL, contact_id TEXT,"
    "  scheduled_date TEXT, estimated_duration INTEGER, technician_id TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX work_orders_customer ON work_orders(customer_id);"
    "CREATE INDEX work_orders_technician ON work_orders(technician_id);"
    "CREATE TABLE tasks(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  work_order_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL);"
    "CREATE INDEX tasks_work_order ON tasks(work_order_id);"
    "CREATE TABLE idempotency_keys(key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
    "  status INTEGER NOT NULL, response TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);",
    /* 2: live records in list order, so a list's count and the rows its
     * OFFSET skips are read from a small index, not the table */
    "CREATE INDEX customers_live ON customers(deleted, seq);"
    "CREATE INDEX work_orders_live ON work_orders(deleted, seq);",
};

struct cached_stmt {
    uint64_t hash;
    char *sql;
    sqlite3_stmt *st;
};

static struct cached_stmt *cache;
static size_t cache_len, cache_cap;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h;
}

int db_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        sim_log("sqlite: %s", err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static int migrate(sqlite3 *db)
{
    size_t n = sizeof migrations / sizeof migrations[0];
    sqlite3_stmt *st;
    int version = 0;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > (int)n) {
        sim_log("database schema version %d is newer than this program (%zu)",
                version, n);
        return -1;
    }
    for (size_t v = (size_t)version; v < n; v++) {
        char pragma[64];

        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %zu", v + 1);
        if (db_begin(db) || db_exec(db, migrations[v]) || db_exec(db, pragma) ||
            db_commit(db)) {
            db_rollback(db);
            return -1;
        }
    }
    return 0;
}

sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

    if (sqlite3_open_v2(path ? path : ":memory:", &db, flags, NULL) != SQLITE_OK) {
        sim_log("cannot open database %s: %s", path ? path : ":memory:",
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    /* WAL + NORMAL: a test double needs durability across a clean stop, not
     * across power loss, and NORMAL keeps writes cheap */
    if ((path && (db_exec(db, "PRAGMA journal_mode = WAL") ||
                  db_exec(db, "PRAGMA synchronous = NORMAL"))) ||
        migrate(db)) {
        sim_log("cannot prepare database %s", path ? path : ":memory:");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

void db_close(sqlite3 *db)
{
    for (size_t i = 0; i < cache_len; i++) {
        sqlite3_finalize(cache[i].st);
        free(cache[i].sql);
    }
    free(cache);
    cache = NULL;
    cache_len = cache_cap = 0;
    sqlite3_close(db);
}

sqlite3_stmt *db_stmt(sqlite3 *db, const char *sql)
{
    uint64_t h = fnv1a(sql);
    sqlite3_stmt *st;

    for (size_t i = 0; i < cache_len; i++) {
        if (cache[i].hash == h && strcmp(cache[i].sql, sql) == 0) {
            sqlite3_reset(cache[i].st);
            sqlite3_clear_bindings(cache[i].st);
            return cache[i].st;
        }
    }
    if (cache_len == cache_cap) {
        size_t cap = cache_cap ? cache_cap * 2 : 64;
        struct cached_stmt *n = realloc(cache, cap * sizeof *n);

        if (!n) {
            sim_log("out of memory");
            return NULL;
        }
        cache = n;
        cache_cap = cap;
    }
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK) {
        sim_log("sqlite prepare: %s: %s", sqlite3_errmsg(db), sql);
        return NULL;
    }
    cache[cache_len].sql = strdup(sql);
    if (!cache[cache_len].sql) {
        sqlite3_finalize(st);
        sim_log("out of memory");
        return NULL;
    }
    cache[cache_len].hash = h;
    cache[cache_len].st = st;
    cache_len++;
    return st;
}

int db_begin(sqlite3 *db)
{
    return db_exec(db, "BEGIN IMMEDIATE");
}

int db_commit(sqlite3 *db)
{
    return db_exec(db, "COMMIT");
}

void db_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    int rc = s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT)
               : sqlite3_bind_null(st, idx);

    return rc == SQLITE_OK ? 0 : -1;
}

const char *db_col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

int db_exists(sqlite3 *db, const char *sql, const char *param)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    int rc;

    if (!st || db_bind_text(st, 1, param))
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return rc == SQLITE_ROW;
    }
    sim_log("sqlite: %s", sqlite3_errmsg(db));
    sqlite3_reset(st);
    return -1;
}

int db_int(sqlite3 *db, const char *sql, const char *param, int64_t *out)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    int rc;

    if (!st || (param && db_bind_text(st, 1, param)))
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
    }
    sim_log("sqlite: %s", rc == SQLITE_DONE ? "no row" : sqlite3_errmsg(db));
    sqlite3_reset(st);
    return -1;
}

int db_next_id(sqlite3 *db, const char *table, const char *prefix, int width,
               int64_t *seq, char *out, size_t outsz)
{
    char sql[128];

    /* table is one of the code's own names, never request input */
    snprintf(sql, sizeof sql, "SELECT COALESCE(MAX(seq), 0) + 1 FROM %s", table);
    if (db_int(db, sql, NULL, seq))
        return -1;
    snprintf(out, outsz, "%s-%0*lld", prefix, width, (long long)*seq);
    return 0;
}

int db_clear(sqlite3 *db)
{
    return db_exec(db, "DELETE FROM meta; DELETE FROM branches;"
                       "DELETE FROM technicians; DELETE FROM customers;"
                       "DELETE FROM contacts; DELETE FROM assets;"
                       "DELETE FROM work_orders; DELETE FROM tasks;"
                       "DELETE FROM idempotency_keys;");
}

int db_run(sqlite3 *db, const char *sql, const char *param)
{
    sqlite3_stmt *st = db_stmt(db, sql);

    if (!st || db_bind_text(st, 1, param))
        return -1;
    return db_step_done(db, st);
}

int db_step_done(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        sim_log("sqlite: %s", sqlite3_errmsg(db));
    return rc == SQLITE_DONE ? 0 : -1;
}
