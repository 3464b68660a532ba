/*
 * cli.h — the fieldsync command-line client: how a command line becomes a
 * plan (one request to fieldsyncd and how to show its answer), and the
 * small helpers the CLI files share.  The commands themselves are data
 * (cli_group / cli_sub / cli_opt tables, one file per group); one generic
 * parser turns argv into a cli_plan, and cli_execute() runs it.  Nothing
 * here talks to the network; see http.h.  Output goes through the
 * table of functions in output.h, chosen once.
 */
#ifndef FIELDSYNC_CLI_H
#define FIELDSYNC_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "agent/routes.h"
#include "store/util.h"

#ifndef FIELDSYNC_VERSION /* the Makefile defines it */
#define FIELDSYNC_VERSION "unknown"
#endif

/* Exit statuses scripts can rely on; documented in `fieldsync --help`. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_DAEMON = 1,      /* the daemon answered an error (or we failed) */
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_UNREACHABLE = 3, /* cannot reach the daemon */
    CLI_EXIT_SYNC = 4,        /* sync --wait: remote unreachable, auth, rejected;
                               * status: the agent needs attention */
};

/* Bounds on what the CLI accepts from the daemon. */
#define CLI_MAX_BODY ((size_t)64 * 1024 * 1024) /* one answer */
#define CLI_MAX_EVENT ((size_t)1024 * 1024)     /* one event of the stream */
#define CLI_TIMEOUT_MS 60000L                   /* a plain request */

/* An error to show as "fieldsync: <msg>" and the exit status it means. */
typedef struct cli_error {
    int code;
    char msg[1024];
    char json[2048]; /* the daemon's {"error": {...}} when it sent one, else "" */
} cli_error;

/* Fills err (when not NULL; err->json emptied) and returns -1, like git's
 * error(). */
