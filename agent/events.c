/*
 * events.c — the SSE hub (see events.h).
 *
 * Locking and suspension.  Each client is a queue of bytes that the
 * content reader drains on the MHD thread.  When the queue is empty the
 * reader suspends the connection and records that under the hub lock;
 * a publisher, holding the same lock, appends and resumes only a client
 * recorded as suspended.  Because both the "suspend" and the "resume"
 * decisions are taken under the lock, a connection is never resumed that
 * was not suspended (undefined in libmicrohttpd) and an event is never
 * left unread in the queue of a sleeping client.
 *
 * Ids and the backlog.  Each published event gets the next id, a number
 * that only grows: the first of a run is the wall clock in microseconds
 * at the hub's start, so a restarted daemon never reuses an id a client
 * may still hold.  The last EVENTS_BACKLOG events (and at most half a
 * client's queue in bytes) are kept, formatted, so a client that comes
 * back with Last-Event-ID gets what it missed.  An id outside what is
 * kept (too old, or from another run) cannot be caught up: that client
 * gets a "reset" event first, telling it to read the state again.
 *
 * Shutdown.  events_hub_close() resumes every client so its reader ends
 * the stream, and waits (bounded) until each has gone, i.e. until
 * libmicrohttpd has sent its final chunk and dropped the response; only
 * then may the caller stop libmicrohttpd, which would cut off a stream
 * still ending (curl: "exit 18, transfer closed with outstanding read
 * data remaining").
 */
#include "agent/events.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/util.h"

/* How long events_hub_close() waits for the streams to end. */
#define CLOSE_WAIT_MS 2000

typedef struct client {
    events_hub *hub;
    struct MHD_Connection *conn;
    fs_buf q;               /* queued bytes [off, q.len), q.max the bound */
    size_t off;
    int suspended;          /* the reader suspended conn */
    int dropped;            /* queue overflowed: end with error */
    struct client *next;
} client;

/* One kept event: its id and its formatted bytes. */
typedef struct {
    uint64_t id;
    char *msg;
    size_t len;
} kept;

struct events_hub {
    pthread_mutex_t mu;
    pthread_cond_t gone;    /* signalled as each client goes */
    size_t max_queue;
    int closed;
    int nclients;
    int wake_fd;
    client *clients;
    uint64_t last_id;       /* the id of the last event published */
    kept backlog[EVENTS_BACKLOG]; /* a ring: [first, first + nkept) */
    size_t first, nkept, kept_bytes;
};

events_hub *events_hub_new(size_t max_queue)
{
    events_hub *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return NULL;
    }
    if (pthread_cond_init(&h->gone, NULL) != 0) {
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    h->max_queue = max_queue;
    h->wake_fd = -1;
    h->last_id = (uint64_t)fs_wall_ms() * 1000;
    return h;
}

/* Forgets the oldest kept event (hub lock held). */
static void forget_oldest(events_hub *h)
{
    kept *k = &h->backlog[h->first];
    h->kept_bytes -= k->len;
    free(k->msg);
    k->msg = NULL;
    h->first = (h->first + 1) % EVENTS_BACKLOG;
    h->nkept--;
}

void events_hub_free(events_hub *h)
{
    if (!h)
        return;
    while (h->nkept)
        forget_oldest(h);
    pthread_cond_destroy(&h->gone);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/*
 * Formats one event into out: "id: ID\n" (id 0: none), "event: TYPE\n",
 * each line of data on its own "data:" line, and the empty line.  -1 for
 * a type that is not one token, or when out fails.
 */
static int valid_type(const char *type)
{
    if (!type || !*type)
        return 0;
    for (const char *p = type; *p; p++)
        if (*p <= ' ' || *p == ':' || *p == 0x7f)
            return 0;
    return 1;
}

static int format_event(fs_buf *out, uint64_t id, const char *type, const char *data)
{
    if (!valid_type(type) || !data)
        return -1;
    if (id)
        fs_buf_addf(out, "id: %" PRIu64 "\n", id);
    fs_buf_addf(out, "event: %s\n", type);
    /* A newline inside the data would end the event early: split it. */
    for (const char *p = data;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[n - 1] == '\r')
            n--;
        fs_buf_adds(out, "data: ");
        fs_buf_add(out, p, n);
        fs_buf_adds(out, "\n");
        if (!nl)
            break;
        p = nl + 1;
    }
    return fs_buf_adds(out, "\n") == FS_BUF_OK ? 0 : -1;
}

