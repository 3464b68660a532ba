/*
 * cmd_conflicts.c — `fieldsync conflicts`: the conflicts the daemon
 * recorded between local edits and the remote's (/agent/conflicts).
 */
#include "agent/cli/cli.h"

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

static const cli_view conflicts_view = {CLI_VIEW_LIST, "conflicts", conflict_columns, NULL};
static const cli_view conflict_view = {CLI_VIEW_CONFLICT, NULL, NULL, NULL};
static const cli_view resolved_view = {CLI_VIEW_DONE, NULL, NULL, "resolved conflict"};
static const cli_view acked_view = {CLI_VIEW_DONE, NULL, NULL, "acknowledged conflict"};

static const cli_opt no_opts[] = {CLI_OPT_END};

static const char *const keep_choices[] = {"local", "remote", NULL};

static const cli_opt list_opts[] = {
    {.name = "open", .kind = CLI_OPT_QUERY, .target = "state", .fixed = "open",
     .help = "only conflicts still open"},
    CLI_OPT_END,
};

static const cli_opt resolve_opts[] = {
    {.name = "keep", .metavar = "local|remote", .kind = CLI_OPT_FIELD, .target = "keep",
     .choices = keep_choices, .required = 1,
     .help = "which side wins: your edit (local) or the remote's value (remote)"},
    CLI_OPT_END,
};

static const cli_opt ack_opts[] = {
    {.name = "all", .kind = CLI_OPT_POS, .fixed = "all",
     .help = "every conflict that overwrote a local edit"},
    CLI_OPT_END,
};

static const cli_sub conflict_subs[] = {
    {.name = "list", .summary = "list recorded conflicts and how they were settled",
     .route = ROUTE_AGENT_CONFLICTS, .method = ROUTE_GET, .opts = list_opts,
     .view = &conflicts_view},
    {.name = "show",
     .summary = "show one conflict's base, local and remote values side by side",
     .route = ROUTE_AGENT_CONFLICTS, .method = ROUTE_GET, .pos = "ID", .subject = "conflict",
     .opts = no_opts, .view = &conflict_view},
    {.name = "resolve", .summary = "settle an open conflict",
     .route = ROUTE_AGENT_CONFLICT_RESOLVE, .method = ROUTE_POST, .pos = "ID",
     .subject = "conflict", .opts = resolve_opts, .body = 1, .view = &resolved_view},
    {.name = "ack", .summary = "acknowledge a conflict that overwrote a local edit (ID or --all)",
     .route = ROUTE_AGENT_CONFLICT_ACK, .method = ROUTE_POST, .pos = "ID",
     .subject = "conflict", .opts = ack_opts, .view = &acked_view,
     .notes = "A conflict whose outcome discarded a local value (the remote's won, or the\n"
              "record was deleted remotely) stays unacknowledged, and 'fieldsync status'\n"
              "leads with it, until it is acknowledged here after reading it with\n"
              "'fieldsync conflicts show ID'."},
};

const cli_group cli_group_conflicts = {
    .name = "conflicts",
    .summary = "conflicts between your edits and the remote's: list, show, resolve, ack",
    .subs = conflict_subs,
    .nsubs = sizeof conflict_subs / sizeof conflict_subs[0],
    .default_sub = "list",
};
