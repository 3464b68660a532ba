/*
 * settle.c — settling pushed ops (done, held, retried, rejected, deleted
 * remotely), a done create's first remote version, and the user's retry
 * and discard.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* ---- settling ------------------------------------------------------------ */

/* Loads op_id and checks it is being pushed (in flight, or pending for a
 * caller that settles without claiming). */
static int load_unsettled(store *s, const char *op_id, store_op *op)
{
    int rc = si_op_load(s, op_id, op);

    if (rc != STORE_OK)
        return rc;
    if (op->state != OPST_INFLIGHT && op->state != OPST_PENDING) {
        rc = si_fail(s, STORE_STATE, "op %s is %s", op_id, store_op_state_name(op->state));
        store_op_release(op);
    }
    return rc;
}

/* Parses a remote record given to a settle call; NULL text gives NULL. */
static int parse_settled(store *s, const char *json, cJSON **out)
{
    char why[128] = "";

    *out = NULL;
    if (!json)
        return STORE_OK;
    *out = si_json_parse(json, why, sizeof why);
    if (!*out || !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return si_fail(s, STORE_INVALID, "remote record: %s",
                       *why ? why : "must be a JSON object");
    }
    return STORE_OK;
}

/* Removes a record and all its ops (they can no longer be pushed). */
static int drop_record(store *s, store_entity e, const char *id)
{
    sqlite3_stmt *st = si_stmt(s, "DELETE FROM outbox WHERE entity = ?1 AND record_id = ?2");
    int rc;

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, id);
    rc = si_step_done(s, st, "drop ops");
    if (rc == STORE_OK)
        rc = si_rec_delete(s, e, id);
    if (rc == STORE_OK)
        rc = si_changed(s, e, id, "deleted");
    if (rc == STORE_OK && e == ENT_CUSTOMER)
        rc = si_drop_children(s, id);
    return rc;
}

/*
 * The record's first remote version after its create: what the create
 * made (the op's fields over the remote's defaults), overlaid with what
 * the server answered.  A full detail answer replaces it all; the short
 * answer of the spec ({id, number, status, created_at}) fills in the
 * server-made fields, and the next pull brings the rest.
 */
static int create_done(store *s, const char *op_id, const char *server_id,
                       const char *remote_json, const char *etag)
{
    store_op op;
    si_rec r, pulled;
    cJSON *answer = NULL, *fields = NULL, *remote = NULL;
    int rc, have_pulled = 0;

    memset(&r, 0, sizeof r);
    memset(&pulled, 0, sizeof pulled);
    if (!server_id || !*server_id || strlen(server_id) > SI_MAX_ID)
        return si_fail(s, STORE_INVALID, "bad server id");
    rc = load_unsettled(s, op_id, &op);
    if (rc != STORE_OK)
        return rc;
    if (op.kind != OP_CREATE) {
        rc = si_fail(s, STORE_STATE, "op %s is not a create", op_id);
        goto out;
    }
    if ((rc = parse_settled(s, remote_json, &answer)) != STORE_OK ||
        (rc = si_op_delete(s, op.op_id)) != STORE_OK)
        goto out;
    if (strcmp(op.record_id, server_id) != 0) {
        /* A pull may have brought the server's record in already (the
         * create's answer was lost, then a retry found it): ours wins the
         * id, theirs may still be the newer remote version. */
        rc = si_rec_load(s, op.entity, server_id, &pulled);
        if (rc == STORE_OK) {
            have_pulled = pulled.remote_body != NULL;
            rc = si_rec_delete(s, op.entity, server_id);
        } else if (rc == STORE_NOTFOUND) {
            rc = STORE_OK;
        }
        if (rc == STORE_OK)
            rc = si_remap(s, op.entity, op.record_id, server_id);
        if (rc != STORE_OK)
            goto out;
    }
    rc = si_rec_load(s, op.entity, server_id, &r);
    if (rc != STORE_OK)
        goto out;
    fields = cJSON_Parse(op.fields);
    if (fields)
        si_rewrite_ids(fields, op.record_id, server_id);
    remote = fields ? si_synthesize(s, op.entity, server_id,
                                    r.parent_id ? r.parent_id : op.parent_id, fields,
                                    si_jstr(r.body, "created_at"))
                    : NULL;
    if (!remote) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    for (cJSON *c = answer ? answer->child : NULL; c && rc == STORE_OK; c = c->next)
        rc = si_jset(remote, c->string, cJSON_Duplicate(c, 1));
    if (rc == STORE_OK) {
        cJSON *idv = cJSON_CreateString(server_id);

        rc = si_jset(remote, "id", idv);
    }
    if (rc != STORE_OK) {
        rc = si_fail(s, rc, "out of memory");
        goto out;
    }
    free(r.remote_body);
    free(r.updated_at);
    r.remote_body = si_json_print(remote);
    r.updated_at = si_strdup(si_jstr(answer, "updated_at"));
    if (have_pulled) {
        int64_t pulled_ms = 0, ours_ms = 0;
        int pulled_newer =
            !r.updated_at ||
            (pulled.updated_at && store_time_parse(pulled.updated_at, &pulled_ms) == STORE_OK &&
             store_time_parse(r.updated_at, &ours_ms) == STORE_OK && pulled_ms > ours_ms);

        if (pulled_newer) {
            free(r.remote_body);
            free(r.updated_at);
            r.remote_body = pulled.remote_body;
            r.updated_at = pulled.updated_at;
            pulled.remote_body = pulled.updated_at = NULL;
        }
    }
    if (etag) {
        free(r.etag);
        r.etag = strdup(etag);
    }
    r.seen_gen = pulled.seen_gen > r.seen_gen ? pulled.seen_gen : r.seen_gen;
    if (!r.remote_body || (etag && !r.etag)) {
        rc = si_fail(s, STORE_NOMEM, "out of memory");
        goto out;
    }
    rc = si_recompute(s, &r);
    if (rc == STORE_OK)
        rc = si_rec_save(s, &r);
    if (rc == STORE_OK)
        rc = si_changed(s, r.e, r.id, "changed");
out:
    cJSON_Delete(answer);
    cJSON_Delete(fields);
    cJSON_Delete(remote);
    si_rec_release(&r);
    si_rec_release(&pulled);
    store_op_release(&op);
    return rc;
}

