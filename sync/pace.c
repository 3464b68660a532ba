/*
 * pace.c — holds every request of the engine to two limits:
 *
 *   - the remote's: a 429 pauses everything for its Retry-After (a floor
 *     under a full-jitter backoff, so a fleet told "1 s" does not return in
 *     step), and halves the budget, which then recovers linearly over
 *     60 intervals; when the rate-limit headers say the quota runs low
 *     (under half left), requests are spaced so the rest lasts until the
 *     quota resets, and never faster than the quota's own rate — so the
 *     429s are avoided rather than answered, the initial sync included;
 *
 *   - our own request budget: a token bucket filled at request_budget per
 *     hour (times the 429 factor) and emptied by every request started.
 *     Its capacity, two intervals' worth, bounds the burst after an outage
 *     or a suspend.  Requests that must not wait (records new to the
 *     scope, pushes, a full walk) are not held back by it, but they spend
 *     the tokens there are, so the schedule's own requests make room for
 *     them; they leave no debt, so that the hot list still comes an
 *     interval after an initial sync.
 *
 * Every constant derives from interval, budget and max_age (time-lapse).
 */
#include <pthread.h>
#include <string.h>

#include "sync/remote.h"

/* The budget factor after a 429, at most, and its floor. */
#define FACTOR_CUT 0.5
#define FACTOR_MIN 0.05
/* Intervals for the factor to recover from 0 to 1. */
#define FACTOR_RECOVERY_INTERVALS 60

void sync_pace_init(sync_pace *p, uint64_t *rng, pthread_mutex_t *mu)
{
    memset(p, 0, sizeof *p);
    p->mu = mu;
    p->factor = 1.0;
    p->rl_limit = p->rl_remaining = p->rl_window_ms = -1;
    p->last_429 = -1;
    p->rng = rng;
    p->tokens_at = -1;
}

void sync_pace_configure(sync_pace *p, int interval_s, int budget, int max_age_s,
                         double scale)
{
    p->interval_ms = (int64_t)(interval_s > 0 ? interval_s : 60) * 1000;
    p->budget = budget > 0 ? budget : 300;
    p->max_age_ms = (int64_t)(max_age_s > 0 ? max_age_s : 86400) * 1000;
    p->scale = scale > 0 ? scale : 1.0;
}

double sync_pace_capacity(const sync_pace *p)
{
    double c = (double)p->budget / 3600000.0 * 2.0 * (double)p->interval_ms;
    return c < 2.0 ? 2.0 : c;
}

/* The factor, recovered up to now. */
static double factor_at(sync_pace *p, int64_t now)
{
    if (p->factor < 1.0 && now > p->factor_at) {
        p->factor += (double)(now - p->factor_at) /
                     (double)(FACTOR_RECOVERY_INTERVALS * p->interval_ms);
        if (p->factor > 1.0)
            p->factor = 1.0;
    }
    p->factor_at = now;
    return p->factor;
}

/* The quota said by the last answer, if it is recent enough to trust. */
static int quota_known(const sync_pace *p, int64_t now)
{
    int64_t horizon = p->rl_window_ms > 0 ? p->rl_window_ms : p->interval_ms;

    return p->rl_limit > 0 && p->rl_remaining >= 0 && now - p->rl_seen_at <= 2 * horizon;
}

static double rate_at(sync_pace *p, int64_t now)
{
    double r = (double)p->budget / 3600000.0 * factor_at(p, now);

    /* The remote says its quota is nearly spent: half speed until it says
     * otherwise, before any 429. */
    if (quota_known(p, now) && p->rl_remaining * 10 < p->rl_limit)
        r *= 0.5;
    return r;
}

static double tokens_at(sync_pace *p, int64_t now)
{
    double cap = sync_pace_capacity(p);

    if (p->tokens_at < 0) {
        /* A fresh start: one interval's worth, not a full bucket. */
        p->tokens = cap / 2;
    } else if (now > p->tokens_at) {
        p->tokens += rate_at(p, now) * (double)(now - p->tokens_at);
    }
    if (p->tokens > cap)
        p->tokens = cap;
    p->tokens_at = now;
    return p->tokens;
}

double sync_pace_rate(sync_pace *p, int64_t now)
{
    double r;

    pthread_mutex_lock(p->mu);
    r = rate_at(p, now);
    pthread_mutex_unlock(p->mu);
    return r;
}

double sync_pace_tokens(sync_pace *p, int64_t now)
{
    double t;

    pthread_mutex_lock(p->mu);
    t = tokens_at(p, now);
    pthread_mutex_unlock(p->mu);
    return t;
}

static void count_minute(sync_pace *p, int64_t now)
{
    int64_t m = now / 60000;
    int i = (int)(m % SYNC_PACE_MINUTES);

    if (p->minute_of[i] != m) {
        p->minute_of[i] = m;
        p->minute_count[i] = 0;
    }
    p->minute_count[i]++;
}

