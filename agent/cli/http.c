/*
 * http.c — requests to fieldsyncd over its Unix socket with libcurl.
 *
 * The URL's host is a placeholder ("localhost"): curl connects to the
 * socket instead.  Proxies from the environment are switched off (they
 * have no business with a local socket), curl is told to leave the path
 * as we escaped it, and no redirect is followed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/http.h"

#define CONNECT_TIMEOUT_MS 5000L

struct cli_transfer {
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *socket;               /* for messages */
    fs_buf body;                /* the answer, bounded */
    char errbuf[CURL_ERROR_SIZE];
    cli_stream_fn fn;           /* streaming: where a 200 body goes */
    void *ctx;
    volatile sig_atomic_t *stop;
    int stopped;                /* fn asked to stop */
};

volatile sig_atomic_t cli_signal_caught;

static void on_signal(int sig)
{
    cli_signal_caught = sig;
}

void cli_signals_catch(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_exit_for_signal(void)
{
    return 128 + (int)cli_signal_caught;
}

void cli_response_release(cli_response *r)
{
    fs_buf_release(&r->body);
    r->status = 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    cli_transfer *t = ud;
    size_t len = size * n;
    long code = 0;

    if (t->fn) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200) {
            if (t->fn(t->ctx, p, len)) {
                t->stopped = 1;
                return 0;
            }
            return len;
        }
    }
    return fs_buf_add(&t->body, p, len) < 0 ? 0 : len;
}

/* Called by curl at least once a second: lets a signal end a stream. */
static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    cli_transfer *t = ud;

    (void)dlt, (void)dln, (void)ult, (void)uln;
    return t->stop && *t->stop ? 1 : 0;
}

void cli_transfer_free(cli_transfer *t)
{
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->url);
    free(t->socket);
    fs_buf_release(&t->body);
    free(t);
}

static int add_header(cli_transfer *t, const char *h)
{
    struct curl_slist *l = curl_slist_append(t->headers, h);

    if (!l)
        return -1;
    t->headers = l;
    return 0;
}

/* Sets the method and body the way curl wants each. */
static CURLcode set_method(CURL *e, const char *method, const char *body)
{
    CURLcode rc = CURLE_OK;

    if (strcmp(method, "GET") == 0)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "POST") != 0)
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (!rc && strcmp(method, "DELETE") == 0 && !body)
        return rc;
    if (!rc)
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? strlen(body) : 0));
    if (!rc)
        rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ? body : "");
    return rc;
}

static CURLcode set_options(cli_transfer *t, const char *method, const char *body,
                            long timeout_ms)
{
    CURL *e = t->easy;
    CURLcode rc = CURLE_OK;

    rc |= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, t->socket);
    rc |= curl_easy_setopt(e, CURLOPT_URL, t->url);
    rc |= curl_easy_setopt(e, CURLOPT_PROXY, "");
    rc |= curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "fieldsync/" FIELDSYNC_VERSION);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    rc |= curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    rc |= curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
    rc |= curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CLI_MAX_BODY);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    rc |= set_method(e, method, body);
    return rc;
}

cli_transfer *cli_transfer_new(const char *socket, const char *method, const char *path,
                               const char *body, long timeout_ms, cli_error *err)
{
    cli_transfer *t = calloc(1, sizeof *t);
    size_t n = strlen("http://localhost") + strlen(path) + 1;

    if (!t) {
        cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
        return NULL;
    }
    fs_buf_init(&t->body, CLI_MAX_BODY);
    t->url = malloc(n);
    t->socket = strdup(socket);
    t->easy = curl_easy_init();
    if (!t->url || !t->socket || !t->easy || add_header(t, "Expect:") < 0 ||
        add_header(t, strcmp(path, "/agent/events") == 0 ? "Accept: text/event-stream"
                                                          : "Accept: application/json") < 0 ||
        (body && add_header(t, "Content-Type: application/json") < 0)) {
        cli_transfer_free(t);
        cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
        return NULL;
    }
    snprintf(t->url, n, "http://localhost%s", path);
    if (set_options(t, method, body, timeout_ms) != CURLE_OK) {
        cli_transfer_free(t);
        cli_fail(err, CLI_EXIT_DAEMON, "cannot set up a request with libcurl");
        return NULL;
    }
    return t;
}

CURL *cli_transfer_easy(cli_transfer *t)
{
    return t->easy;
}

void cli_transfer_stream(cli_transfer *t, cli_stream_fn fn, void *ctx,
                         volatile sig_atomic_t *stop)
{
    t->fn = fn;
    t->ctx = ctx;
    t->stop = stop;
}

/* The error line for a transfer curl could not complete. */
static int transport_error(cli_transfer *t, CURLcode rc, cli_error *err)
{
    long os_errno = 0;
    const char *why = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);

    if (rc == CURLE_WRITE_ERROR && fs_buf_error(&t->body) == FS_BUF_TOO_BIG)
        return cli_fail(err, CLI_EXIT_DAEMON, "fieldsyncd's answer is larger than %zu MiB",
                        CLI_MAX_BODY >> 20);
    if (rc == CURLE_FILESIZE_EXCEEDED)
        return cli_fail(err, CLI_EXIT_DAEMON, "fieldsyncd's answer is larger than %zu MiB",
                        CLI_MAX_BODY >> 20);
    if (rc == CURLE_WRITE_ERROR && fs_buf_error(&t->body) == FS_BUF_NOMEM)
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_COULDNT_CONNECT && os_errno) {
        int e = (int)os_errno;
        return cli_fail(err, CLI_EXIT_UNREACHABLE, "cannot reach fieldsyncd at %s: %s%s",
                        t->socket, strerror(e),
                        e == ENOENT || e == ECONNREFUSED ? " (is the daemon running?)" : "");
    }
    if (rc == CURLE_COULDNT_CONNECT)
        return cli_fail(err, CLI_EXIT_UNREACHABLE, "cannot reach fieldsyncd at %s: %s (is the "
                        "daemon running?)", t->socket, why);
    /* The daemon went away after it took the request (stopped, crashed):
     * one line that says so, not libcurl's wording. */
    if (rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_PARTIAL_FILE ||
        rc == CURLE_SEND_ERROR)
        return cli_fail(err, CLI_EXIT_UNREACHABLE, "fieldsyncd stopped (connection closed)");
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return cli_fail(err, CLI_EXIT_UNREACHABLE, "fieldsyncd at %s did not answer in time: %s",
                        t->socket, why);
    return cli_fail(err, CLI_EXIT_UNREACHABLE, "lost connection to fieldsyncd at %s: %s",
                    t->socket, why);
}

int cli_transfer_finish(cli_transfer *t, CURLcode rc, cli_response *resp, cli_error *err)
{
    if ((rc == CURLE_WRITE_ERROR && t->stopped) || (rc == CURLE_ABORTED_BY_CALLBACK && t->stop))
        return 1;
    if (rc != CURLE_OK)
        return transport_error(t, rc, err);
    resp->status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = t->body;
    fs_buf_init(&t->body, CLI_MAX_BODY);
    if (!resp->body.data) /* an empty answer still reads as "" */
        fs_buf_add(&resp->body, "", 0);
    return 0;
}

int cli_http_request(const char *socket, const char *method, const char *path,
                     const char *body, long timeout_ms, cli_response *resp, cli_error *err)
{
    cli_transfer *t = cli_transfer_new(socket, method, path, body, timeout_ms, err);
    int rc;

    if (!t)
        return -1;
    rc = cli_transfer_finish(t, curl_easy_perform(t->easy), resp, err);
    cli_transfer_free(t);
    return rc;
}
