/*
 * parse.c — turns `fieldsync [global options] GROUP [SUB] [args]` into
 * a cli_plan, driven by the command tables (cli_cmd_*.c).  Every command
 * gets the same treatment: --help anywhere, --json and --socket anywhere,
 * "--opt value" or "--opt=value", "--" before a positional that starts
 * with a dash, usage errors as one line with exit status 2.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli/cli.h"
#include "agent/cli/help.h"

#define MAX_OPTS 32 /* options in one command's table */

/* What parse_sub collects before building the plan. */
typedef struct {
    const char *values[MAX_OPTS]; /* query options: the last value given */
    int seen[MAX_OPTS];
    char dates[MAX_OPTS][11];     /* date options, as YYYY-MM-DD */
    const char *pos;              /* the positional argument */
    int wait;
} sub_args;

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Matches "--name" or "--name=value" (*inl set to the value or NULL). */
static int opt_match(const char *arg, const char *name, const char **inl)
{
    size_t n = strlen(name);

    if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0)
        return 0;
    if (arg[2 + n] == '\0')
        *inl = NULL;
    else if (arg[2 + n] == '=')
        *inl = arg + 3 + n;
    else
        return 0;
    return 1;
}

/*
 * The options every command accepts, before or after its name.  Returns
 * how many arguments were used (1 or 2), 0 when argv[i] is not one, -1
 * on a usage error.
 */
static int global_opt(int argc, char **argv, int i, const char *label, cli_plan *plan,
                      cli_error *err)
{
    const char *v;

    if (opt_match(argv[i], "json", &v)) {
        if (v)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: --json takes no value", label);
        plan->json = 1;
        return 1;
    }
    if (!opt_match(argv[i], "socket", &v))
        return 0;
    if (!v && i + 1 >= argc)
        return cli_fail(err, CLI_EXIT_USAGE, "%s: --socket needs a PATH", label);
    plan->socket = v ? v : argv[i + 1];
    if (!plan->socket[0])
        return cli_fail(err, CLI_EXIT_USAGE, "%s: --socket needs a PATH", label);
    return v ? 1 : 2;
}

static int help_plan(cli_plan *plan, char *text, cli_error *err)
{
    if (!text)
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    plan->action = CLI_ACT_HELP;
    plan->help = text;
    return 0;
}

static const cli_sub *find_sub(const cli_group *g, const char *name)
{
    for (size_t i = 0; i < g->nsubs; i++)
        if (g->subs[i].name && strcmp(g->subs[i].name, name) == 0)
            return &g->subs[i];
    return NULL;
}

static int positive_int(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    return s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0 && v > 0 &&
           v <= 1000000000L;
}

static int check_choice(const cli_opt *o, const char *value, const char *label,
                        cli_error *err)
{
    if (!o->choices)
        return 0;
    for (const char *const *c = o->choices; *c; c++)
        if (strcmp(*c, value) == 0)
            return 0;
    fs_buf list;
    fs_buf_init(&list, 512);
    for (const char *const *c = o->choices; *c; c++)
        fs_buf_addf(&list, "%s%s", c == o->choices ? "" : " or ", *c);
    cli_fail(err, CLI_EXIT_USAGE, "%s: --%s must be %s, not '%s'", label, o->name,
             fs_buf_str(&list), value);
    fs_buf_release(&list);
    return -1;
}

