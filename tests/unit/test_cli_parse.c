/*
 * test_cli_parse.c — every fieldsync command line becomes the request it
 * should (method, escaped path and query, JSON body, view), and every
 * misuse a one-line usage error with exit status 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/cli/cli.h"
#include "agent/cli/help.h"
#include "agent/routes.h"

#define ARGS(...) ((const char *[]){"fieldsync", __VA_ARGS__, NULL})

static int parse(const char **args, cli_plan *plan, cli_error *err)
{
    int argc = 0;

    while (args[argc])
        argc++;
    return cli_plan_parse(argc, (char **)args, plan, err);
}

/* The plan for args must be `method path` with this compact body (or none). */
static void expect(const char **args, const char *method, const char *path, const char *body)
{
    cli_error err = {0};
    cli_plan plan;

    if (parse(args, &plan, &err) != 0)
        fail_msg("parse failed: %s", err.msg);
    assert_string_equal(plan.method, method);
    assert_string_equal(plan.path, path);
    if (body) {
        char *s = cJSON_PrintUnformatted(plan.body);
        assert_non_null(s);
        assert_string_equal(s, body);
        free(s);
    } else {
        assert_null(plan.body);
    }
    cli_plan_release(&plan);
}

static void expect_usage(const char **args, const char *msg)
{
    cli_error err = {0};
    cli_plan plan;

    assert_int_equal(parse(args, &plan, &err), -1);
    assert_int_equal(err.code, CLI_EXIT_USAGE);
    if (msg)
        assert_string_equal(err.msg, msg);
    assert_null(strchr(err.msg, '\n'));
}

static void test_work_orders(void **state)
{
    (void)state;
    expect(ARGS("work-orders", "list"), "GET", "/api/v1/work-orders", NULL);
    expect(ARGS("work-orders", "list", "--to", "2024-02-01", "--status", "open", "--from",
                "2024-01-01", "--technician", "tech 1", "--customer=c/1", "--per-page", "50",
                "--page", "3"),
           "GET",
           "/api/v1/work-orders?status=open&customer_id=c%2F1&technician_id=tech%201"
           "&from_date=2024-01-01&to_date=2024-02-01&page=3&per_page=50",
           NULL);
    expect(ARGS("work-orders", "show", "wo-1"), "GET", "/api/v1/work-orders/wo-1", NULL);
    expect(ARGS("work-orders", "create", "--customer", "cust-001", "--description", "Fix",
                "--priority", "high", "--scheduled", "2024-02-01T10:00:00Z", "--technician",
                "tech-001", "--contact", "contact-001"),
           "POST", "/api/v1/work-orders",
           "{\"customer_id\":\"cust-001\",\"description\":\"Fix\",\"priority\":\"high\","
           "\"scheduled_date\":\"2024-02-01T10:00:00Z\",\"technician_id\":\"tech-001\","
           "\"contact_id\":\"contact-001\"}");
    expect(ARGS("work-orders", "update", "wo-1", "--status", "in_progress", "--set",
                "estimated_duration:=90"),
           "PUT", "/api/v1/work-orders/wo-1",
           "{\"status\":\"in_progress\",\"estimated_duration\":90}");
    /* A gate code is a string, as typed; the common fields have options. */
    expect(ARGS("work-orders", "update", "wo-1", "--set", "notes=1234"), "PUT",
           "/api/v1/work-orders/wo-1", "{\"notes\":\"1234\"}");
    expect(ARGS("work-orders", "update", "wo-1", "--notes", "1234", "--description", "d",
                "--priority", "high", "--status", "on_hold", "--scheduled",
                "2024-02-01T10:00:00+02:00"),
           "PUT", "/api/v1/work-orders/wo-1",
           "{\"notes\":\"1234\",\"description\":\"d\",\"priority\":\"high\","
           "\"status\":\"on_hold\",\"scheduled_date\":\"2024-02-01T10:00:00+02:00\"}");
    expect(ARGS("work-orders", "list", "--all", "--status", "open"), "GET",
           "/api/v1/work-orders?status=open&per_page=100", NULL);
    expect(ARGS("work-orders", "list", "--all", "--per-page", "10"), "GET",
           "/api/v1/work-orders?per_page=10", NULL);
    expect(ARGS("work-orders", "delete", "wo 1"), "DELETE", "/api/v1/work-orders/wo%201", NULL);
}

