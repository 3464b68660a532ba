/*
 * output_text.c — the output functions for people: aligned tables for
 * lists, "label  value" lines for one record, the daemon's status and a
 * sync's summary.  Every string from the daemon passes cli_text_clean()
 * before it reaches the terminal.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli/output.h"

#define LABEL_MAX 24 /* wider labels are not padded further */
#define CELL_DEPTH 3 /* nesting shown inside one cell */

static void number_into(fs_buf *b, double d)
{
    if (fabs(d) < 1e15 && d == (double)(long long)d)
        fs_buf_addf(b, "%lld", (long long)d);
    else
        fs_buf_addf(b, "%.15g", d);
}

static int is_named(const cJSON *o)
{
    return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "name")) ||
           cJSON_GetObjectItemCaseSensitive(o, "id");
}

static void cell_into(fs_buf *b, const cJSON *v, int depth);

/* "Acme Corp (cust-001), phone: 555": a named object on one line. */
static void summary_into(fs_buf *b, const cJSON *o, int depth)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *m;
    int first = 1;

    if (cJSON_IsString(name)) {
        fs_buf_adds(b, name->valuestring);
        if (id) {
            fs_buf_adds(b, " (");
            cell_into(b, id, depth + 1);
            fs_buf_adds(b, ")");
        }
        first = 0;
    } else if (id) {
        cell_into(b, id, depth + 1);
        first = 0;
    }
    cJSON_ArrayForEach(m, o) {
        if (m == name || m == id || !m->string)
            continue;
        fs_buf_addf(b, "%s%s: ", first ? "" : ", ", m->string);
        cell_into(b, m, depth + 1);
        first = 0;
    }
}

static void cell_into(fs_buf *b, const cJSON *v, int depth)
{
    const cJSON *m;

    if (!v || cJSON_IsNull(v)) {
        fs_buf_adds(b, "-");
    } else if (cJSON_IsString(v)) {
        fs_buf_adds(b, v->valuestring);
    } else if (cJSON_IsBool(v)) {
        fs_buf_adds(b, cJSON_IsTrue(v) ? "yes" : "no");
    } else if (cJSON_IsNumber(v)) {
        number_into(b, v->valuedouble);
    } else if (depth >= CELL_DEPTH) {
        fs_buf_adds(b, "\xE2\x80\xA6");
    } else if (cJSON_IsArray(v) && !v->child) {
        fs_buf_adds(b, "-");
    } else if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(m, v) {
            if (m != v->child)
                fs_buf_adds(b, ", ");
            cell_into(b, m, depth + 1);
        }
    } else if (cJSON_IsObject(v) && !v->child) {
        fs_buf_adds(b, "-");
    } else if (cJSON_IsObject(v)) {
        m = cJSON_GetObjectItemCaseSensitive(v, "name");
        if (!cJSON_IsString(m)) /* _sync: {"state": ...} */
            m = cJSON_GetObjectItemCaseSensitive(v, "state");
        if (cJSON_IsString(m))
            fs_buf_adds(b, m->valuestring);
        else
            summary_into(b, v, depth);
    }
}

/* Finishes a cell built in b: cleaned copy, b released. */
static char *finish_cell(fs_buf *b, int keep_newlines)
{
    char *s = fs_buf_error(b) ? NULL : cli_text_clean(fs_buf_str(b), keep_newlines);

    fs_buf_release(b);
    return s;
}

char *cli_cell_text(const cJSON *v)
{
    fs_buf b;

    fs_buf_init(&b, CLI_MAX_BODY);
    cell_into(&b, v, 0);
    return finish_cell(&b, 0);
}

/* A column's cell of one row: a member's value, or "@key": its names. */
static char *column_cell(const cJSON *row, const cli_column *col)
{
    const cJSON *v, *m;
    fs_buf b;

    if (col->key[0] != '@') {
        char local[64];
        v = cli_json_path(row, col->key);
        if (cJSON_IsString(v) && cli_time_human(v->valuestring, 0, 0, local, sizeof local) == 0)
            return strdup(local);
        return cli_cell_text(v);
    }
    v = cli_json_path(row, col->key + 1);
    if (!cJSON_IsObject(v))
        v = NULL;
    fs_buf_init(&b, CLI_MAX_BODY);
    if (!v || !v->child)
        fs_buf_adds(&b, "-");
    cJSON_ArrayForEach(m, v) {
        fs_buf_addf(&b, "%s%s", m == v->child ? "" : ", ", m->string ? m->string : "");
    }
    return finish_cell(&b, 0);
}

