/*
 * config.c — where fieldsyncd's socket is, found with the daemon's own
 * code (agent/paths.c: the same defaults, the same config file reader, the
 * same "~/" expansion), so that `fieldsync` with no options talks to the
 * daemon the same user started.  The CLI reads only the `socket` and
 * `max_age` keys of the config file: the daemon's own loader also checks
 * the API key file, which is none of the client's business.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "agent/cli/cli.h"
#include "agent/paths.h"

struct socket_key {
    char *buf;
    size_t len;
    int found;
};

/* The config file reader's callback: keeps the last non-empty `socket`. */
static int take_socket(void *ctx, const char *path, int lineno, const char *key,
                       const char *value, char *err, size_t errlen)
{
    struct socket_key *sk = ctx;
    char *full;
    int n;

    /* An empty value is the daemon's error to report; the CLI ignores it. */
    if (strcmp(key, "socket") != 0 || !*value)
        return 0;
    full = paths_expand(value);
    if (!full) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n = snprintf(sk->buf, sk->len, "%s", full);
    free(full);
    if (n < 0 || (size_t)n >= sk->len) {
        snprintf(err, errlen, "%s:%d: socket path too long", path, lineno);
        return -1;
    }
    sk->found = 1; /* the last one wins, as in the daemon */
    return 0;
}

int cli_config_socket(const char *file, char *buf, size_t len, cli_error *err)
{
    struct socket_key sk = {buf, len, 0};
    char why[sizeof err->msg];
    int rc = paths_config_read_all(file, take_socket, &sk, why, sizeof why);

    if (rc < 0)
        return cli_fail(err, CLI_EXIT_USAGE, "%s", why);
    return sk.found; /* from the user's file or a system-wide one */
}

int cli_socket_path(const char *flag, char *buf, size_t len, cli_error *err)
{
    const char *env = getenv("FIELDSYNC_SOCKET");
    char *file, *path = NULL;
    int n, rc = 0;

    if (flag)
        path = paths_expand(flag);
    else if (env && env[0])
        path = paths_expand(env);
    else {
        file = paths_config_file();
        if (file)
            rc = cli_config_socket(file, buf, len, err);
        free(file);
        if (rc < 0)
            return -1;
        path = rc ? strdup(buf) : paths_socket_default(NULL);
    }
    if (!path)
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    n = snprintf(buf, len, "%s", path);
    free(path);
    if (n < 0)
        return -1;
    if ((size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return cli_fail(err, CLI_EXIT_UNREACHABLE,
                        "cannot reach fieldsyncd: socket path too long (%d bytes; at most %zu)",
                        n, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    return 0;
}

/* The config file reader's callback: keeps the last valid `max_age`. */
static int take_max_age(void *ctx, const char *path, int lineno, const char *key,
                        const char *value, char *err, size_t errlen)
{
    long *out = ctx;
    char *end;
    long v;

    (void)path, (void)lineno, (void)err, (void)errlen;
    if (strcmp(key, "max_age") != 0)
        return 0;
    v = strtol(value, &end, 10);
    if (*value && *end == '\0' && v > 0) /* a bad value is the daemon's to report */
        *out = v;
    return 0;
}

long cli_config_max_age(void)
{
    long max_age = CLI_DEFAULT_MAX_AGE;
    char *file = paths_config_file();
    char why[256];

    if (file)
        paths_config_read(file, take_max_age, &max_age, why, sizeof why);
    free(file);
    return max_age;
}
