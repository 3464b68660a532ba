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

/* "fieldsync: <msg>", made printable: messages may quote the daemon. */
static void report(const cli_error *err)
{
    char *clean = cli_text_clean(err->msg, 0);

    fprintf(stderr, "fieldsync: %s\n", clean ? clean : err->msg);
    free(clean);
}

int main(int argc, char **argv)
{
    cli_error err = {0};
    cli_plan plan;
    int code;

    if (cli_plan_parse(argc, argv, &plan, &err) < 0) {
        report(&err);
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
        report(&err);
    /* Output lost to a full disk is an error; to a closed pipe, not worth one. */
    if (fflush(stdout) != 0 && errno != EPIPE) {
        fprintf(stderr, "fieldsync: cannot write output: %s\n", strerror(errno));
        if (code == CLI_EXIT_OK)
            code = CLI_EXIT_DAEMON;
    }
    return code;
}
