/* routes.c — the local API's endpoints and matching a path against them (see routes.h). */
#include "agent/routes.h"

#include <stdio.h>
#include <string.h>

const routes_endpoint routes_table[] = {
    {ROUTE_CUSTOMERS, ROUTE_GET, "/api/v1/customers", "list customers"},
    {ROUTE_CUSTOMERS, ROUTE_POST, "/api/v1/customers", "create a customer"},
    {ROUTE_CUSTOMER, ROUTE_GET, "/api/v1/customers/{}", "one customer"},
    {ROUTE_CUSTOMER, ROUTE_PUT, "/api/v1/customers/{}", "update a customer"},
    {ROUTE_CUSTOMER, ROUTE_DELETE, "/api/v1/customers/{}", "delete a customer"},
    {ROUTE_CUSTOMER_CONTACTS, ROUTE_GET, "/api/v1/customers/{}/contacts",
     "list a customer's contacts"},
    {ROUTE_CUSTOMER_CONTACTS, ROUTE_POST, "/api/v1/customers/{}/contacts",
     "add a contact to a customer"},
    {ROUTE_CUSTOMER_ASSETS, ROUTE_GET, "/api/v1/customers/{}/assets", "list a customer's assets"},
    {ROUTE_CUSTOMER_WORK_ORDERS, ROUTE_GET, "/api/v1/customers/{}/work-orders",
     "list a customer's work orders"},
    {ROUTE_CONTACT, ROUTE_GET, "/api/v1/contacts/{}", "one contact"},
    {ROUTE_CONTACT, ROUTE_PUT, "/api/v1/contacts/{}", "update a contact"},
    {ROUTE_CONTACT, ROUTE_DELETE, "/api/v1/contacts/{}", "delete a contact"},
    {ROUTE_WORK_ORDERS, ROUTE_GET, "/api/v1/work-orders", "list work orders"},
    {ROUTE_WORK_ORDERS, ROUTE_POST, "/api/v1/work-orders", "create a work order"},
    {ROUTE_WORK_ORDER, ROUTE_GET, "/api/v1/work-orders/{}", "one work order"},
    {ROUTE_WORK_ORDER, ROUTE_PUT, "/api/v1/work-orders/{}", "update a work order"},
    {ROUTE_WORK_ORDER, ROUTE_DELETE, "/api/v1/work-orders/{}", "delete a work order"},
    {ROUTE_AGENT_STATUS, ROUTE_GET, "/agent/status", "the daemon's sync state"},
    {ROUTE_AGENT_SYNC, ROUTE_POST, "/agent/sync", "sync now (?wait=true: until done)"},
    {ROUTE_AGENT_OUTBOX, ROUTE_GET, "/agent/outbox", "list queued edits"},
    {ROUTE_AGENT_OUTBOX_OP, ROUTE_DELETE, "/agent/outbox/{}", "discard a queued edit"},
    {ROUTE_AGENT_OUTBOX_RETRY, ROUTE_POST, "/agent/outbox/{}/retry",
     "send a rejected edit again"},
    {ROUTE_AGENT_CONFLICTS, ROUTE_GET, "/agent/conflicts", "list recorded conflicts"},
    {ROUTE_AGENT_CONFLICT_RESOLVE, ROUTE_POST, "/agent/conflicts/{}/resolve",
     "settle an open conflict"},
    {ROUTE_AGENT_CONFLICT_ACK, ROUTE_POST, "/agent/conflicts/{}/ack",
     "acknowledge a conflict that discarded a local value"},
    {ROUTE_AGENT_EVENTS, ROUTE_GET, "/agent/events", "the event stream (text/event-stream)"},
};
const size_t routes_count = sizeof routes_table / sizeof routes_table[0];

const routes_endpoint *routes_find(routes_id route, int method)
{
    for (size_t i = 0; i < routes_count; i++)
        if (routes_table[i].route == route && routes_table[i].method == method)
            return &routes_table[i];
    return NULL;
}

/*
 * Whether path matches pattern segment by segment ("{}" matches one
 * non-empty segment of at most ROUTES_MAX_PARAM bytes, copied to param).
 */
static int match_pattern(const char *pattern, const char *path, char *param)
{
    const char *p = pattern, *s = path;

    param[0] = '\0';
    while (*p == '/' && *s == '/') {
        const char *pe = strchr(p + 1, '/'), *se = strchr(s + 1, '/');
        size_t pl = pe ? (size_t)(pe - p - 1) : strlen(p + 1);
        size_t sl = se ? (size_t)(se - s - 1) : strlen(s + 1);

        if (sl == 0)
            return 0;
        if (pl == 2 && memcmp(p + 1, "{}", 2) == 0) {
            if (sl > ROUTES_MAX_PARAM)
                return 0;
            memcpy(param, s + 1, sl);
            param[sl] = '\0';
        } else if (pl != sl || memcmp(p + 1, s + 1, sl) != 0) {
            return 0;
        }
        p += 1 + pl;
        s += 1 + sl;
    }
    return *p == '\0' && *s == '\0';
}

int routes_match(const char *path, routes_hit *out)
{
    memset(out, 0, sizeof *out);
    if (!path || path[0] != '/')
        return -1;
    for (size_t i = 0; i < routes_count; i++) {
        /* The endpoints of one route are adjacent: try each pattern once. */
        if (i > 0 && routes_table[i].route == routes_table[i - 1].route)
            continue;
        if (match_pattern(routes_table[i].pattern, path, out->param)) {
            out->id = routes_table[i].route;
            return 0;
        }
    }
    out->param[0] = '\0';
    return -1;
}

int routes_methods(routes_id id)
{
    int m = 0;
    for (size_t i = 0; i < routes_count; i++)
        if (routes_table[i].route == id)
            m |= routes_table[i].method;
    return m;
}

static const struct {
    int bit;
    const char *name;
} method_names[] = {{ROUTE_GET, "GET"}, {ROUTE_POST, "POST"}, {ROUTE_PUT, "PUT"},
                    {ROUTE_DELETE, "DELETE"}};

int routes_method_bit(const char *method)
{
    if (!method)
        return 0;
    if (strcmp(method, "HEAD") == 0)
        return ROUTE_GET;
    for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++)
        if (strcmp(method, method_names[i].name) == 0)
            return method_names[i].bit;
    return 0;
}

const char *routes_method_name(int bit)
{
    for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++)
        if (method_names[i].bit == bit)
            return method_names[i].name;
    return NULL;
}

void routes_allow_header(routes_id id, char *buf, size_t len)
{
    int m = routes_methods(id);
    size_t used = 0;
    if (!len)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++) {
        if (!(m & method_names[i].bit))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", method_names[i].name);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}
