/*
 * cli_cmd_contacts.c — `fieldsync contacts ...` and `fieldsync assets ...`:
 * what hangs off a customer (/api/v1/customers/{id}/contacts, /assets) and
 * single contacts (/api/v1/contacts/{id}).
 */
#include "agent/cli/cli.h"

static const cli_column contact_columns[] = {
    {"ID", "id", 24, 0},
    {"NAME", "name", 28, 0},
    {"TITLE", "title", 24, 0},
    {"EMAIL", "email", 30, 0},
    {"PHONE", "phone", 18, 0},
    {"PRIMARY", "is_primary", 7, 0},
    {"SYNC", "_sync.state", 8, 0},
    {NULL, NULL, 0, 0},
};

static const cli_column asset_columns[] = {
    {"ID", "id", 24, 0},
    {"NAME", "name", 28, 0},
    {"TYPE", "asset_type", 16, 0},
    {"MANUFACTURER", "manufacturer", 18, 0},
    {"MODEL", "model", 18, 0},
    {"SERIAL", "serial_number", 20, 0},
    {"SYNC", "_sync.state", 8, 0},
    {NULL, NULL, 0, 0},
};

static const cli_view contacts_view = {CLI_VIEW_LIST, "contacts", contact_columns, NULL};
static const cli_view assets_view = {CLI_VIEW_LIST, "assets", asset_columns, NULL};
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
    {"list", "list a customer's contacts", "GET", "/api/v1/customers/{}/contacts",
     "CUSTOMER_ID", "customer", list_opts, 0, 0, CLI_ACT_REQUEST, &contacts_view, NULL},
    {"show", "show one contact", "GET", "/api/v1/contacts/{}", "ID", "contact", no_opts, 0, 0,
     CLI_ACT_REQUEST, &cli_view_record, NULL},
    {"create", "add a contact to a customer", "POST", "/api/v1/customers/{}/contacts",
     "CUSTOMER_ID", "customer", create_opts, 1, 0, CLI_ACT_REQUEST, &cli_view_record,
     "Example: fieldsync contacts create cust-001 --name 'Jane Doe' --set is_primary=true"},
    {"update", "change fields of a contact", "PUT", "/api/v1/contacts/{}", "ID", "contact",
     update_opts, 1, 1, CLI_ACT_REQUEST, &cli_view_record, NULL},
    {"delete", "delete a contact", "DELETE", "/api/v1/contacts/{}", "ID", "contact", no_opts, 0,
     0, CLI_ACT_REQUEST, &deleted_view, NULL},
};

const cli_group cli_group_contacts = {
    "contacts", "list, show, create, update or delete a customer's contacts", contact_subs,
    sizeof contact_subs / sizeof contact_subs[0], NULL,
};

static const cli_sub asset_subs[] = {
    {"list", "list a customer's assets (read-only here)", "GET", "/api/v1/customers/{}/assets",
     "CUSTOMER_ID", "customer", list_opts, 0, 0, CLI_ACT_REQUEST, &assets_view, NULL},
};

const cli_group cli_group_assets = {
    "assets", "list a customer's assets", asset_subs, sizeof asset_subs / sizeof asset_subs[0],
    NULL,
};
