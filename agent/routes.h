/*
 * routes.h — the one description of the local API's routes: for each
 * endpoint its method, its path pattern and what it is.  Compiled into
 * both programs (like paths.h): fieldsyncd matches requests against it
 * (routes_match, the methods of a route and its Allow header), and each
 * command of fieldsync names the endpoint it calls (route and method), its
 * path coming from here; the bash completion is generated from the CLI's
 * command table.  So the daemon, the CLI and the completion cannot drift.
 *
 * Needs only libc.
 */
#ifndef FIELDSYNC_AGENT_ROUTES_H
#define FIELDSYNC_AGENT_ROUTES_H

#include <stddef.h>

#define ROUTES_MAX_PARAM 128 /* bytes of a path parameter; a longer one is 404 */

/* The routes (path patterns).  The /agent routes come last, from
 * ROUTE_AGENT_STATUS on: the daemon serves them apart from the records. */
typedef enum {
    ROUTE_NONE = 0,
    ROUTE_CUSTOMERS,              /* /api/v1/customers */
    ROUTE_CUSTOMER,               /* /api/v1/customers/{} */
    ROUTE_CUSTOMER_CONTACTS,      /* /api/v1/customers/{}/contacts */
    ROUTE_CUSTOMER_ASSETS,        /* /api/v1/customers/{}/assets */
    ROUTE_CUSTOMER_WORK_ORDERS,   /* /api/v1/customers/{}/work-orders */
    ROUTE_CONTACT,                /* /api/v1/contacts/{} */
    ROUTE_WORK_ORDERS,            /* /api/v1/work-orders */
    ROUTE_WORK_ORDER,             /* /api/v1/work-orders/{} */
    ROUTE_AGENT_STATUS,           /* /agent/status */
    ROUTE_AGENT_SYNC,             /* /agent/sync */
    ROUTE_AGENT_OUTBOX,           /* /agent/outbox */
    ROUTE_AGENT_OUTBOX_OP,        /* /agent/outbox/{} */
    ROUTE_AGENT_OUTBOX_RETRY,     /* /agent/outbox/{}/retry */
    ROUTE_AGENT_CONFLICTS,        /* /agent/conflicts */
    ROUTE_AGENT_CONFLICT_RESOLVE, /* /agent/conflicts/{}/resolve */
    ROUTE_AGENT_CONFLICT_ACK,     /* /agent/conflicts/{}/ack */
    ROUTE_AGENT_EVENTS,           /* /agent/events */
    ROUTE__COUNT
} routes_id;

/* Methods as a bit set, for routing and the Allow header. */
enum { ROUTE_GET = 1, ROUTE_POST = 2, ROUTE_PUT = 4, ROUTE_DELETE = 8 };

/* One endpoint: a method on a route. */
typedef struct routes_endpoint {
    routes_id route;
    int method;          /* one ROUTE_* bit */
    const char *pattern; /* "/api/v1/customers/{}": "{}" is the path parameter */
    const char *what;    /* one line */
} routes_endpoint;

/* Every endpoint, in route order; routes_count of them. */
extern const routes_endpoint routes_table[];
extern const size_t routes_count;

/* The endpoint of a route and method, or NULL when the route has none. */
const routes_endpoint *routes_find(routes_id route, int method);

/* A matched request path: the route and its parameter ("" if none). */
typedef struct routes_hit {
    routes_id id;
    char param[ROUTES_MAX_PARAM + 1];
} routes_hit;

/* Matches a decoded path; 0 with *out filled, or -1 (404). */
int routes_match(const char *path, routes_hit *out);
/* The methods a route answers (ROUTE_* bits). */
int routes_methods(routes_id id);
/* The ROUTE_* bit of an HTTP method; HEAD counts as GET; 0 if unknown. */
int routes_method_bit(const char *method);
/* The name of one ROUTE_* bit ("GET"), NULL for anything else. */
const char *routes_method_name(int bit);
/* The Allow header value for a route, e.g. "GET, POST". */
void routes_allow_header(routes_id id, char *buf, size_t len);

#endif /* FIELDSYNC_AGENT_ROUTES_H */
