/*
 * cmd_doctor.c — `fieldsync doctor`: what an operator checks before
 * trusting a laptop, one line each, OK / WARN / FAIL with what to do.
 *
 * The CLI knows only the socket's API and the config reader it shares
 * with the daemon (agent/paths.c).  So the local facts (config files, key
 * file, socket, free disk, encryption of the replica's file system) come
 * from the files the daemon reads as systemd starts it — the config
 * layers and the FIELDSYNC_* environment — and the remote's facts
 * (reachable, key accepted, clock offset, TLS, rate limit) from
 * GET /agent/status.  A daemon given other values on its command line is
 * described by its answers, not by the files.
 *
 * Exit status: 0 when every check is OK, 4 when any is WARN or FAIL.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fscrypt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/http.h"
#include "agent/paths.h"

enum { OK = 0, WARN = 1, FAIL = 2 };
static const char *const level_names[] = { "OK", "WARN", "FAIL" };

#define ECRYPTFS_MAGIC 0xf15f          /* statfs f_type of eCryptfs */
#define DISK_FAIL_BYTES (64LL << 20)   /* the replica cannot grow safely */
#define DISK_WARN_BYTES (512LL << 20)
#define CLOCK_WARN_MS 30000            /* beyond this, times people see are off */

/* The config values doctor needs, last one wins as in the daemon. */
typedef struct {
    char api_url[2048];
    char api_key_file[PATH_MAX];
    char db[PATH_MAX];
    char ca_file[PATH_MAX];
    char files[2048]; /* the files read, ", " between */
    int nfiles;
} doctor_config;

typedef struct {
    FILE *out;
    cJSON *json; /* --json: the array of checks; NULL for text */
    int worst;
} doctor;

static void report(doctor *d, int level, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(doctor *d, int level, const char *check, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level > d->worst)
        d->worst = level;
    if (d->json) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddStringToObject(o, "check", check) ||
            !cJSON_AddStringToObject(o, "status", level_names[level]) ||
            !cJSON_AddStringToObject(o, "message", msg) || !cJSON_AddItemToArray(d->json, o))
            cJSON_Delete(o); /* a line lost to ENOMEM; the exit status still counts it */
        return;
    }
    fprintf(d->out, "%-4s %s: %s\n", level_names[level], check, msg);
}

static void copy_value(char *dst, size_t len, const char *v, int path)
{
    char *full = path ? paths_expand(v) : NULL;
    snprintf(dst, len, "%s", full ? full : v);
    free(full);
}

/* paths_config_read's callback: keeps what doctor looks at. */
static int take_value(void *ctx, const char *path, int lineno, const char *key,
                      const char *value, char *err, size_t errlen)
{
    doctor_config *c = ctx;
    (void)path;
    (void)lineno;
    (void)err;
    (void)errlen;
    if (strcmp(key, "api_url") == 0)
        copy_value(c->api_url, sizeof c->api_url, value, 0);
    else if (strcmp(key, "api_key_file") == 0)
        copy_value(c->api_key_file, sizeof c->api_key_file, value, 1);
    else if (strcmp(key, "db") == 0)
        copy_value(c->db, sizeof c->db, value, 1);
    else if (strcmp(key, "ca_file") == 0)
        copy_value(c->ca_file, sizeof c->ca_file, value, 1);
    return 0;
}

