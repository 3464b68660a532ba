/* Request counters by route and the request log, for tests that assert
 * what a client sent (GET /__sim/stats, GET /__sim/log).  Only /api/v1
 * requests are counted; the /__sim/ controls are not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define N_METHODS 6
#define MAX_STATUS 600

static const char *const method_labels[N_METHODS] = {"GET", "HEAD", "POST", "PUT",
                                                     "DELETE", "OTHER"};

struct slot {
    uint64_t count, bytes_out, dropped;
    uint64_t status[MAX_STATUS];
};

struct log_entry {
    uint64_t seq;
    int64_t time_ms;
    const char *method;        /* one of method_labels */
    char *path;
    char *idempotency_key;
    int status;
    int applied, dropped;
};

struct stats {
    pthread_mutex_t lock;
    uint64_t requests, bytes_out, rate_limited;
    int nslots;
    struct slot **slots;       /* [(route + 1) * N_METHODS + method], lazily */
    struct log_entry *ring;    /* SIM_LOG_CAP entries */
    size_t head, count;        /* oldest entry, entries held */
    uint64_t next_seq;
};

static int method_index(const char *m)
{
    for (int i = 0; i < N_METHODS - 1; i++)
        if (strcmp(m, method_labels[i]) == 0)
            return i;
    return N_METHODS - 1;
}

struct stats *stats_new(void)
{
    struct stats *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->nslots = (router_count() + 1) * N_METHODS;
    s->slots = calloc((size_t)s->nslots, sizeof *s->slots);
    s->ring = calloc(SIM_LOG_CAP, sizeof *s->ring);
    if (!s->slots || !s->ring || pthread_mutex_init(&s->lock, NULL)) {
        free(s->slots);
        free(s->ring);
        free(s);
        return NULL;
    }
    s->next_seq = 1;
    return s;
}

static void free_entry(struct log_entry *e)
{
    free(e->path);
    free(e->idempotency_key);
    memset(e, 0, sizeof *e);
}

/* caller holds the lock */
static void clear_locked(struct stats *s, int also_log)
{
    for (int i = 0; i < s->nslots; i++) {
        free(s->slots[i]);
        s->slots[i] = NULL;
    }
    s->requests = s->bytes_out = s->rate_limited = 0;
    if (!also_log)
        return;
    for (size_t i = 0; i < SIM_LOG_CAP; i++)
        free_entry(&s->ring[i]);
    s->head = s->count = 0;
}

void stats_free(struct stats *s)
{
    if (!s)
        return;
    clear_locked(s, 1);
    pthread_mutex_destroy(&s->lock);
    free(s->slots);
    free(s->ring);
    free(s);
}

void stats_clear(struct stats *s, int also_log)
{
    pthread_mutex_lock(&s->lock);
    clear_locked(s, also_log);
    pthread_mutex_unlock(&s->lock);
}

void stats_record(struct stats *s, const struct stats_entry *e)
{
    int mi = method_index(e->method);
    int si = (e->route + 1) * N_METHODS + mi;
    struct log_entry *le;
    /* copies made before taking the lock keep it short */
    char *path = strdup(e->path);
    char *key = e->idempotency_key ? strdup(e->idempotency_key) : NULL;

    pthread_mutex_lock(&s->lock);
    s->requests++;
    s->bytes_out += e->bytes_out;
    s->rate_limited += e->rate_limited ? 1 : 0;
    if (si >= 0 && si < s->nslots) {
        if (!s->slots[si])
            s->slots[si] = calloc(1, sizeof *s->slots[si]);
        if (s->slots[si]) {
            struct slot *sl = s->slots[si];

            sl->count++;
            sl->bytes_out += e->bytes_out;
            if (e->dropped && !e->status)
                sl->dropped++;
            else if (e->status > 0 && e->status < MAX_STATUS)
                sl->status[e->status]++;
        }
    }
    /* the ring: the newest entry replaces the oldest when full */
    le = &s->ring[(s->head + s->count) % SIM_LOG_CAP];
    if (s->count == SIM_LOG_CAP) {
        free_entry(le);
        s->head = (s->head + 1) % SIM_LOG_CAP;
    } else {
        s->count++;
    }
    le->seq = s->next_seq++;
    le->time_ms = clock_now_ms();
    le->method = method_labels[mi];
    le->path = path;
    le->idempotency_key = key;
    le->status = e->status;
    le->applied = e->applied;
    le->dropped = e->dropped;
    pthread_mutex_unlock(&s->lock);
}

static cJSON *slot_json(const struct slot *sl)
{
    cJSON *o = cJSON_CreateObject(), *st;
    char code[16];

    if (!o || !cJSON_AddNumberToObject(o, "count", (double)sl->count) ||
        !cJSON_AddNumberToObject(o, "bytes_out", (double)sl->bytes_out) ||
        !(st = cJSON_AddObjectToObject(o, "status")))
        goto fail;
    for (int i = 0; i < MAX_STATUS; i++) {
        if (!sl->status[i])
            continue;
        snprintf(code, sizeof code, "%d", i);
        if (!cJSON_AddNumberToObject(st, code, (double)sl->status[i]))
            goto fail;
    }
    if (sl->dropped && !cJSON_AddNumberToObject(st, "dropped", (double)sl->dropped))
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

cJSON *stats_json(struct stats *s)
{
    cJSON *o = cJSON_CreateObject(), *routes;
    char name[160];

    pthread_mutex_lock(&s->lock);
    if (!o || !cJSON_AddNumberToObject(o, "requests", (double)s->requests) ||
        !cJSON_AddNumberToObject(o, "bytes_out", (double)s->bytes_out) ||
        !cJSON_AddNumberToObject(o, "rate_limited", (double)s->rate_limited) ||
        !(routes = cJSON_AddObjectToObject(o, "routes")))
        goto fail;
    for (int i = 0; i < s->nslots; i++) {
        cJSON *r;

        if (!s->slots[i])
            continue;
        snprintf(name, sizeof name, "%s %s", method_labels[i % N_METHODS],
                 router_template(i / N_METHODS - 1));
        r = slot_json(s->slots[i]);
        if (!r || !cJSON_AddItemToObject(routes, name, r)) {
            cJSON_Delete(r);
            goto fail;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return o;
fail:
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(o);
    return NULL;
}

static cJSON *entry_json(const struct log_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    char t[CLOCK_TEXT_MAX];

    clock_format_ms(e->time_ms, t);
    if (!o || !cJSON_AddNumberToObject(o, "seq", (double)e->seq) ||
        !cJSON_AddStringToObject(o, "time", t) ||
        !cJSON_AddStringToObject(o, "method", e->method) ||
        !cJSON_AddStringToObject(o, "path", e->path ? e->path : "") ||
        !(e->status ? cJSON_AddNumberToObject(o, "status", e->status)
                    : cJSON_AddNullToObject(o, "status")) ||
        !(e->idempotency_key ? cJSON_AddStringToObject(o, "idempotency_key", e->idempotency_key)
                             : cJSON_AddNullToObject(o, "idempotency_key")) ||
        !cJSON_AddBoolToObject(o, "applied", e->applied) ||
        !cJSON_AddBoolToObject(o, "dropped", e->dropped)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *stats_log_json(struct stats *s, uint64_t since)
{
    cJSON *arr = cJSON_CreateArray();

    if (!arr)
        return NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->count; i++) {
        const struct log_entry *e = &s->ring[(s->head + i) % SIM_LOG_CAP];
        cJSON *o;

        if (e->seq <= since)
            continue;
        o = entry_json(e);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            arr = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return arr;
}
