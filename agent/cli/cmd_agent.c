/*
 * cmd_agent.c — the commands about the daemon itself: `status`, `sync`
 * and `watch`, and the views several groups share.
 */
#include "agent/cli/cli.h"

const cli_view cli_view_record = {CLI_VIEW_RECORD, NULL, NULL, NULL};
const cli_view cli_view_sync_summary = {CLI_VIEW_SYNC_SUMMARY, NULL, NULL, NULL};

static const cli_view status_view = {CLI_VIEW_STATUS, NULL, NULL, NULL};
static const cli_view started_view = {CLI_VIEW_SYNC_STARTED, NULL, NULL, NULL};

static const cli_opt no_opts[] = {CLI_OPT_END};

static const cli_opt sync_opts[] = {
    {.name = "wait", .kind = CLI_OPT_WAIT,
     .help = "wait until the sync ends and print its summary (with progress on a terminal)"},
    CLI_OPT_END,
};

static const cli_sub status_sub[] = {
    {.summary = "show the daemon's state: online or not, last sync, queued edits, open "
              "conflicts, last error, what the local copy holds",
     .route = ROUTE_AGENT_STATUS, .method = ROUTE_GET, .opts = no_opts, .view = &status_view,
     .notes = "What needs a person comes first (ATTENTION ...), and the exit status is 4:\n"
              "the remote refused the API key, it rejected queued edits, an edit of yours\n"
              "lost a conflict and is not acknowledged yet, or no sync succeeded within\n"
              "max_age.  Otherwise 0, so monitoring can use it as 'systemctl is-active'."},
};

static const cli_sub sync_sub[] = {
    {.summary = "ask the daemon to sync now: pull the remote's changes and push queued edits",
     .route = ROUTE_AGENT_SYNC, .method = ROUTE_POST, .opts = sync_opts, .view = &started_view,
     .notes = "Without --wait the sync runs in the background.  With --wait, fieldsync\n"
              "prints the sync's summary, and exits with status 4 when the sync ended but\n"
              "the remote was unreachable, refused the API key, or rejected queued edits\n"
              "('fieldsync outbox' shows them)."},
};

static const cli_sub watch_sub[] = {
    {.summary = "print the daemon's events as they happen, one line each, until interrupted",
     .route = ROUTE_AGENT_EVENTS, .method = ROUTE_GET, .opts = no_opts, .action = CLI_ACT_WATCH,
     .notes = "Events: record_changed, sync_started, sync_finished, conflict.\n"
              "Each line: TIME TYPE field=value ...; with --json, one JSON object per line:\n"
              "  {\"event\":\"record_changed\",\"data\":{...}}"},
};

const cli_group cli_group_status = {
    .name = "status",
    .summary = "show the daemon's sync state",
    .subs = status_sub,
    .nsubs = 1,
};
const cli_group cli_group_sync = {
    .name = "sync",
    .summary = "sync now (--wait: until done, with a summary)",
    .subs = sync_sub,
    .nsubs = 1,
};
const cli_group cli_group_watch = {
    .name = "watch",
    .summary = "follow the daemon's events",
    .subs = watch_sub,
    .nsubs = 1,
};