int store_op_create_done(store *s, const char *op_id, const char *server_id,
                         const char *remote_json, const char *etag)
{
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, create_done(s, op_id, server_id, remote_json, etag));
}

static int64_t conflict_now(const store_conflict_in *c)
{
    return c && c->now_ms ? c->now_ms : fs_wall_ms();
}

/*
 * An update or delete settled.  For an update the remote's answer becomes
 * the record's remote version (unless a newer one is stored already) and
 * the later ops are re-applied on top; without an answer, the op's own
 * fields are taken as now being the remote's.
 */
/* Lists in records.write_only the fields this op wrote that the remote's
 * answer does not show, so that _sync tells they cannot be merged. */
static int note_write_only(store *s, const store_op *op, const cJSON *answer)
{
    sqlite3_stmt *st = si_stmt(s, "SELECT write_only FROM records WHERE entity = ?1 AND id = ?2");
    char *old = NULL, *list = NULL;
    int rc, oom = 0;

    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)op->entity);
    si_bind_text(st, 2, op->record_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        old = si_col_dup(st, 0, &oom);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return si_dberr(s, "write_only");
    if (oom)
        return si_fail(s, STORE_NOMEM, "out of memory");
    rc = si_write_only_merge(s, op->entity, answer, op->fields, old, &list);
    if (rc == STORE_OK && list) {
        st = si_stmt(s, "UPDATE records SET write_only = ?3 WHERE entity = ?1 AND id = ?2");
        if (!st) {
            rc = STORE_ERR;
        } else {
            sqlite3_bind_int(st, 1, (int)op->entity);
            si_bind_text(st, 2, op->record_id);
            si_bind_text(st, 3, list);
            rc = si_step_done(s, st, "write_only");
        }
    }
    free(old);
    free(list);
    return rc;
}

