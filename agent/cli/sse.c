/*
 * sse.c — text/event-stream parsing for `fieldsync watch`.
 */
#include <string.h>

#include "agent/cli/sse.h"

void cli_sse_init(cli_sse *p, cli_sse_event_fn fn, void *ctx)
{
    memset(p, 0, sizeof *p);
    fs_buf_init(&p->line, CLI_MAX_EVENT);
    fs_buf_init(&p->data, CLI_MAX_EVENT);
    p->fn = fn;
    p->ctx = ctx;
}

void cli_sse_release(cli_sse *p)
{
    fs_buf_release(&p->line);
    fs_buf_release(&p->data);
}

/* A blank line: hands over the event, if it had data, and starts anew. */
static int dispatch(cli_sse *p)
{
    int rc = 0;

    if (p->has_data)
        rc = p->fn(p->ctx, p->type[0] ? p->type : "message", fs_buf_str(&p->data)) ? 1 : 0;
    p->data.len = 0;
    if (p->data.data)
        p->data.data[0] = '\0';
    p->type[0] = '\0';
    p->has_data = 0;
    return rc;
}

/* One complete line (without its ending). */
static int line_done(cli_sse *p)
{
    const char *line = fs_buf_str(&p->line), *colon, *value;
    size_t name_len;
    int rc = 0;

    if (p->line.len == 0)
        rc = dispatch(p);
    else if (line[0] != ':') { /* ':' starts a comment */
        colon = strchr(line, ':');
        name_len = colon ? (size_t)(colon - line) : p->line.len;
        value = colon ? colon + 1 : "";
        if (*value == ' ')
            value++;
        if (name_len == 5 && strncmp(line, "event", 5) == 0) {
            snprintf(p->type, sizeof p->type, "%s", value);
        } else if (name_len == 4 && strncmp(line, "data", 4) == 0) {
            if ((p->has_data && fs_buf_add(&p->data, "\n", 1) < 0) ||
                fs_buf_adds(&p->data, value) < 0)
                rc = -1;
            p->has_data = 1;
        } /* id, retry and unknown fields do not matter here */
    }
    p->line.len = 0;
    if (p->line.data)
        p->line.data[0] = '\0';
    return rc;
}

int cli_sse_feed(cli_sse *p, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        int rc;

        if (c == '\n' && p->after_cr) {
            p->after_cr = 0;
            continue;
        }
        p->after_cr = c == '\r';
        if (c == '\n' || c == '\r') {
            if ((rc = line_done(p)) != 0)
                return rc;
        } else {
            size_t run = 1; /* copy the rest of the line at once */
            while (i + run < len && buf[i + run] != '\n' && buf[i + run] != '\r')
                run++;
            if (fs_buf_add(&p->line, buf + i, run) < 0)
                return -1;
            i += run - 1;
        }
    }
    return 0;
}
