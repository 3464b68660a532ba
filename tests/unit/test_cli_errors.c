/*
 * test_cli_errors.c — what the fieldsync CLI says and returns: exit statuses
 * for HTTP answers and sync summaries, error lines from the daemon's error
 * format, where the socket is looked for, and the output functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/test_util.h"
#include <cmocka.h>

#include "agent/cli/cli.h"
#include "agent/cli/output.h"

static void test_exit_for_http(void **state)
{
    (void)state;
    assert_int_equal(cli_exit_for_http(200), CLI_EXIT_OK);
    assert_int_equal(cli_exit_for_http(201), CLI_EXIT_OK);
    assert_int_equal(cli_exit_for_http(202), CLI_EXIT_OK);
    assert_int_equal(cli_exit_for_http(204), CLI_EXIT_OK);
    assert_int_equal(cli_exit_for_http(301), CLI_EXIT_DAEMON);
    assert_int_equal(cli_exit_for_http(400), CLI_EXIT_DAEMON);
    assert_int_equal(cli_exit_for_http(404), CLI_EXIT_DAEMON);
    assert_int_equal(cli_exit_for_http(409), CLI_EXIT_DAEMON);
    assert_int_equal(cli_exit_for_http(413), CLI_EXIT_DAEMON);
    assert_int_equal(cli_exit_for_http(422), CLI_EXIT_DAEMON);
    assert_int_equal(cli_exit_for_http(503), CLI_EXIT_DAEMON);
    assert_int_equal(cli_exit_for_http(0), CLI_EXIT_DAEMON);
    /* The statuses --help promises. */
    assert_int_equal(CLI_EXIT_OK, 0);
    assert_int_equal(CLI_EXIT_DAEMON, 1);
    assert_int_equal(CLI_EXIT_USAGE, 2);
    assert_int_equal(CLI_EXIT_UNREACHABLE, 3);
    assert_int_equal(CLI_EXIT_SYNC, 4);
}

static void check_error(long status, const char *body, const char *subject, const char *id,
                        const char *msg)
{
    cli_error err = {0};

    assert_int_equal(cli_daemon_error(status, body, subject, id, &err), -1);
    assert_int_equal(err.code, CLI_EXIT_DAEMON);
    assert_string_equal(err.msg, msg);
}

static void test_daemon_errors(void **state)
{
    static const char validation[] =
        "{\"error\":{\"code\":\"validation_error\",\"message\":\"Validation failed\","
        "\"details\":[{\"field\":\"customer_id\",\"message\":\"Customer not found\"}]}}";
    static const char two[] =
        "{\"error\":{\"code\":\"validation_error\",\"message\":\"Validation failed\","
        "\"details\":[{\"field\":\"priority\",\"message\":\"is invalid\"},"
        "{\"field\":\"\",\"message\":\"Body is odd\"},{\"field\":\"x\"}]}}";
    char long_body[4096];

    (void)state;
    check_error(404, "{\"error\":{\"code\":\"not_found\",\"message\":\"Not found\"}}",
                "work order", "wo-999", "work order wo-999 not found");
    check_error(404, "{\"error\":{\"code\":\"not_found\",\"message\":\"No such route\"}}",
                NULL, NULL, "no such route");
    check_error(422, validation, "work order", "wo-1",
                "validation failed: customer_id: Customer not found");
    check_error(422, two, NULL, NULL, "validation failed: priority: is invalid; Body is odd");
    check_error(409, "{\"error\":{\"code\":\"conflict\",\"message\":\"Customer has active "
                     "work orders\"}}",
                "customer", "c-1", "customer has active work orders");
    check_error(413, "{\"error\":{\"message\":\"ETag too large\"}}", NULL, NULL,
                "ETag too large");
    check_error(500, "<html>oops</html>", NULL, NULL, "fieldsyncd answered HTTP 500");
    check_error(503, "", NULL, NULL, "fieldsyncd answered HTTP 503");
    check_error(400, "{\"error\":\"flat\"}", NULL, NULL, "fieldsyncd answered HTTP 400");
    check_error(400, NULL, NULL, NULL, "fieldsyncd answered HTTP 400");
    /* A message longer than a line is cut, not lost. */
    snprintf(long_body, sizeof long_body, "{\"error\":{\"message\":\"%03000d\"}}", 0);
    {
        cli_error err = {0};
        cli_daemon_error(400, long_body, NULL, NULL, &err);
        assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
    }
}

static void check_outcome(const char *summary, int code, const char *msg)
{
    cJSON *s = cJSON_Parse(summary);
    cli_error err = {0};

    assert_non_null(s);
    assert_int_equal(cli_sync_outcome(s, &err), code);
    if (msg)
        assert_string_equal(err.msg, msg);
    cJSON_Delete(s);
}

