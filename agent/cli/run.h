/*
 * cli_run.h — the two commands that are more than one request and one
 * answer: `sync --wait` (with a progress line on a terminal) and `watch`.
 */
#ifndef FIELDSYNC_CLI_RUN_H
#define FIELDSYNC_CLI_RUN_H

#include <stdio.h>

#include "agent/cli/http.h"
#include "agent/cli/output.h"

/*
 * POST path (…/agent/sync?wait=true) and wait for its answer.  With
 * progress, polls GET /agent/status meanwhile and redraws one line of out
 * ("pull: pulled 120 of 450 records, pushed 3 of 5 ops"), erased before
 * returning.  Returns as cli_http_request().
 */
int cli_sync_wait(const char *socket, const char *path, int progress, FILE *out,
                  cli_response *resp, cli_error *err);

/* Follows the event stream at path, one line per event through o, until
 * SIGINT/SIGTERM (exit 0) or the stream ends; returns the exit status. */
int cli_watch(const char *socket, const char *path, const cli_output *o, FILE *out,
              cli_error *err);

#endif /* FIELDSYNC_CLI_RUN_H */
