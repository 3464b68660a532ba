/*
 * bench_util.h — small helpers shared by the C programs of tests/bench/
 * (each C file there is its own program, so these are static inline).
 */
#ifndef FIELDSYNC_BENCH_UTIL_H
#define FIELDSYNC_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static inline double bench_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The p-quantile (0..1) of v, sorting it. */
static inline double bench_pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, bench_cmp_double);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

/*
 * The floor of a durable local write: count one-row commits of a
 * bytes-byte row into a fresh SQLite file at path, WAL and
 * synchronous=FULL as the store uses; each commit's time in lat (µs).
 * 0, or -1 with a message on stderr.
 */
static inline int bench_bare_commits(const char *path, int count, int bytes, double *lat)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *row = malloc((size_t)bytes + 1);
    int rc = -1;

    if (!row || bytes < 1)
        goto out;
    memset(row, 'x', (size_t)bytes);
    row[bytes] = '\0';
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                         "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO t (body) VALUES (?1)", -1, &st, NULL) != SQLITE_OK)
        goto out;
    for (int i = 0; i < count; i++) {
        double t0 = bench_now_s();

        row[i % bytes] = (char)('a' + i % 26);
        sqlite3_bind_text(st, 1, row, bytes, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto out;
        sqlite3_reset(st);
        lat[i] = (bench_now_s() - t0) * 1e6;
    }
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bare commit: %s\n", db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(row);
    return rc;
}

#endif /* FIELDSYNC_BENCH_UTIL_H */
