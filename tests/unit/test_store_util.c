/* store/util.h, the helpers every layer shares: the capped byte buffer,
 * the duplicate-key check, ISO 8601 times and the clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/util.h"

/* ---- the buffer ------------------------------------------------------------ */

static void test_buf_appends_and_takes(void **state)
{
    fs_buf b;
    char *text;

    (void)state;
    fs_buf_init(&b, 1024);
    assert_string_equal(fs_buf_str(&b), "");
    assert_int_equal(fs_buf_adds(&b, "abc"), FS_BUF_OK);
    assert_int_equal(fs_buf_add(&b, "d\0e", 3), FS_BUF_OK);   /* bytes, NUL included */
    assert_int_equal(fs_buf_len(&b), 6);
    assert_int_equal(fs_buf_addf(&b, "-%d-%s", 42, "x"), FS_BUF_OK);
    assert_int_equal(fs_buf_len(&b), 11);
    assert_memory_equal(fs_buf_str(&b), "abcd\0e-42-x", 12);
    text = fs_buf_take(&b);
    assert_non_null(text);
    assert_memory_equal(text, "abcd\0e-42-x", 12);
    free(text);
    assert_int_equal(fs_buf_len(&b), 0);
    /* empty: an allocated "" */
    text = fs_buf_take(&b);
    assert_non_null(text);
    assert_string_equal(text, "");
    free(text);
    fs_buf_release(&b);
}

/* Past the cap an append fails, the error sticks, and nothing is handed out. */
static void test_buf_cap_is_sticky(void **state)
{
    fs_buf b;
    char big[300];

    (void)state;
    memset(big, 'x', sizeof big);
    fs_buf_init(&b, 10);
    assert_int_equal(fs_buf_add(&b, big, 10), FS_BUF_OK);   /* exactly the cap */
    assert_int_equal(fs_buf_add(&b, "y", 1), FS_BUF_TOO_BIG);
    assert_int_equal(fs_buf_len(&b), 10);
    assert_int_equal(fs_buf_error(&b), FS_BUF_TOO_BIG);
    assert_int_equal(fs_buf_adds(&b, ""), FS_BUF_TOO_BIG);  /* sticky */
    assert_null(fs_buf_take(&b));
    assert_int_equal(fs_buf_len(&b), 0);

    /* printf-style text past the cap, without writing past it */
    fs_buf_init(&b, 5);
    assert_int_equal(fs_buf_addf(&b, "%s", "123456"), FS_BUF_TOO_BIG);
    assert_string_equal(fs_buf_str(&b), "");
    fs_buf_reset(&b);
    assert_int_equal(fs_buf_error(&b), FS_BUF_OK);
    assert_int_equal(fs_buf_addf(&b, "%d", 12345), FS_BUF_OK);
    assert_string_equal(fs_buf_str(&b), "12345");
    fs_buf_release(&b);

    /* a producer marks it failed */
    fs_buf_init(&b, 100);
    fs_buf_adds(&b, "partial");
    fs_buf_fail(&b, FS_BUF_NOMEM);
    assert_null(fs_buf_take(&b));

    /* growth past the first allocation */
    fs_buf_init(&b, 100000);
    for (int i = 0; i < 200; i++)
        assert_int_equal(fs_buf_add(&b, big, sizeof big), FS_BUF_OK);
    assert_int_equal(fs_buf_len(&b), 200 * sizeof big);
    assert_int_equal(fs_buf_add(&b, big, 100000), FS_BUF_TOO_BIG);
    fs_buf_release(&b);
}

/* ---- duplicate keys ----------------------------------------------------------- */

static void dup_case(const char *json, const char *want)
{
    cJSON *j = cJSON_Parse(json);
    const char *dup;

    assert_non_null(j);
    dup = fs_json_dup_key(j);
    if (want)
        assert_string_equal(dup ? dup : "(none)", want);
    else if (dup)
        fail_msg("%s: unexpected duplicate \"%s\"", json, dup);
    cJSON_Delete(j);
}

static void test_json_dup_key_nested(void **state)
{
    (void)state;
    dup_case("{\"a\":1,\"b\":2}", NULL);
    dup_case("{\"a\":1,\"b\":2,\"a\":3}", "a");
    dup_case("{\"a\":{\"x\":1,\"x\":2}}", "x");
    dup_case("{\"a\":[1,{\"k\":1},{\"k\":1,\"k\":2}]}", "k");
    dup_case("[{\"a\":1},{\"a\":2}]", NULL);   /* same key in sibling objects */
    dup_case("{\"a\":{\"a\":{\"a\":1}}}", NULL);
    dup_case("\"just text\"", NULL);
    dup_case("{\"\":1,\"\":2}", "");
}

/* A large object: every key distinct, then one repeated at the far end. */
static void test_json_dup_key_large_object(void **state)
{
    cJSON *o = cJSON_CreateObject();
    char key[32];

    (void)state;
    assert_non_null(o);
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "k%05d", i);
        assert_non_null(cJSON_AddNumberToObject(o, key, i));
    }
    assert_null(fs_json_dup_key(o));
    assert_non_null(cJSON_AddNumberToObject(o, "k00007", 1));
    assert_string_equal(fs_json_dup_key(o), "k00007");
    cJSON_Delete(o);
}

