/*
 * push.c — sends the outbox to the remote (DESIGN §5 "Push").
 *
 * Ops are claimed from the store in rounds; the store hands out only the
 * first unsettled op of each record and nothing that refers to a record
 * whose create is unsent, so the claimed ops of a round are independent and
 * run concurrently.  Each op is a small state machine (POST, maybe a search
 * or a fetch; or fetch, merge, maybe PUT; or DELETE) advanced one HTTP
 * exchange at a time for all ops of the round together.
 *
 * Crash windows.  Every op is "in flight" in the store while we work on it,
 * and store_open() puts in-flight ops back to pending, so a crash anywhere
 * only means the op is tried again.  What makes trying again harmless:
 *   - create: the POST carries Idempotency-Key = op id, the same on every
 *     try, so a POST that succeeded before the crash (or whose answer was
 *     lost on the wire) is answered with the first answer, not repeated.
 *     Without idempotency on the server, a customer create is still
 *     recognised: the 409 duplicate is matched by exact name.
 *   - update: a PUT that landed before the crash left the remote holding
 *     our values; the retry's merge finds local == remote for those fields,
 *     sends nothing and settles.
 *   - delete: a DELETE that landed answers 404 on the retry: done.
 * Settling (create_done, op_done, reject, hold, remote_gone) is one store
 * transaction each, so an op is never half settled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sync/remote.h"

#define MAX_ROUNDS 1000

typedef enum {
    ST_POST, ST_SEARCH, ST_POST_FETCH, ST_FETCH, ST_PUT, ST_DELETE, ST_SETTLED,
} op_step;

typedef struct {
    store_op op;
    op_step step;
    sync_remote_req req;
    char parent[160];        /* contact: the customer id (escaped ids built later) */
    char server_id[160];     /* create: the remote's id */
    int64_t page;            /* contact fetch: list page */
    char *conflict_err;      /* create 409: the server's error, for a reject */
    sync_merge_result mr;
    int have_mr;
    int64_t remote_ms;
    int ready;               /* its request waits for a connection */
} op_ctx;

static const char *coll_name(store_entity e)
{
    return e == ENT_CUSTOMER ? "customers" : e == ENT_CONTACT ? "contacts" : "work-orders";
}

static int path_record(const op_ctx *c, const char *id, char *out, size_t len)
{
    char esc[400];

    if (sync_remote_escape(id, esc, sizeof esc))
        return -1;
    return snprintf(out, len, "/%s/%s", coll_name(c->op.entity), esc) >= (int)len ? -1 : 0;
}

static int path_contacts(const op_ctx *c, int64_t page, char *out, size_t len)
{
    char esc[400];

    if (sync_remote_escape(c->parent, esc, sizeof esc))
        return -1;
    if (page > 0)
        return snprintf(out, len, "/customers/%s/contacts?page=%lld&per_page=100",
                        esc, (long long)page) >= (int)len ? -1 : 0;
    return snprintf(out, len, "/customers/%s/contacts", esc) >= (int)len ? -1 : 0;
}

/* The server's error object of an answer, or one made up from the status;
 * a string the caller frees. */
static char *error_json(const sync_remote_req *req)
{
    cJSON *root = NULL, *err, *made = NULL;
    char *text = NULL, msg[300];

    if (req->resp && (root = cJSON_ParseWithLength(req->resp, req->resp_len)) &&
        cJSON_IsObject(err = cJSON_GetObjectItemCaseSensitive(root, "error"))) {
        text = cJSON_PrintUnformatted(err);
        goto out;
    }
    made = cJSON_CreateObject();
    snprintf(msg, sizeof msg, "HTTP %ld", req->status);
    if (made && cJSON_AddStringToObject(made, "code", "http_error") &&
        cJSON_AddStringToObject(made, "message", req->status ? msg : req->err))
        text = cJSON_PrintUnformatted(made);
out:
    cJSON_Delete(root);
    cJSON_Delete(made);
    return text;
}

/* ---- settling ------------------------------------------------------------ */

