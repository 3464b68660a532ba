/*
 * cmd_outbox.c — `fieldsync outbox`: the queued edits the daemon has not
 * yet pushed, or that the remote refused (/agent/outbox).
 */
#include "agent/cli/cli.h"

static const cli_column outbox_columns[] = {
    {"OP", "op_id", 36, 0},
    {"ENTITY", "entity", 12, 0},
    {"RECORD", "record_id", 24, 0},
    {"KIND", "kind", 6, 0},
    {"STATE", "state", 9, 0},
    {"ATTEMPTS", "attempts", 8, CLI_COL_RIGHT},
    {"NEXT ATTEMPT", "next_attempt_at", 20, 0},
    {"ERROR", "last_error", 40, CLI_COL_TEXT},
    {NULL, NULL, 0, 0},
};

static const cli_view outbox_view = {CLI_VIEW_LIST, "queued edits", outbox_columns, NULL};
static const cli_view retry_view = {CLI_VIEW_DONE, NULL, NULL, "retrying outbox op"};
static const cli_view discard_view = {CLI_VIEW_DONE, NULL, NULL, "discarded outbox op"};

static const cli_opt no_opts[] = {CLI_OPT_END};

static const cli_sub outbox_subs[] = {
    {.name = "list", .summary = "list queued edits with their state, attempts and last error",
     .route = ROUTE_AGENT_OUTBOX, .method = ROUTE_GET, .opts = no_opts, .view = &outbox_view},
    {.name = "retry",
     .summary = "send a rejected edit again (after fixing what the remote refused)",
     .route = ROUTE_AGENT_OUTBOX_RETRY, .method = ROUTE_POST, .pos = "OP",
     .subject = "outbox op", .opts = no_opts, .view = &retry_view},
    {.name = "discard", .summary = "drop a queued edit for good",
     .route = ROUTE_AGENT_OUTBOX_OP, .method = ROUTE_DELETE, .pos = "OP",
     .subject = "outbox op", .opts = no_opts, .view = &discard_view},
};

const cli_group cli_group_outbox = {
    .name = "outbox",
    .summary = "queued edits: list, retry or discard",
    .subs = outbox_subs,
    .nsubs = sizeof outbox_subs / sizeof outbox_subs[0],
    .default_sub = "list",
};
