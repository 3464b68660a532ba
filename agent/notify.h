/*
 * notify.h — the sd_notify protocol without libsystemd: datagrams such as
 * "READY=1" sent to the socket named by $NOTIFY_SOCKET (a path, or an
 * abstract name written with a leading '@').  Without NOTIFY_SOCKET every
 * call does nothing and succeeds.
 */
#ifndef FIELDSYNC_AGENT_NOTIFY_H
#define FIELDSYNC_AGENT_NOTIFY_H

#include <stddef.h>
#include <sys/un.h>

/* Sends one message (e.g. "READY=1\nSTATUS=listening"); 0, or -1. */
int notify_send(const char *msg);

/* Builds the address for a NOTIFY_SOCKET value; returns its length for
 * sendto(), or 0 if the value is not usable.  Kept apart for tests. */
size_t notify_addr(const char *name, struct sockaddr_un *sa);

#endif /* FIELDSYNC_AGENT_NOTIFY_H */
