/*
 * fuzz_remote_ingest.c — libFuzzer target: what the sync engine does with
 * a body the remote sent, from the bytes to the store.
 *
 * Input: one selector byte, then the body.  The selector's low bits pick
 * the entity (customer, contact, asset, work order), the next two the
 * path, the next two the conflict policy:
 *   0  a detail answer during a pull        sync_body_parse, sync_record_ok, store_remote_upsert
 *   1  a list page                          sync_body_parse, sync_list_meta_get, each item checked;
 *                                           contacts and assets stored under cust-001
 *   2  the remote record fetched to push    the same checks, store_write_view, sync_merge,
 *      a local update                       then store_op_hold or store_op_done
 *   3  the answer to a create (201)         its id, then store_op_create_done
 * These are the calls sync/pull.c and sync/push.c make, in their order.
 * Each input runs in a transaction that is rolled back.
 *
 * Checked beyond the sanitizers: after the ingest the replica still
 * answers store_get and store_list for the touched entity with valid
 * JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "store/store.h"
#include "sync/sync_int.h"
#include "tests/fuzz/fuzz_common.h"

static store *st;
static const int64_t now_ms = 1795000000000LL;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *db = fz_db_path("ingest");
    char err[256];
    (void)argc;
    (void)argv;
    fz_seed(db, 0);
    if (store_open(db, &st, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "fuzz_remote_ingest: %s\n", err);
        abort();
    }
    return 0;
}

static const char *seed_id(store_entity e)
{
    switch (e) {
    case ENT_CUSTOMER: return "cust-001";
    case ENT_CONTACT: return "contact-001";
    case ENT_ASSET: return "asset-001";
    default: return "wo-00001";
    }
}

/* Upserts one record as pull.c does; the store must refuse or take it. */
static void upsert(store_entity e, const cJSON *rec, const char *parent, int64_t gen)
{
    store_upsert_result res;
    char *text = cJSON_PrintUnformatted(rec);
    if (!text)
        return;
    int rc = store_remote_upsert(st, e, text, "\"etag\"", parent, gen, &res);
    if (rc != STORE_OK && rc != STORE_INVALID) {
        fprintf(stderr, "fuzz_remote_ingest: upsert: %d %s\n", rc, store_errmsg(st));
        abort();
    }
    free(text);
}

static void pull_detail(store_entity e, const char *body, size_t len, int64_t gen)
{
    char err[256];
    cJSON *root = sync_body_parse(body, len, 0, err, sizeof err);
    const cJSON *d = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    if (root && sync_record_ok(e, d, 1, err, sizeof err) == 0)
        upsert(e, d, e == ENT_CONTACT || e == ENT_ASSET ? "cust-001" : NULL, gen);
    cJSON_Delete(root);
}

static void pull_list(store_entity e, const char *body, size_t len, int64_t gen)
{
    char err[256];
    sync_list_meta m;
    const cJSON *item;
    cJSON *root = sync_body_parse(body, len, 1, err, sizeof err);
    if (!root)
        return;
    if (sync_list_meta_get(root, &m, err, sizeof err) == 0) {
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "data")) {
            int child = e == ENT_CONTACT || e == ENT_ASSET;
            if (sync_record_ok(e, item, child, err, sizeof err) != 0)
                continue;
            if (child)
                upsert(e, item, "cust-001", gen);
            else
                store_mark_seen(st, e, cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring,
                                gen);
        }
    }
    cJSON_Delete(root);
}

/* The one op the input made, claimed as the push would. */
static int claim_one(store_op *op)
{
    store_op *ops = NULL;
    int n = 0;
    if (store_outbox_claim(st, now_ms, 4, &ops, &n) != STORE_OK || n != 1) {
        fprintf(stderr, "fuzz_remote_ingest: claim: %d ops %s\n", n, store_errmsg(st));
        abort();
    }
    *op = ops[0];
    free(ops);
    return 0;
}