/* Handles a store rc of a settle call: fatal stops the push; otherwise the
 * op is logged and, if it is still in flight, backed off. */
static int settled(sync_engine *se, op_ctx *c, int rc, const char *what)
{
    c->step = ST_SETTLED;
    if (rc == STORE_OK)
        return 0;
    if (sync_store_fatal(rc)) {
        sync_set_error(se, "store: %s", store_errmsg(se->st));
        return -1;
    }
    se->sum->errors++;
    SLOG(&se->log, SYNC_LOG_WARN, "push: op %s (%s %s): %s failed: %s",
         c->op.op_id, store_entity_name(c->op.entity), c->op.record_id, what,
         store_errmsg(se->st));
    rc = store_op_retry_later(se->st, c->op.op_id,
                              sync_now(se) + sync_backoff_ms(c->op.attempts + 1, -1,
                                                             se->backoff_scale, &se->rng),
                              store_errmsg(se->st));
    return sync_store_fatal(rc) ? -1 : 0;
}

static int retry_later(sync_engine *se, op_ctx *c, const char *why)
{
    int64_t delay = sync_backoff_ms(c->op.attempts + 1, c->req.retry_after_ms,
                                    se->backoff_scale, &se->rng);
    char text[320];

    snprintf(text, sizeof text, "%s", why);
    se->sum->retried++;
    SLOG(&se->log, SYNC_LOG_INFO, "push: op %s (%s %s): %s; retry in %lld ms",
         c->op.op_id, store_op_kind_name(c->op.kind), c->op.record_id, text,
         (long long)delay);
    return settled(se, c, store_op_retry_later(se->st, c->op.op_id,
                                               sync_now(se) + delay, text),
                   "retry_later");
}

/* Puts an op back untouched (cancel, 401): no attempt is counted, so a
 * paused push does not lengthen the op's later backoff. */
static int release(sync_engine *se, op_ctx *c, const char *why)
{
    SLOG(&se->log, SYNC_LOG_DEBUG, "push: op %s put back: %s", c->op.op_id, why);
    return settled(se, c, store_op_unclaim(se->st, c->op.op_id), "release");
}

static int reject(sync_engine *se, op_ctx *c, const char *error_text)
{
    char *own = error_text ? NULL : error_json(&c->req);
    const char *e = error_text ? error_text : own;
    int rc;

    se->sum->rejected++;
    SLOG(&se->log, SYNC_LOG_WARN, "push: op %s (%s %s %s) rejected: HTTP %ld",
         c->op.op_id, store_op_kind_name(c->op.kind), store_entity_name(c->op.entity),
         c->op.record_id, c->req.status);
    sync_set_error(se, "push: %s %s rejected (HTTP %ld)",
                   store_entity_name(c->op.entity), c->op.record_id, c->req.status);
    rc = store_op_reject(se->st, c->op.op_id,
                         e ? e : "{\"code\":\"rejected\",\"message\":\"rejected\"}");
    free(own);
    return settled(se, c, rc, "reject");
}

static void emit_conflict(sync_engine *se, op_ctx *c, const char *rule,
                          const char *outcome)
{
    cJSON *o = cJSON_CreateObject(), *names;
    const cJSON *f;
    char *text = NULL;

    if (!o)
        return;
    if (cJSON_AddStringToObject(o, "op_id", c->op.op_id) &&
        cJSON_AddStringToObject(o, "entity", store_entity_name(c->op.entity)) &&
        cJSON_AddStringToObject(o, "id", c->op.record_id) &&
        cJSON_AddStringToObject(o, "rule", rule) &&
        cJSON_AddStringToObject(o, "outcome", outcome) &&
        (names = cJSON_AddArrayToObject(o, "fields"))) {
        if (c->have_mr)
            cJSON_ArrayForEach(f, c->mr.c_local)
                cJSON_AddItemToArray(names, cJSON_CreateString(f->string));
        text = cJSON_PrintUnformatted(o);
    }
    if (text)
        sync_emit(se, "conflict", text);
    free(text);
    cJSON_Delete(o);
}

