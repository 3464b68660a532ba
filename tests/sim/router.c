/* The API's routes: path templates with at most one {id} segment, and the
 * handler for each method. */
#include <stdio.h>
#include <string.h>

#include "sim.h"

struct route {
    const char *template;      /* as shown in stats */
    const char *prefix;        /* the path up to {id} (or all of it) */
    const char *suffix;        /* after {id}; NULL when there is no {id} */
    route_handler get, post, put, del;
};

static const struct route routes[] = {
    {"/api/v1/customers", "/api/v1/customers", NULL,
     customers_list, customers_create, NULL, NULL},
    {"/api/v1/customers/{id}", "/api/v1/customers/", "",
     customers_get, NULL, customers_update, customers_delete},
    {"/api/v1/customers/{id}/contacts", "/api/v1/customers/", "/contacts",
     contacts_list, contacts_create, NULL, NULL},
    {"/api/v1/customers/{id}/assets", "/api/v1/customers/", "/assets",
     customers_assets, NULL, NULL, NULL},
    {"/api/v1/customers/{id}/work-orders", "/api/v1/customers/", "/work-orders",
     customers_work_orders, NULL, NULL, NULL},
    {"/api/v1/contacts/{id}", "/api/v1/contacts/", "",
     NULL, NULL, contacts_update, contacts_delete},
    {"/api/v1/work-orders", "/api/v1/work-orders", NULL,
     work_orders_list, work_orders_create, NULL, NULL},
    {"/api/v1/work-orders/{id}", "/api/v1/work-orders/", "",
     work_orders_get, NULL, work_orders_update, work_orders_delete},
};
#define N_ROUTES ((int)(sizeof routes / sizeof routes[0]))

int router_count(void)
{
    return N_ROUTES;
}

const char *router_template(int route)
{
    return route >= 0 && route < N_ROUTES ? routes[route].template : "(unmatched)";
}

/* the {id} of path for r into id; 1 when path fits the template */
static int fits(const struct route *r, const char *path, char *id, size_t idsz)
{
    size_t plen = strlen(r->prefix);
    const char *seg, *end;

    if (strncmp(path, r->prefix, plen) != 0)
        return 0;
    if (!r->suffix)
        return path[plen] == '\0';
    seg = path + plen;
    end = strchr(seg, '/');
    if (!end)
        end = seg + strlen(seg);
    if (end == seg || (size_t)(end - seg) >= idsz || strcmp(end, r->suffix) != 0)
        return 0;
    memcpy(id, seg, (size_t)(end - seg));
    id[end - seg] = '\0';
    return 1;
}

void router_match(const char *path, const char *method, struct route_match *m)
{
    memset(m, 0, sizeof *m);
    m->route = ROUTE_UNMATCHED;
    for (int i = 0; i < N_ROUTES; i++) {
        const struct route *r = &routes[i];
        size_t len = 0;

        if (!fits(r, path, m->id, sizeof m->id))
            continue;
        m->route = i;
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
            m->handler = r->get;
        else if (strcmp(method, "POST") == 0)
            m->handler = r->post;
        else if (strcmp(method, "PUT") == 0)
            m->handler = r->put;
        else if (strcmp(method, "DELETE") == 0)
            m->handler = r->del;
#define ALLOW(h, name)                                                              \
    if (r->h)                                                                       \
        len += (size_t)snprintf(m->allow + len, sizeof m->allow - len, "%s%s",      \
                                len ? ", " : "", name)
        ALLOW(get, "GET, HEAD");
        ALLOW(post, "POST");
        ALLOW(put, "PUT");
        ALLOW(del, "DELETE");
#undef ALLOW
        return;
    }
}
