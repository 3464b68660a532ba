/*
 * db.c — the handle's plumbing: the transaction and savepoint discipline,
 * errors, the statement cache, the change hook, memory and checkpoints.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"


void (*si_test_crash_hook)(const char *point);

void si_crash_point(const char *point)
{
    if (si_test_crash_hook)
        si_test_crash_hook(point);
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

/* One statement of the transaction discipline, prepared once: every
 * record a pull stores opens and releases a savepoint, and compiling
 * those each time was a tenth of the pull's CPU. */
static int tx_exec(store *s, const char *sql, const char *what)
{
    sqlite3_stmt *st = si_stmt(s, sql);

    return st ? si_step_done(s, st, what) : STORE_ERR;
}

/*
 * The one loop that collects a scan's rows into a growing array.  A step
 * that returns anything but a row or SQLITE_DONE (busy, I/O error,
 * interrupt) fails the collection: read as the end of the rows it would
 * hand the caller a short list, and a caller that then changes what it
 * collected (an id remap, an eviction) would commit half a change.
 */
int si_collect(store *s, sqlite3_stmt *st, size_t size, si_row_fn fill,
               si_item_fn release, si_rows *rows, const char *what)
{
    int rc = STORE_OK, step;

    memset(rows, 0, sizeof *rows);
    if (!st)
        return STORE_ERR;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (rows->n == rows->cap) {
            int cap = rows->cap ? rows->cap * 2 : 8;
            void *grown = rows->cap <= INT_MAX / 2 ? realloc(rows->items, (size_t)cap * size)
                                                   : NULL;

            if (!grown) {
                rc = si_fail(s, STORE_NOMEM, "out of memory");
                break;
            }
            rows->items = grown;
            rows->cap = cap;
        }
        if (fill(st, (char *)rows->items + (size_t)rows->n * size) != STORE_OK) {
            rc = si_fail(s, STORE_NOMEM, "out of memory");
            break;
        }
        rows->n++;
    }
    if (rc == STORE_OK && step != SQLITE_DONE)
        rc = si_dberr(s, what);
    sqlite3_reset(st);
    if (rc != STORE_OK) {
        for (int i = 0; i < rows->n; i++)
            release((char *)rows->items + (size_t)i * size);
        free(rows->items);
        memset(rows, 0, sizeof *rows);
    }
    return rc;
}

/* A row (entity, id) as an si_ref. */
static int fill_ref(sqlite3_stmt *st, void *item)
{
    si_ref *r = item;
    const char *id = (const char *)sqlite3_column_text(st, 1);

    r->e = (store_entity)sqlite3_column_int(st, 0);
    r->id = strdup(id ? id : "");
    return r->id ? STORE_OK : STORE_NOMEM;
}

static void release_ref(void *item)
{
    free(((si_ref *)item)->id);
}

int si_refs_collect(store *s, sqlite3_stmt *st, si_ref **refs, int *n, const char *what)
{
    si_rows rows;
    int rc = si_collect(s, st, sizeof **refs, fill_ref, release_ref, &rows, what);

    *refs = rows.items;
    *n = rows.n;
    return rc;
}

void si_refs_free(si_ref *refs, int n)
{
    for (int i = 0; i < n; i++)
        free(refs[i].id);
    free(refs);
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
