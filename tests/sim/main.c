/* fieldsync-sim: command line, start-up and a clean stop on SIGTERM/SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static const char usage[] =
    "usage: fieldsync-sim [--port N] [--bind ADDR] [--api-key KEY] [--db PATH]\n"
    "                     [--seed N] [--customers N] [--work-orders N] [--technicians N]\n"
    "                     [--clock-skew SECONDS] [--no-idempotency] [--etag on|off]\n"
    "                     [--timestamps ms|s] [--rate-limit N/s|N/min|N/h]\n"
    "                     [--churn N/h] [--documented-detail]\n";

static const char help[] =
    "A stand-in for the remote Field Service Management API (customers,\n"
    "contacts, assets, work orders under /api/v1), for tests and demos.\n"
    "\n"
    "Options:\n"
    "  --port N             TCP port (default 8080; 0 picks a free one)\n"
    "  --bind ADDR          IPv4 or IPv6 address to listen on (default 127.0.0.1)\n"
    "  --api-key KEY        key clients send as 'Authorization: Bearer KEY'\n"
    "                       (default \"sim-key\")\n"
    "  --db PATH            keep everything in this SQLite file (records, trash,\n"
    "                       idempotency keys, counters); seeded only when empty.\n"
    "                       Default: in memory, gone at exit\n"
    "  --seed N             seed of the generated data and of fault draws (default 1)\n"
    "  --customers N        customers to generate (default 100)\n"
    "  --work-orders N      work orders to generate (default 500)\n"
    "  --technicians N      technicians tech-001 ... to generate (default 5, max 999)\n"
    "  --clock-skew SECONDS shift the server clock (may be negative): created_at,\n"
    "                       updated_at and the Date header follow it\n"
    "  --no-idempotency     ignore the Idempotency-Key header\n"
    "  --documented-detail  a work order's detail as the spec page documents it:\n"
    "                       without notes and work_order_type, which are still\n"
    "                       accepted on write (fields a client cannot read back)\n"
    "  --etag on|off        off: no ETag header on any answer and no 304;\n"
    "                       If-None-Match is ignored (default on)\n"
    "  --timestamps ms|s    resolution of every created_at/updated_at shown:\n"
    "                       ms \"...T10:00:05.123Z\" (default) or s \"...T10:00:05Z\"\n"
    "  --rate-limit N/s|N/min|N/h\n"
    "                       a token bucket for the API key: N requests, refilled\n"
    "                       continuously over the window; beyond it 429 with\n"
    "                       Retry-After.  Every /api/v1 answer then carries\n"
    "                       RateLimit-Policy: N;w=WINDOW,\n"
    "                       RateLimit: limit=N, remaining=R, reset=S,\n"
    "                       X-RateLimit-Limit, X-RateLimit-Remaining and\n"
    "                       X-RateLimit-Reset (resets: seconds until full)\n"
    "  --churn N/h          random dispatcher edits, N an hour on average (a\n"
    "                       Poisson process drawn from --seed; N/min and N/s work\n"
    "                       too): work-order status, priority, scheduled date,\n"
    "                       reassignment, a new work order for today (seen in\n"
    "                       lists), description, contact phone, customer email\n"
    "                       (in details only); logged at /__sim/changes\n"
    "  --help               show this text\n"
    "\n"
    "The first line on stdout is 'listening on http://ADDR:PORT'; logs go to\n"
    "stderr.  SIGTERM or SIGINT stops it cleanly.\n"
    "\n"
    "Test controls (no key needed, never subject to faults):\n"
    "  GET    /__sim/faults   the fault settings\n"
    "  POST   /__sim/faults   set some: {\"latency_ms\":N, \"error_rate\":0..1,\n"
    "                         \"error_status\":400..599, \"drop_rate\":0..1,\n"
    "                         \"drop_after_apply\":0..1, \"rate_429\":0..1,\n"
    "                         \"retry_after\":SECONDS, \"bad_body_rate\":0..1,\n"
    "                         \"offline\":BOOL, \"methods\":[\"POST\",...],\n"
    "                         \"path_prefix\":\"/api/v1/...\"}\n"
    "  DELETE /__sim/faults   clear them\n"
    "  GET    /__sim/state    every record, technician, branch and the trash\n"
    "  GET    /__sim/stats    requests and bytes out by route and status, 429s\n"
    "                         of --rate-limit (rate_limited) and its bucket\n"
    "  DELETE /__sim/stats    zero them\n"
    "  GET    /__sim/log?since=SEQ  the request log (last 10000 requests)\n"
    "  GET    /__sim/changes?since=SEQ  the --churn edits after SEQ (last 20000):\n"
    "                         {\"data\":[{\"seq\",\"at\",\"kind\",\"entity\",\"id\",\n"
    "                         \"fields\",...}],\"last_seq\":N}\n"
    "  GET    /__sim/churn    the churn rate, kinds and count\n"
    "  POST   /__sim/churn    set {\"rate_per_hour\":N (0 pauses), \"kinds\":[...]}\n"
    "  POST   /__sim/reset    regenerate the data, clear trash, keys, faults,\n"
    "                         stats and log; optional body {\"seed\":N,\n"
    "                         \"customers\":N, \"work_orders\":N, \"technicians\":N}\n";

/* a whole decimal integer in [min, max]; 0 or -1 */
static int parse_long(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "on" → 1, "off" → 0; 0 or -1 */
static int parse_on_off(const char *s, int *out)
{
    if (strcmp(s, "on") == 0 || strcmp(s, "off") == 0) {
        *out = s[1] == 'n';
        return 0;
    }
    return -1;
}

static int bad_flag(const char *flag, const char *value, const char *what)
{
    fprintf(stderr, "fieldsync-sim: %s %s: %s (see --help)\n", flag, value, what);
    return 2;
}

/* fills cfg from argv; 0 to run, 1 when --help was shown, 2 on a bad flag */
static int parse_args(int argc, char **argv, struct sim_config *cfg)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},
        {"api-key", required_argument, NULL, 'k'},
        {"db", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 's'},
        {"customers", required_argument, NULL, 'c'},
        {"work-orders", required_argument, NULL, 'w'},
        {"technicians", required_argument, NULL, 't'},
        {"clock-skew", required_argument, NULL, 'x'},
        {"no-idempotency", no_argument, NULL, 'n'},
        {"documented-detail", no_argument, NULL, 'D'},
        {"etag", required_argument, NULL, 'e'},
        {"timestamps", required_argument, NULL, 'T'},
        {"rate-limit", required_argument, NULL, 'r'},
        {"churn", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long long v;
    int c, idx, at = optind;

    opterr = 0;   /* our own one-line message instead of getopt's */
    /* "+": no reordering, so argv[at] is the option getopt just read */
    while ((c = getopt_long(argc, argv, "+:", opts, &idx)) != -1) {
        const char *flag = argv[at];
        size_t len = strcspn(flag, "=");

        at = optind;
        /* getopt takes "--po" for "--port"; only whole names are options */
        if (c != '?' && c != ':' &&
            (len != strlen(opts[idx].name) + 2 || strncmp(flag + 2, opts[idx].name, len - 2))) {
            fprintf(stderr, "fieldsync-sim: unknown option %.*s (see --help)\n", (int)len, flag);
            return 2;
        }
        switch (c) {
        case 'p':
            if (parse_long(optarg, 0, 65535, &v))
                return bad_flag("--port", optarg, "must be a port number from 0 to 65535");
            cfg->port = (int)v;
            break;
        case 'b': {
            unsigned char buf[sizeof(struct in6_addr)];

            if (inet_pton(AF_INET, optarg, buf) != 1 && inet_pton(AF_INET6, optarg, buf) != 1)
                return bad_flag("--bind", optarg, "must be an IPv4 or IPv6 address");
            cfg->bind = optarg;
            break;
        }
        case 'k':
            if (!*optarg || strlen(optarg) > 256)
                return bad_flag("--api-key", "", "must be 1 to 256 characters");
            cfg->api_key = optarg;
            break;
        case 'd':
            if (!*optarg)
                return bad_flag("--db", "''", "must be a file path");
            cfg->db_path = optarg;
            break;
        case 's':
            if (parse_long(optarg, 0, LLONG_MAX, &v))
                return bad_flag("--seed", optarg, "must be a non-negative integer");
            cfg->seed.seed = (uint64_t)v;
            break;
        case 'c':
        case 'w':
        case 't': {
            long long max = c == 't' ? 999 : 1000000;
            const char *name = c == 'c' ? "--customers" : c == 'w' ? "--work-orders"
                                                                   : "--technicians";

            if (parse_long(optarg, 0, max, &v)) {
                char what[64];

                snprintf(what, sizeof what, "must be an integer from 0 to %lld", max);
                return bad_flag(name, optarg, what);
            }
            *(c == 'c' ? &cfg->seed.customers : c == 'w' ? &cfg->seed.work_orders
                                                        : &cfg->seed.technicians) = (int)v;
            break;
        }
        case 'x':
            /* ten years either way is plenty for clock tests */
            if (parse_long(optarg, -315360000, 315360000, &v))
                return bad_flag("--clock-skew", optarg,
                                "must be a whole number of seconds (may be negative)");
            cfg->clock_skew_ms = v * 1000;
            break;
        case 'n':
            cfg->no_idempotency = 1;
            break;
        case 'D':
            rec_documented_detail = 1;
            break;
        case 'e': {
            int on;

            if (parse_on_off(optarg, &on))
                return bad_flag("--etag", optarg, "must be on or off");
            cfg->no_etag = !on;
            break;
        }
        case 'T':
            if (strcmp(optarg, "ms") != 0 && strcmp(optarg, "s") != 0)
                return bad_flag("--timestamps", optarg, "must be ms or s");
            cfg->stamp_seconds = strcmp(optarg, "s") == 0;
            break;
        case 'r':
            if (ratelimit_parse(optarg, &cfg->rate_limit, &cfg->rate_window_s))
                return bad_flag("--rate-limit", optarg,
                                "must be N/s, N/min or N/h with N from 1 to 1000000");
            break;
        case 'C':
            if (churn_parse(optarg, &cfg->churn_per_hour))
                return bad_flag("--churn", optarg,
                                "must be N/h (or N/min, N/s), at most 1000 a second");
            break;
        case 'h':
            fputs(usage, stdout);
            fputs("\n", stdout);
            fputs(help, stdout);
            return 1;
        case ':':
            fprintf(stderr, "fieldsync-sim: %s needs a value (see --help)\n", flag);
            return 2;
        default:
            fprintf(stderr, "fieldsync-sim: unknown option %s (see --help)\n", flag);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fieldsync-sim: unexpected argument %s (see --help)\n", argv[optind]);
        return 2;
    }
    if (cfg->seed.work_orders > 0 && cfg->seed.customers == 0) {
        fprintf(stderr, "fieldsync-sim: --work-orders needs at least one customer\n");
        return 2;
    }
    return 0;
}

/* seeds a store that has never been seeded; 0 or -1 */
static int seed_if_empty(struct sim *sim)
{
    int seeded = db_exists(sim->db, "SELECT 1 FROM meta WHERE key = ?", "seeded");

    if (seeded < 0)
        return -1;
    if (seeded) {
        sim_log("using the data in %s", sim->cfg.db_path);
        return 0;
    }
    return sim_reseed(sim, &sim->cfg.seed);
}

int main(int argc, char **argv)
{
    struct sim sim;
    char addr[128];
    int port = 0, rc, sig;
    sigset_t stop;

    memset(&sim, 0, sizeof sim);
    sim.cfg.bind = "127.0.0.1";
    sim.cfg.port = 8080;
    sim.cfg.api_key = "sim-key";
    sim.cfg.seed = (struct seed_params){1, 100, 500, 5};
    rc = parse_args(argc, argv, &sim.cfg);
    if (rc)
        return rc == 1 ? 0 : 2;

    clock_set_skew_ms(sim.cfg.clock_skew_ms);
    clock_set_stamp_seconds(sim.cfg.stamp_seconds);
    signal(SIGPIPE, SIG_IGN);
    /* blocked before any thread starts, so only sigwait below sees them */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    rc = 1;
    if (pthread_mutex_init(&sim.db_lock, NULL))
        return 1;
    sim.db = db_open(sim.cfg.db_path);
    sim.faults = faults_new(sim.cfg.seed.seed);
    sim.stats = stats_new();
    if (sim.cfg.rate_limit &&
        !(sim.ratelimit = ratelimit_new(sim.cfg.rate_limit, sim.cfg.rate_window_s)))
        goto out;
    if (!sim.db || !sim.faults || !sim.stats || seed_if_empty(&sim))
        goto out;
    /* the thread runs even at rate 0, so POST /__sim/churn can start it */
    sim.churn = churn_start(&sim, sim.cfg.churn_per_hour, sim.cfg.seed.seed);
    if (!sim.churn)
        goto out;
    if (server_start(&sim, addr, sizeof addr, &port))
        goto out;
    printf("listening on http://%s:%d\n", addr, port);
    fflush(stdout);
    sim_log("serving %s; api key set%s", sim.cfg.db_path ? sim.cfg.db_path : "in memory",
            sim.cfg.no_idempotency ? "; Idempotency-Key ignored" : "");

    if (sigwait(&stop, &sig) == 0)
        sim_log("stopping on signal %d", sig);
    churn_stop(sim.churn);
    server_stop(&sim);
    rc = 0;
out:
    churn_free(sim.churn);
    stats_free(sim.stats);
    faults_free(sim.faults);
    ratelimit_free(sim.ratelimit);
    if (sim.db)
        db_close(sim.db);
    pthread_mutex_destroy(&sim.db_lock);
    return rc;
}
