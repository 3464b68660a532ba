/*
 * fieldsync.c — main() of `fieldsync`, the command-line client of
 * fieldsyncd.  Parses the command line into a plan, runs it, and turns any
 * failure into one line on stderr and an exit status (see --help).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/cli/cli.h"
#include "agent/cli/output.h"

/*
 * "fieldsync: <msg>", made printable: messages may quote the daemon.  With
 * --json the error is one JSON object instead (the daemon's own, when it
 * sent one), so a script reads stderr as it reads stdout.
 */
static void report(const cli_error *err, int json)
{
    char *text = json ? cli_error_json(err) : cli_text_clean(err->msg, 0);

    if (json && text)
        fprintf(stderr, "%s\n", text);
    else
        fprintf(stderr, "fieldsync: %s\n", text ? text : err->msg);
    free(text);
}

/* Did the command line ask for --json (before any "--")?  Known even when
 * the line does not parse. */
static int wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    cli_error err = {0};
    cli_plan plan;
    int code, json = wants_json(argc, argv);

    if (cli_plan_parse(argc, argv, &plan, &err) < 0) {
        report(&err, json);
        return err.code;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_plan_release(&plan);
        fputs("fieldsync: cannot initialise libcurl\n", stderr);
        return CLI_EXIT_DAEMON;
    }
    code = cli_execute(&plan, stdout, &err);
    cli_plan_release(&plan);
    curl_global_cleanup();
    if (code != CLI_EXIT_OK && err.msg[0])
        report(&err, json);
    /* Output lost to a full disk is an error; to a closed pipe, not worth one. */
    if (fflush(stdout) != 0 && errno != EPIPE) {
        fprintf(stderr, "fieldsync: cannot write output: %s\n", strerror(errno));
        if (code == CLI_EXIT_OK)
            code = CLI_EXIT_DAEMON;
    }
    return code;
}
