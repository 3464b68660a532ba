/*
 * store_bench — micro-benchmarks of the store, one table row per figure,
 * each the median of several runs in this process:
 *   remote upsert of N work orders (~600-byte detail JSON, 100 per commit)
 *   point lookup (store_get)
 *   filtered list page (technician + date window, per_page 25, out of N)
 *   durable local write (store_local_update, synchronous=FULL): p50/p99,
 *   beside a bare SQLite synchronous=FULL one-row commit of the same size
 *   in the same run, and their ratio.
 * Usage: store_bench [--quick]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "tests/bench/bench_util.h"

#define RUNS 5
#define TECHS 50
#define DAYS 60

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

static void die(const char *what, store *s)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, s ? store_errmsg(s) : "");
    exit(1);
}

/* A realistic work-order detail, about 600 bytes. */
static int wo_json(char *buf, size_t len, int i)
{
    int day = i % DAYS, tech = i % TECHS;

    return snprintf(buf, len,
                    "{\"id\":\"wo-%06d\",\"work_order_number\":\"WO-2024-%06d\",\"status\":\"%s\","
                    "\"priority\":\"%s\",\"work_order_type\":\"maintenance\","
                    "\"description\":\"Quarterly maintenance of rooftop HVAC units\","
                    "\"notes\":\"Call the site manager first\","
                    "\"customer\":{\"id\":\"cust-%04d\",\"name\":\"Customer %04d Holdings\","
                    "\"address\":\"%d Industrial Parkway, Springfield, IL 62701\"},"
                    "\"contact\":{\"id\":\"contact-%04d\",\"name\":\"Pat Jones\","
                    "\"phone\":\"+1-555-010-%04d\"},"
                    "\"scheduled_date\":\"2024-03-%02dT%02d:00:00Z\",\"estimated_duration\":120,"
                    "\"technician\":{\"id\":\"tech-%03d\",\"name\":\"Technician %03d\"},"
                    "\"tasks\":[{\"id\":\"task-%06d-1\",\"name\":\"Inspect filters\","
                    "\"status\":\"pending\"}],"
                    "\"created_at\":\"2024-01-20T14:30:00Z\",\"updated_at\":\"2024-02-%02dT10:15:00Z\"}",
                    i, i, i % 4 ? "open" : "assigned", i % 3 ? "medium" : "high", i % 1000,
                    i % 1000, 100 + i % 900, i % 1000, i % 10000, 1 + day % 28, 8 + i % 9,
                    tech + 1, tech + 1, i, 1 + i % 28);
}

