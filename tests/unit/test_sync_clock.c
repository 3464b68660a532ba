/*
 * test_sync_clock.c — the server clock offset from Date headers: the
 * one-second resolution and how intersecting answers beats it, outliers,
 * and the window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sync/sync_int.h"

static void test_unknown_is_zero(void **st)
{
    sync_clock c;
    (void)st;
    sync_clock_init(&c, 0, 0);
    assert_int_equal(sync_clock_offset(&c), 0);
    sync_clock_init(&c, -600000, 1);
    assert_int_equal(sync_clock_offset(&c), -600000);
}

/* An answer whose server time (at its midpoint) is mid + offset, with a
 * round trip of 6 ms and the Date truncated to the second. */
static void answer(sync_clock *c, int64_t mid, int64_t offset)
{
    int64_t server = mid + offset;
    sync_clock_add(c, server - server % 1000, mid - 3, mid + 3);
}

/* The estimated offset is within tol ms of want. */
static void assert_offset_near(const sync_clock *c, int64_t want, int64_t tol)
{
    int64_t off = sync_clock_offset(c);

    if (off < want - tol || off > want + tol)
        fail_msg("offset %lld, expected %lld +- %lld", (long long)off, (long long)want,
                 (long long)tol);
}

/* A server 600 s ahead: answers in different sub-second phases pin the
 * offset far closer than the Date's one-second resolution. */
static void test_offset_beats_resolution(void **st)
{
    sync_clock c;
    int64_t local = 1700000000000;
    (void)st;
    sync_clock_init(&c, 0, 0);
    for (int i = 0; i < 10; i++)
        answer(&c, local + i * 1234, 600000);
    assert_offset_near(&c, 600000, 50);
}

/* Two machines with the same clock (the loopback case): no bias. */
static void test_same_clock_no_bias(void **st)
{
    sync_clock c;
    int64_t local = 1700000000000;
    (void)st;
    sync_clock_init(&c, 0, 0);
    for (int i = 0; i < 15; i++)
        answer(&c, local + i * 2777 + (i % 3) * 111, 0);
    assert_offset_near(&c, 0, 50);
}

/* Many answers within one server second (one fast cycle) count as one
 * interval: the estimate stays within that second, and one such burst does
 * not fill the window and push out the older, better-spread intervals. */
static void test_one_second_burst(void **st)
{
    sync_clock c;
    int64_t local = 1700000000000;
    (void)st;
    sync_clock_init(&c, 0, 0);
    for (int i = 0; i < 40; i++)
        answer(&c, local + 400 + i, -250000);
    assert_int_equal(c.n, 1);
    assert_offset_near(&c, -250000, 600);
    for (int i = 1; i < 8; i++)
        answer(&c, local + i * 1379, -250000);
    assert_int_equal(c.n, 8);
    assert_offset_near(&c, -250000, 100);
}

/* A few stale or slow answers do not move the estimate. */
static void test_outliers_ignored(void **st)
{
    sync_clock c;
    int64_t local = 1700000000000;
    (void)st;
    sync_clock_init(&c, 0, 0);
    for (int i = 0; i < 15; i++) {
        int64_t offset = -600000;
        if (i % 4 == 1)
            offset += 3600000;           /* a cache's Date an hour off */
        else if (i % 4 == 3)
            offset -= 45000;              /* a response stuck 45 s */
        answer(&c, local + i * 1000, offset);
    }
    assert_offset_near(&c, -600000, 500);
}

/* The window slides: a changed server clock is followed. */
static void test_window_follows_change(void **st)
{
    sync_clock c;
    int64_t local = 1700000000000;
    (void)st;
    sync_clock_init(&c, 0, 0);
    for (int i = 0; i < 40; i++)
        answer(&c, local + i * 1000, i < 20 ? 0 : 120000);
    assert_offset_near(&c, 120000, 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_is_zero),
        cmocka_unit_test(test_offset_beats_resolution),
        cmocka_unit_test(test_same_clock_no_bias),
        cmocka_unit_test(test_one_second_burst),
        cmocka_unit_test(test_outliers_ignored),
        cmocka_unit_test(test_window_follows_change),
    };
    return cmocka_run_group_tests_name("sync_clock", tests, NULL, NULL);
}
