/*
 * revalidate.c — keeps a walked scope fresh within a request budget
 * (DESIGN §5 "Revalidation", docs/SYNC.md for the reasoning and figures).
 *
 * One scheduled cycle, every interval:
 *   1. lists: the hot list (the technician's work orders of today, plus
 *      the in_progress / on_hold ones scheduled on other days when the
 *      replica holds any), and the next page of the sweep (every list page
 *      of the scope, one page at a time, a page every sweep gap);
 *   2. details: records new to the scope and those whose list summary
 *      changed, at once; then those due by the schedule, hot first, most
 *      overdue first, while the budget has tokens;
 *   3. a customer's contacts and assets lists, only when its detail says
 *      they changed (its contacts differ from ours) or it is new.
 *
 * Which detail is due: a hot work order's at least every 10 intervals;
 * any other record i after an interval I_i = k / sqrt(w_i * l_i), clamped
 * to [10 intervals, max_age], where w_i is its importance (nearer
 * scheduled date first), l_i its observed change rate, and k is chosen so
 * that the intervals spend exactly what the budget leaves (Cho and
 * Garcia-Molina: revisit frequency growing as the square root of
 * importance times change rate).  When even max_age for everyone is more
 * than the budget allows, every record gets the same interval (uniform
 * beats proportional) and status says max_age cannot be met.
 *
 * Crash safety is the pull's: each list page is applied in one
 * transaction with the sweep's cursor, each detail in one transaction with
 * its check time and, for a summary that changed, the new summary.  A
 * crash between two steps loses nothing: a change hint not yet acted on is
 * still a difference next time, a new record is still new.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sync/remote.h"

#define PAGE_SIZE 100
#define SWEEP_KEY "sweep_cursor"
/* Hot details are revalidated at least every HOT_INTERVALS intervals. */
#define HOT_INTERVALS 10
/* Most list requests of one cycle (hot list, status lists, a sweep page). */
#define MAX_LISTS 4
/* A record's importance without a scheduled date (a branch's customer). */
#define W_UNDATED 0.05

/* What one row of the schedule is, in this cycle. */
typedef struct {
    store_reval_row *row;
    int hot;
    double w;            /* importance */
    double ivl;          /* revisit interval, ms */
    double overdue;      /* (now - checked) / ivl */
    int near_max_age;    /* never checked, or 90 % of max_age gone */
} slot;

/* A detail to fetch, and why. */
typedef struct {
    store_entity e;
    char id[160];
    char hash[17];       /* a changed summary to keep with it; "" if none */
    int is_new;          /* not in the replica: never held back */
    sync_remote_req req;
} want;

/* A customer whose children must be read. */
typedef struct {
    char id[160];
    int contacts, assets;
} kids;

typedef struct {
    sync_engine *se;
    int64_t now;                  /* wall ms */
    int64_t mono;
    char today[11];               /* the laptop's local date */
    char from[11], to[11];        /* the scope's window (server dates) */
    store_reval_row *rows;
    size_t n;
    store_reval_row **index;      /* rows by entity and id */
    slot *slots;
    size_t nhot;
    want *wants;
    size_t nwants, capwants;
    kids *kids;
    size_t nkids, capkids;
    double tokens;
    int64_t gen;                  /* the sweep's generation */
} rv_ctx;

/* ---- helpers ------------------------------------------------------------- */