/* config: the files the daemon reads, in order; their values for the rest. */
static void check_config(doctor *d, doctor_config *c)
{
    char err[1024] = "", *user = paths_config_file(), *db;
    const char *env;
    paths_list files;
    int rc = 0;

    if (!user || paths_config_system_files(&files) < 0) {
        report(d, FAIL, "config", "cannot list the config files (no HOME, or out of memory)");
        free(user);
        return;
    }
    /* The daemon's order: system-wide files, then the user's. */
    for (size_t i = 0; i <= files.n && rc == 0; i++) {
        const char *f = i < files.n ? files.v[i] : user;
        size_t n = strlen(c->files);
        rc = paths_config_read(f, take_value, c, err, sizeof err);
        if (rc == 0) {
            snprintf(c->files + n, sizeof c->files - n, "%s%s", n ? ", " : "", f);
            c->nfiles++;
        }
        if (rc == 1)
            rc = 0;
    }
    paths_list_release(&files);
    if (rc < 0)
        report(d, FAIL, "config", "%s (the daemon will not start or reload with it)", err);
    else if (c->nfiles == 0)
        report(d, WARN, "config", "no config file (%s, or fieldsync/config under "
               "$XDG_CONFIG_DIRS): the daemon runs on flags and FIELDSYNC_* variables only", user);
    else
        report(d, OK, "config", "read in this order (later wins): %s; "
               "'fieldsyncd --check-config' shows each value's source", c->files);
    free(user);
    /* The environment overrides the files, as for the daemon. */
    if ((env = getenv("FIELDSYNC_API_URL")) && *env)
        copy_value(c->api_url, sizeof c->api_url, env, 0);
    if ((env = getenv("FIELDSYNC_DB")) && *env)
        copy_value(c->db, sizeof c->db, env, 1);
    if ((env = getenv("FIELDSYNC_API_KEY_FILE")) && *env)
        copy_value(c->api_key_file, sizeof c->api_key_file, env, 1);
    if (!c->db[0] && (db = paths_xdg("XDG_STATE_HOME", ".local/state", "fieldsync/replica.db"))) {
        snprintf(c->db, sizeof c->db, "%s", db);
        free(db);
    }
}

/* key file: a regular file of ours, readable by us alone. */
static void check_key(doctor *d, const doctor_config *c, const cJSON *status)
{
    struct stat st;
    const char *k = c->api_key_file;

    if (getenv("FIELDSYNC_API_KEY") && !k[0]) {
        report(d, OK, "key file", "none: the key comes from FIELDSYNC_API_KEY");
        return;
    }
    if (!k[0]) {
        if (status && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(status, "auth_error")))
            report(d, OK, "key file", "not named in the config files; the running daemon was "
                   "given its key on its command line or in its environment");
        else
            report(d, FAIL, "key file", "none: put the key in a file only you can read "
                   "(chmod 600) and name it with api_key_file");
        return;
    }
    if (stat(k, &st) < 0) {
        report(d, FAIL, "key file", "%s: %s", k, strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode))
        report(d, FAIL, "key file", "%s is not a regular file", k);
    else if (st.st_mode & 0077)
        report(d, FAIL, "key file", "%s has mode %04o, readable or writable by others: "
               "chmod 600 %s (the daemon refuses it)", k, (unsigned)(st.st_mode & 07777), k);
    else if (st.st_uid != getuid())
        report(d, FAIL, "key file", "%s belongs to uid %lu, not to you", k,
               (unsigned long)st.st_uid);
    else
        report(d, OK, "key file", "%s (mode %04o)", k, (unsigned)(st.st_mode & 07777));
}