static void test_customers(void **state)
{
    (void)state;
    expect(ARGS("customers", "list", "--search", "acme&co", "--status", "active", "--branch",
                "branch-1", "--created-after", "2023-01-01"),
           "GET",
           "/api/v1/customers?search=acme%26co&status=active&branch_id=branch-1"
           "&created_after=2023-01-01",
           NULL);
    expect(ARGS("customers", "show", "cust-001"), "GET", "/api/v1/customers/cust-001", NULL);
    expect(ARGS("customers", "create", "--name", "New Co", "--phone", "+1-555",
                "--set", "payment_terms=net30"),
           "POST", "/api/v1/customers",
           "{\"name\":\"New Co\",\"phone\":\"+1-555\",\"payment_terms\":\"net30\"}");
    expect(ARGS("customers", "update", "cust-001", "--email", "a@b"), "PUT",
           "/api/v1/customers/cust-001", "{\"email\":\"a@b\"}");
    expect(ARGS("customers", "delete", "cust-001"), "DELETE", "/api/v1/customers/cust-001",
           NULL);
}

static void test_contacts_and_assets(void **state)
{
    (void)state;
    expect(ARGS("contacts", "list", "cust-001"), "GET", "/api/v1/customers/cust-001/contacts",
           NULL);
    expect(ARGS("contacts", "show", "c-1"), "GET", "/api/v1/contacts/c-1", NULL);
    expect(ARGS("contacts", "create", "cust-001", "--name", "Jane", "--set", "is_primary:=true"),
           "POST", "/api/v1/customers/cust-001/contacts",
           "{\"name\":\"Jane\",\"is_primary\":true}");
    expect(ARGS("contacts", "update", "c-1", "--title", "Boss"), "PUT", "/api/v1/contacts/c-1",
           "{\"title\":\"Boss\"}");
    expect(ARGS("contacts", "delete", "c-1"), "DELETE", "/api/v1/contacts/c-1", NULL);
    expect(ARGS("assets", "list", "cust-001"), "GET", "/api/v1/customers/cust-001/assets", NULL);
}

static void test_agent_commands(void **state)
{
    cli_error err = {0};
    cli_plan plan;

    (void)state;
    expect(ARGS("status"), "GET", "/agent/status", NULL);
    expect(ARGS("sync"), "POST", "/agent/sync", NULL);
    expect(ARGS("sync", "--wait"), "POST", "/agent/sync?wait=true", NULL);
    expect(ARGS("watch"), "GET", "/agent/events", NULL);
    expect(ARGS("outbox"), "GET", "/agent/outbox", NULL);
    expect(ARGS("outbox", "list"), "GET", "/agent/outbox", NULL);
    expect(ARGS("outbox", "retry", "op-1"), "POST", "/agent/outbox/op-1/retry", NULL);
    expect(ARGS("outbox", "discard", "op-1"), "DELETE", "/agent/outbox/op-1", NULL);
    expect(ARGS("conflicts"), "GET", "/agent/conflicts", NULL);
    expect(ARGS("conflicts", "--open"), "GET", "/agent/conflicts?state=open", NULL);
    expect(ARGS("conflicts", "list", "--open"), "GET", "/agent/conflicts?state=open", NULL);
    expect(ARGS("conflicts", "show", "7"), "GET", "/agent/conflicts", NULL);
    expect(ARGS("conflicts", "resolve", "7", "--keep", "local"), "POST",
           "/agent/conflicts/7/resolve", "{\"keep\":\"local\"}");

    assert_int_equal(parse(ARGS("sync", "--wait"), &plan, &err), 0);
    assert_int_equal(plan.action, CLI_ACT_SYNC_WAIT);
    assert_int_equal(plan.view->kind, CLI_VIEW_SYNC_SUMMARY);
    cli_plan_release(&plan);
    assert_int_equal(parse(ARGS("sync"), &plan, &err), 0);
    assert_int_equal(plan.action, CLI_ACT_REQUEST);
    assert_int_equal(plan.view->kind, CLI_VIEW_SYNC_STARTED);
    cli_plan_release(&plan);
    assert_int_equal(parse(ARGS("watch"), &plan, &err), 0);
    assert_int_equal(plan.action, CLI_ACT_WATCH);
    cli_plan_release(&plan);
}

