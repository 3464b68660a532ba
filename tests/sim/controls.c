/* The test controls under /__sim/: faults, state, stats, log, reset.
 * They need no key and are never subject to faults, so a test can always
 * steer the sim, even while it plays "offline". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MAX_SEED_COUNT 1000000

int sim_reseed(struct sim *sim, const struct seed_params *p)
{
    int rc;

    pthread_mutex_lock(&sim->db_lock);
    rc = db_begin(sim->db) || db_clear(sim->db) || seed_generate(sim->db, p) ||
         db_commit(sim->db);
    if (rc)
        db_rollback(sim->db);
    pthread_mutex_unlock(&sim->db_lock);
    return rc ? -1 : 0;
}

/* appends fn(row) for each row of sql to arr; 0 or -1 */
static int append_rows(sqlite3 *db, const char *sql, cJSON *(*fn)(sqlite3_stmt *),
                       cJSON *arr)
{
    sqlite3_stmt *st = db_stmt(db, sql);

    return st ? rec_append_rows(st, fn, arr) : -1;
}

/* appends the detail of each id the query lists; 0 or -1 */
static int append_details(sqlite3 *db, const char *sql, rec_detail_fn fn, cJSON *arr)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    int rc;

    if (!st || !arr)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *item = NULL;

        /* the detail queries are other statements: this one stays on its row */
        if (fn(db, db_col_text(st, 0), &item, NULL) || !item ||
            !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            sqlite3_reset(st);
            return -1;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static cJSON *id_name_row(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddStringToObject(o, "id", db_col_text(st, 0)) ||
        !cJSON_AddStringToObject(o, "name", db_col_text(st, 1))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *id_row(sqlite3_stmt *st)
{
    return cJSON_CreateString(db_col_text(st, 0));
}

static cJSON *state_json(sqlite3 *db)
{
    cJSON *o = cJSON_CreateObject(), *trash;
    char sql[256];
    int bad = !o;

    bad = bad || append_details(db, "SELECT id FROM customers WHERE deleted = 0 ORDER BY seq",
                                rec_customer_detail, cJSON_AddArrayToObject(o, "customers"));
    snprintf(sql, sizeof sql, "SELECT %s FROM contacts WHERE deleted = 0 ORDER BY seq",
             REC_CONTACT_COLS);
    bad = bad || append_rows(db, sql, rec_contact_row, cJSON_AddArrayToObject(o, "contacts"));
    snprintf(sql, sizeof sql, "SELECT %s FROM assets WHERE deleted = 0 ORDER BY seq",
             REC_ASSET_COLS);
    bad = bad || append_rows(db, sql, rec_asset_row, cJSON_AddArrayToObject(o, "assets"));
    bad = bad || append_details(db, "SELECT id FROM work_orders WHERE deleted = 0 ORDER BY seq",
                                rec_work_order_detail,
                                cJSON_AddArrayToObject(o, "work_orders"));
    bad = bad || append_rows(db, "SELECT id, name FROM technicians ORDER BY seq", id_name_row,
                             cJSON_AddArrayToObject(o, "technicians"));
    bad = bad || append_rows(db, "SELECT id, name FROM branches ORDER BY seq", id_name_row,
                             cJSON_AddArrayToObject(o, "branches"));
    trash = bad ? NULL : cJSON_AddObjectToObject(o, "trash");
    bad = bad || !trash ||
          append_rows(db, "SELECT id FROM customers WHERE deleted = 1 ORDER BY seq", id_row,
                      cJSON_AddArrayToObject(trash, "customers")) ||
          append_rows(db, "SELECT id FROM contacts WHERE deleted = 1 ORDER BY seq", id_row,
                      cJSON_AddArrayToObject(trash, "contacts")) ||
          append_rows(db, "SELECT id FROM work_orders WHERE deleted = 1 ORDER BY seq", id_row,
                      cJSON_AddArrayToObject(trash, "work_orders"));
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* reads the optional reset body over the configured seed parameters;
 * 0, or -1 after answering 400 */
static int reset_params(const struct sim_request *rq, struct sim_response *rs,
                        struct seed_params *p)
{
    static const char *const keys[] = {"seed", "customers", "work_orders", "technicians"};
    cJSON *body;

    *p = rq->sim->cfg.seed;
    if (!rq->body || rq->body_len == 0)
        return 0;
    body = req_json_object(rq, rs);
    if (!body)
        return -1;
    for (const cJSON *c = body->child; c; c = c->next) {
        size_t k;
        double v = c->valuedouble;
        double max = 0;

        for (k = 0; k < 4 && strcmp(c->string, keys[k]) != 0; k++)
            ;
        if (k < 4)
            max = k == 0 ? 9007199254740991.0 : k == 3 ? 999 : MAX_SEED_COUNT;
        if (k == 4 || !cJSON_IsNumber(c) || v != floor(v) || v < 0 || v > max) {
            char msg[160];

            snprintf(msg, sizeof msg, k == 4 ? "unknown reset setting %.100s"
                                             : "%.100s must be an integer from 0 to %.0f",
                     c->string, max);
            resp_error(rs, 400, "bad_request", msg, NULL);
            cJSON_Delete(body);
            return -1;
        }
        if (k == 0)
            p->seed = (uint64_t)v;
        else
            *(k == 1 ? &p->customers : k == 2 ? &p->work_orders : &p->technicians) = (int)v;
    }
    cJSON_Delete(body);
    return 0;
}

static void do_reset(const struct sim_request *rq, struct sim_response *rs)
{
    struct sim *sim = rq->sim;
    struct seed_params p;
    cJSON *o;

    if (reset_params(rq, rs, &p))
        return;
    if (sim_reseed(sim, &p)) {
        resp_internal(rs);
        return;
    }
    faults_clear(sim->faults, p.seed);
    stats_clear(sim->stats, 1);
    if (sim->ratelimit)
        ratelimit_refill(sim->ratelimit);
    churn_reset(sim->churn, p.seed);
    o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "seed", (double)p.seed) ||
        !cJSON_AddNumberToObject(o, "customers", p.customers) ||
        !cJSON_AddNumberToObject(o, "work_orders", p.work_orders) ||
        !cJSON_AddNumberToObject(o, "technicians", p.technicians)) {
        cJSON_Delete(o);
        resp_internal(rs);
        return;
    }
    resp_json(rs, 200, o);
}

static void do_faults(const struct sim_request *rq, struct sim_response *rs, int method)
{
    struct sim *sim = rq->sim;
    char err[200];
    cJSON *body;

    if (method == 'P') {
        body = req_json_object(rq, rs);
        if (!body)
            return;
        if (faults_set(sim->faults, body, err, sizeof err)) {
            cJSON_Delete(body);
            resp_error(rs, 400, "bad_request", err, NULL);
            return;
        }
        cJSON_Delete(body);
    } else if (method == 'D') {
        faults_clear(sim->faults, sim->cfg.seed.seed);
    }
    resp_json(rs, 200, faults_json(sim->faults));
}

/* the "since" query parameter (0 when absent); 0, or -1 after a 400 */
static int since_param(const struct sim_request *rq, struct sim_response *rs,
                       unsigned long long *since)
{
    const char *v;
    char *end;

    *since = 0;
    if (req_query(rq, "since", &v)) {
        *since = strtoull(v, &end, 10);
        if (!*v || *end || *v == '-') {
            resp_error(rs, 400, "bad_request", "since must be a sequence number", NULL);
            return -1;
        }
    }
    return 0;
}

static void do_log(const struct sim_request *rq, struct sim_response *rs)
{
    unsigned long long since;

    if (since_param(rq, rs, &since) == 0)
        resp_json(rs, 200, stats_log_json(rq->sim->stats, since));
}

static void do_changes(const struct sim_request *rq, struct sim_response *rs)
{
    unsigned long long since;

    if (since_param(rq, rs, &since) == 0)
        resp_json(rs, 200, churn_changes_json(rq->sim->churn, since));
}

static void do_churn(const struct sim_request *rq, struct sim_response *rs, int post)
{
    char err[200];
    cJSON *body;

    if (post) {
        body = req_json_object(rq, rs);
        if (!body)
            return;
        if (churn_set(rq->sim->churn, body, err, sizeof err)) {
            cJSON_Delete(body);
            resp_error(rs, 400, "bad_request", err, NULL);
            return;
        }
        cJSON_Delete(body);
    }
    resp_json(rs, 200, churn_json(rq->sim->churn));
}

void controls_handle(const struct sim_request *rq, struct sim_response *rs)
{
    static const struct {
        const char *path, *allow;
    } controls[] = {
        {"/__sim/faults", "GET, POST, DELETE"}, {"/__sim/state", "GET"},
        {"/__sim/stats", "GET, DELETE"},        {"/__sim/reset", "POST"},
        {"/__sim/log", "GET"},                  {"/__sim/changes", "GET"},
        {"/__sim/churn", "GET, POST"},
    };
    const size_t ncontrols = sizeof controls / sizeof controls[0];
    struct sim *sim = rq->sim;
    const char *m = rq->method;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    int post = strcmp(m, "POST") == 0, del = strcmp(m, "DELETE") == 0;
    size_t i;

    for (i = 0; i < ncontrols && strcmp(rq->path, controls[i].path) != 0; i++)
        ;
    if (i == ncontrols) {
        resp_error(rs, 404, "not_found", "No such control", NULL);
        return;
    }
    if (i == 0 && (get || post || del)) {
        do_faults(rq, rs, get ? 'G' : post ? 'P' : 'D');
    } else if (i == 1 && get) {
        pthread_mutex_lock(&sim->db_lock);
        resp_json(rs, 200, state_json(sim->db));
        pthread_mutex_unlock(&sim->db_lock);
    } else if (i == 2 && (get || del)) {
        cJSON *st;

        if (del)
            stats_clear(sim->stats, 0);
        st = stats_json(sim->stats);
        /* requests waiting out a latency fault: lets a test know one is in */
        if (st && !cJSON_AddNumberToObject(st, "delayed", delays_pending(sim->delays))) {
            cJSON_Delete(st);
            st = NULL;
        }
        /* the key's bucket now, with --rate-limit; null without */
        if (st && !(sim->ratelimit
                        ? cJSON_AddItemToObject(st, "rate_limit", ratelimit_json(sim->ratelimit))
                        : cJSON_AddNullToObject(st, "rate_limit") != NULL)) {
            cJSON_Delete(st);
            st = NULL;
        }
        resp_json(rs, 200, st);
    } else if (i == 3 && post) {
        do_reset(rq, rs);
    } else if (i == 4 && get) {
        do_log(rq, rs);
    } else if (i == 5 && get) {
        do_changes(rq, rs);
    } else if (i == 6 && (get || post)) {
        do_churn(rq, rs, post);
    } else {
        snprintf(rs->allow, sizeof rs->allow, "%s", controls[i].allow);
        resp_error(rs, 405, "method_not_allowed", "Method not allowed", NULL);
    }
}
