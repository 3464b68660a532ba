/*
 * pull.c — walks the configured scope of the remote into the store
 * (DESIGN §5 "Scope" and "Pull").
 *
 * Membership comes from the list endpoints, content from the detail
 * endpoints.  The walk is a pipeline of list pages: up to PIPELINE pages
 * are in flight at once, each with its details (and, for work orders,
 * their customers with the customers' contacts and assets), and every
 * request starts as soon as what it depends on has answered and a
 * connection is free, the oldest page's first.  A walk of one page at a
 * time left connections idle at every page's tail (a page's last child
 * lists wait for their customers' details, and the next page's list
 * waited for all of it).
 *
 * Pages are applied strictly in order, each in ONE transaction together
 * with the cursor that says "the next page to fetch"; while one is
 * applied, the later pages' transfers keep moving (the apply loop pumps
 * the client between records), so storing overlaps fetching.  Memory holds
 * at most PIPELINE pages plus the set of customer ids already done, and a
 * crash or cancel between two commits costs nothing: the next pull resumes
 * at the saved cursor with the same generation, and the records marked
 * seen before the interruption still count.  A crash inside a page's
 * transaction rolls it back and the page is fetched again (304s, cheap).
 * A page whose list could not be read stops the walk there: the pages
 * before it are applied, the ones after it are not.
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

#include "sync/remote.h"

#define PAGE_SIZE 100
#define LIST_TRIES 3
#define CURSOR_KEY "pull_cursor"
#define PIPELINE 3      /* list pages in flight at once */
#define PUMP_EVERY 8    /* records applied between two pumps of the client */
/* A list page kept for If-None-Match, in the sync state: "ETag\nURL\nbody" */
#define KEPT_KEY "list_page %d %lld"
#define KEPT_MAX (64 * 1024)

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

typedef sync_walk walk;

/* What a request of a page is for (sync_remote_req.role). */
enum { ROLE_LIST = 1, ROLE_DETAIL, ROLE_CUSTOMER, ROLE_KID };

/* One customer to bring in: its detail and its contacts and assets. */
typedef struct {
    char id[160];
    sync_remote_req det;
    sync_remote_req kid[2];         /* contacts, assets: the page being fetched */
    cJSON *items[2];           /* the children gathered, all pages */
    int64_t page[2], pages[2];
    int kids_ok[2];
    int kid_waiting[2];        /* kid[c] is ready to start */
    cJSON *detail;             /* the parsed detail answer (root), 200 only */
} cust_item;

enum { LIST_WAITING, LIST_RUNNING, LIST_OK, LIST_FAILED };

/* One list page and everything it brings, until it is applied. */
typedef struct {
    int phase;                 /* index of its walk */
    int64_t number;
    sync_remote_req list;
    int list_state, list_tries;
    cJSON *root;               /* the list answer, once read */
    size_t k;                  /* valid members */
    const char **ids;          /* k ids, into root */
    sync_remote_req *det;           /* work orders: k details */
    size_t det_next;           /* next detail to start */
    cust_item *cust;           /* customers first seen on this page */
    size_t ncust, cust_next;
    int kids_waiting;          /* child list requests ready to start */
    int pending;               /* requests not yet answered (or started) */
    char *kept;                /* this page as the last walk read it, or NULL */
    const char *kept_body;     /* into kept */
    char *keep;                /* to keep with this page's commit, or NULL */
} page;

typedef struct {
    sync_engine *se;
    int64_t gen;
    idset customers_done;      /* customers fetched in this walk */
    int complete;              /* still possible to evict at the end */
    char scope[1024];          /* identifies the scope the cursor is for */
    walk w[2];
    int nw;
    page *pages[PIPELINE];     /* open pages, oldest first */
    int npages;
    int open_phase;            /* the next page to open */
    int64_t open_page;
    int64_t total_pages[2];    /* per walk, -1 until a list page says */
    int64_t totals[2];         /* total_count of the walk's first page read */
    int open_in[2];            /* pages of the walk open */
    int lists_out[2];          /* of those, lists not yet read */
    int broken;                /* a list page failed for good: open no more */
    int stopping;              /* start nothing more */
    int since_pump;
    sync_remote_stream stream;
} pull_ctx;

