/* Opening, schema, pragmas, transactions, the change hook, time and ids,
 * the sync state table. */
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "tests/unit/store_fixture.h"

static void test_creates_file_0600(void **state)
{
    fx *f = *state;
    struct stat st;
    char wal[160];

    /* a loose umask must not matter */
    mode_t old = umask(0);
    fx_reopen(f);
    fx_seed(f->s);
    umask(old);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_fresh_file_0600_under_umask0(void **state)
{
    fx *f = *state;
    char path[200];
    store *s = NULL;
    struct stat st;
    mode_t old = umask(0);

    snprintf(path, sizeof path, "%s/fresh.db", f->dir);
    assert_int_equal(store_open(path, &s, NULL, 0), STORE_OK);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    store_close(s);
}

/* Reads a pragma through a separate plain connection. */
static char *pragma_text(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *out = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static void test_wal_and_version(void **state)
{
    fx *f = *state;
    char *mode = pragma_text(f->path, "PRAGMA journal_mode");
    char *ver = pragma_text(f->path, "PRAGMA user_version");

    assert_string_equal(mode, "wal");
    assert_int_equal(atoi(ver), store_schema_version());
    assert_true(store_schema_version() >= 1);
    free(mode);
    free(ver);
}

/* synchronous is per connection: checked on the store's own handle. */
#include "store/store_internal.h"
static void test_synchronous_full_and_fk(void **state)
{
    fx *f = *state;
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_prepare_v2(f->s->db, "PRAGMA synchronous", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2); /* FULL */
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(f->s->db, "PRAGMA foreign_keys", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
}

static void test_reopen_keeps_data(void **state)
{
    fx *f = *state;
    int64_t n = 0;

    fx_seed(f->s);
    for (int i = 0; i < 3; i++)
        fx_reopen(f);
    assert_int_equal(store_count(f->s, ENT_CUSTOMER, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_count(f->s, ENT_WORK_ORDER, &n), STORE_OK);
    assert_int_equal(n, 1);
}

static void test_newer_schema_refused(void **state)
{
    fx *f = *state;
    sqlite3 *db = NULL;
    char err[256] = "", sql[64];
    store *s = (store *)0x1;
    struct stat before, after;

    fx_seed(f->s);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_schema_version() + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(stat(f->path, &before), 0);
    assert_int_equal(store_open(f->path, &s, err, sizeof err), STORE_NEWER_SCHEMA);
    assert_null(s);
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    /* still refused, still not downgraded */
    char *ver = pragma_text(f->path, "PRAGMA user_version");
    assert_int_equal(atoi(ver), store_schema_version() + 1);
    free(ver);
    assert_int_equal(store_open(f->path, &s, err, sizeof err), STORE_NEWER_SCHEMA);
}

static void test_garbage_refused(void **state)
{
    fx *f = *state;
    char path[200], err[256] = "";
    store *s = NULL;
    FILE *fp;
    char buf[64];

    snprintf(path, sizeof path, "%s/garbage.db", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("this is my shopping list, not a database\n", fp);
    fclose(fp);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_CORRUPT);
    assert_null(s);
    assert_non_null(strstr(err, "not a SQLite database"));
    /* untouched */
    fp = fopen(path, "r");
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    assert_string_equal(buf, "this is my shopping list, not a database\n");
}

static void test_foreign_sqlite_refused(void **state)
{
    fx *f = *state;
    char path[200], err[256] = "";
    store *s = NULL;
    sqlite3 *db = NULL;

    snprintf(path, sizeof path, "%s/other.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE photos (id INTEGER)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_CORRUPT);
    assert_non_null(strstr(err, "not fieldsync's"));
}

static void test_open_bad_dir(void **state)
{
    (void)state;
    store *s = NULL;
    char err[256] = "";

    assert_int_equal(store_open("/nonexistent-dir/x/replica.db", &s, err, sizeof err),
                     STORE_ERR);
    assert_null(s);
    assert_true(strlen(err) > 0);
}

/* Builds dir/name.db from the dump tests/data/name.sql (a database written
 * by an older schema) into path. */
static void load_fixture(const fx *f, const char *name, char *path, size_t len)
{
    char file[128], *sql = NULL;
    sqlite3 *db = NULL;
    FILE *fp;
    long n;

    snprintf(file, sizeof file, "tests/data/%s.sql", name);
    fp = fopen(file, "r");
    if (!fp)
        fail_msg("%s missing (run from the top directory)", file);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    sql = calloc(1, (size_t)n + 1);
    assert_non_null(sql);
    assert_int_equal(fread(sql, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    snprintf(path, len, "%s/%s.db", f->dir, name);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(sql);
}

/* Opens an old fixture and checks what every shipped version held: cust-1
 * with a pending local edit of its name. */
static store *open_old_fixture(fx *f, const char *name, char *path, size_t len)
{
    store *s = NULL;
    cJSON *j;
    char *out = NULL;
    int64_t pending = 0;

    load_fixture(f, name, path, len);
    assert_int_equal(store_open(path, &s, NULL, 0), STORE_OK);
    assert_int_equal(store_get(s, ENT_CUSTOMER, "cust-1", &out), STORE_OK);
    j = fx_json(out);
    assert_string_equal(fx_str(j, "name"), "Acme Corp (edited)");
    assert_string_equal(fx_sync(j), "pending");
    cJSON_Delete(j);
    assert_int_equal(store_outbox_counts(s, &pending, NULL, NULL), STORE_OK);
    assert_int_equal(pending, 1);
    return s;
}

/* A fixture database written by schema version 1 (tests/data) opens and
 * reads: the upgrade path from every shipped version is exercised. */
static void test_v1_fixture_opens(void **state)
{
    char path[200];

    store_close(open_old_fixture(*state, "store-v1", path, sizeof path));
}

/* Version 2 kept the sync engine's keys in "sync_state": the upgrade
 * renames it to "meta" with its rows, and stamps the current version. */
static void test_v2_fixture_upgrades_meta(void **state)
{
    char path[200], *v = NULL, *ver;
    store *s = open_old_fixture(*state, "store-v2", path, sizeof path);
    int64_t n = 0;

    assert_int_equal(store_meta_get_int(s, "last_sync_ms", 0, &n), STORE_OK);
    assert_int_equal(n, 1709251200000LL);
    assert_int_equal(store_meta_get(s, "pull_cursor", &v), STORE_OK);
    assert_non_null(v);
    assert_string_equal(v, "{\"entity\":\"work_order\",\"page\":3}");
    free(v);
    assert_int_equal(store_meta_set(s, "last_error", "x"), STORE_OK);
    store_close(s);
    ver = pragma_text(path, "PRAGMA user_version");
    assert_non_null(ver);
    assert_int_equal(atoi(ver), store_schema_version());
    free(ver);
    ver = pragma_text(path, "SELECT count(*) FROM sqlite_master WHERE name = 'sync_state'");
    assert_non_null(ver);
    assert_string_equal(ver, "0");
    free(ver);
}

/* ---- transactions and the change hook ----------------------------------- */

typedef struct {
    int calls;
    char last_id[64];
    char last_what[16];
} hook_log;

static void hook(void *ud, store_entity e, const char *id, const char *what)
{
    hook_log *h = ud;

    (void)e;
    h->calls++;
    snprintf(h->last_id, sizeof h->last_id, "%s", id);
    snprintf(h->last_what, sizeof h->last_what, "%s", what);
}

static void test_hook_after_commit_only(void **state)
{
    fx *f = *state;
    hook_log h = {0};

    fx_seed(f->s);
    store_set_change_hook(f->s, hook, &h);
    assert_int_equal(store_tx_begin(f->s), STORE_OK);
    assert_int_equal(fx_update(f->s, ENT_CUSTOMER, "cust-1", "{\"notes\":\"a\"}", T0), STORE_OK);
    assert_int_equal(fx_update(f->s, ENT_CUSTOMER, "cust-1", "{\"notes\":\"b\"}", T0), STORE_OK);
    assert_int_equal(h.calls, 0); /* not before COMMIT */
    assert_int_equal(store_tx_commit(f->s), STORE_OK);
    assert_int_equal(h.calls, 1); /* once per record */
    assert_string_equal(h.last_id, "cust-1");
    assert_string_equal(h.last_what, "changed");

    h.calls = 0;
    assert_int_equal(store_tx_begin(f->s), STORE_OK);
    assert_int_equal(fx_update(f->s, ENT_CUSTOMER, "cust-1", "{\"notes\":\"c\"}", T0), STORE_OK);
    assert_int_equal(store_tx_rollback(f->s), STORE_OK);
    assert_int_equal(h.calls, 0); /* never on rollback */
    cJSON *j = fx_get(f->s, ENT_CUSTOMER, "cust-1");
    assert_string_equal(fx_str(j, "notes"), "b");
    cJSON_Delete(j);

    /* a call without a transaction commits and fires at once */
    assert_int_equal(store_local_delete(f->s, ENT_WORK_ORDER, "wo-1", T0), STORE_OK);
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.last_id, "wo-1");
    assert_string_equal(h.last_what, "deleted");

    /* a failing call inside a transaction leaves the rest of it intact */
    h.calls = 0;
    assert_int_equal(store_tx_begin(f->s), STORE_OK);
    assert_int_equal(fx_update(f->s, ENT_CUSTOMER, "cust-1", "{\"notes\":\"d\"}", T0), STORE_OK);
    assert_int_equal(fx_update(f->s, ENT_CUSTOMER, "cust-1", "{\"status\":\"bogus\"}", T0),
                     STORE_INVALID);
    assert_int_equal(store_tx_commit(f->s), STORE_OK);
    assert_int_equal(h.calls, 1);
    j = fx_get(f->s, ENT_CUSTOMER, "cust-1");
    assert_string_equal(fx_str(j, "notes"), "d");
    assert_string_equal(fx_str(j, "status"), "active");
    cJSON_Delete(j);
}

static void test_tx_not_nestable(void **state)
{
    fx *f = *state;

    assert_int_equal(store_tx_begin(f->s), STORE_OK);
    assert_int_equal(store_tx_begin(f->s), STORE_STATE);
    assert_int_equal(store_tx_commit(f->s), STORE_OK);
    assert_int_equal(store_tx_commit(f->s), STORE_STATE);
    assert_int_equal(store_tx_rollback(f->s), STORE_STATE);
}

static void test_grouped_upserts_commit_together(void **state)
{
    fx *f = *state;
    int64_t n = 0;
    char id[32];

    assert_int_equal(store_tx_begin(f->s), STORE_OK);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "cust-%02d", i);
        fx_put(f->s, ENT_CUSTOMER, fx_customer_json(id, "X", id, "2024-01-01T00:00:00Z"), NULL,
               0);
    }
    assert_int_equal(store_tx_rollback(f->s), STORE_OK);
    assert_int_equal(store_count(f->s, ENT_CUSTOMER, &n), STORE_OK);
    assert_int_equal(n, 0);
}

/* ---- time, ids, names ----------------------------------------------------- */

static void test_time_parse_format(void **state)
{
    (void)state;
    int64_t ms = 0;
    char buf[40];

    assert_int_equal(store_time_parse("2024-03-01T00:00:00Z", &ms), STORE_OK);
    assert_int_equal(ms, T0);
    assert_int_equal(store_time_parse("2024-03-01", &ms), STORE_OK);
    assert_int_equal(ms, T0);
    assert_int_equal(store_time_parse("2024-03-01T02:00:00.5+02:00", &ms), STORE_OK);
    assert_int_equal(ms, T0 + 500);
    assert_int_equal(store_time_parse("2024-02-29T23:00:00-01:00", &ms), STORE_OK);
    assert_int_equal(ms, T0);
    assert_int_equal(store_time_parse("1970-01-01T00:00:00.001Z", &ms), STORE_OK);
    assert_int_equal(ms, 1);
    assert_int_equal(store_time_parse("2023-02-29", &ms), STORE_INVALID);
    assert_int_equal(store_time_parse("2024-13-01", &ms), STORE_INVALID);
    assert_int_equal(store_time_parse("2024-03-01T24:00:00Z", &ms), STORE_INVALID);
    assert_int_equal(store_time_parse("2024-03-01T00:00:00", &ms), STORE_INVALID);
    assert_int_equal(store_time_parse("2024-03-01T00:00:00Zjunk", &ms), STORE_INVALID);
    assert_int_equal(store_time_parse("yesterday", &ms), STORE_INVALID);
    assert_int_equal(store_time_parse("", &ms), STORE_INVALID);
    store_time_format(T0 + 123, buf, sizeof buf);
    assert_string_equal(buf, "2024-03-01T00:00:00.123Z");
    store_time_format(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    assert_int_equal(store_time_parse(buf, &ms), STORE_OK);
    assert_int_equal(ms, -1);
}

static void test_uuid(void **state)
{
    (void)state;
    char a[37], b[37];

    assert_int_equal(store_uuid(a), STORE_OK);
    assert_int_equal(store_uuid(b), STORE_OK);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    assert_int_equal(a[8], '-');
    assert_int_equal(a[23], '-');
}

static void test_names(void **state)
{
    (void)state;
    store_entity e;

    for (int i = 0; i < ENT__COUNT; i++) {
        assert_int_equal(store_entity_from_name(store_entity_name((store_entity)i), &e), STORE_OK);
        assert_int_equal(e, i);
    }
    assert_int_equal(store_entity_from_name("customers", &e), STORE_INVALID);
    assert_string_equal(store_entity_name(ENT_WORK_ORDER), "work_order");
    assert_string_equal(store_sync_state_name(STORE_SYNC_REJECTED), "rejected");
    assert_string_equal(store_op_kind_name(OP_DELETE), "delete");
    assert_string_equal(store_op_state_name(OPST_INFLIGHT), "in_flight");
}

/* ---- sync state ------------------------------------------------------------ */

static void test_state_kv(void **state)
{
    fx *f = *state;
    char *v = (char *)0x1;
    int64_t n = 0;

    assert_int_equal(store_meta_get(f->s, "last_sync", &v), STORE_OK);
    assert_null(v);
    assert_int_equal(store_meta_set(f->s, "last_sync", "abc"), STORE_OK);
    assert_int_equal(store_meta_set(f->s, "last_sync", "def"), STORE_OK);
    fx_reopen(f);
    assert_int_equal(store_meta_get(f->s, "last_sync", &v), STORE_OK);
    assert_string_equal(v, "def");
    free(v);
    assert_int_equal(store_meta_get_int(f->s, "offset", 42, &n), STORE_OK);
    assert_int_equal(n, 42);
    assert_int_equal(store_meta_set_int(f->s, "offset", -1234567890123LL), STORE_OK);
    assert_int_equal(store_meta_get_int(f->s, "offset", 42, &n), STORE_OK);
    assert_int_equal(n, -1234567890123LL);
    assert_int_equal(store_meta_get_int(f->s, "last_sync", 0, &n), STORE_INVALID);
    assert_int_equal(store_meta_set(f->s, "last_sync", NULL), STORE_OK);
    assert_int_equal(store_meta_get(f->s, "last_sync", &v), STORE_OK);
    assert_null(v);
}

static void test_pull_generations_rise(void **state)
{
    fx *f = *state;
    int64_t a = 0, b = 0;

    assert_int_equal(store_pull_begin(f->s, &a), STORE_OK);
    assert_int_equal(store_pull_begin(f->s, &b), STORE_OK);
    assert_true(b > a);
    fx_reopen(f);
    assert_int_equal(store_pull_begin(f->s, &a), STORE_OK);
    assert_true(a > b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_creates_file_0600),
        FX_TEST(test_fresh_file_0600_under_umask0),
        FX_TEST(test_wal_and_version),
        FX_TEST(test_synchronous_full_and_fk),
        FX_TEST(test_reopen_keeps_data),
        FX_TEST(test_newer_schema_refused),
        FX_TEST(test_garbage_refused),
        FX_TEST(test_foreign_sqlite_refused),
        cmocka_unit_test(test_open_bad_dir),
        FX_TEST(test_v1_fixture_opens),
        FX_TEST(test_v2_fixture_upgrades_meta),
        FX_TEST(test_hook_after_commit_only),
        FX_TEST(test_tx_not_nestable),
        FX_TEST(test_grouped_upserts_commit_together),
        cmocka_unit_test(test_time_parse_format),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_names),
        FX_TEST(test_state_kv),
        FX_TEST(test_pull_generations_rise),
    };

    return cmocka_run_group_tests_name("store_open", tests, NULL, NULL);
}
