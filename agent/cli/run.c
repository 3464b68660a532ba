/*
 * run.c — runs a parsed plan: finds the socket, sends the request,
 * and shows the answer through the output functions chosen here, once.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/output.h"
#include "agent/cli/sync.h"
#include "agent/cli/watch.h"

static int unexpected(cli_error *err, const char *what)
{
    cli_fail(err, CLI_EXIT_DAEMON, "fieldsyncd sent an unexpected answer: %s", what);
    return CLI_EXIT_DAEMON;
}

/* Does a conflict's id (a number or a string) read as `id`? */
static int same_id(const cJSON *v, const char *id)
{
    char buf[64];

    if (cJSON_IsString(v))
        return strcmp(v->valuestring, id) == 0;
    if (!cJSON_IsNumber(v))
        return 0;
    snprintf(buf, sizeof buf, "%.0f", v->valuedouble);
    return strcmp(buf, id) == 0;
}

/* `conflicts show ID`: the daemon lists conflicts; we pick one. */
static int show_conflict(const cli_plan *plan, const cli_output *o, FILE *out,
                         const cJSON *data, cli_error *err)
{
    const cJSON *c;

    if (!cJSON_IsArray(data))
        return unexpected(err, "\"data\" is not a list");
    cJSON_ArrayForEach(c, data) {
        if (same_id(cJSON_GetObjectItemCaseSensitive(c, "id"), plan->id)) {
            o->conflict(out, c);
            return CLI_EXIT_OK;
        }
    }
    cli_fail(err, CLI_EXIT_DAEMON, "conflict %s not found", plan->id);
    return CLI_EXIT_DAEMON;
}

/* Shows a 2xx answer's "data" as the plan's view says. */
static int show_data(const cli_plan *plan, const cli_output *o, FILE *out, const cJSON *doc,
                     cli_error *err)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");

    if (!data && plan->view->kind == CLI_VIEW_DONE) {
        o->done(out, plan->view->done, plan->id, NULL);
        return CLI_EXIT_OK;
    }
    if (!data)
        return unexpected(err, "no \"data\"");
    switch (plan->view->kind) {
    case CLI_VIEW_LIST:
        if (!cJSON_IsArray(data))
            return unexpected(err, "\"data\" is not a list");
        o->list(out, plan->view, data, cJSON_GetObjectItemCaseSensitive(doc, "meta"));
        return CLI_EXIT_OK;
    case CLI_VIEW_RECORD:
        if (!cJSON_IsObject(data))
            return unexpected(err, "\"data\" is not a record");
        o->record(out, data);
        return CLI_EXIT_OK;
    case CLI_VIEW_STATUS:
        o->status(out, data);
        return CLI_EXIT_OK;
    case CLI_VIEW_SYNC_STARTED:
        o->sync_started(out, data);
        return CLI_EXIT_OK;
    case CLI_VIEW_SYNC_SUMMARY:
        o->sync_summary(out, data);
        return cli_sync_outcome(data, err);
    case CLI_VIEW_DONE:
        o->done(out, plan->view->done, plan->id, data);
        return CLI_EXIT_OK;
    case CLI_VIEW_CONFLICT:
        return show_conflict(plan, o, out, data, err);
    }
    return unexpected(err, "unknown view");
}

static int show_answer(const cli_plan *plan, const cli_output *o, FILE *out,
                       const cli_response *resp, cli_error *err)
{
    const char *body = fs_buf_str(&resp->body);
    cJSON *doc;
    int code;

    if (cli_exit_for_http(resp->status) != CLI_EXIT_OK) {
        cli_daemon_error(resp->status, body, plan->subject, plan->id, err);
        return CLI_EXIT_DAEMON;
    }
    if (resp->status == 204 || body[strspn(body, " \t\r\n")] == '\0') {
        if (plan->view->kind != CLI_VIEW_DONE)
            return unexpected(err, "an empty body");
        o->done(out, plan->view->done, plan->id, NULL);
        return CLI_EXIT_OK;
    }
    doc = cJSON_Parse(body);
    if (!doc)
        return unexpected(err, "not JSON");
    code = show_data(plan, o, out, doc, err);
    cJSON_Delete(doc);
    return code;
}

int cli_execute(const cli_plan *plan, FILE *out, cli_error *err)
{
    const cli_output *o = plan->json ? &cli_output_json : &cli_output_text;
    char socket[PATH_MAX], *body = NULL;
    cli_response resp = {0};
    int rc, code;

    if (plan->action == CLI_ACT_HELP) {
        fputs(plan->help, out);
        return CLI_EXIT_OK;
    }
    if (plan->action == CLI_ACT_VERSION) {
        fprintf(out, "fieldsync %s\n", FIELDSYNC_VERSION);
        return CLI_EXIT_OK;
    }
    if (cli_socket_path(plan->socket, socket, sizeof socket, err) < 0)
        return err->code;
    if (plan->action == CLI_ACT_WATCH)
        return cli_watch(socket, plan->path, o, out, err);
    if (plan->body && !(body = cJSON_PrintUnformatted(plan->body))) {
        cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
        return CLI_EXIT_DAEMON;
    }
    if (plan->action == CLI_ACT_SYNC_WAIT)
        rc = cli_sync_wait(socket, plan->path, !plan->json && isatty(fileno(out)), out, &resp,
                           err);
    else
        rc = cli_http_request(socket, plan->method, plan->path, body, CLI_TIMEOUT_MS, &resp,
                              err);
    free(body);
    if (rc != 0) {
        cli_response_release(&resp);
        return rc < 0 ? err->code : CLI_EXIT_UNREACHABLE;
    }
    code = show_answer(plan, o, out, &resp, err);
    cli_response_release(&resp);
    return code;
}
