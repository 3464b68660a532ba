/*
 * output.h — how the fieldsync CLI shows answers.  Like bgpctl, every
 * command prints through one table of output functions, chosen once in
 * cli_execute(): text (aligned tables, key/value lines) for people, JSON
 * (the daemon's "data", as sent) for scripts.  Also the text helpers the
 * tables use: display width of UTF-8, cleaning and truncation.
 */
#ifndef FIELDSYNC_CLI_OUTPUT_H
#define FIELDSYNC_CLI_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "agent/cli/cli.h"

typedef struct cli_output {
    /* data is an array of rows; meta the list's pagination or NULL. */
    void (*list)(FILE *fp, const cli_view *v, const cJSON *data, const cJSON *meta);
    void (*record)(FILE *fp, const cJSON *data);
    void (*status)(FILE *fp, const cJSON *data);
    void (*sync_started)(FILE *fp, const cJSON *data);
    void (*sync_summary)(FILE *fp, const cJSON *data);
    void (*conflict)(FILE *fp, const cJSON *conflict);
    /* An acknowledged action ("deleted work order" + id); data may be NULL. */
    void (*done)(FILE *fp, const char *what, const char *id, const cJSON *data);
    /* One event of /agent/events; data is its raw text. */
    void (*event)(FILE *fp, const char *type, const char *data);
} cli_output;

extern const cli_output cli_output_text, cli_output_json;

/* ---- Text for terminals ---- */

/*
 * A copy of s (caller frees; NULL on ENOMEM) that is safe to print: bytes
 * that are not UTF-8 become '?', control characters (C0, DEL, C1, bidi
 * overrides) become spaces — except '\n' when keep_newlines.
 */
char *cli_text_clean(const char *s, int keep_newlines);

/* Display columns of clean UTF-8 text (wide characters count 2). */
size_t cli_text_width(const char *s);

/*
 * Appends clean text s to out cut to at most max columns, ending with "…"
 * when cut, never splitting a character (max 0: no limit).  Returns the
 * columns written.
 */
size_t cli_text_fit(fs_buf *out, const char *s, size_t max);

/*
 * Prints an aligned table: headers, then nrows rows of ncols clean cells
 * (cells[row * ncols + col]); widths from the data, cells cut at each
 * column's max, two spaces between columns, no trailing blanks.
 */
int cli_table_print(FILE *fp, const cli_column *cols, size_t ncols, char *const *cells,
                    size_t nrows);

/* A JSON value as one clean table cell ("-" for null or missing; objects
 * by their name); caller frees, NULL on ENOMEM. */
char *cli_cell_text(const cJSON *v);

/* ---- The terminal (term.c) ---- */

/* What the output goes to: width 0 for a pipe or file (nothing is cut),
 * colour only on a terminal and never under NO_COLOR. */
typedef struct cli_term {
    int width;  /* columns (COLUMNS, else TIOCGWINSZ); 0: not a terminal */
    int colour; /* ANSI colour for what needs attention */
} cli_term;

typedef enum { CLI_STYLE_BAD, CLI_STYLE_WARN, CLI_STYLE_RESET } cli_term_style;

/* Looks at out once, before anything is printed. */
void cli_term_setup(FILE *out);
/* For tests: as if the output were a terminal of width columns. */
void cli_term_set(int width, int colour);
const cli_term *cli_term_get(void);
/* The SGR sequence for a cell reading exactly text ("rejected",
 * "conflict", ...), or NULL: no colour, or nothing to draw the eye to. */
const char *cli_term_colour_of(const char *text);
/* A style's SGR sequence, "" without colour. */
const char *cli_term_sgr(cli_term_style style);

/* ---- Times for people (when.c) ---- */

/* "5 min ago", "in 2 h", "just now", "in 3 d": delta_ms is then - now. */
void cli_relative(int64_t delta_ms, char *buf, size_t len);
/* "2024-02-01 10:00" in the local time zone (TZ honoured); 0 or -1. */
int cli_time_local(int64_t ms, char *buf, size_t len);
/*
 * An ISO 8601 time from the daemon as local time, with the relative form
 * when asked: "2024-02-01 10:00 (5 min ago)".  -1 (buf untouched) when
 * iso is not a time with a clock part (a plain date stays as it is).
 */
int cli_time_human(const char *iso, int64_t now_ms, int relative, char *buf, size_t len);
/* The same for Unix milliseconds.  The relative form is left out beyond
 * 30 days, where the date says more. */
int cli_time_human_ms(int64_t ms, int64_t now_ms, int relative, char *buf, size_t len);

/* Progress of a running sync as `sync --wait` and `status` show it. */
typedef struct cli_progress {
    int64_t t0_ms;       /* first sample (monotonic) */
    double done0;        /* records + ops done at the first sample */
    double best;         /* the highest fraction shown: it never goes back */
} cli_progress;

/*
 * The progress line from GET /agent/status data: "pull: 45% (1200 of
 * 2700 records, 3 of 5 ops), 230/s, about 7 s left".  p (NULL: no rate)
 * remembers earlier samples for the rate and the estimate.
 */
void cli_progress_line(const cJSON *status, cli_progress *p, int64_t mono_ms, char *buf,
                       size_t len);

#endif /* FIELDSYNC_CLI_OUTPUT_H */
