/* The outbox as the sync engine sees it: claim readiness, settling, the
 * create remap, rejects, remote deletes, conflicts and their resolution. */
#include "tests/unit/store_fixture.h"

#include "store/store_internal.h"   /* the handle's sqlite3 *, for fault injection */

static int claim(store *s, int64_t now, store_op **ops)
{
    int n = -1;

    assert_int_equal(store_outbox_claim(s, now, 100, ops, &n), STORE_OK);
    return n;
}

static int has_op_for(const store_op *ops, int n, const char *record_id)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(ops[i].record_id, record_id))
            return 1;
    return 0;
}

static void test_claim_order_per_record(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;
    char first[37];

    fx_seed(s);
    /* two ops on one record (the first is attempted so they do not coalesce) */
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"a\"}", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    assert_int_equal(ops[0].state, OPST_INFLIGHT);
    snprintf(first, sizeof first, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"b\"}", T0), STORE_OK);
    /* an op on another record is independent */
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-1", "{\"notes\":\"c\"}", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1); /* only the customer: wo-1's second waits for its first */
    assert_string_equal(ops[0].record_id, "cust-1");
    assert_string_equal(ops[0].fields, "{\"notes\":\"c\"}");
    assert_string_equal(ops[0].base_values, "{\"notes\":\"orig notes\"}");
    assert_string_equal(ops[0].base_updated_at, "2024-01-20T14:15:00Z");
    assert_int_equal(ops[0].kind, OP_UPDATE);
    assert_int_equal(ops[0].entity, ENT_CUSTOMER);
    store_ops_free(ops, n);
    /* nothing more while both are in flight */
    assert_int_equal(claim(s, T0, &ops), 0);
    store_ops_free(ops, 0);
    /* the first settles: the second becomes ready */
    char *remote = fx_wo_json("wo-1", "cust-1", "tech-001", "2024-03-05T09:00:00Z", "open",
                              "2024-03-01T00:00:01Z");
    assert_int_equal(store_op_done(s, first, remote, "\"e9\"", NULL), STORE_OK);
    free(remote);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    assert_string_equal(ops[0].fields, "{\"notes\":\"b\"}");
    store_ops_free(ops, n);
    /* a settled op cannot be settled again */
    assert_int_equal(store_op_done(s, first, NULL, NULL, NULL), STORE_NOTFOUND);
}

static void test_claim_backoff_and_reopen(void **state)
{
    fx *f = *state;
    store *s;
    store_op *ops = NULL;
    int n;
    char id[37];
    cJSON *ob;

    fx_seed(f->s);
    s = f->s;
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"a\"}", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    snprintf(id, sizeof id, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    assert_int_equal(store_op_retry_later(s, id, T0 + 30000, "HTTP 503"), STORE_OK);
    assert_int_equal(claim(s, T0 + 29999, &ops), 0);        /* not before its time */
    store_ops_free(ops, 0);
    n = claim(s, T0 + 30000, &ops);
    assert_int_equal(n, 1);
    assert_int_equal(ops[0].attempts, 1);
    store_ops_free(ops, n);
    /* a crash while in flight: back to pending at the next open, one more attempt */
    fx_reopen(f);
    s = f->s;
    ob = fx_outbox(s);
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "state"), "pending");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ob, 0), "attempts")->valueint, 2);
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "op_id"), id);
    cJSON_Delete(ob);
    n = claim(s, T0 + 30000, &ops);
    assert_int_equal(n, 1);
    assert_string_equal(ops[0].op_id, id); /* same op, same idempotency key */
    store_ops_free(ops, n);
}

/* A second handle on the file does not disturb a push in progress. */
static void test_second_handle_keeps_inflight(void **state)
{
    fx *f = *state;
    store *other = NULL;
    store_op *ops = NULL;
    int n;
    cJSON *ob;

    fx_seed(f->s);
    assert_int_equal(fx_update(f->s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"a\"}", T0), STORE_OK);
    n = claim(f->s, T0, &ops);
    assert_int_equal(n, 1);
    assert_int_equal(store_open(f->path, &other, NULL, 0), STORE_OK);
    ob = fx_outbox(other);
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "state"), "in_flight");
    cJSON_Delete(ob);
    store_close(other);
    assert_int_equal(store_op_done(f->s, ops[0].op_id, NULL, NULL, NULL), STORE_OK);
    store_ops_free(ops, n);
}

