/* Injected failures for /api/v1 requests, set through /__sim/faults.
 * Draws come from a PRNG seeded with --seed, so a run with the same
 * requests in the same order sees the same faults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define METHOD_GET 1u
#define METHOD_POST 2u
#define METHOD_PUT 4u
#define METHOD_DELETE 8u
#define METHOD_OTHER 16u
#define MAX_PREFIX 256

struct settings {
    int latency_ms;
    double error_rate;
    int error_status;
    double drop_rate;
    double drop_after_apply;
    double rate_429;
    int retry_after;
    double bad_body_rate;
    int offline;
    unsigned methods;          /* 0: every method */
    char path_prefix[MAX_PREFIX]; /* "": every path */
};

struct faults {
    pthread_mutex_t lock;
    struct settings s;
    struct prng rng;
};

static const struct settings defaults = {
    .error_status = 503,
    .retry_after = 1,
};

static const char *const method_names[] = {"GET", "POST", "PUT", "DELETE", NULL};

static unsigned method_bit(const char *m)
{
    for (int i = 0; method_names[i]; i++)
        if (strcmp(m, method_names[i]) == 0)
            return 1u << i;
    if (strcmp(m, "HEAD") == 0)
        return METHOD_GET;
    return METHOD_OTHER;
}

struct faults *faults_new(uint64_t seed)
{
    struct faults *f = calloc(1, sizeof *f);

    if (!f)
        return NULL;
    if (pthread_mutex_init(&f->lock, NULL)) {
        free(f);
        return NULL;
    }
    f->s = defaults;
    prng_init(&f->rng, seed ^ UINT64_C(0x6661756c7473)); /* apart from the data's stream */
    return f;
}

void faults_free(struct faults *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void faults_clear(struct faults *f, uint64_t seed)
{
    pthread_mutex_lock(&f->lock);
    f->s = defaults;
    prng_init(&f->rng, seed ^ UINT64_C(0x6661756c7473));
    pthread_mutex_unlock(&f->lock);
}

void faults_decide(struct faults *f, const char *method, const char *path,
                   struct fault_decision *d)
{
    struct settings *s = &f->s;

    memset(d, 0, sizeof *d);
    pthread_mutex_lock(&f->lock);
    d->error_status = s->error_status;
    d->retry_after = s->retry_after;
    /* offline is the network being down: it spares no method or path */
    if (s->offline) {
        d->action = FAULT_OFFLINE;
        goto out;
    }
    if ((s->methods && !(s->methods & method_bit(method))) ||
        strncmp(path, s->path_prefix, strlen(s->path_prefix)) != 0)
        goto out;
    d->latency_ms = s->latency_ms;
    /* one draw per kind, in a fixed order, so each kind's rate holds when
     * it is the only one set and the stream stays reproducible */
    if (s->rate_429 > 0 && prng_unit(&f->rng) < s->rate_429)
        d->action = FAULT_429;
    else if (s->error_rate > 0 && prng_unit(&f->rng) < s->error_rate)
        d->action = FAULT_ERROR;
    else if (s->drop_rate > 0 && prng_unit(&f->rng) < s->drop_rate)
        d->action = prng_unit(&f->rng) < s->drop_after_apply ? FAULT_DROP_AFTER
                                                              : FAULT_DROP_BEFORE;
    else if (s->bad_body_rate > 0 && prng_unit(&f->rng) < s->bad_body_rate)
        d->action = FAULT_BAD_BODY;
out:
    pthread_mutex_unlock(&f->lock);
}

static int fail(char *err, size_t errsz, const char *key, const char *what)
{
    snprintf(err, errsz, "%s %s", key, what);
    return -1;
}

/* one setting into s; 0 or -1 with err */
static int set_one(struct settings *s, const cJSON *c, char *err, size_t errsz)
{
    static const struct {
        const char *name;
        size_t off;
    } rates[] = {
        {"error_rate", offsetof(struct settings, error_rate)},
        {"drop_rate", offsetof(struct settings, drop_rate)},
        {"drop_after_apply", offsetof(struct settings, drop_after_apply)},
        {"rate_429", offsetof(struct settings, rate_429)},
        {"bad_body_rate", offsetof(struct settings, bad_body_rate)},
    };
    static const struct {
        const char *name;
        size_t off;
        int min, max;
    } ints[] = {
        {"latency_ms", offsetof(struct settings, latency_ms), 0, 60000},
        {"error_status", offsetof(struct settings, error_status), 400, 599},
        {"retry_after", offsetof(struct settings, retry_after), 0, 86400},
    };
    const char *k = c->string;

    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        if (strcmp(k, rates[i].name) != 0)
            continue;
        if (!cJSON_IsNumber(c) || !(c->valuedouble >= 0 && c->valuedouble <= 1))
            return fail(err, errsz, k, "must be a number from 0 to 1");
        *(double *)((char *)s + rates[i].off) = c->valuedouble;
        return 0;
    }
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (strcmp(k, ints[i].name) != 0)
            continue;
        if (!cJSON_IsNumber(c) || c->valuedouble != floor(c->valuedouble) ||
            c->valuedouble < ints[i].min || c->valuedouble > ints[i].max) {
            char what[64];

            snprintf(what, sizeof what, "must be an integer from %d to %d",
                     ints[i].min, ints[i].max);
            return fail(err, errsz, k, what);
        }
        *(int *)((char *)s + ints[i].off) = (int)c->valuedouble;
        return 0;
    }
    if (strcmp(k, "offline") == 0) {
        if (!cJSON_IsBool(c))
            return fail(err, errsz, k, "must be a boolean");
        s->offline = cJSON_IsTrue(c);
        return 0;
    }
    if (strcmp(k, "path_prefix") == 0) {
        if (cJSON_IsNull(c)) {
            s->path_prefix[0] = '\0';
            return 0;
        }
        if (!cJSON_IsString(c) || strlen(c->valuestring) >= MAX_PREFIX)
            return fail(err, errsz, k, "must be a string (under 256 bytes) or null");
        snprintf(s->path_prefix, sizeof s->path_prefix, "%s", c->valuestring);
        return 0;
    }
    if (strcmp(k, "methods") == 0) {
        const cJSON *m;

        if (cJSON_IsNull(c)) {
            s->methods = 0;
            return 0;
        }
        if (!cJSON_IsArray(c))
            return fail(err, errsz, k, "must be an array of GET, POST, PUT, DELETE");
        s->methods = 0;
        cJSON_ArrayForEach(m, c) {
            unsigned bit = cJSON_IsString(m) ? method_bit(m->valuestring) : METHOD_OTHER;

            if (bit == METHOD_OTHER || (cJSON_IsString(m) && strcmp(m->valuestring, "HEAD") == 0))
                return fail(err, errsz, k, "must be an array of GET, POST, PUT, DELETE");
            s->methods |= bit;
        }
        return 0;
    }
    snprintf(err, errsz, "unknown fault setting %.100s", k);
    return -1;
}

