/* Rootless: the parent writes the child's uid and gid maps. With a range in
 * /etc/subuid and /etc/subgid the setuid helpers newuidmap/newgidmap map it
 * too (so image users other than root exist); otherwise only the caller's own
 * id is mapped, which the kernel lets anyone do. */
#include <errno.h>
#include <fcntl.h>
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
    struct passwd *pw = getpwuid(getuid());
    const char *name = pw ? pw->pw_name : NULL;
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

int rt_userns_map(pid_t pid, enum rt_userns mode, struct kiln_error **err)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    struct passwd *pw = getpwuid(uid);
    const char *name = pw ? pw->pw_name : NULL;
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
