/*
 * daemon.c — start, main loop and stop of fieldsyncd (see daemon.h).
 *
 * Threads.  main: this loop, sleeping in poll(2) on a signalfd, the
 *   netlink socket and (only while event-stream clients exist) a 15 s
 *   keepalive timeout and the systemd watchdog's half period; it never
 *   touches the store or the network.
 * sync: runs the cycles (syncctl.c), its own store handle.
 * http: libmicrohttpd's polling thread (local_api.c), its own store handle.
 * The signals are blocked before any thread starts, so only the signalfd
 * ever sees them.
 *
 * Stopping (SIGTERM/SIGINT), in this order, and why:
 *   1. STOPPING=1 to the service manager.
 *   2. syncctl_stop: the running cycle is cancelled and waited for.  Every
 *      store write is one transaction, so what the cycle committed stays
 *      and what it had not is not half-applied; ops in flight go back to
 *      pending when the store is next opened.  Waiters get 503.
 *   3. events_hub_close: event streams end; nothing is suspended now.
 *   4. local_api_stop: libmicrohttpd stops; a write that was being
 *      handled has committed or not, whole.
 *   5. The engine and the stores are closed, the socket unlinked (only if
 *      it is still ours), the lock released by exit.
 */
#include "agent/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/ctlsock.h"
#include "agent/events.h"
#include "agent/local_api.h"
#include "agent/netlink.h"
#include "agent/notify.h"
#include "agent/syncctl.h"
#include "store/util.h"

#define KEEPALIVE_MS 15000
#define EVENT_QUEUE_MAX (256 * 1024) /* per event-stream client */

