/*
 * ctlsock.h — the control socket of fieldsyncd: its directory, the
 * refusal to start beside a live daemon, its creation with the right mode
 * from birth, and the check of each client's credentials.
 *
 * Like bgpd's control socket: a socket path that still answers belongs to
 * a running daemon and is never taken over; one that refuses connections
 * is stale and is removed.  The socket is bound under umask 0177, so it
 * is born 0600 (0660 with a group) and there is no window in which it is
 * more open than that; it is never chmod-ed afterwards.
 */
#ifndef FIELDSYNC_AGENT_CTLSOCK_H
#define FIELDSYNC_AGENT_CTLSOCK_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Makes sure the directory of path exists.  private_dir: the directory is
 * ours alone (the /tmp fallback): created 0700 if missing, and refused if
 * it is a symlink, owned by someone else, or not exactly 0700.  Otherwise
 * a missing directory is created 0700 and an existing one is used as is.
 */
int ctlsock_prepare_dir(const char *path, int private_dir, char *err, size_t errlen);

/*
 * Creates the listening socket at path: refuses (-1, err) when a daemon
 * answers there or the path is not a socket; removes a stale socket;
 * binds with the mode 0600, or 0660 and group gid when gid != (gid_t)-1;
 * listens.  Returns the fd (close-on-exec, non-blocking) or -1.
 */
int ctlsock_listen(const char *path, gid_t gid, char *err, size_t errlen);

/* The peer's identity, from SO_PEERCRED and SO_PEERGROUPS. */
typedef struct {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    int ngroups;           /* supplementary groups known (may be 0) */
    gid_t groups[64];
} ctlsock_peer;

/* Reads the peer's credentials of a connected fd; -1 if unavailable. */
int ctlsock_peer_get(int fd, ctlsock_peer *out);

/*
 * The access decision, kept apart so it can be tested: the daemon's own
 * uid and root are allowed; with a socket group (group != (gid_t)-1), a
 * member of it (primary or supplementary) is allowed; nobody else.
 * Returns 1 to allow, 0 to refuse.
 */
int ctlsock_peer_allowed(const ctlsock_peer *peer, uid_t self_uid, gid_t group);

#endif /* FIELDSYNC_AGENT_CTLSOCK_H */