/* socket: ours, 0600 (0660 with socket_group), and answering. */
static cJSON *check_socket(doctor *d, const char *socket)
{
    struct stat st;
    cli_response resp = {0};
    cli_error err = {0};
    cJSON *doc = NULL, *data = NULL;
    unsigned mode;

    if (lstat(socket, &st) < 0) {
        report(d, FAIL, "socket", "%s: %s; is fieldsyncd running? "
               "(systemctl --user status fieldsyncd)", socket, strerror(errno));
        return NULL;
    }
    mode = (unsigned)(st.st_mode & 0777);
    if (!S_ISSOCK(st.st_mode)) {
        report(d, FAIL, "socket", "%s is not a socket", socket);
        return NULL;
    }
    if (cli_http_request(socket, "GET", "/agent/status", NULL, CLI_TIMEOUT_MS, &resp, &err) != 0) {
        report(d, FAIL, "socket", "%s", err.msg);
        cli_response_release(&resp);
        return NULL;
    }
    if (resp.status == 200 && resp.body.data)
        doc = cJSON_Parse(resp.body.data);
    cli_response_release(&resp);
    data = cJSON_DetachItemFromObjectCaseSensitive(doc, "data");
    cJSON_Delete(doc);
    if (!cJSON_IsObject(data)) {
        report(d, FAIL, "socket", "%s answers, but not with the daemon's status", socket);
        cJSON_Delete(data);
        return NULL;
    }
    if (mode & 0007)
        report(d, FAIL, "socket", "%s has mode %04o: anyone on this machine can use it", socket,
               mode);
    else if (mode != 0600 && mode != 0660)
        report(d, WARN, "socket", "%s answers but has mode %04o (expected 0600, or 0660 with "
               "socket_group)", socket, mode);
    else
        report(d, OK, "socket", "%s answers (mode %04o)", socket, mode);
    return data;
}

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* What the daemon says about the remote: reachable, key, clock, limits. */
static void check_remote(doctor *d, const cJSON *s)
{
    const char *last_error = str_member(s, "last_error"), *last_ok = str_member(s, "last_success_at");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(s, "clock_offset_ms");
    const cJSON *remote = cJSON_GetObjectItemCaseSensitive(s, "remote");
    int online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "online"));

    if (online)
        report(d, OK, "remote", "reachable (last success %s)", last_ok ? last_ok : "not yet");
    else
        report(d, FAIL, "remote", "not reachable: %s", last_error ? last_error : "no answer yet");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "auth_error")))
        report(d, FAIL, "api key", "refused by the remote (401): put the current key in the key "
               "file, then 'systemctl --user reload fieldsyncd'");
    else if (online)
        report(d, OK, "api key", "accepted by the remote");
    else
        report(d, WARN, "api key", "not checked yet: the remote has not answered");
    if (!online)
        report(d, WARN, "clock", "offset unknown until the remote answers");
    else if (cJSON_IsNumber(off) && fabs(off->valuedouble) > CLOCK_WARN_MS)
        report(d, WARN, "clock", "this clock is %.0f s %s the server's: turn on time sync "
               "(timedatectl set-ntp true)", fabs(off->valuedouble) / 1000.0,
               off->valuedouble > 0 ? "behind" : "ahead of");
    else if (cJSON_IsNumber(off))
        report(d, OK, "clock", "within %.1f s of the server's", fabs(off->valuedouble) / 1000.0);
    if (cJSON_IsObject(remote)) {
        const cJSON *used = cJSON_GetObjectItemCaseSensitive(remote, "requests_last_hour");
        const cJSON *budget = cJSON_GetObjectItemCaseSensitive(remote, "request_budget");
        int limited = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(remote, "rate_limited"));
        double u = cJSON_IsNumber(used) ? used->valuedouble : 0;
        double b = cJSON_IsNumber(budget) ? budget->valuedouble : 0;
        if (limited)
            report(d, WARN, "rate limit", "the remote is answering 429: the agent has slowed "
                   "down (%.0f requests in the last hour)", u);
        else
            report(d, OK, "rate limit", "%.0f requests in the last hour, budget %.0f per hour "
                   "for revalidation", u, b);
    } else {
        report(d, OK, "rate limit", "no 429 reported (this fieldsyncd does not report its "
               "request budget)");
    }
}

/* Is host a name or address of this machine (http:// to it stays local)? */
static int local_host(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 ||
           strncmp(h, "[::1]", 5) == 0;
}

static void check_tls(doctor *d, const doctor_config *c, const cJSON *s)
{
    const char *err = s ? str_member(s, "last_error") : NULL;
    int online = s && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "online"));
    const char *ca = c->ca_file[0] ? c->ca_file : "the system's CAs";

    if (!c->api_url[0])
        report(d, WARN, "tls", "api_url is not in the config files or FIELDSYNC_API_URL: "
               "cannot tell how the daemon reaches the remote");
    else if (strncmp(c->api_url, "https://", 8) == 0) {
        char low[256];
        size_t i;
        for (i = 0; err && err[i] && i + 1 < sizeof low; i++)
            low[i] = (char)tolower((unsigned char)err[i]);
        low[i] = '\0';
        if (online)
            report(d, OK, "tls", "https, certificate verified against %s", ca);
        else if (strstr(low, "certificate") || strstr(low, "ssl"))
            report(d, FAIL, "tls", "%s; behind a private CA, name its certificate with "
                   "ca_file (verification is never turned off)", err);
        else
            report(d, WARN, "tls", "https; not verified yet: the remote has not answered");
    } else if (local_host(c->api_url))
        report(d, OK, "tls", "plain http to this machine (%s)", c->api_url);
    else
        report(d, WARN, "tls", "plain http to %s: the API key and customers' data cross the "
               "network unencrypted; use https", c->api_url);
}

