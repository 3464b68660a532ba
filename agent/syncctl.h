/*
 * syncctl.h — the sync thread of fieldsyncd and its schedule.
 *
 * Thread model.  One thread owns the sync engine (and through it its own
 * store handle) and runs the cycles; nothing else calls the engine except
 * the three calls sync.h allows from any thread (cancel, progress, wake
 * time).  Other threads only leave requests under the controller's lock:
 * "sync now" (POST /agent/sync), "a local write happened" (debounced
 * ~2 s), "the network changed" (~1 s), a new configuration (SIGHUP, applied
 * between cycles), stop.  Between requests the thread sleeps on a
 * condition variable with a deadline (the interval with ±10 % jitter, or
 * while the remote is unreachable an exponential backoff capped at the
 * interval): an idle daemon does not wake up more than that.
 *
 * Coalescing.  A request for a cycle while one runs joins the running
 * one: no second cycle starts in parallel or after it, and a waiter
 * (POST /agent/sync?wait=true) is answered with the running cycle's
 * summary.  One exception keeps "wait" meaning "my data went out": when a
 * local write (or a retry or resolve) happened after the running cycle
 * began, that cycle may already be past its push, so a follow-up cycle
 * is run and the waiter answered by it.
 */
#ifndef FIELDSYNC_AGENT_SYNCCTL_H
#define FIELDSYNC_AGENT_SYNCCTL_H

#include <stdint.h>

#include "agent/config.h"
#include "agent/events.h"
#include "sync/sync.h"

typedef struct syncctl syncctl;

/*
 * A caller waiting for a cycle.  done is called once, on the sync thread
 * (or in syncctl_stop), with the summary of the cycle, or with NULL when
 * the daemon stops first (a cycle cut short by the stop included); after that the controller never touches w.
 */
typedef struct syncctl_waiter {
    void (*done)(struct syncctl_waiter *w, const sync_summary *sum);
    void *ud;
    uint64_t target;              /* internal: the cycle that answers */
    struct syncctl_waiter *next;  /* internal */
} syncctl_waiter;

/* A snapshot for GET /agent/status.  Times are Unix ms, 0 = never. */
typedef struct {
    int online;          /* the last cycle reached the remote, or the running one does */
    int syncing;
    int auth_error;
    int64_t last_sync_ms;
    int64_t last_success_ms;
    int64_t next_sync_ms;
    char last_error[256];
    int have_summary;
    sync_summary last;
    sync_progress progress;
    sync_status sync;       /* the remote's figures and the replica's freshness */
} syncctl_status;

/*
 * Creates the engine from cfg (borrowed; its strings are copied by the
 * engine) and starts the thread, which runs a first cycle at once.
 * Events (sync_started, sync_finished, and the engine's own) go to hub.
 */
int syncctl_start(const agent_config *cfg, events_hub *hub, syncctl **out,
                  char *err, size_t errlen);

/* Requests (any thread). */
void syncctl_sync_now(syncctl *c);
void syncctl_local_write(syncctl *c);
void syncctl_network_changed(syncctl *c);
/* Registers w and requests a cycle; -1 if the controller is stopping. */
int syncctl_wait(syncctl *c, syncctl_waiter *w);
/* Takes ownership of cfg (heap-allocated, released with config_release +
 * free); applied before the next cycle. */
void syncctl_reconfigure(syncctl *c, agent_config *cfg);

void syncctl_status_get(syncctl *c, syncctl_status *out);

/*
 * Cancels a running cycle, waits for the thread to end (committed work
 * stays committed, the outbox keeps what was not pushed), answers the
 * remaining waiters with NULL.  Idempotent.
 */
void syncctl_stop(syncctl *c);
/* Frees the engine; after syncctl_stop. */
void syncctl_free(syncctl *c);

/* The delay before the next cycle (ms) after one that failed `failures`
 * times in a row (0 = success), jitter in [0,1).  For tests. */
int64_t syncctl_next_delay(int64_t interval_ms, int failures, double jitter);

/* JSON object text of a summary (malloc'd), as POST /agent/sync?wait and
 * the sync_finished event show it. */
char *syncctl_summary_json(const sync_summary *s);

#endif /* FIELDSYNC_AGENT_SYNCCTL_H */