int64_t sync_pace_last_hour(const sync_pace *p, int64_t now)
{
    int64_t m = now / 60000, n = 0;

    for (int i = 0; i < SYNC_PACE_MINUTES; i++)
        if (p->minute_of[i] > m - SYNC_PACE_MINUTES && p->minute_of[i] <= m)
            n += p->minute_count[i];
    return n;
}

int sync_pace_limited(const sync_pace *p, int64_t now)
{
    return now < p->pause_until || now < p->next_start || p->factor < 0.99 ||
           (p->last_429 >= 0 && now - p->last_429 < FACTOR_RECOVERY_INTERVALS * p->interval_ms);
}

/*
 * Spacing while the quota runs low: the rest spread evenly until it
 * resets, never faster than the quota's own rate, and a wait for the
 * reset once it is spent.  Plenty left (half or more): no spacing.
 */
static void space(sync_pace *p, int64_t now)
{
    int64_t until_reset, gap, floor_gap;

    if (!quota_known(p, now))
        return;
    until_reset = p->rl_reset_at > now ? p->rl_reset_at - now : 0;
    floor_gap = p->rl_window_ms > 0 ? p->rl_window_ms / p->rl_limit : 0;
    if (p->rl_remaining * 2 >= p->rl_limit)
        return;
    if (p->rl_remaining <= 0)
        gap = until_reset > floor_gap ? until_reset : floor_gap;
    else
        gap = until_reset / p->rl_remaining;
    if (gap < floor_gap)
        gap = floor_gap;
    if (gap <= 0)
        gap = 1000 / (p->rl_limit > 0 ? p->rl_limit : 1);
    if (now + gap > p->next_start)
        p->next_start = now + gap;
}

static void answered(sync_pace *p, const sync_remote_req *req, int64_t now);

static int64_t hook_delay(void *ud)
{
    sync_pace *p = ud;
    int64_t now = fs_mono_ms(), until;

    pthread_mutex_lock(p->mu);
    until = p->pause_until > p->next_start ? p->pause_until : p->next_start;
    pthread_mutex_unlock(p->mu);
    return until > now ? until - now : 0;
}

static void hook_started(void *ud, const sync_remote_req *req)
{
    sync_pace *p = ud;
    int64_t now = fs_mono_ms();

    (void)req;
    pthread_mutex_lock(p->mu);
    p->in_flight++;
    p->requests++;
    count_minute(p, now);
    tokens_at(p, now);
    p->tokens -= 1.0;
    if (p->tokens < 0)
        p->tokens = 0;
    if (quota_known(p, now)) {
        if (p->rl_remaining > 0)
            p->rl_remaining--;   /* spent by this one, until an answer says */
        space(p, now);
    }
    pthread_mutex_unlock(p->mu);
}

static void hook_answered(void *ud, const sync_remote_req *req)
{
    sync_pace *p = ud;
    int64_t now = fs_mono_ms();

    pthread_mutex_lock(p->mu);
    answered(p, req, now);
    pthread_mutex_unlock(p->mu);
}

/* What one answer says of the remote (lock held). */
static void answered(sync_pace *p, const sync_remote_req *req, int64_t now)
{
    if (p->in_flight > 0)
        p->in_flight--;
    if (req->status <= 0)
        return;
    if (req->etag[0])
        p->cap_etag = 1;
    if (req->gzip)
        p->cap_gzip = 1;
    if (req->rl_limit >= 0 || req->rl_remaining >= 0 || req->rl_reset_ms >= 0) {
        p->cap_rl = 1;
        if (req->rl_limit > 0)
            p->rl_limit = req->rl_limit;
        if (req->rl_window_ms > 0)
            p->rl_window_ms = req->rl_window_ms;
        if (req->rl_remaining >= 0) {
            /* Requests started after this one left are not in its count. */
            p->rl_remaining = req->rl_remaining - p->in_flight;
            if (p->rl_remaining < 0)
                p->rl_remaining = 0;
        }
        p->rl_reset_at = now + (req->rl_reset_ms >= 0 ? req->rl_reset_ms : 0);
        p->rl_seen_at = now;
        space(p, now);
    }
    if (req->status == 429) {
        p->answers_429++;
        p->last_429 = now;
        /* One cut per pause: the answers to requests already in flight
         * when the first 429 came say nothing new. */
        if (now >= p->pause_until) {
            p->consec_429++;
            p->factor = factor_at(p, now) * FACTOR_CUT;
            if (p->factor < FACTOR_MIN)
                p->factor = FACTOR_MIN;
            p->pause_until = now + sync_backoff_ms(p->consec_429, req->retry_after_ms,
                                                   p->scale, p->rng);
        }
    } else if (req->status < 500) {
        p->consec_429 = 0;
    }
}

void sync_pace_hooks(sync_pace *p, sync_remote_pacer *out)
{
    out->delay_ms = hook_delay;
    out->started = hook_started;
    out->answered = hook_answered;
    out->ud = p;
}