int faults_set(struct faults *f, const cJSON *obj, char *err, size_t errsz)
{
    struct settings next;

    if (!cJSON_IsObject(obj)) {
        snprintf(err, errsz, "faults must be a JSON object");
        return -1;
    }
    pthread_mutex_lock(&f->lock);
    next = f->s;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (set_one(&next, c, err, errsz)) {
            pthread_mutex_unlock(&f->lock);
            return -1;
        }
    }
    /* all or nothing: one bad key changes no setting */
    f->s = next;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

cJSON *faults_json(struct faults *f)
{
    cJSON *o = cJSON_CreateObject(), *m;
    struct settings s;

    pthread_mutex_lock(&f->lock);
    s = f->s;
    pthread_mutex_unlock(&f->lock);
    if (!o || !cJSON_AddNumberToObject(o, "latency_ms", s.latency_ms) ||
        !cJSON_AddNumberToObject(o, "error_rate", s.error_rate) ||
        !cJSON_AddNumberToObject(o, "error_status", s.error_status) ||
        !cJSON_AddNumberToObject(o, "drop_rate", s.drop_rate) ||
        !cJSON_AddNumberToObject(o, "drop_after_apply", s.drop_after_apply) ||
        !cJSON_AddNumberToObject(o, "rate_429", s.rate_429) ||
        !cJSON_AddNumberToObject(o, "retry_after", s.retry_after) ||
        !cJSON_AddNumberToObject(o, "bad_body_rate", s.bad_body_rate) ||
        !cJSON_AddBoolToObject(o, "offline", s.offline))
        goto fail;
    if (s.methods) {
        m = cJSON_AddArrayToObject(o, "methods");
        for (int i = 0; m && method_names[i]; i++) {
            cJSON *n = (s.methods & (1u << i)) ? cJSON_CreateString(method_names[i]) : NULL;

            if ((s.methods & (1u << i)) && !cJSON_AddItemToArray(m, n)) {
                cJSON_Delete(n);
                goto fail;
            }
        }
        if (!m)
            goto fail;
    } else if (!cJSON_AddNullToObject(o, "methods")) {
        goto fail;
    }
    if (!(s.path_prefix[0] ? cJSON_AddStringToObject(o, "path_prefix", s.path_prefix)
                           : cJSON_AddNullToObject(o, "path_prefix")))
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}
