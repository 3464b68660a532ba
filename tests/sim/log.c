/* Logging: one line per event on stderr, so stdout stays the one line a
 * caller parses for the port. */
#include <stdarg.h>
#include <stdio.h>

#include "sim.h"

void sim_log(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one fprintf per line keeps lines from threads whole */
    fprintf(stderr, "fieldsync-sim: %s\n", line);
}