/* Records one option occurrence; fields go to the body in argv order. */
static int apply_opt(const cli_opt *o, size_t idx, const char *value, sub_args *sa,
                     cli_plan *plan, const char *label, cli_error *err)
{
    if (check_choice(o, value, label, err) < 0)
        return -1;
    sa->seen[idx] = 1;
    switch (o->kind) {
    case CLI_OPT_INT_QUERY:
        if (!positive_int(value))
            return cli_fail(err, CLI_EXIT_USAGE, "%s: --%s wants a positive number, not '%s'",
                            label, o->name, value);
        /* fall through */
    case CLI_OPT_QUERY:
        sa->values[idx] = value;
        return 0;
    case CLI_OPT_FIELD:
        if (cli_json_put(plan->body, o->target, cJSON_CreateString(value)) < 0)
            return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
        return 0;
    case CLI_OPT_SET:
        if (cli_set_parse(plan->body, value, err) < 0) {
            if (err->code == CLI_EXIT_USAGE) {
                char why[sizeof err->msg];
                snprintf(why, sizeof why, "%s", err->msg);
                cli_fail(err, CLI_EXIT_USAGE, "%s: %s", label, why);
            }
            return -1;
        }
        return 0;
    case CLI_OPT_POS:
        if (sa->pos)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: give --%s or an argument, not both", label,
                            o->name);
        sa->pos = o->fixed;
        return 0;
    case CLI_OPT_WAIT:
        sa->wait = 1;
        return 0;
    case CLI_OPT_ALL:
        plan->all = 1;
        return 0;
    case CLI_OPT_DATE_QUERY:
        if (cli_date_arg(value, time(NULL), sa->dates[idx]) < 0)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: --%s wants a date (YYYY-MM-DD, today, "
                            "tomorrow, +7d, -1d), not '%s'", label, o->name, value);
        sa->values[idx] = sa->dates[idx];
        return 0;
    case CLI_OPT_TIME_FIELD: {
        char t[64];
        if (cli_time_arg(value, time(NULL), t, sizeof t) < 0)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: --%s wants a time (2024-02-01T10:00:00Z, "
                            "'2024-02-01 10:00' or 'tomorrow 09:30' in local time), not '%s'",
                            label, o->name, value);
        if (cli_json_put(plan->body, o->target, cJSON_CreateString(t)) < 0)
            return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
        return 0;
    }
    }
    return 0;
}

static const cli_opt *find_opt(const cli_opt *opts, const char *arg, size_t *idx,
                               const char **inl)
{
    for (size_t i = 0; opts[i].name; i++) {
        if (opt_match(arg, opts[i].name, inl)) {
            *idx = i;
            return &opts[i];
        }
    }
    return NULL;
}

/* Reads the arguments after the command's name into sa and plan->body. */
static int scan_args(const cli_sub *s, int argc, char **argv, const char *label,
                     sub_args *sa, cli_plan *plan, cli_error *err)
{
    int ddash = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *inl, *value;
        const cli_opt *o;
        size_t idx;
        int n;

        if (!ddash && strcmp(a, "--") == 0) {
            ddash = 1;
            continue;
        }
        if (ddash || a[0] != '-' || a[1] == '\0') {
            if (sa->pos || !s->pos)
                return cli_fail(err, CLI_EXIT_USAGE, "%s: unexpected argument '%s'", label, a);
            sa->pos = a;
            continue;
        }
        n = global_opt(argc, argv, i, label, plan, err);
        if (n < 0)
            return -1;
        if (n > 0) {
            i += n - 1;
            continue;
        }
        o = find_opt(s->opts, a, &idx, &inl);
        if (!o)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: unknown option '%s' (see 'fieldsync %s --help')",
                            label, a, label);
        if (o->metavar && !inl && i + 1 >= argc)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: --%s needs a value (%s)", label, o->name,
                            o->metavar);
        if (!o->metavar && inl)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: --%s takes no value", label, o->name);
        value = o->metavar ? (inl ? inl : argv[++i]) : o->fixed;
        if (apply_opt(o, idx, value ? value : "", sa, plan, label, err) < 0)
            return -1;
    }
    return 0;
}

/* Was the option whose target is `target` given? */
static int has_value(const cli_sub *s, const sub_args *sa, const char *target)
{
    for (size_t i = 0; s->opts[i].name; i++)
        if (sa->values[i] && s->opts[i].target && strcmp(s->opts[i].target, target) == 0)
            return 1;
    return 0;
}

