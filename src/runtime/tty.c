/* -t: a pty pair made in the container's own devpts; the slave becomes the
 * command's controlling terminal, kiln relays between the caller's terminal
 * (raw mode) and the master it receives over a socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/fs.h"

static int copy_once(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return -1;
    return write_all(to, buf, (size_t)n);
}

void rt_tty_relay(int master)
{
    struct termios saved, raw;
    int is_tty = tcgetattr(0, &saved) == 0;
    if (is_tty) {
        raw = saved;
        cfmakeraw(&raw);
        tcsetattr(0, TCSANOW, &raw);
    }
    int in_open = 1;
    for (;;) {
        struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
        int r = poll(p, in_open ? 2 : 1, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (copy_once(master, 1) < 0)
                break;
        }
        if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (copy_once(0, master) < 0) {
                in_open = 0;
                char eof = 4; /* ^D: the caller's input ended */
                write_all(master, &eof, 1);
            }
        }
    }
    if (is_tty)
        tcsetattr(0, TCSANOW, &saved);
}

int rt_tty_make_in_container(int sock, struct kiln_error **err)
{
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return kiln_error_errno(err, errno, "opening /dev/ptmx in the container");
    char name[64];
    if (unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0) {
        close(m);
        return kiln_error_errno(err, errno, "allocating a pty");
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        close(m);
        return kiln_error_errno(err, errno, "opening %s", name);
    }
    int r = rt_send_fds(sock, "t", 1, &m, 1);
    int e = errno;
    close(m);
    if (r < 0) {
        close(s);
        return kiln_error_errno(err, e, "passing the pty to kiln");
    }
    return s;
}

int rt_tty_receive(int sock)
{
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t r;
    do
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r != 1)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0)
        ioctl(fd, TIOCSWINSZ, &ws);
    return fd;
}
