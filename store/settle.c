/*
 * settle.c — the outbox as the sync engine sees it: claiming ready ops,
 * settling them (done, held, retried, rejected, deleted remotely), the
 * user's retry and discard, and replacing a local id by the server's once
 * a create is done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define OP_COLS                                                                   \
    "o.seq, o.op_id, o.entity, o.record_id, o.parent_id, o.kind, o.fields, "       \
    "o.base_values, o.base_updated_at, o.edited_at, o.state, o.attempts, "         \
    "o.next_attempt, o.last_error"

/*
 * Ready: pending and due; the first unsettled op of its record (ops of one
 * record go in order, and a rejected or held op blocks only its record);
 * and naming no record whose create has not been done yet — as parent, as
 * customer_id or as contact_id — since the remote does not know that id.
 * Done ops are deleted, so "unsettled" is simply "still in the table".
 */
#define READY_BUT_TIME                                                              \
    "o.state = 0 "                                                                  \
    "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.entity = o.entity "             \
    "  AND p.record_id = o.record_id AND p.seq < o.seq) "                           \
    "AND NOT EXISTS (SELECT 1 FROM outbox c WHERE c.kind = 0 AND c.seq <> o.seq AND ("\
    "  (c.entity = 0 AND c.record_id IN (o.parent_id, json_extract(o.fields, '$.customer_id')))"\
    "  OR (c.entity = 1 AND c.record_id = json_extract(o.fields, '$.contact_id')))) "

static const char claim_sql[] =
    "SELECT " OP_COLS " FROM outbox o "
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
    /* Rows are loaded by id (a different statement) while this one runs. */
    {
        int cap = 0, step;

        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                int ncap = cap ? cap * 2 : 8;
                store_op *na = realloc(ops, (size_t)ncap * sizeof *na);

                if (!na) {
                    rc = si_fail(s, STORE_NOMEM, "out of memory");
                    goto fail;
                }
                ops = na;
                cap = ncap;
            }
            rc = si_op_load(s, (const char *)sqlite3_column_text(st, 1), &ops[n]);
            if (rc != STORE_OK)
                goto fail;
            n++;
        }
        if (step != SQLITE_DONE) {
            rc = si_dberr(s, "claim");
            goto fail;
        }
        sqlite3_reset(st);
    }
    for (int i = 0; i < n; i++) {
        rc = si_op_set_state(s, ops[i].op_id, OPST_INFLIGHT, 0);
        if (rc != STORE_OK)
            goto fail_reset;
        ops[i].state = OPST_INFLIGHT;
    }
    *ops_out = ops;
    *n_out = n;
    return STORE_OK;
fail:
    sqlite3_reset(st);
fail_reset:
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
    sqlite3_stmt *st = si_stmt(s, "SELECT op_id FROM outbox ORDER BY seq");
    cJSON *arr = cJSON_CreateArray();
    char **ids = NULL;
    int n = 0, cap = 0, rc = STORE_OK, step;

    *json_out = NULL;
    if (!st || !arr) {
        cJSON_Delete(arr);
        return st ? si_fail(s, STORE_NOMEM, "out of memory") : STORE_ERR;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            char **ni = realloc(ids, (size_t)ncap * sizeof *ni);

            if (!ni)
                break;
            ids = ni;
            cap = ncap;
        }
        ids[n] = strdup((const char *)sqlite3_column_text(st, 0));
        if (!ids[n])
            break;
        n++;
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        rc = step == SQLITE_ROW ? si_fail(s, STORE_NOMEM, "out of memory")
                                : si_dberr(s, "outbox list");
    for (int i = 0; i < n && rc == STORE_OK; i++) {
        store_op op;
        cJSON *o;

        rc = si_op_load(s, ids[i], &op);
        if (rc != STORE_OK)
            break;
        o = op_json(&op);
        store_op_release(&op);
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
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    cJSON_Delete(arr);
    return rc;
}

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

/* Replaces, in place, every string equal to from at the top level of obj
 * and every {"id": from} object member's id.  Returns 1 if any changed. */
static int rewrite_ids(cJSON *obj, const char *from, const char *to)
{
    int changed = 0;

    for (cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
        cJSON *target = c;

        if (cJSON_IsObject(c))
            target = cJSON_GetObjectItemCaseSensitive(c, "id");
        if (cJSON_IsString(target) && strcmp(target->valuestring, from) == 0 &&
            cJSON_SetValuestring(target, to))
            changed = 1;
    }
    return changed;
}

/*
 * Remap: the local id is replaced by the server's everywhere, in the
 * caller's transaction — the record, references in other records' views
 * and index columns (a work order's customer and contact, a contact's or
 * asset's customer), and the record id, parent id, fields and bases of
 * later ops (so the next push names the server id).
 */