static void push_update(store_entity e, sync_policy pol, const char *body, size_t len)
{
    static const char *const edits[] = {
        "{\"notes\":\"local edit\",\"phone\":\"+1-555-111-2222\"}",
        "{\"title\":\"Lead\",\"is_primary\":false}",
        NULL,
        "{\"notes\":\"local edit\",\"priority\":\"high\"}",
    };
    char err[256];
    store_op op;
    cJSON *root = NULL, *fields = NULL, *base = NULL, *rview = NULL;
    const cJSON *rec = NULL, *ua;
    int64_t remote_ms = 0;
    sync_merge_result mr;

    if (e == ENT_ASSET)
        e = ENT_CUSTOMER; /* assets are read-only */
    fz_claimed_update(st, e, seed_id(e), edits[e], now_ms - 5000, &op);
    if (e == ENT_CONTACT) {
        sync_list_meta m;
        const cJSON *item;
        root = sync_body_parse(body, len, 1, err, sizeof err);
        if (root && sync_list_meta_get(root, &m, err, sizeof err) == 0)
            cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "data")) {
                const cJSON *iid = cJSON_GetObjectItemCaseSensitive(item, "id");
                if (cJSON_IsString(iid) && strcmp(iid->valuestring, op.record_id) == 0) {
                    if (sync_record_ok(e, item, 1, err, sizeof err) == 0)
                        rec = item;
                    break;
                }
            }
    } else {
        root = sync_body_parse(body, len, 0, err, sizeof err);
        rec = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
        if (rec && (sync_record_ok(e, rec, 1, err, sizeof err) != 0 ||
                    strcmp(cJSON_GetObjectItemCaseSensitive(rec, "id")->valuestring,
                           op.record_id) != 0))
            rec = NULL;
    }
    if (!rec) {
        if (store_op_retry_later(st, op.op_id, now_ms + 1000, "bad answer") != STORE_OK)
            abort();
        goto out;
    }
    fields = cJSON_Parse(op.fields);
    base = cJSON_Parse(op.base_values ? op.base_values : "{}");
    if (!fields || !base || !(rview = store_write_view(e, rec, fields)))
        abort();
    ua = cJSON_GetObjectItemCaseSensitive(rec, "updated_at");
    if (cJSON_IsString(ua))
        store_time_parse(ua->valuestring, &remote_ms);
    if (sync_merge(rview, base, fields, pol, op.edited_at_ms, 0, remote_ms, &mr))
        abort();
    {
        store_conflict_in ci = {sync_policy_name(pol), mr.outcome, NULL, NULL, NULL,
                                remote_ms, now_ms};
        char *b = NULL, *l = NULL, *r = NULL, *rj = cJSON_PrintUnformatted(rec);
        int rc;
        if (mr.conflicts) {
            ci.base_json = b = cJSON_PrintUnformatted(mr.c_base);
            ci.local_json = l = cJSON_PrintUnformatted(mr.c_local);
            ci.remote_json = r = cJSON_PrintUnformatted(mr.c_remote);
        }
        if (mr.hold)
            rc = store_op_hold(st, op.op_id, &ci);
        else
            rc = store_op_done(st, op.op_id, rj, NULL, mr.conflicts ? &ci : NULL);
        if (rc != STORE_OK && rc != STORE_INVALID) {
            fprintf(stderr, "fuzz_remote_ingest: settle: %s\n", store_errmsg(st));
            abort();
        }
        free(b);
        free(l);
        free(r);
        free(rj);
    }
    sync_merge_result_free(&mr);
out:
    cJSON_Delete(root);
    cJSON_Delete(fields);
    cJSON_Delete(base);
    cJSON_Delete(rview);
    store_op_release(&op);
}

static void push_create(store_entity e, const char *body, size_t len)
{
    static const char *const creates[] = {
        "{\"name\":\"Fuzz Customer\",\"notes\":\"made by the fuzzer\"}",
        "{\"name\":\"Fuzz Contact\",\"email\":\"fuzz@example.com\"}",
        NULL,
        "{\"customer_id\":\"cust-001\",\"description\":\"fuzz\",\"scheduled_date\":\"2027-01-02T10:00:00Z\"}",
    };
    char err[256];
    store_op op;
    cJSON *f, *root;
    const cJSON *rec, *id;
    int rc;

    if (e == ENT_ASSET)
        e = ENT_WORK_ORDER;
    f = cJSON_Parse(creates[e]);
    rc = store_local_create(st, e, e == ENT_CONTACT ? "cust-001" : NULL, f, now_ms, NULL);
    cJSON_Delete(f);
    if (rc != STORE_OK) {
        fprintf(stderr, "fuzz_remote_ingest: create: %s %s\n", store_errmsg(st),
                store_errdetails(st));
        abort();
    }
    claim_one(&op);
    root = sync_body_parse(body, len, 0, err, sizeof err);
    rec = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    if (cJSON_IsString(id) && sync_id_ok(id->valuestring)) {
        char *rj = NULL;
        if (sync_record_ok(e, rec, 1, err, sizeof err) == 0)
            rj = cJSON_PrintUnformatted(rec);
        /* Without a full record push.c fetches it; the id alone settles. */
        rc = store_op_create_done(st, op.op_id, id->valuestring, rj, NULL);
        if (rc != STORE_OK && rc != STORE_INVALID) {
            fprintf(stderr, "fuzz_remote_ingest: create_done: %s\n", store_errmsg(st));
            abort();
        }
        free(rj);
    }
    cJSON_Delete(root);
    store_op_release(&op);
}

/* The replica must still answer for the entity, with JSON. */
static void check_readable(store_entity e)
{
    char *js = NULL;
    cJSON *j;
    store_query q;
    memset(&q, 0, sizeof q);
    if (e == ENT_CONTACT || e == ENT_ASSET)
        q.customer_id = "cust-001";
    if (store_list(st, e, &q, &js) != STORE_OK || !(j = cJSON_Parse(js))) {
        fprintf(stderr, "fuzz_remote_ingest: list after ingest: %s\n", store_errmsg(st));
        abort();
    }
    cJSON_Delete(j);
    free(js);
    js = NULL;
    int rc = store_get(st, e, seed_id(e), &js);
    if (rc == STORE_OK) {
        if (!(j = cJSON_Parse(js)))
            abort();
        cJSON_Delete(j);
    } else if (rc != STORE_NOTFOUND) {
        abort();
    }
    free(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_entity e;
    int path;
    sync_policy pol;
    int64_t gen;
    const char *body;
    size_t len;

    if (size < 1 || size > 4 * 1024 * 1024)
        return 0;
    e = (store_entity)(data[0] & 3);
    path = (data[0] >> 2) & 3;
    pol = (sync_policy)((data[0] >> 4) & 3);
    body = (const char *)data + 1;
    len = size - 1;

    fz_rng_reset();
    if (store_tx_begin(st) != STORE_OK)
        abort();
    if (store_pull_begin(st, &gen) != STORE_OK)
        abort();
    switch (path) {
    case 0: pull_detail(e, body, len, gen); break;
    case 1: pull_list(e, body, len, gen); break;
    case 2: push_update(e, pol, body, len); break;
    default: push_create(e, body, len); break;
    }
    check_readable(e);
    if (store_tx_rollback(st) != STORE_OK)
        abort();
    return 0;
}
