/*
 * test_sync_merge.c — the three-way merge of DESIGN §5, field by field and
 * for each conflict policy, including a server clock that is off under lww.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sync/sync_int.h"

typedef struct {
    cJSON *remote, *base, *local;
    sync_merge_result r;
} fx;

static void load(fx *f, const char *remote, const char *base, const char *local)
{
    f->remote = cJSON_Parse(remote);
    f->base = cJSON_Parse(base);
    f->local = cJSON_Parse(local);
    assert_non_null(f->remote);
    assert_non_null(f->base);
    assert_non_null(f->local);
}

static void drop(fx *f)
{
    cJSON_Delete(f->remote);
    cJSON_Delete(f->base);
    cJSON_Delete(f->local);
    sync_merge_result_free(&f->r);
}

/* The PUT body as text, for compact assertions. */
static void assert_put(fx *f, const char *expect)
{
    cJSON *want = cJSON_Parse(expect);
    assert_non_null(want);
    if (!cJSON_Compare(want, f->r.put, 1)) {
        char *got = cJSON_PrintUnformatted(f->r.put);
        fail_msg("put %s, expected %s", got, expect);
    }
    cJSON_Delete(want);
}

static int merge(fx *f, sync_policy p, int64_t edit, int64_t off, int64_t rms)
{
    return sync_merge(f->remote, f->base, f->local, p, edit, off, rms, &f->r);
}

/* Merges the three sides under p (all times 0): the PUT is put, and no
 * conflict came of it. */
static void assert_merges_without_conflict(const char *remote, const char *base,
                                           const char *local, sync_policy p, const char *put)
{
    fx f = {0};

    load(&f, remote, base, local);
    assert_int_equal(merge(&f, p, 0, 0, 0), 0);
    assert_put(&f, put);
    assert_int_equal(f.r.conflicts, 0);
    assert_int_equal(f.r.hold, 0);
    assert_null(f.r.outcome);
    drop(&f);
}

/* Remote did not touch the field since the base: the local value goes out. */
static void test_remote_unchanged_takes_local(void **st)
{
    (void)st;
    assert_merges_without_conflict("{\"status\":\"open\"}", "{\"status\":\"open\"}",
                                   "{\"status\":\"in_progress\"}", POLICY_LWW,
                                   "{\"status\":\"in_progress\"}");
}

/* Only the remote changed it (local equals base): the remote value stays. */
static void test_only_remote_changed_keeps_remote(void **st)
{
    (void)st;
    assert_merges_without_conflict("{\"priority\":\"high\"}", "{\"priority\":\"low\"}",
                                   "{\"priority\":\"low\"}", POLICY_CLIENT_WINS, "{}");
}

/* Both changed to the same value (also: our PUT landed before a crash). */
static void test_both_same_value_no_put_no_conflict(void **st)
{
    (void)st;
    assert_merges_without_conflict("{\"notes\":\"x\"}", "{\"notes\":\"a\"}",
                                   "{\"notes\":\"x\"}", POLICY_MANUAL, "{}");
}

/* Different fields on each side merge without conflict. */
static void test_different_fields_merge(void **st)
{
    (void)st;
    /* The remote changed description (not in the op); the op changed status. */
    assert_merges_without_conflict("{\"status\":\"open\"}", "{\"status\":\"open\"}",
                                   "{\"status\":\"completed\"}", POLICY_SERVER_WINS,
                                   "{\"status\":\"completed\"}");
}

/*
 * notes changed on both sides (status only locally), merged under p with
 * sync_merge's times: one conflict on notes alone, with all three values
 * kept; the outcome is outcome and, when put is given, the PUT is put.
 */
static void assert_conflict(sync_policy p, int64_t edit, int64_t off, int64_t rms,
                            const char *outcome, const char *put)
{
    fx f = {0};

    load(&f, "{\"notes\":\"remote\",\"status\":\"open\"}",
         "{\"notes\":\"base\",\"status\":\"open\"}",
         "{\"notes\":\"local\",\"status\":\"on_hold\"}");
    assert_int_equal(merge(&f, p, edit, off, rms), 0);
    assert_int_equal(f.r.conflicts, 1);
    assert_string_equal(cJSON_GetObjectItem(f.r.c_base, "notes")->valuestring, "base");
    assert_string_equal(cJSON_GetObjectItem(f.r.c_local, "notes")->valuestring, "local");
    assert_string_equal(cJSON_GetObjectItem(f.r.c_remote, "notes")->valuestring, "remote");
    /* Only the conflicting field is in the conflict record. */
    assert_null(cJSON_GetObjectItem(f.r.c_local, "status"));
    assert_string_equal(f.r.outcome, outcome);
    assert_int_equal(f.r.hold, strcmp(outcome, "held") == 0);
    if (put)
        assert_put(&f, put);
    drop(&f);
}

static void test_policy_server_wins(void **st)
{
    (void)st;
    assert_conflict(POLICY_SERVER_WINS, 9999999, 0, 1, "remote_won", "{\"status\":\"on_hold\"}");
}

