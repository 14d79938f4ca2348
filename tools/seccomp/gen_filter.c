/* Build-time generator of the container's default seccomp filter: compiles
 * the rules below with libseccomp once, when kiln is built, and prints the
 * BPF program as a C array (build/gen/seccomp_filter.h) that
 * src/runtime/secure.c loads with seccomp(2). Every container start used to
 * compile the same program again (three architectures, ~70 rules).
 *
 * The rules: what Docker's default profile does not allow (for a container
 * without extra capabilities) fails with EPERM; clone with a namespace flag
 * fails with EPERM; clone3 answers ENOSYS so libc falls back to clone. The
 * 32-bit ABIs (x86, x32) get the same rules instead of being killed.
 *
 * A second program, rt_seccomp_filter_nosync, is the same plus: sync,
 * syncfs, fsync, fdatasync and sync_file_range answer success without doing
 * anything. kiln build's RUN steps use it: their upper directory becomes a
 * layer that kiln syncs once when it commits the step, so the fsync that
 * dpkg makes per file (and a sync(2) that would flush every file system of
 * the host) are wasted work there.
 *
 *   gen_filter > seccomp_filter.h */
#include <errno.h>
#include <linux/filter.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *const denied[] = {
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_madvise",
    "ptrace",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "sysfs",
    "_sysctl",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
    "vm86",
    "vm86old",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fanotify_init",
    "lsm_set_self_attr",
    "landlock_create_ruleset",
};

static int die(const char *what, int r)
{
    fprintf(stderr, "gen_filter: %s: %s\n", what, r < 0 ? strerror(-r) : "failed");
    return 1;
}

static const char *const nosync[] = {
    "sync",
    "syncfs",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "sync_file_range2",
    "arm_sync_file_range",
};

static int emit(const char *name, int no_sync)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return die("seccomp_init", 0);
    int r;
    if ((r = seccomp_arch_add(ctx, SCMP_ARCH_X86)) < 0 && r != -EEXIST)
        return die("x86", r);
    if ((r = seccomp_arch_add(ctx, SCMP_ARCH_X32)) < 0 && r != -EEXIST)
        return die("x32", r);
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* unknown to this libseccomp: nothing to deny */
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        if (r < 0 && r != -EDOM && r != -EEXIST)
            return die(denied[i], r);
    }
    /* clone creating namespaces: one rule per flag, as (flags & ns) != 0. */
    static const unsigned long ns[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
                                       CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]))) < 0)
            return die("clone", r);
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
        return die("clone3", r);
    for (size_t i = 0; no_sync && i < sizeof(nosync) / sizeof(nosync[0]); i++) {
        int nr = seccomp_syscall_resolve_name(nosync[i]);
        if (nr == __NR_SCMP_ERROR)
            continue;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(0), nr, 0);
        if (r < 0 && r != -EDOM && r != -EEXIST)
            return die(nosync[i], r);
    }

    int fd = memfd_create("bpf", MFD_CLOEXEC);
    if (fd < 0 || (r = seccomp_export_bpf(ctx, fd)) < 0)
        return die("export", fd < 0 ? -errno : r);
    off_t len = lseek(fd, 0, SEEK_END);
    if (len <= 0 || len % sizeof(struct sock_filter) != 0)
        return die("exported program size", 0);
    struct sock_filter *prog = malloc((size_t)len);
    if (prog == NULL || pread(fd, prog, (size_t)len, 0) != len)
        return die("read back", -errno);
    size_t n = (size_t)len / sizeof(struct sock_filter);
    printf("static const struct sock_filter %s[%zu] = {\n", name, n);
    for (size_t i = 0; i < n; i++)
        printf("    {0x%04x, %u, %u, 0x%08x},\n", prog[i].code, prog[i].jt, prog[i].jf, prog[i].k);
    printf("};\n");
    free(prog);
    close(fd);
    seccomp_release(ctx);
    return 0;
}

int main(void)
{
    printf("/* Generated by tools/seccomp/gen_filter.c at build time: do not edit. */\n");
    if (emit("rt_seccomp_filter", 0) != 0 || emit("rt_seccomp_filter_nosync", 1) != 0)
        return 1;
    return fflush(stdout) == 0 ? 0 : 1;
}
