/* Unit tests of fieldsyncd's configuration: every key, bad lines, the
 * precedence flag > env > file > default, key file refusal, redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/unit/test_util.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text, mode_t mode, char *path_out)
{
    const char *path = tu_write_file(tmpdir, name, text, mode);

    if (path_out)
        strcpy(path_out, path);
}

static int setup(void **state)
{
    char sub[PATH_MAX + 16];
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_agent_config.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    unsetenv("FIELDSYNC_API_URL");
    unsetenv("FIELDSYNC_API_KEY");
    unsetenv("FIELDSYNC_API_KEY_FILE");
    unsetenv("FIELDSYNC_TECHNICIAN_ID");
    unsetenv("FIELDSYNC_DB");
    unsetenv("FIELDSYNC_SOCKET");
    setenv("HOME", tmpdir, 1);
    snprintf(sub, sizeof sub, "%s/config", tmpdir);
    setenv("XDG_CONFIG_HOME", sub, 1);
    snprintf(sub, sizeof sub, "%s/state", tmpdir);
    setenv("XDG_STATE_HOME", sub, 1);
    snprintf(sub, sizeof sub, "%s/run", tmpdir);
    setenv("XDG_RUNTIME_DIR", sub, 1);
    /* Never the machine's own /etc/xdg. */
    snprintf(sub, sizeof sub, "%s/xdg-none", tmpdir);
    setenv("XDG_CONFIG_DIRS", sub, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(tu_rmtree(tmpdir), 0);
    return 0;
}

static void test_defaults(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], want[PATH_MAX + 64];
    (void)state;
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    assert_false(c.config_found);
    snprintf(want, sizeof want, "%s/config/fieldsync/config", tmpdir);
    assert_string_equal(c.config_path, want);
    snprintf(want, sizeof want, "%s/state/fieldsync/replica.db", tmpdir);
    assert_string_equal(c.db, want);
    snprintf(want, sizeof want, "%s/run/fieldsync.sock", tmpdir);
    assert_string_equal(c.socket, want);
    assert_false(c.socket_private_dir);
    assert_int_equal(c.days_back, 7);
    assert_int_equal(c.days_ahead, 30);
    assert_int_equal(c.interval, 60);
    assert_int_equal(c.max_connections, 8);
    assert_int_equal(c.policy, POLICY_LWW);
    assert_int_equal(c.log_level, FS_LOG_INFO);
    assert_null(c.api_url);
    assert_null(c.api_key);
    assert_int_equal(config_require(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "API URL"));
    config_release(&c);
}

static void test_runtime_dir_fallback(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], want[128];
    (void)state;
    unsetenv("XDG_RUNTIME_DIR");
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    snprintf(want, sizeof want, "/tmp/fieldsync-%lu/fieldsync.sock", (unsigned long)getuid());
    assert_string_equal(c.socket, want);
    assert_true(c.socket_private_dir);
    config_release(&c);
}

static void test_every_key(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], cfg[PATH_MAX], keyf[PATH_MAX], text[2 * PATH_MAX];
    (void)state;
    write_file("key", "  s3cret-key\n", 0600, keyf);
    snprintf(text, sizeof text,
             "# a comment\n"
             "\n"
             "api_url = http://127.0.0.1:9/api/v1\n"
             "api_key_file = %s\n"
             "technician_id = tech-007\n"
             "branch_id=branch-002\n"
             "days_back = 3\n"
             "days_ahead = 14\n"
             "db = ~/x.db\n"
             "socket = \"/tmp/fs.sock\"\n"
             "socket_group = root\n"
             "interval = 5\n"
             "conflict_policy = manual\n"
             "max_connections = 4\n"
             "log_level = debug\n",
             keyf);
    write_file("cfg", text, 0644, cfg);
    f.config = cfg;
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    assert_true(c.config_found);
    assert_string_equal(c.api_url, "http://127.0.0.1:9/api/v1");
    assert_string_equal(c.api_key, "s3cret-key");
    assert_string_equal(c.technician_id, "tech-007");
    assert_string_equal(c.branch_id, "branch-002");
    assert_int_equal(c.days_back, 3);
    assert_int_equal(c.days_ahead, 14);
    snprintf(text, sizeof text, "%s/x.db", tmpdir);
    assert_string_equal(c.db, text);
    assert_string_equal(c.socket, "/tmp/fs.sock");
    assert_string_equal(c.socket_group, "root");
    assert_int_equal(c.interval, 5);
    assert_int_equal(c.policy, POLICY_MANUAL);
    assert_int_equal(c.max_connections, 4);
    assert_int_equal(c.log_level, FS_LOG_DEBUG);
    snprintf(text, sizeof text, "%s:12", cfg);
    assert_string_equal(c.origin[CK_INTERVAL], text);
    assert_int_equal(config_require(&c, err, sizeof err), 0);
    config_release(&c);
}