char *events_format(const char *type, const char *data)
{
    fs_buf out;
    fs_buf_init(&out, SIZE_MAX);
    if (format_event(&out, 0, type, data) < 0) {
        fs_buf_release(&out);
        return NULL;
    }
    return fs_buf_take(&out);
}

/* Drops the bytes already sent from the front of c's queue. */
static void client_compact(client *c)
{
    fs_buf *q = &c->q;
    memmove(q->data, q->data + c->off, q->len - c->off);
    q->len -= c->off;
    q->data[q->len] = '\0';
    c->off = 0;
}

/* Ends c's stream with an error (hub lock held): it missed an event. */
static void client_drop(client *c)
{
    c->dropped = 1;
    if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
}

/* Appends to one client (hub lock held); drops it when over the bound. */
static void client_push(client *c, const char *msg, size_t n)
{
    if (c->dropped)
        return;
    if (c->off == fs_buf_len(&c->q)) {
        fs_buf_reset(&c->q);
        c->off = 0;
    } else if (c->off && (c->q.len + n > c->q.cap || c->q.len + n > c->q.max)) {
        client_compact(c);
    }
    /* Over the bound (it stopped reading) or out of memory: either way
     * the stream cannot stay whole, so it ends. */
    if (fs_buf_add(&c->q, msg, n) != FS_BUF_OK) {
        client_drop(c);
    } else if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
}

/* Sends msg to every client (hub lock held). */
static void broadcast(events_hub *h, const char *msg, size_t n)
{
    for (client *c = h->clients; c; c = c->next)
        client_push(c, msg, n);
}

/* Keeps a published event (its bytes taken) in the backlog (lock held). */
static void keep(events_hub *h, uint64_t id, char *msg, size_t len)
{
    kept *k;
    while (h->nkept && (h->nkept == EVENTS_BACKLOG || h->kept_bytes + len > h->max_queue / 2))
        forget_oldest(h);
    if (len > h->max_queue / 2) {
        /* Bigger than the backlog may hold: forget the rest too, so that
         * nobody is caught up across the hole (they get a reset). */
        while (h->nkept)
            forget_oldest(h);
        free(msg);
        return;
    }
    k = &h->backlog[(h->first + h->nkept) % EVENTS_BACKLOG];
    k->id = id;
    k->msg = msg;
    k->len = len;
    h->nkept++;
    h->kept_bytes += len;
}

void events_publish(events_hub *h, const char *type, const char *json)
{
    fs_buf out;
    size_t len;
    char *msg;

    if (!h || !valid_type(type))
        return;
    fs_buf_init(&out, h->max_queue);
    /* The id is taken and the event sent under one lock, so every client
     * sees the ids in order. */
    pthread_mutex_lock(&h->mu);
    h->last_id++;
    format_event(&out, h->last_id, type, json ? json : "{}");
    len = fs_buf_len(&out);
    msg = fs_buf_take(&out);
    if (msg) {
        broadcast(h, msg, len);
        keep(h, h->last_id, msg, len);
    } else {
        /* Too big for any client's queue, or out of memory: the event is
         * lost, and nobody may go on as if it had not been.  Streams end
         * (their clients reconnect and get a reset) and the backlog goes. */
        for (client *c = h->clients; c; c = c->next)
            client_drop(c);
        while (h->nkept)
            forget_oldest(h);
    }
    pthread_mutex_unlock(&h->mu);
}

void events_keepalive(events_hub *h)
{
    static const char ka[] = ": keepalive\n\n";
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    broadcast(h, ka, sizeof ka - 1);
    pthread_mutex_unlock(&h->mu);
}

void events_set_wake_fd(events_hub *h, int fd)
{
    pthread_mutex_lock(&h->mu);
    h->wake_fd = fd;
    pthread_mutex_unlock(&h->mu);
}

