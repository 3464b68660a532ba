/*
 * conflicts.c — the conflict log and its resolution.
 *
 * Every conflict found while settling an op is logged with its base,
 * local and remote values, so the losing side is never lost.  A conflict
 * held under the manual policy is "open" until the user resolves it.
 * One settled automatically (lww, server_wins, client_wins,
 * deleted_remotely) is logged "resolved" with resolution "auto"; the user
 * may still flip it once, which queues a new update carrying the losing
 * values, based on the record's current remote version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* JSON object text for a log column: the given text if it is an object,
 * else "{}". */
static char *object_text(const char *text)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    char *out = cJSON_IsObject(j) ? si_json_print(j) : strdup("{}");

    cJSON_Delete(j);
    return out;
}

int si_conflict_log(store *s, const store_op *op, const store_conflict_in *c, int64_t now_ms)
{
    sqlite3_stmt *st;
    char *base = object_text(c->base_json), *local = object_text(c->local_json);
    char *remote = object_text(c->remote_json);
    int held = c->outcome && strcmp(c->outcome, "held") == 0, rc;

    if (!base || !local || !remote) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    st = si_stmt(s, "INSERT INTO conflicts (op_id, entity, record_id, rule, outcome, state, "
                    "base, local, remote, remote_updated_ms, created_ms, resolved_ms, "
                    "resolution) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    if (!st) {
        rc = STORE_ERR;
        goto out;
    }
    sqlite3_bind_int(st, 2, (int)op->entity);
    if (c->remote_updated_ms)
        sqlite3_bind_int64(st, 10, c->remote_updated_ms);
    sqlite3_bind_int64(st, 11, now_ms);
    if (!held)
        sqlite3_bind_int64(st, 12, now_ms);
    if (si_bind_text(st, 1, op->op_id) || si_bind_text(st, 3, op->record_id) ||
        si_bind_text(st, 4, c->rule ? c->rule : "lww") ||
        si_bind_text(st, 5, c->outcome ? c->outcome : "remote_won") ||
        si_bind_text(st, 6, held ? "open" : "resolved") || si_bind_text(st, 7, base) ||
        si_bind_text(st, 8, local) || si_bind_text(st, 9, remote) ||
        si_bind_text(st, 13, held ? NULL : "auto")) {
        sqlite3_reset(st);
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    rc = si_step_done(s, st, "log conflict");
out:
    free(base);
    free(local);
    free(remote);
    return rc;
}

static int add_obj_text(cJSON *o, const char *key, const char *text)
{
    cJSON *v = text ? cJSON_Parse(text) : cJSON_CreateNull();

    if (!v)
        v = cJSON_CreateObject();
    if (!v || !cJSON_AddItemToObject(o, key, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

static int add_time_col(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
    char buf[40];

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return cJSON_AddNullToObject(o, key) ? 0 : -1;
    store_time_format(sqlite3_column_int64(st, col), buf, sizeof buf);
    return cJSON_AddStringToObject(o, key, buf) ? 0 : -1;
}

static int add_text_col(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);

    return (t ? cJSON_AddStringToObject(o, key, t) : cJSON_AddNullToObject(o, key)) ? 0 : -1;
}

/*
 * Whether a conflict's outcome discarded a local value: the remote won
 * (lww, server_wins, deleted_remotely) and the user did not bring the
 * local side back, or the user chose the remote side.  One SQL expression
 * so that the list, the count and the status agree.
 */
#define LOST_LOCAL_SQL                                                          \
    "(resolution = 'keep_remote' OR "                                          \
    "(outcome = 'remote_won' AND coalesce(resolution, 'auto') = 'auto'))"

/* Conflicts as a JSON array: all (id 0) or the one with that id. */
static int conflicts_json(store *s, int open_only, int64_t id, cJSON **arr_out)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT id, op_id, entity, record_id, rule, outcome, state, "
                                  "base, local, remote, created_ms, resolved_ms, resolution, "
                                  LOST_LOCAL_SQL ", acked_ms "
                                  "FROM conflicts WHERE (?1 = 0 OR state = 'open') "
                                  "AND (?2 = 0 OR id = ?2) ORDER BY id DESC");
    cJSON *arr = cJSON_CreateArray();
    int rc = STORE_OK, step;

    *arr_out = NULL;
    if (!st || !arr) {
        cJSON_Delete(arr);
        return st ? si_fail(s, STORE_NOMEM, "out of memory") : STORE_ERR;
    }
    sqlite3_bind_int(st, 1, open_only ? 1 : 0);
    sqlite3_bind_int64(st, 2, id);
    while (rc == STORE_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0)) ||
            add_text_col(o, "op_id", st, 1) ||
            !cJSON_AddStringToObject(o, "entity",
                                     store_entity_name((store_entity)sqlite3_column_int(st, 2))) ||
            add_text_col(o, "record_id", st, 3) || add_text_col(o, "rule", st, 4) ||
            add_text_col(o, "outcome", st, 5) || add_text_col(o, "state", st, 6) ||
            add_obj_text(o, "base", (const char *)sqlite3_column_text(st, 7)) ||
            add_obj_text(o, "local", (const char *)sqlite3_column_text(st, 8)) ||
            add_obj_text(o, "remote", (const char *)sqlite3_column_text(st, 9)) ||
            add_time_col(o, "created_at", st, 10) || add_time_col(o, "resolved_at", st, 11) ||
            add_text_col(o, "resolution", st, 12) ||
            !cJSON_AddBoolToObject(o, "lost_local", sqlite3_column_int(st, 13)) ||
            add_time_col(o, "acknowledged_at", st, 14) || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            rc = si_fail(s, STORE_NOMEM, "out of memory");
        }
    }
    if (rc == STORE_OK && step != SQLITE_DONE)
        rc = si_dberr(s, "conflicts");
    sqlite3_reset(st);
    if (rc == STORE_OK)
        *arr_out = arr;
    else
        cJSON_Delete(arr);
    return rc;
}

