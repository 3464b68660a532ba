/*
 * daemon.h — the life of fieldsyncd after its configuration is known:
 * the lock on the database, the socket, the threads, the main loop over
 * signals, netlink and the event-stream keepalive, and the clean stop.
 */
#ifndef FIELDSYNC_AGENT_DAEMON_H
#define FIELDSYNC_AGENT_DAEMON_H

#include "agent/config.h"

/*
 * Runs the daemon until SIGTERM or SIGINT.  flags are kept to reload the
 * configuration on SIGHUP; cfg is the configuration loaded from them (the
 * daemon takes ownership).  Returns the process exit status: 0 after a
 * clean stop, 1 when it could not start.
 */
int daemon_run(const config_flags *flags, agent_config *cfg);

/* Makes the directories leading to path (not path itself), each 0700. */
int daemon_make_parent_dirs(const char *path, char *err, size_t errlen);

#endif /* FIELDSYNC_AGENT_DAEMON_H */
