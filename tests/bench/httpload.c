/*
 * httpload — an HTTP/1.1 load generator for a Unix socket, with the
 * latency of every request (wrk and ab cannot reach a Unix socket; h2load
 * can but prints no percentiles).
 *
 * C keep-alive connections, each sending one request at a time and the
 * next as soon as the answer is complete (closed loop), all on one thread
 * with epoll.  A request's latency runs from the first byte written to the
 * last byte of its answer read.  Paths rotate over a file of paths, so a
 * run reads many records rather than one hot row.
 *
 * Usage: httpload -s SOCKET [-c CONNS] [-n REQUESTS | -d SECONDS]
 *                 [-p PATH | -f PATHS_FILE] [-m METHOD] [-b BODY]
 *                 [-r RATE] [-w WARMUP] [-H HEADER]
 *   -b BODY  a request body; each "%N" in it becomes the request's number,
 *            so that every PUT changes something
 *   -r RATE  requests per second per connection (open pacing); 0: as fast
 *            as answers come
 *   -w N     requests per connection sent first and not counted
 * Prints one JSON line: requests, errors (non-2xx or broken), seconds,
 * rps, p50_us, p90_us, p99_us, p999_us, max_us, reconnects, bytes_in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/bench_util.h"

#define MAX_CONNS 1024
#define RBUF 65536

typedef struct {
    int fd;
    char *wbuf;            /* the request being written */
    size_t wlen, woff;
    char *rbuf;            /* the answer being read */
    size_t rlen, rcap;
    size_t hdr_end;        /* bytes of status line + headers, 0 until known */
    long clen;             /* Content-Length, -1 unknown */
    int status, close_after;
    int warm_left;         /* warmup requests still to send */
    double t_start;        /* this request's first write */
    double next_at;        /* paced: when the next request may start */
    int busy;
} conn;

static const char *sock_path;
static char **paths;
static size_t npaths, path_next;
static const char *method = "GET";
static const char *body_tmpl;
static char extra_hdr[512];
static long req_no;

static double *lat;
static size_t nlat, caplat;
static long errors, reconnects, target = -1;
static long long bytes_in;
static double deadline;

static void die(const char *what)
{
    fprintf(stderr, "httpload: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int connect_unix(void)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect");
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Builds the next request into c->wbuf. */
static void build_request(conn *c)
{
    const char *path = paths[path_next++ % npaths];
    char body[4096], num[24];
    size_t blen = 0, cap;

    req_no++;
    if (body_tmpl) {
        const char *p = body_tmpl;
        snprintf(num, sizeof num, "%ld", req_no);
        while (*p && blen + 32 < sizeof body) {
            if (p[0] == '%' && p[1] == 'N') {
                blen += (size_t)snprintf(body + blen, sizeof body - blen, "%s", num);
                p += 2;
            } else {
                body[blen++] = *p++;
            }
        }
        body[blen] = '\0';
    }
    cap = strlen(path) + blen + strlen(extra_hdr) + 256;
    free(c->wbuf);
    c->wbuf = malloc(cap);
    if (!c->wbuf)
        die("malloc");
    if (body_tmpl)
        c->wlen = (size_t)snprintf(c->wbuf, cap,
                                   "%s %s HTTP/1.1\r\nHost: localhost\r\n%s"
                                   "Content-Type: application/json\r\n"
                                   "Content-Length: %zu\r\n\r\n%s",
                                   method, path, extra_hdr, blen, body);
    else
        c->wlen = (size_t)snprintf(c->wbuf, cap, "%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n",
                                   method, path, extra_hdr);
    c->woff = 0;
}

static void record(double us)
{
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 65536;
        lat = realloc(lat, caplat * sizeof *lat);
        if (!lat)
            die("realloc");
    }
    lat[nlat++] = us;
}

static int done_sending(void)
{
    if (target >= 0)
        return (long)nlat + errors >= target;
    return bench_now_s() >= deadline;
}

/* Tries to write the rest of the request; 0 or -1 if the socket broke. */
static int flush_request(conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EAGAIN)
                return 0;
            return -1;
        }
        c->woff += (size_t)n;
    }
    return 0;
}