/* What a 404 is about and how the answer is shown. */
static void test_subjects_and_views(void **state)
{
    static const struct {
        const char *args[5];
        const char *subject, *id;
        cli_view_kind view;
    } cases[] = {
        {{"work-orders", "show", "wo-9"}, "work order", "wo-9", CLI_VIEW_RECORD},
        {{"work-orders", "delete", "wo-9"}, "work order", "wo-9", CLI_VIEW_DONE},
        {{"work-orders", "list"}, NULL, NULL, CLI_VIEW_LIST},
        {{"customers", "update", "c", "--name=x"}, "customer", "c", CLI_VIEW_RECORD},
        {{"contacts", "list", "c"}, "customer", "c", CLI_VIEW_LIST},
        {{"contacts", "show", "k"}, "contact", "k", CLI_VIEW_RECORD},
        {{"assets", "list", "c"}, "customer", "c", CLI_VIEW_LIST},
        {{"outbox", "retry", "op"}, "outbox op", "op", CLI_VIEW_DONE},
        {{"conflicts", "show", "3"}, "conflict", "3", CLI_VIEW_CONFLICT},
        {{"status"}, NULL, NULL, CLI_VIEW_STATUS},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[7] = {"fieldsync"};
        cli_error err = {0};
        cli_plan plan;

        for (int a = 0; a < 5 && cases[i].args[a]; a++)
            args[a + 1] = cases[i].args[a];
        assert_int_equal(parse(args, &plan, &err), 0);
        if (cases[i].subject) {
            assert_string_equal(plan.subject, cases[i].subject);
            assert_string_equal(plan.id, cases[i].id);
        } else {
            assert_null(plan.subject);
        }
        assert_int_equal(plan.view->kind, cases[i].view);
        cli_plan_release(&plan);
    }
}

static void test_global_options_anywhere(void **state)
{
    const char **lines[] = {
        ARGS("--json", "--socket", "/s", "status"),
        ARGS("--socket=/s", "status", "--json"),
        ARGS("status", "--socket", "/s", "--json"),
        ARGS("work-orders", "--json", "--socket=/s", "list"),
        ARGS("outbox", "--socket", "/s", "--json"),
    };

    (void)state;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        cli_error err = {0};
        cli_plan plan;

        assert_int_equal(parse(lines[i], &plan, &err), 0);
        assert_int_equal(plan.json, 1);
        assert_string_equal(plan.socket, "/s");
        cli_plan_release(&plan);
    }
}

static void test_argument_order_and_repeats(void **state)
{
    (void)state;
    /* Body fields in command-line order, a later one replacing an earlier. */
    expect(ARGS("work-orders", "update", "wo-1", "--set", "status=open", "--status", "closed"),
           "PUT", "/api/v1/work-orders/wo-1", "{\"status\":\"closed\"}");
    expect(ARGS("work-orders", "update", "wo-1", "--status", "closed", "--set", "status=open"),
           "PUT", "/api/v1/work-orders/wo-1", "{\"status\":\"open\"}");
    /* A repeated filter: the last one counts; the query order is the table's. */
    expect(ARGS("work-orders", "list", "--page", "2", "--status", "a", "--status", "b"), "GET",
           "/api/v1/work-orders?status=b&page=2", NULL);
    /* Options before the positional; "--" lets an id start with a dash. */
    expect(ARGS("work-orders", "update", "--status", "x", "wo-1"), "PUT",
           "/api/v1/work-orders/wo-1", "{\"status\":\"x\"}");
    expect(ARGS("work-orders", "show", "--", "--help"), "GET", "/api/v1/work-orders/--help",
           NULL);
    expect(ARGS("work-orders", "show", "-"), "GET", "/api/v1/work-orders/-", NULL);
    /* An option's value may itself start with a dash. */
    expect(ARGS("customers", "update", "c", "--set", "balance:=-5", "--name", "-x-"), "PUT",
           "/api/v1/customers/c", "{\"balance\":-5,\"name\":\"-x-\"}");
}