int daemon_make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    char *p;

    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    p = strrchr(buf, '/');
    if (!p || p == buf)
        return 0;
    *p = '\0';
    for (p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/*
 * One daemon per database: an exclusive flock on "<db>.lock".  The lock
 * file is left in place at exit; removing it would let two daemons each
 * lock a different inode.
 */
static int lock_db(const char *db, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int fd;
    if (snprintf(path, sizeof path, "%s.lock", db) >= (int)sizeof path) {
        snprintf(err, errlen, "database path too long");
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open lock file %.300s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            snprintf(err, errlen, "another fieldsyncd is already using the database %.200s (its lock file is held)",
                     db);
        else
            snprintf(err, errlen, "cannot lock %.300s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int make_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* SIGHUP: reload; a bad file keeps the old configuration. */
static void reload(const config_flags *flags, agent_config *cur, syncctl *sc)
{
    char err[512];
    agent_config *nc = malloc(sizeof *nc);

    if (!nc) {
        fs_log_error("reload: out of memory; keeping the current configuration");
        return;
    }
    if (config_load(flags, nc, err, sizeof err) < 0) {
        fs_log_error("reload failed, keeping the current configuration: %s", err);
        free(nc);
        return;
    }
    if (config_require(nc, err, sizeof err) < 0) {
        fs_log_error("reload failed, keeping the current configuration: %s", err);
        config_release(nc);
        free(nc);
        return;
    }
    config_log_warnings(nc);
    if (strcmp(nc->db, cur->db) || strcmp(nc->socket, cur->socket) ||
        (nc->socket_group ? !cur->socket_group || strcmp(nc->socket_group, cur->socket_group)
                          : cur->socket_group != NULL))
        fs_log_warn("reload: db, socket and socket_group change only with a restart");
    fs_log_set_level(nc->log_level);
    cur->interval = nc->interval;
    fs_log_info("reload: configuration read from %s", nc->config_path);
    syncctl_reconfigure(sc, nc); /* takes nc */
}

/*
 * WatchdogSec= of the unit: systemd sets WATCHDOG_USEC (and WATCHDOG_PID,
 * which must be ours) and restarts the service when WATCHDOG=1 does not
 * come within that period.  Returns half the period in ms (sd_watchdog_enabled(3)
 * advises sending at half), or 0 when there is no watchdog.
 */
static int64_t watchdog_half_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    char *end;
    unsigned long long v;

    if (!usec || !*usec)
        return 0;
    if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
        return 0;
    errno = 0;
    v = strtoull(usec, &end, 10);
    if (errno || *end || v == 0)
        return 0;
    return (int64_t)(v / 2000) > 0 ? (int64_t)(v / 2000) : 1;
}

/*
 * SIGHUP under systemd: RELOADING=1 with the monotonic time (systemd 253
 * Type=notify-reload needs MONOTONIC_USEC to tell this reload from an
 * earlier one), then READY=1 once the new configuration is in force or
 * refused.
 */
static void reload_notified(const config_flags *flags, agent_config *cfg, syncctl *sc)
{
    char msg[96];
    struct timespec ts;

    /* Microseconds, as systemd reads them: finer than fs_mono_ms(). */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
    notify_send(msg);
    reload(flags, cfg, sc);
    notify_send("READY=1");
}

static void main_loop(const config_flags *flags, agent_config *cfg, int sfd, int nlfd,
                      int wakefd, syncctl *sc, events_hub *hub)
{
    /* The watchdog is fed from this loop, the one every signal and every
     * stop goes through: if it stops turning, systemd restarts us. */
    int64_t wd_half = watchdog_half_ms(), wd_due = wd_half ? fs_mono_ms() : 0;
    int64_t ka_due = 0; /* next event-stream keepalive; 0: no clients */

    if (wd_half)
        fs_log_info("watchdog: WATCHDOG=1 every %lld ms", (long long)wd_half);
    for (;;) {
        struct pollfd pfd[3];
        int n = 0, timeout = -1, rc;
        int64_t now = fs_mono_ms();

        if (wd_half && now >= wd_due) {
            notify_send("WATCHDOG=1");
            wd_due = now + wd_half;
        }
        if (events_clients(hub) == 0)
            ka_due = 0;
        else if (ka_due == 0)
            ka_due = now + KEEPALIVE_MS;
        else if (now >= ka_due) {
            events_keepalive(hub);
            ka_due = now + KEEPALIVE_MS;
        }
        if (ka_due)
            timeout = (int)(ka_due - now);
        if (wd_half && (timeout < 0 || wd_due - now < timeout))
            timeout = (int)(wd_due - now);

        pfd[n].fd = sfd;
        pfd[n++].events = POLLIN;
        pfd[n].fd = wakefd;
        pfd[n++].events = POLLIN;
        if (nlfd >= 0) {
            pfd[n].fd = nlfd;
            pfd[n++].events = POLLIN;
        }
        rc = poll(pfd, (nfds_t)n, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            fs_log_error("poll: %s", strerror(errno));
            return;
        }
        if (rc == 0)
            continue; /* a deadline: handled at the top */
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP) {
                    fs_log_info("SIGHUP: reloading the configuration");
                    reload_notified(flags, cfg, sc);
                } else {
                    fs_log_info("%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                    return;
                }
            }
        }
        if (pfd[1].revents & POLLIN) {
            uint64_t v;
            /* A first event-stream client: loop to arm the keepalive. */
            if (read(wakefd, &v, sizeof v) < 0 && errno != EAGAIN)
                fs_log_warn("eventfd: %s", strerror(errno));
        }
        if (n > 2 && (pfd[2].revents & (POLLIN | POLLERR))) {
            int up = netlink_drain(nlfd);
            if (up > 0) {
                fs_log_info("network change: syncing soon");
                syncctl_network_changed(sc);
            } else if (up < 0) {
                fs_log_warn("netlink: %s; no longer watching the network", strerror(errno));
                nlfd = -1;
            }
        }
    }
}

int daemon_run(const config_flags *flags, agent_config *cfg)
{
    char err[512];
    int lockfd = -1, lfd = -1, sfd = -1, nlfd = -1, wakefd = -1, status = 1;
    gid_t gid = (gid_t)-1;
    struct stat sock_st;
    int sock_bound = 0;
    events_hub *hub = NULL;
    syncctl *sc = NULL;
    local_api *api = NULL;

    fs_log_set_level(cfg->log_level);
    signal(SIGPIPE, SIG_IGN);
    sfd = make_signalfd();
    if (sfd < 0) {
        fprintf(stderr, "fieldsyncd: signalfd: %s\n", strerror(errno));
        goto out;
    }
    if (cfg->socket_group) {
        struct group *gr = getgrnam(cfg->socket_group);
        if (!gr) {
            fprintf(stderr, "fieldsyncd: no such group '%s'\n", cfg->socket_group);
            goto out;
        }
        gid = gr->gr_gid;
    }
    if (daemon_make_parent_dirs(cfg->db, err, sizeof err) < 0 ||
        (lockfd = lock_db(cfg->db, err, sizeof err)) < 0 ||
        ctlsock_prepare_dir(cfg->socket, cfg->socket_private_dir, err, sizeof err) < 0 ||
        (lfd = ctlsock_listen(cfg->socket, gid, err, sizeof err)) < 0) {
        fprintf(stderr, "fieldsyncd: %s\n", err);
        goto out;
    }
    sock_bound = lstat(cfg->socket, &sock_st) == 0;
    hub = events_hub_new(EVENT_QUEUE_MAX);
    wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!hub || wakefd < 0) {
        fprintf(stderr, "fieldsyncd: out of resources\n");
        goto out;
    }
    events_set_wake_fd(hub, wakefd);
    if (syncctl_start(cfg, hub, &sc, err, sizeof err) < 0) {
        fprintf(stderr, "fieldsyncd: %s\n", err);
        goto out;
    }
    if (local_api_start(lfd, cfg->db, gid, sc, hub, &api, err, sizeof err) < 0) {
        lfd = -1; /* closed by local_api_start */
        fprintf(stderr, "fieldsyncd: %s\n", err);
        goto out;
    }
    lfd = -1;
    nlfd = netlink_open();
    if (nlfd < 0)
        fs_log_warn("netlink unavailable (%s): network changes will not trigger a sync",
                 strerror(errno));
    fs_log_info("fieldsyncd %s listening on %s (database %s, interval %d s, policy %s)",
             FIELDSYNC_VERSION, cfg->socket, cfg->db, cfg->interval,
             sync_policy_name(cfg->policy));
    notify_send("READY=1\nSTATUS=listening");

    main_loop(flags, cfg, sfd, nlfd, wakefd, sc, hub);

    notify_send("STOPPING=1");
    status = 0;
out:
    syncctl_stop(sc);
    if (hub)
        events_hub_close(hub);
    local_api_stop(api);
    syncctl_free(sc);
    events_hub_free(hub);
    if (lfd >= 0)
        close(lfd);
    if (sock_bound) {
        struct stat now;
        /* Unlink only our socket, not one a successor already made. */
        if (lstat(cfg->socket, &now) == 0 && now.st_ino == sock_st.st_ino &&
            now.st_dev == sock_st.st_dev)
            unlink(cfg->socket);
    }
    if (nlfd >= 0)
        close(nlfd);
    if (wakefd >= 0)
        close(wakefd);
    if (sfd >= 0)
        close(sfd);
    if (lockfd >= 0)
        close(lockfd);
    if (status == 0)
        fs_log_info("stopped");
    config_release(cfg);
    return status;
}
