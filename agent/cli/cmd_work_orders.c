/*
 * cmd_work_orders.c — `fieldsync work-orders ...`: the work orders of
 * the replica, over /api/v1/work-orders.  Pure data: parse.c reads it.
 */
#include "agent/cli/cli.h"

static const cli_column columns[] = {
    {"ID", "id", 24, 0},
    {"NUMBER", "work_order_number", 16, 0},
    {"STATUS", "status", 12, 0},
    {"PRIORITY", "priority", 8, 0},
    /* A technician reads the day in order: by scheduled time, not by id. */
    {"SCHEDULED", "scheduled_date", 20, CLI_COL_SORT},
    {"CUSTOMER", "customer.name", 28, CLI_COL_TEXT},
    {"SYNC", "_sync.state", 8, 0},
    {NULL, NULL, 0, 0},
};

static const cli_view list_view = {CLI_VIEW_LIST, "work orders", columns, NULL};
static const cli_view deleted_view = {CLI_VIEW_DONE, NULL, NULL, "deleted work order"};

static const cli_opt list_opts[] = {
    CLI_Q("status", "S", "status",
          "only this status: draft, open, assigned, in_progress, on_hold, completed, cancelled"),
    CLI_Q("customer", "ID", "customer_id", "only this customer's work orders"),
    CLI_Q("technician", "ID", "technician_id", "only those assigned to this technician"),
    CLI_D("from", "from_date",
          "scheduled on or after DATE (YYYY-MM-DD, today, tomorrow, +7d, -1d)"),
    CLI_D("to", "to_date", "scheduled on or before DATE (same forms as --from)"),
    CLI_OPT_PAGING,
    CLI_OPT_END,
};

static const cli_opt no_opts[] = {CLI_OPT_END};

#define SCHEDULED_HELP                                                              \
    "when: 2024-02-01T10:00:00Z, or local time as '2024-02-01 10:00' or 'tomorrow " \
    "09:30' (a date as for --from, then HH:MM)"

static const cli_opt create_opts[] = {
    CLI_F_REQUIRED("customer", "ID", "customer_id", "the customer (required)"),
    CLI_F("description", "TEXT", "description", "what is to be done"),
    CLI_F("notes", "TEXT", "notes", "notes for the technician (a gate code, ...)"),
    CLI_F("priority", "P", "priority", "low, medium, high, ..."),
    CLI_T("scheduled", "scheduled_date", SCHEDULED_HELP),
    CLI_F("technician", "ID", "technician_id", "assign to this technician"),
    CLI_F("contact", "ID", "contact_id", "the customer's contact"),
    CLI_OPT_SETTER,
    CLI_OPT_END,
};

static const cli_opt update_opts[] = {
    CLI_F("status", "S", "status", "new status (open, assigned, in_progress, on_hold, completed, ...)"),
    CLI_F("description", "TEXT", "description", "what is to be done"),
    CLI_F("notes", "TEXT", "notes", "notes for the technician (a gate code, ...)"),
    CLI_F("priority", "P", "priority", "low, medium, high, ..."),
    CLI_T("scheduled", "scheduled_date", SCHEDULED_HELP),
    CLI_F("technician", "ID", "technician_id", "assign to this technician"),
    CLI_OPT_SETTER,
    CLI_OPT_END,
};

static const char create_notes[] =
    "The work order is created in the local copy at once (with a local id) and\n"
    "queued in the outbox; fieldsyncd sends it to the remote when it can.\n"
    "Example:\n"
    "  fieldsync work-orders create --customer cust-001 --priority high \\\n"
    "      --description 'Repair air conditioning unit' --scheduled 'tomorrow 09:00' \\\n"
    "      --set estimated_duration:=90";

static const char update_notes[] =
    "The edit is applied to the local copy at once and queued in the outbox;\n"
    "fieldsyncd sends it to the remote when it can ('fieldsync outbox' shows it).\n"
    "Examples:\n"
    "  fieldsync work-orders update wo-12345 --status in_progress\n"
    "  fieldsync work-orders update wo-12345 --notes 1234 --priority high\n"
    "  fieldsync work-orders update wo-12345 --set estimated_duration:=90\n"
    "--set FIELD=VALUE sends VALUE as a string; --set FIELD:=JSON a typed value.";

static const cli_sub subs[] = {
    {.name = "list", .summary = "list work orders, filtered and paged",
     .route = ROUTE_WORK_ORDERS, .method = ROUTE_GET, .opts = list_opts, .view = &list_view},
    {.name = "show", .summary = "show one work order", .route = ROUTE_WORK_ORDER,
     .method = ROUTE_GET, .pos = "ID", .subject = "work order", .opts = no_opts,
     .view = &cli_view_record},
    {.name = "create", .summary = "create a work order", .route = ROUTE_WORK_ORDERS,
     .method = ROUTE_POST, .opts = create_opts, .body = 1, .view = &cli_view_record,
     .notes = create_notes},
    {.name = "update", .summary = "change fields of a work order", .route = ROUTE_WORK_ORDER,
     .method = ROUTE_PUT, .pos = "ID", .subject = "work order", .opts = update_opts, .body = 1,
     .needs_fields = 1, .view = &cli_view_record, .notes = update_notes},
    {.name = "delete", .summary = "delete a work order", .route = ROUTE_WORK_ORDER,
     .method = ROUTE_DELETE, .pos = "ID", .subject = "work order", .opts = no_opts,
     .view = &deleted_view},
};

const cli_group cli_group_work_orders = {
    .name = "work-orders",
    .summary = "list, show, create, update or delete work orders",
    .subs = subs,
    .nsubs = sizeof subs / sizeof subs[0],
};
