/*
 * test_sync_pace.c — the pacer every request goes through: the budget's
 * token bucket (capacity, spending, the floor), a 429's pause and budget
 * cut (once per pause), spacing when the quota runs low and none when
 * plenty is left, what the answers tell of the remote's capabilities, and
 * the requests of the last hour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sync/remote.h"

typedef struct {
    pthread_mutex_t mu;
    uint64_t rng;
    sync_pace p;
    sync_remote_pacer hooks;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    sync_rand_seed(&f->rng, 7);
    sync_pace_init(&f->p, &f->rng, &f->mu);
    /* The defaults: interval 60 s, 300 an hour, max_age a day. */
    sync_pace_configure(&f->p, 60, 300, 86400, 0.001);
    sync_pace_hooks(&f->p, &f->hooks);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* An answer as the client would have filled it. */
static sync_remote_req answer(long status)
{
    sync_remote_req r;

    memset(&r, 0, sizeof r);
    r.status = status;
    r.retry_after_ms = -1;
    r.rl_limit = r.rl_remaining = r.rl_reset_ms = r.rl_window_ms = -1;
    return r;
}

static void exchange(fixture *f, const sync_remote_req *r)
{
    f->hooks.started(f->hooks.ud, r);
    f->hooks.answered(f->hooks.ud, r);
}

static void test_bucket(void **state)
{
    fixture *f = *state;
    sync_remote_req ok = answer(200);
    int64_t now = fs_mono_ms();
    double cap = sync_pace_capacity(&f->p);

    /* Two intervals' worth: 300/h * 120 s = 10. */
    assert_true(cap > 9.99 && cap < 10.01);
    /* A fresh start holds one interval's worth. */
    assert_true(sync_pace_tokens(&f->p, now) > 4.99);
    for (int i = 0; i < 30; i++)
        exchange(f, &ok);
    /* Spent down to zero, never into debt. */
    assert_true(sync_pace_tokens(&f->p, now) > -0.01);
    assert_true(sync_pace_tokens(&f->p, now) < 0.5);
    /* Refilled at the budget's rate, up to the capacity only. */
    assert_true(sync_pace_tokens(&f->p, now + 24 * 3600 * 1000LL) <= cap + 0.01);
    assert_int_equal(f->hooks.delay_ms(f->hooks.ud), 0);   /* the budget never blocks */
}

static void test_429_pauses_and_cuts_once(void **state)
{
    fixture *f = *state;
    sync_remote_req r = answer(429);
    double before = sync_pace_rate(&f->p, fs_mono_ms());

    r.retry_after_ms = 30000;
    exchange(f, &r);
    /* Retry-After is a floor under the pause (scaled for tests). */
    assert_true(f->hooks.delay_ms(f->hooks.ud) > 0);
    assert_true(f->p.factor > 0.49 && f->p.factor < 0.51);
    /* Answers already in flight when it came do not cut again. */
    exchange(f, &r);
    assert_true(f->p.factor > 0.49 && f->p.factor < 0.51);
    assert_true(sync_pace_rate(&f->p, fs_mono_ms()) < before * 0.6);
    pthread_mutex_lock(&f->mu);
    assert_true(sync_pace_limited(&f->p, fs_mono_ms()));
    pthread_mutex_unlock(&f->mu);
    /* It recovers, slowly: fully after 60 intervals. */
    assert_true(sync_pace_rate(&f->p, fs_mono_ms() + 61 * 60 * 1000LL) > before * 0.99);
}

static void test_quota_spacing(void **state)
{
    fixture *f = *state;
    sync_remote_req r = answer(200);

    /* Plenty left: no spacing. */
    r.rl_limit = 10;
    r.rl_remaining = 9;
    r.rl_reset_ms = 1000;
    r.rl_window_ms = 1000;
    exchange(f, &r);
    assert_int_equal(f->hooks.delay_ms(f->hooks.ud), 0);
    /* Running low: the rest spread until the reset, before any 429. */
    r.rl_remaining = 2;
    exchange(f, &r);
    assert_true(f->hooks.delay_ms(f->hooks.ud) > 0);
    assert_true(f->hooks.delay_ms(f->hooks.ud) <= 1000);
    pthread_mutex_lock(&f->mu);
    assert_true(f->p.cap_rl);
    pthread_mutex_unlock(&f->mu);
}

static void test_capabilities_and_count(void **state)
{
    fixture *f = *state;
    sync_remote_req r = answer(200);

    pthread_mutex_lock(&f->mu);
    assert_false(f->p.cap_etag);
    assert_false(f->p.cap_gzip);
    pthread_mutex_unlock(&f->mu);
    snprintf(r.etag, sizeof r.etag, "\"abc\"");
    r.gzip = 1;
    exchange(f, &r);
    exchange(f, &r);
    pthread_mutex_lock(&f->mu);
    assert_true(f->p.cap_etag);
    assert_true(f->p.cap_gzip);
    assert_false(f->p.cap_rl);
    assert_int_equal(sync_pace_last_hour(&f->p, fs_mono_ms()), 2);
    assert_int_equal(sync_pace_last_hour(&f->p, fs_mono_ms() + 61 * 60000LL), 0);
    pthread_mutex_unlock(&f->mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_pauses_and_cuts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_spacing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capabilities_and_count, setup, teardown),
    };

    return cmocka_run_group_tests_name("sync_pace", tests, NULL, NULL);
}