/* A create is pushed before anything that refers to it. */
static void test_create_before_reference_and_remap(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;
    char *cust = NULL, *wo = NULL, *con = NULL, create_op[37];
    cJSON *ob;

    fx_seed(s);
    assert_int_equal(fx_create(s, ENT_CUSTOMER, NULL, "{\"name\":\"Newco\"}", T0, &cust),
                     STORE_OK);
    char *wof = fx_fmt("{\"customer_id\":\"%s\",\"description\":\"Install\"}", cust);
    assert_int_equal(fx_create(s, ENT_WORK_ORDER, NULL, wof, T0 + 1, &wo), STORE_OK);
    free(wof);
    assert_int_equal(fx_create(s, ENT_CONTACT, cust, "{\"name\":\"Pat\"}", T0 + 2, &con),
                     STORE_OK);
    /* an existing work order moved to the new customer */
    char *upd = fx_fmt("{\"customer_id\":\"%s\"}", cust);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", upd, T0 + 3), STORE_OK);
    free(upd);
    fx_assert_str(s, ENT_WORK_ORDER, "wo-1", "customer.name", "Newco");

    n = claim(s, T0, &ops);
    assert_int_equal(n, 1); /* only the customer create */
    assert_string_equal(ops[0].record_id, cust);
    assert_int_equal(ops[0].kind, OP_CREATE);
    snprintf(create_op, sizeof create_op, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    assert_int_equal(claim(s, T0, &ops), 0);
    store_ops_free(ops, 0);

    /* the remote answers with the spec's short shape */
    assert_int_equal(store_op_create_done(s, create_op, "cust-900",
                                          "{\"id\":\"cust-900\",\"customer_number\":\"C-900\","
                                          "\"name\":\"Newco\",\"status\":\"active\","
                                          "\"created_at\":\"2024-03-01T00:00:05Z\"}",
                                          NULL),
                     STORE_OK);
    char *out = NULL;
    assert_int_equal(store_get(s, ENT_CUSTOMER, cust, &out), STORE_NOTFOUND);
    fx_assert_str(s, ENT_CUSTOMER, "cust-900", "customer_number", "C-900");
    fx_assert_str(s, ENT_CUSTOMER, "cust-900", "created_at", "2024-03-01T00:00:05Z");
    fx_assert_state(s, ENT_CUSTOMER, "cust-900", "synced");
    /* references in other records */
    fx_assert_str(s, ENT_WORK_ORDER, wo, "customer.id", "cust-900");
    fx_assert_str(s, ENT_WORK_ORDER, "wo-1", "customer.id", "cust-900");
    fx_assert_str(s, ENT_CONTACT, con, "customer_id", "cust-900");
    /* index columns followed */
    cJSON *p = fx_list(s, ENT_WORK_ORDER, &(store_query){.customer_id = "cust-900"});
    assert_int_equal(fx_meta(p, "total_count"), 2);
    cJSON_Delete(p);
    p = fx_list(s, ENT_CONTACT, &(store_query){.customer_id = "cust-900"});
    assert_int_equal(fx_meta(p, "total_count"), 1);
    cJSON_Delete(p);
    /* later ops: fields and parent remapped, and now ready */
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 3);
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "fields.customer_id"), "cust-900");
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 1), "parent_id"), "cust-900");
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 2), "fields.customer_id"), "cust-900");
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 2), "base_values.customer_id"), "cust-1");
    cJSON_Delete(ob);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 3);
    assert_true(has_op_for(ops, n, wo));
    assert_true(has_op_for(ops, n, con));
    assert_true(has_op_for(ops, n, "wo-1"));
    store_ops_free(ops, n);
    free(cust);
    free(wo);
    free(con);
}

/* Later ops on a created record follow its id, and the contact_id
 * reference of a work order to a created contact is remapped. */
static void test_remap_later_ops_and_contact_refs(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;
    char *con = NULL, cop[37];
    cJSON *ob, *j;

    fx_seed(s);
    assert_int_equal(fx_create(s, ENT_CONTACT, "cust-1", "{\"name\":\"Kim\"}", T0, &con),
                     STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    snprintf(cop, sizeof cop, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    assert_int_equal(fx_update(s, ENT_CONTACT, con, "{\"title\":\"Chief\"}", T0 + 1), STORE_OK);
    char *upd = fx_fmt("{\"contact_id\":\"%s\"}", con);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", upd, T0 + 2), STORE_OK);
    free(upd);
    fx_assert_str(s, ENT_WORK_ORDER, "wo-1", "contact.name", "Kim");
    /* the work order refers to an unsent create: not ready */
    assert_int_equal(claim(s, T0, &ops), 0);
    store_ops_free(ops, 0);
    assert_int_equal(store_op_create_done(s, cop, "con-77", NULL, "\"c77\""), STORE_OK);
    j = fx_get(s, ENT_CONTACT, "con-77");
    assert_string_equal(fx_str(j, "title"), "Chief"); /* later op re-applied */
    assert_string_equal(fx_sync(j), "pending");
    cJSON_Delete(j);
    fx_assert_str(s, ENT_WORK_ORDER, "wo-1", "contact.id", "con-77");
    ob = fx_outbox(s);
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "record_id"), "con-77");
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 1), "fields.contact_id"), "con-77");
    cJSON_Delete(ob);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 2);
    store_ops_free(ops, n);
    free(con);
}