void sync_summary_hash(const cJSON *item, char out[17])
{
    char *text = cJSON_PrintUnformatted(item);
    uint64_t h = 1469598103934665603ull;

    for (const char *p = text ? text : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    free(text);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* A number in [0, 1) fixed per record and per agent: the record's phase. */
static double phase_of(const sync_engine *se, store_entity e, const char *id)
{
    uint64_t h = se->phase_seed ^ ((uint64_t)e * 0x9E3779B97F4A7C15ull);

    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h ^= h >> 29;
    return (double)(h >> 11) / 9007199254740992.0;
}

static void local_day(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static void utc_day(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Days between two YYYY-MM-DD dates, absolute. */
static double day_distance(const char *a, const char *b)
{
    int64_t ma, mb;

    if (store_time_parse(a, &ma) != STORE_OK || store_time_parse(b, &mb) != STORE_OK)
        return -1;
    return fabs((double)(ma - mb)) / 86400000.0;
}

static int row_cmp(store_entity e1, const char *id1, store_entity e2, const char *id2)
{
    return e1 != e2 ? (e1 < e2 ? -1 : 1) : strcmp(id1, id2);
}

static int by_key(const void *a, const void *b)
{
    const store_reval_row *x = *(const store_reval_row *const *)a;
    const store_reval_row *y = *(const store_reval_row *const *)b;

    return row_cmp(x->entity, x->id, y->entity, y->id);
}

/* Indexes the rows by entity and id (a branch scope has tens of
 * thousands, looked up once per list item and per work order). */
static int index_rows(rv_ctx *c)
{
    free(c->index);
    if (!(c->index = calloc(c->n + 1, sizeof *c->index)))
        return -1;
    for (size_t i = 0; i < c->n; i++)
        c->index[i] = &c->rows[i];
    qsort(c->index, c->n, sizeof *c->index, by_key);
    return 0;
}

static store_reval_row *find_row(rv_ctx *c, store_entity e, const char *id)
{
    size_t lo = 0, hi = c->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = row_cmp(e, id, c->index[mid]->entity, c->index[mid]->id);
        if (d == 0)
            return c->index[mid];
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int stored(rv_ctx *c, store_entity e, const char *id)
{
    store_record r;
    int rc;

    if (find_row(c, e, id))
        return 1;
    memset(&r, 0, sizeof r);
    rc = store_record_get(c->se->st, e, id, &r);
    store_record_release(&r);
    return rc == STORE_OK;
}

/* Adds a detail to fetch, once. */
static int want_add(rv_ctx *c, store_entity e, const char *id, const char *hash, int is_new)
{
    want *w;

    if (strlen(id) >= sizeof w->id)
        return 0;
    for (size_t i = 0; i < c->nwants; i++)
        if (c->wants[i].e == e && strcmp(c->wants[i].id, id) == 0) {
            if (hash && *hash)
                snprintf(c->wants[i].hash, sizeof c->wants[i].hash, "%s", hash);
            return 0;
        }
    if (c->nwants == c->capwants) {
        size_t ncap = c->capwants ? c->capwants * 2 : 32;
        want *p = realloc(c->wants, ncap * sizeof *p);
        if (!p)
            return -1;
        c->wants = p;
        c->capwants = ncap;
    }
    w = &c->wants[c->nwants++];
    memset(w, 0, sizeof *w);
    w->e = e;
    snprintf(w->id, sizeof w->id, "%s", id);
    if (hash)
        snprintf(w->hash, sizeof w->hash, "%s", hash);
    w->is_new = is_new;
    return 0;
}

static int kids_add(rv_ctx *c, const char *id, int contacts, int assets)
{
    kids *k;

    for (size_t i = 0; i < c->nkids; i++)
        if (strcmp(c->kids[i].id, id) == 0) {
            c->kids[i].contacts |= contacts;
            c->kids[i].assets |= assets;
            return 0;
        }
    if (c->nkids == c->capkids) {
        size_t ncap = c->capkids ? c->capkids * 2 : 8;
        kids *p = realloc(c->kids, ncap * sizeof *p);
        if (!p)
            return -1;
        c->kids = p;
        c->capkids = ncap;
    }
    k = &c->kids[c->nkids++];
    snprintf(k->id, sizeof k->id, "%s", id);
    k->contacts = contacts;
    k->assets = assets;
    return 0;
}

/* ---- the plan: who is hot, and every record's revisit interval ------------ */

static int is_hot(const rv_ctx *c, const store_reval_row *r)
{
    const sync_engine *se = c->se;

    if (r->entity != ENT_WORK_ORDER || !se->technician_id || !r->technician_id ||
        strcmp(r->technician_id, se->technician_id) != 0)
        return 0;
    return strcmp(r->sched_day, c->today) == 0 ||
           (r->status && (strcmp(r->status, "in_progress") == 0 ||
                          strcmp(r->status, "on_hold") == 0));
}

/* Importance: 1 for today, falling with the distance in days. */
static double importance(const rv_ctx *c, const store_reval_row *r)
{
    double d = r->sched_day[0] ? day_distance(r->sched_day, c->today) : -1;

    return d < 0 ? W_UNDATED : 1.0 / (1.0 + d);
}

/*
 * Observed change rate (per ms): the changes seen plus one, over the time
 * watched plus the time since the last change.  A record untouched for a
 * month starts slow (RFC 9111's heuristic: fresh for a tenth of its age);
 * one seen changing twice in a day speeds up.
 */
static double change_rate(const rv_ctx *c, const store_reval_row *r)
{
    double since = r->updated_ms > 0 && c->now > r->updated_ms ? (double)(c->now - r->updated_ms)
                                                               : 0;
    double watched = r->first_ms >= 0 && c->now > r->first_ms ? (double)(c->now - r->first_ms)
                                                              : 0;
    double floor_ms = (double)c->se->interval_s * 1000.0;

    return ((double)r->changes + 1.0) / (since + watched + floor_ms);
}

/* Sum over the cold slots of 1 / clamp(k / s_i) (requests per ms). */
static double spend(const slot *sl, const double *s, size_t n, double k, double lo, double hi)
{
    double sum = 0;

    for (size_t i = 0; i < n; i++) {
        double iv;
        if (sl[i].hot)
            continue;
        iv = s[i] > 0 ? k / s[i] : hi;
        sum += 1.0 / (iv < lo ? lo : iv > hi ? hi : iv);
    }
    return sum;
}

/*
 * Gives every slot its interval.  rate: what the budget allows (per ms);
 * lists: list requests per interval (on average).  Returns the sweep's gap (ms) and
 * sets se->max_age_unmet.
 */
static double plan(rv_ctx *c, double rate, double lists, int64_t sweep_pages)
{
    sync_engine *se = c->se;
    double interval = (double)se->interval_s * 1000.0;
    double lo = HOT_INTERVALS * interval, hi = (double)se->max_age_s * 1000.0;
    double left, floor_rate, hot_rate, hot_ivl, sweep_rate, detail_rate, k, klo, khi, *s;
    size_t cold = 0;
    int unmet = 0;

    if (lo > hi)
        lo = hi;
    for (size_t i = 0; i < c->n; i++)
        cold += !c->slots[i].hot;
    /*
     * Shares, in this order: the lists; max_age for every record (N /
     * max_age, a small floor: 300 records a day is 12.5 an hour); a
     * quarter of the rest for the sweep (no more than a page an interval,
     * no less than a sweep per max_age); the hot details every 10
     * intervals, or as often as what is left allows; the rest, with the
     * floor, for the other details.
     */
    left = rate - lists / interval;
    floor_rate = (double)(c->n + (size_t)(sweep_pages > 0 ? sweep_pages : 0)) / hi;
    if (left < floor_rate)
        unmet = 1;
    left -= floor_rate;
    if (left < 0)
        left = 0;
    /* The sweep before the hot details: one page is a hundred records'
     * summaries for one request, the cheapest hint there is. */
    sweep_rate = left / 4;
    if (sweep_rate > 1.0 / interval)
        sweep_rate = 1.0 / interval;
    left -= sweep_rate;
    if (sweep_pages > 0 && sweep_rate < (double)sweep_pages / hi)
        sweep_rate = (double)sweep_pages / hi;
    hot_rate = (double)c->nhot / lo;
    if (hot_rate > left)
        hot_rate = left;
    left -= hot_rate;
    hot_ivl = c->nhot == 0 ? lo : hot_rate > 0 ? (double)c->nhot / hot_rate : hi;
    if (hot_ivl > hi)
        hot_ivl = hi;
    detail_rate = left + floor_rate * (double)cold / (double)(c->n ? c->n : 1);
    if (detail_rate < 0)
        detail_rate = 0;

    s = calloc(c->n ? c->n : 1, sizeof *s);
    for (size_t i = 0; i < c->n; i++) {
        slot *sl = &c->slots[i];
        if (sl->hot) {
            /* Spread over this agent's phase, never past the interval the
             * hot share allows (10 intervals when the budget is enough). */
            sl->ivl = hot_ivl * (0.7 + 0.3 * phase_of(se, sl->row->entity, sl->row->id));
            continue;
        }
        if (s)
            s[i] = sqrt(sl->w * change_rate(c, sl->row));
    }
    if (cold > 0 && (double)cold / hi >= detail_rate * 0.9999) {
        /* Not even max_age for all: the same interval for everyone. */
        double iv = detail_rate > 0 ? (double)cold / detail_rate : hi * 1000;
        unmet |= iv > hi * 1.001;
        for (size_t i = 0; i < c->n; i++)
            if (!c->slots[i].hot)
                c->slots[i].ivl = iv;
    } else if (cold > 0 && s) {
        double smin = INFINITY, smax = 0;
        for (size_t i = 0; i < c->n; i++)
            if (!c->slots[i].hot && s[i] > 0) {
                smin = s[i] < smin ? s[i] : smin;
                smax = s[i] > smax ? s[i] : smax;
            }
        if (smax <= 0)
            smin = smax = 1;
        /* spend() falls as k grows: bisect (in log space) for the k that
         * spends detail_rate. */
        klo = lo * smin;
        khi = hi * smax;
        if (spend(c->slots, s, c->n, klo, lo, hi) <= detail_rate) {
            khi = klo;
        } else {
            for (int it = 0; it < 60; it++) {
                double mid = sqrt(klo * khi);
                if (spend(c->slots, s, c->n, mid, lo, hi) > detail_rate)
                    klo = mid;
                else
                    khi = mid;
            }
        }
        k = khi;
        for (size_t i = 0; i < c->n; i++) {
            slot *sl = &c->slots[i];
            double iv;
            if (sl->hot)
                continue;
            iv = s[i] > 0 ? k / s[i] : hi;
            iv = iv < lo ? lo : iv > hi ? hi : iv;
            /* This agent's phase: a spread of intervals, never past max_age. */
            iv *= 0.75 + 0.25 * phase_of(se, sl->row->entity, sl->row->id);
            sl->ivl = iv;
        }
    } else {
        for (size_t i = 0; i < c->n; i++)
            if (!c->slots[i].hot)
                c->slots[i].ivl = hi;
    }
    free(s);
    for (size_t i = 0; i < c->n; i++) {
        slot *sl = &c->slots[i];
        sl->near_max_age = sl->row->checked_ms < 0 ||
                           (double)(c->now - sl->row->checked_ms) >= 0.9 * hi;
        if (sl->near_max_age && sl->ivl > 0.9 * hi)
            sl->ivl = 0.9 * hi;
        sl->overdue = sl->row->checked_ms < 0
                          ? 1e9 + sl->w
                          : (double)(c->now - sl->row->checked_ms) / (sl->ivl > 1 ? sl->ivl : 1);
    }
    se->max_age_unmet = unmet;
    return sweep_rate > 0 ? 1.0 / sweep_rate : hi;
}

/* ---- lists ----------------------------------------------------------------- */

typedef struct {
    sync_remote_req req;
    int sweep;            /* 1: a page of the sweep; 0: a hot list */
    int walk;             /* sweep: index of its walk */
    int64_t page;
    store_entity ent;
    int today;            /* the hot list of today (membership checked) */
} list_req;

/* The sweep's cursor: generation, walk, page, complete, the first page's
 * total of each walk, the page count of the last walk of each. */
typedef struct {
    int64_t gen;
    int walk;
    int64_t page;
    int complete;
    int64_t total[2], pages[2];
} sweep_cur;

static void sweep_load(sync_engine *se, sweep_cur *sc)
{
    char *v = NULL;
    long long g, p, t0, t1, p0, p1;
    int w, complete;

    memset(sc, 0, sizeof *sc);
    sc->page = 1;
    sc->complete = 1;
    sc->total[0] = sc->total[1] = -1;
    if (store_meta_get(se->st, SWEEP_KEY, &v) == STORE_OK && v &&
        sscanf(v, "%lld %d %lld %d %lld %lld %lld %lld", &g, &w, &p, &complete, &t0, &t1, &p0,
               &p1) == 8 && w >= 0 && w < 2 && p >= 1) {
        sc->gen = g;
        sc->walk = w;
        sc->page = p;
        sc->complete = complete;
        sc->total[0] = t0;
        sc->total[1] = t1;
        sc->pages[0] = p0;
        sc->pages[1] = p1;
    }
    free(v);
}

static int sweep_save(sync_engine *se, const sweep_cur *sc)
{
    char v[200];

    snprintf(v, sizeof v, "%lld %d %lld %d %lld %lld %lld %lld", (long long)sc->gen, sc->walk,
             (long long)sc->page, sc->complete, (long long)sc->total[0],
             (long long)sc->total[1], (long long)sc->pages[0], (long long)sc->pages[1]);
    return store_meta_set(se->st, SWEEP_KEY, v);
}

static int list_set(rv_ctx *c, list_req *l, store_entity e, const char *query, int64_t page)
{
    char path[900];

    snprintf(path, sizeof path, "/%s?%s%spage=%lld&per_page=%d",
             e == ENT_CUSTOMER ? "customers" : "work-orders", query, query[0] ? "&" : "",
             (long long)page, PAGE_SIZE);
    l->ent = e;
    l->page = page;
    return sync_remote_req_set(c->se->rm, &l->req, "GET", path);
}

/*
 * Reads one list item: a record new to the replica is wanted at once; one
 * whose summary differs from the last kept is wanted now, its summary
 * kept with its detail; the first summary of a record is simply kept.
 * A sweep marks the item (and a work order's customer) seen.  Returns
 * STORE_OK, 1 for an unreadable item, or a store rc.
 */
static int list_item(rv_ctx *c, const list_req *l, const cJSON *item, int64_t gen)
{
    sync_engine *se = c->se;
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(item, "id");
    const char *id, *cust = NULL;
    char hash[17], err[256];
    int changed = 0, rc;

    if (sync_record_ok(l->ent, item, 0, err, sizeof err) || !cJSON_IsString(jid))
        return 1;
    id = jid->valuestring;
    if (l->ent == ENT_WORK_ORDER) {
        const cJSON *co = cJSON_GetObjectItemCaseSensitive(item, "customer");
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(co, "id");
        if (cJSON_IsString(cid) && sync_id_ok(cid->valuestring))
            cust = cid->valuestring;
    } else {
        cust = id;
    }
    sync_summary_hash(item, hash);
    if (!stored(c, l->ent, id)) {
        /* Its summary is kept with its detail: a change after this list
         * and before the detail is then still a difference next time. */
        SLOG(&se->log, SYNC_LOG_DEBUG, "revalidate: %s %s is new", store_entity_name(l->ent), id);
        if (want_add(c, l->ent, id, hash, 1))
            return STORE_NOMEM;
    } else {
        rc = store_reval_summary(se->st, l->ent, id, hash, 0, &changed);
        if (rc == STORE_OK && !changed)
            rc = store_reval_summary(se->st, l->ent, id, hash, 1, &changed);
        if (sync_store_fatal(rc))
            return rc;
        if (changed && want_add(c, l->ent, id, hash, 0))
            return STORE_NOMEM;
        if (l->sweep && (rc = store_mark_seen(se->st, l->ent, id, gen)) != STORE_OK &&
            rc != STORE_NOTFOUND)
            return rc;
    }
    if (cust && l->ent == ENT_WORK_ORDER && !stored(c, ENT_CUSTOMER, cust) &&
        want_add(c, ENT_CUSTOMER, cust, NULL, 1))
        return STORE_NOMEM;
    if (cust && l->sweep) {
        rc = store_mark_seen(se->st, ENT_CUSTOMER, cust, gen);
        if (rc == STORE_OK)
            rc = store_mark_children_seen(se->st, cust, gen);
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            return rc;
    }
    return 0;
}

/* A hot work order of today missing from today's list moved (another day,
 * another technician, deleted): its detail says which. */
static int today_missing(rv_ctx *c, const cJSON *items)
{
    for (size_t i = 0; i < c->n; i++) {
        const store_reval_row *r = c->slots[i].row;
        const cJSON *item;
        int seen = 0;

        if (!c->slots[i].hot || strcmp(r->sched_day, c->today) != 0)
            continue;
        cJSON_ArrayForEach(item, items) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
            if (cJSON_IsString(id) && strcmp(id->valuestring, r->id) == 0) {
                seen = 1;
                break;
            }
        }
        if (!seen && want_add(c, ENT_WORK_ORDER, r->id, NULL, 0))
            return -1;
    }
    return 0;
}

/* Applies one list answer; a sweep page in one transaction with its cursor. */
static int apply_list(rv_ctx *c, list_req *l, sweep_cur *sc, int nwalks)
{
    sync_engine *se = c->se;
    char err[256];
    cJSON *root = NULL, *items;
    const cJSON *item;
    sync_list_meta m;
    int rc = STORE_OK, r;

    if (l->req.status > 0)
        se->sum->online = 1;
    if (sync_remote_classify(&l->req) == SYNC_REMOTE_AUTH)
        se->auth_stop = 1;
    if (sync_remote_classify(&l->req) != SYNC_REMOTE_OK ||
        !(root = sync_body_parse(l->req.resp, l->req.resp_len, 1, err, sizeof err)) ||
        sync_list_meta_get(root, &m, err, sizeof err)) {
        if (sync_remote_classify(&l->req) != SYNC_REMOTE_CANCELLED) {
            se->sum->errors++;
            SLOG(&se->log, SYNC_LOG_INFO, "revalidate: list %s: HTTP %ld %s", l->req.url,
                 l->req.status, l->req.err);
        }
        cJSON_Delete(root);
        return STORE_OK;   /* tried again next time */
    }
    items = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (l->sweep && (rc = store_tx_begin(se->st)) != STORE_OK) {
        cJSON_Delete(root);
        return rc;
    }
    cJSON_ArrayForEach(item, items) {
        r = list_item(c, l, item, l->sweep ? sc->gen : 0);
        if (r == 1) {
            sc->complete = 0;   /* an unreadable member: no eviction */
            se->sum->errors++;
            continue;
        }
        if (r != STORE_OK) {
            rc = r;
            break;
        }
    }
    if (rc == STORE_OK && l->today)
        rc = today_missing(c, items) ? STORE_NOMEM : STORE_OK;
    if (l->sweep && rc == STORE_OK) {
        if (sc->total[sc->walk] < 0 || sc->page == 1)
            sc->total[sc->walk] = m.total_count;
        else if (sc->total[sc->walk] != m.total_count)
            sc->complete = 0;   /* the list moved under the sweep */
        sc->pages[sc->walk] = m.total_pages;
        if (sc->page < m.total_pages) {
            sc->page++;
        } else if (sc->walk + 1 < nwalks) {
            sc->walk++;
            sc->page = 1;
        } else {
            /* The sweep is over: what it did not see left the scope. */
            if (sc->complete) {
                static const store_entity order[] = {ENT_WORK_ORDER, ENT_CONTACT, ENT_ASSET,
                                                     ENT_CUSTOMER};
                for (size_t i = 0; rc == STORE_OK && i < 4; i++) {
                    int64_t ev = 0;
                    rc = store_evict_unseen(se->st, order[i], sc->gen, &ev);
                    se->sum->evicted += ev;
                }
                if (rc == STORE_OK)
                    rc = store_reval_prune(se->st);
            }
            sc->gen = 0;   /* the next sweep begins a generation */
            sc->walk = 0;
            sc->page = 1;
            sc->complete = 1;
        }
        if (rc == STORE_OK)
            rc = sweep_save(se, sc);
        if (rc == STORE_OK)
            rc = store_tx_commit(se->st);
        else
            store_tx_rollback(se->st);
    }
    cJSON_Delete(root);
    return sync_store_fatal(rc) ? rc : STORE_OK;
}

/* ---- details ---------------------------------------------------------------- */

static int detail_set(rv_ctx *c, want *w)
{
    char esc[400], path[512], *etag = NULL;

    if (sync_remote_escape(w->id, esc, sizeof esc))
        return -1;
    snprintf(path, sizeof path, "/%s/%s", w->e == ENT_CUSTOMER ? "customers" : "work-orders",
             esc);
    if (sync_remote_req_set(c->se->rm, &w->req, "GET", path))
        return -1;
    w->req.max_body = SYNC_REMOTE_MAX_BODY_DETAIL;
    if (!w->is_new && store_record_etag(c->se->st, w->e, w->id, &etag) == STORE_OK && etag &&
        strlen(etag) < sizeof w->req.if_none_match)
        snprintf(w->req.if_none_match, sizeof w->req.if_none_match, "%s", etag);
    free(etag);
    return 0;
}

/* Is a work order (detail) still in the scope's window and technician? */
static int in_scope(rv_ctx *c, const cJSON *rec)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "technician");
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(t, "id");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(rec, "scheduled_date");
    int64_t ms;
    char day[11];

    if (!c->se->technician_id)
        return 1;
    if (!cJSON_IsString(tid) || strcmp(tid->valuestring, c->se->technician_id) != 0)
        return 0;
    if (!cJSON_IsString(sd) || store_time_parse(sd->valuestring, &ms) != STORE_OK)
        return 0;
    utc_day(ms, day);
    return strcmp(day, c->from) >= 0 && strcmp(day, c->to) <= 0;
}

/*
 * The contacts a customer's detail carries against ours: the detail has
 * every field of them but the timestamps, so when they are the same set
 * with the same values, the contacts list has nothing to tell.
 */
static int contacts_differ(rv_ctx *c, const char *cust, const cJSON *embedded)
{
    static const char *const fields[] = {"name", "title", "email", "phone", "is_primary"};
    store_query q;
    char *json = NULL;
    cJSON *ours = NULL, *data;
    const cJSON *e;
    int differ = 1;

    if (!cJSON_IsArray(embedded))
        return 1;
    memset(&q, 0, sizeof q);
    q.customer_id = cust;
    q.per_page = 100;
    if (store_list(c->se->st, ENT_CONTACT, &q, &json) != STORE_OK || !(ours = cJSON_Parse(json)))
        goto out;
    data = cJSON_GetObjectItemCaseSensitive(ours, "data");
    if (cJSON_GetArraySize(data) != cJSON_GetArraySize(embedded) ||
        cJSON_GetArraySize(embedded) >= 100)
        goto out;
    cJSON_ArrayForEach(e, embedded) {
        const cJSON *eid = cJSON_GetObjectItemCaseSensitive(e, "id"), *o, *match = NULL;
        cJSON_ArrayForEach(o, data) {
            const cJSON *oid = cJSON_GetObjectItemCaseSensitive(o, "id");
            if (cJSON_IsString(eid) && cJSON_IsString(oid) &&
                strcmp(eid->valuestring, oid->valuestring) == 0)
                match = o;
        }
        if (!match)
            goto out;
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
            if (!sync_json_equal(cJSON_GetObjectItemCaseSensitive(e, fields[f]),
                                 cJSON_GetObjectItemCaseSensitive(match, fields[f])))
                goto out;
    }
    differ = 0;
out:
    free(json);
    cJSON_Delete(ours);
    return differ;
}

/* Applies one detail answer in one transaction with its check time. */
static int apply_want(rv_ctx *c, want *w)
{
    sync_engine *se = c->se;
    sync_remote_class rc = sync_remote_classify(&w->req);
    store_upsert_result res = UPSERT_UNCHANGED;
    cJSON *root = NULL;
    const cJSON *data = NULL, *rid;
    char err[256];
    int src = STORE_OK, need_contacts = 0, changed;

    if (w->req.status > 0)
        se->sum->online = 1;
    if (rc == SYNC_REMOTE_AUTH)
        se->auth_stop = 1;
    if (rc == SYNC_REMOTE_OK) {
        root = sync_body_parse(w->req.resp, w->req.resp_len, 0, err, sizeof err);
        data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
        rid = cJSON_GetObjectItemCaseSensitive(data, "id");
        if (!data || sync_record_ok(w->e, data, 1, err, sizeof err) || !cJSON_IsString(rid) ||
            strcmp(rid->valuestring, w->id) != 0) {
            SLOG(&se->log, SYNC_LOG_WARN, "revalidate: %s %s skipped: %s",
                 store_entity_name(w->e), w->id, root ? err : "unparsable");
            se->sum->errors++;
            cJSON_Delete(root);
            return STORE_OK;
        }
    } else if (rc != SYNC_REMOTE_NOT_MODIFIED && rc != SYNC_REMOTE_NOT_FOUND) {
        if (rc != SYNC_REMOTE_CANCELLED)
            se->sum->errors++;
        return STORE_OK;   /* kept as it is; due again next cycle */
    }
    if ((src = store_tx_begin(se->st)) != STORE_OK) {
        cJSON_Delete(root);
        return src;
    }
    if (rc == SYNC_REMOTE_NOT_FOUND ||
        (rc == SYNC_REMOTE_OK && w->e == ENT_WORK_ORDER && !in_scope(c, data))) {
        /* Deleted remotely, or out of the technician's window now. */
        src = store_remote_gone(se->st, w->e, w->id);
        if (src == STORE_OK && rc == SYNC_REMOTE_NOT_FOUND)
            se->sum->deleted_remotely++;
        else if (src == STORE_OK)
            se->sum->evicted++;
        if (src == STORE_NOTFOUND)
            src = STORE_OK;
    } else if (rc == SYNC_REMOTE_NOT_MODIFIED) {
        se->sum->unchanged++;
        src = store_reval_checked(se->st, w->e, w->id, sync_now(se));
    } else {
        int is_cust = w->e == ENT_CUSTOMER;
        if (is_cust)
            need_contacts = w->is_new ||
                            contacts_differ(c, w->id,
                                            cJSON_GetObjectItemCaseSensitive(data, "contacts"));
        /* A customer's ETag is kept only when its children need no
         * reading: a later 304 must mean "children unchanged" too. */
        src = store_remote_upsert_item(se->st, w->e, data,
                                       w->req.etag[0] && !need_contacts && !w->is_new
                                           ? w->req.etag
                                           : NULL,
                                       NULL, c->gen, &res);
        if (src == STORE_OK && (res == UPSERT_APPLIED || res == UPSERT_REBASED))
            se->sum->pulled++;
        else if (src == STORE_OK)
            se->sum->unchanged++;
        if (src == STORE_OK)
            src = store_reval_checked(se->st, w->e, w->id, sync_now(se));
        if (src == STORE_OK && is_cust &&
            (need_contacts || res == UPSERT_APPLIED || res == UPSERT_REBASED) &&
            kids_add(c, w->id, need_contacts, w->is_new || res != UPSERT_UNCHANGED))
            src = STORE_NOMEM;
    }
    if (src == STORE_OK && w->hash[0])
        src = store_reval_summary(se->st, w->e, w->id, w->hash, 1, &changed);
    if (src == STORE_OK)
        src = store_tx_commit(se->st);
    else
        store_tx_rollback(se->st);
    if (src != STORE_OK && !sync_store_fatal(src)) {
        se->sum->errors++;
        SLOG(&se->log, SYNC_LOG_WARN, "revalidate: %s %s not stored: %s",
             store_entity_name(w->e), w->id, store_errmsg(se->st));
        src = STORE_OK;
    }
    cJSON_Delete(root);
    return src;
}

/* ---- a customer's children ---------------------------------------------------- */

/* Reads every page of a customer's contacts or assets list into *items.
 * 0, or -1 when a page did not come whole. */
static int read_children(rv_ctx *c, const char *cust, const char *what, cJSON **items)
{
    sync_engine *se = c->se;
    char esc[400], path[600], err[256];
    int64_t pages = 1;

    *items = cJSON_CreateArray();
    if (!*items || sync_remote_escape(cust, esc, sizeof esc))
        return -1;
    for (int64_t p = 1; p <= pages && p <= SYNC_MAX_CHILD_PAGES; p++) {
        sync_remote_req req, *rp = &req;
        cJSON *root = NULL, *it;
        sync_list_meta m;
        int ok;

        memset(&req, 0, sizeof req);
        snprintf(path, sizeof path, "/customers/%s/%s?page=%lld&per_page=%d", esc, what,
                 (long long)p, PAGE_SIZE);
        if (sync_remote_req_set(se->rm, &req, "GET", path))
            return -1;
        sync_run(se, &rp, 1);
        if (sync_remote_classify(&req) == SYNC_REMOTE_AUTH)
            se->auth_stop = 1;
        ok = sync_remote_classify(&req) == SYNC_REMOTE_OK &&
             (root = sync_body_parse(req.resp, req.resp_len, 1, err, sizeof err)) &&
             sync_list_meta_get(root, &m, err, sizeof err) == 0;
        sync_remote_req_clear(&req);
        if (!ok) {
            cJSON_Delete(root);
            se->sum->errors++;
            return -1;
        }
        pages = m.total_pages;
        while ((it = cJSON_DetachItemFromArray(cJSON_GetObjectItemCaseSensitive(root, "data"),
                                               0)))
            cJSON_AddItemToArray(*items, it);
        cJSON_Delete(root);
    }
    return 0;
}

/* Stores one list of children whole: each item upserted, ours that it no
 * longer has removed (gone remotely). */
static int apply_children(rv_ctx *c, const char *cust, store_entity e, const cJSON *items)
{
    sync_engine *se = c->se;
    store_query q;
    char *json = NULL, err[256];
    cJSON *ours = NULL;
    const cJSON *it, *o;
    int rc;

    memset(&q, 0, sizeof q);
    q.customer_id = cust;
    q.per_page = 100;
    cJSON_ArrayForEach(it, items) {
        store_upsert_result res;
        if (sync_record_ok(e, it, 0, err, sizeof err)) {
            se->sum->errors++;
            return STORE_OK;   /* not whole: nothing removed */
        }
        rc = store_remote_upsert_item(se->st, e, it, NULL, cust, c->gen, &res);
        if (rc != STORE_OK)
            return rc;
        if (res == UPSERT_APPLIED || res == UPSERT_REBASED)
            se->sum->pulled++;
    }
    for (int page = 1; page <= SYNC_MAX_CHILD_PAGES; page++) {
        int n;
        q.page = page;
        if ((rc = store_list(se->st, e, &q, &json)) != STORE_OK)
            return rc;
        ours = cJSON_Parse(json);
        free(json);
        json = NULL;
        n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ours, "data"));
        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(ours, "data")) {
            const cJSON *oid = cJSON_GetObjectItemCaseSensitive(o, "id");
            int found = 0;
            if (!cJSON_IsString(oid) || strncmp(oid->valuestring, "local-", 6) == 0)
                continue;
            cJSON_ArrayForEach(it, items) {
                const cJSON *iid = cJSON_GetObjectItemCaseSensitive(it, "id");
                if (cJSON_IsString(iid) && strcmp(iid->valuestring, oid->valuestring) == 0)
                    found = 1;
            }
            if (!found && (rc = store_remote_gone(se->st, e, oid->valuestring)) != STORE_OK &&
                rc != STORE_NOTFOUND) {
                cJSON_Delete(ours);
                return rc;
            }
        }
        cJSON_Delete(ours);
        if (n < 100)
            break;
    }
    return STORE_OK;
}

