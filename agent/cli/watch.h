/*
 * watch.h — `fieldsync watch`: follows the daemon's event stream and prints
 * one line per event (watch.c).
 */
#ifndef FIELDSYNC_CLI_WATCH_H
#define FIELDSYNC_CLI_WATCH_H

#include <stdio.h>

#include "agent/cli/output.h"

/* Follows the event stream at path, one line per event through o, until
 * SIGINT/SIGTERM (exit 0) or the stream ends; returns the exit status. */
int cli_watch(const char *socket, const char *path, const cli_output *o, FILE *out,
              cli_error *err);

#endif /* FIELDSYNC_CLI_WATCH_H */