static void test_help_and_version(void **state)
{
    const char *const *cases[] = {
        ARGS("--help"), ARGS("-h"), ARGS("help"), ARGS("help", "help"), ARGS("help", "work-orders"),
        ARGS("help", "work-orders", "create"), ARGS("work-orders", "--help"),
        ARGS("work-orders", "create", "--help"), ARGS("work-orders", "update", "-h"),
        ARGS("contacts", "create", "--name", "--help"), ARGS("status", "--help"),
        ARGS("help", "sync"), ARGS("conflicts", "resolve", "1", "--keep", "x", "-h"),
    };
    cli_error err = {0};
    cli_plan plan;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse((const char **)cases[i], &plan, &err), 0);
        assert_int_equal(plan.action, CLI_ACT_HELP);
        assert_non_null(strstr(plan.help, "usage: fieldsync"));
        cli_plan_release(&plan);
    }
    assert_int_equal(parse(ARGS("work-orders", "create", "-h"), &plan, &err), 0);
    assert_non_null(strstr(plan.help, "usage: fieldsync work-orders create --customer ID"));
    assert_non_null(strstr(plan.help, "  --set FIELD=VALUE"));
    assert_non_null(strstr(plan.help, "  --json"));
    cli_plan_release(&plan);
    assert_int_equal(parse(ARGS("--help"), &plan, &err), 0);
    assert_non_null(strstr(plan.help, "  4  'sync --wait' finished"));
    cli_plan_release(&plan);
    assert_int_equal(parse(ARGS("sync", "-h"), &plan, &err), 0);
    assert_non_null(strstr(plan.help, ", 4 'sync --wait'"));
    cli_plan_release(&plan);
    /* "--" ends the options: a later --help is an argument. */
    expect(ARGS("work-orders", "show", "--", "-h"), "GET", "/api/v1/work-orders/-h", NULL);
    assert_int_equal(parse(ARGS("--version"), &plan, &err), 0);
    assert_int_equal(plan.action, CLI_ACT_VERSION);
    cli_plan_release(&plan);
}

/* Dates as people type them, on the local calendar (TZ honoured). */
static void test_dates(void **state)
{
    char day[11], t[64];
    /* 2024-03-30 23:30 UTC: already the 31st in Tokyo; DST starts in
     * Berlin on the 31st. */
    time_t now = 1711841400;

    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    assert_int_equal(cli_date_arg("today", now, day), 0);
    assert_string_equal(day, "2024-03-30");
    assert_int_equal(cli_date_arg("tomorrow", now, day), 0);
    assert_string_equal(day, "2024-03-31");
    assert_int_equal(cli_date_arg("yesterday", now, day), 0);
    assert_string_equal(day, "2024-03-29");
    assert_int_equal(cli_date_arg("+7d", now, day), 0);
    assert_string_equal(day, "2024-04-06");
    assert_int_equal(cli_date_arg("-1d", now, day), 0);
    assert_string_equal(day, "2024-03-29");
    assert_int_equal(cli_date_arg("+2w", now, day), 0);
    assert_string_equal(day, "2024-04-13");
    assert_int_equal(cli_date_arg("2024-02-29", now, day), 0);
    assert_string_equal(day, "2024-02-29");
    assert_int_equal(cli_date_arg("2023-02-29", now, day), -1);
    assert_int_equal(cli_date_arg("+7", now, day), -1);
    assert_int_equal(cli_date_arg("7d", now, day), -1);
    assert_int_equal(cli_date_arg("2024-2-1", now, day), -1);
    assert_int_equal(cli_date_arg("", now, day), -1);
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    assert_int_equal(cli_date_arg("today", now, day), 0);
    assert_string_equal(day, "2024-03-31");
    /* Local wall time to UTC; an explicit offset goes as written. */
    assert_int_equal(cli_time_arg("tomorrow 09:30", now, t, sizeof t), 0);
    assert_string_equal(t, "2024-04-01T00:30:00Z");
    assert_int_equal(cli_time_arg("2024-04-02T08:00", now, t, sizeof t), 0);
    assert_string_equal(t, "2024-04-01T23:00:00Z");
    assert_int_equal(cli_time_arg("2024-04-02T08:00:00+02:00", now, t, sizeof t), 0);
    assert_string_equal(t, "2024-04-02T08:00:00+02:00");
    assert_int_equal(cli_time_arg("tomorrow", now, t, sizeof t), -1);
    assert_int_equal(cli_time_arg("today 25:00", now, t, sizeof t), -1);
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    assert_int_equal(cli_time_arg("2024-03-31 12:00", now, t, sizeof t), 0);
    assert_string_equal(t, "2024-03-31T10:00:00Z"); /* CEST, +02:00 */
    unsetenv("TZ");
    tzset();
}