static void print_cell_error(FILE *fp)
{
    fputs("(out of memory)\n", fp);
}

/* "page 2 of 5 (47 work orders)" under a list that has more pages. */
static void page_footer(FILE *fp, const cli_view *v, const cJSON *meta)
{
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(meta, "current_page");
    const cJSON *pages = cJSON_GetObjectItemCaseSensitive(meta, "total_pages");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(meta, "total_count");

    if (!cJSON_IsNumber(cur) || !cJSON_IsNumber(pages) || pages->valuedouble <= 1)
        return;
    fprintf(fp, "page %.0f of %.0f", cur->valuedouble, pages->valuedouble);
    if (cJSON_IsNumber(count))
        fprintf(fp, " (%.0f %s)", count->valuedouble, v->plural);
    fputs(cur->valuedouble < pages->valuedouble ? "; next: --page N\n" : "\n", fp);
}

/* Orders rows by a member: times as times, other text as text, rows
 * without it last, ties in the daemon's order. */
typedef struct {
    const cJSON *row;
    size_t pos;
} sort_row;

static const char *sort_key_of;

static int cmp_rows(const void *a, const void *b)
{
    const sort_row *ra = a, *rb = b;
    const cJSON *x = cli_json_path(ra->row, sort_key_of);
    const cJSON *y = cli_json_path(rb->row, sort_key_of);
    int64_t tx, ty;
    int c;

    if (!cJSON_IsString(x) || !cJSON_IsString(y))
        c = cJSON_IsString(y) - cJSON_IsString(x);
    else if (fs_time_parse(x->valuestring, &tx) == 0 && fs_time_parse(y->valuestring, &ty) == 0)
        c = (tx > ty) - (tx < ty);
    else
        c = strcmp(x->valuestring, y->valuestring);
    return c ? c : (ra->pos > rb->pos) - (ra->pos < rb->pos);
}

/* The rows of data in the view's order; caller frees; NULL on ENOMEM. */
static sort_row *sorted_rows(const cli_view *v, const cJSON *data, size_t nrows)
{
    sort_row *rows = calloc(nrows ? nrows : 1, sizeof *rows);
    const cJSON *row;
    size_t i = 0;

    if (!rows)
        return NULL;
    cJSON_ArrayForEach(row, data) {
        rows[i].row = row;
        rows[i].pos = i;
        i++;
    }
    for (const cli_column *c = v->columns; c->header; c++) {
        if ((c->flags & CLI_COL_SORT) && c->key[0] != '@') {
            sort_key_of = c->key;
            qsort(rows, nrows, sizeof *rows, cmp_rows);
            break;
        }
    }
    return rows;
}

static void text_list(FILE *fp, const cli_view *v, const cJSON *data, const cJSON *meta)
{
    size_t ncols = 0, nrows = (size_t)cJSON_GetArraySize(data), i = 0;
    sort_row *rows;
    char **cells;

    while (v->columns[ncols].header)
        ncols++;
    if (nrows == 0) {
        fprintf(fp, "no %s\n", v->plural);
        page_footer(fp, v, meta);
        return;
    }
    cells = calloc(nrows * ncols, sizeof *cells);
    rows = sorted_rows(v, data, nrows);
    if (!cells || !rows) {
        free(cells);
        free(rows);
        print_cell_error(fp);
        return;
    }
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++, i++)
            cells[i] = column_cell(rows[r].row, &v->columns[c]);
    free(rows);
    for (i = 0; i < nrows * ncols && cells[i]; i++)
        ;
    if (i < nrows * ncols)
        print_cell_error(fp);
    else
        cli_table_print(fp, v->columns, ncols, cells, nrows);
    for (i = 0; i < nrows * ncols; i++)
        free(cells[i]);
    free(cells);
    page_footer(fp, v, meta);
}

static void time_into(fs_buf *b, const cJSON *v, int64_t now_ms);

/* "label    value", continuation lines of a multi-line value aligned. */
static void label_line(FILE *fp, int indent, size_t width, const char *label, const char *value)
{
    const char *p = value, *nl;
    size_t col = (size_t)indent + width + 2;

    fprintf(fp, "%*s%-*s  ", indent, "", (int)width, label);
    while ((nl = strchr(p, '\n'))) {
        fprintf(fp, "%.*s\n%*s", (int)(nl - p), p, (int)col, "");
        p = nl + 1;
    }
    fprintf(fp, "%s\n", p);
}

