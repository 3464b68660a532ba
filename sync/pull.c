/*
 * pull.c — walks the configured scope of the remote into the store
 * (DESIGN §5 "Scope" and "Pull").
 *
 * Membership comes from the list endpoints, content from the detail
 * endpoints.  The walk goes one list page at a time: the page's details
 * (and, for work orders, their customers with the customers' contacts and
 * assets) are fetched concurrently with If-None-Match, then everything the
 * page brought is applied in ONE transaction together with the cursor that
 * says "the next page to fetch".  So memory holds one page plus the set of
 * customer ids already done, and a crash or cancel between two pages costs
 * nothing: the next pull resumes at the saved cursor with the same
 * generation, and the records marked seen before the interruption still
 * count.  A crash between a page's commit and the next page is the same as
 * an interruption; a crash inside a page's transaction rolls it back and
 * the page is fetched again (304s, cheap).
 *
 * Eviction (records not seen in the generation) only runs after a walk
 * that saw the whole scope: every list page fetched, the list totals stable
 * during the walk (offset paging over a list that changed underneath may
 * have skipped a record), and no list item unreadable.  A record listed but
 * whose detail could not be fetched or was malformed is still a member: it
 * is marked seen and keeps its old content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sync/sync_int.h"

#define PAGE_SIZE 100
#define LIST_TRIES 3
#define CURSOR_KEY "pull_cursor"

/* ---- a set of ids (open addressing) -------------------------------------- */

typedef struct {
    char **slot;
    size_t cap, n;
} idset;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void idset_free(idset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slot[i]);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

static int idset_has(const idset *s, const char *id)
{
    if (!s->cap)
        return 0;
    for (size_t i = hash_str(id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slot[i])
            return 0;
        if (strcmp(s->slot[i], id) == 0)
            return 1;
    }
}

static int idset_put(idset *s, char *owned)
{
    size_t i = hash_str(owned) & (s->cap - 1);
    while (s->slot[i])
        i = (i + 1) & (s->cap - 1);
    s->slot[i] = owned;
    s->n++;
    return 0;
}

/* 1 if added, 0 if already there, -1 out of memory. */
static int idset_add(idset *s, const char *id)
{
    char *dup;

    if (idset_has(s, id))
        return 0;
    if ((s->n + 1) * 2 > s->cap) {
        idset bigger = {NULL, s->cap ? s->cap * 2 : 64, 0};
        bigger.slot = calloc(bigger.cap, sizeof *bigger.slot);
        if (!bigger.slot)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                idset_put(&bigger, s->slot[i]);
        free(s->slot);
        *s = bigger;
    }
    if (!(dup = strdup(id)))
        return -1;
    idset_put(s, dup);
    return 1;
}

/* ---- the walk ----------------------------------------------------------- */

typedef struct {
    store_entity ent;          /* ENT_WORK_ORDER or ENT_CUSTOMER */
    char query[600];           /* filters, escaped, "" or "a=b&c=d" */
} walk;

typedef struct {
    sync_engine *se;
    int64_t gen;
    idset customers_done;      /* customers fetched in this walk */
    int complete;              /* still possible to evict at the end */
    char scope[1024];          /* identifies the scope the cursor is for */
} pull_ctx;

/* One customer to bring in: its detail and its contacts and assets. */
typedef struct {
    char id[160];
    remote_req det;
    remote_req kid[2];         /* contacts, assets: the page being fetched */
    cJSON *items[2];           /* the children gathered, all pages */
    int64_t page[2], pages[2];
    int kids_ok[2];
    cJSON *detail;             /* the parsed detail answer (root), 200 only */
} cust_item;

static const char *const kid_path[2] = {"contacts", "assets"};
static const store_entity kid_ent[2] = {ENT_CONTACT, ENT_ASSET};

