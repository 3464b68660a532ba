/* syncctl.c — the sync thread and its schedule (see syncctl.h). */
#include "agent/syncctl.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "store/util.h"
#include "agent/notify.h"
#include "store/store.h"

#define NEVER INT64_MAX
#define WRITE_DEBOUNCE_MS 2000   /* after the last local write… */
#define WRITE_MAX_DELAY_MS 10000 /* …but no later than this after the first */
#define NETWORK_DELAY_MS 1000    /* let a burst of netlink messages settle */

struct syncctl {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int thread_started;
    sync_engine *se;
    events_hub *hub;
    agent_config *cfg_pending;   /* owned; applied between cycles */
    char *notify_command;        /* owned, NULL: off; used on the sync thread */
    int64_t interval_ms;

    /* The schedule, in CLOCK_MONOTONIC ms; NEVER when not set. */
    int64_t sched_due;           /* interval or backoff */
    int64_t write_due, first_write;
    int64_t net_due;
    int now_req;
    int full_req;                /* someone asked to be brought up to date */
    int stop;

    int running;
    int running_full;            /* the running cycle walks everything */
    int dirty;                   /* a local write since the running cycle began */
    uint64_t started_seq, done_seq;
    int failures;
    syncctl_waiter *waiters;
    unsigned int rng;

    /* For status. */
    int online, auth_error, have_summary;
    int64_t last_sync_ms, last_success_ms;
    char last_error[256];
    sync_summary last;
};

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int64_t syncctl_next_delay(int64_t interval_ms, int failures, double jitter)
{
    int64_t base = interval_ms;
    if (failures > 0) {
        int shift = failures - 1 > 20 ? 20 : failures - 1;
        base = min64(interval_ms, (int64_t)1000 << shift);
    }
    /* ±10 %: many laptops started together do not hit the API in step. */
    return (int64_t)((double)base * (0.9 + 0.2 * jitter));
}

static void fill_sync_config(const agent_config *a, sync_config *s)
{
    memset(s, 0, sizeof *s);
    s->api_url = a->api_url;
    s->api_key = a->api_key;
    s->technician_id = a->technician_id;
    s->branch_id = a->branch_id;
    s->days_back = a->days_back;
    s->days_ahead = a->days_ahead;
    s->max_connections = a->max_connections;
    s->policy = a->policy;
    s->interval_s = a->interval;
    s->request_budget = a->request_budget;
    s->max_age_s = a->max_age;
    s->ca_file = a->ca_file;
    s->proxy = a->proxy;
    /* No log_fn: the engine writes to the same log, at the same levels. */
    s->log_level = a->log_level;
}

/* Takes the notify_command of cfg (NULL: off); on the sync thread. */
static void set_notify_command(syncctl *c, const agent_config *cfg)
{
    free(c->notify_command);
    c->notify_command = cfg->notify_command ? strdup(cfg->notify_command) : NULL;
    if (cfg->notify_command && !c->notify_command)
        fs_log_warn("notify_command: out of memory; notifications are off");
}

/*
 * A conflict that discarded a local value is told to the user through
 * notify_command: the technician rarely has a terminal open.
 */
static void notify_lost(syncctl *c, const char *json)
{
    cJSON *j = c->notify_command ? cJSON_Parse(json) : NULL;
    const cJSON *outcome = cJSON_GetObjectItemCaseSensitive(j, "outcome");
    const cJSON *entity = cJSON_GetObjectItemCaseSensitive(j, "entity");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(j, "fields"), *f;
    char msg[512];
    size_t n;

    if (cJSON_IsString(outcome) && strcmp(outcome->valuestring, "remote_won") == 0 &&
        cJSON_IsString(entity) && cJSON_IsString(id)) {
        const cJSON *rule = cJSON_GetObjectItemCaseSensitive(j, "rule");
        int gone = cJSON_IsString(rule) && strcmp(rule->valuestring, "deleted_remotely") == 0;

        n = (size_t)snprintf(msg, sizeof msg, gone ? "%s %s was deleted remotely while you "
                                                     "edited it; your values are in the log"
                                                   : "Your edit of %s %s was overwritten",
                             entity->valuestring, id->valuestring);
        cJSON_ArrayForEach(f, fields) {
            if (n < sizeof msg && cJSON_IsString(f))
                n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%s", f == fields->child ? ": " : ", ",
                                      f->valuestring);
        }
        if (n < sizeof msg)
            snprintf(msg + n, sizeof msg - n, " (see 'fieldsync conflicts')");
        notify_user(c->notify_command, "fieldsync: a local edit was lost", msg);
    }
    cJSON_Delete(j);
}

