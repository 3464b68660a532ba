/* netlink.c — link and address change notifications (see netlink.h). */
#include "agent/netlink.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int netlink_open(void)
{
    struct sockaddr_nl sa;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int netlink_parse(const void *buf, size_t len)
{
    const struct nlmsghdr *nh;
    int up = 0;
    unsigned int left = len > 0x7fffffffu ? 0x7fffffffu : (unsigned int)len;

    /* NLMSG_OK checks each header's length against what is left, so a
     * truncated or lying message ends the walk instead of overrunning. */
    for (nh = buf; NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
        if (nh->nlmsg_type == NLMSG_DONE)
            break;
        if (nh->nlmsg_type == RTM_NEWADDR) {
            up = 1;
        } else if (nh->nlmsg_type == RTM_NEWLINK &&
                   nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
            const struct ifinfomsg *ifi = NLMSG_DATA(nh);
            if ((ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_RUNNING) &&
                !(ifi->ifi_flags & IFF_LOOPBACK))
                up = 1;
        }
    }
    return up;
}

int netlink_drain(int fd)
{
    /* Aligned for the nlmsghdr casts of NLMSG_* macros. */
    union {
        struct nlmsghdr h;
        char b[8192];
    } buf;
    int up = 0;

    for (;;) {
        ssize_t n = recv(fd, buf.b, sizeof buf.b, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* ENOBUFS: we missed messages; something changed, so sync. */
            if (errno == ENOBUFS)
                return 1;
            return -1;
        }
        if (n == 0)
            break;
        if (netlink_parse(buf.b, (size_t)n))
            up = 1;
    }
    return up;
}