static const char *label_of(const cJSON *m)
{
    return strcmp(m->string, "_sync") == 0 ? "sync" : m->string;
}

/* The members of a record, nested objects and lists indented below. */
static void print_members(FILE *fp, const cJSON *obj, int indent)
{
    size_t width = 0;
    const cJSON *m, *e;

    cJSON_ArrayForEach(m, obj) {
        size_t w = m->string ? strlen(label_of(m)) : 0;
        if (w > width && w <= LABEL_MAX)
            width = w;
    }
    cJSON_ArrayForEach(m, obj) {
        char *label, *value;
        fs_buf b;

        if (!m->string || !(label = cli_text_clean(label_of(m), 0)))
            continue;
        if (cJSON_IsObject(m) && m->child && !is_named(m) && strcmp(m->string, "_sync") != 0 &&
            indent < 2 * CELL_DEPTH) {
            fprintf(fp, "%*s%s\n", indent, "", label);
            print_members(fp, m, indent + 2);
        } else if (cJSON_IsArray(m) && cJSON_IsObject(m->child)) {
            fprintf(fp, "%*s%s\n", indent, "", label);
            cJSON_ArrayForEach(e, m) {
                fs_buf_init(&b, CLI_MAX_BODY);
                summary_into(&b, e, 1);
                value = finish_cell(&b, 0);
                fprintf(fp, "%*s- %s\n", indent + 2, "", value ? value : "?");
                free(value);
            }
        } else {
            fs_buf_init(&b, CLI_MAX_BODY);
            if (cJSON_IsObject(m) && is_named(m)) /* customer: "Acme (cust-001)" */
                summary_into(&b, m, 0);
            else if (cJSON_IsString(m) && strchr(m->valuestring, 'T'))
                time_into(&b, m, fs_wall_ms()); /* a time: local, and how far */
            else
                cell_into(&b, m, 0);
            value = finish_cell(&b, 1);
            label_line(fp, indent, width, label, value ? value : "?");
            free(value);
        }
        free(label);
    }
}

static void text_record(FILE *fp, const cJSON *data)
{
    print_members(fp, data, 0);
}

