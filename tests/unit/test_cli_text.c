/*
 * test_cli_text.c — the fieldsync CLI's text handling: URL escaping,
 * --set values, UTF-8 width, cleaning, truncation, table alignment, table
 * cells from JSON, and the event-stream parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/cli/cli.h"
#include "agent/cli/output.h"
#include "agent/cli/sse.h"

static void test_url_escape(void **state)
{
    static const char *const cases[][2] = {
        {"wo-12345", "wo-12345"},
        {"a/b c", "a%2Fb%20c"},
        {"x?y#z&w=1+2%", "x%3Fy%23z%26w%3D1%2B2%25"},
        {"A.b_c~d", "A.b_c~d"},
        {".", "%2E"},
        {"..", "%2E%2E"},
        {"...", "%2E%2E%2E"},
        {"a..b", "a..b"},
        {"\xC3\xA9", "%C3%A9"},
        {"", ""},
        {"\n\t", "%0A%09"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fs_buf b;

        fs_buf_init(&b, 1024);
        assert_int_equal(cli_url_escape(&b, cases[i][0]), 0);
        assert_string_equal(fs_buf_str(&b), cases[i][1]);
        fs_buf_release(&b);
    }
}

/* --set FIELD=VALUE gives body[FIELD] == the JSON `expect`. */
static void check_set(const char *arg, const char *expect)
{
    cJSON *body = cJSON_CreateObject();
    cli_error err = {0};
    char *s;

    assert_int_equal(cli_set_parse(body, arg, &err), 0);
    s = cJSON_PrintUnformatted(body);
    assert_string_equal(s, expect);
    free(s);
    cJSON_Delete(body);
}

static void test_set_values(void **state)
{
    cJSON *body = cJSON_CreateObject();
    cli_error err = {0};

    (void)state;
    /* FIELD=VALUE: values are strings, as people type them (issue 13). */
    check_set("notes=1234", "{\"notes\":\"1234\"}");
    check_set("s=true", "{\"s\":\"true\"}");
    check_set("s=null", "{\"s\":\"null\"}");
    check_set("s=\"007\"", "{\"s\":\"\\\"007\\\"\"}");
    check_set("s=007", "{\"s\":\"007\"}");
    check_set("s=+15551234", "{\"s\":\"+15551234\"}");
    check_set("s=hello world", "{\"s\":\"hello world\"}");
    check_set("s=", "{\"s\":\"\"}");
    check_set("s=a=b", "{\"s\":\"a=b\"}");
    check_set("s=a:=b", "{\"s\":\"a:=b\"}");
    check_set("s={oops", "{\"s\":\"{oops\"}");
    check_set("s=\xC3\xA9t\xC3\xA9", "{\"s\":\"\xC3\xA9t\xC3\xA9\"}");
    /* FIELD:=JSON: a typed value (httpie's syntax). */
    check_set("n:=42", "{\"n\":42}");
    check_set("n:=-1.5e3", "{\"n\":-1500}");
    check_set("b:=true", "{\"b\":true}");
    check_set("b:=false", "{\"b\":false}");
    check_set("x:=null", "{\"x\":null}");
    check_set("s:=\"007\"", "{\"s\":\"007\"}");
    check_set("a:=[1,\"x\"]", "{\"a\":[1,\"x\"]}");
    check_set("o:={\"city\":\"Chicago\"}", "{\"o\":{\"city\":\"Chicago\"}}");
    check_set("n:= 7 ", "{\"n\":7}");
    assert_int_equal(cli_set_parse(body, "n:=007", &err), -1); /* not JSON */
    assert_int_equal(err.code, CLI_EXIT_USAGE);
    assert_int_equal(cli_set_parse(body, "s:={oops", &err), -1);
    assert_int_equal(cli_set_parse(body, "s:", &err), -1);
    assert_int_equal(cli_set_parse(body, "novalue", &err), -1);
    assert_int_equal(err.code, CLI_EXIT_USAGE);
    assert_int_equal(cli_set_parse(body, "=v", &err), -1);
    assert_int_equal(cli_set_parse(body, "k:=1", &err), 0);
    assert_int_equal(cli_set_parse(body, "k:=2", &err), 0);
    assert_int_equal(cJSON_GetArraySize(body), 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(body, "k")->valueint, 2);
    cJSON_Delete(body);
}

static void test_json_path(void **state)
{
    cJSON *o = cJSON_Parse("{\"a\":{\"b\":{\"c\":1}},\"A\":2,\"s\":\"x\"}");

    (void)state;
    assert_int_equal(cli_json_path(o, "a.b.c")->valueint, 1);
    assert_int_equal(cli_json_path(o, "A")->valueint, 2);
    assert_null(cli_json_path(o, "a.x"));
    assert_null(cli_json_path(o, "s.x"));
    assert_null(cli_json_path(NULL, "a"));
    cJSON_Delete(o);
}

