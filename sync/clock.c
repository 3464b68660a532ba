/*
 * clock.c — the server's clock as seen through Date headers, for the lww
 * rule: a local edit time is compared with a remote updated_at only after
 * moving it onto the server's clock.  See sync_int.h for the estimator.
 */
#include <stdlib.h>
#include <string.h>

#include "sync/sync_int.h"

void sync_clock_init(sync_clock *c, int64_t loaded_offset_ms, int known)
{
    memset(c, 0, sizeof *c);
    c->offset_ms = known ? loaded_offset_ms : 0;
    c->known = known;
}

typedef struct {
    int64_t at;
    int delta;   /* +1 an interval opens, -1 one closes */
} edge;

static int cmp_edge(const void *a, const void *b)
{
    const edge *x = a, *y = b;

    if (x->at != y->at)
        return (x->at > y->at) - (x->at < y->at);
    return y->delta - x->delta;   /* closed intervals: opens before closes */
}

/* The middle of the first region covered by the most intervals. */
static int64_t marzullo(const sync_clock_iv *iv, int n)
{
    edge e[2 * SYNC_CLOCK_WINDOW];
    int depth = 0, best = 0;
    int64_t lo = iv[0].lo, hi = iv[0].hi;

    for (int i = 0; i < n; i++) {
        e[2 * i] = (edge){iv[i].lo, +1};
        e[2 * i + 1] = (edge){iv[i].hi, -1};
    }
    qsort(e, (size_t)(2 * n), sizeof e[0], cmp_edge);
    for (int i = 0; i < 2 * n; i++) {
        depth += e[i].delta;
        if (e[i].delta > 0 && depth > best) {
            best = depth;
            lo = e[i].at;
            hi = e[i + 1].at;   /* the next edge ends this region */
        }
    }
    return lo + (hi - lo) / 2;
}

void sync_clock_add(sync_clock *c, int64_t server_date_ms, int64_t sent_ms, int64_t recv_ms)
{
    sync_clock_iv s;

    if (recv_ms < sent_ms)   /* the wall clock stepped during the request */
        return;
    s.lo = server_date_ms - recv_ms;
    s.hi = server_date_ms + 1000 - sent_ms;
    if (c->n > 0 && c->date[c->last] == server_date_ms) {
        /* Same server second: both intervals hold the truth, so does their
         * intersection (if they do not meet, one was wrong: keep the new). */
        sync_clock_iv *o = &c->iv[c->last];
        if (s.lo <= o->hi && o->lo <= s.hi) {
            o->lo = o->lo > s.lo ? o->lo : s.lo;
            o->hi = o->hi < s.hi ? o->hi : s.hi;
        } else {
            *o = s;
        }
    } else {
        c->last = c->n == 0 ? 0 : (c->last + 1) % SYNC_CLOCK_WINDOW;
        c->iv[c->last] = s;
        c->date[c->last] = server_date_ms;
        if (c->n < SYNC_CLOCK_WINDOW)
            c->n++;
    }
    c->offset_ms = marzullo(c->iv, c->n);
    c->known = 1;
}

int64_t sync_clock_offset(const sync_clock *c)
{
    return c->known ? c->offset_ms : 0;
}