static void test_reject_restores_remote_version(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;
    char a[37];
    cJSON *j, *ob;
    int64_t pending, rejected, held;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"status\":\"completed\"}", T0),
                     STORE_OK);
    n = claim(s, T0, &ops);
    snprintf(a, sizeof a, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    /* a second edit on another field, queued behind */
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"later\"}", T0 + 1),
                     STORE_OK);
    assert_int_equal(store_op_reject(s, a, "{\"code\":\"validation_error\",\"details\":"
                                           "[{\"field\":\"status\",\"message\":\"nope\"}]}"),
                     STORE_OK);
    j = fx_get(s, ENT_WORK_ORDER, "wo-1");
    assert_string_equal(fx_str(j, "status"), "open");  /* remote value back */
    assert_string_equal(fx_str(j, "notes"), "later");  /* the other op stays applied */
    assert_string_equal(fx_sync(j), "rejected");
    cJSON_Delete(j);
    assert_int_equal(store_outbox_counts(s, &pending, &rejected, &held), STORE_OK);
    assert_int_equal(pending, 1);
    assert_int_equal(rejected, 1);
    assert_int_equal(held, 0);
    ob = fx_outbox(s);
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "last_error.code"), "validation_error");
    cJSON_Delete(ob);
    /* the rejected op blocks its record only */
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-1", "{\"notes\":\"z\"}", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    assert_string_equal(ops[0].record_id, "cust-1");
    store_ops_free(ops, n);
    /* retry puts it back in front, and in the view */
    assert_int_equal(store_op_user_discard(s, "00000000-0000-4000-8000-000000000000"),
                     STORE_NOTFOUND);
    assert_int_equal(store_op_user_retry(s, a), STORE_OK);
    assert_int_equal(store_op_user_retry(s, a), STORE_STATE);
    fx_assert_str(s, ENT_WORK_ORDER, "wo-1", "status", "completed");
    fx_assert_state(s, ENT_WORK_ORDER, "wo-1", "pending");
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    assert_string_equal(ops[0].op_id, a);
    store_ops_free(ops, n);
    /* reject again, then discard: the view goes back for good */
    assert_int_equal(store_op_reject(s, a, NULL), STORE_OK);
    assert_int_equal(store_op_user_discard(s, a), STORE_OK);
    fx_assert_str(s, ENT_WORK_ORDER, "wo-1", "status", "open");
    fx_assert_str(s, ENT_WORK_ORDER, "wo-1", "notes", "later");
    fx_assert_state(s, ENT_WORK_ORDER, "wo-1", "pending");
}

static void test_rejected_create_and_discard(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;
    char *id = NULL, *out = NULL;

    fx_seed(s);
    assert_int_equal(fx_create(s, ENT_CUSTOMER, NULL, "{\"name\":\"Dup Inc\"}", T0, &id),
                     STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(store_op_reject(s, ops[0].op_id, "{\"code\":\"conflict\"}"), STORE_OK);
    fx_assert_state(s, ENT_CUSTOMER, id, "rejected"); /* still visible */
    assert_int_equal(store_op_user_discard(s, ops[0].op_id), STORE_OK);
    assert_int_equal(store_get(s, ENT_CUSTOMER, id, &out), STORE_NOTFOUND);
    assert_int_equal(fx_outbox_len(s), 0);
    store_ops_free(ops, n);
    free(id);
}

static void test_remote_gone_with_pending_ops(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;
    char *out = NULL;
    cJSON *c;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"mine\"}", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"priority\":\"high\"}", T0),
                     STORE_OK);
    assert_int_equal(store_op_remote_gone(s, ops[0].op_id, T0 + 5), STORE_OK);
    store_ops_free(ops, n);
    assert_int_equal(store_get(s, ENT_WORK_ORDER, "wo-1", &out), STORE_NOTFOUND);
    assert_int_equal(fx_outbox_len(s), 0);
    /* both edits are in the log, local values kept */
    assert_int_equal(store_conflicts_list(s, 0, &out), STORE_OK);
    c = fx_json(out);
    assert_int_equal(cJSON_GetArraySize(c), 2);
    cJSON *first = cJSON_GetArrayItem(c, 1); /* newest first */
    assert_string_equal(fx_str(first, "rule"), "deleted_remotely");
    assert_string_equal(fx_str(first, "local.notes"), "mine");
    assert_string_equal(fx_str(first, "base.notes"), "orig");
    assert_string_equal(fx_str(first, "state"), "resolved");
    assert_string_equal(fx_str(first, "resolution"), "auto");
    assert_string_equal(fx_str(cJSON_GetArrayItem(c, 0), "local.priority"), "high");
    int64_t id = (int64_t)cJSON_GetObjectItem(first, "id")->valuedouble;
    cJSON_Delete(c);
    /* keeping local values of a deleted record is not possible */
    assert_int_equal(store_conflict_resolve(s, id, 1, T0), STORE_STATE);
    assert_int_equal(store_conflict_resolve(s, id, 0, T0), STORE_OK);
    assert_int_equal(store_conflict_resolve(s, id, 0, T0), STORE_STATE);
}

