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
 */
#ifndef FIELDSYNC_AGENT_EVENTS_H
#define FIELDSYNC_AGENT_EVENTS_H

#include <stddef.h>

struct MHD_Connection;
struct MHD_Response;

typedef struct events_hub events_hub;

/* max_queue: bytes a client may have waiting before it is dropped. */
events_hub *events_hub_new(size_t max_queue);
/* After events_hub_close() and once every client's response is gone. */
void events_hub_free(events_hub *h);

/*
 * Formats one event: "event: TYPE\ndata: LINE\n…\n" (each line of data on
 * its own "data:" line).  Returns a malloc'd string, NULL on failure or a
 * type that is not one token.
 */
char *events_format(const char *type, const char *data);

/* Publishes an event (type and JSON data) to every client. */
void events_publish(events_hub *h, const char *type, const char *json);
/* Sends the ": keepalive" comment to every client. */
void events_keepalive(events_hub *h);
/* An eventfd the hub writes to when its first client connects, so the
 * main loop (asleep without a timeout while nobody listens) starts the
 * keepalive timer.  -1: none. */
void events_set_wake_fd(events_hub *h, int fd);
/* Clients connected now. */
int events_clients(events_hub *h);
/* Ends every stream (shutdown): no client stays suspended after this. */
void events_hub_close(events_hub *h);

/*
 * A response for a new client on conn: the stream, registered with the
 * hub; NULL when out of memory or the hub is closed.  The caller queues
 * it and destroys its reference.
 */
struct MHD_Response *events_response(events_hub *h, struct MHD_Connection *conn);

#endif /* FIELDSYNC_AGENT_EVENTS_H */