static const char *const kid_path[2] = {"contacts", "assets"};
static const store_entity kid_ent[2] = {ENT_CONTACT, ENT_ASSET};

static void day_string(int64_t ms, char out[16])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

int sync_build_walks(sync_engine *se, int64_t now, sync_walk w[2], int *nw,
                     char *scope, size_t scopelen)
{
    char tech[400], branch[400], from[16], to[16];
    int64_t server_now = now + sync_clock_offset(&se->clk);

    *nw = 0;
    day_string(server_now - (int64_t)se->days_back * 86400000, from);
    day_string(server_now + (int64_t)se->days_ahead * 86400000, to);
    if ((se->technician_id && sync_remote_escape(se->technician_id, tech, sizeof tech)) ||
        (se->branch_id && sync_remote_escape(se->branch_id, branch, sizeof branch)))
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
static void set_inm(sync_engine *se, store_entity e, const char *id, sync_remote_req *req)
{
    char *etag = NULL;

    if (store_record_etag(se->st, e, id, &etag) == STORE_OK && etag &&
        strlen(etag) < sizeof req->if_none_match)
        snprintf(req->if_none_match, sizeof req->if_none_match, "%s", etag);
    free(etag);
}

static int detail_req(sync_engine *se, store_entity e, const char *id,
                      sync_remote_req *req)
{
    char esc[400], path[512];

    if (sync_remote_escape(id, esc, sizeof esc))
        return -1;
    snprintf(path, sizeof path, "/%s/%s",
             e == ENT_CUSTOMER ? "customers" : "work-orders", esc);
    if (sync_remote_req_set(se->rm, req, "GET", path))
        return -1;
    req->max_body = SYNC_REMOTE_MAX_BODY_DETAIL;
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

/* Lets the transfers of later pages move while this one is stored. */
static void pump_between_records(pull_ctx *pc)
{
    if (++pc->since_pump < PUMP_EVERY)
        return;
    pc->since_pump = 0;
    sync_remote_pump(pc->se->rm, &pc->stream, 0);
}

/* Upserts the "data" object of a parsed detail answer. */
static int upsert_record(sync_engine *se, pull_ctx *pc, store_entity e,
                         const cJSON *rec, const char *etag, const char *parent)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    store_upsert_result res = UPSERT_UNCHANGED;
    int rc;

    rc = store_remote_upsert_item(se->st, e, rec, etag && *etag ? etag : NULL, parent,
                                  pc->gen, &res);
    count_upsert(se, rc, res, e, cJSON_IsString(id) ? id->valuestring : "?");
    pump_between_records(pc);
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

/* After rc (a store rc) stored or confirmed a detail: the record was
 * checked now, for the revalidation schedule. */
static int checked(sync_engine *se, store_entity e, const char *id, int rc)
{
    if (rc == STORE_OK) {
        rc = store_reval_checked(se->st, e, id, sync_now(se));
        if (rc == STORE_NOTFOUND)
            rc = STORE_OK;
    }
    return rc;
}

/*
 * Applies one detail answer (of a work order or customer listed in scope).
 * Returns a store rc; sets *parsed to the answer's root for 200s.
 */
static int apply_detail(sync_engine *se, pull_ctx *pc, store_entity e,
                        const char *id, sync_remote_req *req, cJSON **parsed)
{
    char err[256];
    cJSON *root;
    const cJSON *data, *rid;

    *parsed = NULL;
    switch (sync_remote_classify(req)) {
    case SYNC_REMOTE_NOT_MODIFIED:
        se->sum->unchanged++;
        return checked(se, e, id, keep_seen(se, pc, e, id));
    case SYNC_REMOTE_NOT_FOUND:
        /* Listed a moment ago, gone now: deleted remotely. */
        se->sum->deleted_remotely++;
        {
            int rc = store_remote_gone(se->st, e, id);
            return rc == STORE_NOTFOUND ? STORE_OK : rc;
        }
    case SYNC_REMOTE_AUTH:
        se->auth_stop = 1;
        return keep_seen(se, pc, e, id);
    case SYNC_REMOTE_OK:
        root = sync_body_parse(req->resp, req->resp_len, 0, err, sizeof err);
        data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
        if (root && sync_record_ok(e, data, 1, err, sizeof err) == 0) {
            rid = cJSON_GetObjectItemCaseSensitive(data, "id");
            if (strcmp(rid->valuestring, id) == 0) {
                *parsed = root;
                return checked(se, e, id, upsert_record(se, pc, e, data, req->etag, NULL));
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
            SLOG(&se->log, sync_remote_classify(req) == SYNC_REMOTE_TRANSIENT ? SYNC_LOG_INFO
                                                                : SYNC_LOG_WARN,
                 "pull: %s %s: HTTP %ld; old copy kept", store_entity_name(e), id,
                 req->status);
        else
            SLOG(&se->log, SYNC_LOG_INFO, "pull: %s %s: %s; old copy kept",
                 store_entity_name(e), id, req->err);
        return keep_seen(se, pc, e, id);
    }
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
            if (sync_record_ok(kid_ent[c], item, 0, err, sizeof err)) {
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
        sync_remote_req_clear(&it[i].det);
        sync_remote_req_clear(&it[i].kid[0]);
        sync_remote_req_clear(&it[i].kid[1]);
        cJSON_Delete(it[i].items[0]);
        cJSON_Delete(it[i].items[1]);
        cJSON_Delete(it[i].detail);
    }
    free(it);
}

/* Applies a page's customers inside the caller's transaction. */
static int apply_customers(sync_engine *se, pull_ctx *pc, cust_item *it, size_t n)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        cJSON *parsed = NULL;
        if (it[i].detail) {
            /* Parsed and checked when it came.  Its ETag is kept only when
             * both child lists came whole: a later 304 skips the children,
             * so an ETag stored after a failed contacts page would leave
             * those contacts stale until the customer changed again. */
            int kids_whole = it[i].kids_ok[0] && it[i].kids_ok[1];
            rc = checked(se, ENT_CUSTOMER, it[i].id,
                         upsert_record(se, pc, ENT_CUSTOMER,
                                       cJSON_GetObjectItemCaseSensitive(it[i].detail, "data"),
                                       kids_whole ? it[i].det.etag : NULL, NULL));
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

static const char *ref_id(const cJSON *rec, const char *field)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(rec, field);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    return cJSON_IsString(id) ? id->valuestring : NULL;
}

static int save_cursor(sync_engine *se, pull_ctx *pc, int phase, int64_t next_page)
{
    char v[1200];

    snprintf(v, sizeof v, "%lld %d %lld %d %s", (long long)pc->gen, phase,
             (long long)next_page, pc->complete, pc->scope);
    return store_meta_set(se->st, CURSOR_KEY, v);
}

/* ---- the pipeline: which request next, and what an answer brings ------- */

static int open_pages(pull_ctx *pc);

static void tag(sync_remote_req *req, page *pg, int role, size_t index)
{
    req->owner = pg;
    req->role = role;
    req->index = index;
}

/* The next page of child list c of a customer, ready to start. */
static int queue_kid(pull_ctx *pc, page *pg, size_t i, int c)
{
    cust_item *it = &pg->cust[i];
    char esc[400], path[600];

    if (sync_remote_escape(it->id, esc, sizeof esc))
        return -1;
    snprintf(path, sizeof path, "/customers/%s/%s?page=%lld&per_page=%d", esc,
             kid_path[c], (long long)it->page[c], PAGE_SIZE);
    if (sync_remote_req_set(pc->se->rm, &it->kid[c], "GET", path))
        return -1;
    tag(&it->kid[c], pg, ROLE_KID, i * 2 + (size_t)c);
    it->kid_waiting[c] = 1;
    pg->kids_waiting++;
    pg->pending++;
    return 0;
}

/* Collects the customer of id on pg unless this walk has it already. */
static int add_customer(pull_ctx *pc, page *pg, size_t max, const char *id)
{
    cust_item *it;
    int r;

    if (!id || !sync_id_ok(id) || pg->ncust >= max)
        return 0;
    r = idset_add(&pc->customers_done, id);
    if (r <= 0)
        return r;
    it = &pg->cust[pg->ncust];
    snprintf(it->id, sizeof it->id, "%s", id);
    if (detail_req(pc->se, ENT_CUSTOMER, it->id, &it->det))
        return -1;
    tag(&it->det, pg, ROLE_CUSTOMER, pg->ncust);
    pg->ncust++;
    pg->pending++;
    return 0;
}

/* A list page was read: its members become detail requests. */
static int members(pull_ctx *pc, page *pg)
{
    sync_engine *se = pc->se;
    const walk *w = &pc->w[pg->phase];
    cJSON *items = cJSON_GetObjectItemCaseSensitive(pg->root, "data");
    size_t n = (size_t)cJSON_GetArraySize(items);
    const cJSON *item;
    char err[256];

    pg->ids = calloc(n + 1, sizeof *pg->ids);
    pg->det = calloc(n + 1, sizeof *pg->det);
    pg->cust = calloc(n + 1, sizeof *pg->cust);
    if (!pg->ids || !pg->det || !pg->cust)
        return -1;
    cJSON_ArrayForEach(item, items) {
        if (sync_record_ok(w->ent, item, 0, err, sizeof err)) {
            /* An unreadable member could be evicted by mistake: no
             * eviction at the end of this walk. */
            pc->complete = 0;
            se->sum->errors++;
            SLOG(&se->log, SYNC_LOG_WARN, "pull: list item skipped: %s", err);
            continue;
        }
        pg->ids[pg->k] = cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring;
        if (w->ent == ENT_WORK_ORDER) {
            if (detail_req(se, ENT_WORK_ORDER, pg->ids[pg->k], &pg->det[pg->k]))
                return -1;
            tag(&pg->det[pg->k], pg, ROLE_DETAIL, pg->k);
            pg->pending++;
            if (add_customer(pc, pg, n, ref_id(item, "customer")))
                return -1;
        } else if (add_customer(pc, pg, n, pg->ids[pg->k])) {
            return -1;
        }
        pg->k++;
    }
    if (w->ent == ENT_WORK_ORDER)
        sync_progress_add(se, 0, (int64_t)pg->ncust, 0, 0);   /* customers found */
    return 0;
}

static void list_answered(pull_ctx *pc, page *pg)
{
    sync_engine *se = pc->se;
    sync_remote_req *req = &pg->list;
    char err[320] = "";
    sync_list_meta m = {0, 0, 0};
    int retry = 0;

    switch (sync_remote_classify(req)) {
    case SYNC_REMOTE_OK:
        pg->root = sync_body_parse(req->resp, req->resp_len, 1, err, sizeof err);
        if (pg->root && sync_list_meta_get(pg->root, &m, err, sizeof err)) {
            cJSON_Delete(pg->root);
            pg->root = NULL;
        }
        retry = !pg->root;
        /* Kept with the page's commit, for If-None-Match next time. */
        if (pg->root && req->etag[0] &&
            strlen(req->etag) + strlen(req->url) + req->resp_len + 3 < KEPT_MAX &&
            asprintf(&pg->keep, "%s\n%s\n%s", req->etag, req->url, req->resp) < 0)
            pg->keep = NULL;
        break;
    case SYNC_REMOTE_NOT_MODIFIED:
        /* The page we kept is still the page: its members are read from it. */
        if (pg->kept_body) {
            pg->root = sync_body_parse(pg->kept_body, strlen(pg->kept_body), 1, err, sizeof err);
            if (pg->root && sync_list_meta_get(pg->root, &m, err, sizeof err)) {
                cJSON_Delete(pg->root);
                pg->root = NULL;
            }
        }
        if (!pg->root) {
            /* Nothing usable kept: ask again, unconditionally. */
            snprintf(err, sizeof err, "304 without a usable kept page");
            req->if_none_match[0] = '\0';
            retry = 1;
        }
        break;
    case SYNC_REMOTE_AUTH:
        se->auth_stop = 1;
        snprintf(err, sizeof err, "401");
        break;
    case SYNC_REMOTE_CANCELLED:
        break;
    case SYNC_REMOTE_TRANSIENT:
        snprintf(err, sizeof err, "%s (status %ld)", req->err, req->status);
        retry = 1;
        break;
    default:
        snprintf(err, sizeof err, "status %ld", req->status);
        break;
    }
    if (!pg->root && err[0])
        SLOG(&se->log, sync_remote_classify(req) == SYNC_REMOTE_AUTH ? SYNC_LOG_WARN : SYNC_LOG_INFO,
             "pull: list %s page %lld: %s",
             pc->w[pg->phase].ent == ENT_CUSTOMER ? "customers" : "work-orders",
             (long long)pg->number, err);
    if (!pg->root && retry && ++pg->list_tries < LIST_TRIES && !sync_cancelled(se)) {
        pg->list_state = LIST_WAITING;   /* the same request again */
        return;
    }
    pg->pending--;
    pc->lists_out[pg->phase]--;
    if (!pg->root) {
        pg->list_state = LIST_FAILED;
        pc->broken = 1;
        if (!sync_cancelled(se) && sync_remote_classify(req) != SYNC_REMOTE_CANCELLED) {
            se->sum->errors++;
            sync_set_error(se, "pull: list page %lld failed: %s", (long long)pg->number, err);
        }
        return;
    }
    pg->list_state = LIST_OK;
    if (pc->totals[pg->phase] < 0) {
        pc->totals[pg->phase] = m.total_count;
        sync_progress_add(se, 0, m.total_count, 0, 0);
    } else if (pc->totals[pg->phase] != m.total_count) {
        pc->complete = 0;   /* the list moved under the walk */
    }
    pc->total_pages[pg->phase] = m.total_pages;
    sync_remote_req_clear(req);
    if (members(pc, pg)) {
        /* Out of memory: this page cannot be walked. */
        pg->list_state = LIST_FAILED;
        pc->broken = 1;
        sync_set_error(se, "pull: out of memory");
    }
}

/* A customer's detail came: on a 200, its child lists start. */
static void customer_answered(pull_ctx *pc, page *pg, size_t i)
{
    cust_item *it = &pg->cust[i];
    sync_remote_req *req = &it->det;
    const cJSON *data;
    char err[256];

    pg->pending--;
    if (sync_remote_classify(req) != SYNC_REMOTE_OK || pc->stopping)
        return;   /* apply_detail says what it was, and keeps the old copy */
    it->detail = sync_body_parse(req->resp, req->resp_len, 0, err, sizeof err);
    data = it->detail ? cJSON_GetObjectItemCaseSensitive(it->detail, "data") : NULL;
    if (!data || sync_record_ok(ENT_CUSTOMER, data, 1, err, sizeof err) ||
        strcmp(cJSON_GetObjectItemCaseSensitive(data, "id")->valuestring, it->id)) {
        cJSON_Delete(it->detail);
        it->detail = NULL;
        return;   /* apply_detail reparses, logs and keeps the old copy */
    }
    for (int c = 0; c < 2; c++) {
        if (!(it->items[c] = cJSON_CreateArray())) {
            it->kids_ok[0] = it->kids_ok[1] = 0;
            return;
        }
        it->kids_ok[c] = 1;
        it->page[c] = 1;
        it->pages[c] = 1;
        if (queue_kid(pc, pg, i, c))
            it->kids_ok[c] = 0;
    }
}

/* A page of a customer's contacts or assets came. */
static void kid_answered(pull_ctx *pc, page *pg, size_t i, int c)
{
    sync_engine *se = pc->se;
    cust_item *it = &pg->cust[i];
    sync_remote_req *req = &it->kid[c];
    cJSON *root = NULL, *data, *item;
    char err[256];
    sync_list_meta m;

    pg->pending--;
    if (sync_remote_classify(req) == SYNC_REMOTE_AUTH)
        se->auth_stop = 1;
    if (sync_remote_classify(req) == SYNC_REMOTE_OK)
        root = sync_body_parse(req->resp, req->resp_len, 1, err, sizeof err);
    else
        snprintf(err, sizeof err, "status %ld %s", req->status, req->err);
    if (!root || sync_list_meta_get(root, &m, err, sizeof err)) {
        if (sync_remote_classify(req) != SYNC_REMOTE_CANCELLED) {
            SLOG(&se->log, sync_remote_classify(req) == SYNC_REMOTE_AUTH ? SYNC_LOG_WARN
                                                                         : SYNC_LOG_INFO,
                 "pull: %s of customer %s: %s", kid_path[c],
                 it->id, err);
            se->sum->errors++;
        }
        it->kids_ok[c] = 0;
        cJSON_Delete(root);
        sync_remote_req_clear(req);
        return;
    }
    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    while ((item = cJSON_DetachItemFromArray(data, 0)))
        if (!cJSON_AddItemToArray(it->items[c], item)) {
            cJSON_Delete(item);
            it->kids_ok[c] = 0;
            break;
        }
    cJSON_Delete(root);
    sync_remote_req_clear(req);
    /* Bounded: a server claiming endless pages is not followed. */
    it->pages[c] = m.total_pages < SYNC_MAX_CHILD_PAGES ? m.total_pages : SYNC_MAX_CHILD_PAGES;
    it->page[c]++;
    if (it->kids_ok[c] && it->page[c] <= it->pages[c] && !pc->stopping &&
        queue_kid(pc, pg, i, c))
        it->kids_ok[c] = 0;
}

static void pull_done(void *ud, sync_remote_req *req)
{
    pull_ctx *pc = ud;
    page *pg = req->owner;

    if (req->status > 0)
        pc->se->sum->online = 1;
    switch (req->role) {
    case ROLE_LIST:
        list_answered(pc, pg);
        break;
    case ROLE_DETAIL:
        pg->pending--;   /* applied with its page */
        break;
    case ROLE_CUSTOMER:
        customer_answered(pc, pg, req->index);
        break;
    case ROLE_KID:
        kid_answered(pc, pg, req->index / 2, (int)(req->index % 2));
        break;
    }
}

/*
 * The next request to start: the oldest page's first.  Within a page the
 * list comes first, then customers (whose child lists make the longest
 * chain), their child lists, and the work orders' details last.
 */
static sync_remote_req *pull_next(void *ud)
{
    pull_ctx *pc = ud;

    if (pc->stopping)
        return NULL;
    /* Pages open here too, not only between two applied pages: a list
     * answer read while a page is being stored lets the next one start. */
    if (open_pages(pc))
        pc->broken = 1;
    for (int p = 0; p < pc->npages; p++) {
        page *pg = pc->pages[p];

        if (pg->list_state == LIST_WAITING) {
            pg->list_state = LIST_RUNNING;
            return &pg->list;
        }
        if (pg->list_state != LIST_OK)
            continue;
        if (pg->cust_next < pg->ncust)
            return &pg->cust[pg->cust_next++].det;
        for (size_t i = 0; pg->kids_waiting && i < pg->ncust; i++)
            for (int c = 0; c < 2; c++)
                if (pg->cust[i].kid_waiting[c]) {
                    pg->cust[i].kid_waiting[c] = 0;
                    pg->kids_waiting--;
                    return &pg->cust[i].kid[c];
                }
        if (pc->w[pg->phase].ent == ENT_WORK_ORDER && pg->det_next < pg->k)
            return &pg->det[pg->det_next++];
    }
    return NULL;
}

static void page_free(page *pg)
{
    if (!pg)
        return;
    free(pg->kept);
    free(pg->keep);
    sync_remote_req_clear(&pg->list);
    for (size_t i = 0; pg->det && i < pg->k; i++)
        sync_remote_req_clear(&pg->det[i]);
    free(pg->det);
    free(pg->ids);
    cust_items_free(pg->cust, pg->ncust);
    cJSON_Delete(pg->root);
    free(pg);
}

/*
 * Lists carry no change feed, so a resync reads every list page again;
 * where the server gave the page an ETag, the page is kept and asked for
 * with If-None-Match, and a 304 costs no body.  A page kept for another
 * URL (the scope or the date window moved) is not used.
 */
static void kept_page(pull_ctx *pc, page *pg, int phase, int64_t number)
{
    char key[64], *kept = NULL, *url, *body;
    size_t elen;

    snprintf(key, sizeof key, KEPT_KEY, phase, (long long)number);
    if (store_meta_get(pc->se->st, key, &kept) != STORE_OK || !kept)
        return;
    url = strchr(kept, '\n');
    body = url ? strchr(url + 1, '\n') : NULL;
    elen = url ? (size_t)(url - kept) : 0;
    if (!body || elen == 0 || elen >= sizeof pg->list.if_none_match ||
        (size_t)(body - url - 1) != strlen(pg->list.url) ||
        memcmp(url + 1, pg->list.url, strlen(pg->list.url)) != 0) {
        free(kept);
        return;
    }
    memcpy(pg->list.if_none_match, kept, elen);
    pg->list.if_none_match[elen] = '\0';
    pg->kept = kept;
    pg->kept_body = body + 1;
}

static int page_open(pull_ctx *pc, int phase, int64_t number)
{
    const walk *w = &pc->w[phase];
    page *pg = calloc(1, sizeof *pg);
    char path[800];

    if (!pg)
        return -1;
    snprintf(path, sizeof path, "/%s?%s%spage=%lld&per_page=%d",
             w->ent == ENT_CUSTOMER ? "customers" : "work-orders", w->query,
             w->query[0] ? "&" : "", (long long)number, PAGE_SIZE);
    if (sync_remote_req_set(pc->se->rm, &pg->list, "GET", path)) {
        free(pg);
        return -1;
    }
    tag(&pg->list, pg, ROLE_LIST, 0);
    kept_page(pc, pg, phase, number);
    pg->phase = phase;
    pg->number = number;
    pg->list_state = LIST_WAITING;
    pg->pending = 1;
    pc->pages[pc->npages++] = pg;
    pc->open_in[phase]++;
    pc->lists_out[phase]++;
    return 0;
}

/*
 * Opens pages while the pipeline has room.  A walk's pages after its first
 * wait for a list answer to say how many there are; the next walk's first
 * page waits until every list of this one is read (its customers are then
 * all known, so none is fetched twice).
 */
static int open_pages(pull_ctx *pc)
{
    while (pc->npages < PIPELINE && !pc->broken && !pc->stopping && pc->open_phase < pc->nw) {
        int ph = pc->open_phase;

        if (pc->total_pages[ph] < 0) {
            if (pc->open_in[ph] > 0)
                break;   /* the first page will say how many */
        } else if (pc->open_page > pc->total_pages[ph]) {
            if (pc->lists_out[ph] > 0)
                break;
            pc->open_phase++;
            pc->open_page = 1;
            continue;
        }
        if (page_open(pc, ph, pc->open_page))
            return -1;
        pc->open_page++;
    }
    return 0;
}

/* The page's list summaries, as the revalidation schedule's change hints
 * start from them (the walk fetched every detail: they are current). */
static int keep_summaries(sync_engine *se, pull_ctx *pc, page *pg)
{
    const cJSON *item;
    store_entity e = pc->w[pg->phase].ent;

    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(pg->root, "data")) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        char hash[17];
        int changed, rc;

        if (!cJSON_IsString(id) || !sync_id_ok(id->valuestring))
            continue;
        sync_summary_hash(item, hash);
        rc = store_reval_summary(se->st, e, id->valuestring, hash, 1, &changed);
        if (sync_store_fatal(rc))
            return rc;
    }
    return STORE_OK;
}

/* Applies the oldest page, complete, in one transaction with the cursor. */
static int apply_page(pull_ctx *pc, page *pg)
{
    sync_engine *se = pc->se;
    int rc;

    rc = store_tx_begin(se->st);
    if (rc)
        return rc;
    /* Customers first: the work orders refer to them. */
    rc = apply_customers(se, pc, pg->cust, pg->ncust);
    for (size_t i = 0; rc == STORE_OK && pc->w[pg->phase].ent == ENT_WORK_ORDER && i < pg->k;
         i++) {
        cJSON *parsed = NULL;
        rc = apply_detail(se, pc, ENT_WORK_ORDER, pg->ids[i], &pg->det[i], &parsed);
        cJSON_Delete(parsed);
        if (!sync_store_fatal(rc))
            rc = STORE_OK;
        sync_progress_add(se, 1, 0, 0, 0);
    }
    if (rc == STORE_OK)
        rc = keep_summaries(se, pc, pg);
    if (rc == STORE_OK && pg->keep) {
        char key[64];

        snprintf(key, sizeof key, KEPT_KEY, pg->phase, (long long)pg->number);
        rc = store_meta_set(se->st, key, pg->keep);
        if (!sync_store_fatal(rc))
            rc = STORE_OK;   /* not kept: the next walk reads it whole */
    }
    if (rc == STORE_OK)
        rc = save_cursor(se, pc, pg->phase, pg->number + 1);
    if (rc == STORE_OK)
        return store_tx_commit(se->st);
    store_tx_rollback(se->st);
    return rc;
}

/* Starts nothing more and waits for the transfers still running (a cancel
 * aborts them at once), then drops the pages not applied. */
static void stop_pipeline(pull_ctx *pc)
{
    pc->stopping = 1;
    while (sync_remote_pump(pc->se->rm, &pc->stream, 250) > 0)
        ;
    for (int p = 0; p < pc->npages; p++)
        page_free(pc->pages[p]);
    pc->npages = 0;
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
    int rc = 0;
    char *cur = NULL;

    memset(&pc, 0, sizeof pc);
    pc.se = se;
    pc.complete = 1;
    pc.open_page = 1;
    pc.total_pages[0] = pc.total_pages[1] = -1;
    pc.totals[0] = pc.totals[1] = -1;
    pc.stream.next = pull_next;
    pc.stream.done = pull_done;
    pc.stream.ud = &pc;
    pc.stream.clk = &se->clk;
    pc.stream.bytes = &se->sum->bytes_down;
    if (sync_build_walks(se, sync_now(se), pc.w, &pc.nw, pc.scope, sizeof pc.scope)) {
        sync_set_error(se, "pull: scope ids too long");
        return 0;
    }
    /* Resume an interrupted walk of the same scope. */
    if (store_meta_get(se->st, CURSOR_KEY, &cur) == STORE_OK && cur && *cur) {
        long long g, p;
        int ph, complete, off = 0;
        if (sscanf(cur, "%lld %d %lld %d %n", &g, &ph, &p, &complete, &off) == 4 &&
            off > 0 && strcmp(cur + off, pc.scope) == 0 && ph >= 0 && ph < pc.nw &&
            p >= 1) {
            pc.gen = g;
            pc.complete = complete;
            pc.open_phase = ph;
            pc.open_page = p;
            SLOG(&se->log, SYNC_LOG_INFO, "pull: resuming at walk %d page %lld",
                 ph, p);
        }
    }
    free(cur);
    if (!pc.gen && (rc = store_pull_begin(se->st, &pc.gen)) != STORE_OK)
        goto out;

    for (;;) {
        page *pg;

        if (sync_cancelled(se) || se->auth_stop)
            goto interrupted;
        if (open_pages(&pc)) {
            sync_set_error(se, "pull: out of memory");
            goto interrupted;
        }
        if (pc.npages == 0)
            break;   /* every page applied, none left to open */
        pg = pc.pages[0];
        if (pg->list_state == LIST_FAILED)
            goto interrupted;   /* this page's list could not be read */
        if (pg->list_state != LIST_OK || pg->pending > 0) {
            sync_remote_pump(se->rm, &pc.stream, 250);
            continue;
        }
        rc = apply_page(&pc, pg);
        if (rc) {
            sync_set_error(se, "pull: store: %s", store_errmsg(se->st));
            goto out;
        }
        pc.open_in[pg->phase]--;
        memmove(pc.pages, pc.pages + 1, (size_t)--pc.npages * sizeof pc.pages[0]);
        page_free(pg);
    }
    /* The walk is over: forget the cursor; evict if it saw everything.
     * From now on the schedule keeps this scope fresh (revalidate.c). */
    rc = store_meta_set(se->st, CURSOR_KEY, "");
    if (rc == STORE_OK && pc.complete)
        rc = evict_all(se, &pc);
    if (rc == STORE_OK) {
        char id[1200];
        sync_scope_id(se, id, sizeof id);
        rc = store_meta_set(se->st, SYNC_STATE_WALKED, id);
    }
    if (rc == STORE_OK)
        rc = store_reval_prune(se->st);
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
    stop_pipeline(&pc);
    idset_free(&pc.customers_done);
    if (rc) {
        SLOG(&se->log, SYNC_LOG_ERROR, "pull: store failure: %s", store_errmsg(se->st));
        sync_set_error(se, "store: %s", store_errmsg(se->st));
        return -1;
    }
    return 0;
}
