/*
 * util.c — helpers the fieldsync CLI files share: errors, bounded
 * growable buffers, URL escaping, --set parsing and JSON lookups.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"

int cli_fail(cli_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void cli_buf_init(cli_buf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

/* Makes room for n more bytes and the NUL; -1 past the limit or on ENOMEM. */
static int buf_reserve(cli_buf *b, size_t n)
{
    size_t need, cap;
    char *d;

    if (b->overflow || n > b->limit - b->len) {
        b->overflow = 1;
        return -1;
    }
    need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    d = realloc(b->data, cap);
    if (!d) {
        b->nomem = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int cli_buf_add(cli_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cli_buf_adds(cli_buf *b, const char *s)
{
    return cli_buf_add(b, s, strlen(s));
}

int cli_buf_addf(cli_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    int n;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0) {
        va_end(ap2);
        return -1;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return 0;
}

const char *cli_buf_str(const cli_buf *b)
{
    return b->data ? b->data : "";
}

int cli_buf_failed(const cli_buf *b)
{
    return b->overflow || b->nomem;
}

char *cli_buf_detach(cli_buf *b)
{
    char *d = b->data;

    if (!d)
        d = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void cli_buf_release(cli_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->overflow = b->nomem = 0;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '~' || c == '.';
}

int cli_url_escape(cli_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    /* "." and ".." are dot-segments a URL parser would fold away. */
    int dots_only = s[0] != '\0' && s[strspn(s, ".")] == '\0';

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) && !dots_only) {
            if (cli_buf_add(out, p, 1) < 0)
                return -1;
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            if (cli_buf_add(out, esc, 3) < 0)
                return -1;
        }
    }
    return 0;
}

int cli_json_put(cJSON *obj, const char *key, cJSON *val)
{
    if (!val)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val) ? 0 : -1;
    if (!cJSON_AddItemToObject(obj, key, val)) {
        cJSON_Delete(val);
        return -1;
    }
    return 0;
}

/* The JSON number grammar (RFC 8259): -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?,
 * surrounded by optional blanks. */
static int json_number_text(const char *s)
{
    s += strspn(s, " \t\r\n");
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        s += strspn(s, "0123456789");
    else
        return 0;
    if (*s == '.') {
        if (!(s[1] >= '0' && s[1] <= '9'))
            return 0;
        s += 1 + strspn(s + 1, "0123456789");
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        s += strspn(s, "0123456789");
    }
    s += strspn(s, " \t\r\n");
    return *s == '\0';
}

int cli_set_parse(cJSON *body, const char *arg, cli_error *err)
{
    const char *eq = strchr(arg, '='), *end = NULL;
    char *field;
    cJSON *val;
    int rc;

    if (!eq || eq == arg)
        return cli_fail(err, CLI_EXIT_USAGE, "--set wants FIELD=VALUE, not '%s'", arg);
    field = strndup(arg, (size_t)(eq - arg));
    if (!field)
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    val = cJSON_ParseWithOpts(eq + 1, &end, 1);
    /* cJSON reads "007" and "+1555" as numbers; JSON does not, and a zip
     * code or phone number must stay a string. */
    if (cJSON_IsNumber(val) && !json_number_text(eq + 1)) {
        cJSON_Delete(val);
        val = NULL;
    }
    if (!val)
        val = cJSON_CreateString(eq + 1);
    rc = cli_json_put(body, field, val);
    free(field);
    if (rc < 0)
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    return 0;
}

const cJSON *cli_json_path(const cJSON *obj, const char *path)
{
    char part[128];
    const char *dot;

    while (obj && *path) {
        size_t n;

        dot = strchr(path, '.');
        n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part || !cJSON_IsObject(obj))
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        obj = cJSON_GetObjectItemCaseSensitive(obj, part);
        path += n + (dot ? 1 : 0);
    }
    return obj;
}
