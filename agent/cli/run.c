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
        return cli_status_outcome(data); /* 4: needs attention, as documented */
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
        /* The daemon answers a waiter 503 when it stops mid-cycle: the
         * sync was cancelled, it did not "finish incomplete". */
        if (plan->action == CLI_ACT_SYNC_WAIT && resp->status == 503) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            cli_fail(err, CLI_EXIT_SYNC, "sync cancelled before it finished: %s", why);
            return CLI_EXIT_SYNC;
        }
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

#define MAX_PAGES 100000 /* --all: a bound on the walk, far above any replica */

/* --all holds every page at once: as bounded as one answer. */
static int all_too_big(cli_error *err)
{
    return cli_fail(err, CLI_EXIT_DAEMON, "--all: the pages together are larger than %zu MiB; "
                    "ask for them with --page", CLI_MAX_BODY >> 20);
}

/*
 * --all: asks for page 1, 2, ... until the daemon's meta says there are no
 * more, and answers one document {"data": every row, "meta": {...}} as
 * if the daemon had sent it (meta without current_page).  resp holds the
 * error answer when a page fails.
 */
static int fetch_all(const cli_plan *plan, const char *socket, cli_response *resp,
                     cli_error *err)
{
    cJSON *all = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(all, "data");
    cJSON *meta = NULL;
    char sep = strchr(plan->path, '?') ? '&' : '?';
    size_t bytes = 0; /* every page's answer together, held at once */
    int rc = 0;

    if (!all || !rows) {
        cJSON_Delete(all);
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    }
    for (long page = 1; page <= MAX_PAGES; page++) {
        fs_buf path;
        cJSON *doc, *data, *row;
        const cJSON *pages;

        fs_buf_init(&path, 64 * 1024);
        fs_buf_addf(&path, "%s%cpage=%ld", plan->path, sep, page);
        cli_response_release(resp);
        rc = fs_buf_error(&path) ? cli_fail(err, CLI_EXIT_DAEMON, "out of memory")
                                 : cli_http_request(socket, "GET", fs_buf_str(&path), NULL,
                                                    CLI_TIMEOUT_MS, resp, err);
        fs_buf_release(&path);
        if (rc != 0 || cli_exit_for_http(resp->status) != CLI_EXIT_OK)
            break;
        bytes += fs_buf_len(&resp->body);
        if (bytes > CLI_MAX_BODY) {
            rc = all_too_big(err);
            break;
        }
        doc = cJSON_Parse(fs_buf_str(&resp->body));
        data = cJSON_GetObjectItemCaseSensitive(doc, "data");
        if (!cJSON_IsArray(data)) {
            cJSON_Delete(doc);
            break; /* show_answer says what is wrong with this page */
        }
        while ((row = cJSON_DetachItemFromArray(data, 0)))
            cJSON_AddItemToArray(rows, row);
        if (!meta && (meta = cJSON_DetachItemFromObjectCaseSensitive(doc, "meta")))
            cJSON_DeleteItemFromObjectCaseSensitive(meta, "current_page");
        pages = cJSON_GetObjectItemCaseSensitive(meta, "total_pages");
        cJSON_Delete(doc);
        if (!cJSON_IsNumber(pages) || (double)page >= pages->valuedouble) {
            char *js;
            if (meta)
                cJSON_AddItemToObject(all, "meta", meta);
            meta = NULL;
            js = cJSON_PrintUnformatted(all);
            cli_response_release(resp);
            fs_buf_init(&resp->body, CLI_MAX_BODY);
            resp->status = 200;
            if (!js || fs_buf_adds(&resp->body, js) == FS_BUF_NOMEM)
                rc = cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
            else if (fs_buf_error(&resp->body))
                rc = all_too_big(err);
            free(js);
            break;
        }
    }
    cJSON_Delete(meta);
    cJSON_Delete(all);
    return rc;
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
    cli_term_setup(out);
    if (plan->action == CLI_ACT_WATCH)
        return cli_watch(socket, plan->path, o, out, err);
    if (plan->action == CLI_ACT_DOCTOR)
        return cli_doctor(socket, plan->json, out, err);
    if (plan->body && !(body = cJSON_PrintUnformatted(plan->body))) {
        cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
        return CLI_EXIT_DAEMON;
    }
    if (plan->action == CLI_ACT_SYNC_WAIT)
        rc = cli_sync_wait(socket, plan->path, !plan->json && isatty(fileno(out)), out, &resp,
                           err);
    else if (plan->all)
        rc = fetch_all(plan, socket, &resp, err);
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
