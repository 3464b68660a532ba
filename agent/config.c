/* config.c — the configuration of fieldsyncd (see config.h). */
#include "agent/config.h"
#include "agent/paths.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum {
    T_URL, T_PATH, T_FILE, T_ID, T_GROUP, T_INT, T_POLICY, T_LEVEL, T_PROXY
} value_type;

/* The table of settings: its name, the type of its value and its bounds. */
static const struct {
    const char *name;
    value_type type;
    int min, max;
} keys[CK__COUNT] = {
    [CK_API_URL] = { "api_url", T_URL, 0, 0 },
    [CK_API_KEY_FILE] = { "api_key_file", T_PATH, 0, 0 },
    [CK_TECHNICIAN_ID] = { "technician_id", T_ID, 0, 0 },
    [CK_BRANCH_ID] = { "branch_id", T_ID, 0, 0 },
    [CK_DAYS_BACK] = { "days_back", T_INT, 0, 3650 },
    [CK_DAYS_AHEAD] = { "days_ahead", T_INT, 0, 3650 },
    [CK_DB] = { "db", T_PATH, 0, 0 },
    [CK_SOCKET] = { "socket", T_PATH, 0, 0 },
    [CK_SOCKET_GROUP] = { "socket_group", T_GROUP, 0, 0 },
    [CK_INTERVAL] = { "interval", T_INT, 1, 86400 },
    [CK_CONFLICT_POLICY] = { "conflict_policy", T_POLICY, 0, 0 },
    [CK_MAX_CONNECTIONS] = { "max_connections", T_INT, 1, 64 },
    [CK_LOG_LEVEL] = { "log_level", T_LEVEL, 0, 0 },
    [CK_NOTIFY_COMMAND] = { "notify_command", T_PATH, 0, 0 },
    [CK_REQUEST_BUDGET] = { "request_budget", T_INT, 1, 1000000 },
    [CK_MAX_AGE] = { "max_age", T_INT, 60, 365 * 86400 },
    [CK_CA_FILE] = { "ca_file", T_FILE, 0, 0 },
    [CK_PROXY] = { "proxy", T_PROXY, 0, 0 },
};

/* Longest socket path: sun_path holds 108 bytes including the NUL. */
#define SOCKET_PATH_MAX 107

const char *config_key_name(config_key k)
{
    return ((int)k >= 0 && k < CK__COUNT) ? keys[k].name : "?";
}


static char **str_slot(agent_config *c, config_key k)
{
    switch (k) {
    case CK_API_URL: return &c->api_url;
    case CK_API_KEY_FILE: return &c->api_key_file;
    case CK_TECHNICIAN_ID: return &c->technician_id;
    case CK_BRANCH_ID: return &c->branch_id;
    case CK_DB: return &c->db;
    case CK_SOCKET: return &c->socket;
    case CK_SOCKET_GROUP: return &c->socket_group;
    case CK_NOTIFY_COMMAND: return &c->notify_command;
    case CK_CA_FILE: return &c->ca_file;
    case CK_PROXY: return &c->proxy;
    default: return NULL;
    }
}

static int *int_slot(agent_config *c, config_key k)
{
    switch (k) {
    case CK_DAYS_BACK: return &c->days_back;
    case CK_DAYS_AHEAD: return &c->days_ahead;
    case CK_INTERVAL: return &c->interval;
    case CK_MAX_CONNECTIONS: return &c->max_connections;
    case CK_REQUEST_BUDGET: return &c->request_budget;
    case CK_MAX_AGE: return &c->max_age;
    default: return NULL;
    }
}

static int parse_int(const char *v, int min, int max, int *out)
{
    char *end;
    long n;
    if (!*v || isspace((unsigned char)*v))
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *out = (int)n;
    return 0;
}

/* Text from outside shown in a message: bounded, so one line stays one. */
static void shown(char *buf, size_t len, const char *v)
{
    size_t i;
    for (i = 0; v[i] && i + 1 < len && i < 60; i++)
        buf[i] = isprint((unsigned char)v[i]) ? v[i] : '?';
    buf[i] = '\0';
    if (v[i] && len > 4 && i >= 3)
        memcpy(buf + i - 3, "...", 3);
}

/*
 * A proxy as libcurl takes it: [SCHEME://]HOST[:PORT][/], SCHEME one of
 * those libcurl speaks to a proxy.  Userinfo is allowed (a proxy's own
 * login) and never shown: see shown_proxy().
 */