/* Settles an update or delete as done, with the merge's conflict if any. */
static int done(sync_engine *se, op_ctx *c, const cJSON *remote_rec, const char *etag)
{
    store_conflict_in ci;
    char *rj = remote_rec ? cJSON_PrintUnformatted(remote_rec) : NULL;
    char *b = NULL, *l = NULL, *r = NULL;
    int has_conflict = c->have_mr && c->mr.conflicts > 0, rc;

    if (remote_rec && !rj)
        return settled(se, c, STORE_NOMEM, "done");
    /* A customer's detail embeds its contacts, and the pull refreshes
     * contacts and assets only when that detail changed: with the ETag of
     * our own write stored, the next pull's 304 would hide a contact the
     * dispatcher changed before it.  The old ETag is kept instead. */
    if (c->op.entity == ENT_CUSTOMER)
        etag = NULL;
    memset(&ci, 0, sizeof ci);
    if (has_conflict) {
        b = cJSON_PrintUnformatted(c->mr.c_base);
        l = cJSON_PrintUnformatted(c->mr.c_local);
        r = cJSON_PrintUnformatted(c->mr.c_remote);
        ci.rule = sync_policy_name(se->policy);
        ci.outcome = c->mr.outcome;
        ci.base_json = b;
        ci.local_json = l;
        ci.remote_json = r;
        ci.remote_updated_ms = c->remote_ms;
    }
    if (has_conflict && (!b || !l || !r))
        rc = STORE_NOMEM;
    else
        rc = store_op_done(se->st, c->op.op_id, rj, etag && *etag ? etag : NULL,
                           has_conflict ? &ci : NULL);
    if (rc == STORE_OK) {
        se->sum->pushed++;
        if (has_conflict) {
            se->sum->conflicts++;
            emit_conflict(se, c, ci.rule, ci.outcome);
        }
    }
    free(rj);
    free(b);
    free(l);
    free(r);
    return settled(se, c, rc, "done");
}

static int hold(sync_engine *se, op_ctx *c)
{
    store_conflict_in ci;
    char *b = cJSON_PrintUnformatted(c->mr.c_base);
    char *l = cJSON_PrintUnformatted(c->mr.c_local);
    char *r = cJSON_PrintUnformatted(c->mr.c_remote);
    int rc = STORE_NOMEM;

    memset(&ci, 0, sizeof ci);
    ci.rule = "manual";
    ci.outcome = "held";
    ci.base_json = b;
    ci.local_json = l;
    ci.remote_json = r;
    ci.remote_updated_ms = c->remote_ms;
    if (b && l && r)
        rc = store_op_hold(se->st, c->op.op_id, &ci);
    if (rc == STORE_OK) {
        se->sum->conflicts++;
        emit_conflict(se, c, "manual", "held");
    }
    free(b);
    free(l);
    free(r);
    return settled(se, c, rc, "hold");
}

static int gone(sync_engine *se, op_ctx *c)
{
    int rc = store_op_remote_gone(se->st, c->op.op_id, sync_now(se));

    if (rc == STORE_OK) {
        se->sum->conflicts++;
        se->sum->deleted_remotely++;
        emit_conflict(se, c, "deleted_remotely", "remote_won");
    }
    return settled(se, c, rc, "remote_gone");
}

static int create_done(sync_engine *se, op_ctx *c, const cJSON *rec, const char *etag)
{
    char *rj = rec ? cJSON_PrintUnformatted(rec) : NULL;
    int rc;

    if (rec && !rj)
        return settled(se, c, STORE_NOMEM, "create_done");
    rc = store_op_create_done(se->st, c->op.op_id, c->server_id, rj,
                              etag && *etag ? etag : NULL);
    free(rj);
    if (rc == STORE_OK) {
        se->sum->pushed++;
        SLOG(&se->log, SYNC_LOG_INFO, "push: %s %s created as %s",
             store_entity_name(c->op.entity), c->op.record_id, c->server_id);
    }
    return settled(se, c, rc, "create_done");
}

/* ---- the steps ------------------------------------------------------------- */

