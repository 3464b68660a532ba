/*
 * http_front.c — the socket's front door (see http_front.h).
 *
 * A connection waits in the front until its first request head is whole
 * (or refused).  The front never reads a byte off the socket before the
 * verdict: it peeks, so libmicrohttpd later reads the head as the client
 * sent it.  Waiting connections are registered edge-triggered, because a
 * peek leaves the bytes in place and a level-triggered epoll would report
 * the same readable socket again at once; each new arrival is an edge.
 */
#include "agent/http_front.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/api_request.h"
#include "agent/ctlsock.h"
#include "agent/local_api.h"
#include "store/util.h"
#include "store/util.h"

/* ---- the head check ------------------------------------------------------ */

/* libmicrohttpd holds a head in its per-connection memory, next to what
 * it parses out of it; a head the front passes must fit with room to
 * spare (test_socket_http's largest head checks the real library). */
_Static_assert(2 * HTTP_FRONT_HEAD_MAX <= LOCAL_API_MEMORY_LIMIT,
               "the front passes heads libmicrohttpd could not hold");

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A byte no request line or header may hold (HTAB aside). */
static int is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int refuse(unsigned *status, const char **message, unsigned st, const char *msg)
{
    *status = st;
    *message = msg;
    return -1;
}

#define BAD_LINE "Malformed request line: expected METHOD TARGET HTTP/1.1"

/* The request line [p, end) without its line end. */
static int check_request_line(const char *p, const char *end, unsigned *status,
                              const char **message)
{
    const char *sp1, *sp2;
    size_t vlen;

    for (sp1 = p; sp1 < end && is_tchar((unsigned char)*sp1); sp1++) {
    }
    if (sp1 == p || sp1 == end || *sp1 != ' ')
        return refuse(status, message, 400, BAD_LINE);
    for (sp2 = sp1 + 1; sp2 < end && *sp2 > ' ' && *sp2 != 0x7f; sp2++) {
    }
    if (sp2 == sp1 + 1 || sp2 == end || *sp2 != ' ')
        return refuse(status, message, 400, BAD_LINE);
    vlen = (size_t)(end - sp2 - 1);
    if (vlen == 8 && (memcmp(sp2 + 1, "HTTP/1.1", 8) == 0 || memcmp(sp2 + 1, "HTTP/1.0", 8) == 0))
        return 0;
    if (vlen == 8 && memcmp(sp2 + 1, "HTTP/", 5) == 0 && sp2[6] >= '0' && sp2[6] <= '9' &&
        sp2[7] == '.' && sp2[8] >= '0' && sp2[8] <= '9')
        return refuse(status, message, 505, "HTTP version not supported: use HTTP/1.1");
    return refuse(status, message, 400, BAD_LINE);
}

/* A Content-Length value: digits only, not past body_max. */
static int check_length(const char *v, size_t n, size_t body_max, unsigned *status,
                        const char **message)
{
    unsigned long long len = 0;
    if (n == 0)
        return refuse(status, message, 400, "Malformed Content-Length: not a number");
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return refuse(status, message, 400, "Malformed Content-Length: not a number");
        if (len > API_MAX_BODY * 10ULL)
            break; /* far past any cap: no need to read on (nor to overflow) */
        len = len * 10 + (unsigned)(v[i] - '0');
    }
    if (len > body_max)
        return refuse(status, message, 413, "The request body is larger than 1 MiB");
    return 0;
}

/* What the header lines said, for the checks that need them all. */
typedef struct {
    int host, length, chunked;
} head_seen;

/* One header line [p, end) without its line end. */
static int check_header(const char *p, const char *end, size_t body_max, head_seen *seen,
                        unsigned *status, const char **message)
{
    const char *colon, *v, *ve;

    if (*p == ' ' || *p == '\t') {
        /* A folded line continues the header above (obs-fold), which
         * libmicrohttpd joins with a space: only its bytes matter here. */
        for (const char *q = p; q < end; q++)
            if (is_ctl((unsigned char)*q))
                return refuse(status, message, 400,
                              "Malformed header: a control character in a value");
        return 0;
    }
    for (colon = p; colon < end && is_tchar((unsigned char)*colon); colon++) {
    }
    if (colon == p || colon == end || *colon != ':')
        return refuse(status, message, 400, "Malformed header: expected NAME: VALUE");
    for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++) {
    }
    for (ve = end; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--) {
    }
    for (const char *q = v; q < ve; q++)
        if (is_ctl((unsigned char)*q))
            return refuse(status, message, 400, "Malformed header: a control character in a value");