static int remap(store *s, store_entity e, const char *from, const char *to)
{
    static const char *const moves[] = {
        "UPDATE records SET id = ?3 WHERE entity = ?1 AND id = ?2",
        "UPDATE outbox SET record_id = ?3 WHERE entity = ?1 AND record_id = ?2",
        "UPDATE outbox SET parent_id = ?3 WHERE parent_id = ?2 AND ?1 = 0",
        "UPDATE conflicts SET record_id = ?3 WHERE entity = ?1 AND record_id = ?2",
    };
    sqlite3_stmt *st;
    int rc = STORE_OK, step;
    struct ref { store_entity e; char *id; } *refs = NULL;
    int nrefs = 0, cap = 0;
    char **opids = NULL;
    int nops = 0, opcap = 0;

    for (size_t i = 0; i < sizeof moves / sizeof moves[0] && rc == STORE_OK; i++) {
        st = si_stmt(s, moves[i]);
        if (!st)
            return STORE_ERR;
        sqlite3_bind_int(st, 1, (int)e);
        si_bind_text(st, 2, from);
        si_bind_text(st, 3, to);
        rc = si_step_done(s, st, "remap");
    }
    if (rc != STORE_OK)
        return rc;
    rc = si_changed(s, e, from, "deleted");

    /* Records that refer to it: collected, then rewritten. */
    st = si_stmt(s, "SELECT entity, id FROM records WHERE "
                    "(?1 = 0 AND entity IN (1, 2) AND parent_id = ?2) OR "
                    "(?1 = 0 AND entity = 3 AND customer_id = ?2) OR "
                    "(?1 = 1 AND entity = 3 AND contact_id = ?2)");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int(st, 1, (int)e);
    si_bind_text(st, 2, from);
    while (rc == STORE_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (nrefs == cap) {
            int ncap = cap ? cap * 2 : 8;
            struct ref *nr = realloc(refs, (size_t)ncap * sizeof *nr);

            if (!nr) {
                rc = si_fail(s, STORE_NOMEM, "out of memory");
                break;
            }
            refs = nr;
            cap = ncap;
        }
        refs[nrefs].e = (store_entity)sqlite3_column_int(st, 0);
        refs[nrefs].id = strdup((const char *)sqlite3_column_text(st, 1));
        if (!refs[nrefs].id)
            rc = si_fail(s, STORE_NOMEM, "out of memory");
        else
            nrefs++;
    }
    sqlite3_reset(st);
    for (int i = 0; i < nrefs && rc == STORE_OK; i++) {
        si_rec r;

        rc = si_rec_load(s, refs[i].e, refs[i].id, &r);
        if (rc != STORE_OK)
            break;
        rewrite_ids(r.body, from, to);
        if (r.parent_id && strcmp(r.parent_id, from) == 0) {
            free(r.parent_id);
            r.parent_id = strdup(to);
            if (!r.parent_id)
                rc = si_fail(s, STORE_NOMEM, "out of memory");
        }
        if (rc == STORE_OK)
            rc = si_rec_save(s, &r);
        if (rc == STORE_OK)
            rc = si_changed(s, r.e, r.id, "changed");
        si_rec_release(&r);
    }

    /* Ops whose fields or bases hold the id as a value. */
    st = si_stmt(s, "SELECT op_id FROM outbox WHERE instr(fields, ?1) > 0 "
                    "OR instr(base_values, ?1) > 0");
    if (rc == STORE_OK && !st)
        rc = STORE_ERR;
    if (rc == STORE_OK) {
        si_bind_text(st, 1, from);
        while (rc == STORE_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
            if (nops == opcap) {
                int ncap = opcap ? opcap * 2 : 8;
                char **no = realloc(opids, (size_t)ncap * sizeof *no);

                if (!no) {
                    rc = si_fail(s, STORE_NOMEM, "out of memory");
                    break;
                }
                opids = no;
                opcap = ncap;
            }
            opids[nops] = strdup((const char *)sqlite3_column_text(st, 0));
            if (!opids[nops])
                rc = si_fail(s, STORE_NOMEM, "out of memory");
            else
                nops++;
        }
        sqlite3_reset(st);
    }
    for (int i = 0; i < nops && rc == STORE_OK; i++) {
        store_op op;
        cJSON *f = NULL, *b = NULL;
        char *ft = NULL, *bt = NULL;

        rc = si_op_load(s, opids[i], &op);
        if (rc != STORE_OK)
            break;
        f = cJSON_Parse(op.fields);
        b = cJSON_Parse(op.base_values);
        if (f && b) {
            rewrite_ids(f, from, to);
            rewrite_ids(b, from, to);
            ft = si_json_print(f);
            bt = si_json_print(b);
        }
        st = ft && bt ? si_stmt(s, "UPDATE outbox SET fields = ?2, base_values = ?3 "
                                   "WHERE op_id = ?1")
                      : NULL;
        if (!st) {
            rc = ft && bt ? STORE_ERR : si_fail(s, STORE_NOMEM, "out of memory");
        } else {
            si_bind_text(st, 1, op.op_id);
            si_bind_text(st, 2, ft);
            si_bind_text(st, 3, bt);
            rc = si_step_done(s, st, "remap op");
        }
        cJSON_Delete(f);
        cJSON_Delete(b);
        free(ft);
        free(bt);
        store_op_release(&op);
    }
    for (int i = 0; i < nrefs; i++)
        free(refs[i].id);
    free(refs);
    for (int i = 0; i < nops; i++)
        free(opids[i]);
    free(opids);
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
            rc = remap(s, op.entity, op.record_id, server_id);
        if (rc != STORE_OK)
            goto out;
    }
    rc = si_rec_load(s, op.entity, server_id, &r);
    if (rc != STORE_OK)
        goto out;
    fields = cJSON_Parse(op.fields);
    if (fields)
        rewrite_ids(fields, op.record_id, server_id);
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
    return c && c->now_ms ? c->now_ms : si_wall_ms();
}

/*
 * An update or delete settled.  For an update the remote's answer becomes
 * the record's remote version (unless a newer one is stored already) and
 * the later ops are re-applied on top; without an answer, the op's own
 * fields are taken as now being the remote's.
 */
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
    st = si_stmt(s, "UPDATE outbox SET state = 0, attempts = attempts + 1, next_attempt = ?2, "
                    "last_error = ?3 WHERE op_id = ?1");
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
    st = si_stmt(s, "UPDATE outbox SET state = 3, attempts = attempts + 1, last_error = ?2 "
                    "WHERE op_id = ?1");
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
    st = si_stmt(s, "UPDATE outbox SET state = 0, next_attempt = 0, last_error = NULL "
                    "WHERE op_id = ?1");
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
 * op's values, so those fields took them as their base (see outbox.c).
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
