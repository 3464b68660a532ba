/*
 * config.h — fieldsyncd's configuration (DESIGN §4): defaults, the config
 * file, the environment and the command line, merged with the precedence
 * flag > environment > file > default, every value validated and its
 * origin remembered for --check-config.
 *
 * The API key is never a flag.  It comes from FIELDSYNC_API_KEY, or from
 * a key file (--api-key-file, FIELDSYNC_API_KEY_FILE, api_key_file) that
 * must be a regular file readable by its owner only, like an ssh private
 * key.  Precedence among the key sources: --api-key-file, then
 * FIELDSYNC_API_KEY, then FIELDSYNC_API_KEY_FILE, then api_key_file.  The
 * key is kept in agent_config.api_key and nowhere else; no function here
 * ever prints it.
 */
#ifndef FIELDSYNC_AGENT_CONFIG_H
#define FIELDSYNC_AGENT_CONFIG_H

#include <stdio.h>

#include "agent/paths.h"
#include "store/util.h"
#include "sync/sync.h"

/* Bounds on what the configuration accepts from outside. */
#define CONFIG_MAX_LINE PATHS_CONFIG_MAX_LINE /* one line of the config file */
#define CONFIG_MAX_FILE PATHS_CONFIG_MAX_FILE /* the whole config file */
#define CONFIG_MAX_KEY 4096           /* the API key, after trimming */
#define CONFIG_MAX_ID 128             /* technician_id, branch_id */
#define CONFIG_MAX_WARNINGS 16        /* warnings kept; more are counted */

/* The settings, in the order --check-config prints them. */
typedef enum {
    CK_API_URL = 0,
    CK_API_KEY_FILE,
    CK_TECHNICIAN_ID,
    CK_BRANCH_ID,
    CK_DAYS_BACK,
    CK_DAYS_AHEAD,
    CK_DB,
    CK_SOCKET,
    CK_SOCKET_GROUP,
    CK_INTERVAL,
    CK_CONFLICT_POLICY,
    CK_MAX_CONNECTIONS,
    CK_LOG_LEVEL,
    CK_NOTIFY_COMMAND,
    CK_REQUEST_BUDGET,
    CK_MAX_AGE,
    CK_CA_FILE,
    CK_PROXY,
    CK__COUNT
} config_key;

/* The command line's values (NULL: not given).  Strings are borrowed. */
typedef struct {
    const char *config;
    const char *api_url;
    const char *api_key_file;
    const char *technician_id;
    const char *db;
    const char *socket;
    const char *interval;
    const char *log_level;
} config_flags;

typedef struct {
    paths_list system_files; /* $XDG_CONFIG_DIRS files read, in order */
    char *config_path;      /* the user's file read (or that would be read) */
    int config_found;       /* it existed */
    char *api_url;
    char *api_key_file;     /* NULL when the key came from the environment */
    char *api_key;          /* the secret; NULL if none.  Never printed. */
    char *technician_id;    /* NULL: not set */
    char *branch_id;
    int days_back;
    int days_ahead;
    char *db;
    char *socket;
    int socket_private_dir; /* socket is the /tmp/fieldsync-<uid> fallback */
    char *socket_group;
    int interval;           /* seconds */
    sync_policy policy;
    int max_connections;
    int log_level;          /* FS_LOG_* */
    char *notify_command;   /* run when a local value lost; NULL: off */
    int request_budget;     /* requests per hour spent revalidating */
    int max_age;            /* seconds a record may go unchecked */
    char *ca_file;          /* extra CA bundle for the remote; NULL: the system's */
    char *proxy;            /* proxy for the remote; NULL: libcurl's *_proxy variables */
    /* Lines of the files that were not fatal (unknown keys), each one
     * "FILE:LINE: unknown key 'x' (did you mean 'y'?)"; the caller shows
     * them.  n_warnings counts them all, even past CONFIG_MAX_WARNINGS. */
    char warnings[CONFIG_MAX_WARNINGS][320];
    int n_warnings;
    /* Where each value came from: "default", "env FIELDSYNC_DB",
     * "flag --db", "/path/config:7". */
    char origin[CK__COUNT][160];
    char key_origin[192];   /* origin of api_key */
} agent_config;

/* The name of a setting as written in the config file. */
const char *config_key_name(config_key k);

/* The known key closest to name by edit distance, if close enough to be
 * a likely typo ("intervall" -> "interval"); NULL otherwise. */
const char *config_closest_key(const char *name);

/*
 * Builds the effective configuration: defaults, then the system-wide
 * files of $XDG_CONFIG_DIRS (paths_config_system_files), then the user's
 * file (flags->config, else $XDG_CONFIG_HOME/fieldsync/config), then the
 * environment, then the flags; a later value wins.  Returns 0, or -1 with
 * one line in err naming the file, line and key (or the flag or variable)
 * at fault, e.g. "/home/t/.config/fieldsync/config:7: key 'interval':
 * invalid value 'often' …".  An unknown key is not an error (a fleet with
 * mixed versions must not stop over one key): it is added to
 * out->warnings with the closest known key.  api_key in a file is an
 * error: the key belongs in a file of its own.
 * The key file, when one is named, is read and checked here.  Missing
 * api_url or key is not an error here (--check-config shows them); see
 * config_require().  On failure *out holds nothing to release.
 */
int config_load(const config_flags *flags, agent_config *out, char *err, size_t errlen);
void config_release(agent_config *c);

/* -1 with a message if something needed to run (api_url, key) is missing. */
int config_require(const agent_config *c, char *err, size_t errlen);

/* Logs each warning of c (unknown keys) at level warn. */
void config_log_warnings(const agent_config *c);

/* Prints every effective setting, one "key = value  # origin" per line
 * (origin: "default", "env VAR", "flag --x", "FILE:LINE"), after the
 * files read; the key as "(set, redacted)" or "(not set)". */
void config_print(const agent_config *c, FILE *fp);

/*
 * Reads an API key file: a regular file, not readable or writable by
 * group or others, at most CONFIG_MAX_KEY bytes once trimmed, not empty.
 * *key_out is malloc'd; the caller frees it (after wiping it).
 */
int config_read_key_file(const char *path, char **key_out, char *err, size_t errlen);

/* Sets one setting from text, validating it; -1 with the reason in why. */
int config_set(agent_config *c, config_key k, const char *value, char *why, size_t whylen);

#endif /* FIELDSYNC_AGENT_CONFIG_H */
