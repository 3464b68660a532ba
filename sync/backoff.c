/*
 * backoff.c — when to try a failed op again: exponential backoff with full
 * jitter between 1 s and 5 min, and Retry-After.  Full jitter (a uniform
 * draw over the whole window) spreads the retries of many laptops that lost
 * the same server at the same moment, instead of having them return in
 * lock-step.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "sync/sync_int.h"

void sync_rand_seed(uint64_t *state, uint64_t seed)
{
    if (seed == 0 && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)fs_mono_ms() ^ (uint64_t)fs_wall_ms() << 20;
    *state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t sync_rand_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int64_t sync_backoff_ms(int attempts, int64_t retry_after_ms, double scale,
                        uint64_t *rng)
{
    int64_t ceiling = SYNC_BACKOFF_MIN_MS, delay;

    if (attempts < 1)
        attempts = 1;
    /* 1 s * 2^attempts, stopping before it passes the cap. */
    for (int i = 0; i < attempts && ceiling < SYNC_BACKOFF_MAX_MS; i++)
        ceiling *= 2;
    if (ceiling > SYNC_BACKOFF_MAX_MS)
        ceiling = SYNC_BACKOFF_MAX_MS;
    delay = SYNC_BACKOFF_MIN_MS +
            (int64_t)(sync_rand_next(rng) %
                      (uint64_t)(ceiling - SYNC_BACKOFF_MIN_MS + 1));
    if (retry_after_ms > SYNC_RETRY_AFTER_MAX_MS)
        retry_after_ms = SYNC_RETRY_AFTER_MAX_MS;
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    if (scale > 0 && scale != 1.0)
        delay = (int64_t)((double)delay * scale);
    return delay;
}

int sync_retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms)
{
    const char *p = value;
    int64_t secs = 0;
    time_t when;

    if (!value)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p >= '0' && *p <= '9') {
        for (; *p >= '0' && *p <= '9'; p++) {
            secs = secs * 10 + (*p - '0');
            if (secs > SYNC_RETRY_AFTER_MAX_MS / 1000)
                secs = SYNC_RETRY_AFTER_MAX_MS / 1000;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p)
            return -1;
        *delay_ms = secs * 1000;
        return 0;
    }
    /* An HTTP date (IMF-fixdate and the two obsolete forms). */
    when = curl_getdate(p, NULL);
    if (when == (time_t)-1)
        return -1;
    *delay_ms = (int64_t)when * 1000 - now_ms;
    if (*delay_ms < 0)
        *delay_ms = 0;
    if (*delay_ms > SYNC_RETRY_AFTER_MAX_MS)
        *delay_ms = SYNC_RETRY_AFTER_MAX_MS;
    return 0;
}