/* Each bad file must fail naming file:line and the key. */
static void test_bad_lines(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        { "# c\n\n\ninterval = abc\n", ":4: key 'interval': invalid value 'abc'" },
        { "interval = 0\n", ":1: key 'interval'" },
        { "days_back = -1\n", ":1: key 'days_back'" },
        { "days_ahead = 99999\n", ":1: key 'days_ahead'" },
        { "max_connections = 1000\n", ":1: key 'max_connections'" },
        { "conflict_policy = newest\n", ":1: key 'conflict_policy'" },
        { "log_level = verbose\n", ":1: key 'log_level'" },
        { "api_url = ftp://x\n", ":1: key 'api_url'" },
        { "request_budget = 0\n", ":1: key 'request_budget'" },
        { "max_age = 10\n", ":1: key 'max_age'" },
        { "ca_file = /nonexistent/ca.pem\n", ":1: key 'ca_file': /nonexistent/ca.pem is not a readable file" },
        { "proxy = ftp://proxy:21\n", ":1: key 'proxy': invalid proxy" },
        { "proxy = http://user:hunter2@\n", ":1: key 'proxy': invalid proxy 'http://(redacted)@'" },
        { "technician_id = a b\n", ":1: key 'technician_id'" },
        { "socket_group = no-such-group-xyz\n", ":1: key 'socket_group'" },
        { "just some words\n", ":1: expected 'key = value'" },
        { "= value\n", ":1: missing key" },
        { "interval =\n", ":1: key 'interval': empty value" },
        { "api_key = hunter2\n", ":1: unknown key 'api_key'" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_flags f = { 0 };
        agent_config c;
        char err[512], cfg[PATH_MAX], want[PATH_MAX + 128];
        write_file("bad", cases[i].text, 0644, cfg);
        f.config = cfg;
        assert_int_equal(config_load(&f, &c, err, sizeof err), -1);
        snprintf(want, sizeof want, "%s%s", cfg, cases[i].want);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("case %zu: got '%s', want prefix '%s'", i, err, want);
        assert_null(strstr(err, "hunter2"));
    }
}

