/*
 * output.h — how the fieldsync CLI shows answers.  Like bgpctl, every
 * command prints through one table of output functions, chosen once in
 * cli_execute(): text (aligned tables, key/value lines) for people, JSON
 * (the daemon's "data", as sent) for scripts.  Also the text helpers the
 * tables use: display width of UTF-8, cleaning and truncation.
 */
#ifndef FIELDSYNC_CLI_OUTPUT_H
#define FIELDSYNC_CLI_OUTPUT_H

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

/* The progress line `sync --wait` redraws from GET /agent/status data. */
void cli_progress_line(const cJSON *status, char *buf, size_t len);

#endif /* FIELDSYNC_CLI_OUTPUT_H */
