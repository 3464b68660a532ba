/*
 * sync.h — `sync --wait`, a command that is more than one request and one
 * answer: the wait request with a progress line on a terminal (sync.c).
 */
#ifndef FIELDSYNC_CLI_SYNC_H
#define FIELDSYNC_CLI_SYNC_H

#include <stdio.h>

#include "agent/cli/http.h"

/*
 * POST path (…/agent/sync?wait=true) and wait for its answer.  With
 * progress, polls GET /agent/status meanwhile and redraws one line of out
 * ("pull: 27% (pulled 120 of 450 records, pushed 3 of 5 ops), 80/s, about
 * 4 s left"), erased before returning.  Returns as cli_http_request();
 * SIGINT or SIGTERM ends the wait (not the daemon's sync) with -1 and
 * err's code 130 or 143.
 */
int cli_sync_wait(const char *socket, const char *path, int progress, FILE *out,
                  cli_response *resp, cli_error *err);

#endif /* FIELDSYNC_CLI_SYNC_H */