static void test_long_line(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], cfg[PATH_MAX];
    char *text = malloc(CONFIG_MAX_LINE + 100);
    (void)state;
    assert_non_null(text);
    memset(text, 'a', CONFIG_MAX_LINE + 50);
    memcpy(text, "branch_id = ", 12);
    text[CONFIG_MAX_LINE + 50] = '\0';
    write_file("long", text, 0644, cfg);
    free(text);
    f.config = cfg;
    assert_int_equal(config_load(&f, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1: line longer than"));
}

static void test_missing_config(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512];
    (void)state;
    f.config = "/nonexistent/fieldsync.conf";
    assert_int_equal(config_load(&f, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/fieldsync.conf"));
}

static void test_precedence(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], cfg[PATH_MAX];
    (void)state;
    write_file("prec", "api_url = http://file/api/v1\ntechnician_id = tech-file\n"
               "db = /tmp/file.db\nsocket = /tmp/file.sock\ninterval = 30\n", 0644, cfg);
    f.config = cfg;
    setenv("FIELDSYNC_API_URL", "http://env/api/v1", 1);
    setenv("FIELDSYNC_TECHNICIAN_ID", "tech-env", 1);
    setenv("FIELDSYNC_DB", "/tmp/env.db", 1);
    f.api_url = "http://flag/api/v1";
    f.interval = "7";
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    assert_string_equal(c.api_url, "http://flag/api/v1");           /* flag > env > file */
    assert_string_equal(c.origin[CK_API_URL], "flag --api-url");
    assert_string_equal(c.technician_id, "tech-env");               /* env > file */
    assert_string_equal(c.origin[CK_TECHNICIAN_ID], "env FIELDSYNC_TECHNICIAN_ID");
    assert_string_equal(c.db, "/tmp/env.db");
    assert_string_equal(c.socket, "/tmp/file.sock");                /* file > default */
    assert_int_equal(c.interval, 7);
    assert_int_equal(c.days_back, 7);                                /* default */
    assert_string_equal(c.origin[CK_DAYS_BACK], "default");
    config_release(&c);

    f.interval = "soon";
    assert_int_equal(config_load(&f, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "--interval"));
    f.interval = NULL;
    setenv("FIELDSYNC_API_URL", "not a url", 1);
    f.api_url = NULL;
    assert_int_equal(config_load(&f, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "FIELDSYNC_API_URL"));
}

static void test_key_file_checks(void **state)
{
    char err[512], path[PATH_MAX], *key = NULL;
    (void)state;
    write_file("k644", "abc\n", 0644, path);
    assert_int_equal(config_read_key_file(path, &key, err, sizeof err), -1);
    assert_non_null(strstr(err, "readable by group or others (mode 0644); run chmod 600"));
    assert_null(strstr(err, "abc"));
    write_file("k640", "abc\n", 0640, path);
    assert_int_equal(config_read_key_file(path, &key, err, sizeof err), -1);
    write_file("k620", "abc\n", 0620, path);
    assert_int_equal(config_read_key_file(path, &key, err, sizeof err), -1);
    assert_non_null(strstr(err, "writable"));
    write_file("kempty", " \n\t\n", 0600, path);
    assert_int_equal(config_read_key_file(path, &key, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    write_file("ktwo", "alpha beta\n", 0600, path);
    assert_int_equal(config_read_key_file(path, &key, err, sizeof err), -1);
    assert_null(strstr(err, "alpha"));
    assert_int_equal(config_read_key_file(tmpdir, &key, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    {
        char *big = malloc(CONFIG_MAX_KEY + 10);
        assert_non_null(big);
        memset(big, 'k', CONFIG_MAX_KEY + 9);
        big[CONFIG_MAX_KEY + 9] = '\0';
        write_file("kbig", big, 0600, path);
        free(big);
        assert_int_equal(config_read_key_file(path, &key, err, sizeof err), -1);
        assert_non_null(strstr(err, "larger"));
    }
    write_file("kok", "\n  tok-123 \r\n", 0400, path);
    assert_int_equal(config_read_key_file(path, &key, err, sizeof err), 0);
    assert_string_equal(key, "tok-123");
    free(key);
}

static void test_key_sources(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], kf[PATH_MAX], kf2[PATH_MAX];
    (void)state;
    write_file("kflag", "from-flag\n", 0600, kf);
    write_file("kenvfile", "from-env-file\n", 0600, kf2);
    setenv("FIELDSYNC_API_KEY", "from-env", 1);
    setenv("FIELDSYNC_API_KEY_FILE", kf2, 1);
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    assert_string_equal(c.api_key, "from-env");
    config_release(&c);
    unsetenv("FIELDSYNC_API_KEY");
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    assert_string_equal(c.api_key, "from-env-file");
    config_release(&c);
    f.api_key_file = kf;
    setenv("FIELDSYNC_API_KEY", "from-env", 1);
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    assert_string_equal(c.api_key, "from-flag");
    config_release(&c);
    /* A bad key file stops the load, and the message holds no key. */
    write_file("kbad", "leaky\n", 0644, kf);
    assert_int_equal(config_load(&f, &c, err, sizeof err), -1);
    assert_null(strstr(err, "leaky"));
}

static void test_print_redacts(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], *buf = NULL;
    size_t len = 0;
    FILE *fp;
    (void)state;
    setenv("FIELDSYNC_API_KEY", "super-secret-value", 1);
    setenv("FIELDSYNC_API_URL", "http://127.0.0.1:1/api/v1", 1);
    f.interval = "42";
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    config_print(&c, fp);
    fclose(fp);
    assert_null(strstr(buf, "super-secret-value"));
    assert_non_null(strstr(buf, "api_key = (set, redacted)  # env FIELDSYNC_API_KEY\n"));
    assert_non_null(strstr(buf, "interval = 42  # flag --interval\n"));
    assert_non_null(strstr(buf, "api_url = http://127.0.0.1:1/api/v1  # env FIELDSYNC_API_URL\n"));
    assert_non_null(strstr(buf, "conflict_policy = lww  # default\n"));
    assert_non_null(strstr(buf, "technician_id = (not set)"));
    for (int k = 0; k < CK__COUNT; k++) {
        char want[64];
        snprintf(want, sizeof want, "\n%s = ", config_key_name((config_key)k));
        assert_non_null(strstr(buf, want));
    }
    free(buf);
    config_release(&c);
    unsetenv("FIELDSYNC_API_KEY");
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    buf = NULL;
    fp = open_memstream(&buf, &len);
    config_print(&c, fp);
    fclose(fp);
    assert_non_null(strstr(buf, "api_key = (not set)"));
    free(buf);
    config_release(&c);
}

/* Every test case has its own fixture: setup before, teardown after. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
/* An unknown key is a warning naming the closest known key, not a refusal. */
static void test_unknown_key_warns(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], cfg[PATH_MAX], want[PATH_MAX + 128];
    (void)state;
    write_file("unknown", "interval = 60\nintervall = 5\nlogleve = debug\nfrobnicate = 1\n", 0644, cfg);
    f.config = cfg;
    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    assert_int_equal(c.interval, 60);
    assert_int_equal(c.n_warnings, 3);
    snprintf(want, sizeof want, "%s:2: unknown key 'intervall' ignored (did you mean 'interval'?)", cfg);
    assert_string_equal(c.warnings[0], want);
    assert_non_null(strstr(c.warnings[1], ":3: unknown key 'logleve' ignored (did you mean 'log_level'?)"));
    snprintf(want, sizeof want, "%s:4: unknown key 'frobnicate' ignored", cfg);
    assert_string_equal(c.warnings[2], want);
    assert_string_equal(config_closest_key("max-age"), "max_age");
    assert_string_equal(config_closest_key("ca-file"), "ca_file");
    assert_null(config_closest_key("zzz"));
    config_release(&c);
}

/* Writes text to the file at path (its directory exists). */
static void put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* /etc/xdg/fieldsync/config, then config.d/ *.conf in order, then the user's file. */
static void test_system_layers(void **state)
{
    config_flags f = { 0 };
    agent_config c;
    char err[512], dir[PATH_MAX], path[2 * PATH_MAX], want[PATH_MAX + 64];
    (void)state;
    snprintf(dir, sizeof dir, "%s/xdg-a/fieldsync/config.d", tmpdir);
    snprintf(path, sizeof path, "mkdir -p '%s' '%s/xdg-b/fieldsync' '%s/config/fieldsync'", dir, tmpdir,
             tmpdir);
    assert_int_equal(system(path), 0);
    /* xdg-b is listed first: more important, so it is read last. */
    snprintf(path, sizeof path, "%s/xdg-b:%s/xdg-a:relative/ignored", tmpdir, tmpdir);
    setenv("XDG_CONFIG_DIRS", path, 1);
    snprintf(path, sizeof path, "%s/xdg-a/fieldsync/config", tmpdir);
    put(path, "api_url = http://system/api/v1\ninterval = 100\ndays_back = 3\nmax_age = 3600\n"
          "request_budget = 50\n");
    snprintf(path, sizeof path, "%s/20-site.conf", dir);
    put(path, "interval = 200\nproxy = http://proxy.site:3128\n");
    snprintf(path, sizeof path, "%s/10-base.conf", dir);
    put(path, "interval = 150\ndays_back = 4\n");
    snprintf(path, sizeof path, "%s/.hidden.conf", dir);
    put(path, "interval = 999\n");
    snprintf(path, sizeof path, "%s/xdg-b/fieldsync/config", tmpdir);
    put(path, "days_back = 5\n");
    snprintf(path, sizeof path, "%s/config/fieldsync/config", tmpdir);
    put(path, "max_age = 7200\n");

    assert_int_equal(config_load(&f, &c, err, sizeof err), 0);
    assert_int_equal(c.system_files.n, 4);
    snprintf(want, sizeof want, "%s/xdg-a/fieldsync/config", tmpdir);
    assert_string_equal(c.system_files.v[0], want);
    snprintf(want, sizeof want, "%s/10-base.conf", dir);
    assert_string_equal(c.system_files.v[1], want);
    snprintf(want, sizeof want, "%s/20-site.conf", dir);
    assert_string_equal(c.system_files.v[2], want);
    snprintf(want, sizeof want, "%s/xdg-b/fieldsync/config", tmpdir);
    assert_string_equal(c.system_files.v[3], want);
    assert_string_equal(c.api_url, "http://system/api/v1");
    assert_int_equal(c.interval, 200);     /* config.d/20 after 10 after config */
    snprintf(want, sizeof want, "%s/20-site.conf:1", dir);
    assert_string_equal(c.origin[CK_INTERVAL], want);
    assert_int_equal(c.days_back, 5);      /* the more important directory */
    assert_int_equal(c.request_budget, 50);
    assert_int_equal(c.max_age, 7200);     /* the user's file last */
    snprintf(want, sizeof want, "%s/config/fieldsync/config:1", tmpdir);
    assert_string_equal(c.origin[CK_MAX_AGE], want);
    assert_string_equal(c.proxy, "http://proxy.site:3128");
    assert_string_equal(c.origin[CK_DAYS_AHEAD], "default");
    config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_defaults),
        TEST(test_runtime_dir_fallback),
        TEST(test_every_key),
        TEST(test_bad_lines),
        TEST(test_long_line),
        TEST(test_missing_config),
        TEST(test_precedence),
        TEST(test_key_file_checks),
        TEST(test_key_sources),
        TEST(test_print_redacts),
        TEST(test_unknown_key_warns),
        TEST(test_system_layers),
    };
    return cmocka_run_group_tests_name("agent_config", tests, NULL, NULL);
}