static void test_delete_done_and_gone(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;
    char *out = NULL;
    store_record rec;

    fx_seed(s);
    assert_int_equal(store_local_delete(s, ENT_CONTACT, "con-1", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    assert_int_equal(ops[0].kind, OP_DELETE);
    assert_int_equal(store_op_done(s, ops[0].op_id, NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_record_get(s, ENT_CONTACT, "con-1", &rec), STORE_NOTFOUND);
    store_ops_free(ops, n);
    /* a delete that finds the record gone is simply done, no conflict */
    assert_int_equal(store_local_delete(s, ENT_WORK_ORDER, "wo-1", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(store_op_remote_gone(s, ops[0].op_id, T0), STORE_OK);
    store_ops_free(ops, n);
    assert_int_equal(store_get(s, ENT_WORK_ORDER, "wo-1", &out), STORE_NOTFOUND);
    int64_t open = -1;
    assert_int_equal(store_conflicts_open_count(s, &open), STORE_OK);
    assert_int_equal(open, 0);
    assert_int_equal(store_conflicts_list(s, 0, &out), STORE_OK);
    assert_string_equal(out, "[]");
    free(out);
}

static const char *remote_wo_notes(const char *notes, const char *updated)
{
    static char buf[2048];
    char *j = fx_wo_json("wo-1", "cust-1", "tech-001", "2024-03-05T09:00:00Z", "open", updated);
    cJSON *o = cJSON_Parse(j);
    char *t;

    cJSON_ReplaceItemInObjectCaseSensitive(o, "notes", cJSON_CreateString(notes));
    t = cJSON_PrintUnformatted(o);
    snprintf(buf, sizeof buf, "%s", t);
    free(t);
    free(j);
    cJSON_Delete(o);
    return buf;
}

/* Held under the manual policy, then resolved both ways. */
static void test_conflict_hold_and_resolve(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;
    char *out = NULL, opid[37];
    cJSON *c, *j;
    int64_t open = 0, held = 0, cid;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1",
                               "{\"notes\":\"local\",\"priority\":\"high\"}", T0),
                     STORE_OK);
    n = claim(s, T0, &ops);
    snprintf(opid, sizeof opid, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    store_conflict_in in = {.rule = "manual", .outcome = "held",
                            .base_json = "{\"notes\":\"orig\"}",
                            .local_json = "{\"notes\":\"local\"}",
                            .remote_json = "{\"notes\":\"remote\"}",
                            .remote_updated_ms = T0 + 1000, .now_ms = T0 + 2000};
    assert_int_equal(store_op_hold(s, opid, &in), STORE_OK);
    fx_assert_state(s, ENT_WORK_ORDER, "wo-1", "conflict");
    j = fx_get(s, ENT_WORK_ORDER, "wo-1");
    assert_string_equal(fx_str(j, "notes"), "local"); /* the user's value stays visible */
    cJSON_Delete(j);
    assert_int_equal(store_outbox_counts(s, NULL, NULL, &held), STORE_OK);
    assert_int_equal(held, 1);
    assert_int_equal(store_conflicts_open_count(s, &open), STORE_OK);
    assert_int_equal(open, 1);
    assert_int_equal(claim(s, T0 + 5000, &ops), 0); /* held blocks its record */
    store_ops_free(ops, 0);
    assert_int_equal(store_conflicts_list(s, 1, &out), STORE_OK);
    c = fx_json(out);
    assert_int_equal(cJSON_GetArraySize(c), 1);
    cJSON *e = cJSON_GetArrayItem(c, 0);
    assert_string_equal(fx_str(e, "state"), "open");
    assert_string_equal(fx_str(e, "outcome"), "held");
    assert_string_equal(fx_str(e, "remote.notes"), "remote");
    assert_string_equal(fx_str(e, "created_at"), "2024-03-01T00:00:02.000Z");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "resolved_at")));
    cid = (int64_t)cJSON_GetObjectItem(e, "id")->valuedouble;
    cJSON_Delete(c);

    /* keep local: pending again, base moved to the remote values */
    assert_int_equal(store_conflict_resolve(s, cid, 1, T0 + 9000), STORE_OK);
    assert_int_equal(store_conflict_resolve(s, cid, 0, T0 + 9000), STORE_STATE);
    n = claim(s, T0 + 9000, &ops);
    assert_int_equal(n, 1);
    assert_string_equal(ops[0].op_id, opid);
    assert_non_null(strstr(ops[0].base_values, "\"notes\":\"remote\""));
    assert_string_equal(ops[0].base_updated_at, "2024-03-01T00:00:01.000Z");
    assert_non_null(strstr(ops[0].fields, "\"notes\":\"local\""));
    /* held again, resolved for the remote this time */
    assert_int_equal(store_op_hold(s, opid, &in), STORE_OK);
    store_ops_free(ops, n);
    assert_int_equal(store_conflicts_list(s, 1, &out), STORE_OK);
    c = fx_json(out);
    cid = (int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "id")->valuedouble;
    cJSON_Delete(c);
    assert_int_equal(store_conflict_resolve(s, cid, 0, T0 + 10000), STORE_OK);
    /* the conflicting field left the op; the other edit is still queued */
    n = claim(s, T0 + 10000, &ops);
    assert_int_equal(n, 1);
    assert_string_equal(ops[0].fields, "{\"priority\":\"high\"}");
    store_ops_free(ops, n);
    j = fx_get(s, ENT_WORK_ORDER, "wo-1");
    assert_string_equal(fx_str(j, "notes"), "orig"); /* our edit gone from the view */
    assert_string_equal(fx_str(j, "priority"), "high");
    cJSON_Delete(j);
    assert_int_equal(store_conflicts_open_count(s, &open), STORE_OK);
    assert_int_equal(open, 0);
    assert_int_equal(store_conflicts_list(s, 0, &out), STORE_OK);
    c = fx_json(out);
    assert_string_equal(fx_str(cJSON_GetArrayItem(c, 0), "resolution"), "keep_remote");
    assert_string_equal(fx_str(cJSON_GetArrayItem(c, 1), "resolution"), "keep_local");
    assert_string_equal(fx_str(cJSON_GetArrayItem(c, 0), "resolved_at"),
                        "2024-03-01T00:00:10.000Z");
    cJSON_Delete(c);
}

/* A notes edit at `at` that loses to the remote's later value under lww,
 * settled automatically (the conflict logged "remote_won"). */
static void lose_notes_lww(store *s, const char *local, const char *remote, const char *updated,
                           int64_t at)
{
    store_op *ops = NULL;
    char lj[128], rj[128];
    int n;

    snprintf(lj, sizeof lj, "{\"notes\":\"%s\"}", local);
    snprintf(rj, sizeof rj, "{\"notes\":\"%s\"}", remote);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", lj, at), STORE_OK);
    n = claim(s, at, &ops);
    assert_int_equal(n, 1);
    store_conflict_in in = {.rule = "lww", .outcome = "remote_won",
                            .base_json = "{\"notes\":\"orig\"}", .local_json = lj,
                            .remote_json = rj, .remote_updated_ms = at + 1000,
                            .now_ms = at + 2000};
    assert_int_equal(store_op_done(s, ops[0].op_id, remote_wo_notes(remote, updated), NULL, &in),
                     STORE_OK);
    store_ops_free(ops, n);
}

/* Settled automatically (lww) and flipped by the user afterwards. */
static void test_conflict_auto_and_flip(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *out = NULL;
    cJSON *c, *ob;
    int64_t open = -1, cid;

    fx_seed(s);
    /* the remote's later edit won under lww: the record now has remote's notes */
    lose_notes_lww(s, "local", "remote", "2024-03-01T00:00:01Z", T0);
    fx_assert_state(s, ENT_WORK_ORDER, "wo-1", "synced");
    assert_int_equal(store_conflicts_open_count(s, &open), STORE_OK);
    assert_int_equal(open, 0); /* auto-settled: resolved */
    assert_int_equal(store_conflicts_list(s, 0, &out), STORE_OK);
    c = fx_json(out);
    assert_string_equal(fx_str(cJSON_GetArrayItem(c, 0), "state"), "resolved");
    assert_string_equal(fx_str(cJSON_GetArrayItem(c, 0), "resolution"), "auto");
    assert_string_equal(fx_str(cJSON_GetArrayItem(c, 0), "local.notes"), "local");
    cid = (int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "id")->valuedouble;
    cJSON_Delete(c);
    /* keep remote: it already won, nothing queued */
    /* keep local: a new update with the losing value, based on the current remote */
    assert_int_equal(store_conflict_resolve(s, cid, 1, T0 + 3000), STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "fields.notes"), "local");
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "base_values.notes"), "remote");
    assert_string_equal(fx_str(cJSON_GetArrayItem(ob, 0), "base_updated_at"),
                        "2024-03-01T00:00:01Z");
    cJSON_Delete(ob);
    fx_assert_state(s, ENT_WORK_ORDER, "wo-1", "pending");
    assert_int_equal(store_conflict_resolve(s, cid, 0, T0), STORE_STATE);
    assert_int_equal(store_conflict_resolve(s, 999, 0, T0), STORE_NOTFOUND);
}

