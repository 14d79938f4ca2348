/* The seccomp program of kiln build's RUN steps (rt_lock_down with no_sync)
 * answers sync, syncfs, fsync, fdatasync and sync_file_range with success
 * and does nothing (an invalid descriptor gives 0, not EBADF); the default
 * program leaves them alone. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "tap.h"

/* In a child: the filter, then each call on fd -1. Exit code: a bit per
 * call that returned 0. */
static int probe(int no_sync)
{
    pid_t p = fork();
    if (p == 0) {
        struct kiln_error *err = NULL;
        if (rt_lock_down(no_sync, &err) < 0)
            _exit(100);
        int bits = 0;
        bits |= (fsync(-1) == 0) << 0;
        bits |= (fdatasync(-1) == 0) << 1;
        bits |= (syncfs(-1) == 0) << 2;
        bits |= (sync_file_range(-1, 0, 0, SYNC_FILE_RANGE_WRITE) == 0) << 3;
        _exit(bits);
    }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
    is_int(probe(1), 15, "no_sync: fsync, fdatasync, syncfs, sync_file_range answer 0");
    is_int(probe(0), 0, "the default filter: they fail with EBADF as usual");
    return done_testing();
}