static int fetch_kids(rv_ctx *c, const kids *k)
{
    static const char *const what[2] = {"contacts", "assets"};
    static const store_entity ent[2] = {ENT_CONTACT, ENT_ASSET};
    sync_engine *se = c->se;
    int rc = STORE_OK;

    for (int i = 0; i < 2 && rc == STORE_OK && !se->auth_stop && !sync_cancelled(se); i++) {
        cJSON *items = NULL;
        if (!(i == 0 ? k->contacts : k->assets))
            continue;
        if (read_children(c, k->id, what[i], &items) == 0) {
            if ((rc = store_tx_begin(se->st)) == STORE_OK) {
                rc = apply_children(c, k->id, ent[i], items);
                if (rc == STORE_OK)
                    rc = store_tx_commit(se->st);
                else
                    store_tx_rollback(se->st);
            }
        }
        cJSON_Delete(items);
    }
    return sync_store_fatal(rc) ? rc : STORE_OK;
}

/* ---- the cycle --------------------------------------------------------------- */

/* Sorts due slots: those near max_age (or never checked) first, then
 * hot, then the most overdue. */
static int by_urgency(const void *a, const void *b)
{
    const slot *x = *(const slot *const *)a, *y = *(const slot *const *)b;

    if (x->near_max_age != y->near_max_age)
        return y->near_max_age - x->near_max_age;
    if (x->hot != y->hot)
        return y->hot - x->hot;
    return x->overdue < y->overdue ? 1 : x->overdue > y->overdue ? -1 : 0;
}