static void test_width(void **state)
{
    (void)state;
    assert_int_equal(cli_text_width(""), 0);
    assert_int_equal(cli_text_width("abc"), 3);
    assert_int_equal(cli_text_width("\xC3\xA9t\xC3\xA9"), 3);           /* été */
    assert_int_equal(cli_text_width("e\xCC\x81"), 1);                   /* e + combining acute */
    assert_int_equal(cli_text_width("\xE6\x9D\xB1\xE4\xBA\xAC"), 4);    /* 東京 */
    assert_int_equal(cli_text_width("\xF0\x9F\x94\xA7"), 2);            /* wrench emoji */
    assert_int_equal(cli_text_width("\xEF\xBC\xA1"), 2);                /* fullwidth A */
    assert_int_equal(cli_text_width("a\xFF" "b"), 3);                   /* a bad byte counts 1 */
}

static void check_clean(const char *in, int keep_nl, const char *out)
{
    char *s = cli_text_clean(in, keep_nl);

    assert_non_null(s);
    assert_string_equal(s, out);
    free(s);
}

static void test_clean(void **state)
{
    (void)state;
    check_clean("plain", 0, "plain");
    check_clean("a\x1b[31mred\x07", 0, "a [31mred ");
    check_clean("l1\nl2\r\tx\x7f", 0, "l1 l2  x ");
    check_clean("l1\nl2", 1, "l1\nl2");
    check_clean("\xC2\x9B" "1m", 0, " 1m");                    /* C1 CSI */
    check_clean("ab\xE2\x80\xAE" "cd", 0, "ab cd");            /* RIGHT-TO-LEFT OVERRIDE */
    check_clean("x\xFFy", 0, "x?y");                           /* not UTF-8 */
    check_clean("\xC0\xAF", 0, "??");                          /* overlong '/' */
    check_clean("\xED\xA0\x80", 0, "???");                     /* a surrogate */
    check_clean("\xE6\x9D", 0, "??");                          /* cut short */
    check_clean("\xE6\x9D\xB1", 0, "\xE6\x9D\xB1");
}

static void check_fit(const char *in, size_t max, const char *out, size_t width)
{
    fs_buf b;

    fs_buf_init(&b, 1024);
    assert_int_equal(cli_text_fit(&b, in, max), width);
    assert_string_equal(fs_buf_str(&b), out);
    assert_int_equal(cli_text_width(fs_buf_str(&b)), width);
    fs_buf_release(&b);
}

static void test_fit(void **state)
{
    (void)state;
    check_fit("abcdef", 0, "abcdef", 6);
    check_fit("abcdef", 6, "abcdef", 6);
    check_fit("abcdef", 5, "abcd\xE2\x80\xA6", 5);
    check_fit("abcdef", 1, "\xE2\x80\xA6", 1);
    /* 東京都: never half a character, so the cut may leave a column free. */
    check_fit("\xE6\x9D\xB1\xE4\xBA\xAC\xE9\x83\xBD", 4, "\xE6\x9D\xB1\xE2\x80\xA6", 3);
    check_fit("\xE6\x9D\xB1\xE4\xBA\xAC\xE9\x83\xBD", 5, "\xE6\x9D\xB1\xE4\xBA\xAC\xE2\x80\xA6",
              5);
    /* A combining mark stays with its letter. */
    check_fit("e\xCC\x81" "abc", 3, "e\xCC\x81" "a\xE2\x80\xA6", 3);
}

/* Prints a table into a string the caller frees. */
static char *table(const cli_column *cols, size_t ncols, char **cells, size_t nrows)
{
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    assert_non_null(fp);
    assert_int_equal(cli_table_print(fp, cols, ncols, cells, nrows), 0);
    fclose(fp);
    return out;
}

