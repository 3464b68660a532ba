/*
 * outbox.c — the ops as rows (load, list, state changes) and the outbox as
 * the sync engine and the user see it: claiming ready ops, the next due
 * time, counts and the listing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

void store_op_release(store_op *op)
{
    if (!op)
        return;
    free(op->record_id);
    free(op->parent_id);
    free(op->fields);
    free(op->base_values);
    free(op->base_updated_at);
    free(op->last_error);
    memset(op, 0, sizeof *op);
}

void store_ops_free(store_op *ops, int n)
{
    for (int i = 0; ops && i < n; i++)
        store_op_release(&ops[i]);
    free(ops);
}

/* Fills op from a row of SI_OP_COLS; STORE_NOMEM on allocation failure. */
static int op_from_row(sqlite3_stmt *st, store_op *op)
{
    int oom = 0;
    const char *id = (const char *)sqlite3_column_text(st, 1);

    memset(op, 0, sizeof *op);
    op->seq = sqlite3_column_int64(st, 0);
    snprintf(op->op_id, sizeof op->op_id, "%s", id ? id : "");
    op->entity = (store_entity)sqlite3_column_int(st, 2);
    op->record_id = si_col_dup(st, 3, &oom);
    op->parent_id = si_col_dup(st, 4, &oom);
    op->kind = (store_op_kind)sqlite3_column_int(st, 5);
    op->fields = si_col_dup(st, 6, &oom);
    op->base_values = si_col_dup(st, 7, &oom);
    op->base_updated_at = si_col_dup(st, 8, &oom);
    op->edited_at_ms = sqlite3_column_int64(st, 9);
    op->state = (store_op_state)sqlite3_column_int(st, 10);
    op->attempts = sqlite3_column_int(st, 11);
    op->next_attempt_ms = sqlite3_column_int64(st, 12);
    op->last_error = si_col_dup(st, 13, &oom);
    if (oom || !op->record_id || !op->fields || !op->base_values) {
        store_op_release(op);
        return STORE_NOMEM;
    }
    return STORE_OK;
}

int si_op_load(store *s, const char *op_id, store_op *out)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT " SI_OP_COLS " FROM outbox WHERE op_id = ?1");
    int rc;

    memset(out, 0, sizeof *out);
    if (!op_id || strlen(op_id) > 36)
        return si_fail(s, STORE_NOTFOUND, "no op %.40s", op_id ? op_id : "");
    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, op_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = op_from_row(st, out) == STORE_OK ? STORE_OK
                                              : si_fail(s, STORE_NOMEM, "out of memory");
    else if (rc == SQLITE_DONE)
        rc = si_fail(s, STORE_NOTFOUND, "no op %s", op_id);
    else
        rc = si_dberr(s, "load op");
    sqlite3_reset(st);
    return rc;
}

static int fill_op(sqlite3_stmt *st, void *item)
{
    return op_from_row(st, item);
}

static void release_op(void *item)
{
    store_op_release(item);
}

int si_ops_collect(store *s, sqlite3_stmt *st, store_op **ops, int *n, const char *what)
{
    si_rows rows;
    int rc = si_collect(s, st, sizeof **ops, fill_op, release_op, &rows, what);

    *ops = rows.items;
    *n = rows.n;
    return rc;
}

int si_ops_of(store *s, store_entity e, const char *id, store_op **ops, int *n)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT " SI_OP_COLS " FROM outbox "
                                  "WHERE entity = ?1 AND record_id = ?2 ORDER BY seq");

    *ops = NULL;
    *n = 0;
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    return si_ops_collect(s, st, ops, n, "ops of record");
}

int si_op_delete(store *s, const char *op_id)
{
    sqlite3_stmt *st = si_stmt(s, "DELETE FROM outbox WHERE op_id = ?1");

    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, op_id);
    return si_step_done(s, st, "delete op");
}

int si_op_set_state(store *s, const char *op_id, store_op_state state, int add_attempt)
{
    sqlite3_stmt *st = si_stmt(s, "UPDATE outbox SET state = ?2, attempts = attempts + ?3 "
                                  "WHERE op_id = ?1");

    if (!st)
        return STORE_ERR;
    si_bind_text(st, 1, op_id);
    sqlite3_bind_int(st, 2, (int)state);
    sqlite3_bind_int(st, 3, add_attempt ? 1 : 0);
    return si_step_done(s, st, "op state");
}


/*
 * Ready: pending and due; the first unsettled op of its record (ops of one
 * record go in order, and a rejected or held op blocks only its record);
 * and naming no record whose create has not been done yet — as parent, as
 * customer_id or as contact_id — since the remote does not know that id.
 * Done ops are deleted, so "unsettled" is simply "still in the table".
 */
#define READY_BUT_TIME                                                             \
    "o.state = " SI_SQL_OPST_PENDING " "                                           \
    "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.entity = o.entity "            \
    "  AND p.record_id = o.record_id AND p.seq < o.seq) "                          \
    "AND NOT EXISTS (SELECT 1 FROM outbox c WHERE c.kind = " SI_SQL_OP_CREATE      \
    "  AND c.seq <> o.seq AND ("                                                   \
    "  (c.entity = " SI_SQL_ENT_CUSTOMER " AND c.record_id IN "                    \
    "    (o.parent_id, json_extract(o.fields, '$.customer_id')))"                  \
    "  OR (c.entity = " SI_SQL_ENT_CONTACT                                         \
    "    AND c.record_id = json_extract(o.fields, '$.contact_id')))) "

static const char claim_sql[] =
    "SELECT " SI_OP_COLS_O " FROM outbox o "
    "WHERE " READY_BUT_TIME "AND o.next_attempt <= ?1 "
    "ORDER BY o.seq LIMIT ?2";