static void test_usage_errors(void **state)
{
    (void)state;
    expect_usage(ARGS("nope"), "unknown command 'nope' (see 'fieldsync --help')");
    expect_usage(ARGS("--nope"), "unknown option '--nope' (see 'fieldsync --help')");
    expect_usage(ARGS("--json"), "missing command (see 'fieldsync --help')");
    expect_usage(ARGS("--socket"), "fieldsync: --socket needs a PATH");
    expect_usage(ARGS("--socket="), "fieldsync: --socket needs a PATH");
    expect_usage(ARGS("work-orders"),
                 "work-orders: missing command (see 'fieldsync work-orders --help')");
    expect_usage(ARGS("work-orders", "--bogus"), NULL);
    expect_usage(ARGS("work-orders", "frob"),
                 "work-orders: unknown command 'frob' (see 'fieldsync work-orders --help')");
    expect_usage(ARGS("work-orders", "list", "--statuss", "x"),
                 "work-orders list: unknown option '--statuss' "
                 "(see 'fieldsync work-orders list --help')");
    expect_usage(ARGS("work-orders", "list", "--page"),
                 "work-orders list: --page needs a value (N)");
    expect_usage(ARGS("work-orders", "list", "--page", "-1"),
                 "work-orders list: --page wants a positive number, not '-1'");
    expect_usage(ARGS("work-orders", "list", "--per-page", "1e3"), NULL);
    expect_usage(ARGS("work-orders", "list", "--page", "99999999999999999999"), NULL);
    expect_usage(ARGS("work-orders", "list", "extra"),
                 "work-orders list: unexpected argument 'extra'");
    expect_usage(ARGS("work-orders", "show"), "work-orders show: missing ID");
    expect_usage(ARGS("work-orders", "show", "a", "b"),
                 "work-orders show: unexpected argument 'b'");
    expect_usage(ARGS("work-orders", "create", "--description", "x"),
                 "work-orders create: --customer ID is required");
    expect_usage(ARGS("work-orders", "update", "wo-1"),
                 "work-orders update: nothing to change "
                 "(see 'fieldsync work-orders update --help')");
    expect_usage(ARGS("work-orders", "update", "wo-1", "--set", "novalue"),
                 "work-orders update: --set wants FIELD=VALUE or FIELD:=JSON, not 'novalue'");
    expect_usage(ARGS("work-orders", "update", "wo-1", "--set", "n:=007"), NULL);
    expect_usage(ARGS("work-orders", "list", "--all", "--page", "2"),
                 "work-orders list: --all and --page do not go together");
    expect_usage(ARGS("work-orders", "list", "--from", "next week"),
                 "work-orders list: --from wants a date (YYYY-MM-DD, today, tomorrow, +7d, "
                 "-1d), not 'next week'");
    expect_usage(ARGS("work-orders", "list", "--to", "2023-02-29"), NULL);
    expect_usage(ARGS("work-orders", "update", "wo-1", "--scheduled", "soon"), NULL);
    expect_usage(ARGS("contacts", "create", "--name", "x"),
                 "contacts create: missing CUSTOMER_ID");
    expect_usage(ARGS("conflicts", "resolve", "1", "--keep", "both"),
                 "conflicts resolve: --keep must be local or remote, not 'both'");
    expect_usage(ARGS("conflicts", "resolve", "1"),
                 "conflicts resolve: --keep local|remote is required");
    expect_usage(ARGS("conflicts", "list", "--open=yes"),
                 "conflicts list: --open takes no value");
    expect_usage(ARGS("status", "--json=1"), "status: --json takes no value");
    expect_usage(ARGS("help", "x"), "help: unknown command 'x' (see 'fieldsync --help')");
    expect_usage(ARGS("help", "outbox", "x"), "help: outbox has no command 'x'");
}

/* Every command calls an endpoint of agent/routes.c, and the daemon's
 * matcher takes that endpoint's path (with an id) back to the same route
 * and method: the CLI cannot call a path the router does not serve. */
static void test_every_command_names_a_routed_endpoint(void **state)
{
    (void)state;
    for (size_t g = 0; g < cli_ngroups; g++) {
        for (size_t i = 0; i < cli_groups[g]->nsubs; i++) {
            const cli_sub *s = &cli_groups[g]->subs[i];
            const routes_endpoint *ep = routes_find(s->route, s->method);
            char path[512];
            const char *mark;
            routes_hit hit;

            assert_non_null(ep);
            mark = strstr(ep->pattern, "{}");
            if (mark)
                snprintf(path, sizeof path, "%.*s%s%s", (int)(mark - ep->pattern), ep->pattern,
                         "id-1", mark + 2);
            else
                snprintf(path, sizeof path, "%s", ep->pattern);
            assert_int_equal(routes_match(path, &hit), 0);
            assert_int_equal(hit.id, s->route);
            assert_string_equal(hit.param, mark ? "id-1" : "");
            assert_true(routes_methods(hit.id) & s->method);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_work_orders),
        cmocka_unit_test(test_customers),
        cmocka_unit_test(test_contacts_and_assets),
        cmocka_unit_test(test_agent_commands),
        cmocka_unit_test(test_subjects_and_views),
        cmocka_unit_test(test_global_options_anywhere),
        cmocka_unit_test(test_argument_order_and_repeats),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_every_command_names_a_routed_endpoint),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
