/*
 * help.c — help for every command, made from the same tables that
 * drive parsing, so an option cannot exist without being documented.
 */
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/help.h"

#define WIDTH 79   /* wrap help text before this column */
#define OPT_COL 24 /* where option descriptions start */

const cli_group *const cli_groups[] = {
    &cli_group_status,  &cli_group_sync,   &cli_group_work_orders,
    &cli_group_customers, &cli_group_contacts, &cli_group_assets,
    &cli_group_outbox,  &cli_group_conflicts, &cli_group_watch, &cli_group_doctor,
};
const size_t cli_ngroups = sizeof cli_groups / sizeof cli_groups[0];

const cli_group *cli_group_find(const char *name)
{
    for (size_t i = 0; i < cli_ngroups; i++)
        if (strcmp(cli_groups[i]->name, name) == 0)
            return cli_groups[i];
    return NULL;
}

static void pad(fs_buf *b, size_t n)
{
    while (n--)
        fs_buf_add(b, " ", 1);
}

/* Appends text from column col, wrapped, continuing at column indent. */
static void add_wrapped(fs_buf *b, const char *text, size_t col, size_t indent)
{
    const char *p = text;
    int first = 1;

    while (*p) {
        size_t w = strcspn(p, " ");

        if (!first && col + 1 + w > WIDTH) {
            fs_buf_add(b, "\n", 1);
            pad(b, indent);
            col = indent;
        } else if (!first) {
            fs_buf_add(b, " ", 1);
            col++;
        }
        fs_buf_add(b, p, w);
        col += w;
        first = 0;
        p += w;
        while (*p == ' ')
            p++;
    }
    fs_buf_add(b, "\n", 1);
}

/* "  --name META" then the help at OPT_COL (next line when too long). */
static void add_option(fs_buf *b, const char *name, const char *meta, const char *help)
{
    size_t start = b->len, col;

    fs_buf_addf(b, "  %s%s%s", name, meta ? " " : "", meta ? meta : "");
    col = b->len - start;
    if (col + 2 > OPT_COL) {
        fs_buf_add(b, "\n", 1);
        col = 0;
    }
    pad(b, OPT_COL - col);
    add_wrapped(b, help, OPT_COL, OPT_COL);
}

static char *finish(fs_buf *b)
{
    return fs_buf_take(b); /* NULL (and b released) if an append failed */
}

char *cli_help_top(void)
{
    fs_buf b;

    fs_buf_init(&b, 64 * 1024);
    fs_buf_adds(&b,
        "usage: fieldsync [--socket PATH] [--json] COMMAND [ARGS...]\n\n"
        "fieldsync talks to fieldsyncd, the daemon that keeps an offline copy of your\n"
        "work orders, customers and contacts and syncs your edits when it can.\n\n"
        "Commands:\n");
    for (size_t i = 0; i < cli_ngroups; i++) {
        fs_buf_addf(&b, "  %-13s ", cli_groups[i]->name);
        add_wrapped(&b, cli_groups[i]->summary, 16, 16);
    }
    fs_buf_adds(&b, "  help          help on a command: fieldsync help work-orders list\n\n"
                     "Options (before or after the command):\n");
    add_option(&b, "--socket", "PATH",
               "the daemon's socket; by default $FIELDSYNC_SOCKET, else 'socket = PATH' in "
               "$XDG_CONFIG_HOME/fieldsync/config (~/.config/fieldsync/config), else "
               "$XDG_RUNTIME_DIR/fieldsync.sock, else /tmp/fieldsync-UID/fieldsync.sock");
    add_option(&b, "--json", NULL,
               "print the daemon's JSON (the \"data\" of its answer; for a list \"data\" and "
               "\"meta\") instead of tables, times in ISO 8601 UTC; errors go to stderr as "
               "one JSON object {\"error\": {...}}");
    add_option(&b, "-h, --help", NULL, "show help; 'fieldsync COMMAND --help' for a command");
    add_option(&b, "-V, --version", NULL, "print the version");
    fs_buf_adds(&b,
        "\nExit status:\n"
        "  0  success\n"
        "  1  the daemon answered an error (not found, invalid, conflict, ...)\n"
        "  2  usage error\n"
        "  3  cannot reach the daemon\n"
        "  4  'sync --wait' finished, but the remote was unreachable, refused the API\n"
        "     key (auth error), or rejected queued edits, or the daemon stopped and\n"
        "     cancelled it; 'status': the agent needs attention (auth error, rejected\n"
        "     edits, unacknowledged lost edits, no successful sync within max_age)\n"
        "  130, 143  interrupted (Ctrl-C, SIGTERM)\n"
        "\n"
        "On a terminal, times are local (TZ) with \"5 min ago\" / \"in 2 h\", tables fit\n"
        "its width (COLUMNS), and what needs attention is in colour (not under\n"
        "NO_COLOR).  Into a pipe, nothing is cut and there are no escape codes.\n");
    return finish(&b);
}