static void engine_event(void *ud, const char *type, const char *json)
{
    syncctl *c = ud;

    events_publish(c->hub, type, json);
    if (strcmp(type, "conflict") == 0)
        notify_lost(c, json);
}

char *syncctl_summary_json(const sync_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    char t[40];
    char *out = NULL;
    const struct {
        const char *name;
        int64_t v;
    } counts[] = {
        { "pulled", s->pulled },   { "unchanged", s->unchanged }, { "evicted", s->evicted },
        { "deleted_remotely", s->deleted_remotely }, { "pushed", s->pushed },
        { "conflicts", s->conflicts }, { "rejected", s->rejected }, { "retried", s->retried },
        { "errors", s->errors },
    };

    if (!o)
        return NULL;
    store_time_format(s->started_ms, t, sizeof t);
    if (!cJSON_AddStringToObject(o, "started_at", t))
        goto out;
    store_time_format(s->finished_ms, t, sizeof t);
    if (!cJSON_AddStringToObject(o, "finished_at", t) ||
        !cJSON_AddBoolToObject(o, "online", s->online) ||
        !cJSON_AddBoolToObject(o, "auth_error", s->auth_error) ||
        !cJSON_AddBoolToObject(o, "complete", s->complete))
        goto out;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (!cJSON_AddNumberToObject(o, counts[i].name, (double)counts[i].v))
            goto out;
    if (!(s->last_error[0] ? cJSON_AddStringToObject(o, "last_error", s->last_error)
                           : cJSON_AddNullToObject(o, "last_error")))
        goto out;
    out = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return out;
}

/* Applies a configuration left by SIGHUP (lock held, no cycle running). */
static void apply_pending(syncctl *c)
{
    agent_config *cfg = c->cfg_pending;
    sync_config sc;
    char err[256];

    c->cfg_pending = NULL;
    set_notify_command(c, cfg);
    fill_sync_config(cfg, &sc);
    if (sync_engine_reconfigure(c->se, &sc, err, sizeof err) < 0) {
        fs_log_error("reload: the sync engine refused the new configuration: %s", err);
    } else {
        int64_t old = c->interval_ms;
        c->interval_ms = (int64_t)cfg->interval * 1000;
        /* A shorter interval takes effect now, not after the old one. */
        if (c->interval_ms < old && c->failures == 0)
            c->sched_due = min64(c->sched_due, fs_mono_ms() + c->interval_ms);
        fs_log_info("reload: sync configuration applied (interval %d s, policy %s)",
                 cfg->interval, sync_policy_name(cfg->policy));
    }
    config_release(cfg);
    free(cfg);
}

/* Records a finished cycle (lock held) and answers its waiters. */
static void cycle_done(syncctl *c, int rc, const sync_summary *sum)
{
    int64_t wake = sync_engine_wake_time(c->se), now_w = fs_wall_ms(), now_m = fs_mono_ms();
    double jitter = (double)rand_r(&c->rng) / ((double)RAND_MAX + 1.0);
    int ok = rc == 0 && sum->online;
    syncctl_waiter **pp;

    c->running = 0;
    c->done_seq = c->started_seq;
    c->have_summary = 1;
    c->last = *sum;
    c->online = sum->online;
    c->auth_error = sum->auth_error;
    c->last_sync_ms = sum->finished_ms ? sum->finished_ms : now_w;
    /* A success is a cycle in which nothing failed: the remote answered,
     * accepted our key, and sent nothing we had to skip. */
    if (ok && !sum->auth_error && sum->errors == 0)
        c->last_success_ms = c->last_sync_ms;
    if (rc < 0 && !sum->last_error[0])
        snprintf(c->last_error, sizeof c->last_error, "local failure (the replica database)");
    else
        snprintf(c->last_error, sizeof c->last_error, "%s", sum->last_error);
    c->failures = ok ? 0 : c->failures + 1;
    c->sched_due = now_m + syncctl_next_delay(c->interval_ms, c->failures, jitter);
    if (wake != NEVER) {
        int64_t d = wake - now_w;
        if (d < 1000)
            d = 1000;
        c->sched_due = min64(c->sched_due, now_m + d);
    }
    for (pp = &c->waiters; *pp;) {
        syncctl_waiter *w = *pp;
        if (w->target <= c->done_seq) {
            *pp = w->next;
            /* A cycle cut short because the daemon is stopping did not
             * "finish incomplete": its waiters hear that the daemon stops. */
            w->done(w, c->stop ? NULL : sum);
        } else {
            pp = &w->next;
        }
    }
}

static int64_t due_locked(const syncctl *c)
{
    if (c->now_req)
        return 0;
    return min64(c->sched_due, min64(c->write_due, c->net_due));
}

/* How much the sync thread yields the CPU to the local API (nice). */
#define SYNC_THREAD_NICE 10