static int proxy_ok(const char *v)
{
    static const char *const schemes[] = { "http://", "https://", "socks4://", "socks4a://",
                                            "socks5://", "socks5h://" };
    const char *host = v;
    if (strlen(v) > 2048 || strpbrk(v, " \t"))
        return 0;
    if (strstr(v, "://")) {
        host = NULL;
        for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && !host; i++)
            if (strncmp(v, schemes[i], strlen(schemes[i])) == 0)
                host = v + strlen(schemes[i]);
        if (!host)
            return 0;
    }
    if (strrchr(host, '@'))
        host = strrchr(host, '@') + 1; /* past the proxy's login */
    return *host && *host != '/' && *host != ':';
}

/* A proxy for display: "scheme://(redacted)@host:port" when it has a login. */
static void shown_proxy(char *buf, size_t len, const char *v)
{
    const char *at = strrchr(v, '@'), *sep = strstr(v, "://");
    const char *auth = sep ? sep + 3 : v;
    if (!at || at < auth)
        snprintf(buf, len, "%s", v);
    else
        snprintf(buf, len, "%.*s(redacted)%s", (int)(auth - v), v, at);
}

int config_set(agent_config *c, config_key k, const char *value, char *why, size_t whylen)
{
    char show[64];
    int iv;
    char **sp;

    shown(show, sizeof show, value);
    if (!*value) {
        fs_errfmt(why, whylen, "empty value");
        return -1;
    }
    for (const char *p = value; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            fs_errfmt(why, whylen, "control character in value");
            return -1;
        }
    }
    switch (keys[k].type) {
    case T_URL:
        if ((strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) ||
            strlen(value) > 2048 || strchr(value, ' ')) {
            fs_errfmt(why, whylen, "invalid URL '%s' (expected http://HOST[:PORT]/PATH or https://…)", show);
            return -1;
        }
        break;
    case T_PATH:
    case T_FILE:
        if (strlen(value) >= PATH_MAX) {
            fs_errfmt(why, whylen, "path too long");
            return -1;
        }
        break;
    case T_ID:
        if (strlen(value) > CONFIG_MAX_ID || strpbrk(value, " /?#&%")) {
            fs_errfmt(why, whylen, "invalid id '%s' (at most %d characters, no spaces or /?#&%%)",
                    show, CONFIG_MAX_ID);
            return -1;
        }
        break;
    case T_GROUP:
        if (!getgrnam(value)) {
            fs_errfmt(why, whylen, "no such group '%s'", show);
            return -1;
        }
        break;
    case T_INT:
        if (parse_int(value, keys[k].min, keys[k].max, &iv) < 0) {
            fs_errfmt(why, whylen, "invalid value '%s' (expected a whole number from %d to %d)",
                    show, keys[k].min, keys[k].max);
            return -1;
        }
        *int_slot(c, k) = iv;
        return 0;
    case T_POLICY:
        if (sync_policy_parse(value, &c->policy) < 0) {
            fs_errfmt(why, whylen, "invalid value '%s' (expected lww, server_wins, client_wins or manual)", show);
            return -1;
        }
        return 0;
    case T_PROXY:
        if (!proxy_ok(value)) {
            shown_proxy(show, sizeof show, value);
            fs_errfmt(why, whylen, "invalid proxy '%.60s' (expected [http|https|socks4|socks4a|socks5|socks5h://]HOST[:PORT])",
                      show);
            return -1;
        }
        break;
    case T_LEVEL:
        if (fs_log_level_parse(value, &c->log_level) < 0) {
            fs_errfmt(why, whylen, "invalid value '%s' (expected error, warn, info or debug)", show);
            return -1;
        }
        return 0;
    }
    sp = str_slot(c, k);
    {
        int is_path = keys[k].type == T_PATH || keys[k].type == T_FILE;
        char *copy = is_path ? paths_expand(value) : strdup(value);
        struct stat st;
        if (!copy) {
            fs_errfmt(why, whylen, "out of memory");
            return -1;
        }
        /* A CA bundle that cannot be read would make every request fail
         * later with a TLS error; say so now, naming the file. */
        if (keys[k].type == T_FILE &&
            (stat(copy, &st) < 0 || !S_ISREG(st.st_mode) || access(copy, R_OK) < 0)) {
            fs_errfmt(why, whylen, "%s is not a readable file", copy);
            free(copy);
            return -1;
        }
        if (k == CK_SOCKET && strlen(copy) > SOCKET_PATH_MAX) {
            fs_errfmt(why, whylen, "socket path longer than %d bytes", SOCKET_PATH_MAX);
            free(copy);
            return -1;
        }
        free(*sp);
        *sp = copy;
    }
    if (k == CK_SOCKET)
        c->socket_private_dir = 0;
    return 0;
}

