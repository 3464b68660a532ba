/*
 * util.c — helpers the fieldsync CLI files share: errors, URL escaping
 * (libcurl's), --set parsing and JSON lookups.  The byte buffer is
 * store/util.h's fs_buf.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/cli/cli.h"

int cli_fail(cli_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->code = code;
        err->json[0] = '\0';
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int cli_url_escape(fs_buf *out, const char *s)
{
    char *esc;
    int rc;

    /* "." and ".." are dot-segments a URL parser would fold away: escape
     * them whole, which curl_easy_escape (leaving '.' alone) would not. */
    if (s[0] != '\0' && s[strspn(s, ".")] == '\0') {
        for (; *s; s++)
            fs_buf_adds(out, "%2E");
        return fs_buf_error(out) ? -1 : 0;
    }
    esc = curl_easy_escape(NULL, s, 0);
    if (!esc)
        return -1;
    rc = fs_buf_adds(out, esc);
    curl_free(esc);
    return rc ? -1 : 0;
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
 * surrounded by optional blanks.  cJSON also reads "007" and "+1" as
 * numbers; JSON does not. */
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
    size_t n = strcspn(arg, ":=");
    int typed = arg[n] == ':' && arg[n + 1] == '=';
    const char *value = arg + n + (typed ? 2 : 1), *end = NULL;
    char *field;
    cJSON *val;
    int rc;

    if (n == 0 || !(typed || arg[n] == '='))
        return cli_fail(err, CLI_EXIT_USAGE, "--set wants FIELD=VALUE or FIELD:=JSON, not '%s'",
                        arg);
    if (typed) {
        val = cJSON_ParseWithOpts(value, &end, 1);
        if (cJSON_IsNumber(val) && !json_number_text(value)) {
            cJSON_Delete(val);
            val = NULL;
        }
        if (!val)
            return cli_fail(err, CLI_EXIT_USAGE,
                            "--set %.*s:= wants a JSON value (90, true, null, \"text\", "
                            "{...}), not '%s'", (int)n, arg, value);
    } else {
        val = cJSON_CreateString(value);
    }
    field = strndup(arg, n);
    if (!field || !val) {
        free(field);
        cJSON_Delete(val);
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    }
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
