/*
 * term.c — what the output is going to: a terminal of some width that
 * may be coloured, or a pipe or file that gets every byte of every value
 * and no escape codes.  Decided once per run (cli_term_setup), read by
 * the text output functions.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent/cli/output.h"

static cli_term term; /* zero: not a terminal, no colour */

/* COLUMNS (as set by the shell or the user) wins over the kernel's idea. */
static int terminal_width(int fd)
{
    const char *env = getenv("COLUMNS");
    struct winsize ws;
    char *end;
    long v;

    if (env && env[0]) {
        v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0 && v < 100000)
            return (int)v;
    }
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

void cli_term_setup(FILE *out)
{
    const char *no_colour = getenv("NO_COLOR"), *t = getenv("TERM");
    int fd = fileno(out);

    memset(&term, 0, sizeof term);
    if (fd < 0 || !isatty(fd))
        return;
    term.width = terminal_width(fd);
    /* https://no-color.org: present and not empty means no colour. */
    term.colour = !(no_colour && no_colour[0]) && !(t && strcmp(t, "dumb") == 0);
}

void cli_term_set(int width, int colour)
{
    term.width = width;
    term.colour = colour;
}

const cli_term *cli_term_get(void)
{
    return &term;
}

/*
 * The words that need a person's attention, and their colour: red for
 * what the remote refused, yellow for what waits on a decision or on the
 * network.
 */
static const struct {
    const char *word;
    const char *sgr;
} attention[] = {
    {"rejected", "\033[1;31m"},
    {"auth error", "\033[1;31m"},
    {"auth_error", "\033[1;31m"},
    {"failed", "\033[1;31m"},
    {"conflict", "\033[33m"},
    {"offline", "\033[33m"},
    {"held", "\033[33m"},
};

const char *cli_term_colour_of(const char *text)
{
    if (!term.colour || !text)
        return NULL;
    for (size_t i = 0; i < sizeof attention / sizeof attention[0]; i++)
        if (strcmp(text, attention[i].word) == 0)
            return attention[i].sgr;
    return NULL;
}

const char *cli_term_sgr(cli_term_style style)
{
    if (!term.colour)
        return "";
    switch (style) {
    case CLI_STYLE_BAD:
        return "\033[1;31m";
    case CLI_STYLE_WARN:
        return "\033[33m";
    case CLI_STYLE_RESET:
        return "\033[0m";
    }
    return "";
}