/* Levenshtein distance of two short strings; longer ones count as far. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

const char *config_closest_key(const char *name)
{
    size_t best = SIZE_MAX, len = strlen(name);
    /* A third of the word may be wrong, at least two letters: close
     * enough to be a typo, not so loose that any short word matches. */
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    const char *out = NULL;
    for (int k = 0; k < CK__COUNT; k++) {
        size_t d = edit_distance(name, keys[k].name);
        if (d < best) {
            best = d;
            out = keys[k].name;
        }
    }
    return best <= limit ? out : NULL;
}

static int find_key(const char *name)
{
    for (int k = 0; k < CK__COUNT; k++)
        if (strcmp(keys[k].name, name) == 0)
            return k;
    return -1;
}

/* One `key = value` line of the file (paths_config_read has split it). */
static int parse_line(void *ctx, const char *path, int lineno, const char *name,
                      const char *value, char *err, size_t errlen)
{
    agent_config *c = ctx;
    char why[256], show[64];
    int k;

    shown(show, sizeof show, name);
    k = find_key(name);
    if (k < 0 && strcmp(name, "api_key") == 0) {
        /* Not a typo: a secret in a file others may read, refused. */
        fs_errfmt(err, errlen, "%s:%d: unknown key 'api_key' (put the key in a file "
                  "readable only by you and name it with api_key_file)", path, lineno);
        return -1;
    }
    if (k < 0) {
        /* A warning, not a refusal: a fleet rolling out a newer config
         * to older agents must not stop them over one key. */
        const char *near = config_closest_key(name);
        if (c->n_warnings < CONFIG_MAX_WARNINGS) {
            char *w = c->warnings[c->n_warnings];
            size_t wl = sizeof c->warnings[0];
            if (near)
                snprintf(w, wl, "%.200s:%d: unknown key '%s' ignored (did you mean '%s'?)", path,
                         lineno, show, near);
            else
                snprintf(w, wl, "%.200s:%d: unknown key '%s' ignored", path, lineno, show);
        }
        c->n_warnings++;
        return 0;
    }
    if (config_set(c, (config_key)k, value, why, sizeof why) < 0) {
        fs_errfmt(err, errlen, "%s:%d: key '%s': %s", path, lineno, keys[k].name, why);
        return -1;
    }
    snprintf(c->origin[k], sizeof c->origin[k], "%s:%d", path, lineno);
    return 0;
}