static int op_done(store *s, const char *op_id, const char *remote_json, const char *etag,
                   const store_conflict_in *conflict)
{
    store_op op;
    si_rec r;
    cJSON *answer = NULL, *remote = NULL, *fields = NULL;
    int rc;

    memset(&r, 0, sizeof r);
    rc = load_unsettled(s, op_id, &op);
    if (rc != STORE_OK)
        return rc;
    if (op.kind == OP_CREATE) {
        rc = si_fail(s, STORE_STATE, "op %s is a create: use store_op_create_done", op_id);
        goto out;
    }
    if ((rc = parse_settled(s, remote_json, &answer)) != STORE_OK)
        goto out;
    if (conflict && (rc = si_conflict_log(s, &op, conflict, conflict_now(conflict))) != STORE_OK)
        goto out;
    if ((rc = si_op_delete(s, op.op_id)) != STORE_OK)
        goto out;
    if (op.kind == OP_DELETE) {
        rc = drop_record(s, op.entity, op.record_id);
        goto out;
    }
    rc = si_rec_load(s, op.entity, op.record_id, &r);
    if (rc != STORE_OK)
        goto out;
    if (answer) {
        int64_t new_ms = 0, old_ms = 0;
        const char *nu = si_jstr(answer, "updated_at");
        int older = nu && r.updated_at && store_time_parse(nu, &new_ms) == STORE_OK &&
                    store_time_parse(r.updated_at, &old_ms) == STORE_OK && new_ms < old_ms;

        if (!older) {
            free(r.remote_body);
            free(r.updated_at);
            r.remote_body = si_json_print(answer);
            r.updated_at = si_strdup(nu);
            if (etag) {
                free(r.etag);
                r.etag = strdup(etag);
            }
            if (!r.remote_body || (nu && !r.updated_at) || (etag && !r.etag)) {
                rc = si_fail(s, STORE_NOMEM, "out of memory");
                goto out;
            }
        }
    } else if (r.remote_body) {
        remote = cJSON_Parse(r.remote_body);
        fields = cJSON_Parse(op.fields);
        rc = remote && fields ? store_apply_fields(s, op.entity, remote, fields)
                              : si_fail(s, STORE_NOMEM, "out of memory");
        if (rc != STORE_OK)
            goto out;
        free(r.remote_body);
        r.remote_body = si_json_print(remote);
        if (!r.remote_body) {
            rc = si_fail(s, STORE_NOMEM, "out of memory");
            goto out;
        }
    }
    rc = si_recompute(s, &r);
    if (rc == STORE_OK)
        rc = si_rec_save(s, &r);
    if (rc == STORE_OK && answer)
        rc = note_write_only(s, &op, answer);
    if (rc == STORE_OK)
        rc = si_changed(s, r.e, r.id, r.deleted_locally ? "deleted" : "changed");
out:
    cJSON_Delete(answer);
    cJSON_Delete(remote);
    cJSON_Delete(fields);
    si_rec_release(&r);
    store_op_release(&op);
    return rc;
}

int store_op_done(store *s, const char *op_id, const char *remote_json, const char *etag,
                  const store_conflict_in *conflict)
{
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, op_done(s, op_id, remote_json, etag, conflict));
}

static int hold(store *s, const char *op_id, const store_conflict_in *conflict)
{
    store_op op;
    store_conflict_in c;
    int rc = load_unsettled(s, op_id, &op);

    if (rc != STORE_OK)
        return rc;
    if (!conflict) {
        rc = si_fail(s, STORE_INVALID, "a held op needs its conflict");
        goto out;
    }
    c = *conflict;
    c.outcome = "held";
    if ((rc = si_op_set_state(s, op.op_id, OPST_HELD, 1)) == STORE_OK &&
        (rc = si_conflict_log(s, &op, &c, conflict_now(conflict))) == STORE_OK)
        rc = si_changed(s, op.entity, op.record_id, "changed");
out:
    store_op_release(&op);
    return rc;
}

int store_op_hold(store *s, const char *op_id, const store_conflict_in *conflict)
{
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, hold(s, op_id, conflict));
}

static int retry_later(store *s, const char *op_id, int64_t next_ms, const char *error_text)
{
    store_op op;
    sqlite3_stmt *st;
    int rc = load_unsettled(s, op_id, &op);

    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "UPDATE outbox SET state = " SI_SQL_OPST_PENDING ", "
                    "attempts = attempts + 1, next_attempt = ?2, last_error = ?3 "
                    "WHERE op_id = ?1");
    if (!st) {
        rc = STORE_ERR;
    } else {
        si_bind_text(st, 1, op.op_id);
        sqlite3_bind_int64(st, 2, next_ms);
        si_bind_text(st, 3, error_text);
        rc = si_step_done(s, st, "retry later");
    }
    store_op_release(&op);
    return rc;
}

