/*
 * config.c — where fieldsyncd's socket is, found the way the daemon
 * chooses it (DESIGN §4), so that `fieldsync` with no options talks to the
 * daemon the same user started.  The CLI reads only the `socket` key of
 * the config file: the daemon's own loader also checks the API key file,
 * which is none of the client's business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/cli/cli.h"

#define CONFIG_LINE_MAX 4096 /* the daemon's bound on one config line */

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

int cli_config_socket(const char *file, char *buf, size_t len, cli_error *err)
{
    char line[CONFIG_LINE_MAX + 2];
    FILE *fp = fopen(file, "r");
    int found = 0, lineno = 0;

    if (!fp) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return cli_fail(err, CLI_EXIT_USAGE, "cannot read %s: %s", file, strerror(errno));
    }
    while (fgets(line, sizeof line, fp)) {
        char *s, *eq, *value;
        size_t vl;

        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) { /* longer than any valid line */
            fclose(fp);
            return cli_fail(err, CLI_EXIT_USAGE, "%s:%d: line too long", file, lineno);
        }
        s = trim(line);
        if (*s == '#' || !(eq = strchr(s, '=')))
            continue;
        *eq = '\0';
        if (strcmp(trim(s), "socket") != 0)
            continue;
        value = trim(eq + 1);
        vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') { /* as the daemon reads it */
            value[vl - 1] = '\0';
            value++;
        }
        if (!*value)
            continue;
        if (snprintf(buf, len, "%s", value) >= (int)len) {
            fclose(fp);
            return cli_fail(err, CLI_EXIT_USAGE, "%s:%d: socket path too long", file, lineno);
        }
        found = 1; /* the last one wins, as in the daemon */
    }
    fclose(fp);
    return found;
}

/* $XDG_CONFIG_HOME/fieldsync/config, else ~/.config/fieldsync/config. */
static int config_file(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;

    if (xdg && xdg[0] == '/')
        n = snprintf(buf, len, "%s/fieldsync/config", xdg);
    else if (home && home[0])
        n = snprintf(buf, len, "%s/.config/fieldsync/config", home);
    else
        return 0;
    return n > 0 && (size_t)n < len;
}

int cli_socket_path(const char *flag, char *buf, size_t len, cli_error *err)
{
    const char *env = getenv("FIELDSYNC_SOCKET"), *rt = getenv("XDG_RUNTIME_DIR");
    char file[4096];
    int n, rc;

    if (flag)
        n = snprintf(buf, len, "%s", flag);
    else if (env && env[0])
        n = snprintf(buf, len, "%s", env);
    else if (config_file(file, sizeof file) && (rc = cli_config_socket(file, buf, len, err)) != 0)
        n = rc < 0 ? -1 : (int)strlen(buf);
    else if (rt && rt[0] == '/')
        n = snprintf(buf, len, "%s/fieldsync.sock", rt);
    else
        n = snprintf(buf, len, "/tmp/fieldsync-%lu/fieldsync.sock", (unsigned long)getuid());
    if (n < 0)
        return -1;
    if ((size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return cli_fail(err, CLI_EXIT_UNREACHABLE,
                        "cannot reach fieldsyncd: socket path too long (%d bytes; at most %zu)",
                        n, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    return 0;
}
