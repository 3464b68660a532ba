/*
 * http.h — the fieldsync CLI's HTTP/1.1 client for fieldsyncd's Unix
 * socket (libcurl, CURLOPT_UNIX_SOCKET_PATH).  Answers are bounded by
 * CLI_MAX_BODY; transport failures become one line with exit status
 * CLI_EXIT_UNREACHABLE ("cannot reach fieldsyncd at PATH: ...").
 */
#ifndef FIELDSYNC_CLI_HTTP_H
#define FIELDSYNC_CLI_HTTP_H

#include <signal.h>

#include <curl/curl.h>

#include "agent/cli/cli.h"

typedef struct cli_response {
    long status;
    fs_buf body; /* NUL-terminated */
} cli_response;

void cli_response_release(cli_response *r);

/* Called with each piece of a 200 answer's body; nonzero stops the transfer. */
typedef int (*cli_stream_fn)(void *ctx, const char *data, size_t len);

/* One request, driven by the caller (curl_multi) or by the functions below. */
typedef struct cli_transfer cli_transfer;

/*
 * Prepares `method path` to the daemon at socket, with a JSON body or NULL.
 * timeout_ms 0: no overall limit (sync --wait, watch).  NULL with err set
 * on failure.
 */
cli_transfer *cli_transfer_new(const char *socket, const char *method, const char *path,
                               const char *body, long timeout_ms, cli_error *err);
CURL *cli_transfer_easy(cli_transfer *t);

/* Streams a 200 answer's body to fn instead of keeping it; the transfer
 * also stops once *stop becomes nonzero (a signal handler sets it). */
void cli_transfer_stream(cli_transfer *t, cli_stream_fn fn, void *ctx,
                         volatile sig_atomic_t *stop);

/*
 * After curl ended the transfer with rc: 0 with resp filled (any HTTP
 * status; resp takes the body), 1 when fn or *stop ended it, -1 with err
 * set (CLI_EXIT_UNREACHABLE for transport failures).
 */
int cli_transfer_finish(cli_transfer *t, CURLcode rc, cli_response *resp, cli_error *err);
void cli_transfer_free(cli_transfer *t);

/*
 * From now on SIGINT and SIGTERM set cli_signal_caught (to the signal's
 * number) instead of ending the process, so that a command waiting on
 * the daemon can stop its transfer and say so.
 */
extern volatile sig_atomic_t cli_signal_caught;
void cli_signals_catch(void);
/* The shell's status for the signal caught: 130 (SIGINT), 143 (SIGTERM). */
int cli_exit_for_signal(void);

/* new + perform + finish + free. */
int cli_http_request(const char *socket, const char *method, const char *path,
                     const char *body, long timeout_ms, cli_response *resp, cli_error *err);

#endif /* FIELDSYNC_CLI_HTTP_H */
