/*
 * merge.c — the three-way merge of an update against the remote record
 * (DESIGN §5), pure: no store, no network.
 *
 * For each field of the op, three values meet: base (what the remote had
 * when the edit was made), local (the edit) and remote (what the remote has
 * now).  The rules, in order:
 *   - remote == base: the remote did not touch it since; the local value
 *     goes out (unless it already equals the remote: nothing to send);
 *   - local == remote: both arrived at the same value; nothing to send and
 *     nothing to report (this is also how a PUT that landed before a crash
 *     is recognised on the retry: its values are now the remote's);
 *   - local == base: only the remote changed it; keep the remote;
 *   - otherwise both changed it differently: a conflict, settled for the
 *     whole record by the policy.  lww compares the local edit time, moved
 *     onto the server's clock by the measured offset, with the remote
 *     updated_at; the later wins and a tie goes to the remote (the remote
 *     value is already everyone else's truth).  manual holds the op.
 * The values of every conflicting field (base, local, remote) are returned
 * so the losing side is logged, never discarded.
 */
#include <string.h>

#include "sync/sync_int.h"

const char *sync_policy_name(sync_policy p)
{
    switch (p) {
    case POLICY_LWW: return "lww";
    case POLICY_SERVER_WINS: return "server_wins";
    case POLICY_CLIENT_WINS: return "client_wins";
    case POLICY_MANUAL: return "manual";
    }
    return "lww";
}

int sync_policy_parse(const char *name, sync_policy *out)
{
    static const sync_policy all[] = {POLICY_LWW, POLICY_SERVER_WINS,
                                      POLICY_CLIENT_WINS, POLICY_MANUAL};
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, sync_policy_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

static int is_null(const cJSON *v)
{
    return v == NULL || cJSON_IsNull(v);
}

int sync_json_equal(const cJSON *a, const cJSON *b)
{
    int64_t ta, tb;

    if (is_null(a) || is_null(b))
        return is_null(a) && is_null(b);
    if (cJSON_IsString(a) && cJSON_IsString(b)) {
        if (strcmp(a->valuestring, b->valuestring) == 0)
            return 1;
        /* "…T10:00:00Z" and "…T10:00:00.000Z" are the same instant; the
         * remote may echo a time in its own format. */
        return store_time_parse(a->valuestring, &ta) == STORE_OK &&
               store_time_parse(b->valuestring, &tb) == STORE_OK &&
               strchr(a->valuestring, 'T') && strchr(b->valuestring, 'T') &&
               ta == tb;
    }
    return cJSON_Compare(a, b, 1) ? 1 : 0;
}

static int add_copy(cJSON *obj, const char *name, const cJSON *v)
{
    cJSON *dup = v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

    if (!dup)
        return -1;
    if (!cJSON_AddItemToObject(obj, name, dup)) {
        cJSON_Delete(dup);
        return -1;
    }
    return 0;
}

void sync_merge_result_free(sync_merge_result *r)
{
    cJSON_Delete(r->put);
    cJSON_Delete(r->c_base);
    cJSON_Delete(r->c_local);
    cJSON_Delete(r->c_remote);
    memset(r, 0, sizeof *r);
}

int sync_merge(const cJSON *rmt, const cJSON *base, const cJSON *local,
               sync_policy policy, int64_t local_edit_ms, int64_t offset_ms,
               int64_t remote_ms, sync_merge_result *out)
{
    const cJSON *f;
    cJSON *conflicted = NULL;   /* fields in conflict, with their local value */
    int local_wins = 0, rc = -1;

    memset(out, 0, sizeof *out);
    out->put = cJSON_CreateObject();
    conflicted = cJSON_CreateObject();
    if (!out->put || !conflicted)
        goto out;

    cJSON_ArrayForEach(f, local) {
        const char *name = f->string;
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(rmt, name);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(base, name);

        if (!name)
            continue;
        if (sync_json_equal(r, b)) {
            if (!sync_json_equal(f, r) && add_copy(out->put, name, f))
                goto out;
        } else if (sync_json_equal(f, r) || sync_json_equal(f, b)) {
            continue;
        } else {
            if (!out->c_base) {
                out->c_base = cJSON_CreateObject();
                out->c_local = cJSON_CreateObject();
                out->c_remote = cJSON_CreateObject();
                if (!out->c_base || !out->c_local || !out->c_remote)
                    goto out;
            }
            if (add_copy(out->c_base, name, b) ||
                add_copy(out->c_local, name, f) ||
                add_copy(out->c_remote, name, r) ||
                add_copy(conflicted, name, f))
                goto out;
            out->conflicts++;
        }
    }

    if (out->conflicts) {
        switch (policy) {
        case POLICY_CLIENT_WINS:
            local_wins = 1;
            break;
        case POLICY_SERVER_WINS:
            local_wins = 0;
            break;
        case POLICY_MANUAL:
            out->hold = 1;
            break;
        case POLICY_LWW:
        default:
            local_wins = local_edit_ms + offset_ms > remote_ms;
            break;
        }
        if (out->hold) {
            out->outcome = "held";
        } else if (local_wins) {
            out->outcome = "local_won";
            cJSON_ArrayForEach(f, conflicted)
                if (add_copy(out->put, f->string, f))
                    goto out;
        } else {
            out->outcome = "remote_won";
        }
    }
    rc = 0;
out:
    cJSON_Delete(conflicted);
    if (rc)
        sync_merge_result_free(out);
    return rc;
}
