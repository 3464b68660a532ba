/*
 * store_demo — a narrated walk through the store for a newcomer, on a
 * temporary database: remote records in, lists, an offline edit and its
 * outbox op, coalescing, a newer remote version (rebase), an older one
 * (ignored), a local create and its remap, and the conflict log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define NOW 1709251200000LL /* 2024-03-01T00:00:00Z */

static store *s;

static void check(int rc, const char *what)
{
    if (rc != STORE_OK) {
        fprintf(stderr, "store_demo: %s: %s %s\n", what, store_errmsg(s), store_errdetails(s));
        exit(1);
    }
}

static void say(const char *text)
{
    printf("\n%s\n", text);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "null";
}

static const char *upsert_name(store_upsert_result r)
{
    static const char *const n[] = {"APPLIED", "REBASED", "UNCHANGED", "STALE"};

    return n[r];
}

static void upsert(store_entity e, const char *json)
{
    store_upsert_result r;

    check(store_remote_upsert(s, e, json, NULL, NULL, 1, &r), "upsert");
    cJSON *j = cJSON_Parse(json);
    printf("  remote %-10s %-8s updated_at %s -> %s\n", store_entity_name(e), str(j, "id"),
           str(j, "updated_at"), upsert_name(r));
    cJSON_Delete(j);
}

static void show_work_orders(void)
{
    char *out;
    cJSON *page, *it;

    check(store_list(s, ENT_WORK_ORDER, &(store_query){.technician_id = "tech-001"}, &out),
          "list");
    page = cJSON_Parse(out);
    free(out);
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(page, "data")) {
        printf("  %-8s %-10s %-6s %-22s _sync=%s\n", str(it, "id"), str(it, "status"),
               str(it, "priority"), str(it, "scheduled_date"),
               str(cJSON_GetObjectItem(it, "_sync"), "state"));
    }
    cJSON *m = cJSON_GetObjectItem(page, "meta");
    printf("  meta: page %d of %d, %d in total\n", cJSON_GetObjectItem(m, "current_page")->valueint,
           cJSON_GetObjectItem(m, "total_pages")->valueint,
           cJSON_GetObjectItem(m, "total_count")->valueint);
    cJSON_Delete(page);
}

static void show_outbox(void)
{
    char *out, *f, *b;
    cJSON *ops, *op;

    check(store_outbox_list(s, &out), "outbox");
    ops = cJSON_Parse(out);
    free(out);
    if (cJSON_GetArraySize(ops) == 0)
        printf("  (outbox empty)\n");
    cJSON_ArrayForEach(op, ops) {
        f = cJSON_PrintUnformatted(cJSON_GetObjectItem(op, "fields"));
        b = cJSON_PrintUnformatted(cJSON_GetObjectItem(op, "base_values"));
        printf("  op %.8s… %s %s %s [%s]\n     fields %s\n     base   %s (remote updated_at %s)\n",
               str(op, "op_id"), str(op, "kind"), str(op, "entity"), str(op, "record_id"),
               str(op, "state"), f, b, str(op, "base_updated_at"));
        free(f);
        free(b);
    }
    cJSON_Delete(ops);
}

static void show_record(store_entity e, const char *id, const char *k1, const char *k2)
{
    char *out;
    cJSON *r;

    check(store_get(s, e, id, &out), "get");
    r = cJSON_Parse(out);
    free(out);
    printf("  %s: %s=%s, %s=%s, _sync=%s\n", id, k1, str(r, k1), k2, str(r, k2),
           str(cJSON_GetObjectItem(r, "_sync"), "state"));
    cJSON_Delete(r);
}

static void edit(store_entity e, const char *id, const char *json, int64_t t)
{
    cJSON *f = cJSON_Parse(json);

    check(store_local_update(s, e, id, f, t, NULL), "local update");
    cJSON_Delete(f);
}

static const char *wo(const char *id, const char *status, const char *priority, const char *notes,
                      const char *updated)
{
    static char buf[1024];

    snprintf(buf, sizeof buf,
             "{\"id\":\"%s\",\"work_order_number\":\"WO-%s\",\"status\":\"%s\",\"priority\":\"%s\","
             "\"work_order_type\":\"service\",\"description\":\"HVAC service\",\"notes\":\"%s\","
             "\"customer\":{\"id\":\"cust-001\",\"name\":\"Acme Corp\",\"address\":\"123 Main St\"},"
             "\"contact\":null,\"scheduled_date\":\"2024-03-04T09:00:00Z\",\"estimated_duration\":90,"
             "\"technician\":{\"id\":\"tech-001\",\"name\":\"Jane Doe\"},\"tasks\":[],"
             "\"created_at\":\"2024-01-20T14:30:00Z\",\"updated_at\":\"%s\"}",
             id, id + 3, status, priority, notes, updated);
    return buf;
}

