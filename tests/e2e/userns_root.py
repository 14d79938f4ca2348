#!/usr/bin/env python3
"""userns_root.py COUNT CMD...: runs CMD as root of a new user namespace that
maps ids 0..COUNT-1 to themselves (run by root). Such a root has no privilege
over the host (no mknod, no trusted.* xattrs): kiln inside a rootless container
or `unshare -U`. util-linux's unshare --map-users goes through newuidmap, which
refuses root a range outside /etc/subuid."""
import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000


def main():
    count, argv = sys.argv[1], sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(ready_r)
        if libc.unshare(CLONE_NEWUSER) != 0:
            sys.exit("unshare(CLONE_NEWUSER): " + os.strerror(ctypes.get_errno()))
        os.write(ready_w, b"x")
        os.close(ready_w)
        if os.read(go_r, 1) != b"x":
            os._exit(125)
        os.setgroups([])
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        os.execvp(argv[0], argv)
    os.close(go_r)
    os.close(ready_w)
    os.read(ready_r, 1)
    for name in ("uid_map", "gid_map"):
        with open("/proc/%d/%s" % (pid, name), "w") as f:
            f.write("0 0 %s\n" % count)
    os.write(go_w, b"x")
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
