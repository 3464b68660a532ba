/*
 * test_store_revalidate.c — the revalidation schedule's memory in the
 * store: checked times, changes counted from updated_at moves, list
 * summaries as change hints, contacts confirmed with their customer, and
 * rows of records gone pruned.
 */
#include "store_fixture.h"

static const store_reval_row *find(const store_reval_row *rows, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].id, id) == 0)
            return &rows[i];
    return NULL;
}

static void test_rows_and_checks(void **state)
{
    fx *f = *state;
    store_reval_row *rows;
    const store_reval_row *r;
    size_t n;

    fx_seed(f->s);
    assert_int_equal(store_reval_rows(f->s, &rows, &n), STORE_OK);
    /* Work orders and customers only; contacts and assets ride along. */
    assert_int_equal(n, 2);
    r = find(rows, n, "wo-1");
    assert_non_null(r);
    assert_int_equal(r->entity, ENT_WORK_ORDER);
    assert_string_equal(r->status, "open");
    assert_string_equal(r->technician_id, "tech-001");
    assert_string_equal(r->customer_id, "cust-1");
    assert_string_equal(r->sched_day, "2024-03-05");
    assert_int_equal(r->checked_ms, -1);
    assert_int_equal(r->changes, 0);
    store_reval_rows_free(rows, n);

    assert_int_equal(store_reval_checked(f->s, ENT_WORK_ORDER, "wo-1", T0), STORE_OK);
    /* Same version checked again: no change. */
    assert_int_equal(store_reval_checked(f->s, ENT_WORK_ORDER, "wo-1", T0 + MIN_MS), STORE_OK);
    fx_put(f->s, ENT_WORK_ORDER, fx_wo_json("wo-1", "cust-1", "tech-001", "2024-03-05T09:00:00Z",
                                            "in_progress", "2024-02-01T10:15:00Z"), NULL, 0);
    assert_int_equal(store_reval_checked(f->s, ENT_WORK_ORDER, "wo-1", T0 + 2 * MIN_MS),
                     STORE_OK);
    assert_int_equal(store_reval_rows(f->s, &rows, &n), STORE_OK);
    r = find(rows, n, "wo-1");
    assert_int_equal(r->checked_ms, T0 + 2 * MIN_MS);
    assert_int_equal(r->first_ms, T0);
    assert_int_equal(r->changes, 1);
    assert_string_equal(r->status, "in_progress");
    store_reval_rows_free(rows, n);

    assert_int_equal(store_reval_checked(f->s, ENT_WORK_ORDER, "wo-404", T0), STORE_NOTFOUND);
}

static void test_checked_at_of_children(void **state)
{
    fx *f = *state;
    int64_t ms;

    fx_seed(f->s);
    assert_int_equal(store_reval_checked_at(f->s, ENT_CONTACT, "con-1", &ms), STORE_OK);
    assert_int_equal(ms, -1);
    assert_int_equal(store_reval_checked(f->s, ENT_CUSTOMER, "cust-1", T0 + 5), STORE_OK);
    assert_int_equal(store_reval_checked_at(f->s, ENT_CUSTOMER, "cust-1", &ms), STORE_OK);
    assert_int_equal(ms, T0 + 5);
    assert_int_equal(store_reval_checked_at(f->s, ENT_CONTACT, "con-1", &ms), STORE_OK);
    assert_int_equal(ms, T0 + 5);
    assert_int_equal(store_reval_checked_at(f->s, ENT_ASSET, "ast-1", &ms), STORE_OK);
    assert_int_equal(ms, T0 + 5);
}

static void test_summary_hints(void **state)
{
    fx *f = *state;
    int changed = -1;

    fx_seed(f->s);
    assert_int_equal(store_reval_summary(f->s, ENT_WORK_ORDER, "wo-1", "aaa", 1, &changed),
                     STORE_OK);
    assert_int_equal(changed, 0);   /* nothing to compare with yet */
    /* Compared without keeping: the hint stands until kept. */
    assert_int_equal(store_reval_summary(f->s, ENT_WORK_ORDER, "wo-1", "ccc", 0, &changed),
                     STORE_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(store_reval_summary(f->s, ENT_WORK_ORDER, "wo-1", "aaa", 1, &changed),
                     STORE_OK);
    assert_int_equal(changed, 0);
    assert_int_equal(store_reval_summary(f->s, ENT_WORK_ORDER, "wo-1", "bbb", 1, &changed),
                     STORE_OK);
    assert_int_equal(changed, 1);
    /* The check keeps the summary; the summary keeps the check. */
    assert_int_equal(store_reval_checked(f->s, ENT_WORK_ORDER, "wo-1", T0), STORE_OK);
    assert_int_equal(store_reval_summary(f->s, ENT_WORK_ORDER, "wo-1", "bbb", 1, &changed),
                     STORE_OK);
    assert_int_equal(changed, 0);
}

static void test_prune_after_gone(void **state)
{
    fx *f = *state;
    int64_t ms;

    fx_seed(f->s);
    assert_int_equal(store_reval_checked(f->s, ENT_WORK_ORDER, "wo-1", T0), STORE_OK);
    assert_int_equal(store_remote_gone(f->s, ENT_WORK_ORDER, "wo-1"), STORE_OK);
    assert_int_equal(store_reval_prune(f->s), STORE_OK);
    /* Stored again later, it starts unchecked. */
    fx_put(f->s, ENT_WORK_ORDER, fx_wo_json("wo-1", "cust-1", "tech-001", "2024-03-05T09:00:00Z",
                                            "open", "2024-01-25T10:15:00Z"), NULL, 0);
    assert_int_equal(store_reval_checked_at(f->s, ENT_WORK_ORDER, "wo-1", &ms), STORE_OK);
    assert_int_equal(ms, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_and_checks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checked_at_of_children, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_summary_hints, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_prune_after_gone, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests_name("store_revalidate", tests, NULL, NULL);
}