static void day_string(int64_t ms, char out[16])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static int build_walks(sync_engine *se, int64_t now, walk w[2], int *nw,
                       char *scope, size_t scopelen)
{
    char tech[400], branch[400], from[16], to[16];
    int64_t server_now = now + sync_clock_offset(&se->clk);

    *nw = 0;
    day_string(server_now - (int64_t)se->days_back * 86400000, from);
    day_string(server_now + (int64_t)se->days_ahead * 86400000, to);
    if ((se->technician_id && remote_escape(se->technician_id, tech, sizeof tech)) ||
        (se->branch_id && remote_escape(se->branch_id, branch, sizeof branch)))
        return -1;
    if (se->technician_id) {
        w[*nw].ent = ENT_WORK_ORDER;
        snprintf(w[*nw].query, sizeof w[*nw].query,
                 "technician_id=%s&from_date=%s&to_date=%s", tech, from, to);
        (*nw)++;
    }
    if (se->branch_id) {
        w[*nw].ent = ENT_CUSTOMER;
        snprintf(w[*nw].query, sizeof w[*nw].query, "branch_id=%s", branch);
        (*nw)++;
    }
    if (!se->technician_id && !se->branch_id) {
        w[0].ent = ENT_CUSTOMER;
        w[0].query[0] = '\0';
        w[1].ent = ENT_WORK_ORDER;
        w[1].query[0] = '\0';
        *nw = 2;
    }
    snprintf(scope, scopelen, "%s|%s|%s|%s|%s", se->api_url,
             se->technician_id ? tech : "", se->branch_id ? branch : "",
             se->technician_id ? from : "", se->technician_id ? to : "");
    return 0;
}

/* Fills req with If-None-Match from the stored ETag, if any. */
static void set_inm(sync_engine *se, store_entity e, const char *id, remote_req *req)
{
    char *etag = NULL;

    if (store_record_etag(se->st, e, id, &etag) == STORE_OK && etag &&
        strlen(etag) < sizeof req->if_none_match)
        snprintf(req->if_none_match, sizeof req->if_none_match, "%s", etag);
    free(etag);
}

static int detail_req(sync_engine *se, store_entity e, const char *id,
                      remote_req *req)
{
    char esc[400], path[512];

    if (remote_escape(id, esc, sizeof esc))
        return -1;
    snprintf(path, sizeof path, "/%s/%s",
             e == ENT_CUSTOMER ? "customers" : "work-orders", esc);
    if (remote_req_set(se->rm, req, "GET", path))
        return -1;
    req->max_body = REMOTE_MAX_BODY_DETAIL;
    set_inm(se, e, id, req);
    return 0;
}

/* Counts an upsert's result in the summary. */
static void count_upsert(sync_engine *se, int rc, store_upsert_result res,
                         store_entity e, const char *id)
{
    if (rc == STORE_OK) {
        if (res == UPSERT_APPLIED || res == UPSERT_REBASED)
            se->sum->pulled++;
        else
            se->sum->unchanged++;
    } else {
        se->sum->errors++;
        SLOG(&se->log, SYNC_LOG_WARN, "pull: %s %s not stored: %s",
             store_entity_name(e), id, store_errmsg(se->st));
    }
}

/* Upserts the "data" object of a parsed detail answer. */
static int upsert_record(sync_engine *se, pull_ctx *pc, store_entity e,
                         const cJSON *rec, const char *etag, const char *parent)
{
    char *text = cJSON_PrintUnformatted(rec);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    store_upsert_result res = UPSERT_UNCHANGED;
    int rc;

    if (!text)
        return STORE_NOMEM;
    rc = store_remote_upsert(se->st, e, text, etag && *etag ? etag : NULL,
                             parent, pc->gen, &res);
    free(text);
    count_upsert(se, rc, res, e, cJSON_IsString(id) ? id->valuestring : "?");
    return sync_store_fatal(rc) ? rc : STORE_OK;
}

/* Marks a listed record seen although its detail did not come: it is in
 * scope, and its old copy (if any) stays. */
