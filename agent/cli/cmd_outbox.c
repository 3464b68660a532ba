/*
 * cli_cmd_outbox.c — `fieldsync outbox` and `fieldsync conflicts`: the
 * queued edits and the conflicts the daemon recorded (/agent/...).
 */
#include "agent/cli/cli.h"

static const cli_column outbox_columns[] = {
    {"OP", "op_id", 36, 0},
    {"ENTITY", "entity", 12, 0},
    {"RECORD", "record_id", 24, 0},
    {"KIND", "kind", 6, 0},
    {"STATE", "state", 9, 0},
    {"ATTEMPTS", "attempts", 8, 1},
    {"NEXT ATTEMPT", "next_attempt_at", 20, 0},
    {"ERROR", "last_error", 40, 0},
    {NULL, NULL, 0, 0},
};

static const cli_column conflict_columns[] = {
    {"ID", "id", 36, 0},
    {"ENTITY", "entity", 12, 0},
    {"RECORD", "record_id", 24, 0},
    {"FIELDS", "@local", 24, 0},
    {"RULE", "rule", 16, 0},
    {"OUTCOME", "outcome", 14, 0},
    {"STATE", "state", 8, 0},
    {"CREATED", "created_at", 20, 0},
    {NULL, NULL, 0, 0},
};

static const cli_view outbox_view = {CLI_VIEW_LIST, "queued edits", outbox_columns, NULL};
static const cli_view retry_view = {CLI_VIEW_DONE, NULL, NULL, "retrying outbox op"};
static const cli_view discard_view = {CLI_VIEW_DONE, NULL, NULL, "discarded outbox op"};
static const cli_view conflicts_view = {CLI_VIEW_LIST, "conflicts", conflict_columns, NULL};
static const cli_view conflict_view = {CLI_VIEW_CONFLICT, NULL, NULL, NULL};
static const cli_view resolved_view = {CLI_VIEW_DONE, NULL, NULL, "resolved conflict"};

static const cli_opt no_opts[] = {CLI_OPT_END};

static const cli_sub outbox_subs[] = {
    {"list", "list queued edits with their state, attempts and last error", "GET",
     "/agent/outbox", NULL, NULL, no_opts, 0, 0, CLI_ACT_REQUEST, &outbox_view, NULL},
    {"retry", "send a rejected edit again (after fixing what the remote refused)", "POST",
     "/agent/outbox/{}/retry", "OP", "outbox op", no_opts, 0, 0, CLI_ACT_REQUEST, &retry_view,
     NULL},
    {"discard", "drop a queued edit for good", "DELETE", "/agent/outbox/{}", "OP", "outbox op",
     no_opts, 0, 0, CLI_ACT_REQUEST, &discard_view, NULL},
};

const cli_group cli_group_outbox = {
    "outbox", "queued edits: list, retry or discard", outbox_subs,
    sizeof outbox_subs / sizeof outbox_subs[0], "list",
};

static const char *const keep_choices[] = {"local", "remote", NULL};

static const cli_opt list_opts[] = {
    {"open", NULL, CLI_OPT_QUERY, "state", "open", NULL, 0, "only conflicts still open"},
    CLI_OPT_END,
};

static const cli_opt resolve_opts[] = {
    {"keep", "local|remote", CLI_OPT_FIELD, "keep", NULL, keep_choices, 1,
     "which side wins: your edit (local) or the remote's value (remote)"},
    CLI_OPT_END,
};

static const cli_sub conflict_subs[] = {
    {"list", "list recorded conflicts and how they were settled", "GET", "/agent/conflicts",
     NULL, NULL, list_opts, 0, 0, CLI_ACT_REQUEST, &conflicts_view, NULL},
    {"show", "show one conflict's base, local and remote values side by side", "GET",
     "/agent/conflicts", "ID", "conflict", no_opts, 0, 0, CLI_ACT_REQUEST, &conflict_view,
     NULL},
    {"resolve", "settle an open conflict", "POST", "/agent/conflicts/{}/resolve", "ID",
     "conflict", resolve_opts, 1, 0, CLI_ACT_REQUEST, &resolved_view, NULL},
};

const cli_group cli_group_conflicts = {
    "conflicts", "conflicts between your edits and the remote's: list, show, resolve",
    conflict_subs, sizeof conflict_subs / sizeof conflict_subs[0], "list",
};