/* A conflict that discarded a local value stays unacknowledged until
 * acknowledged; a user's keep_local brings the value back (nothing lost). */
static void test_conflict_unacknowledged_until_ack(void **state)
{
    fx *f = *state;
    store *s = f->s;
    char *out = NULL;
    cJSON *c;
    int64_t un = -1, acked = -1, cid;

    fx_seed(s);
    assert_int_equal(store_conflicts_unacked_count(s, &un), STORE_OK);
    assert_int_equal(un, 0);
    lose_notes_lww(s, "local", "remote", "2024-03-01T00:00:01Z", T0);
    assert_int_equal(store_conflicts_unacked_count(s, &un), STORE_OK);
    assert_int_equal(un, 1);
    assert_int_equal(store_conflicts_list(s, 0, &out), STORE_OK);
    c = fx_json(out);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "lost_local")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "acknowledged_at")));
    cid = (int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "id")->valuedouble;
    cJSON_Delete(c);
    /* acknowledged: counted no more, the time kept (twice: the first) */
    assert_int_equal(store_conflict_ack(s, cid, T0 + 5000), STORE_OK);
    assert_int_equal(store_conflict_ack(s, cid, T0 + 9000), STORE_OK);
    assert_int_equal(store_conflicts_unacked_count(s, &un), STORE_OK);
    assert_int_equal(un, 0);
    assert_int_equal(store_conflict_get(s, cid, &out), STORE_OK);
    c = fx_json(out);
    assert_string_equal(fx_str(c, "acknowledged_at"), "2024-03-01T00:00:05.000Z");
    cJSON_Delete(c);
    assert_int_equal(store_conflict_ack(s, 999, T0), STORE_NOTFOUND);
    assert_int_equal(store_conflict_get(s, 999, &out), STORE_NOTFOUND);

    /* a second loss, brought back by keep_local: nothing was lost after all */
    lose_notes_lww(s, "again", "remote2", "2024-03-01T00:00:09Z", T0 + 6000);
    assert_int_equal(store_conflicts_unacked_count(s, &un), STORE_OK);
    assert_int_equal(un, 1);
    assert_int_equal(store_conflict_resolve(s, cid + 1, 1, T0 + 7000), STORE_OK);
    assert_int_equal(store_conflicts_unacked_count(s, &un), STORE_OK);
    assert_int_equal(un, 0);
    assert_int_equal(store_conflicts_ack_all(s, T0, &acked), STORE_OK);
    assert_int_equal(acked, 0);
}