#define NAME_IS(s) ((size_t)(colon - p) == sizeof(s) - 1 && strncasecmp(p, s, sizeof(s) - 1) == 0)
    if (NAME_IS("Host")) {
        if (seen->host++)
            return refuse(status, message, 400, "Malformed request: more than one Host header");
    } else if (NAME_IS("Content-Length")) {
        if (seen->length++)
            return refuse(status, message, 400, "Malformed request: more than one Content-Length");
        return check_length(v, (size_t)(ve - v), body_max, status, message);
    } else if (NAME_IS("Transfer-Encoding")) {
        if (seen->chunked++ || (size_t)(ve - v) != 7 || strncasecmp(v, "chunked", 7) != 0)
            return refuse(status, message, 400,
                          "Malformed request: the only Transfer-Encoding accepted is chunked");
    }
#undef NAME_IS
    return 0;
}

/* The end of the line starting at p (its LF), or NULL if not in [p, end). */
static const char *line_end(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

/* The line [p, nl) without a CR before its LF; -1 for a bare CR in it. */
static int line_span(const char *p, const char *nl, const char **le)
{
    *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    return memchr(p, '\r', (size_t)(*le - p)) ? -1 : 0;
}

int http_front_check_head(const char *buf, size_t n, size_t body_max, unsigned *status,
                          const char **message)
{
    const char *end = buf + (n > HTTP_FRONT_HEAD_MAX ? HTTP_FRONT_HEAD_MAX : n);
    const char *p = buf, *nl, *le;
    head_seen seen = {0, 0, 0};
    int lines = 0;

    /* Empty lines before a request are allowed (RFC 9112 §2.2), a few. */
    for (int i = 0; i < 4 && p < end && (*p == '\r' || *p == '\n'); i++)
        p += *p == '\r' && p + 1 < end && p[1] == '\n' ? 2 : 1;
    nl = line_end(p, end);
    if (!nl) {
        /* Refuse a line that cannot become a request line without
         * waiting for the rest of it: random bytes are seen at once. */
        for (const char *q = p; q < end; q++)
            if (is_ctl((unsigned char)*q) && *q != '\r')
                return refuse(status, message, 400, "Malformed request: not HTTP");
        if ((size_t)(end - p) - (p < end && end[-1] == '\r') > HTTP_FRONT_LINE_MAX)
            return refuse(status, message, 414, "The request line is longer than 4096 bytes");
        if (n > HTTP_FRONT_HEAD_MAX)
            return refuse(status, message, 431, "The request headers are larger than 8 KiB");
        return 0;
    }
    if (line_span(p, nl, &le) < 0)
        return refuse(status, message, 400, "Malformed request: not HTTP");
    if ((size_t)(le - p) > HTTP_FRONT_LINE_MAX)
        return refuse(status, message, 414, "The request line is longer than 4096 bytes");
    for (const char *q = p; q < le; q++)
        if (is_ctl((unsigned char)*q))
            return refuse(status, message, 400, "Malformed request: not HTTP");
    if (check_request_line(p, le, status, message) < 0)
        return -1;
    for (p = nl + 1;; p = nl + 1) {
        nl = line_end(p, end);
        if (!nl) {
            if (n > HTTP_FRONT_HEAD_MAX)
                return refuse(status, message, 431, "The request headers are larger than 8 KiB");
            return 0;
        }
        if (line_span(p, nl, &le) < 0)
            return refuse(status, message, 400, "Malformed header: a bare CR");
        if (le == p)
            break; /* the empty line: the head is whole */
        if (++lines > HTTP_FRONT_HEADERS_MAX)
            return refuse(status, message, 431, "More than 64 request headers");
        if (check_header(p, le, body_max, &seen, status, message) < 0)
            return -1;
    }
    if (seen.length && seen.chunked)
        return refuse(status, message, 400,
                      "Malformed request: both Content-Length and Transfer-Encoding");
    return 1;
}

/* ---- the front ------------------------------------------------------------- */

/* A connection waiting for its first head. */
typedef struct waiting {
    int fd;
    int allowed;                /* the peer passed the socket's rule */
    int64_t since_ms;
    struct sockaddr_un addr;
    socklen_t addrlen;
    struct waiting *prev, *next;
} waiting;

struct http_front {
    int listen_fd, ep, stop_fd;
    struct MHD_Daemon *mhd;
    uid_t self;
    gid_t group;
    pthread_t thread;
    waiting *list;
    int nwaiting;
    int64_t paused_at;          /* accepting paused since (fs_mono_ms); 0: not */
};

static const char *reason(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "HTTP Version Not Supported";
    }
}

/* The error codes api_error_code() has no name of its own for. */
static const char *error_code(unsigned status)
{
    switch (status) {
    case 414: return "uri_too_long";
    case 431: return "request_header_fields_too_large";
    case 505: return "http_version_not_supported";
    default: return api_error_code(status);
    }
}