/* Checks what the command requires once every argument was read. */
static int check_args(const cli_sub *s, const sub_args *sa, const cli_plan *plan,
                      const char *label, cli_error *err)
{
    if (s->pos && !sa->pos)
        return cli_fail(err, CLI_EXIT_USAGE, "%s: missing %s", label, s->pos);
    if (s->pos && !sa->pos[0])
        return cli_fail(err, CLI_EXIT_USAGE, "%s: %s must not be empty", label, s->pos);
    for (size_t i = 0; s->opts[i].name; i++)
        if (s->opts[i].required && !sa->seen[i])
            return cli_fail(err, CLI_EXIT_USAGE, "%s: --%s %s is required", label,
                            s->opts[i].name, s->opts[i].metavar ? s->opts[i].metavar : "");
    if (plan->all && has_value(s, sa, "page"))
        return cli_fail(err, CLI_EXIT_USAGE, "%s: --all and --page do not go together", label);
    if (s->needs_fields && !(plan->body && plan->body->child))
        return cli_fail(err, CLI_EXIT_USAGE,
                        "%s: nothing to change (see 'fieldsync %s --help')", label, label);
    return 0;
}

/* The endpoint's path with "{}" replaced by the escaped id, then the query. */
static int build_path(const cli_sub *s, const routes_endpoint *ep, const sub_args *sa,
                      cli_plan *plan, cli_error *err)
{
    const char *mark = strstr(ep->pattern, "{}");
    char sep = '?';
    fs_buf b;
    int rc = 0;

    fs_buf_init(&b, 64 * 1024);
    if (mark && sa->pos) {
        rc |= fs_buf_add(&b, ep->pattern, (size_t)(mark - ep->pattern));
        rc |= cli_url_escape(&b, sa->pos);
        rc |= fs_buf_adds(&b, mark + 2);
    } else {
        rc |= fs_buf_adds(&b, ep->pattern);
    }
    for (size_t i = 0; s->opts[i].name; i++) {
        if (!sa->values[i])
            continue;
        rc |= fs_buf_addf(&b, "%c%s=", sep, s->opts[i].target);
        rc |= cli_url_escape(&b, sa->values[i]);
        sep = '&';
    }
    if (sa->wait)
        rc |= fs_buf_addf(&b, "%cwait=true", sep);
    /* --all walks the pages in the largest steps the daemon allows. */
    if (plan->all && !has_value(s, sa, "per_page"))
        rc |= fs_buf_addf(&b, "%cper_page=100", sep);
    if (rc) {
        fs_buf_release(&b);
        return cli_fail(err, CLI_EXIT_USAGE, "arguments too long");
    }
    plan->path = fs_buf_take(&b);
    return plan->path ? 0 : cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
}

static int parse_sub(const cli_group *g, const cli_sub *s, int argc, char **argv,
                     cli_plan *plan, cli_error *err)
{
    const routes_endpoint *ep = routes_find(s->route, s->method);
    char label[128];
    sub_args sa;
    size_t nopts = 0;

    snprintf(label, sizeof label, "%s%s%s", g->name, s->name ? " " : "",
             s->name ? s->name : "");
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (is_help(argv[i]))
            return help_plan(plan, cli_help_sub(g, s), err);
    while (s->opts[nopts].name)
        nopts++;
    if (nopts > MAX_OPTS)
        return cli_fail(err, CLI_EXIT_DAEMON, "BUG: %s has too many options", label);
    if (!ep)
        return cli_fail(err, CLI_EXIT_DAEMON, "BUG: %s names no endpoint of the API", label);
    memset(&sa, 0, sizeof sa);
    if (s->body && !(plan->body = cJSON_CreateObject()))
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    if (scan_args(s, argc, argv, label, &sa, plan, err) < 0 ||
        check_args(s, &sa, plan, label, err) < 0 || build_path(s, ep, &sa, plan, err) < 0) {
        cJSON_Delete(plan->body);
        plan->body = NULL;
        return -1;
    }
    plan->action = sa.wait ? CLI_ACT_SYNC_WAIT : s->action;
    plan->view = sa.wait ? &cli_view_sync_summary : s->view;
    plan->method = routes_method_name(ep->method);
    plan->subject = s->subject;
    plan->id = sa.pos;
    return 0;
}

