/*
 * cli_cmd_agent.c — the commands about the daemon itself: `status`, `sync`
 * and `watch`, and the views several groups share.
 */
#include "agent/cli/cli.h"

const cli_view cli_view_record = {CLI_VIEW_RECORD, NULL, NULL, NULL};
const cli_view cli_view_sync_summary = {CLI_VIEW_SYNC_SUMMARY, NULL, NULL, NULL};

static const cli_view status_view = {CLI_VIEW_STATUS, NULL, NULL, NULL};
static const cli_view started_view = {CLI_VIEW_SYNC_STARTED, NULL, NULL, NULL};

static const cli_opt no_opts[] = {CLI_OPT_END};

static const cli_opt sync_opts[] = {
    {"wait", NULL, CLI_OPT_WAIT, NULL, NULL, NULL, 0,
     "wait until the sync ends and print its summary (with progress on a terminal)"},
    CLI_OPT_END,
};

static const cli_sub status_sub[] = {
    {NULL, "show the daemon's state: online or not, last sync, queued edits, open "
           "conflicts, last error, what the local copy holds",
     "GET", "/agent/status", NULL, NULL, no_opts, 0, 0, CLI_ACT_REQUEST, &status_view, NULL},
};

static const cli_sub sync_sub[] = {
    {NULL, "ask the daemon to sync now: pull the remote's changes and push queued edits",
     "POST", "/agent/sync", NULL, NULL, sync_opts, 0, 0, CLI_ACT_REQUEST, &started_view,
     "Without --wait the sync runs in the background.  With --wait, fieldsync\n"
     "prints the sync's summary, and exits with status 4 when the sync ended but\n"
     "the remote was unreachable, refused the API key, or rejected queued edits\n"
     "('fieldsync outbox' shows them)."},
};

static const cli_sub watch_sub[] = {
    {NULL, "print the daemon's events as they happen, one line each, until interrupted",
     "GET", "/agent/events", NULL, NULL, no_opts, 0, 0, CLI_ACT_WATCH, NULL,
     "Events: record_changed, sync_started, sync_finished, conflict.\n"
     "Each line: TIME TYPE field=value ...; with --json, one JSON object per line:\n"
     "  {\"event\":\"record_changed\",\"data\":{...}}"},
};

const cli_group cli_group_status = {"status", "show the daemon's sync state", status_sub, 1,
                                    NULL};
const cli_group cli_group_sync = {"sync", "sync now (--wait: until done, with a summary)",
                                  sync_sub, 1, NULL};
const cli_group cli_group_watch = {"watch", "follow the daemon's events", watch_sub, 1, NULL};