int events_clients(events_hub *h)
{
    int n;
    pthread_mutex_lock(&h->mu);
    n = h->nclients;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void events_hub_close(events_hub *h)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CLOSE_WAIT_MS / 1000;
    until.tv_nsec += (long)(CLOSE_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->mu);
    h->closed = 1;
    for (client *c = h->clients; c; c = c->next) {
        if (c->suspended) {
            c->suspended = 0;
            MHD_resume_connection(c->conn);
        }
    }
    /* A client that stopped reading may never finish: the wait is bounded. */
    while (h->nclients > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&h->gone, &h->mu, &until);
    pthread_mutex_unlock(&h->mu);
}

static ssize_t client_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    client *c = cls;
    events_hub *h = c->hub;
    ssize_t rc;
    (void)pos;

    pthread_mutex_lock(&h->mu);
    if (c->dropped) {
        rc = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (fs_buf_len(&c->q) > c->off) {
        size_t n = fs_buf_len(&c->q) - c->off;
        if (n > max)
            n = max;
        memcpy(buf, c->q.data + c->off, n);
        c->off += n;
        rc = (ssize_t)n;
    } else if (h->closed) {
        rc = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* Nothing to send: sleep until a publisher resumes us. */
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
        rc = 0;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static void client_free(void *cls)
{
    client *c = cls;
    events_hub *h = c->hub;
    pthread_mutex_lock(&h->mu);
    for (client **pp = &h->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            h->nclients--;
            pthread_cond_broadcast(&h->gone);
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    fs_buf_release(&c->q);
    free(c);
}

/*
 * What a client that comes back with Last-Event-ID last missed (hub lock
 * held): the kept events after it, or, when they are not all kept (or
 * last is not an id of this run), a "reset" event carrying the newest id.
 */
static void catch_up(events_hub *h, client *c, const char *last)
{
    static const char gap[] =
        "{\"reason\":\"gap\",\"message\":\"the events after Last-Event-ID are no "
        "longer kept: read the state again\"}";
    uint64_t id, oldest = h->nkept ? h->backlog[h->first].id : h->last_id + 1;
    char *end;
    fs_buf out;

    if (!last)
        return;
    errno = 0;
    id = strtoull(last, &end, 10);
    if (*last >= '0' && *last <= '9' && !*end && errno == 0 && id <= h->last_id &&
        id + 1 >= oldest) {
        for (size_t i = 0; i < h->nkept; i++) {
            const kept *k = &h->backlog[(h->first + i) % EVENTS_BACKLOG];
            if (k->id > id)
                client_push(c, k->msg, k->len);
        }
        return;
    }
    fs_buf_init(&out, sizeof gap + 64);
    if (format_event(&out, h->last_id, "reset", gap) == 0)
        client_push(c, fs_buf_str(&out), fs_buf_len(&out));
    else
        c->dropped = 1; /* cannot tell it: better no stream than a silent gap */
    fs_buf_release(&out);
}

struct MHD_Response *events_response(events_hub *h, struct MHD_Connection *conn)
{
    static const char hello[] = ": connected\n\n";
    struct MHD_Response *resp;
    client *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->hub = h;
    c->conn = conn;
    fs_buf_init(&c->q, h->max_queue);
    /* The first bytes tell the client the stream is live, so it may act
     * (a test: make a change) knowing it will see the event. */
    if (fs_buf_adds(&c->q, hello) != FS_BUF_OK) {
        fs_buf_release(&c->q);
        free(c);
        return NULL;
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, client_read, c, client_free);
    if (!resp) {
        fs_buf_release(&c->q);
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&h->mu);
    if (h->closed) {
        pthread_mutex_unlock(&h->mu);
        MHD_destroy_response(resp); /* frees c through client_free */
        return NULL;
    }
    catch_up(h, c, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID"));
    c->next = h->clients;
    h->clients = c;
    if (h->nclients++ == 0 && h->wake_fd >= 0) {
        uint64_t one = 1;
        /* Only a full counter (never) can fail; the wake is advisory. */
        if (write(h->wake_fd, &one, sizeof one) < 0) {
        }
    }
    pthread_mutex_unlock(&h->mu);
    return resp;
}
