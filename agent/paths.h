/*
 * paths.h — what fieldsyncd and fieldsync must agree on, compiled into
 * both programs (as bgpctl compiles bgpd's shared files): where the config
 * file and the socket are by default (DESIGN §4, XDG), what a "~/" in a
 * path means, and how a config file's lines are read.  Two copies of this
 * once disagreed: `socket = ~/fs.sock` was $HOME/fs.sock to the daemon and
 * a literal "~/fs.sock" to the client.
 *
 * Needs only libc: the client links none of the daemon's modules.
 */
#ifndef FIELDSYNC_AGENT_PATHS_H
#define FIELDSYNC_AGENT_PATHS_H

#include <stddef.h>

/* Bounds on a config file, so that a wrong path (a log, /dev/zero) fails
 * fast instead of filling memory. */
#define PATHS_CONFIG_MAX_LINE 4096          /* one line */
#define PATHS_CONFIG_MAX_FILE (1024 * 1024) /* the whole file */

/* The home directory: $HOME if absolute, else the password database's;
 * NULL when neither is known. */
const char *paths_home(void);

/* v with a leading "~/" taken relative to the home directory; any other
 * path unchanged.  Returns a malloc'd string (NULL: out of memory). */
char *paths_expand(const char *v);

/* $var/leaf when $var is absolute, else ~/fallback/leaf (XDG base
 * directories).  Returns a malloc'd string, NULL when too long or out of
 * memory. */
char *paths_xdg(const char *var, const char *fallback, const char *leaf);

/* The default config file: $XDG_CONFIG_HOME/fieldsync/config, else
 * ~/.config/fieldsync/config.  malloc'd, NULL on failure. */
char *paths_config_file(void);

/*
 * The default socket: $XDG_RUNTIME_DIR/fieldsync.sock, else
 * /tmp/fieldsync-<uid>/fieldsync.sock (then *private_dir is set to 1: the
 * daemon makes that directory itself, 0700).  malloc'd, NULL when out of
 * memory.  private_dir may be NULL.
 */
char *paths_socket_default(int *private_dir);

/*
 * Called for each `key = value` line of a config file: key and value are
 * trimmed, a value in double quotes loses them (to keep leading or
 * trailing spaces).  Returns 0 to go on, -1 to stop (err filled).
 */
typedef int (*paths_config_fn)(void *ctx, const char *path, int lineno, const char *key,
                               const char *value, char *err, size_t errlen);

/*
 * Reads a config file: `key = value` lines, `#` comments, blank lines;
 * a regular file of at most PATHS_CONFIG_MAX_FILE bytes, lines of at most
 * PATHS_CONFIG_MAX_LINE.  Returns 0, 1 when the file does not exist, or -1
 * with one line in err naming the file and line at fault.
 */
int paths_config_read(const char *path, paths_config_fn fn, void *ctx, char *err,
                      size_t errlen);

/* A list of malloc'd strings. */
typedef struct {
    char **v;
    size_t n;
} paths_list;

void paths_list_release(paths_list *l);

/*
 * The system-wide config files that exist, in the order they are read
 * (a later file overrides an earlier one): for each directory of
 * $XDG_CONFIG_DIRS (default /etc/xdg), the least important first (the
 * XDG spec lists the most important first, so it is read last), its
 * fieldsync/config and then fieldsync/config.d/ *.conf in byte order of
 * their names.  The user's own file comes after all of them.  Returns 0,
 * or -1 when out of memory (*out then empty).
 */
int paths_config_system_files(paths_list *out);

/*
 * Reads the system-wide files, then user_file, with paths_config_read.
 * Returns 0 when user_file was read, 1 when it does not exist, -1 (err
 * filled) when any file could not be read or fn stopped.
 */
int paths_config_read_all(const char *user_file, paths_config_fn fn, void *ctx, char *err,
                          size_t errlen);

#endif /* FIELDSYNC_AGENT_PATHS_H */