static void start_request(conn *c, int epfd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

    build_request(c);
    c->rlen = c->hdr_end = 0;
    c->clen = -1;
    c->status = c->close_after = 0;
    c->busy = 1;
    c->t_start = bench_now_s();
    if (flush_request(c) < 0) {
        errors++;
        c->busy = 0;
        return;
    }
    if (c->woff < c->wlen)
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Parses the head once it is complete; 1 when the answer is whole. */
static int answer_complete(conn *c)
{
    if (!c->hdr_end) {
        char *e = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
        char *line, *save = NULL;

        if (!e)
            return 0;
        c->hdr_end = (size_t)(e - c->rbuf) + 4;
        *e = '\0';
        c->status = atoi(c->rbuf + 9);
        for (line = strtok_r(c->rbuf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
            if (strncasecmp(line, "Content-Length:", 15) == 0)
                c->clen = atol(line + 15);
            else if (strncasecmp(line, "Connection:", 11) == 0 && strcasestr(line, "close"))
                c->close_after = 1;
        }
        if (c->clen < 0)
            c->clen = 0;   /* our servers always send a length */
    }
    return c->rlen >= c->hdr_end + (size_t)c->clen;
}

static void reopen(conn *c, int epfd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = connect_unix();
    reconnects++;
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Reads what is there; on a whole answer records it and starts the next. */
static void on_readable(conn *c, int epfd)
{
    for (;;) {
        ssize_t n;

        if (c->rcap - c->rlen < 4096) {
            c->rcap *= 2;
            c->rbuf = realloc(c->rbuf, c->rcap);
            if (!c->rbuf)
                die("realloc");
        }
        n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            /* The server closed: a broken request if one was out. */
            if (c->busy)
                errors++;
            c->busy = 0;
            reopen(c, epfd);
            return;
        }
        c->rlen += (size_t)n;
        bytes_in += n;
        if (c->busy && answer_complete(c)) {
            double t = bench_now_s();
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

            c->busy = 0;
            if (c->warm_left > 0)
                c->warm_left--;
            else if (c->status >= 200 && c->status < 300)
                record((t - c->t_start) * 1e6);
            else
                errors++;
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
            if (c->close_after)
                reopen(c, epfd);
            return;
        }
    }
}

static double pct(double p)
{
    size_t i;

    if (!nlat)
        return 0;
    i = (size_t)(p * (double)(nlat - 1) + 0.5);
    return lat[i];
}

static void load_paths(const char *file)
{
    FILE *f = fopen(file, "r");
    char line[2048];
    size_t cap = 0;

    if (!f)
        die(file);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (npaths == cap) {
            cap = cap ? cap * 2 : 256;
            paths = realloc(paths, cap * sizeof *paths);
            if (!paths)
                die("realloc");
        }
        paths[npaths++] = strdup(line);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    int nconns = 1, warm = 0, opt, epfd, active;
    double seconds = 0, rate = 0, t0, t1;
    conn *cs;
    static char *one_path[1];

    while ((opt = getopt(argc, argv, "s:c:n:d:p:f:m:b:r:w:H:")) != -1) {
        switch (opt) {
        case 's': sock_path = optarg; break;
        case 'c': nconns = atoi(optarg); break;
        case 'n': target = atol(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'p': one_path[0] = optarg; paths = one_path; npaths = 1; break;
        case 'f': load_paths(optarg); break;
        case 'm': method = optarg; break;
        case 'b': body_tmpl = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'w': warm = atoi(optarg); break;
        case 'H': snprintf(extra_hdr, sizeof extra_hdr, "%s\r\n", optarg); break;
        default:
            fprintf(stderr, "usage: httpload -s SOCKET [-c CONNS] [-n N | -d SECONDS] "
                            "[-p PATH | -f FILE] [-m METHOD] [-b BODY] [-r RATE] [-w N]\n");
            return 2;
        }
    }
    if (!sock_path || !npaths || nconns < 1 || nconns > MAX_CONNS ||
        (target < 0 && seconds <= 0)) {
        fprintf(stderr, "httpload: need -s, a path, 1..%d connections and -n or -d\n", MAX_CONNS);
        return 2;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    cs = calloc((size_t)nconns, sizeof *cs);
    if (epfd < 0 || !cs)
        die("setup");
    for (int i = 0; i < nconns; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};

        cs[i].fd = connect_unix();
        cs[i].rcap = RBUF;
        cs[i].rbuf = malloc(RBUF);
        cs[i].warm_left = warm;
        if (!cs[i].rbuf || epoll_ctl(epfd, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
            die("setup");
    }
    t0 = bench_now_s();
    deadline = t0 + seconds;
    for (int i = 0; i < nconns; i++) {
        cs[i].next_at = t0 + (rate > 0 ? (double)i / ((double)nconns * rate) : 0);
        if (!rate)
            start_request(&cs[i], epfd);
    }
    for (;;) {
        struct epoll_event evs[64];
        double now = bench_now_s(), wake = -1;
        int timeout = 100, n;

        active = 0;
        for (int i = 0; i < nconns; i++) {
            conn *c = &cs[i];
            if (c->busy) {
                active++;
                continue;
            }
            if (done_sending())
                continue;
            if (rate > 0 && now < c->next_at) {
                if (wake < 0 || c->next_at < wake)
                    wake = c->next_at;
                continue;
            }
            if (rate > 0)
                c->next_at += 1.0 / rate;
            start_request(c, epfd);
            active++;
        }
        if (!active && done_sending())
            break;
        if (wake > 0) {
            int ms = (int)((wake - now) * 1000);
            timeout = ms < 0 ? 0 : ms;
        }
        n = epoll_wait(epfd, evs, 64, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT) {
                if (flush_request(c) < 0) {
                    errors++;
                    c->busy = 0;
                    reopen(c, epfd);
                    continue;
                }
                if (c->woff == c->wlen) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c, epfd);
        }
    }
    t1 = bench_now_s();
    qsort(lat, nlat, sizeof *lat, bench_cmp_double);
    printf("{\"requests\":%zu,\"errors\":%ld,\"seconds\":%.4f,\"rps\":%.1f,"
           "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
           "\"max_us\":%.1f,\"reconnects\":%ld,\"bytes_in\":%lld}\n",
           nlat, errors, t1 - t0, (double)nlat / (t1 - t0), pct(0.50), pct(0.90), pct(0.99),
           pct(0.999), nlat ? lat[nlat - 1] : 0.0, reconnects, bytes_in);
    for (int i = 0; i < nconns; i++) {
        close(cs[i].fd);
        free(cs[i].wbuf);
        free(cs[i].rbuf);
    }
    free(cs);
    free(lat);
    close(epfd);
    return errors && !nlat ? 1 : 0;
}