/* POST with an Idempotency-Key: the first answer again, nothing queued;
 * another request with the key is refused. */
static void test_idempotency_key(void **state)
{
    fx *f = *state;
    store *s = f->s;
    cJSON *fields = cJSON_Parse("{\"name\":\"Keyed Co\"}");
    cJSON *other = cJSON_Parse("{\"name\":\"Other Co\"}");
    cJSON *dup = cJSON_Parse("{\"name\":\" keyed co \"}");
    char *a = NULL, *b = NULL, *c = NULL; /* fx_json() frees what it parses */
    int replayed = -1;
    cJSON *ob, *ja, *jb;

    fx_seed(s);
    assert_int_equal(store_local_create_keyed(s, ENT_CUSTOMER, NULL, fields, "k1", T0, &a, &replayed),
                     STORE_OK);
    assert_int_equal(replayed, 0);
    assert_int_equal(store_local_create_keyed(s, ENT_CUSTOMER, NULL, fields, "k1", T0 + 1, &b,
                                              &replayed),
                     STORE_OK);
    assert_int_equal(replayed, 1);
    ja = fx_json(a);
    jb = fx_json(b);
    assert_string_equal(fx_str(ja, "id"), fx_str(jb, "id"));
    cJSON_Delete(jb);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 1);
    cJSON_Delete(ob);
    assert_int_equal(store_local_create_keyed(s, ENT_CUSTOMER, NULL, other, "k1", T0, &c, NULL),
                     STORE_INVALID);
    fx_assert_detail(s, "Idempotency-Key", "different request");
    /* without a key, the same name is the remote's duplicate: 409 */
    assert_int_equal(store_local_create(s, ENT_CUSTOMER, NULL, dup, T0, &c), STORE_STATE);
    assert_string_equal(store_errmsg(s), "Customer already exists");
    /* the key follows the record to its server id */
    {
        store_op *ops = NULL;
        int n = claim(s, T0, &ops);

        assert_int_equal(store_op_create_done(s, ops[0].op_id, "cust-900", NULL, NULL), STORE_OK);
        store_ops_free(ops, n);
    }
    assert_int_equal(store_local_create_keyed(s, ENT_CUSTOMER, NULL, fields, "k1", T0 + 2, &b,
                                              &replayed),
                     STORE_OK);
    assert_int_equal(replayed, 1);
    jb = fx_json(b);
    assert_string_equal(fx_str(jb, "id"), "cust-900");
    cJSON_Delete(jb);
    cJSON_Delete(ja);
    cJSON_Delete(fields);
    cJSON_Delete(other);
    cJSON_Delete(dup);
}

static void test_op_done_keeps_newer_stored_version(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int n;

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"x\"}", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(fx_put(s, ENT_WORK_ORDER, (char *)strdup(remote_wo_notes("newer", "2024-05-01T00:00:00Z")),
                            NULL, 0),
                     UPSERT_REBASED);
    assert_int_equal(store_op_done(s, ops[0].op_id, remote_wo_notes("x", "2024-04-01T00:00:00Z"),
                                   NULL, NULL),
                     STORE_OK);
    store_ops_free(ops, n);
    fx_assert_str(s, ENT_WORK_ORDER, "wo-1", "notes", "newer");
    fx_assert_state(s, ENT_WORK_ORDER, "wo-1", "synced");
}

