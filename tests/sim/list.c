/* Paginated lists: {"data":[…],"meta":{"current_page","total_pages",
 * "total_count"}}, ordered by id (the seq behind it), with the filters the
 * routes add as parameterized conditions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MAX_PAGE 1000000000L   /* keeps OFFSET far from overflow */

void list_init(struct list_query *q, const char *select_cols, const char *from,
               const char *order, cJSON *(*row)(sqlite3_stmt *st))
{
    memset(q, 0, sizeof *q);
    q->select_cols = select_cols;
    q->from = from;
    q->order = order;
    q->row = row;
    snprintf(q->where, sizeof q->where, "1");
}

void list_join(struct list_query *q, const char *alias, const char *join)
{
    q->alias = alias;
    q->join = join;
}

/* appends " AND cond" and n parameters; -1 when the query is full (a
 * programming error: conditions come from code, not from requests) */
static int add_cond(struct list_query *q, const char *cond, const char *text,
                    int64_t num, int is_int, int n)
{
    size_t len = strlen(q->where);

    if (q->nbinds + n > LIST_MAX_BINDS ||
        len + strlen(cond) + 6 >= sizeof q->where) {
        sim_log("list query too long: %s", cond);
        return -1;
    }
    snprintf(q->where + len, sizeof q->where - len, " AND %s", cond);
    for (int i = 0; i < n; i++, q->nbinds++) {
        q->binds[q->nbinds] = text;
        q->int_binds[q->nbinds] = num;
        q->bind_is_int[q->nbinds] = is_int;
    }
    return 0;
}

int list_where(struct list_query *q, const char *cond, const char *value)
{
    return add_cond(q, cond, value, 0, 0, value ? 1 : 0);
}

int list_where_n(struct list_query *q, const char *cond, const char *value, int n)
{
    return add_cond(q, cond, value, 0, 0, n);
}

int list_where_int(struct list_query *q, const char *cond, int64_t value)
{
    return add_cond(q, cond, NULL, value, 1, 1);
}

/* a positive decimal integer without sign or spaces, as page and per_page
 * must be; 0 on success */
static int positive_int(const char *s, long *out)
{
    long v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > MAX_PAGE)
            return -1;
    }
    if (v < 1)
        return -1;
    *out = v;
    return 0;
}

int list_check_choice(struct sim_response *rs, const char *param,
                      const char *value, const char *const *choices)
{
    char msg[160];

    for (; *choices; choices++)
        if (strcmp(value, *choices) == 0)
            return 1;
    snprintf(msg, sizeof msg, "Invalid value for parameter %s", param);
    resp_error(rs, 400, "bad_request", msg, NULL);
    return 0;
}

static int bind_all(struct list_query *q, sqlite3_stmt *st)
{
    for (int i = 0; i < q->nbinds; i++) {
        int rc = q->bind_is_int[i] ? sqlite3_bind_int64(st, i + 1, q->int_binds[i])
                                   : sqlite3_bind_text(st, i + 1, q->binds[i], -1,
                                                       SQLITE_TRANSIENT);

        if (rc != SQLITE_OK)
            return -1;
    }
    return 0;
}

void list_respond(const struct sim_request *rq, struct sim_response *rs,
                  sqlite3 *db, struct list_query *q)
{
    long page = 1, per_page = SIM_DEFAULT_PER_PAGE;
    const char *v;
    char sql[1400];
    sqlite3_stmt *st;
    int64_t total = 0;
    cJSON *root = NULL, *data, *meta;
    int rc;

    if (req_query(rq, "page", &v) && positive_int(v, &page)) {
        resp_error(rs, 400, "bad_request", "page must be a positive integer", NULL);
        return;
    }
    if (req_query(rq, "per_page", &v) && positive_int(v, &per_page)) {
        resp_error(rs, 400, "bad_request", "per_page must be a positive integer", NULL);
        return;
    }
    if (per_page > SIM_MAX_PER_PAGE)
        per_page = SIM_MAX_PER_PAGE;

    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE %s", q->from, q->where);
    st = db_stmt(db, sql);
    if (!st || bind_all(q, st) || sqlite3_step(st) != SQLITE_ROW)
        goto fail;
    total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);

    /* The page is cut from the table alone, then joined: OFFSET skips
     * rows of one table rather than joined rows (a long walk of 470
     * pages of 47,000 work orders spent 80 ms a page on joins). */
    if (q->join)
        snprintf(sql, sizeof sql,
                 "SELECT %s FROM (SELECT * FROM %s WHERE %s ORDER BY %s LIMIT ? OFFSET ?)"
                 " AS %s %s ORDER BY %s",
                 q->select_cols, q->from, q->where, q->order, q->alias, q->join, q->order);
    else
        snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT ? OFFSET ?",
                 q->select_cols, q->from, q->where, q->order);
    st = db_stmt(db, sql);
    if (!st || bind_all(q, st) ||
        sqlite3_bind_int64(st, q->nbinds + 1, per_page) != SQLITE_OK ||
        sqlite3_bind_int64(st, q->nbinds + 2, (int64_t)(page - 1) * per_page) != SQLITE_OK)
        goto fail;
    root = cJSON_CreateObject();
    data = cJSON_AddArrayToObject(root, "data");
    if (!data)
        goto fail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *item = q->row(st);

        if (!item)
            goto fail;
        cJSON_AddItemToArray(data, item);
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);
    meta = cJSON_AddObjectToObject(root, "meta");
    if (!meta || !cJSON_AddNumberToObject(meta, "current_page", (double)page) ||
        !cJSON_AddNumberToObject(meta, "total_pages",
                                 (double)((total + per_page - 1) / per_page)) ||
        !cJSON_AddNumberToObject(meta, "total_count", (double)total))
        goto fail;
    resp_json(rs, 200, root);
    /* A page's ETag names its bytes, as a detail's does: a client that
     * kept the page asks again with If-None-Match and gets a 304. */
    resp_set_etag(rs, "list", total);
    return;
fail:
    if (st)
        sqlite3_reset(st);
    cJSON_Delete(root);
    resp_internal(rs);
}