static void test_table(void **state)
{
    static const cli_column cols[] = {
        {"ID", NULL, 0, 0}, {"NAME", NULL, 8, 0}, {"N", NULL, 0, 1}, {"NOTE", NULL, 0, 0}};
    char *cells[] = {
        "wo-1", "Acme", "3", "x",
        "wo-22", "A very long name", "120", "",
        "w", "\xE6\x9D\xB1\xE4\xBA\xAC", "7", "last",
    };
    char *out;

    (void)state;
    /* Into a pipe nothing is cut: a script gets every value whole. */
    cli_term_set(0, 0);
    out = table(cols, 4, cells, 3);
    assert_string_equal(out,
                        "ID     NAME                N  NOTE\n"
                        "wo-1   Acme                3  x\n"
                        "wo-22  A very long name  120\n"
                        "w      \xE6\x9D\xB1\xE4\xBA\xAC                7  last\n");
    free(out);
    /* On a terminal a column's max holds. */
    cli_term_set(200, 0);
    out = table(cols, 4, cells, 3);
    assert_string_equal(out,
                        "ID     NAME        N  NOTE\n"
                        "wo-1   Acme        3  x\n"
                        "wo-22  A very \xE2\x80\xA6  120\n"
                        "w      \xE6\x9D\xB1\xE4\xBA\xAC        7  last\n");
    free(out);
    /* Headers are never cut, even past a column's max. */
    {
        static const cli_column narrow[] = {{"PRIMARY", NULL, 3, 0}, {"X", NULL, 0, 0}};
        char *c2[] = {"yes", "1", "a long value", "2"};

        out = table(narrow, 2, c2, 2);
        assert_string_equal(out, "PRIMARY  X\nyes      1\na long\xE2\x80\xA6  2\n");
        free(out);
    }
    out = table(cols, 4, NULL, 0);
    assert_string_equal(out, "ID  NAME  N  NOTE\n");
    free(out);    cli_term_set(0, 0);
}

/* On a narrow terminal the widest free-text column gives way, then the
 * line is cut: a row never wraps.  Colour marks what needs attention. */
static void test_table_fits_terminal(void **state)
{
    static const cli_column cols[] = {{"ID", NULL, 0, 0},
                                      {"CUSTOMER", NULL, 0, CLI_COL_TEXT},
                                      {"SYNC", NULL, 0, 0}};
    char *cells[] = {"wo-1", "Hans M\xC3\xBCller Heizung und Sanit\xC3\xA4r GmbH", "rejected",
                     "wo-2", "Acme", "synced"};
    char *out, *line;

    (void)state;
    cli_term_set(30, 0);
    out = table(cols, 3, cells, 2);
    assert_string_equal(out, "ID    CUSTOMER        SYNC\n"
                             "wo-1  Hans M\xC3\xBCller H\xE2\x80\xA6  rejected\n"
                             "wo-2  Acme            synced\n");
    for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        assert_true(cli_text_width(line) <= 30);
    free(out);
    /* Narrower than the columns that cannot give way: each line is cut. */
    cli_term_set(12, 0);
    out = table(cols, 3, cells, 2);
    for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        assert_true(cli_text_width(line) <= 12);
    free(out);
    cli_term_set(80, 1);
    out = table(cols, 3, cells, 2);
    assert_non_null(strstr(out, "\033[1;31mrejected\033[0m"));
    assert_null(strstr(out, "\033[1;31msynced"));
    free(out);
    cli_term_set(0, 0);
}

static void check_cell(const char *json, const char *text)
{
    cJSON *v = json ? cJSON_Parse(json) : NULL;
    char *s = cli_cell_text(v);

    assert_non_null(s);
    assert_string_equal(s, text);
    free(s);
    cJSON_Delete(v);
}

static void test_cells(void **state)
{
    (void)state;
    check_cell(NULL, "-");
    check_cell("null", "-");
    check_cell("\"x\"", "x");
    check_cell("true", "yes");
    check_cell("false", "no");
    check_cell("42", "42");
    check_cell("-3", "-3");
    check_cell("1.25", "1.25");
    check_cell("1e20", "1e+20");
    check_cell("{\"id\":\"c-1\",\"name\":\"Acme\"}", "Acme");
    check_cell("{\"state\":\"pending\"}", "pending");
    check_cell("{\"street\":\"1 Main\",\"city\":\"NYC\"}", "street: 1 Main, city: NYC");
    check_cell("{}", "-");
    check_cell("[\"a\",1,null]", "a, 1, -");
    check_cell("[]", "-");
    check_cell("\"bad\\u001bseq\\nnext\"", "bad seq next");
    check_cell("[[[[1]]]]", "\xE2\x80\xA6");
}

static void test_progress_line(void **state)
{
    cJSON *s = cJSON_Parse("{\"progress\":{\"phase\":\"push\",\"records_done\":450,"
                           "\"records_total\":450,\"ops_done\":3,\"ops_total\":5}}");
    char line[128];

    (void)state;
    cli_progress_line(s, NULL, 0, line, sizeof line);
    /* Not 100 % until the sync has ended. */
    assert_string_equal(line, "push: 99% (pulled 450 of 450 records, pushed 3 of 5 ops)");
    cJSON_Delete(s);
    s = cJSON_Parse("{\"progress\":{\"phase\":\"p\\u001b[2J\"}}");
    cli_progress_line(s, NULL, 0, line, sizeof line);
    assert_string_equal(line, "p [2J: starting");
    cJSON_Delete(s);
    cli_progress_line(NULL, NULL, 0, line, sizeof line);
    assert_string_equal(line, "syncing: starting");
}