static int by_time(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* The check times (sorted) at the quantiles of age. */
static void quantiles(const int64_t *v, size_t n, int64_t *p50, int64_t *p95, int64_t *oldest,
                      int64_t *count)
{
    *count = (int64_t)n;
    if (!n)
        return;
    /* The oldest check is the largest age; the 5th percentile of check
     * times is the 95th of ages. */
    *oldest = v[0];
    *p95 = v[(size_t)(0.05 * (double)(n - 1))];
    *p50 = v[(size_t)(0.5 * (double)(n - 1))];
}

/* Freshness for status: the check times at the quantiles of age. */
static void freshness(rv_ctx *c)
{
    sync_engine *se = c->se;
    int64_t *all = calloc(c->n + 1, sizeof *all), *hot = calloc(c->n + 1, sizeof *hot);
    size_t na = 0, nh = 0;

    if (all && hot) {
        for (size_t i = 0; i < c->n; i++) {
            int64_t t = c->rows[i].checked_ms;
            if (t < 0)
                continue;
            all[na++] = t;
            if (c->slots[i].hot)
                hot[nh++] = t;
        }
        qsort(all, na, sizeof *all, by_time);
        qsort(hot, nh, sizeof *hot, by_time);
        pthread_mutex_lock(&se->mu);
        quantiles(all, na, &se->fresh_all.p50, &se->fresh_all.p95, &se->fresh_all.oldest,
                  &se->fresh_all.n);
        quantiles(hot, nh, &se->fresh_hot.p50, &se->fresh_hot.p95, &se->fresh_hot.oldest,
                  &se->fresh_hot.n);
        pthread_mutex_unlock(&se->mu);
    }
    free(all);
    free(hot);
}

/* Runs a batch of details and applies the answers. */
static int run_wants(rv_ctx *c, size_t from)
{
    sync_engine *se = c->se;
    size_t n = c->nwants - from, k = 0;
    sync_remote_req **reqs;
    int rc = STORE_OK;

    if (n == 0)
        return STORE_OK;
    if (!(reqs = calloc(n, sizeof *reqs)))
        return STORE_NOMEM;
    for (size_t i = from; i < c->nwants; i++)
        if (detail_set(c, &c->wants[i]) == 0)
            reqs[k++] = &c->wants[i].req;
    sync_run(se, reqs, k);
    /* Customers first: the work orders refer to them. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = from; i < c->nwants && rc == STORE_OK; i++) {
            want *w = &c->wants[i];
            if ((w->e == ENT_CUSTOMER) != (pass == 0) || !w->req.url)
                continue;
            rc = apply_want(c, w);
            sync_remote_req_clear(&w->req);
        }
    for (size_t i = from; i < c->nwants; i++)
        sync_remote_req_clear(&c->wants[i].req);
    free(reqs);
    return rc;
}

int sync_revalidate(sync_engine *se)
{
    rv_ctx c;
    sweep_cur sc;
    sync_walk walks[2];
    list_req lists[MAX_LISTS];
    sync_remote_req *lreqs[MAX_LISTS];
    slot **due = NULL;
    char scope[1024], tech[400];
    int nwalks = 0, nl = 0, rc = STORE_OK;
    int64_t server_now, sweep_pages = 0;
    double gap;
    int status_lists[2] = {0, 0};
    static const char *const status_name[2] = {"in_progress", "on_hold"};
    size_t ndue = 0;
    double today_gap, status_gap, rate, interval = (double)se->interval_s * 1000.0;

    memset(&c, 0, sizeof c);
    memset(lists, 0, sizeof lists);
    c.se = se;
    c.now = sync_now(se);
    c.mono = fs_mono_ms();
    local_day(c.now, c.today);
    server_now = c.now + sync_clock_offset(&se->clk);
    utc_day(server_now - (int64_t)se->days_back * 86400000, c.from);
    utc_day(server_now + (int64_t)se->days_ahead * 86400000, c.to);
    if (sync_build_walks(se, c.now, walks, &nwalks, scope, sizeof scope) ||
        (se->technician_id && sync_remote_escape(se->technician_id, tech, sizeof tech))) {
        sync_set_error(se, "revalidate: scope ids too long");
        return 0;
    }
    if ((rc = store_reval_rows(se->st, &c.rows, &c.n)) != STORE_OK)
        goto out;
    if (!(c.slots = calloc(c.n + 1, sizeof *c.slots)) ||
        !(due = calloc(c.n + 1, sizeof *due)) || index_rows(&c)) {
        rc = STORE_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < c.n; i++) {
        slot *sl = &c.slots[i];
        sl->row = &c.rows[i];
        sl->hot = is_hot(&c, sl->row);
        sl->w = sl->row->entity == ENT_WORK_ORDER ? importance(&c, sl->row) : W_UNDATED;
        c.nhot += (size_t)sl->hot;
        if (sl->hot && strcmp(sl->row->sched_day, c.today) != 0)
            status_lists[strcmp(sl->row->status, "on_hold") == 0] = 1;
    }
    /* A customer is as important as its most important work order. */
    for (size_t i = 0; i < c.n; i++) {
        const store_reval_row *r = &c.rows[i];
        store_reval_row *cr;
        if (r->entity == ENT_WORK_ORDER && r->customer_id &&
            (cr = find_row(&c, ENT_CUSTOMER, r->customer_id))) {
            slot *cs = &c.slots[cr - c.rows];
            if (c.slots[i].w > cs->w)
                cs->w = c.slots[i].w;
        }
    }

    sweep_load(se, &sc);
    for (int w = 0; w < nwalks; w++)
        sweep_pages += sc.pages[w] > 0 ? sc.pages[w] : 1;
    /* Today's list gets at most half of the budget, the status lists a
     * quarter: every interval when it is large enough, less often when not. */
    rate = sync_pace_rate(&se->pace, c.mono);
    today_gap = rate > 0 && 1.0 / (0.5 * rate) > interval ? 1.0 / (0.5 * rate) : interval;
    status_gap = interval;
    if (status_lists[0] + status_lists[1] > 0 && rate > 0 &&
        (double)(status_lists[0] + status_lists[1]) / (0.25 * rate) > status_gap)
        status_gap = (double)(status_lists[0] + status_lists[1]) / (0.25 * rate);
    gap = plan(&c, rate,
               (se->technician_id ? interval / today_gap : 0.0) +
                   (double)(status_lists[0] + status_lists[1]) * interval / status_gap,
               sweep_pages);
    c.tokens = sync_pace_tokens(&se->pace, c.mono);

    /* What is due, most urgent first. */
    for (size_t i = 0; i < c.n; i++)
        if (c.slots[i].overdue >= 1.0)
            due[ndue++] = &c.slots[i];
    qsort(due, ndue, sizeof *due, by_urgency);

    /* 1. Lists.  Today's hot list first, every interval while it takes
     * at most half the budget; the in_progress and on_hold lists of other
     * days at their own gap; the sweep's next page when due (its gap is
     * its share of the budget). */
    if (se->technician_id && c.mono >= se->today_next && c.tokens >= 1) {
        char q[600];
        snprintf(q, sizeof q, "technician_id=%s&from_date=%s&to_date=%s", tech, c.today,
                 c.today);
        if (list_set(&c, &lists[nl], ENT_WORK_ORDER, q, 1) == 0) {
            lists[nl].today = 1;
            nl++;
            c.tokens -= 1;
            /* Less than the gap: cycles come every interval +-10 %. */
            se->today_next = c.mono + (int64_t)(today_gap - 0.2 * interval);
        }
        /* Both status lists when they are due: the gap moves on once, after
         * both (moving it after the first kept on_hold from ever being read). */
        int status_due = c.mono >= se->status_next, listed = 0;
        for (int k = 0; k < 2 && status_due; k++) {
            if (!status_lists[k] || c.tokens < 1)
                continue;
            snprintf(q, sizeof q, "technician_id=%s&status=%s&from_date=%s&to_date=%s", tech,
                     status_name[k], c.from, c.to);
            if (list_set(&c, &lists[nl], ENT_WORK_ORDER, q, 1) == 0) {
                nl++;
                c.tokens -= 1;
                listed = 1;
            }
        }
        if (listed)
            se->status_next = c.mono + (int64_t)(status_gap - 0.2 * interval);
    }
    if (se->sweep_next < 0)   /* this agent's phase in the sweep's rhythm */
        se->sweep_next = c.mono + (int64_t)(gap * phase_of(se, ENT__COUNT, "sweep"));
    if (c.mono >= se->sweep_next && c.tokens >= 1 && nl < MAX_LISTS) {
        if (sc.walk >= nwalks) {
            sc.walk = 0;
            sc.page = 1;
        }
        if (!sc.gen && (rc = store_pull_begin(se->st, &sc.gen)) != STORE_OK)
            goto out;
        if (list_set(&c, &lists[nl], walks[sc.walk].ent, walks[sc.walk].query, sc.page) == 0) {
            lists[nl].sweep = 1;
            lists[nl].walk = sc.walk;
            nl++;
            c.tokens -= 1;
            se->sweep_next = c.mono + (int64_t)gap;
        }
    }
    c.gen = sc.gen;
    for (int i = 0; i < nl; i++)
        lreqs[i] = &lists[i].req;
    sync_run(se, lreqs, (size_t)nl);
    for (int i = 0; i < nl && rc == STORE_OK; i++)
        rc = apply_list(&c, &lists[i], &sc, nwalks);
    if (rc != STORE_OK || se->auth_stop || sync_cancelled(se))
        goto out;

    /* 2. Details: what the lists said first (never held back), then what
     * the schedule says is due, hot first, while the budget has tokens. */
    c.tokens -= (double)c.nwants;
    for (size_t i = 0; i < ndue && c.tokens >= 1; i++) {
        const store_reval_row *r = due[i]->row;
        size_t before = c.nwants;

        if (want_add(&c, r->entity, r->id, NULL, 0)) {
            rc = STORE_NOMEM;
            goto out;
        }
        if (c.nwants > before)
            c.tokens -= 1;
    }
    if ((rc = run_wants(&c, 0)) != STORE_OK)
        goto out;

    /* 3. Children of customers whose detail says they changed. */
    for (size_t i = 0; i < c.nkids && rc == STORE_OK && !se->auth_stop && !sync_cancelled(se);
         i++)
        rc = fetch_kids(&c, &c.kids[i]);
    if (rc != STORE_OK)
        goto out;

    se->sum->complete = 1;
out:
    for (int i = 0; i < MAX_LISTS; i++)
        sync_remote_req_clear(&lists[i].req);
    for (size_t i = 0; i < c.nwants; i++)
        sync_remote_req_clear(&c.wants[i].req);
    free(c.wants);
    free(c.kids);
    free(due);
    free(c.slots);
    free(c.index);
    store_reval_rows_free(c.rows, c.n);
    if (rc != STORE_OK && sync_store_fatal(rc)) {
        SLOG(&se->log, SYNC_LOG_ERROR, "revalidate: store failure: %s", store_errmsg(se->st));
        sync_set_error(se, "store: %s", store_errmsg(se->st));
        return -1;
    }
    return 0;
}

void sync_freshness_update(sync_engine *se)
{
    rv_ctx c;

    memset(&c, 0, sizeof c);
    c.se = se;
    c.now = sync_now(se);
    local_day(c.now, c.today);
    if (store_reval_rows(se->st, &c.rows, &c.n) != STORE_OK)
        return;
    if ((c.slots = calloc(c.n + 1, sizeof *c.slots))) {
        for (size_t i = 0; i < c.n; i++) {
            c.slots[i].row = &c.rows[i];
            c.slots[i].hot = is_hot(&c, &c.rows[i]);
        }
        freshness(&c);
    }
    free(c.slots);
    store_reval_rows_free(c.rows, c.n);
}
