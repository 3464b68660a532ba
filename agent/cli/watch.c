/*
 * watch.c — `fieldsync watch`: follows GET /agent/events and prints one
 * line per event, flushed at once so a pipe sees it, until interrupted
 * (exit status 130 for Ctrl-C, 143 for SIGTERM, as a shell would say).
 */
#include <signal.h>
#include <string.h>

#include "agent/cli/http.h"
#include "agent/cli/output.h"
#include "agent/cli/sse.h"
#include "agent/cli/watch.h"

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
    watch_ctx w = {.o = o, .out = out};
    cli_response resp = {0};
    cli_transfer *t;
    int rc;

    cli_signals_catch();
    t = cli_transfer_new(socket, "GET", path, NULL, 0, err);
    if (!t)
        return err->code;
    cli_sse_init(&w.sse, on_event, &w);
    cli_transfer_stream(t, on_bytes, &w, &cli_signal_caught);
    rc = cli_transfer_finish(t, curl_easy_perform(cli_transfer_easy(t)), &resp, err);
    cli_transfer_free(t);
    cli_sse_release(&w.sse);
    if (rc < 0) {
        rc = err->code;
    } else if (rc > 0 && w.bad_stream) {
        cli_fail(err, CLI_EXIT_DAEMON, "fieldsyncd sent an event larger than %zu KiB",
                 CLI_MAX_EVENT >> 10);
        rc = CLI_EXIT_DAEMON;
    } else if (rc > 0 && cli_signal_caught) {
        rc = cli_exit_for_signal(); /* Ctrl-C: 130, as the shell reports it */
    } else if (rc > 0) {
        rc = CLI_EXIT_OK; /* nobody reads our output any more */
    } else if (resp.status != 200) {
        cli_daemon_error(resp.status, fs_buf_str(&resp.body), NULL, NULL, err);
        rc = CLI_EXIT_DAEMON;
    } else {
        cli_fail(err, CLI_EXIT_UNREACHABLE, "fieldsyncd stopped (connection closed)");
        rc = CLI_EXIT_UNREACHABLE;
    }
    cli_response_release(&resp);
    return rc;
}