/* When the sync engine should wake for the outbox: the earliest backed-off
 * op, never an op blocked behind a rejected one (waiting for it is useless:
 * only the user can unblock it). */
static void test_next_due_and_unclaim(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    int64_t due = 0;
    int n;
    char first[37];

    fx_seed(s);
    assert_int_equal(store_outbox_next_due(s, &due), STORE_OK);
    assert_true(due == INT64_MAX);          /* empty outbox: nothing to wake for */

    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"a\"}", T0), STORE_OK);
    assert_int_equal(store_outbox_next_due(s, &due), STORE_OK);
    assert_true(due <= T0);                 /* a fresh op is due at once */

    /* unclaim puts it back as it was: no attempt counted, still due */
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    snprintf(first, sizeof first, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    assert_int_equal(store_op_unclaim(s, first), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    assert_int_equal(ops[0].attempts, 0);
    store_ops_free(ops, n);
    assert_int_equal(store_op_unclaim(s, first), STORE_OK);
    assert_int_equal(store_op_unclaim(s, first), STORE_STATE);   /* not in flight */

    /* backed off: due when its retry is */
    n = claim(s, T0, &ops);
    store_ops_free(ops, n);
    assert_int_equal(store_op_retry_later(s, first, T0 + 5 * MIN_MS, "503"), STORE_OK);
    assert_int_equal(store_outbox_next_due(s, &due), STORE_OK);
    assert_true(due == T0 + 5 * MIN_MS);

    /* rejected, with a later edit of the same record queued behind it:
     * nothing is waiting for the clock any more */
    n = claim(s, T0 + 5 * MIN_MS, &ops);
    assert_int_equal(n, 1);
    store_ops_free(ops, n);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"status\":\"on_hold\"}", T0),
                     STORE_OK);
    assert_int_equal(store_op_reject(s, first, "{\"code\":\"validation_error\"}"), STORE_OK);
    assert_int_equal(fx_outbox_len(s), 2);
    assert_int_equal(store_outbox_next_due(s, &due), STORE_OK);
    assert_true(due == INT64_MAX);

    /* an op on another record is still due */
    assert_int_equal(fx_update(s, ENT_CUSTOMER, "cust-1", "{\"notes\":\"c\"}", T0), STORE_OK);
    assert_int_equal(store_outbox_next_due(s, &due), STORE_OK);
    assert_true(due <= T0);
}

/* An edit queued behind a tried op takes that op's value as its base; if
 * the tried op is then rejected and discarded, the remote never held that
 * value, and the later op's base goes back to what the remote does hold. */
static void test_discard_moves_later_bases_back(void **state)
{
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    cJSON *ob;
    int n;
    char first[37];

    fx_seed(s);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"a\"}", T0), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    snprintf(first, sizeof first, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", "{\"notes\":\"b\"}", T0 + 1), STORE_OK);
    assert_int_equal(store_op_reject(s, first, "{\"code\":\"validation_error\"}"), STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 2);
    assert_string_equal(fx_str(cJSON_GetObjectItem(cJSON_GetArrayItem(ob, 1), "base_values"),
                               "notes"), "a");
    cJSON_Delete(ob);

    assert_int_equal(store_op_user_discard(s, first), STORE_OK);
    ob = fx_outbox(s);
    assert_int_equal(cJSON_GetArraySize(ob), 1);
    assert_string_equal(fx_str(cJSON_GetObjectItem(cJSON_GetArrayItem(ob, 0), "base_values"),
                               "notes"), "orig");
    assert_string_equal(fx_str(cJSON_GetObjectItem(cJSON_GetArrayItem(ob, 0), "fields"),
                               "notes"), "b");
    cJSON_Delete(ob);
}

/* ---- a failing scan rolls the remap back whole ----------------------------- */

/*
 * Fault injection through SQLite's progress handler, which it calls every
 * VM instruction while a statement runs: once one of the statements named
 * in targets is running, the fail_at-th call interrupts it (the step
 * returns SQLITE_INTERRUPT), as a busy or I/O error in the middle of a
 * scan would end it.
 */
typedef struct {
    sqlite3 *db;
    const char *const *targets;
    long calls, fail_at;
    int fired;
} fault;

static int fault_progress(void *ud)
{
    fault *fl = ud;

    for (sqlite3_stmt *st = sqlite3_next_stmt(fl->db, NULL); st;
         st = sqlite3_next_stmt(fl->db, st)) {
        if (!sqlite3_stmt_busy(st))
            continue;
        for (const char *const *t = fl->targets; *t; t++)
            if (strstr(sqlite3_sql(st), *t) && ++fl->calls == fl->fail_at) {
                fl->fired = 1;
                return 1;
            }
    }
    return 0;
}

/* Places that hold id: record ids, parents and indexed references, record
 * bodies, and ops' record ids, parents, fields and bases. */