static void *thread_main(void *arg)
{
    syncctl *c = arg;

    /* A large pull is background work: a local read must not wait for a
     * CPU behind it (on two cores a read during an initial sync had a p99
     * of 8 times its idle one).  Linux's nice applies to this thread only. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), SYNC_THREAD_NICE) < 0)
        fs_log_debug("sync thread: setpriority: %s", strerror(errno));
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        int64_t due, now;
        if (c->cfg_pending)
            apply_pending(c);
        now = fs_mono_ms();
        due = due_locked(c);
        if (due <= now) {
            sync_summary sum;
            char *js;
            int rc, full = c->full_req;

            c->running = 1;
            c->running_full = full;
            c->full_req = 0;
            c->dirty = 0;
            c->started_seq++;
            c->now_req = 0;
            c->write_due = c->net_due = NEVER;
            c->first_write = 0;
            pthread_mutex_unlock(&c->mu);

            events_publish(c->hub, "sync_started", "{}");
            memset(&sum, 0, sizeof sum);
            sum.started_ms = fs_wall_ms();
            /* An explicit sync walks everything (someone is waiting to be
             * up to date); the others spend the request budget
             * (docs/SYNC.md), the first of them walking the scope once. */
            rc = full ? sync_cycle_run(c->se, sum.started_ms, &sum)
                      : sync_cycle_run_scheduled(c->se, sum.started_ms, &sum);
            /* What a large pull allocated and freed (the engine's page
             * cache, parsed pages) goes back to the system rather than
             * staying resident until the next cycle. */
            malloc_trim(0);
            if (!sum.finished_ms)
                sum.finished_ms = fs_wall_ms();
            /* An API key the remote refused needs a person: warn, so
             * `journalctl -p warning` shows it. */
            FS_LOG_AT(sum.auth_error ? FS_LOG_WARN : FS_LOG_INFO, "sync: %s: pulled %lld, unchanged %lld, evicted %lld, pushed %lld, "
                     "conflicts %lld, rejected %lld, retried %lld, errors %lld%s%s",
                     rc < 0                ? "failed"
                     : sum.auth_error      ? "the remote refused the API key (401)"
                     : sum.online          ? "done"
                                           : "remote unreachable",
                     (long long)sum.pulled, (long long)sum.unchanged, (long long)sum.evicted,
                     (long long)sum.pushed,
                     (long long)sum.conflicts, (long long)sum.rejected, (long long)sum.retried,
                     (long long)sum.errors, sum.last_error[0] ? "; last error: " : "",
                     sum.last_error);
            js = syncctl_summary_json(&sum);
            pthread_mutex_lock(&c->mu);
            cycle_done(c, rc, &sum);
            pthread_mutex_unlock(&c->mu);
            if (js)
                events_publish(c->hub, "sync_finished", js);
            free(js);
            {
                char st[200];
                snprintf(st, sizeof st, "STATUS=%s; pushed %lld, pulled %lld",
                         sum.online ? "online" : "offline", (long long)sum.pushed,
                         (long long)sum.pulled);
                notify_send(st);
            }
            if (sum.rejected > 0 && c->notify_command) {
                char msg[200];
                snprintf(msg, sizeof msg, "The server rejected %lld of your edits "
                         "(see 'fieldsync outbox')", (long long)sum.rejected);
                notify_user(c->notify_command, "fieldsync: edits rejected", msg);
            }
            pthread_mutex_lock(&c->mu);
            continue;
        }
        if (due == NEVER) {
            pthread_cond_wait(&c->cv, &c->mu);
        } else {
            struct timespec ts;
            ts.tv_sec = (time_t)(due / 1000);
            ts.tv_nsec = (long)(due % 1000) * 1000000L;
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int syncctl_start(const agent_config *cfg, events_hub *hub, syncctl **out, char *err, size_t errlen)
{
    syncctl *c = calloc(1, sizeof *c);
    pthread_condattr_t ca;
    sync_config sc;
    int mu_ok = 0, cv_ok = 0;

    *out = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        goto fail;
    mu_ok = 1;
    if (pthread_condattr_init(&ca) != 0)
        goto fail;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cv_ok = pthread_cond_init(&c->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cv_ok)
        goto fail;
    c->hub = hub;
    c->interval_ms = (int64_t)cfg->interval * 1000;
    c->sched_due = c->write_due = c->net_due = NEVER;
    c->now_req = 1; /* a first cycle at start */
    c->rng = (unsigned int)(fs_wall_ms() ^ getpid());
    fill_sync_config(cfg, &sc);
    if (sync_engine_new(&sc, cfg->db, &c->se, err, errlen) < 0)
        goto fail_msg;
    set_notify_command(c, cfg);
    sync_set_event_hook(c->se, engine_event, c);
    if (pthread_create(&c->thread, NULL, thread_main, c) != 0) {
        snprintf(err, errlen, "cannot start the sync thread");
        goto fail_msg;
    }
    c->thread_started = 1;
    *out = c;
    return 0;
fail:
    snprintf(err, errlen, "out of resources starting the sync thread");
fail_msg:
    if (c->se)
        sync_engine_free(c->se);
    if (cv_ok)
        pthread_cond_destroy(&c->cv);
    if (mu_ok)
        pthread_mutex_destroy(&c->mu);
    free(c->notify_command);
    free(c);
    return -1;
}

void syncctl_sync_now(syncctl *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->running || c->dirty || !c->running_full)
        c->now_req = c->full_req = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void syncctl_local_write(syncctl *c)
{
    int64_t now = fs_mono_ms();
    pthread_mutex_lock(&c->mu);
    /* Debounced: a burst of edits makes one cycle ~2 s after the last,
     * but a steady stream of edits still syncs every 10 s. */
    if (c->running)
        c->dirty = 1;
    if (!c->first_write)
        c->first_write = now;
    c->write_due = min64(now + WRITE_DEBOUNCE_MS, c->first_write + WRITE_MAX_DELAY_MS);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void syncctl_network_changed(syncctl *c)
{
    pthread_mutex_lock(&c->mu);
    /* The backoff was about the old network: start it over. */
    c->failures = 0;
    c->net_due = min64(c->net_due, fs_mono_ms() + NETWORK_DELAY_MS);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int syncctl_wait(syncctl *c, syncctl_waiter *w)
{
    int rc = -1;
    pthread_mutex_lock(&c->mu);
    if (!c->stop) {
        if (c->running && !c->dirty && c->running_full) {
            w->target = c->started_seq; /* join the running cycle */
        } else {
            w->target = c->started_seq + 1;
            c->now_req = c->full_req = 1;
        }
        w->next = c->waiters;
        c->waiters = w;
        pthread_cond_signal(&c->cv);
        rc = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void syncctl_reconfigure(syncctl *c, agent_config *cfg)
{
    agent_config *old;
    pthread_mutex_lock(&c->mu);
    old = c->cfg_pending;
    c->cfg_pending = cfg;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (old) {
        config_release(old);
        free(old);
    }
}

void syncctl_status_get(syncctl *c, syncctl_status *out)
{
    int64_t due;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mu);
    out->online = c->online;
    out->syncing = c->running;
    out->auth_error = c->auth_error;
    out->last_sync_ms = c->last_sync_ms;
    out->last_success_ms = c->last_success_ms;
    snprintf(out->last_error, sizeof out->last_error, "%s", c->last_error);
    out->have_summary = c->have_summary;
    out->last = c->last;
    due = due_locked(c);
    if (c->now_req || c->running)
        out->next_sync_ms = fs_wall_ms();
    else if (due != NEVER)
        out->next_sync_ms = fs_wall_ms() + (due - fs_mono_ms() > 0 ? due - fs_mono_ms() : 0);
    pthread_mutex_unlock(&c->mu);
    sync_progress_get(c->se, &out->progress);
    sync_status_get(c->se, fs_wall_ms(), &out->sync);
    /* Online means the remote answered recently.  During a long cycle
     * (the first sync of a large scope takes minutes) the last finished
     * cycle is old news: a list page counted or an op pushed in the
     * running cycle means the remote is answering now. */
    if (out->syncing && !out->online &&
        (out->progress.records_total > 0 || out->progress.records_done > 0 ||
         out->progress.ops_done > 0))
        out->online = 1;
}

void syncctl_stop(syncctl *c)
{
    syncctl_waiter *w;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    /* Cancel after setting stop, so a cycle that starts in between is
     * still told to end; the engine stops at its next safe point. */
    if (c->thread_started) {
        /* A cycle that began just before stop was set may have reset the
         * engine's cancel flag as it started: cancel again until the
         * thread is gone. */
        for (;;) {
            struct timespec ts;
            sync_engine_cancel(c->se);
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_timedjoin_np(c->thread, NULL, &ts) == 0)
                break;
        }
        c->thread_started = 0;
    }
    pthread_mutex_lock(&c->mu);
    while ((w = c->waiters)) {
        c->waiters = w->next;
        w->done(w, NULL);
    }
    pthread_mutex_unlock(&c->mu);
}

void syncctl_free(syncctl *c)
{
    if (!c)
        return;
    syncctl_stop(c);
    sync_engine_free(c->se);
    free(c->notify_command);
    if (c->cfg_pending) {
        config_release(c->cfg_pending);
        free(c->cfg_pending);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
