/*
 * Crash test: a child process doing local writes (and some settling) is
 * killed with SIGKILL, at a fixed point inside the transaction (between
 * the replica update and the outbox append) and at random moments, many
 * times.  After each kill the parent reopens the file and checks that the
 * replica and the outbox agree: every record's view is its remote version
 * plus its ops, every op has its record, every locally created record has
 * its create — nothing half-written — and that the last write the child
 * saw committed is there.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "store/store_internal.h"
#include "tests/unit/store_fixture.h"

#define RANDOM_KILLS 30

static void seed_file(fx *f)
{
    char id[32], num[32], wo[32];

    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        snprintf(num, sizeof num, "C-%d", i);
        snprintf(wo, sizeof wo, "wo-%d", i);
        fx_put(f->s, ENT_CUSTOMER, fx_customer_json(id, "Cust", num, "2024-01-20T14:15:00Z"),
               NULL, 0);
        fx_put(f->s, ENT_WORK_ORDER, fx_wo_json(wo, id, "tech-001", "2024-03-05T09:00:00Z",
                                                "open", "2024-01-25T10:15:00Z"),
               NULL, 0);
    }
}

static void check_agree(fx *f)
{
    int rc = si_check_consistency(f->s);

    if (rc != STORE_OK)
        fail_msg("replica and outbox disagree: %s", store_errmsg(f->s));
}

/* ---- the deterministic crash point -------------------------------------- */

static void kill_self(const char *point)
{
    if (strcmp(point, "local_write:replica_applied") == 0)
        raise(SIGKILL);
}

typedef enum { DO_UPDATE, DO_CREATE, DO_DELETE } crash_op;

static void child_write_once(const char *path, crash_op what)
{
    store *s = NULL;
    cJSON *fields;

    if (store_open(path, &s, NULL, 0) != STORE_OK)
        _exit(2);
    si_test_crash_hook = kill_self;
    switch (what) {
    case DO_UPDATE:
        fields = cJSON_Parse("{\"notes\":\"half-written?\"}");
        store_local_update(s, ENT_CUSTOMER, "cust-1", fields, T0, NULL);
        break;
    case DO_CREATE:
        fields = cJSON_Parse("{\"name\":\"Ghost\"}");
        store_local_create(s, ENT_CONTACT, "cust-1", fields, T0, NULL);
        break;
    default:
        fields = NULL;
        store_local_delete(s, ENT_WORK_ORDER, "wo-2", T0);
        break;
    }
    cJSON_Delete(fields);
    _exit(3); /* the hook should have killed us */
}

