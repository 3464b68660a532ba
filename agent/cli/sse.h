/*
 * sse.h — a parser for text/event-stream (the part of the HTML spec
 * `fieldsync watch` needs): "event:" and "data:" fields, events ended by a
 * blank line, ":" comments (keep-alives) ignored, LF, CRLF or CR endings.
 * Fed in arbitrary pieces; one event's text is bounded by CLI_MAX_EVENT.
 */
#ifndef FIELDSYNC_CLI_SSE_H
#define FIELDSYNC_CLI_SSE_H

#include "agent/cli/cli.h"

/* One complete event (type "message" when none was named); nonzero stops. */
typedef int (*cli_sse_event_fn)(void *ctx, const char *type, const char *data);

typedef struct cli_sse {
    fs_buf line;      /* the line being read */
    fs_buf data;      /* the event's data lines, joined with '\n' */
    char type[64];
    int has_data;
    int after_cr;      /* the last byte was '\r': a following '\n' is part of it */
    cli_sse_event_fn fn;
    void *ctx;
} cli_sse;

void cli_sse_init(cli_sse *p, cli_sse_event_fn fn, void *ctx);
/* 0, 1 when fn asked to stop, -1 when a line or event is over the bound. */
int cli_sse_feed(cli_sse *p, const char *buf, size_t len);
void cli_sse_release(cli_sse *p);

#endif /* FIELDSYNC_CLI_SSE_H */
