/* ctlsock.c — the control socket (see ctlsock.h). */
#include "agent/ctlsock.h"
#include "store/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>


int ctlsock_prepare_dir(const char *path, int private_dir, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    char *slash;
    struct stat st;

    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        fs_errfmt(err, errlen, "socket path too long");
        return -1;
    }
    slash = strrchr(dir, '/');
    if (!slash)
        return 0; /* relative to the working directory */
    if (slash == dir)
        return 0; /* in / */
    *slash = '\0';
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fs_errfmt(err, errlen, "cannot create socket directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (lstat(dir, &st) < 0) {
        fs_errfmt(err, errlen, "socket directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fs_errfmt(err, errlen, "socket directory %s is not a directory", dir);
        return -1;
    }
    if (private_dir) {
        /* In a world-writable /tmp someone may have made the directory
         * first to watch or spoof our socket: trust only our own. */
        if (st.st_uid != getuid()) {
            fs_errfmt(err, errlen, "socket directory %s is owned by uid %lu, not by us", dir,
                    (unsigned long)st.st_uid);
            return -1;
        }
        if ((st.st_mode & 07777) != 0700) {
            fs_errfmt(err, errlen, "socket directory %s has mode %04o, not 0700", dir,
                    (unsigned)(st.st_mode & 07777));
            return -1;
        }
    }
    return 0;
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -1;
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

/*
 * Whether a daemon answers at path: 1 live, 0 stale (refused), -1 error
 * (err filled).  ENOENT counts as stale with nothing to remove.
 */
static int probe(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    int fd, rc;
    fill_addr(&sa, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fs_errfmt(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc == 0) {
        rc = 1;
    } else if (errno == ECONNREFUSED || errno == ENOENT) {
        rc = 0;
    } else {
        fs_errfmt(err, errlen, "cannot probe socket %s: %s", path, strerror(errno));
        rc = -1;
    }
    close(fd);
    return rc;
}

int ctlsock_listen(const char *path, gid_t gid, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    struct stat st;
    mode_t old_mask;
    int fd = -1, rc, live;

    if (fill_addr(&sa, path) < 0) {
        fs_errfmt(err, errlen, "socket path %s is longer than %zu bytes", path, sizeof sa.sun_path - 1);
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fs_errfmt(err, errlen, "%s exists and is not a socket; not touching it", path);
            return -1;
        }
        live = probe(path, err, errlen);
        if (live < 0)
            return -1;
        if (live) {
            fs_errfmt(err, errlen, "another fieldsyncd is already listening on %s", path);
            return -1;
        }
        /* Stale: its daemon died without unlinking it. */
        if (unlink(path) < 0 && errno != ENOENT) {
            fs_errfmt(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
            return -1;
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fs_errfmt(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* The mode is set by the umask at bind time: no chmod window. */
    old_mask = umask(gid == (gid_t)-1 ? 0177 : 0117);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old_mask);
    if (rc < 0) {
        fs_errfmt(err, errlen, "cannot bind %s: %s", path, strerror(errno));
        goto fail;
    }
    /* Between bind and chown the socket belongs to our primary group; the
     * credential check still refuses anyone who is not us or in gid. */
    if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) {
        fs_errfmt(err, errlen, "cannot give %s to group %lu: %s", path, (unsigned long)gid,
                strerror(errno));
        unlink(path);
        goto fail;
    }
    if (listen(fd, 64) < 0) {
        fs_errfmt(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        unlink(path);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

int ctlsock_peer_get(int fd, ctlsock_peer *out)
{
    struct ucred cr;
    socklen_t len = sizeof cr;

    memset(out, 0, sizeof *out);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof cr)
        return -1;
    out->pid = cr.pid;
    out->uid = cr.uid;
    out->gid = cr.gid;
    /* Supplementary groups (Linux 4.13+); without them only the primary
     * group can grant group access. */
    len = sizeof out->groups;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, out->groups, &len) == 0)
        out->ngroups = (int)(len / sizeof(gid_t));
    return 0;
}

int ctlsock_peer_allowed(const ctlsock_peer *peer, uid_t self_uid, gid_t group)
{
    if (peer->uid == self_uid || peer->uid == 0)
        return 1;
    if (group == (gid_t)-1)
        return 0;
    if (peer->gid == group)
        return 1;
    for (int i = 0; i < peer->ngroups && i < (int)(sizeof peer->groups / sizeof peer->groups[0]); i++)
        if (peer->groups[i] == group)
            return 1;
    return 0;
}
