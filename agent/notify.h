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

/*
 * The user's notify_command (e.g. "notify-send"), for what a technician
 * must not miss with no terminal open: a local value lost to a conflict, an
 * edit the server rejected.  The command is split at blanks into words (no
 * shell, no quoting: the title and message, built from data the remote
 * sent, are only ever arguments), run with title and message as its last
 * two arguments, stdin and stdout on /dev/null.  Never waits for it: a
 * detached thread reaps the child (logging a failed exit status).  0 if it
 * was started, -1 if not (an empty command, more than NOTIFY_MAX_WORDS
 * words, a program that cannot be run: logged).
 */
#define NOTIFY_MAX_WORDS 16
int notify_user(const char *command, const char *title, const char *message);

#endif /* FIELDSYNC_AGENT_NOTIFY_H */
