/*
 * fuzz_common.h — shared by the libFuzzer targets (tests/fuzz/fuzz_*.c):
 * a private database directory, seed records in the remote's detail
 * shapes, and a deterministic getrandom(2) so that the ids a target makes
 * (op ids, local-<uuid> ids) are the same for the same input, which keeps
 * every crash reproducible from its input file alone.
 *
 * Each target is its own program (built by tests/fuzz/run.sh), so
 * everything here is static.
 */
#ifndef FIELDSYNC_FUZZ_COMMON_H
#define FIELDSYNC_FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "store/store.h"

#define FZ_FN static __attribute__((unused))

/* What libFuzzer (or tests/fuzz/replay.c) calls: each target defines both. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- deterministic randomness -------------------------------------------- */

static uint64_t fz_rng = 0x9e3779b97f4a7c15ull;

/* Restarts the id stream; call at the start of every input.  It starts
 * elsewhere than the stream the seeding drew from, so an input's ids never
 * repeat the seeded ops' ids. */
FZ_FN void fz_rng_reset(void) { fz_rng = 0xd1b54a32d192ed03ull; }

/* Interposes libc's getrandom: store_uuid() draws from it. */
ssize_t getrandom(void *buf, size_t len, unsigned int flags);
ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    unsigned char *p = buf;
    (void)flags;
    for (size_t i = 0; i < len; i++) {
        fz_rng ^= fz_rng >> 12;
        fz_rng ^= fz_rng << 25;
        fz_rng ^= fz_rng >> 27;
        p[i] = (unsigned char)((fz_rng * 0x2545f4914f6cdd1dull) >> 56);
    }
    return (ssize_t)len;
}

/* ---- a private database ------------------------------------------------ */

static char fz_dir[200];

/* Removes fz_dir and the files in it (the database, its -wal and -shm, a
 * config file) at exit, so that replaying the corpora in every make check
 * leaves nothing behind.  After a crash the directory stays, as evidence. */
FZ_FN void fz_remove_dir(void)
{
    DIR *d = opendir(fz_dir);
    struct dirent *e;
    char p[512];

    if (!d)
        return;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof p, "%s/%s", fz_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(fz_dir);
}

/* Makes a fresh directory fz_dir (in /dev/shm when there is one: fsync is
 * then cheap) and returns "DIR/replica.db" in a static buffer. */
FZ_FN const char *fz_db_path(const char *name)
{
    static char path[256];
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fz_dir, sizeof fz_dir, "%s/fieldsync-fuzz-%s-XXXXXX", base, name);
    if (!mkdtemp(fz_dir) || atexit(fz_remove_dir) != 0) {
        perror("fuzz: temporary directory");
        abort();
    }
    snprintf(path, sizeof path, "%s/replica.db", fz_dir);
    return path;
}

/* ---- seed records (the simulator's detail shapes) ----------------------- */

static const char *const fz_customers[] = {
    "{\"id\":\"cust-001\",\"name\":\"Canyon Logistics Corporation\",\"customer_number\":\"C-10001\","
    "\"status\":\"active\",\"customer_type\":\"commercial\",\"email\":\"info@canyon.example\","
    "\"phone\":\"+1-555-948-5557\",\"fax\":null,\"website\":\"https://canyon.example\","
    "\"address\":{\"street\":\"9612 Oak Street\",\"city\":\"Sacramento\",\"state\":\"CA\","
    "\"postal_code\":\"95845\",\"country\":\"US\"},\"billing_address\":{\"street\":\"3398 Hill Avenue\","
    "\"city\":\"Atlanta\",\"state\":\"GA\",\"postal_code\":\"30309\",\"country\":\"US\"},"
    "\"contacts\":[{\"id\":\"contact-001\",\"name\":\"Hiroshi White\",\"title\":\"Chief Engineer\","
    "\"email\":\"hwhite@canyon.example\",\"phone\":\"+1-555-437-5915\",\"is_primary\":true}],"
    "\"branch\":{\"id\":\"branch-002\",\"name\":\"Southeast Region\"},\"tax_id\":\"89-5441288\","
    "\"payment_terms\":\"net60\",\"notes\":null,\"custom_fields\":{\"industry\":\"Retail\"},"
    "\"created_at\":\"2026-08-14T10:35:27.489Z\",\"updated_at\":\"2026-09-21T12:19:47.893Z\"}",
    "{\"id\":\"cust-002\",\"name\":\"Sunrise Cold Storage\",\"customer_number\":\"C-10002\","
    "\"status\":\"active\",\"customer_type\":\"residential\",\"email\":null,\"phone\":null,"
    "\"fax\":null,\"website\":null,\"address\":{\"street\":\"8623 Pine Drive\",\"city\":\"Philadelphia\","
    "\"state\":\"PA\",\"postal_code\":\"19159\",\"country\":\"US\"},\"billing_address\":null,"
    "\"contacts\":[],\"branch\":{\"id\":\"branch-001\",\"name\":\"Northeast Region\"},\"tax_id\":null,"
    "\"payment_terms\":\"net30\",\"notes\":\"gate code 1234\",\"custom_fields\":{},"
    "\"created_at\":\"2026-08-15T10:35:27.489Z\",\"updated_at\":\"2026-09-22T12:19:47.893Z\"}",
};