/* A time as people read it: local time and how long ago or ahead. */
static void time_into(fs_buf *b, const cJSON *v, int64_t now_ms)
{
    char text[96];

    if (cJSON_IsNumber(v) && v->valuedouble > 0) {
        int64_t ms = (int64_t)(v->valuedouble > 1e11 ? v->valuedouble : v->valuedouble * 1000);

        if (cli_time_human_ms(ms, now_ms, 1, text, sizeof text) == 0) {
            fs_buf_adds(b, text);
            return;
        }
    }
    if (cJSON_IsString(v) && cli_time_human(v->valuestring, now_ms, 1, text, sizeof text) == 0) {
        fs_buf_adds(b, text);
        return;
    }
    cell_into(b, cJSON_IsNull(v) || !v ? NULL : v, 0);
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Appends "N name" for each (key, name) pair present in obj. */
static void counts_into(fs_buf *b, const cJSON *obj, const char *const *pairs)
{
    int first = 1;

    for (; pairs[0]; pairs += 2) {
        const cJSON *v = member(obj, pairs[0]);

        if (!v)
            continue;
        fs_buf_adds(b, first ? "" : ", ");
        cell_into(b, v, 1);
        fs_buf_addf(b, " %s", pairs[1]);
        first = 0;
    }
    if (first)
        fs_buf_adds(b, "-");
}

/* "label         value", the value coloured when style >= 0. */
static void status_line_styled(FILE *fp, const char *label, fs_buf *b, int style)
{
    char *value = finish_cell(b, 0);
    const char *on = style >= 0 ? cli_term_sgr((cli_term_style)style) : "";

    fprintf(fp, "%-13s %s%s%s\n", label, on, value ? value : "?",
            on[0] ? cli_term_sgr(CLI_STYLE_RESET) : "");
    free(value);
    fs_buf_init(b, CLI_MAX_BODY);
}

static void status_line(FILE *fp, const char *label, fs_buf *b)
{
    status_line_styled(fp, label, b, -1);
}

static void yes_no_into(fs_buf *b, const cJSON *v)
{
    fs_buf_adds(b, !v ? "-" : cJSON_IsTrue(v) ? "yes" : "no");
}

/* When the next sync is: never in the past ("now (running)"). */
static void next_sync_into(fs_buf *b, const cJSON *d, int64_t now_ms)
{
    const cJSON *next = member(d, "next_sync_at");
    int64_t ms;

    if (cJSON_IsTrue(member(d, "syncing")))
        fs_buf_adds(b, "now (running)");
    else if (cJSON_IsString(next) && fs_time_parse(next->valuestring, &ms) == 0 &&
             ms <= now_ms + 1000)
        fs_buf_adds(b, "now");
    else
        time_into(b, next, now_ms);
}

/* An age in seconds for people: "45s", "9m", "3h", "2d"; "-" unknown. */
static void age_into(fs_buf *b, const cJSON *v)
{
    double s = cJSON_IsNumber(v) ? v->valuedouble : -1;

    if (s < 0)
        fs_buf_adds(b, "-");
    else if (s < 120)
        fs_buf_addf(b, "%.0fs", s);
    else if (s < 7200)
        fs_buf_addf(b, "%.0fm", s / 60);
    else if (s < 172800)
        fs_buf_addf(b, "%.0fh", s / 3600);
    else
        fs_buf_addf(b, "%.0fd", s / 86400);
}

/* The "remote" and "freshness" lines: what the budget spent and how old
 * the replica's confirmations are (docs/SYNC.md). */
static void remote_lines(FILE *fp, const cJSON *d, fs_buf *b)
{
    static const char *const sets[] = {"hot", "all"};
    static const char *const qs[] = {"p50_s", "p95_s", "max_s"};
    static const char *const qn[] = {"p50", "p95", "max"};
    const cJSON *r = member(d, "remote"), *f = member(d, "freshness"), *c;

    if (r) {
        fs_buf_addf(b, "%.0f requests in the last hour, budget %.0f",
                     cJSON_IsNumber(member(r, "requests_last_hour"))
                         ? member(r, "requests_last_hour")->valuedouble : 0,
                     cJSON_IsNumber(member(r, "request_budget"))
                         ? member(r, "request_budget")->valuedouble : 0);
        if (cJSON_IsTrue(member(r, "rate_limited")))
            fs_buf_adds(b, "; rate limited");
        if ((c = member(r, "capabilities"))) {
            fs_buf_adds(b, "; etag ");
            yes_no_into(b, member(c, "etag"));
            fs_buf_adds(b, ", gzip ");
            yes_no_into(b, member(c, "gzip"));
            fs_buf_adds(b, ", rate-limit headers ");
            yes_no_into(b, member(c, "rate_limit_headers"));
        }
        status_line(fp, "remote", b);
    }
    if (f) {
        for (int i = 0; i < 2; i++) {
            fs_buf_addf(b, "%s%s", i ? "; " : "", sets[i]);
            for (int q = 0; q < 3; q++) {
                fs_buf_addf(b, "%s %s ", q ? "," : "", qn[q]);
                age_into(b, member(member(f, sets[i]), qs[q]));
            }
        }
        if (cJSON_IsFalse(member(f, "max_age_met")))
            fs_buf_adds(b, "; the budget cannot check every record within max_age");
        status_line(fp, "checked ago", b);
    }
}

static void text_status(FILE *fp, const cJSON *d)
{
    static const char *const outbox[] = {"pending", "pending", "rejected", "rejected",
                                         "held", "held", NULL};
    static const char *const replica[] = {"customers", "customers", "contacts", "contacts",
                                          "assets", "assets", "work_orders", "work orders",
                                          NULL};
    static const char *const conflicts[] = {"open", "open", "unacknowledged", "unacknowledged",
                                            NULL};
    int64_t now = fs_wall_ms();
    const cJSON *v;
    fs_buf b;
    char line[256];

    /* A lost edit leads: it is what the user most needs to know.  Then
     * whatever else needs a person: monitoring reads the exit status (4),
     * a person these lines. */
    if (cJSON_IsNumber(v = member(member(d, "conflicts"), "unacknowledged")) && v->valuedouble >= 1)
        fprintf(fp, "%.0f local edit%s overwritten \xE2\x80\x94 see 'fieldsync conflicts'\n",
                v->valuedouble, v->valuedouble >= 2 ? "s were" : " was");
    fs_buf_init(&b, CLI_MAX_BODY);
    if (cli_status_attention(d, now, &b))
        status_line_styled(fp, "ATTENTION", &b, CLI_STYLE_BAD);
    fs_buf_reset(&b);
    cell_into(&b, member(d, "version"), 0);
    status_line(fp, "version", &b);
    yes_no_into(&b, member(d, "online"));
    status_line_styled(fp, "online", &b, cJSON_IsFalse(member(d, "online")) ? CLI_STYLE_WARN : -1);
    yes_no_into(&b, member(d, "syncing"));
    if (cJSON_IsTrue(member(d, "syncing")) && member(d, "progress")) {
        cli_progress_line(d, NULL, 0, line, sizeof line);
        fs_buf_addf(&b, " (%s)", line);
    }
    status_line(fp, "syncing", &b);
    yes_no_into(&b, member(d, "auth_error"));
    if (cJSON_IsTrue(member(d, "auth_error")))
        fs_buf_adds(&b, " (the remote refused the API key; pushing is paused)");
    status_line_styled(fp, "auth error", &b,
                       cJSON_IsTrue(member(d, "auth_error")) ? CLI_STYLE_BAD : -1);
    time_into(&b, member(d, "last_sync_at"), now);
    status_line(fp, "last sync", &b);
    time_into(&b, member(d, "last_success_at"), now);
    status_line(fp, "last success", &b);
    next_sync_into(&b, d, now);
    status_line(fp, "next sync", &b);
    counts_into(&b, member(d, "outbox"), outbox);
    status_line(fp, "outbox", &b);
    counts_into(&b, member(d, "conflicts"), conflicts);
    status_line(fp, "conflicts", &b);
    cell_into(&b, member(d, "last_error"), 0);
    status_line(fp, "last error", &b);
    counts_into(&b, member(d, "replica"), replica);
    status_line(fp, "replica", &b);
    remote_lines(fp, d, &b);
    if (cJSON_IsNumber(v = member(d, "clock_offset_ms"))) {
        fs_buf_addf(&b, "%+.0f ms", v->valuedouble);
        status_line(fp, "clock offset", &b);
    }
    fs_buf_release(&b);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *n = member(o, key);

    return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* "12 s", "4 min", "2 h" for an estimate. */
static void duration_into(char *buf, size_t len, double secs)
{
    if (secs < 90)
        snprintf(buf, len, "%.0f s", secs);
    else if (secs < 90 * 60)
        snprintf(buf, len, "%.0f min", secs / 60);
    else
        snprintf(buf, len, "%.1f h", secs / 3600);
}

void cli_progress_line(const cJSON *status, cli_progress *p, int64_t mono_ms, char *buf,
                       size_t len)
{
    const cJSON *pr = member(status, "progress");
    const cJSON *phase = member(pr, "phase");
    double rd = num(pr, "records_done"), rt = num(pr, "records_total");
    double od = num(pr, "ops_done"), ot = num(pr, "ops_total");
    double done = rd + od, total = rt + ot, frac = total > 0 ? done / total : 0;
    char rate[64] = "", eta[64] = "";
    int n;

    /* The total grows while the daemon learns the scope: the fraction
     * shown never goes back, and never reads 100 % before the end. */
    if (frac > 0.99)
        frac = 0.99;
    if (p) {
        if (!p->t0_ms) {
            p->t0_ms = mono_ms;
            p->done0 = done;
        }
        if (frac < p->best)
            frac = p->best;
        p->best = frac;
        if (mono_ms - p->t0_ms >= 1000 && done > p->done0) {
            double r = (done - p->done0) * 1000 / (double)(mono_ms - p->t0_ms);
            snprintf(rate, sizeof rate, ", %.0f/s", r);
            if (total > done) {
                char d[32];
                duration_into(d, sizeof d, (total - done) / r);
                snprintf(eta, sizeof eta, ", about %s left", d);
            }
        }
    }
    n = snprintf(buf, len, "%s: ",
                 cJSON_IsString(phase) && phase->valuestring[0] ? phase->valuestring : "syncing");
    if (n < 0 || (size_t)n >= len)
        return;
    if (total <= 0)
        snprintf(buf + n, len - (size_t)n, "starting");
    else
        snprintf(buf + n, len - (size_t)n,
                 "%.0f%% (pulled %.0f of %.0f records, pushed %.0f of %.0f ops)%s%s",
                 floor(frac * 100), rd, rt, od, ot, rate, eta);
    /* The phase came from the daemon: keep the line printable. */
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

static void text_sync_started(FILE *fp, const cJSON *data)
{
    const cJSON *started = member(data, "started");

    fputs(!started || cJSON_IsTrue(started) ? "sync started\n" : "a sync is already running\n",
          fp);
}

/* Milliseconds since the epoch of a time the daemon sent; -1 unknown. */
static double time_ms(const cJSON *v)
{
    int64_t ms;

    if (cJSON_IsNumber(v))
        return v->valuedouble > 1e11 ? v->valuedouble : v->valuedouble * 1000;
    if (!cJSON_IsString(v) || fs_time_parse(v->valuestring, &ms) < 0)
        return -1;
    return (double)ms;
}

static void text_sync_summary(FILE *fp, const cJSON *d)
{
    static const char *const pulls[] = {"pulled", "pulled", "unchanged", "unchanged",
                                        "evicted", "evicted", "deleted_remotely",
                                        "deleted remotely", NULL};
    static const char *const pushes[] = {"pushed", "pushed", "conflicts", "conflicts",
                                         "rejected", "rejected", "retried", "retried",
                                         "errors", "errors", NULL};
    double t0 = time_ms(member(d, "started_at")), t1 = time_ms(member(d, "finished_at"));
    const cJSON *last = member(d, "last_error");
    fs_buf b;
    char *s;

    fs_buf_init(&b, CLI_MAX_BODY);
    fs_buf_adds(&b, "sync finished");
    if (t0 >= 0 && t1 >= t0)
        fs_buf_addf(&b, " in %.1f s", (t1 - t0) / 1000);
    if (cJSON_IsFalse(member(d, "online")))
        fs_buf_adds(&b, " (offline: the remote did not answer)");
    else if (cJSON_IsFalse(member(d, "complete")))
        fs_buf_adds(&b, " (incomplete: some records could not be fetched)");
    fs_buf_adds(&b, "\n");
    counts_into(&b, d, pulls);
    fs_buf_adds(&b, "\n");
    counts_into(&b, d, pushes);
    fs_buf_adds(&b, "\n");
    if (last && !cJSON_IsNull(last)) {
        fs_buf_adds(&b, "last error: ");
        cell_into(&b, last, 0);
        fs_buf_adds(&b, "\n");
    }
    s = finish_cell(&b, 1);
    fputs(s ? s : "sync finished\n", fp);
    free(s);
}

/* Columns of the terminal fp writes to; else $COLUMNS; else 80. */
static size_t term_columns(FILE *fp)
{
    struct winsize ws;
    const char *env = getenv("COLUMNS");
    long n;

    if (ioctl(fileno(fp), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (env && (n = strtol(env, NULL, 10)) > 0 && n < 10000)
        return (size_t)n;
    return 80;
}

/* Display columns of the n bytes at s. */
static size_t span_width(const char *s, size_t n)
{
    char buf[512];
    size_t w = 0;

    while (n > 0) { /* in pieces, never splitting a UTF-8 character */
        size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;

        while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        memcpy(buf, s, k);
        buf[k] = '\0';
        w += cli_text_width(buf);
        s += k;
        n -= k;
    }
    return w;
}

/*
 * Prints clean text whole, wrapped at spaces to width columns; each line
 * after the first starts with indent spaces.  A word wider than a line is
 * broken between characters.  Nothing is ever cut: a lost edit must be
 * readable in full where the user looks for it.
 */
static void print_wrapped(FILE *fp, const char *text, size_t indent, size_t width)
{
    size_t avail = width > indent + 20 ? width - indent : 20, col = 0;
    const char *p = text;

    while (*p) {
        size_t sp = strspn(p, " "), wl, ww;

        if (p[sp] == '\n' || !p[sp]) { /* trailing spaces, a line's end */
            if (p[sp] == '\n')
                fprintf(fp, "\n%*s", (int)indent, "");
            col = 0;
            p += sp + (p[sp] == '\n');
            continue;
        }
        wl = strcspn(p + sp, " \n");
        ww = span_width(p + sp, wl);
        if (col > 0 && col + sp + ww > avail) {
            fprintf(fp, "\n%*s", (int)indent, "");
            col = 0;
        } else if (col > 0) {
            fwrite(p, 1, sp, fp);
            col += sp;
        }
        p += sp;
        if (ww <= avail - col) {
            fwrite(p, 1, wl, fp);
            col += ww;
            p += wl;
            continue;
        }
        for (const char *end = p + wl; p < end;) { /* one character at a time */
            size_t cl = 1, cw;

            while (p + cl < end && ((unsigned char)p[cl] & 0xC0) == 0x80)
                cl++;
            cw = span_width(p, cl);
            if (col > 0 && col + cw > avail) {
                fprintf(fp, "\n%*s", (int)indent, "");
                col = 0;
            }
            fwrite(p, 1, cl, fp);
            col += cw;
            p += cl;
        }
    }
    fputc('\n', fp);
}

/*
 * A conflict's facts, then each field with its base, local and remote
 * values, whole and wrapped to the terminal's width (a table would cut
 * them, and the cut part is often what was lost).
 */
static void text_conflict(FILE *fp, const cJSON *c)
{
    static const char *const side_names[3] = {"base", "local", "remote"};
    const cJSON *sides[3] = {member(c, "base"), member(c, "local"), member(c, "remote")};
    const cJSON *m, *f;
    cJSON *copy = cJSON_Duplicate(c, 1);
    size_t width = term_columns(fp);

    if (copy) { /* the facts without the three value objects */
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "base");
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "local");
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "remote");
        print_members(fp, copy, 0);
        cJSON_Delete(copy);
    }
    for (int s = 0; s < 3; s++)
        if (!cJSON_IsObject(sides[s]))
            sides[s] = NULL;
    /* Fields: those of local first (the edit), then any only in the others. */
    for (int s = 0; s < 3; s++) {
        cJSON_ArrayForEach(m, sides[s]) {
            int dup = 0;
            char *name;

            for (int p = 0; p < s && !dup; p++)
                dup = member(sides[p], m->string) != NULL;
            if (dup || !m->string)
                continue;
            name = cli_text_clean(m->string, 0);
            fprintf(fp, "\n%s\n", name ? name : "?");
            free(name);
            for (int k = 0; k < 3; k++) {
                char *v;

                f = member(sides[k], m->string);
                v = cJSON_IsString(f) ? cli_text_clean(f->valuestring, 1)
                                      : f ? cli_cell_text(f) : strdup("-");
                fprintf(fp, "  %-8s", side_names[k]);
                if (v)
                    print_wrapped(fp, v, 10, width);
                else
                    print_cell_error(fp);
                free(v);
            }
        }
    }
}

static void text_done(FILE *fp, const char *what, const char *id, const cJSON *data)
{
    char *s = cli_text_clean(id ? id : "", 0);

    (void)data;
    fprintf(fp, "%s%s%s\n", what, id ? " " : "", s ? s : "?");
    free(s);
}

/* "14:02:11 record_changed entity=work_order id=wo-1" */
static void text_event(FILE *fp, const char *type, const char *data)
{
    cJSON *j = cJSON_Parse(data);
    const cJSON *m;
    time_t now = time(NULL);
    struct tm tm;
    char stamp[16] = "";
    fs_buf b;
    char *s;

    if (localtime_r(&now, &tm))
        strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fs_buf_init(&b, CLI_MAX_BODY);
    fs_buf_addf(&b, "%s %s", stamp, type);
    if (cJSON_IsObject(j)) {
        cJSON_ArrayForEach(m, j) {
            fs_buf val;
            const char *q;

            fs_buf_init(&val, CLI_MAX_BODY);
            cell_into(&val, m, 1);
            q = strchr(fs_buf_str(&val), ' ') ? "\"" : ""; /* one token per field */
            fs_buf_addf(&b, " %s=%s%s%s", m->string ? m->string : "", q, fs_buf_str(&val), q);
            fs_buf_release(&val);
        }
    } else if (j) {
        fs_buf_adds(&b, " ");
        cell_into(&b, j, 1);
    } else if (data[0]) {
        fs_buf_addf(&b, " %s", data);
    }
    cJSON_Delete(j);
    s = finish_cell(&b, 0);
    fprintf(fp, "%s\n", s ? s : type);
    free(s);
}

const cli_output cli_output_text = {
    text_list,  text_record, text_status, text_sync_started, text_sync_summary,
    text_conflict, text_done, text_event,
};