/*
 * The earliest time an op becomes ready.  Ops blocked behind a rejected or
 * held op, or behind an unsent create, are not counted: they wait for a
 * user or for another op, not for the clock, and counting them as due
 * would wake the sync engine over and over for nothing.
 */
int store_outbox_next_due(store *s, int64_t *ms_out)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT min(o.next_attempt) FROM outbox o WHERE "
                                  READY_BUT_TIME);
    int rc;

    *ms_out = INT64_MAX;
    if (!st)
        return STORE_ERR;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *ms_out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return si_dberr(s, "outbox next due");
    return STORE_OK;
}

static int claim(store *s, int64_t now_ms, int max, store_op **ops_out, int *n_out)
{
    sqlite3_stmt *st = si_stmt(s, claim_sql);
    store_op *ops = NULL;
    int n = 0, rc;

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, max);
    rc = si_ops_collect(s, st, &ops, &n, "claim");
    if (rc != STORE_OK)
        return rc;
    for (int i = 0; i < n; i++) {
        rc = si_op_set_state(s, ops[i].op_id, OPST_INFLIGHT, 0);
        if (rc != STORE_OK)
            goto fail;
        ops[i].state = OPST_INFLIGHT;
    }
    *ops_out = ops;
    *n_out = n;
    return STORE_OK;
fail:
    store_ops_free(ops, n);
    return rc;
}

int store_outbox_claim(store *s, int64_t now_ms, int max, store_op **ops_out, int *n_out)
{
    int rc;

    *ops_out = NULL;
    *n_out = 0;
    if (max <= 0)
        return STORE_OK;
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, claim(s, now_ms, max, ops_out, n_out));
}

int store_outbox_counts(store *s, int64_t *pending, int64_t *rejected, int64_t *held)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT state, count(*) FROM outbox GROUP BY state");
    int64_t p = 0, r = 0, h = 0;
    int rc;

    if (!st)
        return STORE_ERR;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        int64_t c = sqlite3_column_int64(st, 1);

        if (state == OPST_PENDING || state == OPST_INFLIGHT)
            p += c;
        else if (state == OPST_REJECTED)
            r += c;
        else if (state == OPST_HELD)
            h += c;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return si_dberr(s, "outbox counts");
    if (pending)
        *pending = p;
    if (rejected)
        *rejected = r;
    if (held)
        *held = h;
    return STORE_OK;
}

/* ---- listing ------------------------------------------------------------ */

/* Adds text parsed as JSON, or as a string when it is not JSON. */
static int add_json_text(cJSON *obj, const char *key, const char *text)
{
    cJSON *v = !text ? cJSON_CreateNull() : cJSON_Parse(text);

    if (!v && text)
        v = cJSON_CreateString(text);
    if (!v || !cJSON_AddItemToObject(obj, key, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

static int add_time(cJSON *obj, const char *key, int64_t ms, int have)
{
    char buf[40];

    if (!have)
        return cJSON_AddNullToObject(obj, key) ? 0 : -1;
    store_time_format(ms, buf, sizeof buf);
    return cJSON_AddStringToObject(obj, key, buf) ? 0 : -1;
}

static cJSON *op_json(const store_op *op)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddStringToObject(o, "op_id", op->op_id) ||
        !cJSON_AddNumberToObject(o, "seq", (double)op->seq) ||
        !cJSON_AddStringToObject(o, "entity", store_entity_name(op->entity)) ||
        !cJSON_AddStringToObject(o, "record_id", op->record_id) ||
        add_json_text(o, "parent_id", NULL) != 0 ||
        !cJSON_AddStringToObject(o, "kind", store_op_kind_name(op->kind)) ||
        !cJSON_AddStringToObject(o, "state", store_op_state_name(op->state)) ||
        !cJSON_AddNumberToObject(o, "attempts", op->attempts) ||
        add_time(o, "next_attempt_at", op->next_attempt_ms, op->next_attempt_ms > 0) != 0 ||
        add_json_text(o, "fields", op->fields) != 0 ||
        add_json_text(o, "base_values", op->base_values) != 0 ||
        !(op->base_updated_at ? cJSON_AddStringToObject(o, "base_updated_at", op->base_updated_at)
                              : cJSON_AddNullToObject(o, "base_updated_at")) ||
        add_time(o, "edited_at", op->edited_at_ms, 1) != 0 ||
        add_json_text(o, "last_error", op->last_error) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    if (op->parent_id &&
        !cJSON_ReplaceItemInObjectCaseSensitive(o, "parent_id",
                                                cJSON_CreateString(op->parent_id))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int store_outbox_list(store *s, char **json_out)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT " SI_OP_COLS " FROM outbox ORDER BY seq");
    cJSON *arr = cJSON_CreateArray();
    store_op *ops = NULL;
    int n = 0, rc;

    *json_out = NULL;
    if (!st || !arr) {
        cJSON_Delete(arr);
        return st ? si_fail(s, STORE_NOMEM, "out of memory") : STORE_ERR;
    }
    rc = si_ops_collect(s, st, &ops, &n, "outbox list");
    for (int i = 0; i < n && rc == STORE_OK; i++) {
        cJSON *o = op_json(&ops[i]);

        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            rc = si_fail(s, STORE_NOMEM, "out of memory");
        }
    }
    if (rc == STORE_OK) {
        *json_out = si_json_print(arr);
        if (!*json_out)
            rc = si_fail(s, STORE_NOMEM, "out of memory");
    }
    store_ops_free(ops, n);
    cJSON_Delete(arr);
    return rc;
}
