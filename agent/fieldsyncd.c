/*
 * fieldsyncd — keeps a local replica of a technician's slice of the FSM
 * account, serves it over a Unix socket, and syncs it with the remote
 * (DESIGN §4).  This file reads the command line; daemon.c does the rest.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/daemon.h"

static void usage(FILE *fp)
{
    fputs("usage: fieldsyncd [--config FILE] [--api-url URL] [--api-key-file FILE]\n"
          "                  [--technician-id ID] [--db PATH] [--socket PATH]\n"
          "                  [--interval SECONDS] [--log-level error|warn|info|debug]\n"
          "       fieldsyncd --check-config   print the effective configuration and exit\n"
          "       fieldsyncd --help | --version\n"
          "\n"
          "The API key is read from a file readable only by you (--api-key-file,\n"
          "FIELDSYNC_API_KEY_FILE or api_key_file in the config) or from\n"
          "FIELDSYNC_API_KEY; never from the command line.\n"
          "Environment: FIELDSYNC_API_URL, FIELDSYNC_API_KEY, FIELDSYNC_API_KEY_FILE,\n"
          "FIELDSYNC_TECHNICIAN_ID, FIELDSYNC_DB, FIELDSYNC_SOCKET.\n"
          "Config: $XDG_CONFIG_DIRS (default /etc/xdg)/fieldsync/config and its\n"
          "config.d/*.conf, then $XDG_CONFIG_HOME/fieldsync/config (key = value\n"
          "lines; a later file wins).\n",
          fp);
}

int main(int argc, char **argv)
{
    enum { O_CONFIG = 256, O_API_URL, O_KEY_FILE, O_TECH, O_DB, O_SOCKET, O_INTERVAL,
           O_LOG_LEVEL, O_CHECK, O_HELP, O_VERSION };
    static const struct option opts[] = {
        { "config", required_argument, NULL, O_CONFIG },
        { "api-url", required_argument, NULL, O_API_URL },
        { "api-key-file", required_argument, NULL, O_KEY_FILE },
        { "technician-id", required_argument, NULL, O_TECH },
        { "db", required_argument, NULL, O_DB },
        { "socket", required_argument, NULL, O_SOCKET },
        { "interval", required_argument, NULL, O_INTERVAL },
        { "log-level", required_argument, NULL, O_LOG_LEVEL },
        { "check-config", no_argument, NULL, O_CHECK },
        { "help", no_argument, NULL, O_HELP },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    config_flags flags;
    agent_config cfg;
    char err[512];
    int check = 0, c;

    memset(&flags, 0, sizeof flags);
    /* getopt_long accepts any unambiguous prefix, so "--api-key SECRET"
     * would be read as --api-key-file and the secret shown as a missing
     * file's name.  Only exact option names are accepted. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        size_t n;
        int known = 0;
        if (strncmp(argv[i], "--", 2) != 0)
            continue;
        n = strcspn(argv[i] + 2, "=");
        for (const struct option *o = opts; o->name && !known; o++)
            known = strlen(o->name) == n && strncmp(o->name, argv[i] + 2, n) == 0;
        if (!known) {
            fprintf(stderr, "fieldsyncd: unknown option (there is no --api-key: use a key file)\n");
            usage(stderr);
            return 2;
        }
        if (strchr(argv[i], '=') == NULL && i + 1 < argc) {
            for (const struct option *o = opts; o->name; o++)
                if (strlen(o->name) == n && strncmp(o->name, argv[i] + 2, n) == 0 &&
                    o->has_arg == required_argument)
                    i++; /* skip the option's value */
        }
    }
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: flags.config = optarg; break;
        case O_API_URL: flags.api_url = optarg; break;
        case O_KEY_FILE: flags.api_key_file = optarg; break;
        case O_TECH: flags.technician_id = optarg; break;
        case O_DB: flags.db = optarg; break;
        case O_SOCKET: flags.socket = optarg; break;
        case O_INTERVAL: flags.interval = optarg; break;
        case O_LOG_LEVEL: flags.log_level = optarg; break;
        case O_CHECK: check = 1; break;
        case O_HELP: usage(stdout); return 0;
        case O_VERSION: printf("fieldsyncd %s\n", FIELDSYNC_VERSION); return 0;
        default:
            /* Do not echo the argument: someone may have typed a key. */
            if (optopt)
                fprintf(stderr, "fieldsyncd: option requires an argument or is unknown\n");
            else
                fprintf(stderr, "fieldsyncd: unknown option\n");
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fieldsyncd: unexpected argument\n");
        usage(stderr);
        return 2;
    }
    /* Before the first line: under systemd, stderr may be the journal. */
    fs_log_detect_journal();
    if (config_load(&flags, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "fieldsyncd: %s\n", err);
        return 1;
    }
    config_log_warnings(&cfg);
    if (check) {
        config_print(&cfg, stdout);
        config_release(&cfg);
        return 0;
    }
    if (config_require(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "fieldsyncd: %s\n", err);
        config_release(&cfg);
        return 1;
    }
    return daemon_run(&flags, &cfg);
}