static int set_req(sync_engine *se, op_ctx *c, const char *method, const char *path)
{
    if (sync_remote_req_set(se->rm, &c->req, method, path))
        return -1;
    c->req.max_body = SYNC_REMOTE_MAX_BODY_DETAIL;
    return 0;
}

/* Asks for the remote record (a contact through its customer's list). */
static int start_fetch(sync_engine *se, op_ctx *c, const char *id, op_step step)
{
    char path[600];

    c->step = step;
    if (c->op.entity == ENT_CONTACT) {
        c->page = c->page ? c->page : 1;
        if (path_contacts(c, c->page, path, sizeof path))
            return -1;
        if (set_req(se, c, "GET", path))
            return -1;
        c->req.max_body = SYNC_REMOTE_MAX_BODY_LIST;
        return 0;
    }
    if (path_record(c, id, path, sizeof path))
        return -1;
    return set_req(se, c, "GET", path);
}

static int start(sync_engine *se, op_ctx *c)
{
    char path[600];
    store_record rec;

    if (c->op.entity == ENT_CONTACT) {
        if (c->op.parent_id)
            snprintf(c->parent, sizeof c->parent, "%s", c->op.parent_id);
        else if (store_record_get(se->st, ENT_CONTACT, c->op.record_id, &rec) == STORE_OK) {
            if (rec.parent_id)
                snprintf(c->parent, sizeof c->parent, "%s", rec.parent_id);
            store_record_release(&rec);
        }
    }
    switch (c->op.kind) {
    case OP_CREATE:
        c->step = ST_POST;
        if (c->op.entity == ENT_CONTACT) {
            if (path_contacts(c, 0, path, sizeof path))
                return -1;
        } else {
            snprintf(path, sizeof path, "/%s", coll_name(c->op.entity));
        }
        if (set_req(se, c, "POST", path) || !(c->req.body = strdup(c->op.fields)))
            return -1;
        snprintf(c->req.idempotency_key, sizeof c->req.idempotency_key, "%s",
                 c->op.op_id);
        return 0;
    case OP_UPDATE:
        if (c->op.entity == ENT_CONTACT && !c->parent[0])
            return -1;
        return start_fetch(se, c, c->op.record_id, ST_FETCH);
    case OP_DELETE:
        c->step = ST_DELETE;
        if (path_record(c, c->op.record_id, path, sizeof path))
            return -1;
        return set_req(se, c, "DELETE", path);
    }
    return -1;
}

/*
 * Reads the record out of a fetch answer: the "data" object of a detail,
 * or the item with the wanted id from a contacts list page.  Returns the
 * parsed root (caller deletes) and sets *rec, or NULL: *more is set when a
 * contacts list has further pages to look at.
 */
static cJSON *fetched_record(sync_engine *se, op_ctx *c, const char *id,
                             const cJSON **rec, int *more)
{
    char err[256];
    cJSON *root;
    const cJSON *data, *item;
    sync_list_meta m;

    *rec = NULL;
    *more = 0;
    if (c->op.entity != ENT_CONTACT) {
        root = sync_body_parse(c->req.resp, c->req.resp_len, 0, err, sizeof err);
        data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
        if (data && sync_record_ok(c->op.entity, data, 1, err, sizeof err) == 0 &&
            strcmp(cJSON_GetObjectItemCaseSensitive(data, "id")->valuestring, id) == 0) {
            *rec = data;
            return root;
        }
        SLOG(&se->log, SYNC_LOG_WARN, "push: %s %s: bad answer: %s",
             store_entity_name(c->op.entity), id, root ? err : "unparsable");
        cJSON_Delete(root);
        return NULL;
    }
    root = sync_body_parse(c->req.resp, c->req.resp_len, 1, err, sizeof err);
    if (!root || sync_list_meta_get(root, &m, err, sizeof err)) {
        SLOG(&se->log, SYNC_LOG_WARN, "push: contacts of %s: bad answer: %s",
             c->parent, err);
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "data")) {
        const cJSON *iid = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (cJSON_IsString(iid) && strcmp(iid->valuestring, id) == 0) {
            if (sync_record_ok(ENT_CONTACT, item, 1, err, sizeof err) == 0) {
                *rec = item;
                return root;
            }
            break;
        }
    }
    *more = m.total_pages > c->page && c->page < SYNC_MAX_CHILD_PAGES;
    cJSON_Delete(root);
    return NULL;
}

