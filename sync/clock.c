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

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void sync_clock_add(sync_clock *c, int64_t server_date_ms, int64_t local_mid_ms)
{
    int64_t sorted[SYNC_CLOCK_WINDOW];

    /* A Date names the second in which the server wrote it: on average it
     * was half a second later than the header says. */
    c->samples[c->next] = server_date_ms + 500 - local_mid_ms;
    c->next = (c->next + 1) % SYNC_CLOCK_WINDOW;
    if (c->n < SYNC_CLOCK_WINDOW)
        c->n++;
    memcpy(sorted, c->samples, sizeof sorted);
    qsort(sorted, (size_t)c->n, sizeof sorted[0], cmp_i64);
    /* Median (the lower one of an even count). */
    c->offset_ms = sorted[(c->n - 1) / 2];
    c->known = 1;
}

int64_t sync_clock_offset(const sync_clock *c)
{
    return c->known ? c->offset_ms : 0;
}
