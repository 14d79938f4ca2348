/* build/copy: COPY plans from a context into a layered root: destination
 * rules, parents through symlinks, --chown/--chmod, digests without mtimes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/context.h"
#include "build/copy.h"
#include "build/rootview.h"
#include "build/statcache.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/kiln-test-copy-XXXXXX";

static void mk(const char *rel, const char *data)
{
    struct kiln_error *err = NULL;
    cleanup_free char *p = xasprintf("%s/%s", tmp, rel);
    cleanup_free char *d = xstrdup(p);
    *strrchr(d, '/') = '\0';
    mkdir_p(d, 0755, &err);
    write_file_atomic(p, data, strlen(data), 0644, &err);
    kiln_error_free(err);
}

static int plan_digest(struct context_index *ci, struct rootview *rv, struct statcache *sc,
                       const char *src, const char *dest, struct digest *d, int write_to)
{
    struct copy_source s = {.path = src};
    struct copy_req req = {.srcs = &s, .n_srcs = 1, .dest = dest, .ctx = ci, .dest_view = rv};
    struct copy_plan *p = NULL;
    struct kiln_error *err = NULL;
    int rc = copy_plan_build(&req, &p, &err);
    if (rc == 0)
        rc = copy_plan_digest(p, sc, d, &err);
    if (rc == 0 && write_to >= 0)
        rc = copy_plan_write(p, write_to, 1700000000, &err);
    if (err)
        printf("# %s\n", err->msg);
    kiln_error_free(err);
    copy_plan_free(p);
    return rc;
}

int main(void)
{
    if (mkdtemp(tmp) == NULL)
        return 1;
    struct kiln_error *err = NULL;
    mk("ctx/app/main.py", "print(1)\n");
    mk("ctx/app/lib/util.py", "x = 1\n");
    mk("ctx/readme", "hi\n");
    mk("root/usr/bin/sh", "sh");
    cleanup_free char *bin = xasprintf("%s/root/bin", tmp);
    ok(symlink("usr/bin", bin) == 0, "/bin -> usr/bin");
    cleanup_free char *opt = xasprintf("%s/root/opt", tmp);
    mkdir(opt, 0700);
    ok(chown(opt, 5, 6) == 0, "owner of /opt");
    cleanup_free char *ctxdir = xasprintf("%s/ctx", tmp), *rootdir = xasprintf("%s/root", tmp);
    cleanup_free char *scpath = xasprintf("%s/sc", tmp);
    struct context_index *ci = NULL;
    ok(context_index_build(ctxdir, NULL, &ci, &err) == 0, "context indexed");
    const char *dirs[] = {rootdir};
    struct rootview *rv = NULL;
    rootview_open(dirs, 1, &rv, &err);
    struct statcache *sc = statcache_open(scpath);

    struct digest d1, d2;
    ok(plan_digest(ci, rv, sc, "app", "/opt/app/", &d1, -1) == 0, "plan for a directory");
    cleanup_free char *f = xasprintf("%s/ctx/app/main.py", tmp);
    struct timespec ts[2] = {{1000, 0}, {1000, 0}};
    utimensat(AT_FDCWD, f, ts, 0);
    context_index_free(ci);
    context_index_build(ctxdir, NULL, &ci, &err);
    plan_digest(ci, rv, sc, "app", "/opt/app/", &d2, -1);
    ok(digest_equal(&d1, &d2), "an mtime change leaves the digest alone");
    write_file_atomic(f, "print(2)\n", 9, 0644, &err);
    context_index_free(ci);
    context_index_build(ctxdir, NULL, &ci, &err);
    plan_digest(ci, rv, sc, "app", "/opt/app/", &d2, -1);
    ok(!digest_equal(&d1, &d2), "a content change changes it");
    plan_digest(ci, rv, sc, "app", "/srv/", &d2, -1);
    ok(!digest_equal(&d1, &d2), "so does another destination");

    cleanup_free char *out = xasprintf("%s/out", tmp);
    mkdir(out, 0755);
    int ofd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok(plan_digest(ci, rv, sc, "readme", "/bin/", &d1, ofd) == 0, "COPY readme /bin/");
    struct stat st;
    cleanup_free char *through = xasprintf("%s/usr/bin/readme", out);
    ok(stat(through, &st) == 0 && S_ISREG(st.st_mode), "written through the /bin symlink");
    ok(plan_digest(ci, rv, sc, "app", "/opt/app", &d1, ofd) == 0, "COPY app /opt/app");
    cleanup_free char *o = xasprintf("%s/opt", out),
                      *lib = xasprintf("%s/opt/app/lib/util.py", out);
    ok(stat(o, &st) == 0 && (st.st_mode & 07777) == 0700 && st.st_uid == 5 && st.st_gid == 6,
       "an existing parent keeps its mode and owner");
    ok(stat(lib, &st) == 0 && st.st_mtime == 1700000000 && st.st_uid == 0,
       "context files: root-owned, epoch mtime");
    cleanup_free char *notdir = xasprintf("%s/opt/app/app", out);
    ok(stat(notdir, &st) < 0, "a directory source copies its contents");

    struct copy_source two[2] = {{.path = "readme"}, {.path = "app/main.py"}};
    struct copy_req req = {.srcs = two, .n_srcs = 2, .dest = "/x", .ctx = ci, .dest_view = rv};
    struct copy_plan *p = NULL;
    ok(copy_plan_build(&req, &p, &err) < 0 && err && strstr(err->msg, "must be a directory"),
       "several sources need a directory destination");
    kiln_error_freep(&err);
    struct copy_source missing = {.path = "nope"};
    req.srcs = &missing;
    req.n_srcs = 1;
    ok(copy_plan_build(&req, &p, &err) < 0 && err && err->code == KILN_E_NOTFOUND,
       "a missing source is KILN_E_NOTFOUND");
    kiln_error_freep(&err);

    uid_t u;
    gid_t g;
    const char *pw = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n";
    mk("root/etc/passwd", pw);
    mk("root/etc/group", "root:x:0:\nstaff:x:50:\n");
    rootview_free(rv);
    rootview_open(dirs, 1, &rv, &err);
    ok(copy_resolve_owner(rv, "app", &u, &g, &err) == 0 && u == 1000 && g == 1001,
       "--chown=name takes the user's primary group");
    ok(copy_resolve_owner(rv, "app:staff", &u, &g, &err) == 0 && u == 1000 && g == 50,
       "--chown=name:group");
    ok(copy_resolve_owner(rv, "42", &u, &g, &err) == 0 && u == 42 && g == 42,
       "--chown=42 is 42:42");
    ok(copy_resolve_owner(rv, "ghost", &u, &g, &err) < 0, "an unknown user is an error");
    kiln_error_freep(&err);

    close(ofd);
    statcache_free(sc);
    rootview_free(rv);
    context_index_free(ci);
    rm_rf(tmp, &err);
    return done_testing();
}