int store_conflicts_list(store *s, int open_only, char **json_out)
{
    cJSON *arr;
    int rc = conflicts_json(s, open_only, 0, &arr);

    *json_out = NULL;
    if (rc != STORE_OK)
        return rc;
    *json_out = si_json_print(arr);
    cJSON_Delete(arr);
    return *json_out ? STORE_OK : si_fail(s, STORE_NOMEM, "out of memory");
}

int store_conflict_get(store *s, int64_t conflict_id, char **json_out)
{
    cJSON *arr;
    int rc = conflicts_json(s, 0, conflict_id, &arr);

    *json_out = NULL;
    if (rc != STORE_OK)
        return rc;
    if (!arr->child)
        rc = si_fail(s, STORE_NOTFOUND, "no conflict %lld", (long long)conflict_id);
    else if (!(*json_out = si_json_print(arr->child)))
        rc = si_fail(s, STORE_NOMEM, "out of memory");
    cJSON_Delete(arr);
    return rc;
}

int store_conflicts_open_count(store *s, int64_t *count_out)
{
    *count_out = 0;
    return si_one_int(s, si_stmt(s, "SELECT count(*) FROM conflicts WHERE state = 'open'"),
                      count_out, "open conflicts");
}

int store_conflicts_unacked_count(store *s, int64_t *count_out)
{
    *count_out = 0;
    return si_one_int(s, si_stmt(s, "SELECT count(*) FROM conflicts WHERE acked_ms IS NULL AND "
                                    LOST_LOCAL_SQL),
                      count_out, "unacknowledged conflicts");
}

int store_conflicts_ack_all(store *s, int64_t now_ms, int64_t *acked_out)
{
    sqlite3_stmt *st = si_stmt(s, "UPDATE conflicts SET acked_ms = ?1 WHERE acked_ms IS NULL AND "
                                  LOST_LOCAL_SQL);
    int rc;

    *acked_out = 0;
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int64(st, 1, now_ms);
    rc = si_step_done(s, st, "acknowledge conflicts");
    if (rc == STORE_OK)
        *acked_out = sqlite3_changes(s->db);
    return rc;
}