/* The remote record of an update is here: merge, then PUT or settle. */
static int merge_and_put(sync_engine *se, op_ctx *c, const cJSON *rec)
{
    cJSON *fields = cJSON_Parse(c->op.fields);
    cJSON *base = cJSON_Parse(c->op.base_values ? c->op.base_values : "{}");
    cJSON *rview = NULL;
    const cJSON *ua = cJSON_GetObjectItemCaseSensitive(rec, "updated_at");
    char path[600];
    int rc = -1;

    if (!fields || !base || !(rview = store_write_view(c->op.entity, rec, fields)))
        goto out;
    c->remote_ms = 0;
    if (cJSON_IsString(ua))
        store_time_parse(ua->valuestring, &c->remote_ms);
    if (sync_merge(rview, base, fields, se->policy, c->op.edited_at_ms,
                   sync_clock_offset(&se->clk), c->remote_ms, &c->mr))
        goto out;
    c->have_mr = 1;
    if (c->mr.hold) {
        rc = hold(se, c);
        goto out;
    }
    if (cJSON_GetArraySize(c->mr.put) == 0) {
        /* Nothing to send: the remote already says what we would. */
        rc = done(se, c, rec, c->op.entity == ENT_CONTACT ? NULL : c->req.etag);
        goto out;
    }
    if (path_record(c, c->op.record_id, path, sizeof path) ||
        set_req(se, c, "PUT", path) || !(c->req.body = cJSON_PrintUnformatted(c->mr.put)))
        goto out;
    c->step = ST_PUT;
    rc = 0;
out:
    cJSON_Delete(fields);
    cJSON_Delete(base);
    cJSON_Delete(rview);
    return rc;
}

/* Customer create answered 409: look for the customer by exact name. */
static int start_search(sync_engine *se, op_ctx *c)
{
    cJSON *fields = cJSON_Parse(c->op.fields);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fields, "name");
    char esc[800], path[900];
    int rc = -1;

    if (cJSON_IsString(name) && sync_remote_escape(name->valuestring, esc, sizeof esc) == 0) {
        snprintf(path, sizeof path, "/customers?search=%s&per_page=100", esc);
        rc = set_req(se, c, "GET", path);
        c->req.max_body = SYNC_REMOTE_MAX_BODY_LIST;
        c->step = ST_SEARCH;
    }
    cJSON_Delete(fields);
    return rc;
}

static const char *search_match(const op_ctx *c, const cJSON *root)
{
    cJSON *fields = cJSON_Parse(c->op.fields);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fields, "name"), *item;
    const char *found = NULL;

    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "data")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "name");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (cJSON_IsString(name) && cJSON_IsString(n) && cJSON_IsString(id) &&
            sync_id_ok(id->valuestring) && strcasecmp(n->valuestring, name->valuestring) == 0) {
            found = id->valuestring;
            break;
        }
    }
    cJSON_Delete(fields);
    return found;
}

/* The op's next request could not be built (memory, ids): try later. */
static int unbuildable(sync_engine *se, op_ctx *c)
{
    return retry_later(se, c, "could not build the request");
}