/* Puts an in-flight op back as it was claimed: the push did not happen
 * (cancelled, or paused by a 401), so it is no failed attempt. */
static int unclaim(store *s, const char *op_id)
{
    store_op op;
    int rc = load_unsettled(s, op_id, &op);

    if (rc != STORE_OK)
        return rc;
    if (op.state != OPST_INFLIGHT)
        rc = si_fail(s, STORE_STATE, "op %s is not in flight", op_id);
    else
        rc = si_op_set_state(s, op.op_id, OPST_PENDING, 0);
    store_op_release(&op);
    return rc;
}

int store_op_unclaim(store *s, const char *op_id)
{
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, unclaim(s, op_id));
}

int store_op_retry_later(store *s, const char *op_id, int64_t next_ms, const char *error_text)
{
    int rc;

    if (error_text && strlen(error_text) > SI_MAX_JSON)
        return si_fail(s, STORE_INVALID, "error text over 1 MiB");
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, retry_later(s, op_id, next_ms, error_text));
}

static int reject(store *s, const char *op_id, const char *error_json)
{
    store_op op;
    sqlite3_stmt *st;
    int rc = load_unsettled(s, op_id, &op);

    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "UPDATE outbox SET state = " SI_SQL_OPST_REJECTED ", "
                    "attempts = attempts + 1, last_error = ?2 WHERE op_id = ?1");
    if (!st) {
        rc = STORE_ERR;
    } else {
        si_bind_text(st, 1, op.op_id);
        si_bind_text(st, 2, error_json);
        rc = si_step_done(s, st, "reject");
    }
    if (rc == STORE_OK)
        rc = si_refresh(s, op.entity, op.record_id);
    if (rc == STORE_OK)   /* the state changed even when the view did not */
        rc = si_changed(s, op.entity, op.record_id, "changed");
    store_op_release(&op);
    return rc;
}

int store_op_reject(store *s, const char *op_id, const char *error_json)
{
    int rc;

    if (error_json && strlen(error_json) > SI_MAX_JSON)
        return si_fail(s, STORE_INVALID, "error over 1 MiB");
    rc = si_tx_begin(s);
    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, reject(s, op_id, error_json));
}

/*
 * Deleted remotely while we had edits: nothing of the record can be
 * pushed any more.  Every op of the record goes into the conflict log
 * (rule "deleted_remotely", the local values kept there), then the record
 * and its ops are dropped.  A delete that finds the record gone is simply
 * done.
 */
static int remote_gone(store *s, const char *op_id, int64_t now_ms)
{
    store_op op, *ops = NULL;
    int n = 0, rc = si_op_load(s, op_id, &op);

    if (rc != STORE_OK)
        return rc;
    if (op.kind != OP_DELETE) {
        rc = si_ops_of(s, op.entity, op.record_id, &ops, &n);
        for (int i = 0; i < n && rc == STORE_OK; i++) {
            store_conflict_in c = {
                .rule = "deleted_remotely",
                .outcome = "remote_won",
                .base_json = ops[i].base_values,
                .local_json = ops[i].fields,
                .remote_json = "{}",
                .now_ms = now_ms,
            };

            rc = si_conflict_log(s, &ops[i], &c, now_ms);
        }
    }
    if (rc == STORE_OK)
        rc = drop_record(s, op.entity, op.record_id);
    store_ops_free(ops, n);
    store_op_release(&op);
    return rc;
}

int store_op_remote_gone(store *s, const char *op_id, int64_t now_ms)
{
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, remote_gone(s, op_id, now_ms));
}

static int load_rejected(store *s, const char *op_id, store_op *op)
{
    int rc = si_op_load(s, op_id, op);

    if (rc == STORE_OK && op->state != OPST_REJECTED) {
        rc = si_fail(s, STORE_STATE, "op %s is %s, not rejected", op_id,
                     store_op_state_name(op->state));
        store_op_release(op);
    }
    return rc;
}