int store_conflict_ack(store *s, int64_t conflict_id, int64_t now_ms)
{
    sqlite3_stmt *st;
    int64_t found = 0;
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "SELECT count(*) FROM conflicts WHERE id = ?1");
    if (st)
        sqlite3_bind_int64(st, 1, conflict_id);
    rc = si_one_int(s, st, &found, "conflict");
    if (rc == STORE_OK && !found)
        rc = si_fail(s, STORE_NOTFOUND, "no conflict %lld", (long long)conflict_id);
    if (rc == STORE_OK) {
        /* Acknowledging twice keeps the first time: when it was seen. */
        st = si_stmt(s, "UPDATE conflicts SET acked_ms = ?2 WHERE id = ?1 AND acked_ms IS NULL");
        if (!st) {
            rc = STORE_ERR;
        } else {
            sqlite3_bind_int64(st, 1, conflict_id);
            sqlite3_bind_int64(st, 2, now_ms);
            rc = si_step_done(s, st, "acknowledge conflict");
        }
    }
    return si_tx_end(s, rc);
}

typedef struct {
    char *op_id, *record_id, *rule, *outcome, *state, *local, *remote, *resolution;
    store_entity e;
    int64_t remote_updated_ms;
} conflict_row;

static void conflict_row_release(conflict_row *c)
{
    free(c->op_id);
    free(c->record_id);
    free(c->rule);
    free(c->outcome);
    free(c->state);
    free(c->local);
    free(c->remote);
    free(c->resolution);
    memset(c, 0, sizeof *c);
}

static int conflict_load(store *s, int64_t id, conflict_row *c)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT op_id, entity, record_id, rule, outcome, state, "
                                  "local, remote, remote_updated_ms, resolution "
                                  "FROM conflicts WHERE id = ?1");
    int rc, oom = 0;

    memset(c, 0, sizeof *c);
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        c->op_id = si_col_dup(st, 0, &oom);
        c->e = (store_entity)sqlite3_column_int(st, 1);
        c->record_id = si_col_dup(st, 2, &oom);
        c->rule = si_col_dup(st, 3, &oom);
        c->outcome = si_col_dup(st, 4, &oom);
        c->state = si_col_dup(st, 5, &oom);
        c->local = si_col_dup(st, 6, &oom);
        c->remote = si_col_dup(st, 7, &oom);
        c->remote_updated_ms = sqlite3_column_int64(st, 8);
        c->resolution = si_col_dup(st, 9, &oom);
        rc = oom || !c->record_id || !c->rule || !c->outcome || !c->state || !c->local ||
                     !c->remote
                 ? si_fail(s, STORE_NOMEM, "out of memory")
                 : STORE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = si_fail(s, STORE_NOTFOUND, "no conflict %lld", (long long)id);
    } else {
        rc = si_dberr(s, "load conflict");
    }
    sqlite3_reset(st);
    if (rc != STORE_OK)
        conflict_row_release(c);
    return rc;
}

/*
 * A held op, resolved.  Keeping local: the op goes back to pending with
 * the conflicting fields' base moved to the remote values, so the next
 * merge sees "only the local side changed" and pushes them.  Keeping
 * remote: the conflicting fields leave the op (the other fields of the
 * same edit did not conflict and are still pushed); an op left empty is
 * dropped; the view is rebuilt without them.
 */
