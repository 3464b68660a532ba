/*
 * test_sync_sim_conflict.c — concurrent edits against the real
 * fieldsync-sim: different fields merge; the same field goes by the
 * conflict policy (each of the four), and under lww the server's clock
 * skew (--clock-skew ±600) is corrected before comparing times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/system/test_sync_harness.h"

#define TECH H_TECH

typedef struct {
    harness h;
    char wo[64];
    char path[128];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    *state = f;
    return f ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    h_teardown(&f->h);
    free(f);
    return 0;
}

/* Sim (with an optional clock skew), engine with the policy, first sync,
 * and an open in-scope work order to fight over. */
static void start(fx *f, sync_policy pol, const char *skew)
{
    const char *args[] = {"--seed", "31", "--work-orders", "100", "--customers", "30",
                          NULL, NULL, NULL};
    sync_config cfg;
    cJSON *state;
    const cJSON *wo;

    if (skew) {
        args[6] = "--clock-skew";
        args[7] = skew;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.technician_id = TECH;
    cfg.days_back = 30;
    cfg.days_ahead = 60;
    cfg.policy = pol;
    cfg.backoff_scale = 0.0001;
    h_start(&f->h, args, &cfg, NULL);
    state = h_get_json(&f->h, "/__sim/state", 0);
    cJSON_ArrayForEach(wo, cJSON_GetObjectItem(state, "work_orders")) {
        const char *st = h_str(wo, "status");
        if (h_in_window(wo, TECH, 30, 60, h_now_ms()) && st && strcmp(st, "completed") &&
            strcmp(st, "cancelled")) {
            snprintf(f->wo, sizeof f->wo, "%s", h_str(wo, "id"));
            break;
        }
    }
    cJSON_Delete(state);
    assert_true(f->wo[0]);
    snprintf(f->path, sizeof f->path, "/work-orders/%s", f->wo);
}

static char *sim_field(fx *f, const char *field)
{
    cJSON *state = h_get_json(&f->h, "/__sim/state", 0);
    const char *v = h_str(h_find(state, "work_orders", f->wo), field);
    char *out = v ? strdup(v) : NULL;
    cJSON_Delete(state);
    return out;
}

static void assert_sim_field(fx *f, const char *field, const char *want)
{
    char *v = sim_field(f, field);
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

/* The newest conflict in the log for our work order. */
static cJSON *last_conflict(fx *f)
{
    char *json = NULL;
    cJSON *all, *c, *out = NULL;

    assert_int_equal(store_conflicts_list(f->h.st, 0, &json), 0);
    all = cJSON_Parse(json);
    free(json);
    cJSON_ArrayForEach(c, all)
        if (strcmp(h_str(c, "record_id"), f->wo) == 0) {
            out = cJSON_Duplicate(c, 1);
            break;
        }
    cJSON_Delete(all);
    return out;
}

static void assert_conflict(fx *f, const char *rule, const char *outcome,
                            const char *local, const char *remote)
{
    cJSON *c = last_conflict(f);
    assert_non_null(c);
    assert_string_equal(h_str(c, "rule"), rule);
    assert_string_equal(h_str(c, "outcome"), outcome);
    /* Both values are kept, the losing one too. */
    assert_string_equal(h_str(cJSON_GetObjectItem(c, "local"), "notes"), local);
    assert_string_equal(h_str(cJSON_GetObjectItem(c, "remote"), "notes"), remote);
    cJSON_Delete(c);
}

/* Local edits notes at local time `when`; the dispatcher edits notes now. */
static void both_edit_notes(fx *f, int64_t when)
{
    assert_int_equal(h_update(&f->h, ENT_WORK_ORDER, f->wo, "{\"notes\":\"local says\"}", when), 0);
    assert_int_equal(h_dispatch(&f->h, "PUT", f->path, "{\"notes\":\"dispatcher says\"}"), 200);
}

static void test_different_fields_merge(void **state)
{
    fx *f = *state;
    sync_summary s;

    start(f, POLICY_LWW, NULL);
    assert_int_equal(h_update(&f->h, ENT_WORK_ORDER, f->wo, "{\"notes\":\"local note\"}",
                              h_now_ms()), 0);
    assert_int_equal(h_dispatch(&f->h, "PUT", f->path, "{\"priority\":\"urgent\"}"), 200);
    assert_int_equal(h_cycle(&f->h, &s), 0);
    assert_int_equal(s.conflicts, 0);
    assert_int_equal(s.pushed, 1);
    assert_sim_field(f, "notes", "local note");
    assert_sim_field(f, "priority", "urgent");
    assert_null(last_conflict(f));
}

static void test_server_wins(void **state)
{
    fx *f = *state;
    sync_summary s;
    cJSON *local;

    start(f, POLICY_SERVER_WINS, NULL);
    both_edit_notes(f, h_now_ms() + 3600000);   /* even a later local edit loses */
    assert_int_equal(h_cycle(&f->h, &s), 0);
    assert_int_equal(s.conflicts, 1);
    assert_sim_field(f, "notes", "dispatcher says");
    assert_conflict(f, "server_wins", "remote_won", "local says", "dispatcher says");
    local = h_local(&f->h, ENT_WORK_ORDER, f->wo);
    assert_string_equal(h_str(local, "notes"), "dispatcher says");
    cJSON_Delete(local);
}

/* Collects the engine's events. */
static char events[4096];
static void on_event(void *ud, const char *type, const char *json)
{
    size_t n = strlen(events);
    (void)ud;
    snprintf(events + n, sizeof events - n, "%s %s\n", type, json);
}

static void test_client_wins(void **state)
{
    fx *f = *state;
    sync_summary s;
    char want[160];

    start(f, POLICY_CLIENT_WINS, NULL);
    both_edit_notes(f, h_now_ms() - 3600000);   /* even an older local edit wins */
    events[0] = '\0';
    sync_set_event_hook(f->h.se, on_event, NULL);
    assert_int_equal(h_cycle(&f->h, &s), 0);
    assert_int_equal(s.conflicts, 1);
    /* The agent's event stream hears of the conflict and of the record. */
    snprintf(want, sizeof want, "\"id\":\"%s\",\"rule\":\"client_wins\",\"outcome\":\"local_won\"", f->wo);
    assert_non_null(strstr(events, want));
    assert_non_null(strstr(events, "\"fields\":[\"notes\"]"));
    snprintf(want, sizeof want, "record_changed {\"entity\":\"work_order\",\"id\":\"%s\"", f->wo);
    assert_non_null(strstr(events, want));
    assert_sim_field(f, "notes", "local says");
    assert_conflict(f, "client_wins", "local_won", "local says", "dispatcher says");
}

static void test_manual_holds_until_resolved(void **state)
{
    fx *f = *state;
    sync_summary s;
    cJSON *local, *c;
    int64_t p, r, held;

    start(f, POLICY_MANUAL, NULL);
    both_edit_notes(f, h_now_ms());
    assert_int_equal(h_cycle(&f->h, &s), 0);
    assert_int_equal(s.conflicts, 1);
    assert_sim_field(f, "notes", "dispatcher says");
    assert_int_equal(store_outbox_counts(f->h.st, &p, &r, &held), 0);
    assert_int_equal(held, 1);
    local = h_local(&f->h, ENT_WORK_ORDER, f->wo);
    assert_string_equal(h_str(cJSON_GetObjectItem(local, "_sync"), "state"), "conflict");
    cJSON_Delete(local);
    c = last_conflict(f);
    assert_string_equal(h_str(c, "outcome"), "held");
    /* Another cycle does not push the held edit. */
    assert_int_equal(h_cycle(&f->h, &s), 0);
    assert_sim_field(f, "notes", "dispatcher says");
    /* The technician keeps theirs: it goes out. */
    assert_int_equal(store_conflict_resolve(f->h.st,
                     (int64_t)cJSON_GetObjectItem(c, "id")->valuedouble, 1, h_now_ms()), 0);
    cJSON_Delete(c);
    assert_int_equal(sync_cycle_run(f->h.se, h_now_ms() + 60000, &s), 0);
    assert_sim_field(f, "notes", "local says");
    assert_int_equal(h_pending(&f->h), 0);
}

static void test_lww_no_skew(void **state)
{
    fx *f = *state;
    sync_summary s;

    start(f, POLICY_LWW, NULL);
    /* The local edit was made a minute before the dispatcher's: remote wins. */
    both_edit_notes(f, h_now_ms() - 60000);
    assert_int_equal(h_cycle(&f->h, &s), 0);
    assert_sim_field(f, "notes", "dispatcher says");
    assert_conflict(f, "lww", "remote_won", "local says", "dispatcher says");
    /* Now the dispatcher first, then the technician a minute later: local wins. */
    assert_int_equal(h_dispatch(&f->h, "PUT", f->path, "{\"notes\":\"dispatcher again\"}"), 200);
    assert_int_equal(h_update(&f->h, ENT_WORK_ORDER, f->wo, "{\"notes\":\"local again\"}",
                              h_now_ms() + 60000), 0);
    /* Both changed the field since the version the first cycle left. */
    assert_int_equal(sync_cycle_run(f->h.se, h_now_ms() + 60000, &s), 0);
    assert_int_equal(s.conflicts, 1);
    assert_sim_field(f, "notes", "local again");
}

static int64_t stored_offset(fx *f)
{
    char *v = NULL;
    int64_t off;
    assert_int_equal(store_meta_get(f->h.st, "clock_offset_ms", &v), 0);
    assert_non_null(v);
    off = strtoll(v, NULL, 10);
    free(v);
    return off;
}

/* Starts under lww with the server's clock skew_s seconds off ours; the
 * first sync measured the offset to within 2 s of want_ms. */
static void start_skewed(fx *f, const char *skew_s, int64_t want_ms)
{
    int64_t off;

    start(f, POLICY_LWW, skew_s);
    off = stored_offset(f);
    assert_true(off > want_ms - 2000 && off < want_ms + 2000);
}

/*
 * The server runs 10 minutes ahead.  The dispatcher edits now (stamped
 * now+600 s); the technician's edit 30 s later by our clock is the later
 * one and must win — only true once our time is moved onto the server's.
 */
static void test_lww_server_ahead(void **state)
{
    fx *f = *state;
    sync_summary s;

    start_skewed(f, "600", 600000);
    both_edit_notes(f, h_now_ms() + 30000);
    assert_int_equal(sync_cycle_run(f->h.se, h_now_ms() + 30000, &s), 0);
    assert_sim_field(f, "notes", "local says");
    assert_conflict(f, "lww", "local_won", "local says", "dispatcher says");
}

/* The server runs 10 minutes behind; the technician edited 30 s before the
 * dispatcher: the dispatcher's edit is the later one. */
static void test_lww_server_behind(void **state)
{
    fx *f = *state;
    sync_summary s;

    start_skewed(f, "-600", -600000);
    both_edit_notes(f, h_now_ms() - 30000);
    assert_int_equal(h_cycle(&f->h, &s), 0);
    assert_sim_field(f, "notes", "dispatcher says");
    assert_conflict(f, "lww", "remote_won", "local says", "dispatcher says");
}

/* Every test case has its own fixture: setup before, teardown after. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_different_fields_merge),
        TEST(test_server_wins),
        TEST(test_client_wins),
        TEST(test_manual_holds_until_resolved),
        TEST(test_lww_no_skew),
        TEST(test_lww_server_ahead),
        TEST(test_lww_server_behind),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests_name("sync_sim_conflict", tests, NULL, NULL);
}