static int set_defaults(agent_config *c)
{
    memset(c, 0, sizeof *c);
    c->days_back = 7;
    c->days_ahead = 30;
    c->interval = 60;
    c->policy = POLICY_LWW;
    c->max_connections = 8;
    c->log_level = FS_LOG_INFO;
    c->request_budget = 300;
    c->max_age = 86400;
    for (int k = 0; k < CK__COUNT; k++)
        snprintf(c->origin[k], sizeof c->origin[k], "default");
    snprintf(c->key_origin, sizeof c->key_origin, "default");
    c->db = paths_xdg("XDG_STATE_HOME", ".local/state", "fieldsync/replica.db");
    c->socket = paths_socket_default(&c->socket_private_dir);
    return (c->db && c->socket) ? 0 : -1;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void config_release(agent_config *c)
{
    if (!c)
        return;
    free(c->config_path);
    free(c->api_url);
    free(c->api_key_file);
    wipe_free(c->api_key);
    free(c->technician_id);
    free(c->branch_id);
    free(c->db);
    free(c->socket);
    free(c->socket_group);
    free(c->notify_command);
    free(c->ca_file);
    free(c->proxy);
    paths_list_release(&c->system_files);
    memset(c, 0, sizeof *c);
}

int config_read_key_file(const char *path, char **key_out, char *err, size_t errlen)
{
    char buf[CONFIG_MAX_KEY + 2];
    struct stat st;
    ssize_t n;
    size_t len = 0;
    int fd, rc = -1;
    char *k, *e;

    *key_out = NULL;
    /* O_NONBLOCK: a FIFO put in place of the file must not hang us. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        fs_errfmt(err, errlen, "API key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        fs_errfmt(err, errlen, "API key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        fs_errfmt(err, errlen, "API key file %s is not a regular file", path);
        goto out;
    }
    if (st.st_mode & 0077) {
        fs_errfmt(err, errlen, "API key file %s is %s by group or others (mode %04o); run chmod 600 %s",
                path, (st.st_mode & 0044) ? "readable" : "writable",
                (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_uid != getuid() && st.st_uid != 0) {
        fs_errfmt(err, errlen, "API key file %s is owned by another user (uid %lu)", path,
                (unsigned long)st.st_uid);
        goto out;
    }
    while (len < sizeof buf - 1) {
        n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fs_errfmt(err, errlen, "API key file %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    k = buf;
    while (len && isspace((unsigned char)*k)) {
        k++;
        len--;
    }
    e = k + len;
    while (e > k && isspace((unsigned char)e[-1]))
        e--;
    *e = '\0';
    len = (size_t)(e - k);
    if (len > CONFIG_MAX_KEY) {
        fs_errfmt(err, errlen, "API key file %s is larger than %d bytes", path, CONFIG_MAX_KEY);
        goto out;
    }
    if (len == 0) {
        fs_errfmt(err, errlen, "API key file %s is empty", path);
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)k[i] < 0x21 || k[i] == 0x7f) {
            fs_errfmt(err, errlen, "API key file %s holds more than one word or a control character", path);
            goto out;
        }
    }
    *key_out = strdup(k);
    if (!*key_out) {
        fs_errfmt(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(buf, sizeof buf);
    close(fd);
    return rc;
}

/* One flag or environment variable, applied over the file's value. */
static int apply_over(agent_config *c, config_key k, const char *value, const char *origin,
                      char *err, size_t errlen)
{
    char why[256];
    if (!value)
        return 0;
    if (config_set(c, k, value, why, sizeof why) < 0) {
        fs_errfmt(err, errlen, "%s: %s", origin, why);
        return -1;
    }
    snprintf(c->origin[k], sizeof c->origin[k], "%s", origin);
    return 0;
}

/* Resolves the key: see config.h for the order of its sources. */
static int load_key(agent_config *c, const config_flags *f, char *err, size_t errlen)
{
    const char *env_key = getenv("FIELDSYNC_API_KEY");
    const char *env_file = getenv("FIELDSYNC_API_KEY_FILE");
    char why[256];

    if (f->api_key_file) {
        /* already applied to api_key_file by the caller */
    } else if (env_key) {
        size_t n;
        const char *s = env_key;
        while (isspace((unsigned char)*s))
            s++;
        n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        if (n == 0 || n > CONFIG_MAX_KEY) {
            fs_errfmt(err, errlen, "FIELDSYNC_API_KEY is empty or longer than %d bytes", CONFIG_MAX_KEY);
            return -1;
        }
        c->api_key = strndup(s, n);
        if (!c->api_key) {
            fs_errfmt(err, errlen, "out of memory");
            return -1;
        }
        free(c->api_key_file);
        c->api_key_file = NULL;
        snprintf(c->origin[CK_API_KEY_FILE], sizeof c->origin[CK_API_KEY_FILE],
                 "not used: FIELDSYNC_API_KEY is set");
        snprintf(c->key_origin, sizeof c->key_origin, "env FIELDSYNC_API_KEY");
        return 0;
    } else if (env_file) {
        if (config_set(c, CK_API_KEY_FILE, env_file, why, sizeof why) < 0) {
            fs_errfmt(err, errlen, "FIELDSYNC_API_KEY_FILE: %s", why);
            return -1;
        }
        snprintf(c->origin[CK_API_KEY_FILE], sizeof c->origin[CK_API_KEY_FILE],
                 "env FIELDSYNC_API_KEY_FILE");
    }
    if (!c->api_key_file)
        return 0;
    if (config_read_key_file(c->api_key_file, &c->api_key, err, errlen) < 0)
        return -1;
    snprintf(c->key_origin, sizeof c->key_origin, "key file, %s", c->origin[CK_API_KEY_FILE]);
    return 0;
}

int config_load(const config_flags *f, agent_config *out, char *err, size_t errlen)
{
    static const struct {
        config_key k;
        const char *env;
    } envs[] = {
        { CK_API_URL, "FIELDSYNC_API_URL" },
        { CK_TECHNICIAN_ID, "FIELDSYNC_TECHNICIAN_ID" },
        { CK_DB, "FIELDSYNC_DB" },
        { CK_SOCKET, "FIELDSYNC_SOCKET" },
    };
    agent_config c;
    char origin[64];
    int frc;

    if (set_defaults(&c) < 0) {
        fs_errfmt(err, errlen, "out of memory");
        goto fail;
    }
    c.config_path = f->config ? strdup(f->config) : paths_config_file();
    if (!c.config_path) {
        fs_errfmt(err, errlen, "cannot determine the config file path");
        goto fail;
    }
    if (paths_config_system_files(&c.system_files) < 0) {
        fs_errfmt(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < c.system_files.n; i++)
        if (paths_config_read(c.system_files.v[i], parse_line, &c, err, errlen) < 0)
            goto fail;
    frc = paths_config_read(c.config_path, parse_line, &c, err, errlen);
    if (frc < 0)
        goto fail;
    if (frc == 1 && f->config) {
        fs_errfmt(err, errlen, "%s: no such config file", c.config_path);
        goto fail;
    }
    c.config_found = frc == 0;

    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        const char *v = getenv(envs[i].env);
        snprintf(origin, sizeof origin, "env %s", envs[i].env);
        if (v && apply_over(&c, envs[i].k, v, origin, err, errlen) < 0)
            goto fail;
    }
    if (apply_over(&c, CK_API_URL, f->api_url, "flag --api-url", err, errlen) < 0 ||
        apply_over(&c, CK_API_KEY_FILE, f->api_key_file, "flag --api-key-file", err, errlen) < 0 ||
        apply_over(&c, CK_TECHNICIAN_ID, f->technician_id, "flag --technician-id", err, errlen) < 0 ||
        apply_over(&c, CK_DB, f->db, "flag --db", err, errlen) < 0 ||
        apply_over(&c, CK_SOCKET, f->socket, "flag --socket", err, errlen) < 0 ||
        apply_over(&c, CK_INTERVAL, f->interval, "flag --interval", err, errlen) < 0 ||
        apply_over(&c, CK_LOG_LEVEL, f->log_level, "flag --log-level", err, errlen) < 0)
        goto fail;
    if (load_key(&c, f, err, errlen) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    config_release(&c);
    return -1;
}

int config_require(const agent_config *c, char *err, size_t errlen)
{
    if (!c->api_url) {
        fs_errfmt(err, errlen, "no API URL: set api_url in %s, FIELDSYNC_API_URL or --api-url",
                c->config_path ? c->config_path : "the config file");
        return -1;
    }
    if (!c->api_key) {
        fs_errfmt(err, errlen, "no API key: name a key file (mode 0600) with api_key_file, "
                "FIELDSYNC_API_KEY_FILE or --api-key-file, or set FIELDSYNC_API_KEY");
        return -1;
    }
    return 0;
}

void config_log_warnings(const agent_config *c)
{
    for (int i = 0; i < c->n_warnings && i < CONFIG_MAX_WARNINGS; i++)
        fs_log_warn("config: %s", c->warnings[i]);
    if (c->n_warnings > CONFIG_MAX_WARNINGS)
        fs_log_warn("config: %d more unknown keys ignored", c->n_warnings - CONFIG_MAX_WARNINGS);
}

void config_print(const agent_config *c, FILE *fp)
{
    for (size_t i = 0; i < c->system_files.n; i++)
        fprintf(fp, "system_config = %s  # read (XDG_CONFIG_DIRS)\n", c->system_files.v[i]);
    fprintf(fp, "config = %s  # %s\n", c->config_path ? c->config_path : "(none)",
            c->config_found ? "read" : "not found, defaults used");
    for (int k = 0; k < CK__COUNT; k++) {
        char **sp = str_slot((agent_config *)c, (config_key)k);
        int *ip = int_slot((agent_config *)c, (config_key)k);
        const char *name = keys[k].name;
        if (sp && k == CK_PROXY && *sp) {
            char show[2100];
            shown_proxy(show, sizeof show, *sp);
            fprintf(fp, "%s = %s  # %s\n", name, show, c->origin[k]);
        } else if (sp)
            fprintf(fp, "%s = %s  # %s\n", name, *sp ? *sp : "(not set)", c->origin[k]);
        else if (ip)
            fprintf(fp, "%s = %d  # %s\n", name, *ip, c->origin[k]);
        else if (k == CK_CONFLICT_POLICY)
            fprintf(fp, "%s = %s  # %s\n", name, sync_policy_name(c->policy), c->origin[k]);
        else if (k == CK_LOG_LEVEL)
            fprintf(fp, "%s = %s  # %s\n", name, fs_log_level_name(c->log_level), c->origin[k]);
        if (k == CK_API_KEY_FILE)
            fprintf(fp, "api_key = %s  # %s\n", c->api_key ? "(set, redacted)" : "(not set)",
                    c->api_key ? c->key_origin : "no key file or FIELDSYNC_API_KEY");
    }
}