static void run_child(void (*fn)(const char *, crash_op), const char *path, crash_op what)
{
    int status = 0;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        fn(path, what);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_crash_between_replica_and_outbox(void **state)
{
    fx *f = *state;
    cJSON *j;
    int64_t n = 0;

    seed_file(f);
    store_close(f->s);
    f->s = NULL;
    for (crash_op what = DO_UPDATE; what <= DO_DELETE; what++) {
        run_child(child_write_once, f->path, what);
        fx_open(f);
        /* the whole transaction is gone: no edit without its op */
        assert_int_equal(fx_outbox_len(f->s), 0);
        j = fx_get(f->s, ENT_CUSTOMER, "cust-1");
        assert_string_equal(fx_str(j, "notes"), "orig notes");
        assert_string_equal(fx_sync(j), "synced");
        cJSON_Delete(j);
        assert_int_equal(store_count(f->s, ENT_CONTACT, &n), STORE_OK);
        assert_int_equal(n, 0);
        assert_int_equal(store_count(f->s, ENT_WORK_ORDER, &n), STORE_OK);
        assert_int_equal(n, 5);
        check_agree(f);
        store_close(f->s);
        f->s = NULL;
    }
    fx_open(f);
}

/* ---- random kills ---------------------------------------------------------- */

/*
 * The child writes forever: updates (coalescing and not), creates and
 * deletes, and claims and settles some ops, reporting on the pipe the
 * value of each update once its call has returned (so it is committed).
 * Values rise across rounds: k starts above every earlier round's.
 */
static void child_loop(int fd, const char *path, unsigned seed, long k)
{
    store *s = NULL;
    char buf[128], local_ids[64][48];
    int nlocal = 0;

    srand(seed);
    if (store_open(path, &s, NULL, 0) != STORE_OK)
        _exit(2);
    for (;;) {
        int r = rand() % 100, c = rand() % 5;
        char id[32];
        cJSON *fields = NULL;
        char *out = NULL;

        k++;
        if (r < 55) {
            snprintf(id, sizeof id, "cust-%d", c);
            snprintf(buf, sizeof buf, "{\"notes\":\"v%ld\"}", k);
            fields = cJSON_Parse(buf);
            if (store_local_update(s, ENT_CUSTOMER, id, fields, T0 + k, NULL) == STORE_OK) {
                int len = snprintf(buf, sizeof buf, "%s %ld\n", id, k);

                if (write(fd, buf, (size_t)len) != len)
                    _exit(4);
            }
        } else if (r < 70) {
            snprintf(id, sizeof id, "wo-%d", c);
            snprintf(buf, sizeof buf, "{\"status\":\"%s\",\"estimated_duration\":%ld}",
                     k % 2 ? "in_progress" : "on_hold", k % 1000);
            fields = cJSON_Parse(buf);
            store_local_update(s, ENT_WORK_ORDER, id, fields, T0 + k, NULL);
        } else if (r < 82) {
            snprintf(id, sizeof id, "cust-%d", c);
            snprintf(buf, sizeof buf, "{\"name\":\"Contact %ld\"}", k);
            fields = cJSON_Parse(buf);
            if (store_local_create(s, ENT_CONTACT, id, fields, T0 + k, &out) == STORE_OK &&
                nlocal < 64) {
                cJSON *rec = cJSON_Parse(out);

                snprintf(local_ids[nlocal++], sizeof local_ids[0], "%s",
                         cJSON_GetObjectItem(rec, "id")->valuestring);
                cJSON_Delete(rec);
            }
        } else if (r < 90 && nlocal > 0) {
            store_local_delete(s, ENT_CONTACT, local_ids[--nlocal], T0 + k);
        } else {
            store_op *ops = NULL;
            int n = 0;

            if (store_outbox_claim(s, T0 + k, 2, &ops, &n) == STORE_OK) {
                for (int i = 0; i < n; i++) {
                    if (ops[i].kind == OP_CREATE) {
                        snprintf(buf, sizeof buf, "srv-%ld-%d", k, i);
                        store_op_create_done(s, ops[i].op_id, buf, NULL, NULL);
                    } else if (ops[i].entity == ENT_WORK_ORDER && rand() % 3 == 0) {
                        /* (customers' notes are checked for durability,
                         * so their edits are never rejected here) */
                        store_op_reject(s, ops[i].op_id, "{\"code\":\"x\"}");
                    } else if (rand() % 2) {
                        store_op_retry_later(s, ops[i].op_id, T0 + k + 5, "503");
                    } else {
                        store_op_done(s, ops[i].op_id, NULL, NULL, NULL);
                    }
                }
                store_ops_free(ops, n);
            }
        }
        cJSON_Delete(fields);
        free(out);
    }
}

/* The last "id k" line the child completed for each customer. */
static void read_reports(int fd, long last[5])
{
    char buf[4096], line[64];
    size_t ll = 0;
    ssize_t n;

    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (ll < sizeof line - 1)
                    line[ll++] = buf[i];
                continue;
            }
            line[ll] = '\0';
            ll = 0;
            int c;
            long k;

            if (sscanf(line, "cust-%d %ld", &c, &k) == 2 && c >= 0 && c < 5)
                last[c] = k;
        }
    }
}

static void test_random_kills(void **state)
{
    fx *f = *state;
    long last[5] = {0};
    unsigned seed = (unsigned)time(NULL);
    int64_t pending = 0;

    seed_file(f);
    store_close(f->s);
    f->s = NULL;
    srand(seed);
    for (int round = 0; round < RANDOM_KILLS; round++) {
        int pfd[2], status = 0;
        pid_t pid;
        struct timespec nap = {0, (long)(rand() % 40000) * 1000L + 2000000L};

        assert_int_equal(pipe(pfd), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            child_loop(pfd[1], f->path, seed + (unsigned)round, (round + 1) * 1000000L);
        }
        close(pfd[1]);
        nanosleep(&nap, NULL);
        kill(pid, SIGKILL);
        read_reports(pfd[0], last);
        close(pfd[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));

        fx_open(f);
        check_agree(f);
        /* what the child saw committed survived: the value it wrote last
         * (or one it committed after, before it could report it) */
        for (int c = 0; c < 5; c++) {
            char id[32];
            cJSON *j;
            const char *notes;

            if (!last[c])
                continue;
            snprintf(id, sizeof id, "cust-%d", c);
            j = fx_get(f->s, ENT_CUSTOMER, id);
            notes = fx_str(j, "notes");
            if (!notes || notes[0] != 'v' || atol(notes + 1) < last[c])
                fail_msg("round %d seed %u: %s notes %s, child committed v%ld", round, seed, id,
                         notes ? notes : "null", last[c]);
            cJSON_Delete(j);
        }
        store_close(f->s);
        f->s = NULL;
    }
    fx_open(f);
    assert_int_equal(store_outbox_counts(f->s, &pending, NULL, NULL), STORE_OK);
    print_message("crash test: %d kills (seed %u), %lld ops pending at the end\n", RANDOM_KILLS,
                  seed, (long long)pending);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_crash_between_replica_and_outbox),
        FX_TEST(test_random_kills),
    };

    return cmocka_run_group_tests_name("store_crash", tests, NULL, NULL);
}