static int keep_seen(sync_engine *se, pull_ctx *pc, store_entity e, const char *id)
{
    int rc = store_mark_seen(se->st, e, id, pc->gen);
    if (rc == STORE_OK && e == ENT_CUSTOMER)
        rc = store_mark_children_seen(se->st, id, pc->gen);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/*
 * Applies one detail answer (of a work order or customer listed in scope).
 * Returns a store rc; sets *parsed to the answer's root for 200s.
 */
static int apply_detail(sync_engine *se, pull_ctx *pc, store_entity e,
                        const char *id, remote_req *req, cJSON **parsed)
{
    char err[256];
    cJSON *root;
    const cJSON *data, *rid;

    *parsed = NULL;
    switch (remote_classify(req)) {
    case RC_NOT_MODIFIED:
        se->sum->unchanged++;
        return keep_seen(se, pc, e, id);
    case RC_NOT_FOUND:
        /* Listed a moment ago, gone now: deleted remotely. */
        se->sum->deleted_remotely++;
        {
            int rc = store_remote_gone(se->st, e, id);
            return rc == STORE_NOTFOUND ? STORE_OK : rc;
        }
    case RC_AUTH:
        se->auth_stop = 1;
        return keep_seen(se, pc, e, id);
    case RC_OK:
        root = sv_parse(req->resp, req->resp_len, 0, err, sizeof err);
        data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
        if (root && sv_record_ok(e, data, 1, err, sizeof err) == 0) {
            rid = cJSON_GetObjectItemCaseSensitive(data, "id");
            if (strcmp(rid->valuestring, id) == 0) {
                *parsed = root;
                return upsert_record(se, pc, e, data, req->etag, NULL);
            }
            snprintf(err, sizeof err, "answer is about another record");
        }
        cJSON_Delete(root);
        se->sum->errors++;
        SLOG(&se->log, SYNC_LOG_WARN, "pull: %s %s skipped: %s",
             store_entity_name(e), id, err);
        return keep_seen(se, pc, e, id);
    default:
        /* A failed fetch of one record: it stays as it was until the next
         * pull.  Transient trouble is expected on a poor link: info only. */
        se->sum->errors++;
        if (req->status)
            SLOG(&se->log, remote_classify(req) == RC_TRANSIENT ? SYNC_LOG_INFO
                                                                : SYNC_LOG_WARN,
                 "pull: %s %s: HTTP %ld; old copy kept", store_entity_name(e), id,
                 req->status);
        else
            SLOG(&se->log, SYNC_LOG_INFO, "pull: %s %s: %s; old copy kept",
                 store_entity_name(e), id, req->err);
        return keep_seen(se, pc, e, id);
    }
}

/* Fetches every page of the contacts and assets of the customers whose
 * detail changed (kids_ok set on those to fetch). */
static int fetch_children(sync_engine *se, cust_item *it, size_t n)
{
    remote_req **reqs = calloc(n * 2 + 1, sizeof *reqs);
    char esc[400], path[600], err[256];
    int rc = -1;

    if (!reqs)
        return -1;
    for (;;) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 2; c++) {
                if (!it[i].kids_ok[c] || it[i].page[c] > it[i].pages[c])
                    continue;
                if (remote_escape(it[i].id, esc, sizeof esc))
                    goto out;
                snprintf(path, sizeof path, "/customers/%s/%s?page=%lld&per_page=%d",
                         esc, kid_path[c], (long long)it[i].page[c], PAGE_SIZE);
                if (remote_req_set(se->rm, &it[i].kid[c], "GET", path))
                    goto out;
                reqs[k++] = &it[i].kid[c];
            }
        if (k == 0)
            break;
        if (sync_cancelled(se) || se->auth_stop) {
            /* Lists not fetched whole: keep the children we have. */
            for (size_t i = 0; i < n; i++)
                it[i].kids_ok[0] = it[i].kids_ok[1] = 0;
            break;
        }
        sync_run(se, reqs, k);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 2; c++) {
                remote_req *req = &it[i].kid[c];
                cJSON *root = NULL, *data, *item;
                sv_meta m;

                if (!req->url || !it[i].kids_ok[c] || it[i].page[c] > it[i].pages[c])
                    continue;
                if (remote_classify(req) == RC_AUTH)
                    se->auth_stop = 1;
                if (remote_classify(req) == RC_OK)
                    root = sv_parse(req->resp, req->resp_len, 1, err, sizeof err);
                else
                    snprintf(err, sizeof err, "status %ld %s", req->status, req->err);
                if (!root || sv_meta_get(root, &m, err, sizeof err)) {
                    SLOG(&se->log, SYNC_LOG_INFO, "pull: %s of customer %s: %s",
                         kid_path[c], it[i].id, err);
                    se->sum->errors++;
                    it[i].kids_ok[c] = 0;
                    cJSON_Delete(root);
                    remote_req_clear(req);
                    continue;
                }
                data = cJSON_GetObjectItemCaseSensitive(root, "data");
                while ((item = cJSON_DetachItemFromArray(data, 0)))
                    if (!cJSON_AddItemToArray(it[i].items[c], item)) {
                        cJSON_Delete(item);
                        cJSON_Delete(root);
                        remote_req_clear(req);
                        goto out;
                    }
                /* Bounded: a server claiming endless pages is not followed. */
                it[i].pages[c] = m.total_pages < SYNC_MAX_CHILD_PAGES ? m.total_pages
                                                                       : SYNC_MAX_CHILD_PAGES;
                it[i].page[c]++;
                cJSON_Delete(root);
                remote_req_clear(req);
            }
    }
    rc = 0;
