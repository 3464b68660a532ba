/* Unit tests of fieldsyncd's system pieces: the peer credential decision,
 * the control socket (live, stale, mode), sd_notify addresses, netlink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/ctlsock.h"
#include "agent/netlink.h"
#include "agent/notify.h"
#include "tests/unit/test_util.h"

static void test_peer_decision(void **state)
{
    ctlsock_peer p;
    const gid_t none = (gid_t)-1;
    (void)state;
    memset(&p, 0, sizeof p);
    p.uid = 1000;
    p.gid = 1000;
    assert_true(ctlsock_peer_allowed(&p, 1000, none));   /* ourselves */
    p.uid = 0;
    assert_true(ctlsock_peer_allowed(&p, 1000, none));   /* root */
    p.uid = 1001;
    p.gid = 1001;
    assert_false(ctlsock_peer_allowed(&p, 1000, none));  /* a stranger */
    assert_false(ctlsock_peer_allowed(&p, 1000, 50));    /* not in the group */
    p.gid = 50;
    assert_true(ctlsock_peer_allowed(&p, 1000, 50));     /* primary group */
    p.gid = 1001;
    p.ngroups = 3;
    p.groups[0] = 10;
    p.groups[1] = 20;
    p.groups[2] = 50;
    assert_true(ctlsock_peer_allowed(&p, 1000, 50));     /* supplementary */
    assert_false(ctlsock_peer_allowed(&p, 1000, none));  /* groups do not count without socket_group */
    p.ngroups = 2;
    assert_false(ctlsock_peer_allowed(&p, 1000, 50));
}

static void test_peer_get(void **state)
{
    int sv[2];
    ctlsock_peer p;
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(ctlsock_peer_get(sv[0], &p), 0);
    assert_int_equal(p.uid, getuid());
    assert_int_equal(p.pid, getpid());
    assert_true(ctlsock_peer_allowed(&p, getuid(), (gid_t)-1));
    close(sv[0]);
    close(sv[1]);
}