static int resolve_held(store *s, const conflict_row *c, int keep_local)
{
    store_op op;
    cJSON *fields = NULL, *base = NULL, *local = NULL, *remote = NULL;
    char *ft = NULL, *bt = NULL, when[40];
    sqlite3_stmt *st;
    int rc = c->op_id ? si_op_load(s, c->op_id, &op) : STORE_NOTFOUND;

    if (rc == STORE_NOTFOUND)
        return STORE_OK;   /* the op is gone (e.g. the record was deleted remotely) */
    if (rc != STORE_OK)
        return rc;
    fields = cJSON_Parse(op.fields);
    base = cJSON_Parse(op.base_values);
    local = cJSON_Parse(c->local);
    remote = cJSON_Parse(c->remote);
    if (!fields || !base || !local || !remote) {
        rc = si_fail(s, STORE_NOMEM, "out of memory or bad stored JSON");
        goto out;
    }
    for (const cJSON *k = local->child; k && rc == STORE_OK; k = k->next) {
        if (keep_local) {
            const cJSON *rv = cJSON_GetObjectItemCaseSensitive(remote, k->string);

            rc = si_jset(base, k->string, rv ? cJSON_Duplicate(rv, 1) : cJSON_CreateNull());
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(fields, k->string);
            cJSON_DeleteItemFromObjectCaseSensitive(base, k->string);
        }
    }
    if (rc != STORE_OK) {
        rc = si_fail(s, rc, "out of memory");
        goto out;
    }
    if (!keep_local && !fields->child) {
        rc = si_op_delete(s, op.op_id);
    } else {
        ft = si_json_print(fields);
        bt = si_json_print(base);
        store_time_format(c->remote_updated_ms, when, sizeof when);
        st = ft && bt ? si_stmt(s, "UPDATE outbox SET state = " SI_SQL_OPST_PENDING ", next_attempt = 0, "
                                   "fields = ?2, base_values = ?3, "
                                   "base_updated_at = coalesce(?4, base_updated_at) "
                                   "WHERE op_id = ?1")
                      : NULL;
        if (!st) {
            rc = ft && bt ? STORE_ERR : si_fail(s, STORE_NOMEM, "out of memory");
            goto out;
        }
        si_bind_text(st, 1, op.op_id);
        si_bind_text(st, 2, ft);
        si_bind_text(st, 3, bt);
        si_bind_text(st, 4, keep_local && c->remote_updated_ms ? when : NULL);
        rc = si_step_done(s, st, "resolve");
    }
    if (rc == STORE_OK)
        rc = si_refresh(s, op.entity, op.record_id);
    if (rc == STORE_OK)
        rc = si_changed(s, op.entity, op.record_id, "changed");
out:
    cJSON_Delete(fields);
    cJSON_Delete(base);
    cJSON_Delete(local);
    cJSON_Delete(remote);
    free(ft);
    free(bt);
    store_op_release(&op);
    return rc;
}

/* An auto-settled conflict flipped: the side that lost is queued as a new
 * local update (coalescing like any edit; nothing if it changes nothing). */
static int resolve_settled(store *s, const conflict_row *c, int keep_local, int64_t now_ms)
{
    int local_won = strcmp(c->outcome, "local_won") == 0;
    cJSON *values;
    int rc;

    if (strcmp(c->rule, "deleted_remotely") == 0) {
        if (keep_local)
            return si_fail(s, STORE_STATE,
                           "%s %s was deleted remotely: its local values are in the log, "
                           "but keeping them means creating it again",
                           store_entity_name(c->e), c->record_id);
        return STORE_OK;
    }
    if (keep_local == local_won)
        return STORE_OK;   /* that side won already */
    values = cJSON_Parse(keep_local ? c->local : c->remote);
    if (!values)
        return si_fail(s, STORE_NOMEM, "out of memory or bad stored JSON");
    rc = si_local_update(s, c->e, c->record_id, values, now_ms, 0, NULL);
    cJSON_Delete(values);
    return rc;
}

static int resolve(store *s, int64_t conflict_id, int keep_local, int64_t now_ms)
{
    conflict_row c;
    sqlite3_stmt *st;
    int rc = conflict_load(s, conflict_id, &c);

    if (rc != STORE_OK)
        return rc;
    if (c.resolution && strcmp(c.resolution, "auto") != 0) {
        rc = si_fail(s, STORE_STATE, "conflict %lld is already resolved (%s)",
                     (long long)conflict_id, c.resolution);
        goto out;
    }
    rc = strcmp(c.state, "open") == 0 ? resolve_held(s, &c, keep_local)
                                      : resolve_settled(s, &c, keep_local, now_ms);
    if (rc != STORE_OK)
        goto out;
    st = si_stmt(s, "UPDATE conflicts SET state = 'resolved', resolved_ms = ?2, "
                    "resolution = ?3 WHERE id = ?1");
    if (!st) {
        rc = STORE_ERR;
        goto out;
    }
    sqlite3_bind_int64(st, 1, conflict_id);
    sqlite3_bind_int64(st, 2, now_ms);
    si_bind_text(st, 3, keep_local ? "keep_local" : "keep_remote");
    rc = si_step_done(s, st, "resolve conflict");
out:
    conflict_row_release(&c);
    return rc;
}

int store_conflict_resolve(store *s, int64_t conflict_id, int keep_local, int64_t now_ms)
{
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, resolve(s, conflict_id, keep_local, now_ms));
}
