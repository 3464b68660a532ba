/*
 * watch.c — `fieldsync watch`: follows GET /agent/events and prints one
 * line per event, flushed at once so a pipe sees it, until interrupted.
 */
#include <signal.h>
#include <string.h>

#include "agent/cli/http.h"
#include "agent/cli/output.h"
#include "agent/cli/sse.h"
#include "agent/cli/watch.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct {
    const cli_output *o;
    FILE *out;
    cli_sse sse;
    int bad_stream; /* an event over the bound */
    int write_failed;
} watch_ctx;

static int on_event(void *ud, const char *type, const char *data)
{
    watch_ctx *w = ud;

    w->o->event(w->out, type, data);
    if (fflush(w->out) != 0 || ferror(w->out)) {
        w->write_failed = 1; /* e.g. `fieldsync watch | head -1` closed the pipe */
        return 1;
    }
    return 0;
}

static int on_bytes(void *ud, const char *data, size_t len)
{
    watch_ctx *w = ud;
    int rc = cli_sse_feed(&w->sse, data, len);

    if (rc < 0)
        w->bad_stream = 1;
    return rc != 0;
}

int cli_watch(const char *socket, const char *path, const cli_output *o, FILE *out,
              cli_error *err)
{
    struct sigaction sa;
    watch_ctx w = {.o = o, .out = out};
    cli_response resp = {0};
    cli_transfer *t;
    int rc;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    t = cli_transfer_new(socket, "GET", path, NULL, 0, err);
    if (!t)
        return err->code;
    cli_sse_init(&w.sse, on_event, &w);
    cli_transfer_stream(t, on_bytes, &w, &interrupted);
    rc = cli_transfer_finish(t, curl_easy_perform(cli_transfer_easy(t)), &resp, err);
    cli_transfer_free(t);
    cli_sse_release(&w.sse);
    if (rc < 0) {
        rc = err->code;
    } else if (rc > 0 && w.bad_stream) {
        cli_fail(err, CLI_EXIT_DAEMON, "fieldsyncd sent an event larger than %zu KiB",
                 CLI_MAX_EVENT >> 10);
        rc = CLI_EXIT_DAEMON;
    } else if (rc > 0) {
        rc = CLI_EXIT_OK; /* interrupted, or nobody reads our output any more */
    } else if (resp.status != 200) {
        cli_daemon_error(resp.status, fs_buf_str(&resp.body), NULL, NULL, err);
        rc = CLI_EXIT_DAEMON;
    } else {
        cli_fail(err, CLI_EXIT_UNREACHABLE, "fieldsyncd at %s closed the event stream", socket);
        rc = CLI_EXIT_UNREACHABLE;
    }
    cli_response_release(&resp);
    return rc;
}
