/*
 * cmd_customers.c — `fieldsync customers ...` over /api/v1/customers.
 */
#include "agent/cli/cli.h"

static const cli_column columns[] = {
    {"ID", "id", 24, 0},
    {"NUMBER", "customer_number", 12, 0},
    {"NAME", "name", 30, CLI_COL_TEXT},
    {"STATUS", "status", 10, 0},
    {"EMAIL", "email", 30, CLI_COL_TEXT},
    {"PHONE", "phone", 18, 0},
    {"CITY", "address.city", 18, CLI_COL_TEXT},
    {"SYNC", "_sync.state", 8, 0},
    {NULL, NULL, 0, 0},
};

static const cli_view list_view = {CLI_VIEW_LIST, "customers", columns, NULL};
static const cli_view deleted_view = {CLI_VIEW_DONE, NULL, NULL, "deleted customer"};

static const cli_opt list_opts[] = {
    CLI_Q("search", "TEXT", "search", "name or customer number contains TEXT"),
    CLI_Q("status", "S", "status", "only this status (active, inactive, ...)"),
    CLI_Q("branch", "ID", "branch_id", "only this branch's customers"),
    CLI_D("created-after", "created_after",
          "created after DATE (YYYY-MM-DD, today, yesterday, -7d, ...)"),
    CLI_OPT_PAGING,
    CLI_OPT_END,
};

static const cli_opt no_opts[] = {CLI_OPT_END};

static const cli_opt create_opts[] = {
    CLI_F_REQUIRED("name", "NAME", "name", "the customer's name (required)"),
    CLI_F("email", "EMAIL", "email", "e-mail address"),
    CLI_F("phone", "PHONE", "phone", "phone number"),
    CLI_F("branch", "ID", "branch_id", "the branch"),
    CLI_OPT_SETTER,
    CLI_OPT_END,
};

static const cli_opt update_opts[] = {
    CLI_F("name", "NAME", "name", "the customer's name"),
    CLI_F("status", "S", "status", "new status"),
    CLI_F("email", "EMAIL", "email", "e-mail address"),
    CLI_F("phone", "PHONE", "phone", "phone number"),
    CLI_OPT_SETTER,
    CLI_OPT_END,
};

static const char edit_notes[] =
    "The edit is applied to the local copy at once and queued in the outbox.\n"
    "--set FIELD=VALUE sends VALUE as a string (--set tax_id=1234 sends \"1234\");\n"
    "--set FIELD:=JSON sends a typed JSON value, objects too:\n"
    "  --set 'address:={\"street\":\"1 Main St\",\"city\":\"Chicago\"}'\n"
    "  --set fax:=null   (clears the field)";

static const cli_sub subs[] = {
    {.name = "list", .summary = "list customers, filtered and paged", .route = ROUTE_CUSTOMERS,
     .method = ROUTE_GET, .opts = list_opts, .view = &list_view},
    {.name = "show", .summary = "show one customer", .route = ROUTE_CUSTOMER,
     .method = ROUTE_GET, .pos = "ID", .subject = "customer", .opts = no_opts,
     .view = &cli_view_record},
    {.name = "create", .summary = "create a customer", .route = ROUTE_CUSTOMERS,
     .method = ROUTE_POST, .opts = create_opts, .body = 1, .view = &cli_view_record,
     .notes = edit_notes},
    {.name = "update", .summary = "change fields of a customer", .route = ROUTE_CUSTOMER,
     .method = ROUTE_PUT, .pos = "ID", .subject = "customer", .opts = update_opts, .body = 1,
     .needs_fields = 1, .view = &cli_view_record, .notes = edit_notes},
    {.name = "delete", .summary = "delete a customer (refused while it has active work orders)",
     .route = ROUTE_CUSTOMER, .method = ROUTE_DELETE, .pos = "ID", .subject = "customer",
     .opts = no_opts, .view = &deleted_view},
};

const cli_group cli_group_customers = {
    .name = "customers",
    .summary = "list, show, create, update or delete customers",
    .subs = subs,
    .nsubs = sizeof subs / sizeof subs[0],
};
