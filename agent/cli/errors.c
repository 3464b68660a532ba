/*
 * errors.c — what the CLI says, and which exit status it returns, when
 * the daemon answers with an error or a sync ends badly.
 */
#include <ctype.h>
#include <string.h>

#include "agent/cli/cli.h"

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

int cli_daemon_error(long status, const char *body, const char *subject, const char *id,
                     cli_error *err)
{
    cJSON *doc;
    const cJSON *e, *msg;
    fs_buf b;

    if (status == 404 && subject && id)
        return cli_fail(err, CLI_EXIT_DAEMON, "%s %s not found", subject, id);
    doc = cJSON_Parse(body ? body : "");
    e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (!cJSON_IsString(msg) || !msg->valuestring[0]) {
        cJSON_Delete(doc);
        return cli_fail(err, CLI_EXIT_DAEMON, "fieldsyncd answered HTTP %ld", status);
    }
    fs_buf_init(&b, 64 * 1024);
    fs_buf_adds(&b, msg->valuestring);
    if (b.data)
        lower_first(b.data);
    add_details(&b, cJSON_GetObjectItemCaseSensitive(e, "details"));
    /* Cut at the line's bound rather than lose the whole message. */
    cli_fail(err, CLI_EXIT_DAEMON, "%s", b.data ? b.data : msg->valuestring);
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