static void test_sync_outcome(void **state)
{
    (void)state;
    check_outcome("{\"online\":true,\"auth_error\":false,\"rejected\":0,\"errors\":3,"
                  "\"complete\":false}",
                  CLI_EXIT_OK, NULL);
    check_outcome("{\"online\":false,\"last_error\":\"timed out\"}", CLI_EXIT_SYNC,
                  "sync finished, but the remote was unreachable (timed out)");
    check_outcome("{\"online\":false,\"last_error\":null}", CLI_EXIT_SYNC,
                  "sync finished, but the remote was unreachable");
    check_outcome("{\"online\":true,\"auth_error\":true}", CLI_EXIT_SYNC,
                  "sync finished, but the remote refused the API key (auth error); "
                  "edits stay queued");
    check_outcome("{\"online\":true,\"rejected\":1}", CLI_EXIT_SYNC,
                  "sync finished, but the remote rejected 1 queued edit "
                  "(see 'fieldsync outbox')");
    check_outcome("{\"online\":true,\"auth_error\":true,\"rejected\":3}", CLI_EXIT_SYNC,
                  "sync finished, but the remote refused the API key (auth error); edits "
                  "stay queued; the remote rejected 3 queued edits (see 'fieldsync outbox')");
}

/* Writes text to a fresh file under dir; returns its path (static). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
    return tu_write_file(dir, name, text, 0644);
}

static void test_config_socket(void **state)
{
    char dir[] = "/tmp/fscli-unit-XXXXXX", buf[256], *big;
    cli_error err = {0};
    const char *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    f = write_file(dir, "a", "# comment\napi_url = http://x\n  socket =  /run/a.sock \n");
    assert_int_equal(cli_config_socket(f, buf, sizeof buf, &err), 1);
    assert_string_equal(buf, "/run/a.sock");
    f = write_file(dir, "b", "socket=\"/run/with space.sock\"\r\nsocket = /run/last.sock\n");
    assert_int_equal(cli_config_socket(f, buf, sizeof buf, &err), 1);
    assert_string_equal(buf, "/run/last.sock");
    f = write_file(dir, "c", "#socket = /nope\nsockets = /nope\nsocket =\n");
    assert_int_equal(cli_config_socket(f, buf, sizeof buf, &err), 0);
    f = write_file(dir, "d", "socket = \"/q.sock\"");
    assert_int_equal(cli_config_socket(f, buf, sizeof buf, &err), 1);
    assert_string_equal(buf, "/q.sock");
    snprintf(buf, sizeof buf, "%s/missing", dir);
    assert_int_equal(cli_config_socket(buf, buf, sizeof buf, &err), 0);
    big = malloc(10000);
    assert_non_null(big);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    f = write_file(dir, "e", big);
    assert_int_equal(cli_config_socket(f, buf, sizeof buf, &err), -1);
    assert_non_null(strstr(err.msg, ":1: line longer than 4096 bytes"));
    free(big);
    f = write_file(dir, "f", "socket = /a/very/long/path/that/does/not/fit\n");
    assert_int_equal(cli_config_socket(f, buf, 8, &err), -1);
    for (const char *n = "abcdef"; *n; n++) {
        snprintf(buf, sizeof buf, "%s/%c", dir, *n);
        unlink(buf);
    }
    rmdir(dir);
}

static void test_socket_precedence(void **state)
{
    char dir[] = "/tmp/fscli-unit-XXXXXX", buf[4096], expect[256], conf[300];
    cli_error err = {0};

    (void)state;
    assert_non_null(mkdtemp(dir));
    unsetenv("FIELDSYNC_SOCKET");
    setenv("HOME", dir, 1);
    setenv("XDG_CONFIG_HOME", dir, 1);
    unsetenv("XDG_RUNTIME_DIR");
    snprintf(expect, sizeof expect, "/tmp/fieldsync-%lu/fieldsync.sock", (unsigned long)getuid());
    assert_int_equal(cli_socket_path(NULL, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, expect);
    setenv("XDG_RUNTIME_DIR", "relative/dir", 1); /* ignored, as the daemon does */
    assert_int_equal(cli_socket_path(NULL, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, expect);
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    assert_int_equal(cli_socket_path(NULL, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "/run/user/1000/fieldsync.sock");
    snprintf(conf, sizeof conf, "%s/fieldsync", dir);
    assert_int_equal(mkdir(conf, 0700), 0);
    write_file(conf, "config", "socket = /from/config.sock\n");
    assert_int_equal(cli_socket_path(NULL, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "/from/config.sock");
    /* "~/" is the home directory, as fieldsyncd reads the same line. */
    write_file(conf, "config", "socket = ~/t.sock\n");
    assert_int_equal(cli_socket_path(NULL, buf, sizeof buf, &err), 0);
    snprintf(expect, sizeof expect, "%s/t.sock", dir);
    assert_string_equal(buf, expect);
    setenv("FIELDSYNC_SOCKET", "/from/env.sock", 1);
    assert_int_equal(cli_socket_path(NULL, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "/from/env.sock");
    assert_int_equal(cli_socket_path("/from/flag.sock", buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "/from/flag.sock");
    memset(expect, 'x', 200);
    expect[0] = '/';
    expect[200] = '\0';
    assert_int_equal(cli_socket_path(expect, buf, sizeof buf, &err), -1);
    assert_int_equal(err.code, CLI_EXIT_UNREACHABLE);
    unsetenv("FIELDSYNC_SOCKET");
    snprintf(buf, sizeof buf, "%s/config", conf);
    unlink(buf);
    rmdir(conf);
    rmdir(dir);
}

/* Runs one output function on JSON text; returns what it printed. */
typedef void (*show_fn)(FILE *fp, const cJSON *data);

static char *show(show_fn fn, const char *json)
{
    cJSON *v = cJSON_Parse(json);
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    assert_non_null(v);
    assert_non_null(fp);
    fn(fp, v);
    fclose(fp);
    cJSON_Delete(v);
    return out;
}

static void test_text_status_and_summary(void **state)
{
    char *out, json[1024], iso[40], local[32], expect[2048];
    int64_t five_min_ago = fs_wall_ms() - 5 * 60 * 1000;

    (void)state;
    setenv("TZ", "Asia/Tokyo", 1); /* local time is what people read */
    tzset();
    fs_time_format(five_min_ago, iso, sizeof iso);
    assert_int_equal(cli_time_local(five_min_ago, local, sizeof local), 0);
    snprintf(json, sizeof json,
             "{\"version\":\"0.1.0\",\"online\":true,\"syncing\":true,\"auth_error\":false,"
             "\"last_sync_at\":\"%s\",\"last_success_at\":null,\"next_sync_at\":\"%s\","
             "\"outbox\":{\"pending\":2,\"rejected\":0,\"held\":1},"
             "\"conflicts\":{\"open\":0,\"unacknowledged\":0},"
             "\"last_error\":null,\"replica\":{\"customers\":1,\"contacts\":2,\"assets\":3,"
             "\"work_orders\":4},\"progress\":{\"phase\":\"pull\",\"records_done\":1,"
             "\"records_total\":9,\"ops_done\":0,\"ops_total\":2},\"clock_offset_ms\":15}",
             iso, iso);
    out = show(cli_output_text.status, json);
    snprintf(expect, sizeof expect,
             "version       0.1.0\n"
             "online        yes\n"
             "syncing       yes (pull: 9%% (pulled 1 of 9 records, pushed 0 of 2 ops))\n"
             "auth error    no\n"
             "last sync     %s (5 min ago)\n"
             "last success  -\n"
             "next sync     now (running)\n"
             "outbox        2 pending, 0 rejected, 1 held\n"
             "conflicts     0 open, 0 unacknowledged\n"
             "last error    -\n"
             "replica       1 customers, 2 contacts, 3 assets, 4 work orders\n"
             "clock offset  +15 ms\n",
             local);
    assert_string_equal(out, expect);
    free(out);
    unsetenv("TZ");
    tzset();
    out = show(cli_output_text.sync_summary,
               "{\"started_at\":1706349600000,\"finished_at\":1706349602500,"
               "\"online\":false,\"complete\":false,"
               "\"pulled\":0,\"unchanged\":0,\"evicted\":0,\"deleted_remotely\":0,\"pushed\":0,"
               "\"conflicts\":0,\"rejected\":0,\"retried\":4,\"errors\":0,"
               "\"last_error\":\"connect: refused\"}");
    assert_string_equal(out,
                        "sync finished in 2.5 s (offline: the remote did not answer)\n"
                        "0 pulled, 0 unchanged, 0 evicted, 0 deleted remotely\n"
                        "0 pushed, 0 conflicts, 0 rejected, 4 retried, 0 errors\n"
                        "last error: connect: refused\n");
    free(out);
    out = show(cli_output_text.sync_started, "{\"started\":true}");
    assert_string_equal(out, "sync started\n");
    free(out);
}

/* `fieldsync status` exits 4 when the agent needs a person, and says
 * why on its first line. */
static void test_status_attention(void **state)
{
    static const struct {
        const char *json;
        int code;
        const char *why;
    } cases[] = {
        {"{\"online\":true,\"auth_error\":false,\"outbox\":{\"rejected\":0},"
         "\"conflicts\":{\"open\":0,\"unacknowledged\":0}}", 0, NULL},
        {"{\"online\":false}", 0, NULL}, /* offline alone is not a fault */
        {"{\"auth_error\":true}", 4, "the remote refused the API key"},
        {"{\"outbox\":{\"rejected\":2}}", 4, "2 edits rejected by the remote"},
        {"{\"conflicts\":{\"open\":0,\"unacknowledged\":1}}", 4, "1 lost edit not acknowledged"},
        {"{\"last_success_at\":\"2020-01-01T00:00:00Z\",\"max_age_s\":86400}", 4,
         "no successful sync since"},
    };
    char *out;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *v = cJSON_Parse(cases[i].json);

        assert_int_equal(cli_status_outcome(v), cases[i].code);
        cJSON_Delete(v);
        out = show(cli_output_text.status, cases[i].json);
        if (cases[i].why) {
            /* The ATTENTION line comes first, or second after the line of
             * lost edits, which always leads. */
            char *line = strncmp(out, "ATTENTION     ", 14) == 0
                             ? out : strstr(out, "\nATTENTION     ");
            assert_non_null(line);
            if (line != out)
                assert_non_null(strstr(out, "overwritten"));
            line += line == out ? 0 : 1;
            assert_non_null(strstr(strtok(line, "\n"), cases[i].why));
        } else {
            assert_null(strstr(out, "ATTENTION"));
        }
        free(out);
    }
}

static void test_json_output_is_the_data(void **state)
{
    static const cli_column cols[] = {{"ID", "id", 0, 0}, {NULL, NULL, 0, 0}};
    static const cli_view v = {CLI_VIEW_LIST, "things", cols, NULL};
    cJSON *data = cJSON_Parse("[{\"id\":\"a\",\"n\":1.5,\"u\":\"\xC3\xA9\"}]"), *back;
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    (void)state;
    cli_output_json.list(fp, &v, data, NULL);
    cli_output_json.done(fp, "deleted thing", "a", NULL); /* a 204: nothing */
    cli_output_json.event(fp, "record_changed", "{\"id\":\"a\"}");
    cli_output_json.event(fp, "odd", "not json");
    fclose(fp);
    {
        char *nl = strstr(out, "]\n}\n"); /* {"data": [...]}: the list as sent */
        assert_non_null(nl);
        nl[3] = '\0';
        back = cJSON_Parse(out);
        assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(back, "data"), data, 1));
        assert_null(cJSON_GetObjectItemCaseSensitive(back, "meta"));
        assert_string_equal(nl + 4, "{\"event\":\"record_changed\",\"data\":{\"id\":\"a\"}}\n"
                                    "{\"event\":\"odd\",\"data\":\"not json\"}\n");
    }
    cJSON_Delete(back);
    cJSON_Delete(data);
    free(out);
}

static void test_text_done_and_lists(void **state)
{
    static const cli_column cols[] = {{"ID", "id", 0, 0}, {"KEYS", "@local", 0, 0},
                                      {"WHO", "customer.name", 0, 0}, {NULL, NULL, 0, 0}};
    static const cli_view v = {CLI_VIEW_LIST, "things", cols, NULL};
    cJSON *data = cJSON_Parse("[{\"id\":\"a\",\"local\":{\"x\":1,\"y\":2},"
                              "\"customer\":{\"name\":\"Acme\"}},{\"id\":\"b\"}]");
    cJSON *meta = cJSON_Parse("{\"current_page\":3,\"total_pages\":3,\"total_count\":51}");
    cJSON *none = cJSON_CreateArray();
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    (void)state;
    cli_output_text.done(fp, "deleted work order", "wo-1\x1b", NULL);
    cli_output_text.list(fp, &v, data, meta);
    cli_output_text.list(fp, &v, none, NULL);
    fclose(fp);
    assert_string_equal(out, "deleted work order wo-1 \n"
                             "ID  KEYS  WHO\n"
                             "a   x, y  Acme\n"
                             "b   -     -\n"
                             "page 3 of 3 (51 things)\n"
                             "no things\n");
    free(out);
    cJSON_Delete(data);
    cJSON_Delete(meta);
    cJSON_Delete(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_for_http),
        cmocka_unit_test(test_daemon_errors),
        cmocka_unit_test(test_sync_outcome),
        cmocka_unit_test(test_config_socket),
        cmocka_unit_test(test_socket_precedence),
        cmocka_unit_test(test_text_status_and_summary),
        cmocka_unit_test(test_status_attention),
        cmocka_unit_test(test_json_output_is_the_data),
        cmocka_unit_test(test_text_done_and_lists),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