static void test_listen_live_and_stale(void **state)
{
    char dir[] = "/tmp/test_agent_sys.XXXXXX", path[PATH_MAX], err[256];
    struct stat st;
    int fd, fd2, stale;
    struct sockaddr_un sa;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub/fs.sock", dir);
    assert_int_equal(ctlsock_prepare_dir(path, 1, err, sizeof err), 0);
    snprintf(err, sizeof err, "%s/sub", dir);
    assert_int_equal(stat(err, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);

    fd = ctlsock_listen(path, (gid_t)-1, err, sizeof err);
    assert_true(fd >= 0);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a second listener is refused while the first answers */
    fd2 = ctlsock_listen(path, (gid_t)-1, err, sizeof err);
    assert_int_equal(fd2, -1);
    assert_non_null(strstr(err, "already listening"));
    close(fd);
    /* now the path is stale: taken over */
    fd2 = ctlsock_listen(path, (gid_t)-1, err, sizeof err);
    assert_true(fd2 >= 0);
    close(fd2);
    unlink(path);

    /* a stale socket left by a crashed process */
    stale = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(stale, (struct sockaddr *)&sa, sizeof sa), 0);
    close(stale);
    fd = ctlsock_listen(path, (gid_t)-1, err, sizeof err);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);

    /* a regular file in the way is never removed */
    fclose(fopen(path, "w"));
    assert_int_equal(ctlsock_listen(path, (gid_t)-1, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a socket"));
    unlink(path);

    /* the private directory must be 0700 */
    snprintf(err, sizeof err, "%s/sub", dir);
    assert_int_equal(chmod(err, 0755), 0);
    assert_int_equal(ctlsock_prepare_dir(path, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "0700"));
    assert_int_equal(ctlsock_prepare_dir(path, 0, err, sizeof err), 0);
    assert_int_equal(tu_rmtree(dir), 0);
}

static void test_group_mode(void **state)
{
    char dir[] = "/tmp/test_agent_sys.XXXXXX", path[PATH_MAX], err[256];
    struct stat st;
    int fd;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/g.sock", dir);
    fd = ctlsock_listen(path, getgid(), err, sizeof err);
    assert_true(fd >= 0);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_int_equal(st.st_gid, getgid());
    close(fd);
    unlink(path);
    rmdir(dir);
}

static void test_notify(void **state)
{
    struct sockaddr_un sa;
    size_t n;
    char dir[] = "/tmp/test_agent_sys.XXXXXX", path[PATH_MAX], buf[64];
    int fd;
    ssize_t got;
    (void)state;
    assert_int_equal(notify_addr(NULL, &sa), 0);
    assert_int_equal(notify_addr("relative", &sa), 0);
    assert_int_equal(notify_addr("@", &sa), 0);
    n = notify_addr("@abc", &sa);
    assert_int_equal(n, offsetof(struct sockaddr_un, sun_path) + 4);
    assert_int_equal(sa.sun_path[0], '\0');
    assert_memory_equal(sa.sun_path + 1, "abc", 3);
    n = notify_addr("/run/x", &sa);
    assert_int_equal(n, offsetof(struct sockaddr_un, sun_path) + 7);

    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(notify_send("READY=1"), 0);

    /* a real datagram to a path */
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/notify", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(notify_send("READY=1"), 0);
    got = recv(fd, buf, sizeof buf - 1, 0);
    assert_int_equal(got, 7);
    buf[got] = '\0';
    assert_string_equal(buf, "READY=1");
    close(fd);
    unlink(path);
    rmdir(dir);

    /* an abstract name */
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    snprintf(buf, sizeof buf, "@fieldsync-test-%d", (int)getpid());
    n = notify_addr(buf, &sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, (socklen_t)n), 0);
    setenv("NOTIFY_SOCKET", buf, 1);
    assert_int_equal(notify_send("STOPPING=1"), 0);
    got = recv(fd, buf, sizeof buf - 1, 0);
    assert_int_equal(got, 10);
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

static size_t put_msg(char *buf, size_t off, int type, unsigned flags)
{
    struct nlmsghdr *nh = (struct nlmsghdr *)(buf + off);
    size_t len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    memset(nh, 0, NLMSG_ALIGN(len));
    nh->nlmsg_len = (unsigned)len;
    nh->nlmsg_type = (unsigned short)type;
    ((struct ifinfomsg *)NLMSG_DATA(nh))->ifi_flags = flags;
    return off + NLMSG_ALIGN(len);
}

static void test_netlink_parse(void **state)
{
    union {
        struct nlmsghdr h;
        char b[1024];
    } u;
    size_t n;
    (void)state;
    n = put_msg(u.b, 0, RTM_NEWLINK, IFF_UP);
    assert_int_equal(netlink_parse(u.b, n), 0);            /* up but not running */
    n = put_msg(u.b, 0, RTM_NEWLINK, IFF_UP | IFF_RUNNING | IFF_LOOPBACK);
    assert_int_equal(netlink_parse(u.b, n), 0);            /* loopback */
    n = put_msg(u.b, 0, RTM_DELLINK, IFF_UP | IFF_RUNNING);
    assert_int_equal(netlink_parse(u.b, n), 0);
    n = put_msg(u.b, 0, RTM_DELADDR, 0);
    n = put_msg(u.b, n, RTM_NEWLINK, IFF_UP | IFF_RUNNING);
    assert_int_equal(netlink_parse(u.b, n), 1);            /* second message counts */
    n = put_msg(u.b, 0, RTM_NEWADDR, 0);
    assert_int_equal(netlink_parse(u.b, n), 1);
    /* truncated or lying lengths end the walk safely */
    assert_int_equal(netlink_parse(u.b, 4), 0);
    u.h.nlmsg_len = 100000;
    assert_int_equal(netlink_parse(u.b, n), 0);
    assert_int_equal(netlink_parse(u.b, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_decision),
        cmocka_unit_test(test_peer_get),
        cmocka_unit_test(test_listen_live_and_stale),
        cmocka_unit_test(test_group_mode),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_netlink_parse),
    };
    return cmocka_run_group_tests_name("agent_sys", tests, NULL, NULL);
}
