/* Rootless: the parent writes the child's uid and gid maps. With a range in
 * /etc/subuid and /etc/subgid the setuid helpers newuidmap/newgidmap map it
 * too (so image users other than root exist); otherwise only the caller's own
 * id is mapped, which the kernel lets anyone do. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/userns.h"

extern char **environ;

/* Finds "name:start:count" or "uid:start:count" in a subid file. */
static int subid_range(const char *file, const char *name, unsigned long id, unsigned long *start,
                       unsigned long *count)
{
    char *text = NULL;
    if (read_file(file, 1 << 20, &text, NULL, NULL) < 0)
        return -1;
    int found = -1;
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%lu", id);
    for (char *line = text; line && *line && found < 0;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c1 && c2) {
            *c1 = '\0';
            if ((name && strcmp(line, name) == 0) || strcmp(line, idbuf) == 0) {
                *start = strtoul(c1 + 1, NULL, 10);
                *count = strtoul(c2 + 1, NULL, 10);
                if (*count > 0)
                    found = 0;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return found;
}

static int run_helper(const char *helper, char *const *argv, struct kiln_error **err)
{
    pid_t p;
    int r = posix_spawnp(&p, helper, NULL, NULL, argv, environ);
    if (r != 0)
        return kiln_error_errno(err, r, "running %s", helper);
    int st;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return kiln_error_set(err, KILN_E_FAIL, "%s failed (check /etc/subuid and /etc/subgid)",
                              helper);
    return 0;
}

/* Map lines for one kind of id. inner: the id the caller becomes inside. */
static void map_args(struct strbuf *sb, unsigned long inner, unsigned long outer, int have_range,
                     unsigned long start, unsigned long count)
{
    strbuf_addf(sb, "%lu %lu 1", inner, outer);
    if (!have_range)
        return;
    if (inner == 0) {
        strbuf_addf(sb, " 1 %lu %lu", start, count);
    } else {
        unsigned long below = count < inner ? count : inner;
        strbuf_addf(sb, " 0 %lu %lu", start, below);
        if (count > inner)
            strbuf_addf(sb, " %lu %lu %lu", inner + 1, start + inner, count - inner);
    }
}

static int write_proc(pid_t pid, const char *file, const char *text, struct kiln_error **err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "%s", path);
    int r = write_all(fd, text, strlen(text));
    int e = errno;
    close(fd);
    if (r < 0)
        return kiln_error_errno(err, e, "writing %s", path);
    return 0;
}

static int map_one(pid_t pid, const char *helper, const char *file, unsigned long inner,
                   unsigned long outer, const char *subfile, const char *name,
                   struct kiln_error **err)
{
    unsigned long start = 0, count = 0;
    int have = subid_range(subfile, name, outer, &start, &count) == 0 &&
               access("/usr/bin/newuidmap", X_OK) == 0;
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    map_args(&sb, inner, outer, have, start, count);
    int r;
    if (have) {
        /* helper PID inner outer 1 [inner outer count]... */
        char *argv[32];
        size_t n = 0;
        char pidbuf[24];
        snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
        argv[n++] = (char *)helper;
        argv[n++] = pidbuf;
        char *copy = xstrdup(sb.buf);
        for (char *tok = copy; tok && n < 30;) {
            char *sp = strchr(tok, ' ');
            if (sp)
                *sp = '\0';
            argv[n++] = tok;
            tok = sp ? sp + 1 : NULL;
        }
        argv[n] = NULL;
        r = run_helper(helper, argv, err);
        free(copy);
    } else {
        strbuf_addc(&sb, '\n');
        r = write_proc(pid, file, sb.buf, err);
    }
    strbuf_release(&sb);
    return r;
}

/* The caller's user name, looked up once per process. rt_rootless_call forks
 * from processes that may have threads (compose, kube play), and a child must
 * not enter NSS, whose locks another thread may have held at the fork: the
 * parent always asks first (rt_rootless_keeps_owners), so the child finds the
 * answer made. NULL when the uid has no name. */
static char user_name[256];
static pthread_once_t user_name_once = PTHREAD_ONCE_INIT;

static void user_name_lookup(void)
{
    struct passwd *pw = getpwuid(getuid());
    if (pw != NULL && strlen(pw->pw_name) < sizeof(user_name))
        memcpy(user_name, pw->pw_name, strlen(pw->pw_name) + 1);
}

static const char *caller_name(void)
{
    pthread_once(&user_name_once, user_name_lookup);
    return user_name[0] != '\0' ? user_name : NULL;
}

/* The ranges map_args gives a caller who is root inside (inner 0). */
static size_t rootless_ranges(struct id_range *r, unsigned long outer, const char *subfile,
                              const char *name)
{
    unsigned long start = 0, count = 0;
    r[0] = (struct id_range){0, outer, 1};
    if (subid_range(subfile, name, outer, &start, &count) < 0 ||
        access("/usr/bin/newuidmap", X_OK) < 0)
        return 1;
    r[1] = (struct id_range){1, start, count};
    return 2;
}

void rt_rootless_id_map(struct id_map *out)
{
    const char *name = caller_name();
    out->n_uid = rootless_ranges(out->uid, getuid(), "/etc/subuid", name);
    out->n_gid = rootless_ranges(out->gid, getgid(), "/etc/subgid", name);
}

int rt_userns_enter_rootless(struct kiln_error **err)
{
    struct id_map m;
    rt_rootless_id_map(&m);
    if (m.n_uid < 2 || m.n_gid < 2)
        return 0;
    /* newuidmap may only be run from outside: a child maps its parent. */
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return kiln_error_errno(err, errno, "pipe");
    pid_t self = getpid();
    fflush(NULL);
    pid_t helper = fork();
    if (helper < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return kiln_error_errno(err, e, "fork");
    }
    if (helper == 0) {
        close(p[1]);
        char b;
        if (read(p[0], &b, 1) != 1)
            _exit(2);
        struct kiln_error *e = NULL;
        if (rt_userns_map(self, RT_USERNS_AUTO, &e) < 0) {
            fprintf(stderr, "kiln: %s\n", e->msg);
            _exit(1);
        }
        _exit(0);
    }
    close(p[0]);
    int r = unshare(CLONE_NEWUSER);
    int e = errno;
    if (r == 0 && write(p[1], "x", 1) != 1)
        r = -1;
    close(p[1]);
    int st;
    while (waitpid(helper, &st, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return kiln_error_errno(err, e, "creating a user namespace");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return kiln_error_set(err, KILN_E_FAIL, "mapping ids into the user namespace failed");
    return 1;
}

bool rt_rootless_keeps_owners(void)
{
    struct id_map m;
    rt_rootless_id_map(&m);
    return m.n_uid >= 2 && m.n_gid >= 2;
}

void rt_rootless_owners_note(void)
{
    static int said;
    if (said || geteuid() == 0 || rt_rootless_keeps_owners())
        return;
    said = 1;
    const char *name = caller_name() ? caller_name() : "USER";
    fprintf(stderr,
            "warning: %s has no range in /etc/subuid and /etc/subgid (or newuidmap is missing): "
            "image files are unpacked as yours, without their owners; to keep them, install "
            "uidmap and give %s 65536 ids no other user has, as root: usermod --add-subuids "
            "100000-165535 --add-subgids 100000-165535 %s\n",
            name, name, name);
}

/* What a child in the namespace failed with: its code, then its message. */
static void send_error(int fd, const struct kiln_error *e)
{
    int code = e ? e->code : KILN_E_FAIL;
    const char *msg = e && e->msg ? e->msg : "failed in the user namespace";
    if (write_all(fd, &code, sizeof(code)) == 0)
        write_all(fd, msg, strlen(msg));
}

static int recv_error(int fd, struct kiln_error **err)
{
    int code = KILN_E_FAIL;
    char msg[1024];
    size_t n = 0;
    if (read(fd, &code, sizeof(code)) != (ssize_t)sizeof(code))
        code = KILN_E_FAIL;
    while (n < sizeof(msg) - 1) {
        ssize_t r = read(fd, msg + n, sizeof(msg) - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    msg[n] = '\0';
    return kiln_error_set(err, code, "%s", n ? msg : "a child in the user namespace died");
}

int rt_rootless_call(int (*fn)(void *ctx, struct kiln_error **err), void *ctx,
                     struct kiln_error **err)
{
    if (geteuid() == 0 || !rt_rootless_keeps_owners())
        return fn(ctx, err);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return kiln_error_errno(err, errno, "pipe");
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return kiln_error_errno(err, e, "fork");
    }
    if (child == 0) {
        /* One thread after fork, as unshare(CLONE_NEWUSER) wants. */
        close(p[0]);
        struct kiln_error *e = NULL;
        int r = rt_userns_enter_rootless(&e);
        if (r >= 0)
            r = fn(ctx, &e);
        if (r < 0)
            send_error(p[1], e);
        fflush(NULL);
        _exit(r < 0 ? 1 : 0);
    }
    close(p[1]);
    int st = 0;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
        ;
    int rc = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        rc = recv_error(p[0], err);
    close(p[0]);
    return rc;
}

static int remove_tree(void *path, struct kiln_error **err)
{
    return rm_rf(path, err);
}

int rt_rootless_rm_rf(const char *path, struct kiln_error **err)
{
    if (geteuid() == 0 || !rt_rootless_keeps_owners())
        return rm_rf(path, err);
    /* Most trees hold nothing of another user's: removing them here costs
     * no newuidmap. What is left is removed from the namespace. */
    struct kiln_error *e = NULL;
    if (rm_rf(path, &e) == 0)
        return 0;
    kiln_error_free(e);
    return rt_rootless_call(remove_tree, (void *)path, err);
}

int rt_userns_map(pid_t pid, enum rt_userns mode, struct kiln_error **err)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    const char *name = caller_name();
    unsigned long in_uid = mode == RT_USERNS_KEEP_ID ? uid : 0;
    unsigned long in_gid = mode == RT_USERNS_KEEP_ID ? gid : 0;
    unsigned long s, c;
    if (subid_range("/etc/subgid", name, gid, &s, &c) < 0 &&
        write_proc(pid, "setgroups", "deny", err) < 0)
        return -1;
    if (map_one(pid, "newuidmap", "uid_map", in_uid, uid, "/etc/subuid", name, err) < 0 ||
        map_one(pid, "newgidmap", "gid_map", in_gid, gid, "/etc/subgid", name, err) < 0)
        return kiln_error_prefix(err, "user namespace");
    return 0;
}