out:
    free(reqs);
    return rc;
}

/* Applies a customer's children: each valid item upserted, the rest kept. */
static int apply_children(sync_engine *se, pull_ctx *pc, cust_item *it)
{
    char err[256];
    int rc = STORE_OK;

    if (!it->kids_ok[0] || !it->kids_ok[1]) {
        /* Part of the lists did not come: keep what we have. */
        rc = store_mark_children_seen(se->st, it->id, pc->gen);
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            return rc;
        rc = STORE_OK;
    }
    for (int c = 0; c < 2; c++) {
        const cJSON *item;
        if (!it->kids_ok[c])
            continue;
        cJSON_ArrayForEach(item, it->items[c]) {
            if (sv_record_ok(kid_ent[c], item, 0, err, sizeof err)) {
                se->sum->errors++;
                SLOG(&se->log, SYNC_LOG_WARN, "pull: %s of customer %s skipped: %s",
                     store_entity_name(kid_ent[c]), it->id, err);
                continue;
            }
            rc = upsert_record(se, pc, kid_ent[c], item, NULL, it->id);
            if (rc)
                return rc;
        }
    }
    return STORE_OK;
}

static void cust_items_free(cust_item *it, size_t n)
{
    if (!it)
        return;
    for (size_t i = 0; i < n; i++) {
        remote_req_clear(&it[i].det);
        remote_req_clear(&it[i].kid[0]);
        remote_req_clear(&it[i].kid[1]);
        cJSON_Delete(it[i].items[0]);
        cJSON_Delete(it[i].items[1]);
        cJSON_Delete(it[i].detail);
    }
    free(it);
}