static int user_retry(store *s, const char *op_id)
{
    store_op op;
    sqlite3_stmt *st;
    int rc = load_rejected(s, op_id, &op);

    if (rc != STORE_OK)
        return rc;
    st = si_stmt(s, "UPDATE outbox SET state = " SI_SQL_OPST_PENDING ", "
                    "next_attempt = 0, last_error = NULL WHERE op_id = ?1");
    if (!st) {
        rc = STORE_ERR;
    } else {
        si_bind_text(st, 1, op.op_id);
        rc = si_step_done(s, st, "retry");
    }
    if (rc == STORE_OK)
        rc = si_refresh(s, op.entity, op.record_id);
    if (rc == STORE_OK)
        rc = si_changed(s, op.entity, op.record_id, "changed");
    store_op_release(&op);
    return rc;
}

int store_op_user_retry(store *s, const char *op_id)
{
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, user_retry(s, op_id));
}

/* A discarded create takes its record (and the record's other ops) with
 * it: the remote never had it.  Any other discarded op just leaves the
 * view, which is rebuilt without it. */
/*
 * A later update of the record was made on a view holding the discarded
 * op's values, so those fields took them as their base (see write.c).
 * With the op gone, the remote never held them: such a base goes back to
 * the discarded op's own base, or the later op would look like it raced a
 * remote change and be logged as a conflict with ourselves.
 */
static int unbase_later_ops(store *s, const store_op *gone)
{
    store_op *ops = NULL;
    cJSON *gf = NULL, *gb = NULL;
    int n = 0, rc;

    rc = si_ops_of(s, gone->entity, gone->record_id, &ops, &n);
    if (rc != STORE_OK)
        return rc;
    gf = cJSON_Parse(gone->fields);
    gb = cJSON_Parse(gone->base_values);
    if (!gf || !gb) {
        rc = si_fail(s, STORE_CORRUPT, "op %s: bad JSON", gone->op_id);
        goto out;
    }
    for (int i = 0; i < n && rc == STORE_OK; i++) {
        cJSON *base;
        int moved = 0;
        if (ops[i].seq <= gone->seq || ops[i].kind != OP_UPDATE)
            continue;
        if (!(base = cJSON_Parse(ops[i].base_values))) {
            rc = si_fail(s, STORE_CORRUPT, "op %s: bad JSON", ops[i].op_id);
            break;
        }
        for (const cJSON *f = gf->child; f && rc == STORE_OK; f = f->next) {
            const cJSON *cur = cJSON_GetObjectItemCaseSensitive(base, f->string);
            const cJSON *orig = cJSON_GetObjectItemCaseSensitive(gb, f->string);
            if (cur && orig && cJSON_Compare(cur, f, 1)) {
                rc = si_jset(base, f->string, cJSON_Duplicate(orig, 1));
                moved = 1;
            }
        }
        if (rc == STORE_OK && moved) {
            char *text = si_json_print(base);
            sqlite3_stmt *st = text ? si_stmt(s, "UPDATE outbox SET base_values = ?2 "
                                                 "WHERE op_id = ?1") : NULL;
            if (!st) {
                rc = text ? STORE_ERR : si_fail(s, STORE_NOMEM, "out of memory");
            } else {
                si_bind_text(st, 1, ops[i].op_id);
                si_bind_text(st, 2, text);
                rc = si_step_done(s, st, "rebase later op");
            }
            free(text);
        }
        cJSON_Delete(base);
    }
out:
    cJSON_Delete(gf);
    cJSON_Delete(gb);
    store_ops_free(ops, n);
    return rc;
}

static int user_discard(store *s, const char *op_id)
{
    store_op op;
    int rc = load_rejected(s, op_id, &op);

    if (rc != STORE_OK)
        return rc;
    if (op.kind == OP_CREATE) {
        rc = drop_record(s, op.entity, op.record_id);
    } else {
        rc = op.kind == OP_UPDATE ? unbase_later_ops(s, &op) : STORE_OK;
        if (rc == STORE_OK)
            rc = si_op_delete(s, op.op_id);
        if (rc == STORE_OK)
            rc = si_refresh(s, op.entity, op.record_id);
        if (rc == STORE_OK)
            rc = si_changed(s, op.entity, op.record_id, "changed");
    }
    store_op_release(&op);
    return rc;
}

int store_op_user_discard(store *s, const char *op_id)
{
    int rc = si_tx_begin(s);

    if (rc != STORE_OK)
        return rc;
    return si_tx_end(s, user_discard(s, op_id));
}
