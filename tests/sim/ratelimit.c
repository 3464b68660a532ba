/* --rate-limit N/s|N/min|N/h: the API key's token bucket.
 *
 * The bucket holds at most N tokens and refills continuously at N per
 * window, so a client may burst N requests and then go at the average
 * rate.  The sim has one API key, so this is the account's bucket: every
 * client sharing the key shares it, as laptops of one company share a
 * vendor's quota.  Time is CLOCK_MONOTONIC (a --clock-skew or a wall-clock
 * step must not refill or drain it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MAX_LIMIT 1000000L

struct ratelimit {
    pthread_mutex_t lock;
    long limit;
    int window_s;
    double rate;        /* tokens per second */
    double tokens;
    double at;          /* monotonic seconds of the last refill */
};

int ratelimit_parse(const char *s, long *limit, int *window_s)
{
    static const struct {
        const char *unit;
        int seconds;
    } units[] = {{"s", 1}, {"min", 60}, {"h", 3600}};
    char *end;
    long n;

    if (*s < '1' || *s > '9')
        return -1;
    n = strtol(s, &end, 10);
    if (n < 1 || n > MAX_LIMIT || *end != '/')
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end + 1, units[i].unit) == 0) {
            *limit = n;
            *window_s = units[i].seconds;
            return 0;
        }
    }
    return -1;
}

struct ratelimit *ratelimit_new(long limit, int window_s)
{
    struct ratelimit *rl = calloc(1, sizeof *rl);

    if (!rl)
        return NULL;
    if (pthread_mutex_init(&rl->lock, NULL)) {
        free(rl);
        return NULL;
    }
    rl->limit = limit;
    rl->window_s = window_s;
    rl->rate = (double)limit / window_s;
    rl->tokens = (double)limit;
    rl->at = clock_mono_s();
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

void ratelimit_refill(struct ratelimit *rl)
{
    pthread_mutex_lock(&rl->lock);
    rl->tokens = (double)rl->limit;
    rl->at = clock_mono_s();
    pthread_mutex_unlock(&rl->lock);
}

/* whole seconds, rounded up, for t seconds (t >= 0) */
static int ceil_s(double t)
{
    double c = ceil(t - 1e-9);

    return c < 0 ? 0 : c > 1e9 ? 1000000000 : (int)c;
}

/* caller holds the lock: brings the bucket to now and describes it */
static void refill_and_view(struct ratelimit *rl, struct rl_view *v)
{
    double now = clock_mono_s();

    rl->tokens += (now - rl->at) * rl->rate;
    if (rl->tokens > (double)rl->limit)
        rl->tokens = (double)rl->limit;
    rl->at = now;
    v->limit = rl->limit;
    v->window_s = rl->window_s;
}

/* caller holds the lock: remaining, reset and retry_after from tokens */
static void finish_view(const struct ratelimit *rl, struct rl_view *v)
{
    double t = rl->tokens < 0 ? 0 : rl->tokens;

    v->remaining = (long)floor(t + 1e-9);
    v->reset_s = ceil_s(((double)rl->limit - t) / rl->rate);
    v->retry_after_s = t >= 1 ? 0 : ceil_s((1 - t) / rl->rate);
    if (t < 1 && v->retry_after_s < 1)
        v->retry_after_s = 1;
}

int ratelimit_take(struct ratelimit *rl, struct rl_view *v)
{
    int ok;

    pthread_mutex_lock(&rl->lock);
    refill_and_view(rl, v);
    ok = rl->tokens >= 1 - 1e-9;
    if (ok)
        rl->tokens -= 1;
    finish_view(rl, v);
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

void ratelimit_peek(struct ratelimit *rl, struct rl_view *v)
{
    pthread_mutex_lock(&rl->lock);
    refill_and_view(rl, v);
    finish_view(rl, v);
    pthread_mutex_unlock(&rl->lock);
}

cJSON *ratelimit_json(struct ratelimit *rl)
{
    struct rl_view v;
    cJSON *o = cJSON_CreateObject();

    ratelimit_peek(rl, &v);
    if (!o || !cJSON_AddNumberToObject(o, "limit", (double)v.limit) ||
        !cJSON_AddNumberToObject(o, "window_s", v.window_s) ||
        !cJSON_AddNumberToObject(o, "remaining", (double)v.remaining) ||
        !cJSON_AddNumberToObject(o, "reset_s", v.reset_s)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