/* The rate and the estimate come from samples over time; the percentage
 * never goes back when the daemon finds more records to fetch. */
static void test_progress_rate(void **state)
{
    cli_progress p = {0};
    char line[160];
    cJSON *s;

    (void)state;
    s = cJSON_Parse("{\"progress\":{\"phase\":\"pull\",\"records_done\":100,"
                    "\"records_total\":1000}}");
    cli_progress_line(s, &p, 1000, line, sizeof line);
    assert_string_equal(line, "pull: 10% (pulled 100 of 1000 records, pushed 0 of 0 ops)");
    cJSON_Delete(s);
    s = cJSON_Parse("{\"progress\":{\"phase\":\"pull\",\"records_done\":300,"
                    "\"records_total\":1000}}");
    cli_progress_line(s, &p, 3000, line, sizeof line);
    assert_string_equal(line, "pull: 30% (pulled 300 of 1000 records, pushed 0 of 0 ops), "
                              "100/s, about 7 s left");
    cJSON_Delete(s);
    s = cJSON_Parse("{\"progress\":{\"phase\":\"pull\",\"records_done\":400,"
                    "\"records_total\":10000}}");
    cli_progress_line(s, &p, 4000, line, sizeof line);
    assert_string_equal(line, "pull: 30% (pulled 400 of 10000 records, pushed 0 of 0 ops), "
                              "100/s, about 2 min left");
    cJSON_Delete(s);
}

/* ---- text/event-stream ---- */

typedef struct {
    char seen[1024];
    int count, stop_after;
} events;

static int on_event(void *ctx, const char *type, const char *data)
{
    events *e = ctx;
    size_t n = strlen(e->seen);

    snprintf(e->seen + n, sizeof e->seen - n, "[%s|%s]", type, data);
    return ++e->count == e->stop_after;
}

static void check_sse(const char *stream, const char *expect)
{
    size_t len = strlen(stream);

    /* Whole, then byte by byte: the same events. */
    for (int pass = 0; pass < 2; pass++) {
        events e = {.stop_after = -1};
        cli_sse p;

        cli_sse_init(&p, on_event, &e);
        if (pass == 0) {
            assert_int_equal(cli_sse_feed(&p, stream, len), 0);
        } else {
            for (size_t i = 0; i < len; i++)
                assert_int_equal(cli_sse_feed(&p, stream + i, 1), 0);
        }
        assert_string_equal(e.seen, expect);
        cli_sse_release(&p);
    }
}

static void test_sse(void **state)
{
    (void)state;
    check_sse("event: a\ndata: 1\n\n", "[a|1]");
    check_sse("event:a\r\ndata:1\r\n\r\n", "[a|1]");
    check_sse("event: a\rdata: 1\r\r", "[a|1]");
    check_sse(": keep-alive\n\n: again\n\n", "");
    check_sse("data: x\n\n", "[message|x]");
    check_sse("event: a\ndata: {\"x\":\ndata: 1}\n\n", "[a|{\"x\":\n1}]");
    check_sse("event: only-type\n\nevent: b\ndata: 2\n\n", "[b|2]");
    check_sse("id: 4\nretry: 10\nevent: c\ndata\n\n", "[c|]");
    check_sse("data:  two spaces\n\n", "[message| two spaces]");
    check_sse("event: a\ndata: 1\n\nevent: b\ndata: 2\n", "[a|1]"); /* no blank line yet */
    check_sse("event: a\ndata: 1\n\ndata: 2\n\n", "[a|1][message|2]");
}

static void test_sse_stop_and_bounds(void **state)
{
    events e = {.stop_after = 1};
    cli_sse p;
    char *big;

    (void)state;
    cli_sse_init(&p, on_event, &e);
    assert_int_equal(cli_sse_feed(&p, "data: 1\n\ndata: 2\n\n", 18), 1);
    assert_string_equal(e.seen, "[message|1]");
    cli_sse_release(&p);

    big = malloc(CLI_MAX_EVENT + 16);
    assert_non_null(big);
    memset(big, 'x', CLI_MAX_EVENT + 16);
    memcpy(big, "data: ", 6);
    cli_sse_init(&p, on_event, &e);
    assert_int_equal(cli_sse_feed(&p, big, CLI_MAX_EVENT + 16), -1);
    cli_sse_release(&p);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_escape),
        cmocka_unit_test(test_set_values),
        cmocka_unit_test(test_json_path),
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_fits_terminal),
        cmocka_unit_test(test_cells),
        cmocka_unit_test(test_progress_line),
        cmocka_unit_test(test_progress_rate),
        cmocka_unit_test(test_sse),
        cmocka_unit_test(test_sse_stop_and_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