/* A create's POST answered. */
static int step_post(sync_engine *se, op_ctx *c, sync_remote_class rc)
{
    char err[256];
    cJSON *root;
    const cJSON *rec, *id;
    int r;

    if (rc == SYNC_REMOTE_CONFLICT && c->op.entity == ENT_CUSTOMER) {
        free(c->conflict_err);
        c->conflict_err = error_json(&c->req);
        return start_search(se, c) ? reject(se, c, c->conflict_err) : 0;
    }
    if (rc != SYNC_REMOTE_OK)
        return reject(se, c, NULL);
    root = sync_body_parse(c->req.resp, c->req.resp_len, 0, err, sizeof err);
    rec = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    if (!cJSON_IsString(id) || !sync_id_ok(id->valuestring)) {
        /* Unknown outcome: the retry reuses the idempotency key. */
        r = retry_later(se, c, "create answered with a bad body");
    } else {
        snprintf(c->server_id, sizeof c->server_id, "%s", id->valuestring);
        if (sync_record_ok(c->op.entity, rec, 1, err, sizeof err) == 0) {
            r = create_done(se, c, rec, c->req.etag);
        } else {
            /* The 201 did not carry the full record: read it. */
            c->page = 0;
            r = start_fetch(se, c, c->server_id, ST_POST_FETCH) ? unbuildable(se, c) : 0;
        }
    }
    cJSON_Delete(root);
    return r;
}

/* The search after a customer create's 409 answered. */
static int step_search(sync_engine *se, op_ctx *c, sync_remote_class rc)
{
    char err[256];
    cJSON *root = NULL;
    const char *id;
    int r;

    if (rc != SYNC_REMOTE_OK)
        return reject(se, c, c->conflict_err);
    if (!(root = sync_body_parse(c->req.resp, c->req.resp_len, 1, err, sizeof err)))
        return retry_later(se, c, "search answered with a bad body");
    if ((id = search_match(c, root))) {
        snprintf(c->server_id, sizeof c->server_id, "%s", id);
        SLOG(&se->log, SYNC_LOG_INFO, "push: customer create %s matched existing %s by name",
             c->op.record_id, id);
        c->page = 0;
        r = start_fetch(se, c, c->server_id, ST_POST_FETCH) ? unbuildable(se, c) : 0;
    } else {
        r = reject(se, c, c->conflict_err);
    }
    cJSON_Delete(root);
    return r;
}

/* The fetch of a record just created answered. */
static int step_post_fetch(sync_engine *se, op_ctx *c, sync_remote_class rc)
{
    cJSON *root;
    const cJSON *rec = NULL;
    int more = 0, r;

    if (rc != SYNC_REMOTE_OK)
        return create_done(se, c, NULL, NULL);
    root = fetched_record(se, c, c->server_id, &rec, &more);
    if (!rec && more) {
        c->page++;
        r = start_fetch(se, c, c->server_id, ST_POST_FETCH) ? unbuildable(se, c) : 0;
    } else {
        /* Created: settle even without the record (the pull brings it). */
        r = create_done(se, c, rec, c->op.entity == ENT_CONTACT ? NULL : c->req.etag);
    }
    cJSON_Delete(root);
    return r;
}

/* An update's fetch of the remote record answered. */
static int step_fetch(sync_engine *se, op_ctx *c, sync_remote_class rc)
{
    char err[256];
    cJSON *root, *list;
    const cJSON *rec = NULL;
    int more = 0, r;

    if (rc == SYNC_REMOTE_NOT_FOUND)
        return gone(se, c);
    if (rc != SYNC_REMOTE_OK)
        return reject(se, c, NULL);
    root = fetched_record(se, c, c->op.record_id, &rec, &more);
    if (rec) {
        r = merge_and_put(se, c, rec) ? unbuildable(se, c) : 0;
    } else if (more) {
        c->page++;
        r = start_fetch(se, c, c->op.record_id, ST_FETCH) ? unbuildable(se, c) : 0;
    } else if (c->op.entity == ENT_CONTACT && c->req.resp &&
               (list = sync_body_parse(c->req.resp, c->req.resp_len, 1, err, sizeof err))) {
        /* A readable list without it: the contact is gone. */
        cJSON_Delete(list);
        r = gone(se, c);
    } else {
        r = retry_later(se, c, "fetch answered with a bad body");
    }
    cJSON_Delete(root);
    return r;
}

