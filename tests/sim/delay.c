/* Latency faults without holding a server thread: the connection is
 * suspended and a timer thread resumes it when its delay is over, so eight
 * clients delayed 20 ms each wait about 20 ms, not 160 ms, even though
 * only a couple of threads serve requests. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <microhttpd.h>

#include "sim.h"

struct delayed {
    int64_t due_ns;            /* CLOCK_MONOTONIC */
    struct MHD_Connection *conn;
    struct delayed *next;
};

struct delays {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    struct delayed *head;      /* sorted by due_ns */
    int stopping;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* resumes every connection that is due (all of them when stopping) */
static void *run(void *arg)
{
    struct delays *d = arg;

    pthread_mutex_lock(&d->lock);
    for (;;) {
        int64_t now = mono_ns();

        while (d->head && (d->stopping || d->head->due_ns <= now)) {
            struct delayed *x = d->head;

            d->head = x->next;
            MHD_resume_connection(x->conn);
            free(x);
        }
        if (d->stopping)
            break;
        if (!d->head) {
            pthread_cond_wait(&d->wake, &d->lock);
        } else {
            struct timespec ts = {(time_t)(d->head->due_ns / 1000000000),
                                  (long)(d->head->due_ns % 1000000000)};

            pthread_cond_timedwait(&d->wake, &d->lock, &ts);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

struct delays *delays_start(void)
{
    struct delays *d = calloc(1, sizeof *d);
    pthread_condattr_t ca;
    int ok;

    if (!d)
        return NULL;
    ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&d->wake, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) {
        free(d);
        return NULL;
    }
    if (pthread_mutex_init(&d->lock, NULL)) {
        pthread_cond_destroy(&d->wake);
        free(d);
        return NULL;
    }
    if (pthread_create(&d->thread, NULL, run, d)) {
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->wake);
        free(d);
        return NULL;
    }
    return d;
}

int delays_add(struct delays *d, void *conn, int ms)
{
    struct delayed *x = malloc(sizeof *x), **p;

    if (!x)
        return -1;
    x->due_ns = mono_ns() + (int64_t)ms * 1000000;
    x->conn = conn;
    pthread_mutex_lock(&d->lock);
    if (d->stopping) {
        pthread_mutex_unlock(&d->lock);
        free(x);
        return -1;
    }
    /* suspended under the lock, so the timer cannot resume it first */
    MHD_suspend_connection(conn);
    for (p = &d->head; *p && (*p)->due_ns <= x->due_ns; p = &(*p)->next)
        ;
    x->next = *p;
    *p = x;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int delays_pending(struct delays *d)
{
    int n = 0;

    if (!d)
        return 0;
    pthread_mutex_lock(&d->lock);
    for (struct delayed *x = d->head; x; x = x->next)
        n++;
    pthread_mutex_unlock(&d->lock);
    return n;
}

void delays_stop(struct delays *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
}

void delays_free(struct delays *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    free(d);
}