static void rm_db(const char *path)
{
    char p[512];

    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static store *open_db(const char *path)
{
    store *s = NULL;
    char err[256];

    if (store_open(path, &s, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "store_bench: %s\n", err);
        exit(1);
    }
    return s;
}

/* Loads n work orders in pages of 100 per commit; returns records/s. */
static double load(const char *path, int n, size_t *bytes)
{
    store *s;
    char buf[2048];
    int64_t gen;
    double t0, t;

    rm_db(path);
    s = open_db(path);
    if (store_pull_begin(s, &gen) != STORE_OK)
        die("pull_begin", s);
    *bytes = 0;
    t0 = bench_now_s();
    for (int i = 0; i < n; i += 100) {
        if (store_tx_begin(s) != STORE_OK)
            die("tx_begin", s);
        for (int j = i; j < i + 100 && j < n; j++) {
            store_upsert_result r;

            *bytes += (size_t)wo_json(buf, sizeof buf, j);
            if (store_remote_upsert(s, ENT_WORK_ORDER, buf, NULL, NULL, gen, &r) != STORE_OK)
                die("upsert", s);
        }
        if (store_tx_commit(s) != STORE_OK)
            die("commit", s);
    }
    t = bench_now_s() - t0;
    store_close(s);
    return n / t;
}

static double lookups(store *s, int n, int count)
{
    char id[32], *out;
    double t0 = bench_now_s();

    for (int i = 0; i < count; i++) {
        snprintf(id, sizeof id, "wo-%06d", (int)((unsigned)(i * 7919) % (unsigned)n));
        if (store_get(s, ENT_WORK_ORDER, id, &out) != STORE_OK)
            die("get", s);
        free(out);
    }
    return count / (bench_now_s() - t0);
}

static double pages(store *s, int count, int64_t *total)
{
    char tech[16], *out;
    double t0 = bench_now_s();

    for (int i = 0; i < count; i++) {
        store_query q = {.per_page = 25, .from_date = "2024-03-05", .to_date = "2024-03-11"};

        snprintf(tech, sizeof tech, "tech-%03d", 1 + i % TECHS);
        q.technician_id = tech;
        q.page = 1 + i % 3;
        if (store_list(s, ENT_WORK_ORDER, &q, &out) != STORE_OK)
            die("list", s);
        if (i == 0) {
            const char *p = strstr(out, "\"total_count\":");
            *total = p ? atoll(p + 14) : -1;
        }
        free(out);
    }
    return count / (bench_now_s() - t0);
}

/* Durable local writes: each its own transaction, fsync'd. */
static void local_writes(store *s, int count, double *lat, int64_t t)
{
    char body[256], id[32];

    for (int i = 0; i < count; i++) {
        cJSON *f;
        double t0;

        snprintf(id, sizeof id, "wo-%06d", i * 13);
        snprintf(body, sizeof body, "{\"notes\":\"edit %d: customer asked to reschedule\"}", i);
        f = cJSON_Parse(body);
        t0 = bench_now_s();
        if (store_local_update(s, ENT_WORK_ORDER, id, f, t + i, NULL) != STORE_OK)
            die("local_update", s);
        lat[i] = (bench_now_s() - t0) * 1e6;
        cJSON_Delete(f);
    }
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int n = quick ? 10000 : 100000, nget = quick ? 20000 : 100000, npage = quick ? 500 : 2000;
    int nw = quick ? 100 : 300;
    char dir[] = "/tmp/store-bench-XXXXXX", path[128], bare[128];
    double up[RUNS], get[RUNS], pg[RUNS];
    double *wl = calloc((size_t)RUNS * nw, sizeof *wl), *bl = calloc((size_t)RUNS * nw, sizeof *bl);
    size_t bytes = 0;
    int64_t total = 0;
    store *s;

    if (!wl || !bl || !mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/replica.db", dir);
    snprintf(bare, sizeof bare, "%s/bare.db", dir);
    printf("store_bench: %d work orders%s, median of %d runs (SQLite %s)\n", n,
           quick ? " (--quick)" : "", RUNS, sqlite3_libversion());
    for (int r = 0; r < RUNS; r++) {
        up[r] = load(path, n, &bytes);
        s = open_db(path);
        get[r] = lookups(s, n, nget);
        pg[r] = pages(s, npage, &total);
        /* the two durable-commit series interleave per run, on one disk */
        local_writes(s, nw, wl + (size_t)r * nw, 1709251200000LL + r * 1000000);
        store_close(s);
        /* the floor: a bare commit of a row of the same size, same settings */
        if (bench_bare_commits(bare, nw, 700, bl + (size_t)r * nw))
            return 1;
    }
    double wp50 = bench_pct(wl, (size_t)RUNS * nw, 0.50), wp99 = bench_pct(wl, (size_t)RUNS * nw, 0.99);
    double bp50 = bench_pct(bl, (size_t)RUNS * nw, 0.50), bp99 = bench_pct(bl, (size_t)RUNS * nw, 0.99);

    printf("%-44s %14s\n", "what", "result");
    printf("%-44s %10.0f rec/s   (avg %zu B/record, 100 per commit)\n",
           "remote upsert (store_remote_upsert)", median(up, RUNS), bytes / (size_t)n);
    printf("%-44s %10.0f ops/s\n", "point lookup (store_get)", median(get, RUNS));
    printf("%-44s %10.0f pages/s (matching: %lld of %d)\n",
           "list page: technician + 7-day window, 25/page", median(pg, RUNS), (long long)total, n);
    printf("%-44s p50 %7.0f us  p99 %7.0f us\n", "durable local write (store_local_update)", wp50,
           wp99);
    printf("%-44s p50 %7.0f us  p99 %7.0f us\n", "baseline: bare SQLite FULL 1-row commit", bp50,
           bp99);
    printf("%-44s p50 %7.2fx     p99 %7.2fx\n", "ratio local write / baseline", wp50 / bp50,
           wp99 / bp99);
    rm_db(path);
    rm_db(bare);
    rmdir(dir);
    free(wl);
    free(bl);
    return 0;
}