/* An update's PUT answered. */
static int step_put(sync_engine *se, op_ctx *c, sync_remote_class rc)
{
    char err[256];
    cJSON *root;
    const cJSON *rec;
    int r;

    if (rc == SYNC_REMOTE_NOT_FOUND)
        return gone(se, c);
    if (rc != SYNC_REMOTE_OK)
        return reject(se, c, NULL);
    root = sync_body_parse(c->req.resp, c->req.resp_len, 0, err, sizeof err);
    rec = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    if (!rec || sync_record_ok(c->op.entity, rec, 1, err, sizeof err))
        /* The PUT may have landed; the retry's merge will see it. */
        r = retry_later(se, c, "update answered with a bad body");
    else
        r = done(se, c, rec, c->req.etag);
    cJSON_Delete(root);
    return r;
}

/* Advances one op by the answer to its last request: the answers every
 * step treats alike first, then the step's own.  0, or -1 when the push
 * must stop (store failure). */
static int advance(sync_engine *se, op_ctx *c)
{
    sync_remote_class rc = sync_remote_classify(&c->req);
    char why[300];

    if (rc == SYNC_REMOTE_CANCELLED)
        return release(se, c, "cancelled");
    if (rc == SYNC_REMOTE_AUTH) {
        se->auth_stop = 1;
        return release(se, c, "HTTP 401: API key refused");
    }
    if (rc == SYNC_REMOTE_TRANSIENT) {
        if (c->req.status)
            snprintf(why, sizeof why, "HTTP %ld", c->req.status);
        else
            snprintf(why, sizeof why, "%s", c->req.err);
        return retry_later(se, c, why);
    }
    switch (c->step) {
    case ST_POST:
        return step_post(se, c, rc);
    case ST_SEARCH:
        return step_search(se, c, rc);
    case ST_POST_FETCH:
        return step_post_fetch(se, c, rc);
    case ST_FETCH:
        return step_fetch(se, c, rc);
    case ST_PUT:
        return step_put(se, c, rc);
    case ST_DELETE:
        return rc == SYNC_REMOTE_OK || rc == SYNC_REMOTE_NOT_FOUND ? done(se, c, NULL, NULL)
                                                                   : reject(se, c, NULL);
    case ST_SETTLED:
        break;
    }
    return 0;
}

static void ctx_clear(op_ctx *c)
{
    sync_remote_req_clear(&c->req);
    store_op_release(&c->op);
    free(c->conflict_err);
    sync_merge_result_free(&c->mr);
    memset(c, 0, sizeof *c);
}

/*
 * One round: the claimed ops, each advanced as soon as its own answer is
 * in, so the connections stay busy (a round that waited for every op's
 * fetch before any op's PUT left them idle while the slowest answered and
 * while the store settled the batch).  The ops of a round are independent
 * (see the claim), so their order does not matter.
 */
typedef struct {
    sync_engine *se;
    op_ctx *cs;
    int n, next;
    int failed;             /* a store failure: stop */
    sync_remote_stream stream;
} round_ctx;

static sync_remote_req *round_next(void *ud)
{
    round_ctx *rd = ud;

    if (rd->failed || rd->se->auth_stop || sync_cancelled(rd->se))
        return NULL;
    for (int k = 0; k < rd->n; k++) {
        op_ctx *c = &rd->cs[(rd->next + k) % rd->n];
        if (c->ready) {
            c->ready = 0;
            c->req.owner = c;
            rd->next = (int)(c - rd->cs + 1) % rd->n;
            return &c->req;
        }
    }
    return NULL;
}

static void round_done(void *ud, sync_remote_req *req)
{
    round_ctx *rd = ud;
    sync_engine *se = rd->se;
    op_ctx *c = req->owner;

    if (req->status > 0)
        se->sum->online = 1;
    if (rd->failed)
        return;   /* put back at the end of the round */
    if (advance(se, c)) {
        rd->failed = 1;
        return;
    }
    if (c->step == ST_SETTLED)
        sync_progress_add(se, 0, 0, 1, 0);
    else if (se->auth_stop || sync_cancelled(se))
        rd->failed = release(se, c, se->auth_stop ? "paused: 401" : "cancelled") != 0;
    else
        c->ready = 1;   /* its next request */
}