static int64_t places_holding(store *s, const char *id)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    assert_int_equal(sqlite3_prepare_v2(
                         s->db,
                         "SELECT (SELECT count(*) FROM records WHERE id = ?1 OR parent_id = ?1 "
                         "OR customer_id = ?1 OR contact_id = ?1 OR instr(body, ?1) > 0) + "
                         "(SELECT count(*) FROM outbox WHERE record_id = ?1 OR parent_id = ?1 "
                         "OR instr(fields, ?1) > 0 OR instr(base_values, ?1) > 0)",
                         -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    assert_true(n >= 0);
    return n;
}

/*
 * The two scans of a remap (records that refer to the created record, ops
 * whose fields name it) fail at every point in turn: each failed settle
 * leaves no trace (the local id is everywhere it was, the server id
 * nowhere) and the settle after the last failure point remaps it all.
 */
static void test_remap_failing_scan_rolls_back_whole(void **state)
{
    static const char *const scans[] = {"SELECT entity, id FROM records WHERE",
                                        "FROM outbox WHERE instr(fields", NULL};
    fx *f = *state;
    store *s = f->s;
    store_op *ops = NULL;
    char *cust = NULL, *id = NULL, create_op[37];
    int64_t before;
    long fail_at;
    int n, rc = STORE_ERR;

    fx_seed(s);
    assert_int_equal(fx_create(s, ENT_CUSTOMER, NULL, "{\"name\":\"Newco\"}", T0, &cust),
                     STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 1);
    snprintf(create_op, sizeof create_op, "%s", ops[0].op_id);
    store_ops_free(ops, n);
    /* several records and ops refer to it, so a scan has rows to stop among */
    char *wof = fx_fmt("{\"customer_id\":\"%s\",\"description\":\"Install\"}", cust);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fx_create(s, ENT_WORK_ORDER, NULL, wof, T0 + 1 + i, &id), STORE_OK);
        free(id);
        assert_int_equal(fx_create(s, ENT_CONTACT, cust, "{\"name\":\"Pat\"}", T0 + 4 + i, &id),
                         STORE_OK);
        free(id);
    }
    free(wof);
    char *upd = fx_fmt("{\"customer_id\":\"%s\"}", cust);
    assert_int_equal(fx_update(s, ENT_WORK_ORDER, "wo-1", upd, T0 + 8), STORE_OK);
    free(upd);
    before = places_holding(s, cust);
    assert_true(before >= 12);

    fault fl = {.db = s->db, .targets = scans};
    for (fail_at = 1; fail_at < 100000; fail_at++) {
        fl.calls = 0;
        fl.fail_at = fail_at;
        fl.fired = 0;
        sqlite3_progress_handler(s->db, 1, fault_progress, &fl);
        rc = store_op_create_done(s, create_op, "cust-900", NULL, NULL);
        sqlite3_progress_handler(s->db, 0, NULL, NULL);
        if (!fl.fired)
            break;
        if (rc == STORE_OK)
            fail_msg("scan stopped at call %ld, yet the remap committed: %lld places "
                     "still hold the local id, %lld the server id",
                     fail_at, (long long)places_holding(s, cust),
                     (long long)places_holding(s, "cust-900"));
        assert_int_equal(places_holding(s, cust), before);
        assert_int_equal(places_holding(s, "cust-900"), 0);
        assert_int_equal(si_check_consistency(s), STORE_OK);
    }
    assert_true(fail_at > 2);   /* the scans were reached, and failed more than once */
    assert_int_equal(rc, STORE_OK);
    assert_int_equal(places_holding(s, cust), 0);
    assert_true(places_holding(s, "cust-900") > 0);
    assert_int_equal(si_check_consistency(s), STORE_OK);
    n = claim(s, T0, &ops);
    assert_int_equal(n, 7);   /* the work orders, contacts and wo-1's update */
    store_ops_free(ops, n);
    free(cust);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_claim_order_per_record),
        FX_TEST(test_next_due_and_unclaim),
        FX_TEST(test_discard_moves_later_bases_back),
        FX_TEST(test_claim_backoff_and_reopen),
        FX_TEST(test_second_handle_keeps_inflight),
        FX_TEST(test_remap_failing_scan_rolls_back_whole),
        FX_TEST(test_create_before_reference_and_remap),
        FX_TEST(test_remap_later_ops_and_contact_refs),
        FX_TEST(test_reject_restores_remote_version),
        FX_TEST(test_rejected_create_and_discard),
        FX_TEST(test_remote_gone_with_pending_ops),
        FX_TEST(test_delete_done_and_gone),
        FX_TEST(test_conflict_hold_and_resolve),
        FX_TEST(test_conflict_auto_and_flip),
        FX_TEST(test_conflict_unacknowledged_until_ack),
        FX_TEST(test_idempotency_key),
        FX_TEST(test_op_done_keeps_newer_stored_version),
    };

    return cmocka_run_group_tests_name("store_outbox", tests, NULL, NULL);
}