/* Fetches the customers' details (and children of those that changed). */
static int fetch_customers(sync_engine *se, cust_item *it, size_t n)
{
    remote_req **reqs = calloc(n + 1, sizeof *reqs);
    char err[256];

    if (!reqs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (detail_req(se, ENT_CUSTOMER, it[i].id, &it[i].det)) {
            free(reqs);
            return -1;
        }
        reqs[i] = &it[i].det;
    }
    sync_run(se, reqs, n);
    free(reqs);
    for (size_t i = 0; i < n; i++) {
        remote_req *req = &it[i].det;
        const cJSON *data;

        if (remote_classify(req) != RC_OK)
            continue;
        it[i].detail = sv_parse(req->resp, req->resp_len, 0, err, sizeof err);
        data = it[i].detail ? cJSON_GetObjectItemCaseSensitive(it[i].detail, "data") : NULL;
        if (!data || sv_record_ok(ENT_CUSTOMER, data, 1, err, sizeof err) ||
            strcmp(cJSON_GetObjectItemCaseSensitive(data, "id")->valuestring, it[i].id)) {
            cJSON_Delete(it[i].detail);
            it[i].detail = NULL;
            continue;   /* apply_detail reparses, logs and keeps the old copy */
        }
        for (int c = 0; c < 2; c++) {
            it[i].items[c] = cJSON_CreateArray();
            if (!it[i].items[c])
                return -1;
            it[i].kids_ok[c] = 1;
            it[i].page[c] = 1;
            it[i].pages[c] = 1;
        }
    }
    return fetch_children(se, it, n);
}

/* Applies fetched customers inside the caller's transaction. */
static int apply_customers(sync_engine *se, pull_ctx *pc, cust_item *it, size_t n)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        cJSON *parsed = NULL;
        if (it[i].detail) {
            /* Parsed and checked by fetch_customers already. */
            rc = upsert_record(se, pc, ENT_CUSTOMER,
                               cJSON_GetObjectItemCaseSensitive(it[i].detail, "data"),
                               it[i].det.etag, NULL);
            if (rc == STORE_OK)
                rc = apply_children(se, pc, &it[i]);
        } else {
            rc = apply_detail(se, pc, ENT_CUSTOMER, it[i].id, &it[i].det, &parsed);
        }
        cJSON_Delete(parsed);
        if (sync_store_fatal(rc))
            return rc;
        sync_progress_add(se, 1, 0, 0, 0);
    }
    return STORE_OK;
}

/* Collects the customers of ids not yet done in this walk. */
static int add_customer(pull_ctx *pc, cust_item *it, size_t *n, size_t max,
                        const char *id)
{
    int r;

    if (!id || !sv_id_ok(id) || *n >= max)
        return 0;
    r = idset_add(&pc->customers_done, id);
    if (r <= 0)
        return r;
    snprintf(it[*n].id, sizeof it[*n].id, "%s", id);
    (*n)++;
    return 0;
}

static const char *ref_id(const cJSON *rec, const char *field)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(rec, field);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    return cJSON_IsString(id) ? id->valuestring : NULL;
}

/* Fetches one list page, retrying a transient failure a few times. */
static cJSON *fetch_list(sync_engine *se, pull_ctx *pc, const walk *w,
                         int64_t page, sv_meta *m)
{
    remote_req req;
    remote_req *one = &req;
    char path[800], err[320];
    cJSON *root = NULL;

    memset(&req, 0, sizeof req);
    snprintf(path, sizeof path, "/%s?%s%spage=%lld&per_page=%d",
             w->ent == ENT_CUSTOMER ? "customers" : "work-orders", w->query,
             w->query[0] ? "&" : "", (long long)page, PAGE_SIZE);
    for (int t = 0; t < LIST_TRIES && !root && !sync_cancelled(se); t++) {
        if (remote_req_set(se->rm, &req, "GET", path))
            break;
        sync_run(se, &one, 1);
        switch (remote_classify(&req)) {
        case RC_OK:
            root = sv_parse(req.resp, req.resp_len, 1, err, sizeof err);
            if (root && sv_meta_get(root, m, err, sizeof err)) {
                cJSON_Delete(root);
                root = NULL;
            }
            break;
        case RC_AUTH:
            se->auth_stop = 1;
            t = LIST_TRIES;
            snprintf(err, sizeof err, "401");
            break;
        case RC_TRANSIENT:
            snprintf(err, sizeof err, "%s (status %ld)", req.err, req.status);
            break;
        default:
            snprintf(err, sizeof err, "status %ld", req.status);
            t = LIST_TRIES;
            break;
        }
        if (!root)
            SLOG(&se->log, SYNC_LOG_INFO, "pull: list %s page %lld: %s",
                 w->ent == ENT_CUSTOMER ? "customers" : "work-orders",
                 (long long)page, err);
    }
    if (!root && !sync_cancelled(se)) {
        se->sum->errors++;
        sync_set_error(se, "pull: list page %lld failed: %s", (long long)page, err);
    }
    (void)pc;
    remote_req_clear(&req);
    return root;
}

