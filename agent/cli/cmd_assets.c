/*
 * cmd_assets.c — `fieldsync assets list`: a customer's assets
 * (/api/v1/customers/{id}/assets), read-only in the local API.
 */
#include "agent/cli/cli.h"

static const cli_column asset_columns[] = {
    {"ID", "id", 24, 0},
    {"NAME", "name", 28, CLI_COL_TEXT},
    {"TYPE", "asset_type", 16, 0},
    {"MANUFACTURER", "manufacturer", 18, 0},
    {"MODEL", "model", 18, CLI_COL_TEXT},
    {"SERIAL", "serial_number", 20, 0},
    {"SYNC", "_sync.state", 8, 0},
    {NULL, NULL, 0, 0},
};

static const cli_view assets_view = {CLI_VIEW_LIST, "assets", asset_columns, NULL};

static const cli_opt list_opts[] = {CLI_OPT_PAGING, CLI_OPT_END};

static const cli_sub asset_subs[] = {
    {.name = "list", .summary = "list a customer's assets (read-only here)",
     .route = ROUTE_CUSTOMER_ASSETS, .method = ROUTE_GET, .pos = "CUSTOMER_ID",
     .subject = "customer", .opts = list_opts, .view = &assets_view},
};

const cli_group cli_group_assets = {
    .name = "assets",
    .summary = "list a customer's assets",
    .subs = asset_subs,
    .nsubs = sizeof asset_subs / sizeof asset_subs[0],
};
