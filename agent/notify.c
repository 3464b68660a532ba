/* notify.c — sd_notify-style readiness messages (see notify.h). */
#include "agent/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/util.h"

extern char **environ;

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

/* Waits for one notify_command child so that it leaves no zombie. */
static void *reap(void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fs_log_warn("notify_command exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fs_log_warn("notify_command was killed by signal %d", WTERMSIG(status));
    return NULL;
}

int notify_user(const char *command, const char *title, const char *message)
{
    char *words = command ? strdup(command) : NULL, *save = NULL, *w;
    char *argv[NOTIFY_MAX_WORDS + 3];
    posix_spawn_file_actions_t fa;
    pthread_attr_t attr;
    pthread_t t;
    pid_t pid;
    int n = 0, rc = -1, err;

    if (!words)
        return -1;
    for (w = strtok_r(words, " \t", &save); w && n < NOTIFY_MAX_WORDS;
         w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    if (n == 0 || w) {
        fs_log_warn("notify_command: expected 1 to %d words", NOTIFY_MAX_WORDS);
        goto out;
    }
    argv[n++] = (char *)title;
    argv[n++] = (char *)message;
    argv[n] = NULL;
    if (posix_spawn_file_actions_init(&fa) != 0)
        goto out;
    err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!err)
        err = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!err)
        err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        fs_log_warn("notify_command: cannot run '%s': %s", argv[0], strerror(err));
        goto out;
    }
    rc = 0;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        err = pthread_create(&t, &attr, reap, (void *)(intptr_t)pid);
        pthread_attr_destroy(&attr);
        if (!err)
            goto out;
    }
    /* No thread: reap here if it is already done; else it stays a zombie
     * until the daemon exits — better than blocking the sync thread. */
    waitpid(pid, NULL, WNOHANG);
out:
    free(words);
    return rc;
}
