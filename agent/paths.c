/* paths.c — default paths and the config file reader both programs share (see paths.h). */
#include "agent/paths.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *paths_home(void)
{
    const char *h = getenv("HOME");
    struct passwd *pw;
    if (h && h[0] == '/')
        return h;
    pw = getpwuid(getuid());
    return (pw && pw->pw_dir && pw->pw_dir[0] == '/') ? pw->pw_dir : NULL;
}

char *paths_expand(const char *v)
{
    const char *home;
    char *out;
    size_t n;
    if (strncmp(v, "~/", 2) != 0 || !(home = paths_home()))
        return strdup(v);
    n = strlen(home) + strlen(v);
    out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s", home, v + 1);
    return out;
}

char *paths_xdg(const char *var, const char *fallback, const char *leaf)
{
    const char *base = getenv(var), *home;
    char buf[PATH_MAX];
    int n;
    if (base && base[0] == '/')
        n = snprintf(buf, sizeof buf, "%s/%s", base, leaf);
    else if ((home = paths_home()))
        n = snprintf(buf, sizeof buf, "%s/%s/%s", home, fallback, leaf);
    else
        n = snprintf(buf, sizeof buf, "/%s/%s", fallback, leaf);
    if (n < 0 || (size_t)n >= sizeof buf)
        return NULL;
    return strdup(buf);
}

char *paths_config_file(void)
{
    return paths_xdg("XDG_CONFIG_HOME", ".config", "fieldsync/config");
}

char *paths_socket_default(int *private_dir)
{
    const char *rt = getenv("XDG_RUNTIME_DIR");
    char buf[PATH_MAX];
    int priv = !(rt && rt[0] == '/');
    if (!priv)
        snprintf(buf, sizeof buf, "%s/fieldsync.sock", rt);
    else
        snprintf(buf, sizeof buf, "/tmp/fieldsync-%lu/fieldsync.sock", (unsigned long)getuid());
    if (private_dir)
        *private_dir = priv;
    return strdup(buf);
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Splits one line (without its newline) and hands it to fn. */
static int read_line(char *line, const char *path, int lineno, paths_config_fn fn, void *ctx,
                     char *err, size_t errlen)
{
    char *s = trim(line), *eq, *key, *value;
    size_t vl;

    if (!*s || *s == '#')
        return 0;
    eq = strchr(s, '=');
    if (!eq) {
        snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
        return -1;
    }
    *eq = '\0';
    key = trim(s);
    value = trim(eq + 1);
    if (!*key) {
        snprintf(err, errlen, "%s:%d: missing key before '='", path, lineno);
        return -1;
    }
    vl = strlen(value);
    if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
        value[vl - 1] = '\0';
        value++;
    }
    return fn(ctx, path, lineno, key, value, err, errlen);
}

int paths_config_read(const char *path, paths_config_fn fn, void *ctx, char *err,
                      size_t errlen)
{
    FILE *fp = NULL;
    char line[PATHS_CONFIG_MAX_LINE + 2];
    int lineno = 0, rc = -1, fd;
    size_t total = 0;
    struct stat st;
    char ignored[1];

    if (!err || !errlen) { /* messages are formatted straight into err */
        err = ignored;
        errlen = sizeof ignored;
    }
    /* O_NONBLOCK: a FIFO put in place of the file must not hang us. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    fp = fdopen(fd, "r");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    while (fgets(line, sizeof line, fp)) {
        size_t n = strlen(line);
        lineno++;
        total += n;
        if (total > PATHS_CONFIG_MAX_FILE) {
            snprintf(err, errlen, "%s:%d: file larger than %d bytes", path, lineno,
                 PATHS_CONFIG_MAX_FILE);
            goto out;
        }
        if (n && line[n - 1] == '\n')
            line[--n] = '\0';
        else if (n > PATHS_CONFIG_MAX_LINE) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                 PATHS_CONFIG_MAX_LINE);
            goto out;
        }
        if (memchr(line, '\0', n) != NULL && strlen(line) != n) {
            snprintf(err, errlen, "%s:%d: NUL byte in line", path, lineno);
            goto out;
        }
        if (read_line(line, path, lineno, fn, ctx, err, errlen) < 0)
            goto out;
    }
    if (ferror(fp)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    rc = 0;
out:
    fclose(fp);
    return rc;
}

void paths_list_release(paths_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Appends a copy of "a/b" (b may be NULL) to l; -1 when out of memory. */
static int list_add(paths_list *l, const char *a, const char *b)
{
    char **nv;
    char *s;
    size_t len = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;

    s = malloc(len);
    if (!s)
        return -1;
    snprintf(s, len, b ? "%s/%s" : "%s", a, b ? b : "");
    nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    if (!nv) {
        free(s);
        return -1;
    }
    l->v = nv;
    l->v[l->n++] = s;
    return 0;
}

static int is_conf_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    /* Hidden files (an editor's .swp, a package manager's leftovers) are
     * not configuration. */
    return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* Byte order, not the locale's: every laptop of a fleet reads the same order. */
static int byte_order(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* dir/fieldsync/config if it exists, then dir/fieldsync/config.d/ *.conf. */
static int add_dir(paths_list *out, const char *dir)
{
    char base[PATH_MAX], path[PATH_MAX];
    struct dirent **names = NULL;
    struct stat st;
    int n, rc = 0;

    if (snprintf(base, sizeof base, "%s/fieldsync", dir) >= (int)sizeof base)
        return 0; /* too long to exist */
    if (snprintf(path, sizeof path, "%s/config", base) < (int)sizeof path && stat(path, &st) == 0 &&
        list_add(out, path, NULL) < 0)
        return -1;
    if (snprintf(path, sizeof path, "%s/config.d", base) >= (int)sizeof path)
        return 0;
    n = scandir(path, &names, is_conf_name, byte_order);
    if (n < 0)
        return 0; /* no such directory */
    for (int i = 0; i < n; i++) {
        if (rc == 0 && list_add(out, path, names[i]->d_name) < 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int paths_config_system_files(paths_list *out)
{
    const char *env = getenv("XDG_CONFIG_DIRS");
    char *dirs, *end;

    out->v = NULL;
    out->n = 0;
    /* The spec: unset or empty means /etc/xdg. */
    dirs = strdup(env && *env ? env : "/etc/xdg");
    if (!dirs)
        return -1;
    /* From the last entry (least important) to the first. */
    end = dirs + strlen(dirs);
    for (;;) {
        char *start = end;
        while (start > dirs && start[-1] != ':')
            start--;
        *end = '\0';
        /* Relative entries are invalid by the spec and ignored. */
        if (start[0] == '/' && add_dir(out, start) < 0) {
            paths_list_release(out);
            free(dirs);
            return -1;
        }
        if (start == dirs)
            break;
        end = start - 1;
    }
    free(dirs);
    return 0;
}

int paths_config_read_all(const char *user_file, paths_config_fn fn, void *ctx, char *err,
                          size_t errlen)
{
    paths_list sys;
    int rc = 0;

    if (paths_config_system_files(&sys) < 0) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < sys.n && rc == 0; i++)
        if (paths_config_read(sys.v[i], fn, ctx, err, errlen) < 0)
            rc = -1;
    paths_list_release(&sys);
    return rc < 0 ? rc : paths_config_read(user_file, fn, ctx, err, errlen);
}
