/*
 * test_sync_backoff.c — retry delays: full jitter within 1 s .. 5 min,
 * growing with attempts, Retry-After as a floor, the test scale.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "sync/sync_int.h"

static void test_bounds_and_growth(void **st)
{
    uint64_t rng;
    (void)st;
    sync_rand_seed(&rng, 42);
    for (int a = 1; a <= 40; a++) {
        int64_t ceiling = 1000;
        for (int i = 0; i < a && ceiling < SYNC_BACKOFF_MAX_MS; i++)
            ceiling *= 2;
        if (ceiling > SYNC_BACKOFF_MAX_MS)
            ceiling = SYNC_BACKOFF_MAX_MS;
        for (int k = 0; k < 200; k++) {
            int64_t d = sync_backoff_ms(a, -1, 1.0, &rng);
            assert_true(d >= SYNC_BACKOFF_MIN_MS);
            assert_true(d <= ceiling);
        }
    }
}

/* Full jitter: draws spread over the window, not clustered at its top. */
static void test_jitter_spreads(void **st)
{
    uint64_t rng;
    int low = 0, high = 0;
    (void)st;
    sync_rand_seed(&rng, 7);
    for (int k = 0; k < 1000; k++) {
        int64_t d = sync_backoff_ms(20, -1, 1.0, &rng);   /* window 1 s..5 min */
        if (d < 100000)
            low++;
        if (d > 200000)
            high++;
    }
    assert_true(low > 200);
    assert_true(high > 200);
}

static void test_retry_after_is_a_floor(void **st)
{
    uint64_t rng;
    (void)st;
    sync_rand_seed(&rng, 1);
    for (int k = 0; k < 100; k++) {
        int64_t d = sync_backoff_ms(1, 30000, 1.0, &rng);
        /* The first window is 1..2 s: the server's 30 s rules. */
        assert_int_equal(d, 30000);
    }
    /* An absurd Retry-After is capped at an hour. */
    assert_int_equal(sync_backoff_ms(1, 86400000, 1.0, &rng), SYNC_RETRY_AFTER_MAX_MS);
}

static void test_scale(void **st)
{
    uint64_t rng;
    (void)st;
    sync_rand_seed(&rng, 3);
    for (int k = 0; k < 100; k++) {
        int64_t d = sync_backoff_ms(30, 5000, 0.001, &rng);
        assert_true(d >= 5 && d <= 300);
    }
}

static void test_retry_after_parse(void **st)
{
    int64_t d, now = (int64_t)1445412480 * 1000;   /* Wed, 21 Oct 2015 07:28:00 GMT */
    (void)st;
    assert_int_equal(sync_retry_after_parse("120", now, &d), 0);
    assert_int_equal(d, 120000);
    assert_int_equal(sync_retry_after_parse(" 0 ", now, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(sync_retry_after_parse("Wed, 21 Oct 2015 07:28:30 GMT", now, &d), 0);
    assert_int_equal(d, 30000);
    /* A date in the past: retry now. */
    assert_int_equal(sync_retry_after_parse("Wed, 21 Oct 2015 07:00:00 GMT", now, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(sync_retry_after_parse("99999999999", now, &d), 0);
    assert_int_equal(d, SYNC_RETRY_AFTER_MAX_MS);
    assert_int_equal(sync_retry_after_parse("soon", now, &d), -1);
    assert_int_equal(sync_retry_after_parse("12abc", now, &d), -1);
    assert_int_equal(sync_retry_after_parse(NULL, now, &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_and_growth),
        cmocka_unit_test(test_jitter_spreads),
        cmocka_unit_test(test_retry_after_is_a_floor),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_retry_after_parse),
    };
    return cmocka_run_group_tests_name("sync_backoff", tests, NULL, NULL);
}
