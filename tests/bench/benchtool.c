/*
 * benchtool — the parts of `make bench` that need the store or SQLite
 * directly (tests/bench/bench.py runs it):
 *
 *   benchtool queue-edits DB EDITS TAG
 *       Queues EDITS local edits on the work orders of the replica DB, round
 *       robin (so 10,000 edits on 2,000 work orders are five per record),
 *       with values that name TAG (so that a second run changes something),
 *       through store_local_update(): the same validation, replica update,
 *       outbox append and coalescing as an edit on the socket.  Edits are
 *       grouped 500 to a commit: this is setup, not the measured part.
 *       Prints {"edits":N,"records":M,"ops":K}.
 *
 *   benchtool bare-commit PATH COUNT BYTES
 *       The floor of a durable local write: COUNT one-row commits of a
 *       BYTES-byte row into a fresh SQLite file at PATH, WAL and
 *       synchronous=FULL as the store uses.  Prints
 *       {"count":N,"p50_us":…,"p99_us":…}.
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

#define GROUP 500

static void fail(const char *what, store *s)
{
    fprintf(stderr, "benchtool: %s: %s\n", what, s ? store_errmsg(s) : "");
    exit(1);
}

/* The ids of every work order in the replica, in list order. */
static char **work_order_ids(store *s, int *n_out)
{
    char **ids = NULL;
    int n = 0, cap = 0;

    for (int page = 1;; page++) {
        store_query q = {.page = page, .per_page = 100};
        char *json = NULL;
        cJSON *root, *item;
        int got = 0;

        if (store_list(s, ENT_WORK_ORDER, &q, &json) != STORE_OK)
            fail("list", s);
        root = cJSON_Parse(json);
        free(json);
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "data")) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
            if (!cJSON_IsString(id))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                ids = realloc(ids, (size_t)cap * sizeof *ids);
                if (!ids)
                    fail("out of memory", NULL);
            }
            ids[n++] = strdup(id->valuestring);
            got++;
        }
        cJSON_Delete(root);
        if (!got)
            break;
    }
    *n_out = n;
    return ids;
}

static int queue_edits(const char *db, int edits, const char *tag)
{
    store *s = NULL;
    char err[256], body[160];
    int n = 0;
    int64_t pending = 0, rejected = 0, held = 0, t = (int64_t)time(NULL) * 1000;
    char **ids;

    if (store_open(db, &s, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "benchtool: %s\n", err);
        return 1;
    }
    ids = work_order_ids(s, &n);
    if (!n)
        fail("no work orders in the replica", NULL);
    for (int i = 0; i < edits; i++) {
        cJSON *f;

        if (i % GROUP == 0 && store_tx_begin(s) != STORE_OK)
            fail("tx_begin", s);
        /* Alternate two fields, so coalescing merges different fields. */
        if ((i / n) % 2)
            snprintf(body, sizeof body, "{\"priority\":\"%s\"}",
                     (i / n) % 4 == 1 ? "high" : "low");
        else
            snprintf(body, sizeof body, "{\"notes\":\"offline edit %d of %s (%.40s)\"}", i,
                     ids[i % n], tag);
        f = cJSON_Parse(body);
        if (store_local_update(s, ENT_WORK_ORDER, ids[i % n], f, t + i, NULL) != STORE_OK)
            fail("local_update", s);
        cJSON_Delete(f);
        if ((i % GROUP == GROUP - 1 || i == edits - 1) && store_tx_commit(s) != STORE_OK)
            fail("commit", s);
    }
    if (store_outbox_counts(s, &pending, &rejected, &held) != STORE_OK)
        fail("outbox counts", s);
    printf("{\"edits\":%d,\"records\":%d,\"ops\":%lld}\n", edits, n < edits ? n : edits,
           (long long)pending);
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    store_close(s);
    return 0;
}

static int bare_commit(const char *path, int count, int bytes)
{
    double *lat = calloc((size_t)(count > 0 ? count : 1), sizeof *lat);

    if (!lat || count < 1 || bench_bare_commits(path, count, bytes, lat))
        return 1;
    printf("{\"count\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f}\n", count,
           bench_pct(lat, (size_t)count, 0.50), bench_pct(lat, (size_t)count, 0.99));
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "queue-edits") == 0)
        return queue_edits(argv[2], atoi(argv[3]), argv[4]);
    if (argc == 5 && strcmp(argv[1], "bare-commit") == 0)
        return bare_commit(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: benchtool queue-edits DB EDITS TAG\n"
                    "       benchtool bare-commit PATH COUNT BYTES\n");
    return 2;
}
