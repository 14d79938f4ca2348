/* A container's namespaces as open files (struct rt_ns). PID 1 opens its own
 * and sends them to the supervisor before it makes itself undumpable; the
 * supervisor hands them on to kiln exec (nssock.c). Both send one message:
 * a 4-byte header, "kN" 1 and the count, and the files (SCM_RIGHTS) in
 * RT_NS_* order. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/internal.h"

const char *const rt_ns_names[RT_NS_COUNT] = {"user", "ipc", "uts", "net", "pid", "mnt"};
const int rt_ns_types[RT_NS_COUNT] = {CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS,
                                      CLONE_NEWNET,  CLONE_NEWPID, CLONE_NEWNS};

void rt_ns_init(struct rt_ns *ns)
{
    for (int i = 0; i < RT_NS_COUNT; i++)
        ns->fd[i] = -1;
}

void rt_ns_close(struct rt_ns *ns)
{
    for (int i = 0; i < RT_NS_COUNT; i++) {
        if (ns->fd[i] >= 0)
            close(ns->fd[i]);
        ns->fd[i] = -1;
    }
}

int rt_ns_open_self(struct rt_ns *ns)
{
    rt_ns_init(ns);
    for (int i = 0; i < RT_NS_COUNT; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/proc/self/ns/%s", rt_ns_names[i]);
        ns->fd[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (ns->fd[i] < 0) {
            int e = errno;
            rt_ns_close(ns);
            errno = e;
            return -1;
        }
    }
    return 0;
}

int rt_ns_is_own(int fd, int i)
{
    char path[32];
    struct stat a, b;
    snprintf(path, sizeof(path), "/proc/self/ns/%s", rt_ns_names[i]);
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
}

union ns_cmsg {
    char buf[CMSG_SPACE(sizeof(int) * RT_NS_COUNT)];
    struct cmsghdr align;
};

int rt_send_fds(int sock, const void *head, size_t head_len, const int *fds, size_t n)
{
    if (n == 0 || n > RT_NS_COUNT) {
        errno = EINVAL;
        return -1;
    }
    struct iovec iov = {.iov_base = (void *)head, .iov_len = head_len};
    union ns_cmsg u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = u.buf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    ssize_t r;
    while ((r = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return r == (ssize_t)head_len ? 0 : -1;
}

int rt_ns_send(int sock, const struct rt_ns *ns)
{
    for (int i = 0; i < RT_NS_COUNT; i++)
        if (ns->fd[i] < 0) {
            errno = EBADF;
            return -1;
        }
    static const char head[4] = {'k', 'N', 1, RT_NS_COUNT};
    return rt_send_fds(sock, head, sizeof(head), ns->fd, RT_NS_COUNT);
}

int rt_ns_recv(int sock, int flags, struct rt_ns *ns)
{
    rt_ns_init(ns);
    char head[4] = {0};
    struct iovec iov = {.iov_base = head, .iov_len = sizeof(head)};
    union ns_cmsg u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t r;
    while ((r = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return errno == EAGAIN ? 0 : -1;
    /* Whatever arrived is closed unless it is the whole, well-formed set. */
    int got[RT_NS_COUNT], n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t j = 0; j < k; j++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
            if (n < RT_NS_COUNT)
                got[n++] = fd;
            else
                close(fd);
        }
    }
    int whole = r == (ssize_t)sizeof(head) && memcmp(head, "kN\1", 3) == 0 &&
                head[3] == RT_NS_COUNT && n == RT_NS_COUNT &&
                !(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC));
    for (int i = 0; i < n; i++) {
        if (whole)
            ns->fd[i] = got[i];
        else
            close(got[i]);
    }
    return whole;
}
