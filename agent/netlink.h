/*
 * netlink.h — tells the daemon when the network may have come back: a
 * NETLINK_ROUTE socket subscribed to link and IPv4/IPv6 address changes.
 * The daemon does not try to judge connectivity from these messages; a
 * link coming up or an address appearing only means "try to sync soon".
 */
#ifndef FIELDSYNC_AGENT_NETLINK_H
#define FIELDSYNC_AGENT_NETLINK_H

#include <stddef.h>

/* A non-blocking netlink socket, or -1 (errno) where netlink is denied. */
int netlink_open(void);

/*
 * Reads every pending message on fd; returns 1 if any says a link is up
 * or an address was added, 0 if none, -1 on a read error.
 */
int netlink_drain(int fd);

/* The same judgement on one buffer of messages; kept apart for tests. */
int netlink_parse(const void *buf, size_t len);

#endif /* FIELDSYNC_AGENT_NETLINK_H */
