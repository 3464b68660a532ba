/*
 * events.h — the event stream of GET /agent/events: a hub that fans each
 * event out to every connected client as text/event-stream.
 *
 * Any thread may publish (the API thread for local writes, the sync
 * thread for pulls, conflicts and cycles).  Publishing never blocks on a
 * client: each client has a bounded queue, and a client whose queue is
 * full (it stopped reading) is dropped, its connection closed.  A client
 * with nothing to read is suspended in libmicrohttpd (no polling) and
 * resumed when an event or the 15 s keepalive arrives.
 *
 * Every event carries an "id:", growing within a run and across runs.
 * The last EVENTS_BACKLOG events are kept: a client that reconnects with
 * Last-Event-ID gets those after its id; one whose id is no longer kept
 * (or unknown) gets a "reset" event first (data {"reason":"gap",…}, id the
 * newest), meaning: events were missed, read the state again.
 */
#ifndef FIELDSYNC_AGENT_EVENTS_H
#define FIELDSYNC_AGENT_EVENTS_H

#include <stddef.h>

struct MHD_Connection;
struct MHD_Response;

typedef struct events_hub events_hub;

/* Events kept for clients that come back (also bounded in bytes: at most
 * half of a client's max_queue). */
#define EVENTS_BACKLOG 1024

/* max_queue: bytes a client may have waiting before it is dropped. */
events_hub *events_hub_new(size_t max_queue);
/* After events_hub_close() and once every client's response is gone. */
void events_hub_free(events_hub *h);

/*
 * Formats one event without an id: "event: TYPE\ndata: LINE\n…\n" (each
 * line of data on its own "data:" line).  Returns a malloc'd string, NULL
 * on failure or a type that is not one token.
 */
char *events_format(const char *type, const char *data);

/* Publishes an event (type and JSON data; any type that is one token,
 * e.g. record_changed, sync_finished, conflict) to every client, with the
 * next id, and keeps it for clients that come back. */
void events_publish(events_hub *h, const char *type, const char *json);
/* Sends the ": keepalive" comment to every client. */
void events_keepalive(events_hub *h);
/* An eventfd the hub writes to when its first client connects, so the
 * main loop (asleep without a timeout while nobody listens) starts the
 * keepalive timer.  -1: none. */
void events_set_wake_fd(events_hub *h, int fd);
/* Clients connected now. */
int events_clients(events_hub *h);
/* Ends every stream (shutdown): no client stays suspended after this.
 * Waits up to 2 s until each stream has sent its end (the final chunk),
 * so libmicrohttpd may be stopped next without cutting one off; the API
 * thread must still be running. */
void events_hub_close(events_hub *h);

/*
 * A response for a new client on conn: the stream, registered with the
 * hub, starting with what it missed when conn's request has
 * Last-Event-ID; NULL when out of memory or the hub is closed.  The
 * caller queues it and destroys its reference.
 */
struct MHD_Response *events_response(events_hub *h, struct MHD_Connection *conn);

#endif /* FIELDSYNC_AGENT_EVENTS_H */
