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
 */
#include "agent/events.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/util.h"

typedef struct client {
    events_hub *hub;
    struct MHD_Connection *conn;
    fs_buf q;               /* queued bytes [off, q.len), q.max the bound */
    size_t off;
    int suspended;          /* the reader suspended conn */
    int dropped;            /* queue overflowed: end with error */
    struct client *next;
} client;

struct events_hub {
    pthread_mutex_t mu;
    size_t max_queue;
    int closed;
    int nclients;
    int wake_fd;
    client *clients;
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
    h->max_queue = max_queue;
    h->wake_fd = -1;
    return h;
}

void events_hub_free(events_hub *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->mu);
    free(h);
}

char *events_format(const char *type, const char *data)
{
    size_t tl, dl, lines = 1, cap;
    char *out, *w;

    if (!type || !*type || !data)
        return NULL;
    for (const char *p = type; *p; p++)
        if (*p <= ' ' || *p == ':' || *p == 0x7f)
            return NULL;
    tl = strlen(type);
    dl = strlen(data);
    for (const char *p = data; *p; p++)
        if (*p == '\n')
            lines++;
    cap = 7 + tl + 1 + dl + lines * 7 + 2;
    out = malloc(cap);
    if (!out)
        return NULL;
    w = out;
    memcpy(w, "event: ", 7);
    w += 7;
    memcpy(w, type, tl);
    w += tl;
    *w++ = '\n';
    /* A newline inside the data would end the event early: split it. */
    for (const char *p = data;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[n - 1] == '\r')
            n--;
        memcpy(w, "data: ", 6);
        w += 6;
        memcpy(w, p, n);
        w += n;
        *w++ = '\n';
        if (!nl)
            break;
        p = nl + 1;
    }
    *w++ = '\n';
    *w = '\0';
    return out;
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
    if (fs_buf_add(&c->q, msg, n) != FS_BUF_OK)
        c->dropped = 1;
    if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
}

static void broadcast(events_hub *h, const char *msg)
{
    size_t n = strlen(msg);
    pthread_mutex_lock(&h->mu);
    for (client *c = h->clients; c; c = c->next)
        client_push(c, msg, n);
    pthread_mutex_unlock(&h->mu);
}

void events_publish(events_hub *h, const char *type, const char *json)
{
    char *msg;
    if (!h)
        return;
    msg = events_format(type, json ? json : "{}");
    if (!msg)
        return;
    broadcast(h, msg);
    free(msg);
}

void events_keepalive(events_hub *h)
{
    if (h)
        broadcast(h, ": keepalive\n\n");
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
    pthread_mutex_lock(&h->mu);
    h->closed = 1;
    for (client *c = h->clients; c; c = c->next) {
        if (c->suspended) {
            c->suspended = 0;
            MHD_resume_connection(c->conn);
        }
    }
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
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    fs_buf_release(&c->q);
    free(c);
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
