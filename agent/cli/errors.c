/*
 * errors.c — what the CLI says, and which exit status it returns, when
 * the daemon answers with an error or a sync ends badly.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/output.h"

int cli_exit_for_http(long status)
{
    return status >= 200 && status < 300 ? CLI_EXIT_OK : CLI_EXIT_DAEMON;
}

/* "Validation failed" reads better mid-line as "validation failed";
 * "ETag mismatch" keeps its capitals. */
static void lower_first(char *s)
{
    if (isupper((unsigned char)s[0]) && islower((unsigned char)s[1]))
        s[0] = (char)tolower((unsigned char)s[0]);
}

/* Appends ": field: message; field: message" from error.details. */
static void add_details(fs_buf *b, const cJSON *details)
{
    const cJSON *d, *list = cJSON_IsArray(details) ? details : NULL;
    const char *sep = ": ";

    cJSON_ArrayForEach(d, list) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(d, "field");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, "message");

        if (!cJSON_IsString(m))
            continue;
        fs_buf_adds(b, sep);
        if (cJSON_IsString(f) && f->valuestring[0])
            fs_buf_addf(b, "%s: ", f->valuestring);
        fs_buf_adds(b, m->valuestring);
        sep = "; ";
    }
}

/* Keeps the daemon's {"error": e} in err->json for --json, if it fits. */
static void keep_error_json(const cJSON *e, cli_error *err)
{
    cJSON *whole;
    char *js = NULL;

    if (!err || !cJSON_IsObject(e) || !(whole = cJSON_CreateObject()))
        return;
    if (cJSON_AddItemReferenceToObject(whole, "error", (cJSON *)e))
        js = cJSON_PrintUnformatted(whole);
    if (js && strlen(js) < sizeof err->json)
        memcpy(err->json, js, strlen(js) + 1);
    free(js);
    cJSON_Delete(whole);
}

int cli_daemon_error(long status, const char *body, const char *subject, const char *id,
                     cli_error *err)
{
    cJSON *doc = cJSON_Parse(body ? body : "");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    fs_buf b;

    fs_buf_init(&b, 64 * 1024);
    if (status == 404 && subject && id) {
        cli_fail(err, CLI_EXIT_DAEMON, "%s %s not found", subject, id);
    } else if (!cJSON_IsString(msg) || !msg->valuestring[0]) {
        cli_fail(err, CLI_EXIT_DAEMON, "fieldsyncd answered HTTP %ld", status);
    } else {
        fs_buf_adds(&b, msg->valuestring);
        if (b.data)
            lower_first(b.data);
        add_details(&b, cJSON_GetObjectItemCaseSensitive(e, "details"));
        /* Cut at the line's bound rather than lose the whole message. */
        cli_fail(err, CLI_EXIT_DAEMON, "%s", b.data ? b.data : msg->valuestring);
    }
    keep_error_json(e, err); /* for --json: the daemon's error object, as it sent it */
    fs_buf_release(&b);
    cJSON_Delete(doc);
    return -1;
}

/* A count member of the summary, 0 when absent. */
static double count(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int cli_sync_outcome(const cJSON *s, cli_error *err)
{
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(s, "last_error");
    double rejected = count(s, "rejected");
    fs_buf b;
    const char *sep = "sync finished, but ";

    fs_buf_init(&b, 64 * 1024);
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "online"))) {
        fs_buf_addf(&b, "%sthe remote was unreachable", sep);
        if (cJSON_IsString(last) && last->valuestring[0])
            fs_buf_addf(&b, " (%s)", last->valuestring);
        sep = "; ";
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "auth_error"))) {
        fs_buf_addf(&b, "%sthe remote refused the API key (auth error); edits stay queued", sep);
        sep = "; ";
    }
    if (rejected > 0) {
        fs_buf_addf(&b, "%sthe remote rejected %.0f queued edit%s (see 'fieldsync outbox')", sep,
                     rejected, rejected == 1 ? "" : "s");
        sep = "; ";
    }
    if (b.len == 0) {
        fs_buf_release(&b);
        return CLI_EXIT_OK;
    }
    cli_fail(err, CLI_EXIT_SYNC, "%s", fs_buf_str(&b));
    fs_buf_release(&b);
    return CLI_EXIT_SYNC;
}

static const cJSON *member(const cJSON *o, const char *path)
{
    return cli_json_path(o, path);
}

/* Adds one reason to why ("; " between them) and counts it. */
static void __attribute__((format(printf, 3, 4)))
reason(fs_buf *why, int *n, const char *fmt, ...)
{
    va_list ap;

    if (why) {
        fs_buf_adds(why, *n ? "; " : "");
        va_start(ap, fmt);
        fs_buf_vaddf(why, fmt, ap);
        va_end(ap);
    }
    (*n)++;
}

int cli_status_attention(const cJSON *st, int64_t now_ms, fs_buf *why)
{
    const cJSON *max_age = member(st, "max_age_s");
    double rejected = count(member(st, "outbox"), "rejected");
    double lost = count(member(st, "conflicts"), "unacknowledged");
    const cJSON *ok = member(st, "last_success_at");
    double age_limit = cJSON_IsNumber(max_age) ? max_age->valuedouble
                                               : (double)cli_config_max_age();
    int64_t ok_ms;
    int n = 0;

    if (cJSON_IsTrue(member(st, "auth_error")))
        reason(why, &n, "the remote refused the API key (auth error): edits stay queued");
    if (lost > 0)
        reason(why, &n, "%.0f lost edit%s not acknowledged (see 'fieldsync conflicts')", lost,
               lost == 1 ? "" : "s");
    if (rejected > 0)
        reason(why, &n, "%.0f edit%s rejected by the remote (see 'fieldsync outbox')", rejected,
               rejected == 1 ? "" : "s");
    /* A daemon that never succeeded yet has nothing to measure against. */
    if (cJSON_IsString(ok) && fs_time_parse(ok->valuestring, &ok_ms) == 0 &&
        (double)(now_ms - ok_ms) > age_limit * 1000) {
        char when[64];
        if (cli_time_human_ms(ok_ms, now_ms, 1, when, sizeof when) < 0)
            snprintf(when, sizeof when, "%s", ok->valuestring);
        reason(why, &n, "no successful sync since %s (max_age %.0f s)", when, age_limit);
    }
    return n;
}

int cli_status_outcome(const cJSON *status)
{
    return cli_status_attention(status, fs_wall_ms(), NULL) ? CLI_EXIT_SYNC : CLI_EXIT_OK;
}

char *cli_error_json(const cli_error *err)
{
    const char *code = err->code == CLI_EXIT_USAGE         ? "usage"
                       : err->code == CLI_EXIT_UNREACHABLE ? "unreachable"
                       : err->code == CLI_EXIT_SYNC        ? "needs_attention"
                       : err->code > 128                   ? "interrupted"
                                                           : "daemon_error";
    cJSON *o, *e;
    char *js = NULL;

    if (err->json[0])
        return strdup(err->json);
    o = cJSON_CreateObject();
    if (o && (e = cJSON_AddObjectToObject(o, "error")) &&
        cJSON_AddStringToObject(e, "code", code) &&
        cJSON_AddStringToObject(e, "message", err->msg))
        js = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return js;
}