/* ---- times and clocks ------------------------------------------------------------ */

static void test_time_offsets_and_fractions(void **state)
{
    int64_t ms = 0;
    char buf[40], day[11];
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"2024-03-01T08:00:00Z", 1709280000000LL},
        {"2024-03-01T10:00:00+02:00", 1709280000000LL},
        {"2024-03-01T03:30:00-04:30", 1709280000000LL},
        {"2024-03-01t08:00:00.123456z", 1709280000123LL},
        {"2024-03-01T08:00:00.5Z", 1709280000500LL},
        {"2024-03-01", 1709251200000LL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ms = 0;
        if (fs_time_parse(good[i].text, &ms) != 0 || ms != good[i].ms)
            fail_msg("%s: got %lld", good[i].text, (long long)ms);
    }
    /* the offset crosses midnight and a leap day */
    assert_int_equal(fs_time_parse("2024-02-29T23:30:00-01:00", &ms), 0);
    fs_time_format(ms, buf, sizeof buf);
    assert_string_equal(buf, "2024-03-01T00:30:00.000Z");
    fs_time_day(ms, day);
    assert_string_equal(day, "2024-03-01");
    fs_time_format(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");

    assert_int_equal(fs_time_parse("2024-03-01T08:00:00", &ms), -1);        /* no zone */
    assert_int_equal(fs_time_parse("2024-03-01T08:00:00.Z", &ms), -1);      /* no digits */
    assert_int_equal(fs_time_parse("2024-03-01T08:00:00+2:00", &ms), -1);
    assert_int_equal(fs_time_parse("2024-03-01T08:00:00+24:00", &ms), -1);
    assert_int_equal(fs_time_parse("2023-02-29", &ms), -1);
    assert_int_equal(fs_time_parse("2024-03-01 08:00:00Z", &ms), -1);
    assert_int_equal(fs_time_parse(NULL, &ms), -1);
}

static void test_clocks(void **state)
{
    int64_t w = fs_wall_ms(), m1 = fs_mono_ms(), m2 = fs_mono_ms();

    (void)state;
    assert_true(w > 1700000000000LL);   /* after 2023: a Unix-ms wall clock */
    assert_true(m2 >= m1);
}

/* ---- the log ------------------------------------------------------------------- */

static int evaluated;

static const char *count_eval(void)
{
    evaluated++;
    return "x";
}

/* Everything the log wrote to the temporary file fd, NUL-terminated. */
static void read_log(int fd, char *buf, size_t len)
{
    ssize_t n = pread(fd, buf, len - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
}

static void test_log_levels_and_lazy_arguments(void **state)
{
    char path[] = "/tmp/fs-log-XXXXXX", buf[4096];
    int fd = mkstemp(path), lvl;
    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    fs_log_set_fd(fd);
    fs_log_set_level(FS_LOG_WARN);
    evaluated = 0;
    fs_log_debug("never %s", count_eval());
    fs_log_info("never %s", count_eval());
    assert_int_equal(evaluated, 0); /* below the level: not even evaluated */
    fs_log_warn("disk %s\nforged line", count_eval());
    fs_log_error("broken");
    assert_int_equal(evaluated, 1);
    read_log(fd, buf, sizeof buf);
    assert_non_null(strstr(buf, "Z warn: disk x forged line\n"));
    assert_non_null(strstr(buf, "Z error: broken\n"));
    assert_null(strstr(buf, "never"));
    assert_int_equal(fs_log_level_parse("debug", &lvl), 0);
    assert_int_equal(lvl, FS_LOG_DEBUG);
    assert_int_equal(fs_log_level_parse("verbose", &lvl), -1);
    assert_string_equal(fs_log_level_name(FS_LOG_ERROR), "error");
    fs_log_set_fd(2);
    fs_log_set_level(FS_LOG_INFO);
    close(fd);
}

/* Under systemd, stderr is the journal: priorities instead of times. */
static void test_log_journal_prefixes(void **state)
{
    char path[] = "/tmp/fs-log-XXXXXX", buf[4096], js[64];
    int fd = mkstemp(path);
    struct stat st;
    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(fstat(fd, &st), 0);
    fs_log_set_fd(fd);
    fs_log_set_level(FS_LOG_DEBUG);
    snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    setenv("JOURNAL_STREAM", js, 1); /* another stream: not the journal */
    assert_int_equal(fs_log_detect_journal(), 0);
    snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
    assert_int_equal(fs_log_detect_journal(), 1);
    fs_log_error("e");
    fs_log_warn("w");
    fs_log_info("i");
    fs_log_debug("d");
    read_log(fd, buf, sizeof buf);
    assert_string_equal(buf, "<3>error: e\n<4>warn: w\n<6>info: i\n<7>debug: d\n");
    unsetenv("JOURNAL_STREAM");
    assert_int_equal(fs_log_detect_journal(), 0);
    fs_log_set_fd(2);
    fs_log_set_level(FS_LOG_INFO);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_appends_and_takes),
        cmocka_unit_test(test_buf_cap_is_sticky),
        cmocka_unit_test(test_json_dup_key_nested),
        cmocka_unit_test(test_json_dup_key_large_object),
        cmocka_unit_test(test_time_offsets_and_fractions),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_log_levels_and_lazy_arguments),
        cmocka_unit_test(test_log_journal_prefixes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