int cli_fail(cli_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Appends s percent-escaped for use as one path segment or one query
 * value: everything but ALPHA DIGIT - . _ ~ is escaped, and a segment made
 * only of dots is escaped whole, so no id can change the route.
 */
int cli_url_escape(fs_buf *out, const char *s);

/*
 * Parses one --set argument into body[field]: `field=value` sets the
 * string value (a gate code 1234 stays "1234"); `field:=json` sets the
 * JSON value (httpie's syntax: 90, true, null, {...}).  A later setting
 * of a field replaces an earlier one.
 */
int cli_set_parse(cJSON *body, const char *arg, cli_error *err);

/*
 * A date as people type it: YYYY-MM-DD, today, tomorrow, yesterday, +7d,
 * -1d, +2w (local calendar days from now).  0 with out "YYYY-MM-DD", or -1.
 */
int cli_date_arg(const char *in, time_t now, char out[11]);
/*
 * A time for a field such as scheduled_date: ISO 8601 with its offset as
 * it is, or "DATE HH:MM" / "DATETHH:MM" in local time (DATE as for
 * cli_date_arg), converted to UTC "YYYY-MM-DDTHH:MM:SSZ".  0 or -1.
 */
int cli_time_arg(const char *in, time_t now, char *out, size_t len);

/* Sets obj[key] = val (taking ownership of val), replacing any old value. */
int cli_json_put(cJSON *obj, const char *key, cJSON *val);

/* obj's member at a dotted path ("customer.name"), case-sensitive; NULL. */
const cJSON *cli_json_path(const cJSON *obj, const char *path);

/* ---- How an answer is shown ---- */

typedef enum {
    CLI_VIEW_LIST,         /* data is an array of rows */
    CLI_VIEW_RECORD,       /* data is one record */
    CLI_VIEW_STATUS,       /* GET /agent/status */
    CLI_VIEW_SYNC_STARTED, /* POST /agent/sync */
    CLI_VIEW_SYNC_SUMMARY, /* POST /agent/sync?wait=true */
    CLI_VIEW_DONE,         /* 204 or an acknowledgement: one line */
    CLI_VIEW_CONFLICT,     /* one conflict picked out of the list */
} cli_view_kind;

/*
 * A table column: `key` is a dotted member path; "@key" shows the names of
 * that object's members ("status, priority").  On a terminal, cells wider
 * than `max` display columns are cut with an ellipsis (0: never), and the
 * table is fitted to the terminal's width; into a pipe nothing is cut.
 * A cell holding an ISO 8601 time is shown in local time.
 */
typedef struct cli_column {
    const char *header;
    const char *key;
    int max;
    int flags; /* CLI_COL_* */
} cli_column;

enum {
    CLI_COL_RIGHT = 1, /* right-aligned (counts) */
    CLI_COL_TEXT = 2,  /* free text: the widest gives way on a narrow terminal */
    CLI_COL_SORT = 4,  /* the table's rows in this column's order (missing last);
                        * without one, the daemon's order */
};

typedef struct cli_view {
    cli_view_kind kind;
    const char *plural;         /* "work orders": "no work orders" */
    const cli_column *columns;  /* LIST: terminated by a NULL header */
    const char *done;           /* DONE: "deleted work order" + " ID" */
} cli_view;

/* ---- Commands as data ---- */

typedef enum {
    CLI_ACT_REQUEST,   /* one request, one answer */
    CLI_ACT_SYNC_WAIT, /* POST /agent/sync?wait=true, progress on a tty */
    CLI_ACT_WATCH,     /* follow /agent/events */
    CLI_ACT_HELP,      /* print plan->help */
    CLI_ACT_VERSION,
    CLI_ACT_DOCTOR,    /* fieldsync doctor (cmd_doctor.c) */
} cli_action;

typedef enum {
    CLI_OPT_QUERY,     /* target=value in the query (flag: target=fixed) */
    CLI_OPT_INT_QUERY, /* the same, value a positive integer */
    CLI_OPT_FIELD,     /* body[target] = value, a string */
    CLI_OPT_SET,       /* --set field=value, --set field:=json */
    CLI_OPT_WAIT,      /* sync --wait */
    CLI_OPT_POS,       /* a flag standing for the positional: fixed (ack --all) */
    CLI_OPT_DATE_QUERY, /* a query date: YYYY-MM-DD, today, tomorrow, +7d, -1d */
    CLI_OPT_TIME_FIELD, /* body[target] = a time (cli_time_arg) */
    CLI_OPT_ALL,       /* --all: every page of a list */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name;            /* "status" for --status; NULL ends a table */
    const char *metavar;         /* "S"; NULL: a flag without a value */
    cli_opt_kind kind;
    const char *target;          /* query parameter or body field */
    const char *fixed;           /* a flag's query value */
    const char *const *choices;  /* allowed values (NULL-terminated) or NULL */
    int required;
    const char *help;
} cli_opt;

#define CLI_Q(n, meta, param, text) \
    {.name = n, .metavar = meta, .kind = CLI_OPT_QUERY, .target = param, .help = text}
#define CLI_F(n, meta, field, text) \
    {.name = n, .metavar = meta, .kind = CLI_OPT_FIELD, .target = field, .help = text}
#define CLI_F_REQUIRED(n, meta, field, text)                                         \
    {.name = n, .metavar = meta, .kind = CLI_OPT_FIELD, .target = field, .required = 1, \
     .help = text}
#define CLI_OPT_PAGING                                                                   \
    {.name = "page", .metavar = "N", .kind = CLI_OPT_INT_QUERY, .target = "page",        \
     .help = "page number, from 1"},                                                     \
    {.name = "per-page", .metavar = "N", .kind = CLI_OPT_INT_QUERY, .target = "per_page", \
     .help = "rows per page (the daemon allows up to 100)"},                     \
    CLI_OPT_ALL_PAGES
#define CLI_D(n, param, text) \
    {.name = n, .metavar = "DATE", .kind = CLI_OPT_DATE_QUERY, .target = param, .help = text}
#define CLI_T(n, field, text) \
    {.name = n, .metavar = "TIME", .kind = CLI_OPT_TIME_FIELD, .target = field, .help = text}
#define CLI_OPT_ALL_PAGES                                                        \
    {.name = "all", .kind = CLI_OPT_ALL,                                         \
     .help = "every page, not only the first (with --json: one document)"}
#define CLI_OPT_SETTER                                                           \
    {.name = "set", .metavar = "FIELD=VALUE", .kind = CLI_OPT_SET,               \
     .help = "set any field to the string VALUE; FIELD:=JSON sets a typed JSON value " \
             "(estimated_duration:=90, tags:='[\"a\"]', fax:=null); repeatable"}
#define CLI_OPT_END {.name = NULL}

/*
 * One command: `fieldsync GROUP NAME [POS] [options]`.  Tables name their
 * fields (like tmux's cmd_entry); a field left out is 0/NULL, so `action`
 * defaults to CLI_ACT_REQUEST.
 */
typedef struct cli_sub {
    const char *name;      /* "list"; NULL for a group that is one command */
    const char *summary;   /* one line, for help */
    routes_id route;       /* the endpoint it calls (agent/routes.h): */
    int method;            /* route and method; the path's "{}" is replaced
                            * by the escaped positional */
    const char *pos;       /* positional argument's name ("ID") or NULL */
    const char *subject;   /* what the positional names, for "X ID not found" */
    const cli_opt *opts;   /* ends with CLI_OPT_END */
    int body;              /* sends a JSON object (create, update, resolve) */
    int needs_fields;      /* update: at least one field to change */
    cli_action action;
    const cli_view *view;
    const char *notes;     /* extra help paragraph or NULL */
} cli_sub;

typedef struct cli_group {
    const char *name;        /* "work-orders" */
    const char *summary;     /* one line for `fieldsync --help` */
    const cli_sub *subs;
    size_t nsubs;
    const char *default_sub; /* run when no subcommand is named, or NULL */
} cli_group;

extern const cli_group cli_group_status, cli_group_sync, cli_group_watch;
extern const cli_group cli_group_work_orders, cli_group_customers;
extern const cli_group cli_group_contacts, cli_group_assets;
extern const cli_group cli_group_outbox, cli_group_conflicts;
extern const cli_group cli_group_doctor;

/* `fieldsync doctor` against the daemon at socket; returns the exit status. */
int cli_doctor(const char *socket, int json, FILE *out, cli_error *err);

/* Views shared by several groups. */
extern const cli_view cli_view_record, cli_view_sync_summary;

/* ---- The plan: what one command line asks for ---- */

typedef struct cli_plan {
    cli_action action;
    int json;               /* --json */
    int all;                /* --all: walk every page of a list */
    const char *socket;     /* --socket, or NULL (borrowed from argv) */
    const char *method;
    char *path;             /* owned: path and escaped query */
    cJSON *body;            /* owned, or NULL */
    const cli_view *view;
    const char *subject;    /* "work order", for "work order ID not found" */
    const char *id;         /* the positional argument (borrowed) or NULL */
    char *help;             /* owned: the text CLI_ACT_HELP prints */
} cli_plan;

/*
 * Parses a whole command line.  Returns 0 with *plan filled (release it
 * with cli_plan_release), or -1 with err set (code CLI_EXIT_USAGE for a
 * usage error) and nothing to release.
 */
int cli_plan_parse(int argc, char **argv, cli_plan *plan, cli_error *err);
void cli_plan_release(cli_plan *plan);

/* The top-level help (commands, options, exit statuses); caller frees. */
char *cli_help_top(void);

/* ---- Running a plan ---- */

/*
 * Where the daemon listens: --socket, else $FIELDSYNC_SOCKET, else `socket`
 * in the config file ($XDG_CONFIG_HOME/fieldsync/config or
 * ~/.config/fieldsync/config), else $XDG_RUNTIME_DIR/fieldsync.sock, else
 * /tmp/fieldsync-<uid>/fieldsync.sock; a leading "~/" is the home
 * directory, as for the daemon (agent/paths.h).  Returns 0 or -1 (err set).
 */
int cli_socket_path(const char *flag, char *buf, size_t len, cli_error *err);

/* The `socket` value of a config file: 1 found, 0 not there, -1 error. */
int cli_config_socket(const char *file, char *buf, size_t len, cli_error *err);

/* The config file's `max_age` (seconds), else the daemon's default. */
#define CLI_DEFAULT_MAX_AGE 86400L
long cli_config_max_age(void);

/*
 * What in a GET /agent/status answer needs a person: the remote refused
 * the API key, edits were rejected, lost edits are unacknowledged, no sync
 * succeeded within max_age.  Returns how many, with why (when not NULL)
 * listing them ("2 edits rejected by the remote (see 'fieldsync
 * outbox')"; "; " between).
 */
int cli_status_attention(const cJSON *status, int64_t now_ms, fs_buf *why);

/* Runs a parsed plan, printing to out; returns the exit status (err set
 * with the line to show when it is not 0). */
int cli_execute(const cli_plan *plan, FILE *out, cli_error *err);

/*
 * The error as one JSON document for --json: the daemon's own error object
 * when it sent one, else {"error": {"code": C, "message": M}} with C from
 * the exit status (usage, daemon_error, unreachable, needs_attention,
 * interrupted).  Caller frees; NULL on ENOMEM.
 */
char *cli_error_json(const cli_error *err);

/* 0 for a 2xx status, CLI_EXIT_DAEMON for anything else. */
int cli_exit_for_http(long status);

/*
 * Turns an error answer into one line in err (code CLI_EXIT_DAEMON): "work
 * order wo-9 not found" for a 404 about subject/id, else the daemon's
 * message with its field details ("validation failed: customer_id:
 * Customer not found").  Returns -1.
 */
int cli_daemon_error(long status, const char *body, const char *subject,
                     const char *id, cli_error *err);

/* After `status`: CLI_EXIT_SYNC (4) when it needs attention, else 0. */
int cli_status_outcome(const cJSON *status);

/* After `sync --wait`: 0, or CLI_EXIT_SYNC with err saying exactly why
 * (remote unreachable, auth error, rejected ops). */
int cli_sync_outcome(const cJSON *summary, cli_error *err);

#endif /* FIELDSYNC_CLI_H */
