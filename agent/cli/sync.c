/*
 * sync.c — `fieldsync sync --wait` on a terminal: the wait request and
 * a status poll share one curl multi handle, so the progress line moves
 * while the daemon works, without threads.
 */
#include "agent/cli/output.h"
#include "agent/cli/sync.h"

#define POLL_EVERY_MS 250
#define STATUS_TIMEOUT_MS 5000L

static long long now_ms(void)
{
    return (long long)fs_mono_ms();
}

/* Shows the progress in a finished status answer, if it is one. */
static void show_status(cli_transfer *st, CURLcode rc, FILE *out, cli_progress *prog,
                        int *shown)
{
    cli_response r = {0};
    cJSON *doc;
    char line[256];

    if (cli_transfer_finish(st, rc, &r, NULL) != 0)
        return; /* a missed poll is no reason to stop waiting */
    doc = r.status == 200 ? cJSON_Parse(fs_buf_str(&r.body)) : NULL;
    if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "data"))) {
        cli_progress_line(cJSON_GetObjectItemCaseSensitive(doc, "data"), prog, fs_mono_ms(), line,
                          sizeof line);
        fprintf(out, "\r%s\033[K", line);
        fflush(out);
        *shown = 1;
    }
    cJSON_Delete(doc);
    cli_response_release(&r);
}

/* The user stopped waiting (Ctrl-C, SIGTERM): the daemon's sync goes on. */
static int interrupted(cli_error *err)
{
    return cli_fail(err, cli_exit_for_signal(),
                    "sync --wait interrupted; the sync goes on in fieldsyncd "
                    "('fieldsync status' shows it)");
}

static int wait_with_progress(CURLM *m, cli_transfer *wait, const char *socket, FILE *out,
                              cli_response *resp, cli_error *err)
{
    cli_transfer *st = NULL;
    long long next = now_ms() + POLL_EVERY_MS;
    CURLcode wait_rc = CURLE_OK;
    cli_progress prog = {0};
    int done = 0, shown = 0, running, queued, rc;
    CURLMsg *msg;

    while (!done && !cli_signal_caught) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        while ((msg = curl_multi_info_read(m, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            if (msg->easy_handle == cli_transfer_easy(wait)) {
                done = 1;
                wait_rc = msg->data.result;
            } else if (st && msg->easy_handle == cli_transfer_easy(st)) {
                show_status(st, msg->data.result, out, &prog, &shown);
                curl_multi_remove_handle(m, cli_transfer_easy(st));
                cli_transfer_free(st);
                st = NULL;
                next = now_ms() + POLL_EVERY_MS;
            }
        }
        if (!done && !st && now_ms() >= next) {
            st = cli_transfer_new(socket, "GET", "/agent/status", NULL, STATUS_TIMEOUT_MS, NULL);
            if (st && curl_multi_add_handle(m, cli_transfer_easy(st)) != CURLM_OK) {
                cli_transfer_free(st);
                st = NULL;
            }
            if (!st)
                next = now_ms() + POLL_EVERY_MS;
        }
        if (!done && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK)
            break;
    }
    if (st) {
        curl_multi_remove_handle(m, cli_transfer_easy(st));
        cli_transfer_free(st);
    }
    if (shown) { /* erase the progress line before the summary */
        fputs("\r\033[K", out);
        fflush(out);
    }
    if (!done && cli_signal_caught)
        return interrupted(err);
    if (!done)
        return cli_fail(err, CLI_EXIT_UNREACHABLE, "lost track of the sync: libcurl failed");
    rc = cli_transfer_finish(wait, wait_rc, resp, err);
    return rc > 0 ? interrupted(err) : rc;
}

int cli_sync_wait(const char *socket, const char *path, int progress, FILE *out,
                  cli_response *resp, cli_error *err)
{
    cli_transfer *wait;
    CURLM *m;
    int rc;

    cli_signals_catch();
    wait = cli_transfer_new(socket, "POST", path, NULL, 0, err);
    if (!wait)
        return -1;
    cli_transfer_stream(wait, NULL, NULL, &cli_signal_caught);
    if (!progress) {
        rc = cli_transfer_finish(wait, curl_easy_perform(cli_transfer_easy(wait)), resp, err);
        cli_transfer_free(wait);
        return rc > 0 ? interrupted(err) : rc;
    }
    m = curl_multi_init();
    if (!m || curl_multi_add_handle(m, cli_transfer_easy(wait)) != CURLM_OK) {
        if (m)
            curl_multi_cleanup(m);
        cli_transfer_free(wait);
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory");
    }
    rc = wait_with_progress(m, wait, socket, out, resp, err);
    curl_multi_remove_handle(m, cli_transfer_easy(wait));
    cli_transfer_free(wait);
    curl_multi_cleanup(m);
    return rc;
}