static void test_policy_client_wins(void **st)
{
    (void)st;
    assert_conflict(POLICY_CLIENT_WINS, 1, 0, 9999999, "local_won",
                    "{\"status\":\"on_hold\",\"notes\":\"local\"}");
}

static void test_policy_manual_holds(void **st)
{
    (void)st;
    assert_conflict(POLICY_MANUAL, 0, 0, 0, "held", NULL);
}

static void test_lww_later_local_wins(void **st)
{
    (void)st;
    assert_conflict(POLICY_LWW, 2000, 0, 1000, "local_won",
                    "{\"status\":\"on_hold\",\"notes\":\"local\"}");
}

static void test_lww_later_remote_wins_and_tie_goes_remote(void **st)
{
    (void)st;
    assert_conflict(POLICY_LWW, 1000, 0, 2000, "remote_won", NULL);
    assert_conflict(POLICY_LWW, 1000, 0, 1000, "remote_won", "{\"status\":\"on_hold\"}");
}

/*
 * The server's clock runs 10 minutes ahead.  The dispatcher edited first
 * (server stamp T0+600 s), the technician 60 s later by our clock: the
 * technician's edit is the later one and must win, which it does only
 * once the local time is moved onto the server's clock.
 */
static void test_lww_corrects_server_ahead(void **st)
{
    int64_t t0 = 1700000000000, skew = 600000;
    (void)st;
    assert_conflict(POLICY_LWW, t0 + 60000, skew, t0 + skew, "local_won", NULL);
    /* Without the correction the remote would have won. */
    assert_conflict(POLICY_LWW, t0 + 60000, 0, t0 + skew, "remote_won", NULL);
}

/* The server's clock runs 10 minutes behind; the technician edited first. */
static void test_lww_corrects_server_behind(void **st)
{
    int64_t t0 = 1700000000000, skew = -600000;
    (void)st;
    assert_conflict(POLICY_LWW, t0, skew, t0 + 60000 + skew, "remote_won", NULL);
}

/* null vs absent, numbers, nested objects and equal instants. */
static void test_value_equality(void **st)
{
    cJSON *a = cJSON_Parse("{\"t1\":\"2024-02-01T10:00:00Z\",\"t2\":\"2024-02-01T10:00:00.000Z\","
                           "\"n1\":90,\"n2\":90.0,\"o1\":{\"a\":1},\"o2\":{\"a\":1},"
                           "\"z\":null,\"d\":\"2024-02-01\",\"s\":\"2024-02-01T10:00:00+00:00\"}");
    (void)st;
    assert_non_null(a);
    assert_true(sync_json_equal(cJSON_GetObjectItem(a, "t1"), cJSON_GetObjectItem(a, "t2")));
    assert_true(sync_json_equal(cJSON_GetObjectItem(a, "t1"), cJSON_GetObjectItem(a, "s")));
    assert_true(sync_json_equal(cJSON_GetObjectItem(a, "n1"), cJSON_GetObjectItem(a, "n2")));
    assert_true(sync_json_equal(cJSON_GetObjectItem(a, "o1"), cJSON_GetObjectItem(a, "o2")));
    assert_true(sync_json_equal(cJSON_GetObjectItem(a, "z"), NULL));
    assert_false(sync_json_equal(cJSON_GetObjectItem(a, "z"), cJSON_GetObjectItem(a, "n1")));
    assert_false(sync_json_equal(cJSON_GetObjectItem(a, "d"), cJSON_GetObjectItem(a, "t1")));
    cJSON_Delete(a);
}

/* A field set to null locally against a remote that kept the base. */
static void test_null_local_value_is_sent(void **st)
{
    (void)st;
    assert_merges_without_conflict("{\"contact_id\":\"c-1\"}", "{\"contact_id\":\"c-1\"}",
                                   "{\"contact_id\":null}", POLICY_LWW, "{\"contact_id\":null}");
}

static void test_policy_names(void **st)
{
    sync_policy p;
    (void)st;
    assert_int_equal(sync_policy_parse("manual", &p), 0);
    assert_int_equal(p, POLICY_MANUAL);
    assert_string_equal(sync_policy_name(POLICY_SERVER_WINS), "server_wins");
    assert_int_equal(sync_policy_parse("newest", &p), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_unchanged_takes_local),
        cmocka_unit_test(test_only_remote_changed_keeps_remote),
        cmocka_unit_test(test_both_same_value_no_put_no_conflict),
        cmocka_unit_test(test_different_fields_merge),
        cmocka_unit_test(test_policy_server_wins),
        cmocka_unit_test(test_policy_client_wins),
        cmocka_unit_test(test_policy_manual_holds),
        cmocka_unit_test(test_lww_later_local_wins),
        cmocka_unit_test(test_lww_later_remote_wins_and_tie_goes_remote),
        cmocka_unit_test(test_lww_corrects_server_ahead),
        cmocka_unit_test(test_lww_corrects_server_behind),
        cmocka_unit_test(test_value_equality),
        cmocka_unit_test(test_null_local_value_is_sent),
        cmocka_unit_test(test_policy_names),
    };
    return cmocka_run_group_tests_name("sync_merge", tests, NULL, NULL);
}
