/* Privilege shaping right before exec: capability bounding set as Docker's
 * default, user switch, rlimits, no_new_privs and the default seccomp filter
 * (precompiled at build time, see tools/seccomp/gen_filter.c). */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sched.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/strbuf.h"

const int rt_default_caps[] = {
    CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
    CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
    CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
    CAP_KILL,    CAP_AUDIT_WRITE,
};
const size_t rt_n_default_caps = sizeof(rt_default_caps) / sizeof(rt_default_caps[0]);

static unsigned long long default_mask(void)
{
    unsigned long long m = 0;
    for (size_t i = 0; i < rt_n_default_caps; i++)
        m |= 1ULL << rt_default_caps[i];
    return m;
}

/* The set in effect for s: its own, or Docker's default. */
static unsigned long long spec_mask(const struct rt_spec *s)
{
    return s->caps_set ? s->caps : default_mask();
}

static int cap_named(const char *name, int *out)
{
    struct strbuf sb = STRBUF_INIT;
    if (strncasecmp(name, "CAP_", 4) != 0)
        strbuf_adds(&sb, "cap_");
    for (const char *p = name; *p; p++)
        strbuf_addc(&sb, (char)tolower((unsigned char)*p));
    cap_value_t v;
    int r = cap_from_name(sb.buf, &v);
    strbuf_release(&sb);
    if (r < 0 || v < 0 || v > CAP_LAST_CAP)
        return -1;
    *out = v;
    return 0;
}

int rt_caps_mask(const char *const *add, size_t n_add, const char *const *drop, size_t n_drop,
                 unsigned long long *mask, struct kiln_error **err)
{
    unsigned long long all = CAP_LAST_CAP >= 63 ? ~0ULL : (1ULL << (CAP_LAST_CAP + 1)) - 1;
    unsigned long long m = default_mask();
    for (size_t i = 0; i < n_drop + n_add; i++) {
        const char *name = i < n_drop ? drop[i] : add[i - n_drop];
        int c;
        unsigned long long bits;
        if (strcasecmp(name, "ALL") == 0)
            bits = all;
        else if (cap_named(name, &c) == 0)
            bits = 1ULL << c;
        else
            return kiln_error_set(err, KILN_E_USAGE, "unknown capability \"%s\"", name);
        if (i < n_drop)
            m &= ~bits;
        else
            m |= bits;
    }
    *mask = m;
    return 0;
}

int rt_drop_bounding(const struct rt_spec *s, struct kiln_error **err)
{
    unsigned long long keep = spec_mask(s);
    for (int c = 0; c <= CAP_LAST_CAP; c++) {
        if (keep & (1ULL << c))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            return kiln_error_errno(err, errno, "dropping capability %d from the bounding set", c);
    }
    /* Higher numbers than this kernel's headers know of. */
    for (int c = CAP_LAST_CAP + 1; c < 64; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno == EINVAL)
            break;
    return 0;
}

int rt_become_user(const struct rt_spec *s, const struct rt_user *u, struct kiln_error **err)
{
    if (setgroups(u->n_groups, u->groups) < 0 && !(errno == EPERM && u->n_groups == 0))
        return kiln_error_errno(err, errno, "setting supplementary groups");
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return kiln_error_errno(err, errno, "setting gid %u", (unsigned)u->gid);
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return kiln_error_errno(err, errno, "setting uid %u", (unsigned)u->uid);
    /* Root keeps exactly the default set; setresuid already cleared others'. */
    cap_t caps = cap_init();
    if (caps == NULL)
        return kiln_error_errno(err, errno, "cap_init");
    if (u->uid == 0) {
        unsigned long long m = spec_mask(s);
        cap_value_t v[64];
        int n = 0;
        for (int c = 0; c <= CAP_LAST_CAP && c < 64; c++)
            if (m & (1ULL << c))
                v[n++] = c;
        if (n > 0) {
            cap_set_flag(caps, CAP_EFFECTIVE, n, v, CAP_SET);
            cap_set_flag(caps, CAP_PERMITTED, n, v, CAP_SET);
        }
    }
    int r = cap_set_proc(caps);
    int e = errno;
    cap_free(caps);
    if (r < 0)
        return kiln_error_errno(err, e, "setting capabilities");
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return 0;
}

int rt_apply_rlimits(const struct rt_spec *s, struct kiln_error **err)
{
    for (size_t i = 0; i < s->n_rlimits; i++) {
        struct rlimit cur, want;
        const struct rt_rlimit *l = &s->rlimits[i];
        if (getrlimit(l->resource, &cur) < 0)
            return kiln_error_errno(err, errno, "getrlimit %d", l->resource);
        want.rlim_max = l->hard;
        want.rlim_cur = l->soft;
        /* Raising the hard limit needs CAP_SYS_RESOURCE, which root here may lack. */
        if (cur.rlim_max != RLIM_INFINITY && want.rlim_max > cur.rlim_max)
            want.rlim_max = cur.rlim_max;
        if (want.rlim_cur > want.rlim_max)
            want.rlim_cur = want.rlim_max;
        if (setrlimit(l->resource, &want) < 0)
            return kiln_error_errno(err, errno, "setrlimit %d", l->resource);
    }
    return 0;
}

/* The default filter, compiled from tools/seccomp/gen_filter.c's rules when
 * kiln is built (what Docker's default profile denies answers EPERM). */
#include "seccomp_filter.h"

int rt_lock_down(int no_sync, struct kiln_error **err)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return kiln_error_errno(err, errno, "setting no_new_privs");
    struct sock_fprog prog = {
        .len = (unsigned short)(sizeof(rt_seccomp_filter) / sizeof(rt_seccomp_filter[0])),
        .filter = (struct sock_filter *)rt_seccomp_filter,
    };
    if (no_sync) {
        prog.len = (unsigned short)(sizeof(rt_seccomp_filter_nosync) /
                                    sizeof(rt_seccomp_filter_nosync[0]));
        prog.filter = (struct sock_filter *)rt_seccomp_filter_nosync;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        return kiln_error_errno(err, errno, "loading the seccomp filter");
    return 0;
}
