/* Answers in the API's JSON formats: {"data":…} and {"error":{…}}. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void resp_json(struct sim_response *rs, int status, cJSON *root)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;

    cJSON_Delete(root);
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
    if (!text) {
        sim_log("out of memory while answering");
        rs->status = 500;
        return;
    }
    rs->status = status;
    rs->body = text;
    rs->body_len = strlen(text);
}

void resp_data(struct sim_response *rs, int status, cJSON *data)
{
    cJSON *root = cJSON_CreateObject();

    if (!root || !data) {
        cJSON_Delete(root);
        cJSON_Delete(data);
        resp_internal(rs);
        return;
    }
    cJSON_AddItemToObject(root, "data", data);
    resp_json(rs, status, root);
}

void resp_error(struct sim_response *rs, int status, const char *code,
                const char *message, cJSON *details)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");

    if (!err || !cJSON_AddStringToObject(err, "code", code) ||
        !cJSON_AddStringToObject(err, "message", message)) {
        cJSON_Delete(root);
        cJSON_Delete(details);
        rs->status = 500;
        return;
    }
    if (details)
        cJSON_AddItemToObject(err, "details", details);
    resp_json(rs, status, root);
}

void resp_internal(struct sim_response *rs)
{
    resp_error(rs, 500, "internal_error", "Internal server error", NULL);
    /* even the error body may fail to print; the status still says it */
    rs->status = 500;
}

void resp_empty(struct sim_response *rs, int status)
{
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
    rs->status = status;
}

int details_add(cJSON *details, const char *field, const char *message)
{
    cJSON *d = cJSON_CreateObject();

    if (!d || !cJSON_AddStringToObject(d, "field", field) ||
        !cJSON_AddStringToObject(d, "message", message)) {
        cJSON_Delete(d);
        return -1;
    }
    cJSON_AddItemToArray(details, d);
    return 0;
}

void resp_set_etag(struct sim_response *rs, const char *id, int64_t updated_ms)
{
    /*
     * Strong, so it names the bytes: a hash of the body beside the version.
     * A record's detail also shows other records' fields (a work order's
     * contact phone, its customer's name and address) that can change
     * without its updated_at moving; a tag from the version alone would
     * answer 304 and keep such a client's copy stale for good.
     */
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a 64 */

    for (size_t i = 0; rs->body && i < rs->body_len; i++) {
        h ^= (unsigned char)rs->body[i];
        h *= 1099511628211ULL;
    }
    snprintf(rs->etag, sizeof rs->etag, "\"%.40s-%llx-%016llx\"", id,
             (unsigned long long)updated_ms, (unsigned long long)h);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when some object in the tree names a key twice.  cJSON keeps both and
 * answers lookups with the first, which would silently drop the other
 * value: such a body is refused instead. */
static int has_duplicate_keys(const cJSON *node)
{
    const cJSON *c;
    size_t n = 0, i = 0;
    const char **names;
    int dup = 0;

    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return 0;
    for (c = node->child; c; c = c->next) {
        if (has_duplicate_keys(c))
            return 1;
        n++;
    }
    if (!cJSON_IsObject(node) || n < 2)
        return 0;
    names = malloc(n * sizeof *names);
    if (!names)
        return 1;   /* refusing is safe; the body is then "bad" */
    for (c = node->child; c; c = c->next)
        names[i++] = c->string;
    qsort(names, n, sizeof *names, cmp_names);
    for (i = 1; i < n && !dup; i++)
        dup = strcmp(names[i - 1], names[i]) == 0;
    free(names);
    return dup;
}

cJSON *req_json_object(const struct sim_request *rq, struct sim_response *rs)
{
    const char *end = NULL;
    cJSON *obj;

    if (!rq->body || rq->body_len == 0) {
        resp_error(rs, 400, "bad_request", "Request body must be a JSON object", NULL);
        return NULL;
    }
    obj = cJSON_ParseWithLengthOpts(rq->body, rq->body_len, &end, 0);
    if (obj && end) {
        /* only whitespace may follow the value */
        for (; (size_t)(end - rq->body) < rq->body_len; end++) {
            if (!strchr(" \t\r\n", *end)) {
                cJSON_Delete(obj);
                obj = NULL;
                break;
            }
        }
    }
    if (!obj) {
        resp_error(rs, 400, "bad_request", "Request body is not valid JSON", NULL);
        return NULL;
    }
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        resp_error(rs, 400, "bad_request", "Request body must be a JSON object", NULL);
        return NULL;
    }
    if (has_duplicate_keys(obj)) {
        cJSON_Delete(obj);
        resp_error(rs, 400, "bad_request", "Request body names a key twice", NULL);
        return NULL;
    }
    return obj;
}