/* Runs the claimed ops to settlement.  Returns the number of ops settled
 * on the remote (or rejected), or -1. */
static int run_round(sync_engine *se, store_op *ops, int n)
{
    round_ctx rd;
    int64_t before = se->sum->pushed + se->sum->rejected + se->sum->conflicts;
    int rc = -1;

    memset(&rd, 0, sizeof rd);
    rd.se = se;
    rd.n = n;
    rd.stream.next = round_next;
    rd.stream.done = round_done;
    rd.stream.ud = &rd;
    rd.stream.clk = &se->clk;
    rd.stream.bytes = &se->sum->bytes_down;
    rd.cs = calloc((size_t)n, sizeof *rd.cs);
    if (!rd.cs) {
        /* Claimed but not started: put them back as they were. */
        for (int i = 0; i < n; i++)
            store_op_retry_later(se->st, ops[i].op_id, sync_now(se), "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        rd.cs[i].op = ops[i];
        memset(&ops[i], 0, sizeof ops[i]);   /* ownership moves to cs[i] */
        if (start(se, &rd.cs[i]) == 0)
            rd.cs[i].ready = 1;
        else if (retry_later(se, &rd.cs[i], "could not build the request"))
            goto out;
    }
    for (;;) {
        int active = sync_remote_pump(se->rm, &rd.stream, 250), open = 0, ready = 0;

        if (rd.failed)
            goto out;
        for (int i = 0; i < n; i++) {
            open += rd.cs[i].step != ST_SETTLED;
            ready += rd.cs[i].ready;
        }
        if (open == 0)
            break;
        if (active > 0)
            continue;
        if (se->auth_stop || sync_cancelled(se)) {
            /* Nothing running: the ops not started go back as they were. */
            for (int i = 0; i < n; i++)
                if (rd.cs[i].step != ST_SETTLED &&
                    release(se, &rd.cs[i], se->auth_stop ? "paused: 401" : "cancelled"))
                    goto out;
            break;
        }
        if (ready == 0)
            goto out;   /* cannot happen: an open op is running or ready */
    }
    rc = (int)(se->sum->pushed + se->sum->rejected + se->sum->conflicts - before);
out:
    if (rd.failed || rc < 0) {
        /* Let what is running end (or be aborted) before the requests go. */
        rd.failed = 1;
        while (sync_remote_pump(se->rm, &rd.stream, 250) > 0)
            ;
    }
    for (int i = 0; rd.cs && i < n; i++) {
        if (rd.cs[i].step != ST_SETTLED && rd.cs[i].op.record_id)
            store_op_retry_later(se->st, rd.cs[i].op.op_id, sync_now(se), "interrupted");
        ctx_clear(&rd.cs[i]);
    }
    free(rd.cs);
    return rc;
}

int sync_push(sync_engine *se)
{
    /* Rounds of many ops: each round ends with a tail where the last
     * ops' answers are awaited on fewer connections. */
    int batch = se->max_connections * 16;

    if (batch < 16)
        batch = 16;
    for (int round = 0; round < MAX_ROUNDS; round++) {
        store_op *ops = NULL;
        int n = 0, settled_n, rc;

        if (sync_cancelled(se) || se->auth_stop)
            break;
        rc = store_outbox_claim(se->st, sync_now(se), batch, &ops, &n);
        if (rc != STORE_OK) {
            SLOG(&se->log, SYNC_LOG_ERROR, "push: claim: %s", store_errmsg(se->st));
            sync_set_error(se, "store: %s", store_errmsg(se->st));
            return sync_store_fatal(rc) ? -1 : 0;
        }
        if (n == 0)
            break;
        sync_progress_add(se, 0, 0, 0, n);
        settled_n = run_round(se, ops, n);
        store_ops_free(ops, n);
        if (settled_n < 0)
            return -1;
        /* A round in which every op only failed again: the rest waits for
         * its backoff (or the next cycle), not a tight loop here. */
        if (settled_n == 0)
            break;
    }
    return 0;
}