static const char *const fz_contacts[] = {
    "{\"id\":\"contact-001\",\"customer_id\":\"cust-001\",\"name\":\"Hiroshi White\","
    "\"title\":\"Chief Engineer\",\"email\":\"hwhite@canyon.example\",\"phone\":\"+1-555-437-5915\","
    "\"is_primary\":true,\"created_at\":\"2026-09-08T02:15:17.137Z\",\"updated_at\":\"2026-10-06T07:27:19.666Z\"}",
};

static const char *const fz_assets[] = {
    "{\"id\":\"asset-001\",\"customer_id\":\"cust-001\",\"name\":\"Split System Air Conditioner\","
    "\"asset_type\":\"hvac\",\"manufacturer\":\"Goodman\",\"model\":\"LP-3633\",\"serial_number\":\"SN10545125\","
    "\"install_date\":\"2019-02-02\",\"location\":\"Attic\",\"status\":\"active\","
    "\"created_at\":\"2026-08-25T17:19:47.992Z\",\"updated_at\":\"2026-09-26T03:26:09.411Z\"}",
};

static const char *const fz_work_orders[] = {
    "{\"id\":\"wo-00001\",\"work_order_number\":\"WO-2026-000001\",\"status\":\"open\",\"priority\":\"medium\","
    "\"work_order_type\":\"inspection\",\"description\":\"Electrical safety inspection\","
    "\"notes\":\"Customer requests morning appointment\",\"customer\":{\"id\":\"cust-001\","
    "\"name\":\"Canyon Logistics Corporation\",\"address\":\"9612 Oak Street, Sacramento, CA 95845\"},"
    "\"contact\":{\"id\":\"contact-001\",\"name\":\"Hiroshi White\",\"phone\":\"+1-555-437-5915\"},"
    "\"scheduled_date\":\"2027-01-01T13:00:00Z\",\"estimated_duration\":30,"
    "\"technician\":{\"id\":\"tech-001\",\"name\":\"Alex Tech\"},\"tasks\":[{\"id\":\"task-001\","
    "\"name\":\"Verify thermostat operation\",\"status\":\"pending\"}],"
    "\"created_at\":\"2026-11-21T14:56:05.343Z\",\"updated_at\":\"2026-11-21T16:02:49.636Z\"}",
    "{\"id\":\"wo-00002\",\"work_order_number\":\"WO-2026-000002\",\"status\":\"scheduled\",\"priority\":\"low\","
    "\"work_order_type\":\"repair\",\"description\":\"Fix the chiller\",\"notes\":null,"
    "\"customer\":{\"id\":\"cust-002\",\"name\":\"Sunrise Cold Storage\",\"address\":null},"
    "\"contact\":null,\"scheduled_date\":\"2027-01-07T16:30:00Z\",\"estimated_duration\":120,"
    "\"technician\":null,\"tasks\":[],"
    "\"created_at\":\"2026-11-21T09:00:29.206Z\",\"updated_at\":\"2026-11-22T09:00:29.206Z\"}",
};

