/* notify.c — sd_notify-style readiness messages (see notify.h). */
#include "agent/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

size_t notify_addr(const char *name, struct sockaddr_un *sa)
{
    size_t n;
    if (!name || (name[0] != '/' && name[0] != '@'))
        return 0;
    n = strlen(name);
    if (n < 2 || n >= sizeof sa->sun_path)
        return 0;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@')
        sa->sun_path[0] = '\0'; /* abstract namespace: no NUL terminator counted */
    else
        n++;                    /* a path: count its NUL */
    return offsetof(struct sockaddr_un, sun_path) + n;
}

int notify_send(const char *msg)
{
    struct sockaddr_un sa;
    size_t alen = notify_addr(getenv("NOTIFY_SOCKET"), &sa);
    int fd, rc = -1;

    if (!getenv("NOTIFY_SOCKET"))
        return 0;
    if (!alen)
        return -1;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, (socklen_t)alen) >= 0)
        rc = 0;
    close(fd);
    return rc;
}