static int save_cursor(sync_engine *se, pull_ctx *pc, int phase, int64_t page)
{
    char v[1200];

    snprintf(v, sizeof v, "%lld %d %lld %d %s", (long long)pc->gen, phase,
             (long long)page, pc->complete, pc->scope);
    return store_state_set(se->st, CURSOR_KEY, v);
}

/*
 * Processes one list page: details, customers, one transaction.
 * Returns a store rc (fatal ones stop the pull).
 */
static int do_page(sync_engine *se, pull_ctx *pc, const walk *w, cJSON *root,
                   int phase, int64_t page)
{
    cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "data");
    size_t n = (size_t)cJSON_GetArraySize(items), ncust = 0, k = 0;
    remote_req *det = NULL;
    remote_req **reqs = NULL;
    cust_item *cust = NULL;
    const char **ids = NULL;
    const cJSON *item;
    char err[256];
    int rc = STORE_NOMEM, in_tx = 0;

    det = calloc(n + 1, sizeof *det);
    reqs = calloc(n + 1, sizeof *reqs);
    ids = calloc(n + 1, sizeof *ids);
    cust = calloc(n + 1, sizeof *cust);
    if (!det || !reqs || !ids || !cust)
        goto out;

    /* Membership: the valid items of the page. */
    cJSON_ArrayForEach(item, items) {
        if (sv_record_ok(w->ent, item, 0, err, sizeof err)) {
            /* An unreadable member could be evicted by mistake: no
             * eviction at the end of this walk. */
            pc->complete = 0;
            se->sum->errors++;
            SLOG(&se->log, SYNC_LOG_WARN, "pull: list item skipped: %s", err);
            continue;
        }
        ids[k] = cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring;
        if (w->ent == ENT_WORK_ORDER) {
            if (detail_req(se, ENT_WORK_ORDER, ids[k], &det[k]))
                goto out;
            reqs[k] = &det[k];
            if (add_customer(pc, cust, &ncust, n, ref_id(item, "customer")))
                goto out;
        } else if (add_customer(pc, cust, &ncust, n, ids[k])) {
            goto out;
        }
        k++;
    }
    if (w->ent == ENT_WORK_ORDER) {
        sync_progress_add(se, 0, (int64_t)ncust, 0, 0);   /* customers found */
        sync_run(se, reqs, k);
    }
    if (!sync_cancelled(se) && !se->auth_stop && ncust &&
        fetch_customers(se, cust, ncust))
        goto out;
    if (sync_cancelled(se) || se->auth_stop) {
        /* Not committed and the cursor not moved: the page is fetched
         * again when the walk resumes. */
        rc = STORE_OK;
        goto out;
    }

    rc = store_tx_begin(se->st);
    if (rc)
        goto out;
    in_tx = 1;
    /* Customers first: the work orders refer to them. */
    rc = apply_customers(se, pc, cust, ncust);
    for (size_t i = 0; rc == STORE_OK && w->ent == ENT_WORK_ORDER && i < k; i++) {
        cJSON *parsed = NULL;
        rc = apply_detail(se, pc, ENT_WORK_ORDER, ids[i], &det[i], &parsed);
        cJSON_Delete(parsed);
        if (!sync_store_fatal(rc))
            rc = STORE_OK;
        sync_progress_add(se, 1, 0, 0, 0);
    }
    if (rc == STORE_OK)
        rc = save_cursor(se, pc, phase, page + 1);
    if (rc == STORE_OK) {
        rc = store_tx_commit(se->st);
        in_tx = 0;
    }