/* The directory that holds the replica (or would, before the first run). */
static void db_dir(const char *db, char *out, size_t len)
{
    char *slash;
    snprintf(out, len, "%s", db);
    slash = strrchr(out, '/');
    if (slash && slash != out)
        *slash = '\0';
    /* Before the first run the directory may not exist: look at its parent. */
    while (access(out, F_OK) < 0 && (slash = strrchr(out, '/')) && slash != out)
        *slash = '\0';
}

static void check_disk(doctor *d, const char *dir)
{
    struct statvfs vfs;
    long long avail;

    if (statvfs(dir, &vfs) < 0) {
        report(d, WARN, "disk", "%s: %s", dir, strerror(errno));
        return;
    }
    avail = (long long)vfs.f_bavail * (long long)vfs.f_frsize;
    if (avail < DISK_FAIL_BYTES)
        report(d, FAIL, "disk", "%lld MiB free on %s: the replica cannot grow and edits may fail",
               avail >> 20, dir);
    else if (avail < DISK_WARN_BYTES)
        report(d, WARN, "disk", "%lld MiB free on %s", avail >> 20, dir);
    else
        report(d, OK, "disk", "%.1f GiB free on %s", (double)avail / (1024.0 * 1024 * 1024), dir);
}

/* Reads a small file (a sysfs attribute) into buf, NUL-terminated; 0 or -1. */
static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -1;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/*
 * Whether the block device at dir (a sysfs device directory) is a
 * dm-crypt mapping, or sits on one (LVM on LUKS: the logical volume's
 * slaves lead to the crypt device).  depth bounds the walk.
 */
static int dm_crypt_below(const char *dir, int depth, char *name, size_t namelen)
{
    char path[PATH_MAX], uuid[256];
    DIR *dp;
    struct dirent *e;
    int found = 0;

    if (depth > 4)
        return 0;
    if (snprintf(path, sizeof path, "%s/dm/uuid", dir) < (int)sizeof path &&
        read_small(path, uuid, sizeof uuid) == 0 && strncmp(uuid, "CRYPT-", 6) == 0) {
        char dmname[128] = "";
        if (snprintf(path, sizeof path, "%s/dm/name", dir) < (int)sizeof path)
            read_small(path, dmname, sizeof dmname);
        dmname[strcspn(dmname, "\n")] = '\0';
        snprintf(name, namelen, "%s", dmname[0] ? dmname : "a dm-crypt device");
        return 1;
    }
    if (snprintf(path, sizeof path, "%s/slaves", dir) >= (int)sizeof path || !(dp = opendir(path)))
        return 0;
    while (!found && (e = readdir(dp))) {
        char sub[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(sub, sizeof sub, "%s/slaves/%s", dir, e->d_name) < (int)sizeof sub)
            found = dm_crypt_below(sub, depth + 1, name, namelen);
    }
    closedir(dp);
    return found;
}

/* 1 when dir is in an fscrypt-encrypted directory tree, 0 when not or unknown. */
static int fscrypt_on(const char *dir)
{
    struct fscrypt_get_policy_ex_arg arg;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return 0;
    memset(&arg, 0, sizeof arg);
    arg.policy_size = sizeof arg.policy;
    rc = ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg);
    close(fd);
    return rc == 0;
}

/*
 * The replica holds customers' personal data: it belongs on an encrypted
 * file system.  SQLCipher in Debian 12 is too old to build on, so the fix
 * is the system's own encryption: LUKS under the file system, or fscrypt.
 */