/*
 * Answers an error in the API's JSON and closes.  The answer is small and
 * the socket's send buffer empty, so one send suffices.  What the client
 * sent is read and dropped first (a bounded amount): closing a socket with
 * unread bytes could otherwise cut the answer off for the client.
 */
static void answer_and_close(int fd, unsigned status, const char *message)
{
    char *json = api_error_json(error_code(status), message, NULL);
    char sink[4096];
    fs_buf out;

    fs_buf_init(&out, 4096);
    if (json)
        fs_buf_addf(&out,
                    "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                    status, reason(status), strlen(json), json);
    free(json);
    for (int i = 0; i < 256 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
    }
    if (fs_buf_error(&out) == FS_BUF_OK &&
        send(fd, fs_buf_str(&out), fs_buf_len(&out), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        fs_log_debug("local api: cannot answer %u: %s", status, strerror(errno));
    fs_buf_release(&out);
    shutdown(fd, SHUT_WR);
    close(fd);
}

static void unlink_waiting(http_front *f, waiting *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        f->list = w->next;
    if (w->next)
        w->next->prev = w->prev;
    f->nwaiting--;
    epoll_ctl(f->ep, EPOLL_CTL_DEL, w->fd, NULL);
}

/* Ends a connection the front no longer watches: answers status (0:
 * none) in JSON, closes, forgets w. */
static void finish(waiting *w, unsigned status, const char *message)
{
    if (status) {
        fs_log_debug("local api: answered a request with %u: %s", status, message);
        answer_and_close(w->fd, status, message);
    } else {
        close(w->fd);
    }
    free(w);
}

static void drop_waiting(http_front *f, waiting *w)
{
    unlink_waiting(f, w);
    finish(w, 0, NULL);
}

/* Whether the peer may talk to us (SO_PEERCRED on the connection). */
static int peer_check(http_front *f, int fd)
{
    ctlsock_peer peer;
    if (ctlsock_peer_get(fd, &peer) < 0)
        return 0;
    if (ctlsock_peer_allowed(&peer, f->self, f->group))
        return 1;
    fs_log_warn("local api: refused a client with uid %lu (pid %ld)", (unsigned long)peer.uid,
             (long)peer.pid);
    return 0;
}

/* Whether libmicrohttpd takes one more connection (it would close one
 * past its limit without a word). */
static int mhd_has_room(http_front *f)
{
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(f->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return !di || di->num_connections < LOCAL_API_MAX_CONNECTIONS;
}

/*
 * The verdict on w from what it has sent so far: 0 wait for more; 1 hand
 * it over; -1 end it, answering *status (0: close without a word).  hup:
 * the client will send nothing more (EPOLLRDHUP).
 */
static int judge(http_front *f, waiting *w, int hup, unsigned *status, const char **message)
{
    char head[HTTP_FRONT_HEAD_MAX + 1];
    ssize_t n = recv(w->fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    int v;

    *status = 0;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1; /* gone before a request */
    v = http_front_check_head(head, (size_t)n, API_MAX_BODY, status, message);
    if (v == 0 && !hup)
        return 0;
    if (v == 0)
        return refuse(status, message, 400, "Malformed request: it ends inside its head");
    if (v > 0 && !w->allowed)
        return refuse(status, message, 403, "Forbidden: this socket serves its owner only");
    if (v > 0 && !mhd_has_room(f))
        return refuse(status, message, 503, "Too many connections; try again");
    return v;
}

/* Carries out a verdict other than "wait" on w, which the front no longer
 * watches. */
static void act(http_front *f, waiting *w, int v, unsigned status, const char *message)
{
    if (v < 0) {
        finish(w, status, message);
        return;
    }
    /* libmicrohttpd takes the fd, and closes it even when it fails. */
    if (MHD_add_connection(f->mhd, w->fd, (const struct sockaddr *)&w->addr, w->addrlen) != MHD_YES)
        fs_log_warn("local api: cannot serve a connection: %s", strerror(errno));
    free(w);
}

/* A watched connection has new bytes (or closed). */
static void on_readable(http_front *f, waiting *w, int hup)
{
    unsigned status;
    const char *message = NULL;
    int v = judge(f, w, hup, &status, &message);
    if (v == 0)
        return;
    unlink_waiting(f, w);
    act(f, w, v, status, message);
}

/*
 * Out of file descriptors (or memory), accept fails while the listening
 * socket stays readable: watching it would spin.  So it is left unwatched
 * for a second (front_main resumes it), and the pending clients wait in
 * the backlog meanwhile.
 */
static void pause_accepting(http_front *f)
{
    struct epoll_event ev;
    fs_log_warn("local api: cannot accept a connection (%s); pausing for 1 s", strerror(errno));
    ev.events = 0;
    ev.data.ptr = &f->listen_fd;
    if (epoll_ctl(f->ep, EPOLL_CTL_MOD, f->listen_fd, &ev) == 0)
        f->paused_at = fs_mono_ms();
}

static void resume_accepting(http_front *f)
{
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.ptr = &f->listen_fd;
    if (epoll_ctl(f->ep, EPOLL_CTL_MOD, f->listen_fd, &ev) == 0)
        f->paused_at = 0;
}

static void on_accept(http_front *f)
{
    for (;;) {
        waiting *w;
        struct epoll_event ev;
        unsigned status;
        const char *message = NULL;
        int v;
        struct sockaddr_un addr;
        socklen_t addrlen = sizeof addr;
        int fd = accept4(f->listen_fd, (struct sockaddr *)&addr, &addrlen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(f);
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                     errno != ECONNABORTED)
                fs_log_warn("local api: accept: %s", strerror(errno));
            return;
        }
        if (f->nwaiting >= LOCAL_API_MAX_CONNECTIONS) {
            answer_and_close(fd, 503, "Too many connections are waiting; try again");
            continue;
        }
        w = calloc(1, sizeof *w);
        if (!w) {
            close(fd);
            continue;
        }
        w->fd = fd;
        w->addr = addr;
        w->addrlen = addrlen;
        w->allowed = peer_check(f, fd);
        w->since_ms = fs_mono_ms();
        /* A client that sent its head with its connect is judged at once,
         * without a round through epoll. */
        v = judge(f, w, 0, &status, &message);
        if (v != 0) {
            act(f, w, v, status, message);
            continue;
        }
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = w;
        if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(w);
            continue;
        }
        w->next = f->list;
        if (f->list)
            f->list->prev = w;
        f->list = w;
        f->nwaiting++;
    }
}

/* Closes the connections that kept the front waiting too long. */
static void sweep(http_front *f)
{
    int64_t now = fs_mono_ms();
    waiting *next;
    for (waiting *w = f->list; w; w = next) {
        next = w->next;
        if (now - w->since_ms > (int64_t)LOCAL_API_IDLE_TIMEOUT_S * 1000)
            drop_waiting(f, w);
    }
}

static void *front_main(void *arg)
{
    http_front *f = arg;
    struct epoll_event evs[32];

    for (;;) {
        int n = epoll_wait(f->ep, evs, 32, f->nwaiting || f->paused_at ? 1000 : -1);
        if (n < 0 && errno != EINTR) {
            fs_log_error("local api: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &f->stop_fd)
                return NULL;
            if (evs[i].data.ptr == &f->listen_fd)
                on_accept(f);
            else
                on_readable(f, evs[i].data.ptr, !!(evs[i].events & (EPOLLRDHUP | EPOLLHUP)));
        }
        if (f->nwaiting)
            sweep(f);
        if (f->paused_at && fs_mono_ms() - f->paused_at >= 1000)
            resume_accepting(f);
    }
    return NULL;
}

static int watch(int ep, int fd, void *ptr)
{
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.ptr = ptr;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int http_front_start(int listen_fd, struct MHD_Daemon *mhd, uid_t self, gid_t group,
                     http_front **out, char *err, size_t errlen)
{
    http_front *f = calloc(1, sizeof *f);
    int flags;

    *out = NULL;
    if (!f) {
        snprintf(err, errlen, "out of memory");
        close(listen_fd);
        return -1;
    }
    f->listen_fd = listen_fd;
    f->mhd = mhd;
    f->self = self;
    f->group = group;
    f->ep = epoll_create1(EPOLL_CLOEXEC);
    f->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    flags = fcntl(listen_fd, F_GETFL);
    if (f->ep < 0 || f->stop_fd < 0 || flags < 0 ||
        fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        watch(f->ep, listen_fd, &f->listen_fd) < 0 || watch(f->ep, f->stop_fd, &f->stop_fd) < 0 ||
        pthread_create(&f->thread, NULL, front_main, f) != 0) {
        snprintf(err, errlen, "cannot start the socket's front: %s", strerror(errno));
        if (f->ep >= 0)
            close(f->ep);
        if (f->stop_fd >= 0)
            close(f->stop_fd);
        close(listen_fd);
        free(f);
        return -1;
    }
    *out = f;
    return 0;
}

void http_front_stop(http_front *f)
{
    uint64_t one = 1;
    if (!f)
        return;
    /* An eventfd write fails only when its counter is full (never here). */
    if (write(f->stop_fd, &one, sizeof one) < 0)
        fs_log_warn("local api: cannot stop the front: %s", strerror(errno));
    pthread_join(f->thread, NULL);
    while (f->list)
        drop_waiting(f, f->list);
    close(f->listen_fd);
    close(f->stop_fd);
    close(f->ep);
    free(f);
}