/* "list", "show ID", "create --customer ID": a command as in a usage line. */
static void add_synopsis(fs_buf *b, const cli_sub *s)
{
    int first = 1;

    if (s->name) {
        fs_buf_adds(b, s->name);
        first = 0;
    }
    if (s->pos) {
        fs_buf_addf(b, "%s%s", first ? "" : " ", s->pos);
        first = 0;
    }
    for (size_t i = 0; s->opts[i].name; i++) {
        if (!s->opts[i].required)
            continue;
        fs_buf_addf(b, "%s--%s %s", first ? "" : " ", s->opts[i].name,
                     s->opts[i].metavar ? s->opts[i].metavar : "");
        first = 0;
    }
}

char *cli_help_group(const cli_group *g)
{
    fs_buf b;

    fs_buf_init(&b, 64 * 1024);
    fs_buf_addf(&b, "usage: fieldsync %s COMMAND [ARGS...]\n\n%s\n\nCommands:\n", g->name,
                 g->summary);
    for (size_t i = 0; i < g->nsubs; i++) {
        size_t start = b.len, col;

        fs_buf_adds(&b, "  ");
        add_synopsis(&b, &g->subs[i]);
        col = b.len - start;
        if (col + 2 > 30) {
            fs_buf_add(&b, "\n", 1);
            col = 0;
        }
        pad(&b, 30 - col);
        add_wrapped(&b, g->subs[i].summary, 30, 30);
    }
    if (g->default_sub)
        fs_buf_addf(&b, "\nWith no command, '%s' runs.\n", g->default_sub);
    fs_buf_addf(&b, "\nRun 'fieldsync %s COMMAND --help' for a command's options.\n", g->name);
    return finish(&b);
}

char *cli_help_sub(const cli_group *g, const cli_sub *s)
{
    fs_buf b;

    fs_buf_init(&b, 64 * 1024);
    fs_buf_addf(&b, "usage: fieldsync %s ", g->name);
    add_synopsis(&b, s);
    fs_buf_addf(&b, "%s[OPTIONS]\n\n", b.data[b.len - 1] == ' ' ? "" : " ");
    add_wrapped(&b, s->summary, 0, 0);
    fs_buf_adds(&b, "\nOptions:\n");
    for (size_t i = 0; s->opts[i].name; i++) {
        char name[64];

        snprintf(name, sizeof name, "--%s", s->opts[i].name);
        add_option(&b, name, s->opts[i].metavar, s->opts[i].help);
    }
    add_option(&b, "--json", NULL, "print the daemon's JSON instead of a table");
    add_option(&b, "--socket", "PATH", "the daemon's socket (see 'fieldsync --help')");
    add_option(&b, "-h, --help", NULL, "show this help");
    if (s->notes) /* preformatted: examples keep their lines */
        fs_buf_addf(&b, "\n%s\n", s->notes);
    fs_buf_adds(&b, "\nExit status: 0 success, 1 the daemon answered an error, 2 usage error,\n"
                     "3 cannot reach the daemon");
    if (s->action == CLI_ACT_REQUEST && s->view && s->view->kind == CLI_VIEW_SYNC_STARTED)
        fs_buf_adds(&b, ", 4 'sync --wait' finished but the remote\nwas unreachable, refused "
                        "the API key or rejected queued edits, or it was\ncancelled; 130/143 "
                        "the wait was interrupted.\n");
    else if (s->view && s->view->kind == CLI_VIEW_STATUS)
        fs_buf_adds(&b, ", 4 the agent needs attention (auth error,\nrejected edits, "
                        "unacknowledged lost edits, no successful sync within max_age).\n");
    else if (s->action == CLI_ACT_WATCH)
        fs_buf_adds(&b, ", 130/143 interrupted (Ctrl-C, SIGTERM).\n");
    else
        fs_buf_adds(&b, ".\n");
    return finish(&b);
}
