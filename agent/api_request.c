/* api_request.c — routing, query and body checks, error bodies (see api_request.h). */
#include "agent/api_request.h"
#include "store/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The entity each record route serves. */
store_entity api_route_entity(routes_id id)
{
    switch (id) {
    case ROUTE_CUSTOMERS:
    case ROUTE_CUSTOMER:
        return ENT_CUSTOMER;
    case ROUTE_CUSTOMER_CONTACTS:
    case ROUTE_CONTACT:
        return ENT_CONTACT;
    case ROUTE_CUSTOMER_ASSETS:
        return ENT_ASSET;
    case ROUTE_CUSTOMER_WORK_ORDERS:
    case ROUTE_WORK_ORDERS:
    case ROUTE_WORK_ORDER:
        return ENT_WORK_ORDER;
    default:
        return ENT__COUNT;
    }
}

void api_query_set(api_query *q, const char *key, const char *value)
{
    static const struct {
        const char *name;
        size_t off;
    } known[] = {
        { "page", offsetof(api_query, page) },
        { "per_page", offsetof(api_query, per_page) },
        { "search", offsetof(api_query, search) },
        { "status", offsetof(api_query, status) },
        { "branch_id", offsetof(api_query, branch_id) },
        { "created_after", offsetof(api_query, created_after) },
        { "customer_id", offsetof(api_query, customer_id) },
        { "technician_id", offsetof(api_query, technician_id) },
        { "from_date", offsetof(api_query, from_date) },
        { "to_date", offsetof(api_query, to_date) },
        { "wait", offsetof(api_query, wait) },
        { "state", offsetof(api_query, state) },
    };
    if (!key)
        return;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(key, known[i].name) == 0) {
            *(const char **)((char *)q + known[i].off) = value ? value : "";
            return;
        }
    }
}

/* A whole number >= 1 (at most 9 digits, so it fits an int). */
static int parse_count(const char *v, int *out)
{
    long n;
    char *end;
    if (!v || !*v || strlen(v) > 9)
        return -1;
    for (const char *p = v; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || n < 1)
        return -1;
    *out = (int)n;
    return 0;
}

static int check_date(const char *v)
{
    int64_t ms;
    return (v && store_time_parse(v, &ms) == STORE_OK) ? 0 : -1;
}

int api_query_to_store(const api_query *q, routes_id route, store_query *sq,
                       const char **field, char *msg, size_t msglen)
{
    int is_wo = route == ROUTE_WORK_ORDERS || route == ROUTE_CUSTOMER_WORK_ORDERS;
    int is_cust = route == ROUTE_CUSTOMERS;

    memset(sq, 0, sizeof *sq);
    *field = NULL;
    if (q->page && parse_count(q->page, &sq->page) < 0) {
        *field = "page";
        snprintf(msg, msglen, "must be a whole number of at least 1");
        return -1;
    }
    if (q->per_page) {
        if (parse_count(q->per_page, &sq->per_page) < 0) {
            *field = "per_page";
            snprintf(msg, msglen, "must be a whole number from 1 to 100");
            return -1;
        }
        if (sq->per_page > 100)
            sq->per_page = 100;
    }
    if (is_cust) {
        sq->search = q->search;
        sq->status = q->status;
        sq->branch_id = q->branch_id;
        if (q->created_after && check_date(q->created_after) < 0) {
            *field = "created_after";
            snprintf(msg, msglen, "must be a date (YYYY-MM-DD) or an RFC 3339 time");
            return -1;
        }
        sq->created_after = q->created_after;
    }
    if (is_wo) {
        sq->status = q->status;
        sq->technician_id = q->technician_id;
        if (route == ROUTE_WORK_ORDERS)
            sq->customer_id = q->customer_id;
        if (q->from_date && check_date(q->from_date) < 0) {
            *field = "from_date";
            snprintf(msg, msglen, "must be a date (YYYY-MM-DD)");
            return -1;
        }
        if (q->to_date && check_date(q->to_date) < 0) {
            *field = "to_date";
            snprintf(msg, msglen, "must be a date (YYYY-MM-DD)");
            return -1;
        }
        sq->from_date = q->from_date;
        sq->to_date = q->to_date;
    }
    return 0;
}

int api_parse_bool(const char *v)
{
    if (!v)
        return 0;
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !*v)
        return 1;
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))
        return 0;
    return -1;
}

cJSON *api_parse_body(const char *buf, size_t len, char *why, size_t whylen)
{
    const char *end = NULL;
    cJSON *root;

    if (!buf || len == 0) {
        snprintf(why, whylen, "the request body is empty; expected a JSON object");
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        snprintf(why, whylen, "the request body contains a NUL byte");
        return NULL;
    }
    root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!root) {
        snprintf(why, whylen, "the request body is not valid JSON");
        return NULL;
    }
    while (end && (size_t)(end - buf) < len &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (!end || (size_t)(end - buf) != len) {
        snprintf(why, whylen, "the request body has data after the JSON value");
        goto bad;
    }
    if (!cJSON_IsObject(root)) {
        snprintf(why, whylen, "the request body must be a JSON object");
        goto bad;
    }
    if (fs_json_dup_key(root)) {
        snprintf(why, whylen, "the request body repeats a key in an object");
        goto bad;
    }
    return root;
bad:
    cJSON_Delete(root);
    return NULL;
}

const char *api_error_code(unsigned status)
{
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 422: return "validation_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "internal_error" : "bad_request";
    }
}

char *api_error_json(const char *code, const char *message, const char *details_json)
{
    cJSON *root = cJSON_CreateObject(), *err, *details = NULL;
    char *out = NULL;

    if (!root)
        return NULL;
    err = cJSON_AddObjectToObject(root, "error");
    if (!err || !cJSON_AddStringToObject(err, "code", code) ||
        !cJSON_AddStringToObject(err, "message", message))
        goto out;
    if (details_json) {
        details = cJSON_Parse(details_json);
        if (details && cJSON_IsArray(details)) {
            cJSON_AddItemToObject(err, "details", details);
            details = NULL;
        }
    }
    out = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(details);
    cJSON_Delete(root);
    return out;
}

char *api_details_one(const char *field, const char *message)
{
    cJSON *arr = cJSON_CreateArray(), *item = cJSON_CreateObject();
    char *out = NULL;
    if (!arr || !item) {
        cJSON_Delete(arr);
        cJSON_Delete(item);
        return NULL;
    }
    cJSON_AddItemToArray(arr, item);
    if (cJSON_AddStringToObject(item, "field", field) && cJSON_AddStringToObject(item, "message", message))
        out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return out;
}