#define FZ_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void fz_check(int rc, store *s, const char *what)
{
    if (rc != STORE_OK) {
        fprintf(stderr, "fuzz seed: %s: %s\n", what, s ? store_errmsg(s) : "?");
        abort();
    }
}

/* A local update of one record, claimed for a push: the only ready op. */
FZ_FN void fz_claimed_update(store *s, store_entity e, const char *id, const char *fields,
                              int64_t now, store_op *op_out)
{
    store_op *ops = NULL;
    int n = 0;
    cJSON *f = cJSON_Parse(fields);
    fz_check(store_local_update(s, e, id, f, now, NULL), s, "update");
    cJSON_Delete(f);
    fz_check(store_outbox_claim(s, now, 8, &ops, &n), s, "claim");
    if (n != 1)
        abort();
    *op_out = ops[0];
    free(ops);
}

/*
 * Fills the database at path with the seed records and, when with_ops,
 * an outbox and conflict log in every state: a pending update, a rejected
 * update, a held (manual) conflict and an auto-settled one.
 */
FZ_FN void fz_seed(const char *path, int with_ops)
{
    store *s = NULL;
    char err[256];
    int64_t gen;
    store_upsert_result res;
    int64_t now = 1795000000000LL;

    if (store_open(path, &s, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "fuzz seed: %s\n", err);
        abort();
    }
    fz_check(store_pull_begin(s, &gen), s, "pull_begin");
    for (size_t i = 0; i < FZ_COUNT(fz_customers); i++)
        fz_check(store_remote_upsert(s, ENT_CUSTOMER, fz_customers[i], "\"e1\"", NULL, gen, &res),
                 s, "customer");
    for (size_t i = 0; i < FZ_COUNT(fz_contacts); i++)
        fz_check(store_remote_upsert(s, ENT_CONTACT, fz_contacts[i], NULL, "cust-001", gen, &res),
                 s, "contact");
    for (size_t i = 0; i < FZ_COUNT(fz_assets); i++)
        fz_check(store_remote_upsert(s, ENT_ASSET, fz_assets[i], NULL, "cust-001", gen, &res),
                 s, "asset");
    for (size_t i = 0; i < FZ_COUNT(fz_work_orders); i++)
        fz_check(store_remote_upsert(s, ENT_WORK_ORDER, fz_work_orders[i], "\"e2\"", NULL, gen, &res),
                 s, "work order");
    if (with_ops) {
        store_op op;
        store_conflict_in ci = {"manual", "held", "{\"notes\":null}", "{\"notes\":\"local\"}",
                                "{\"notes\":\"remote\"}", now, now};

        /* held: a manual conflict on wo-00002 */
        fz_claimed_update(s, ENT_WORK_ORDER, "wo-00002", "{\"notes\":\"local\"}", now, &op);
        fz_check(store_op_hold(s, op.op_id, &ci), s, "hold");
        store_op_release(&op);
        /* rejected: an update of cust-002 */
        fz_claimed_update(s, ENT_CUSTOMER, "cust-002", "{\"phone\":\"+1-555-000-0000\"}", now, &op);
        fz_check(store_op_reject(s, op.op_id, "{\"code\":\"validation_error\",\"message\":\"bad\"}"),
                 s, "reject");
        store_op_release(&op);
        /* resolved automatically: lww on contact-001 */
        fz_claimed_update(s, ENT_CONTACT, "contact-001", "{\"title\":\"Boss\"}", now, &op);
        ci.rule = "lww";
        ci.outcome = "remote_won";
        ci.base_json = "{\"title\":\"Chief Engineer\"}";
        ci.local_json = "{\"title\":\"Boss\"}";
        ci.remote_json = "{\"title\":\"CEO\"}";
        fz_check(store_op_done(s, op.op_id, NULL, NULL, &ci), s, "done");
        store_op_release(&op);
        /* pending: an update of wo-00001 */
        {
            cJSON *f = cJSON_Parse("{\"status\":\"in_progress\"}");
            fz_check(store_local_update(s, ENT_WORK_ORDER, "wo-00001", f, now, NULL), s, "update");
            cJSON_Delete(f);
        }
    }
    store_close(s);
}

#endif /* FIELDSYNC_FUZZ_COMMON_H */