static void check_encryption(doctor *d, const char *dir)
{
    const char *sysfs = getenv("FIELDSYNC_TEST_SYSFS"); /* tests: a fake /sys */
    char devdir[PATH_MAX], name[128];
    struct stat st;
    struct statfs sfs;

    if (!sysfs || !*sysfs)
        sysfs = "/sys";
    if (stat(dir, &st) < 0) {
        report(d, WARN, "encryption", "%s: %s", dir, strerror(errno));
        return;
    }
    if (statfs(dir, &sfs) == 0 && sfs.f_type == ECRYPTFS_MAGIC) {
        report(d, OK, "encryption", "%s is on eCryptfs", dir);
        return;
    }
    if (fscrypt_on(dir)) {
        report(d, OK, "encryption", "%s is encrypted with fscrypt", dir);
        return;
    }
    snprintf(devdir, sizeof devdir, "%s/dev/block/%u:%u", sysfs, major(st.st_dev),
             minor(st.st_dev));
    if (dm_crypt_below(devdir, 0, name, sizeof name)) {
        report(d, OK, "encryption", "%s is on dm-crypt/LUKS (%s)", dir, name);
        return;
    }
    report(d, WARN, "encryption", "%s is not on an encrypted file system, and the replica holds "
           "customers' personal data: put it on a LUKS volume (the Debian installer's "
           "\"encrypted LVM\", or cryptsetup luksFormat for a data partition) or encrypt the "
           "directory with fscrypt (apt install fscrypt; fscrypt setup; fscrypt encrypt %s "
           "while fieldsyncd is stopped)", dir, dir);
}

int cli_doctor(const char *socket, int json, FILE *out, cli_error *err)
{
    doctor d = { out, NULL, OK };
    doctor_config c;
    cJSON *status;
    char dir[PATH_MAX];

    memset(&c, 0, sizeof c);
    if (json && !(d.json = cJSON_CreateArray()))
        return cli_fail(err, CLI_EXIT_DAEMON, "out of memory"), CLI_EXIT_DAEMON;
    check_config(&d, &c);
    status = check_socket(&d, socket);
    check_key(&d, &c, status);
    if (status)
        check_remote(&d, status);
    else
        report(&d, FAIL, "remote", "cannot tell: fieldsyncd does not answer");
    check_tls(&d, &c, status);
    db_dir(c.db, dir, sizeof dir);
    check_disk(&d, dir);
    check_encryption(&d, dir);
    cJSON_Delete(status);
    if (d.json) {
        cJSON *doc = cJSON_CreateObject();
        char *text = NULL;
        if (doc && cJSON_AddStringToObject(doc, "status", level_names[d.worst]) &&
            cJSON_AddItemToObject(doc, "checks", d.json)) {
            d.json = NULL;
            text = cJSON_Print(doc);
        }
        cJSON_Delete(doc);
        cJSON_Delete(d.json);
        if (!text)
            return cli_fail(err, CLI_EXIT_DAEMON, "out of memory"), CLI_EXIT_DAEMON;
        fprintf(out, "%s\n", text);
        free(text);
    }
    if (d.worst == OK)
        return CLI_EXIT_OK;
    /* Every line was printed; nothing more to say on stderr. */
    err->code = CLI_EXIT_SYNC;
    err->msg[0] = '\0';
    return CLI_EXIT_SYNC;
}

static const cli_opt no_opts[] = {CLI_OPT_END};

static const cli_sub doctor_sub[] = {
    {.summary = "check this laptop's set-up: config files, key file, socket, remote, API key, "
                "clock, TLS, rate limit, free disk, encryption of the replica",
     .route = ROUTE_AGENT_STATUS, .method = ROUTE_GET, .opts = no_opts, .action = CLI_ACT_DOCTOR,
     .notes = "One line per check: OK, WARN or FAIL, the check, and what to do.  Exit\n"
              "status 0 when every check is OK, 4 when any is WARN or FAIL; with --json,\n"
              "{\"status\": WORST, \"checks\": [{\"check\",\"status\",\"message\"}...]}."},
};

const cli_group cli_group_doctor = {
    .name = "doctor",
    .summary = "check the set-up, one line per check (exit 4 on any WARN or FAIL)",
    .subs = doctor_sub,
    .nsubs = 1,
};
