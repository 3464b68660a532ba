/*
 * cmd_contacts.c — `fieldsync contacts ...`: a customer's contacts
 * (/api/v1/customers/{id}/contacts) and single contacts
 * (/api/v1/contacts/{id}).
 */
#include "agent/cli/cli.h"

static const cli_column contact_columns[] = {
    {"ID", "id", 24, 0},
    {"NAME", "name", 28, CLI_COL_TEXT},
    {"TITLE", "title", 24, CLI_COL_TEXT},
    {"EMAIL", "email", 30, CLI_COL_TEXT},
    {"PHONE", "phone", 18, 0},
    {"PRIMARY", "is_primary", 7, 0},
    {"SYNC", "_sync.state", 8, 0},
    {NULL, NULL, 0, 0},
};

static const cli_view contacts_view = {CLI_VIEW_LIST, "contacts", contact_columns, NULL};
static const cli_view deleted_view = {CLI_VIEW_DONE, NULL, NULL, "deleted contact"};


static const cli_opt no_opts[] = {CLI_OPT_END};
static const cli_opt list_opts[] = {CLI_OPT_PAGING, CLI_OPT_END};

static const cli_opt create_opts[] = {
    CLI_F_REQUIRED("name", "NAME", "name", "the contact's name (required)"),
    CLI_F("title", "TITLE", "title", "job title"),
    CLI_F("email", "EMAIL", "email", "e-mail address"),
    CLI_F("phone", "PHONE", "phone", "phone number"),
    CLI_OPT_SETTER,
    CLI_OPT_END,
};

static const cli_opt update_opts[] = {
    CLI_F("name", "NAME", "name", "the contact's name"),
    CLI_F("title", "TITLE", "title", "job title"),
    CLI_F("email", "EMAIL", "email", "e-mail address"),
    CLI_F("phone", "PHONE", "phone", "phone number"),
    CLI_OPT_SETTER,
    CLI_OPT_END,
};

static const cli_sub contact_subs[] = {
    {.name = "list", .summary = "list a customer's contacts", .route = ROUTE_CUSTOMER_CONTACTS,
     .method = ROUTE_GET, .pos = "CUSTOMER_ID", .subject = "customer", .opts = list_opts,
     .view = &contacts_view},
    {.name = "show", .summary = "show one contact", .route = ROUTE_CONTACT, .method = ROUTE_GET,
     .pos = "ID", .subject = "contact", .opts = no_opts, .view = &cli_view_record},
    {.name = "create", .summary = "add a contact to a customer",
     .route = ROUTE_CUSTOMER_CONTACTS, .method = ROUTE_POST, .pos = "CUSTOMER_ID",
     .subject = "customer", .opts = create_opts, .body = 1, .view = &cli_view_record,
     .notes = "Example: fieldsync contacts create cust-001 --name 'Jane Doe' "
              "--set is_primary:=true"},
    {.name = "update", .summary = "change fields of a contact", .route = ROUTE_CONTACT,
     .method = ROUTE_PUT, .pos = "ID", .subject = "contact", .opts = update_opts, .body = 1,
     .needs_fields = 1, .view = &cli_view_record},
    {.name = "delete", .summary = "delete a contact", .route = ROUTE_CONTACT,
     .method = ROUTE_DELETE, .pos = "ID", .subject = "contact", .opts = no_opts,
     .view = &deleted_view},
};

const cli_group cli_group_contacts = {
    .name = "contacts",
    .summary = "list, show, create, update or delete a customer's contacts",
    .subs = contact_subs,
    .nsubs = sizeof contact_subs / sizeof contact_subs[0],
};
