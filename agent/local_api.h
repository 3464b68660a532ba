/*
 * local_api.h — the HTTP/1.1 API of fieldsyncd on its Unix socket
 * (DESIGN §6): the remote's /api/v1 paths served from the replica, and
 * the agent's own /agent endpoints.
 *
 * Thread model.  libmicrohttpd runs one internal polling thread; every
 * handler runs on it with the API's own store handle, so reads never wait
 * on the network or on the sync thread (SQLite WAL: readers do not wait
 * for a writer).  Writes commit durably before the answer, then ask the
 * sync controller for a (debounced) cycle.  The two answers that wait —
 * POST /agent/sync?wait=true and the event stream — suspend their
 * connection and are resumed by another thread; nothing blocks the
 * polling thread.
 */
#ifndef FIELDSYNC_AGENT_LOCAL_API_H
#define FIELDSYNC_AGENT_LOCAL_API_H

#include <stddef.h>
#include <sys/types.h>

#include "agent/events.h"
#include "agent/syncctl.h"

typedef struct local_api local_api;

/* Fixed limits of the socket (max_connections in the config is the
 * remote's concurrency, not this). */
#define LOCAL_API_MAX_CONNECTIONS 64
#define LOCAL_API_IDLE_TIMEOUT_S 60
#define LOCAL_API_MEMORY_LIMIT (16 * 1024) /* per connection: headers, URL */
#define LOCAL_API_CACHE_BYTES (4 * 1024 * 1024) /* GET answers kept (read_cache.h) */

/*
 * Serves listen_fd (takes ownership: closed by local_api_stop).  group is
 * the socket group or (gid_t)-1.  0, or -1 with err filled.
 */
int local_api_start(int listen_fd, const char *db_path, gid_t group, syncctl *sc,
                    events_hub *hub, local_api **out, char *err, size_t errlen);

/*
 * Stops serving: resumes every connection still suspended (their answers
 * end), stops libmicrohttpd, closes the store.  Call after syncctl_stop()
 * and events_hub_close(), so that nothing resumes a connection any more.
 */
void local_api_stop(local_api *a);

#endif /* FIELDSYNC_AGENT_LOCAL_API_H */
