/* rt_ns_send / rt_ns_recv: a container's namespaces as one message over a
 * unix socket; whatever is not the whole, well-formed set is closed, not
 * kept or leaked. No root needed: the test sends its own namespaces. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "tap.h"

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void own(struct rt_ns *ns)
{
    static const char *const names[] = {"user", "ipc", "uts", "net", "pid", "mnt"};
    for (int i = 0; i < RT_NS_COUNT; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/proc/self/ns/%s", names[i]);
        ns->fd[i] = open(p, O_RDONLY | O_CLOEXEC);
    }
}

static int same_file(int a, int b)
{
    struct stat x, y;
    return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

/* Sends head with n of ns's descriptors, raw. */
static void send_raw(int sock, const char *head, size_t len, const struct rt_ns *ns, int n)
{
    struct iovec iov = {.iov_base = (void *)head, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int) * RT_NS_COUNT)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
        memcpy(CMSG_DATA(c), ns->fd, sizeof(int) * (size_t)n);
    }
    sendmsg(sock, &msg, 0);
}

int main(void)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return 1;
    struct rt_ns mine, got;
    rt_ns_init(&mine);
    own(&mine);
    int before = open_fds();

    ok(rt_ns_send(sp[0], &mine) == 0, "send");
    is_int(rt_ns_recv(sp[1], 0, &got), 1, "the whole set arrives");
    int all = 1;
    for (int i = 0; i < RT_NS_COUNT; i++)
        all = all && same_file(got.fd[i], mine.fd[i]) && fcntl(got.fd[i], F_GETFD) == FD_CLOEXEC;
    ok(all, "in RT_NS_* order, close-on-exec");
    rt_ns_close(&got);
    is_int(got.fd[0], -1, "rt_ns_close leaves -1");

    send_raw(sp[0], "kN\1\6", 4, &mine, RT_NS_COUNT - 1);
    is_int(rt_ns_recv(sp[1], 0, &got), 0, "five descriptors: refused");
    send_raw(sp[0], "kN\2\6", 4, &mine, RT_NS_COUNT);
    is_int(rt_ns_recv(sp[1], 0, &got), 0, "another version: refused");
    send_raw(sp[0], "kN\1\6!", 5, &mine, RT_NS_COUNT);
    is_int(rt_ns_recv(sp[1], 0, &got), 0, "a longer message: refused");
    send_raw(sp[0], "kN\1\6", 4, &mine, 0);
    is_int(rt_ns_recv(sp[1], 0, &got), 0, "no descriptors: refused");
    ok(got.fd[0] == -1 && got.fd[5] == -1, "nothing kept");
    is_int(rt_ns_recv(sp[1], MSG_DONTWAIT, &got), 0, "nothing waiting: 0 at once");
    is_int(open_fds(), before, "no descriptor leaked");

    int uts = mine.fd[2];
    mine.fd[2] = -1;
    ok(rt_ns_send(sp[0], &mine) < 0, "an incomplete set is not sent");
    mine.fd[2] = uts;
    rt_ns_close(&mine);
    close(sp[0]);
    is_int(rt_ns_recv(sp[1], 0, &got), 0, "EOF: 0");
    close(sp[1]);
    return done_testing();
}