/* `fieldsync GROUP ...`: global options, then the subcommand's name. */
static int parse_group(const cli_group *g, int argc, char **argv, cli_plan *plan,
                       cli_error *err)
{
    const cli_sub *s;
    int i = 0, n;

    if (g->nsubs == 1 && !g->subs[0].name)
        return parse_sub(g, &g->subs[0], argc, argv, plan, err);
    while (i < argc && argv[i][0] == '-') {
        if (is_help(argv[i]))
            return help_plan(plan, cli_help_group(g), err);
        n = global_opt(argc, argv, i, g->name, plan, err);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        i += n;
    }
    if (i >= argc || argv[i][0] == '-') {
        if (g->default_sub)
            return parse_sub(g, find_sub(g, g->default_sub), argc - i, argv + i, plan, err);
        if (i < argc)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: unknown option '%s' (see 'fieldsync %s --help')",
                            g->name, argv[i], g->name);
        return cli_fail(err, CLI_EXIT_USAGE, "%s: missing command (see 'fieldsync %s --help')",
                        g->name, g->name);
    }
    s = find_sub(g, argv[i]);
    if (!s)
        return cli_fail(err, CLI_EXIT_USAGE, "%s: unknown command '%s' (see 'fieldsync %s --help')",
                        g->name, argv[i], g->name);
    return parse_sub(g, s, argc - i - 1, argv + i + 1, plan, err);
}

/* `fieldsync help [GROUP [SUB]]`. */
static int parse_help(int argc, char **argv, cli_plan *plan, cli_error *err)
{
    const cli_group *g;
    const cli_sub *s;

    /* "fieldsync help" and "fieldsync help help" both mean the overview. */
    if (argc == 0 || strcmp(argv[0], "help") == 0)
        return help_plan(plan, cli_help_top(), err);
    g = cli_group_find(argv[0]);
    if (!g)
        return cli_fail(err, CLI_EXIT_USAGE, "help: unknown command '%s' (see 'fieldsync --help')",
                        argv[0]);
    if (g->nsubs == 1 && !g->subs[0].name)
        return help_plan(plan, cli_help_sub(g, &g->subs[0]), err);
    if (argc == 1)
        return help_plan(plan, cli_help_group(g), err);
    s = find_sub(g, argv[1]);
    if (!s)
        return cli_fail(err, CLI_EXIT_USAGE, "help: %s has no command '%s'", g->name, argv[1]);
    return help_plan(plan, cli_help_sub(g, s), err);
}

int cli_plan_parse(int argc, char **argv, cli_plan *plan, cli_error *err)
{
    const cli_group *g;
    int i = 1, n;

    memset(plan, 0, sizeof *plan);
    while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (is_help(argv[i]))
            return help_plan(plan, cli_help_top(), err);
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            plan->action = CLI_ACT_VERSION;
            return 0;
        }
        n = global_opt(argc, argv, i, "fieldsync", plan, err);
        if (n < 0)
            return -1;
        if (n == 0)
            return cli_fail(err, CLI_EXIT_USAGE, "unknown option '%s' (see 'fieldsync --help')",
                            argv[i]);
        i += n;
    }
    if (i >= argc)
        return cli_fail(err, CLI_EXIT_USAGE, "missing command (see 'fieldsync --help')");
    if (strcmp(argv[i], "help") == 0)
        return parse_help(argc - i - 1, argv + i + 1, plan, err);
    g = cli_group_find(argv[i]);
    if (!g)
        return cli_fail(err, CLI_EXIT_USAGE, "unknown command '%s' (see 'fieldsync --help')",
                        argv[i]);
    return parse_group(g, argc - i - 1, argv + i + 1, plan, err);
}

void cli_plan_release(cli_plan *plan)
{
    free(plan->path);
    free(plan->help);
    cJSON_Delete(plan->body);
    memset(plan, 0, sizeof *plan);
}