out:
    if (in_tx)
        store_tx_rollback(se->st);
    if (rc)
        sync_set_error(se, "pull: store: %s", store_errmsg(se->st));
    for (size_t i = 0; det && i < n; i++)
        remote_req_clear(&det[i]);
    free(det);
    free(reqs);
    free(ids);
    cust_items_free(cust, n + 1);
    return rc;
}

static int evict_all(sync_engine *se, pull_ctx *pc)
{
    static const store_entity order[] = {ENT_WORK_ORDER, ENT_CONTACT, ENT_ASSET,
                                         ENT_CUSTOMER};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int64_t n = 0;
        int rc = store_evict_unseen(se->st, order[i], pc->gen, &n);
        if (rc)
            return rc;
        se->sum->evicted += n;
    }
    return STORE_OK;
}

int sync_pull(sync_engine *se)
{
    pull_ctx pc;
    walk w[2];
    int nw = 0, phase = 0, rc = 0;
    int64_t page = 1, totals[2] = {-1, -1};
    char *cur = NULL;

    memset(&pc, 0, sizeof pc);
    pc.se = se;
    pc.complete = 1;
    if (build_walks(se, sync_now(se), w, &nw, pc.scope, sizeof pc.scope)) {
        sync_set_error(se, "pull: scope ids too long");
        return 0;
    }
    /* Resume an interrupted walk of the same scope. */
    if (store_state_get(se->st, CURSOR_KEY, &cur) == STORE_OK && cur && *cur) {
        long long g, p;
        int ph, complete, off = 0;
        if (sscanf(cur, "%lld %d %lld %d %n", &g, &ph, &p, &complete, &off) == 4 &&
            off > 0 && strcmp(cur + off, pc.scope) == 0 && ph >= 0 && ph < nw &&
            p >= 1) {
            pc.gen = g;
            pc.complete = complete;
            phase = ph;
            page = p;
            SLOG(&se->log, SYNC_LOG_INFO, "pull: resuming at walk %d page %lld",
                 phase, p);
        }
    }
    free(cur);
    if (!pc.gen && (rc = store_pull_begin(se->st, &pc.gen)) != STORE_OK)
        goto out;

    for (; phase < nw; phase++, page = 1) {
        for (;;) {
            sv_meta m;
            cJSON *root;

            if (sync_cancelled(se) || se->auth_stop)
                goto interrupted;
            root = fetch_list(se, &pc, &w[phase], page, &m);
            if (!root)
                goto interrupted;
            if (totals[phase] < 0) {
                totals[phase] = m.total_count;
                sync_progress_add(se, 0, m.total_count, 0, 0);
            } else if (totals[phase] != m.total_count) {
                pc.complete = 0;   /* the list moved under the walk */
            }
            rc = do_page(se, &pc, &w[phase], root, phase, page);
            cJSON_Delete(root);
            if (rc)
                goto out;
            if (sync_cancelled(se) || se->auth_stop)
                goto interrupted;
            if (page >= m.total_pages)
                break;
            page++;
        }
    }
    /* The walk is over: forget the cursor; evict if it saw everything. */
    rc = store_state_set(se->st, CURSOR_KEY, "");
    if (rc == STORE_OK && pc.complete)
        rc = evict_all(se, &pc);
    se->sum->complete = pc.complete;
    goto out;
interrupted:
    /* The cursor saved with the last committed page stays: the next pull
     * resumes there with the same generation. */
    se->sum->complete = 0;
    if (!sync_cancelled(se) && !se->auth_stop)
        SLOG(&se->log, SYNC_LOG_WARN, "pull interrupted; will resume");
    rc = STORE_OK;
out:
    idset_free(&pc.customers_done);
    if (rc) {
        SLOG(&se->log, SYNC_LOG_ERROR, "pull: store failure: %s", store_errmsg(se->st));
        sync_set_error(se, "store: %s", store_errmsg(se->st));
        return -1;
    }
    return 0;
}