int main(void)
{
    char dir[] = "/tmp/store-demo-XXXXXX", path[128], err[256], *id = NULL, *out;
    store_op *ops;
    int n;

    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/replica.db", dir);
    printf("fieldsync store demo — a replica in %s (created 0600, WAL, synchronous=FULL)\n", path);
    if (store_open(path, &s, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    say("1. A pull brings remote records in (detail shape, each with its updated_at):");
    upsert(ENT_CUSTOMER,
           "{\"id\":\"cust-001\",\"name\":\"Acme Corp\",\"customer_number\":\"C-10001\","
           "\"status\":\"active\",\"address\":{\"street\":\"123 Main St\",\"city\":\"New York\","
           "\"state\":\"NY\",\"postal_code\":\"10001\",\"country\":\"US\"},"
           "\"branch\":{\"id\":\"branch-001\",\"name\":\"Northeast\"},"
           "\"created_at\":\"2023-06-15T10:30:00Z\",\"updated_at\":\"2024-01-20T14:15:00Z\"}");
    upsert(ENT_WORK_ORDER, wo("wo-101", "open", "high", "", "2024-01-25T10:15:00Z"));
    upsert(ENT_WORK_ORDER, wo("wo-102", "assigned", "low", "", "2024-01-26T08:00:00Z"));

    say("2. The local API lists them from the replica, in the remote's list shape:");
    show_work_orders();

    say("3. Offline, the technician edits wo-101. The replica changes at once and an\n"
        "   op is appended to the outbox in the same durable transaction. Its base is\n"
        "   the REMOTE version the edit was made against (for the merge at push time):");
    edit(ENT_WORK_ORDER, "wo-101", "{\"status\":\"in_progress\"}", NOW);
    show_outbox();

    say("4. A second edit of the same record coalesces into the unsent op (later\n"
        "   values win, each field keeps its earliest base):");
    edit(ENT_WORK_ORDER, "wo-101", "{\"notes\":\"Replaced filter\",\"status\":\"completed\"}",
         NOW + 60000);
    show_outbox();

    say("5. Meanwhile the dispatcher raised the priority remotely. The next pull\n"
        "   brings a newer version: it becomes the remote version, and the pending\n"
        "   edit is re-applied on top (rebase) — neither side is lost:");
    upsert(ENT_WORK_ORDER, wo("wo-101", "open", "urgent", "", "2024-02-01T09:00:00Z"));
    show_record(ENT_WORK_ORDER, "wo-101", "priority", "status");

    say("6. A stale read (an older updated_at) never replaces a newer version:");
    upsert(ENT_WORK_ORDER, wo("wo-101", "open", "low", "", "2024-01-30T00:00:00Z"));
    show_record(ENT_WORK_ORDER, "wo-101", "priority", "status");

    say("7. A work order created offline gets a local id; the customer's name is\n"
        "   filled from the replica (write shape customer_id -> read shape customer):");
    cJSON *f = cJSON_Parse("{\"customer_id\":\"cust-001\",\"technician_id\":\"tech-001\","
                           "\"description\":\"Install thermostat\","
                           "\"scheduled_date\":\"2024-03-06T13:00:00Z\"}");
    check(store_local_create(s, ENT_WORK_ORDER, NULL, f, NOW + 120000, &out), "create");
    cJSON_Delete(f);
    cJSON *rec = cJSON_Parse(out);
    free(out);
    id = strdup(str(rec, "id"));
    printf("  created %s, customer.name=%s, technician.name=%s, status=%s\n", id,
           str(cJSON_GetObjectItem(rec, "customer"), "name"),
           str(cJSON_GetObjectItem(rec, "technician"), "name"), str(rec, "status"));
    cJSON_Delete(rec);

    say("8. The sync engine claims what is ready and pushes it. When the server\n"
        "   answers the create, the local id is replaced by the server's everywhere:");
    check(store_outbox_claim(s, NOW + 180000, 10, &ops, &n), "claim");
    printf("  claimed %d ops\n", n);
    for (int i = 0; i < n; i++) {
        if (ops[i].kind == OP_CREATE) {
            check(store_op_create_done(s, ops[i].op_id, "wo-103",
                                       "{\"id\":\"wo-103\",\"work_order_number\":\"WO-2024-103\","
                                       "\"status\":\"open\",\"created_at\":\"2024-03-01T00:03:00Z\"}",
                                       NULL),
                  "create done");
            printf("  create of %s done: it is now wo-103\n", ops[i].record_id);
        } else {
            /* the remote had changed priority; status was ours: no conflict
             * on status, but say the remote also touched notes */
            store_conflict_in c = {.rule = "lww", .outcome = "local_won",
                                   .base_json = "{\"notes\":\"\"}",
                                   .local_json = "{\"notes\":\"Replaced filter\"}",
                                   .remote_json = "{\"notes\":\"Bring ladder\"}",
                                   .remote_updated_ms = NOW - 86400000LL, .now_ms = NOW + 180000};
            check(store_op_done(s, ops[i].op_id,
                                wo("wo-101", "completed", "urgent", "Replaced filter",
                                   "2024-03-01T00:03:00Z"),
                                NULL, &c),
                  "done");
            printf("  update of %s done (a notes conflict was settled by lww: local won)\n",
                   ops[i].record_id);
        }
    }
    store_ops_free(ops, n);
    show_work_orders();
    show_outbox();

    say("9. The conflict log keeps both sides, so the losing value is never lost:");
    check(store_conflicts_list(s, 0, &out), "conflicts");
    cJSON *cl = cJSON_Parse(out), *c;
    free(out);
    cJSON_ArrayForEach(c, cl) {
        char *l = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "local"));
        char *r = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "remote"));

        printf("  #%d %s %s rule=%s outcome=%s state=%s (%s)\n     local %s  remote %s\n",
               cJSON_GetObjectItem(c, "id")->valueint, str(c, "entity"), str(c, "record_id"),
               str(c, "rule"), str(c, "outcome"), str(c, "state"), str(c, "resolution"), l, r);
        free(l);
        free(r);
    }
    cJSON_Delete(cl);

    store_close(s);
    free(id);
    char p[160];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    rmdir(dir);
    printf("\nDone: the temporary database was removed.\n");
    return 0;
}
