/* build/: progress rendering, the step cache and cache mounts, the stat-keyed
 * digest cache, the epoch, and the overlay root view. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "build/cache.h"
#include "build/epoch.h"
#include "build/progress.h"
#include "build/rootview.h"
#include "build/statcache.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/kiln-test-build-XXXXXX";

static char *slurp_fd(int fd)
{
    lseek(fd, 0, SEEK_SET);
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        strbuf_add(&sb, buf, (size_t)n);
    return strbuf_detach(&sb);
}

static int memfd(void)
{
    char *p = xasprintf("%s/out.XXXXXX", tmp);
    int fd = mkstemp(p);
    unlink(p);
    free(p);
    return fd;
}

static void test_progress_plain(void)
{
    int fd = memfd();
    struct progress *p = progress_new(PROGRESS_PLAIN, fd);
    int a = progress_step_begin(p, "[app 1/2] RUN make");
    progress_step_output(p, a, "line one\nline ", 14);
    progress_step_output(p, a, "two\r\n", 5);
    progress_step_done(p, a);
    int b = progress_step_begin(p, "[app 2/2] COPY . /src");
    progress_step_cached(p, b);
    unsigned run, cached;
    progress_counts(p, &run, &cached);
    is_int(run, 1, "one step counted as run");
    is_int(cached, 1, "one step counted as cached");
    const char *tags[] = {"app:latest"};
    struct progress_summary s = {.image_id = "sha256:0123456789abcdef0123456789",
                                 .tags = tags,
                                 .n_tags = 1,
                                 .size = 1234567,
                                 .steps_run = 1,
                                 .steps_cached = 1,
                                 .wall_seconds = 1.5};
    progress_summary(p, &s);
    progress_free(p);
    cleanup_free char *out = slurp_fd(fd);
    close(fd);
    ok(strstr(out, "#1 [app 1/2] RUN make\n") != NULL, "plain: step line");
    ok(strstr(out, " line one\n") != NULL && strstr(out, " line two\n") != NULL,
       "plain: output split into whole lines across writes");
    ok(strstr(out, " line two\n#1 DONE") != NULL, "plain: CRLF makes one line, no empty one");
    ok(strstr(out, "#1 DONE ") != NULL, "plain: DONE with time");
    ok(strstr(out, "#2 CACHED\n") != NULL, "plain: CACHED");
    ok(strstr(out, "naming to app:latest") != NULL, "summary names the tag");
    ok(strstr(out, "1 step run, 1 cached, 1.23MB") != NULL, "summary counts steps and size");
}

static void test_progress_json_and_error(void)
{
    int fd = memfd();
    struct progress *p = progress_new(PROGRESS_JSON, fd);
    int a = progress_step_begin(p, "[s 1/1] RUN false");
    progress_step_output(p, a, "boom \"quoted\"\n", 14);
    progress_step_error(p, a, "exit 1");
    progress_free(p);
    cleanup_free char *out = slurp_fd(fd);
    close(fd);
    int lines = 0;
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    is_int(lines, 3, "json: one event per line (begin, log, error)");
    ok(strstr(out, "\"line\":\"boom \\\"quoted\\\"\"") != NULL, "json: log line escaped");
    ok(strstr(out, "\"state\":\"error\"") != NULL && strstr(out, "\"error\":\"exit 1\""),
       "json: error event carries the message");
    {
        /* every event has "time", seconds since the start, never decreasing */
        int timed = 0, ordered = 1;
        double last = -1;
        for (char *c = strstr(out, "\"time\":"); c != NULL; c = strstr(c + 1, "\"time\":")) {
            double t = strtod(c + 7, NULL);
            ordered = ordered && t >= last && t < 60;
            last = t;
            timed++;
        }
        is_int(timed, 3, "json: every event has a time");
        ok(ordered, "json: times are seconds since the start, in order");
    }

    fd = memfd();
    p = progress_new(PROGRESS_QUIET, fd);
    a = progress_step_begin(p, "[s 1/1] RUN false");
    for (int i = 0; i < 30; i++) {
        char l[32];
        int n = snprintf(l, sizeof(l), "out %d\n", i);
        progress_step_output(p, a, l, (size_t)n);
    }
    progress_step_error(p, a, "exit 1");
    progress_free(p);
    cleanup_free char *q = slurp_fd(fd);
    close(fd);
    ok(strstr(q, "out 29\n") != NULL && strstr(q, "out 10\n") != NULL && !strstr(q, "out 9\n"),
       "quiet: a failing step shows its last 20 lines");
}

static void test_cache(void)
{
    cleanup_free char *root = xasprintf("%s/store", tmp);
    cleanup_free char *blobs = xasprintf("%s/blobs/sha256", root);
    struct kiln_error *err = NULL;
    ok(mkdir_p(blobs, 0755, &err) == 0, "blob dir");
    struct digest k1, k2;
    struct digester *d = cache_key_begin(NULL);
    cache_key_adds(d, "instr", "RUN make");
    cache_key_finish(d, &k1);
    d = cache_key_begin(NULL);
    cache_key_adds(d, "instr", "RUN mak");
    cache_key_adds(d, "e", "");
    cache_key_finish(d, &k2);
    ok(!digest_equal(&k1, &k2), "field boundaries are part of the key");
    struct cache_entry e = {0}, got;
    is_int(cache_lookup(root, &k1, &got, &err), 0, "miss before store");
    e.has_layer = 1;
    snprintf(e.media_type, sizeof(e.media_type), "application/vnd.oci.image.layer.v1.tar");
    digest_bytes("layer", 5, &e.digest);
    e.diff_id = e.digest;
    e.size = 5;
    ok(cache_store(root, &k1, &e, &err) == 0, "store an entry");
    is_int(cache_lookup(root, &k1, &got, &err), 0, "an entry whose blob is gone is a miss");
    cleanup_free char *blob = xasprintf("%s/%s", blobs, e.digest.hex);
    write_file_atomic(blob, "layer", 5, 0644, &err);
    is_int(cache_lookup(root, &k1, &got, &err), 1, "hit once the blob is there");
    ok(got.has_layer && digest_equal(&got.digest, &e.digest) && got.size == 5,
       "the entry reads back");
    struct cache_entry none = {0};
    ok(cache_store(root, &k2, &none, &err) == 0 && cache_lookup(root, &k2, &got, &err) == 1 &&
           !got.has_layer,
       "an empty-diff entry is a hit without a layer");

    struct cache_mount m1, m2, m3;
    ok(cache_mount_acquire(root, "/var/cache/apt", CACHE_SHARED, 0, 0, 0755, &m1, &err) == 0,
       "cache mount acquired");
    ok(cache_mount_acquire(root, "/var/cache/apt", CACHE_SHARED, 0, 0, 0755, &m2, &err) == 0 &&
           m1.upper == NULL && m2.upper != NULL && strcmp(m1.path, m2.data) == 0,
       "shared while in use: a view of the same directory");
    ok(cache_mount_acquire(root, "/var/cache/apt", CACHE_PRIVATE, 0, 0, 0755, &m3, &err) == 0 &&
           strcmp(m1.path, m3.path) != 0,
       "private while in use: a directory of its own");
    cache_mount_release(&m3);
    unsigned long freed = 0;
    ok(cache_prune(root, &freed, &err) == 0, "prune");
    ok(path_exists(m1.path), "prune keeps a cache mount in use");
    is_int(cache_lookup(root, &k1, &got, &err), 0, "prune removed the step entries");
    cache_mount_release(&m1);
    cache_mount_release(&m2);
    ok(cache_prune(root, &freed, &err) == 0 && freed >= 1, "prune removes a released mount");
    kiln_error_free(err);
}

static void put(const char *dir, const char *name, const char *text)
{
    struct kiln_error *err = NULL;
    cleanup_free char *p = path_join(dir, name);
    write_file_atomic(p, text, strlen(text), 0644, &err);
    kiln_error_free(err);
}

static int has(const char *dir, const char *name, const char *text)
{
    cleanup_free char *p = path_join(dir, name);
    cleanup_free char *got = NULL;
    size_t n = 0;
    struct kiln_error *err = NULL;
    int rc = read_file(p, 1 << 16, &got, &n, &err) == 0 && n == strlen(text) &&
             memcmp(got, text, n) == 0;
    kiln_error_free(err);
    return rc;
}

static void test_cache_view(void)
{
    struct kiln_error *err = NULL;
    cleanup_free char *root = xasprintf("%s/viewroot", tmp);
    struct cache_mount d, v, v2;
    ok(cache_mount_acquire(root, "/c", CACHE_SHARED, 0, 0, 0755, &d, &err) == 0 && d.upper == NULL,
       "the first user binds the cache itself");
    put(d.path, "old", "old");
    cleanup_free char *sub = path_join(d.path, "sub");
    mkdir(sub, 0755);
    put(sub, "kept", "kept");
    ok(cache_mount_acquire(root, "/c", CACHE_SHARED, 0, 0, 0755, &v, &err) == 0 && v.upper != NULL,
       "the second gets a view");
    ok(has(v.path, "old", "old") && has(v.path, "sub/kept", "kept"),
       "the view's lower dir has the cache's files");
    cleanup_free char *lock_in_view = path_join(v.path, "lock");
    put(d.path, "lock", "direct");
    ok(!path_exists(lock_in_view), "a file the cache gets later is not in the view");
    /* what a step writes through the overlay, as its upper dir holds it */
    put(v.upper, "new", "new");
    put(v.upper, "old", "view");  /* a changed copy of a cache file */
    put(v.upper, "lock", "view"); /* a name the direct user made meanwhile */
    cleanup_free char *wo = path_join(v.upper, "gone");
    ok(mknod(wo, S_IFCHR | 0, makedev(0, 0)) == 0, "a whiteout");
    cleanup_free char *vsub = path_join(v.upper, "sub");
    cleanup_free char *vnew = path_join(v.upper, "newdir");
    cleanup_free char *vmixed = path_join(v.upper, "mixed");
    mkdir(vsub, 0755);
    mkdir(vnew, 0750);
    mkdir(vmixed, 0755);
    put(vsub, "more", "more");
    put(vnew, "x", "x");
    put(vmixed, "y", "y");
    cleanup_free char *wo2 = path_join(vmixed, "z");
    mknod(wo2, S_IFCHR | 0, makedev(0, 0));
    put(d.path, "gone", "gone");
    cleanup_free char *view_dir = xstrdup(v.view);
    cache_mount_release(&v);
    ok(has(d.path, "new", "new") && has(d.path, "sub/more", "more") &&
           has(d.path, "newdir/x", "x") && has(d.path, "mixed/y", "y"),
       "release moves the view's new files into the cache");
    ok(has(d.path, "old", "old") && has(d.path, "lock", "direct") &&
           has(d.path, "sub/kept", "kept"),
       "a name the cache has keeps its file");
    cleanup_free char *z = path_join(d.path, "mixed/z");
    ok(has(d.path, "gone", "gone") && !path_exists(z), "whiteouts are not merged");
    struct stat st;
    cleanup_free char *nd = path_join(d.path, "newdir");
    ok(stat(nd, &st) == 0 && (st.st_mode & 07777) == 0750, "a new directory keeps its mode");
    ok(!path_exists(view_dir), "the view is removed");

    /* a killed build: its view's lock goes, its directory stays */
    ok(cache_mount_acquire(root, "/c", CACHE_SHARED, 0, 0, 0755, &v, &err) == 0 && v.upper != NULL,
       "a view again");
    put(v.upper, "lost", "lost");
    close(v.own_fd);
    close(v.lock_fd);
    ok(cache_mount_acquire(root, "/c", CACHE_SHARED, 0, 0, 0755, &v2, &err) == 0 &&
           strcmp(v2.view, v.view) == 0 && !has(v2.upper, "lost", "lost"),
       "the next view takes the dead one's slot, empty");
    v.own_fd = v.lock_fd = -1;
    free(v.view);
    v.view = NULL; /* not merged: the build was killed */
    cache_mount_release(&v);
    cache_mount_release(&v2);
    ok(!path_exists(z) && !has(d.path, "lost", "lost"), "a dead view's files are not merged");
    cache_mount_release(&d);

    struct cache_mount l;
    ok(cache_mount_acquire(root, "/c", CACHE_LOCKED, 0, 0, 0755, &l, &err) == 0 &&
           l.upper == NULL && l.own_fd < 0,
       "locked: the cache itself");
    cache_mount_release(&l);
    kiln_error_free(err);
}

static void test_statcache(void)
{
    struct kiln_error *err = NULL;
    cleanup_free char *dir = xasprintf("%s/ctx", tmp);
    mkdir_p(dir, 0755, &err);
    cleanup_free char *f = xasprintf("%s/a.txt", dir);
    write_file_atomic(f, "hello", 5, 0644, &err);
    cleanup_free char *scpath = xasprintf("%s/statcache", tmp);
    cleanup_free char *lock = xasprintf("%s/lock", tmp);
    sleep(3); /* older than the racy window */
    struct statcache *sc = statcache_open(scpath);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    fstatat(dfd, "a.txt", &st, AT_SYMLINK_NOFOLLOW);
    struct digest d1, d2, want;
    digest_bytes("hello", 5, &want);
    ok(statcache_file_digest(sc, dfd, "a.txt", &st, &d1, &err) == 0 && digest_equal(&d1, &want),
       "digest of a file");
    statcache_file_digest(sc, dfd, "a.txt", &st, &d2, &err);
    unsigned long hashed, hits;
    statcache_stats(sc, &hashed, &hits);
    ok(hashed == 1 && hits == 1, "second ask answered from the cache");
    ok(statcache_save(sc, lock, &err) == 0, "saved");
    statcache_free(sc);
    sc = statcache_open(scpath);
    statcache_file_digest(sc, dfd, "a.txt", &st, &d2, &err);
    statcache_stats(sc, &hashed, &hits);
    ok(hashed == 0 && hits == 1 && digest_equal(&d2, &want), "a reopened cache still answers");
    /* Same size, same mtime, new bytes: ctime moves, so it is read again. */
    int fd = open(f, O_WRONLY | O_CLOEXEC);
    ssize_t w = write(fd, "HELLO", 5);
    (void)w;
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    futimens(fd, ts);
    close(fd);
    fstatat(dfd, "a.txt", &st, AT_SYMLINK_NOFOLLOW);
    digest_bytes("HELLO", 5, &want);
    ok(statcache_file_digest(sc, dfd, "a.txt", &st, &d2, &err) == 0 && digest_equal(&d2, &want),
       "a rewrite with the old mtime is noticed");
    statcache_free(sc);
    close(dfd);
    kiln_error_free(err);
}

static void test_epoch(void)
{
    struct kiln_error *err = NULL;
    int64_t e = -1;
    ok(build_epoch("1700000000", NULL, &e, &err) == 0 && e == 1700000000, "SOURCE_DATE_EPOCH wins");
    ok(build_epoch("12abc", NULL, &e, &err) < 0 && err && err->code == KILN_E_USAGE,
       "a malformed SOURCE_DATE_EPOCH is a usage error");
    kiln_error_freep(&err);
    cleanup_free char *nogit = xasprintf("%s/nogit", tmp);
    mkdir_p(nogit, 0755, &err);
    ok(build_epoch(NULL, nogit, &e, &err) == 0 && e == 0, "no git: 0");
    cleanup_free char *cmd =
        xasprintf("cd %s && git init -q repo && cd repo && echo x > f && git add f && "
                  "GIT_COMMITTER_DATE='@1600000000 +0000' GIT_AUTHOR_DATE='@1500000000 +0000' "
                  "git -c user.name=t -c user.email=t@t commit -qm m",
                  tmp);
    if (system(cmd) == 0) {
        cleanup_free char *repo = xasprintf("%s/repo", tmp);
        ok(build_epoch("", repo, &e, &err) == 0 && e == 1600000000,
           "git context: HEAD's commit time");
    } else {
        ok(0, "git repository for the epoch test");
    }
}

static void mk(const char *path, const char *data)
{
    struct kiln_error *err = NULL;
    cleanup_free char *d = xstrdup(path);
    *strrchr(d, '/') = '\0';
    mkdir_p(d, 0755, &err);
    write_file_atomic(path, data, strlen(data), 0644, &err);
    kiln_error_free(err);
}

static void test_rootview(void)
{
    struct kiln_error *err = NULL;
    cleanup_free char *lo = xasprintf("%s/lower", tmp), *up = xasprintf("%s/upper", tmp);
    cleanup_free char *p1 = xasprintf("%s/usr/bin/sh", lo), *p2 = xasprintf("%s/etc/passwd", lo);
    cleanup_free char *p3 = xasprintf("%s/a/b/gone", lo), *p4 = xasprintf("%s/a/b/kept", lo);
    cleanup_free char *p5 = xasprintf("%s/o/old", lo), *p6 = xasprintf("%s/o/new", up);
    mk(p1, "sh");
    mk(p2, "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n");
    mk(p3, "x");
    mk(p4, "y");
    mk(p5, "old");
    mk(p6, "new");
    cleanup_free char *bin = xasprintf("%s/bin", lo);
    ok(symlink("usr/bin", bin) == 0, "symlink /bin -> usr/bin");
    cleanup_free char *ab = xasprintf("%s/a/b", up);
    mkdir_p(ab, 0755, &err);
    cleanup_free char *wh = xasprintf("%s/a/b/gone", up);
    ok(mknod(wh, S_IFCHR | 0, makedev(0, 0)) == 0, "whiteout in the upper layer");
    cleanup_free char *od = xasprintf("%s/o", up);
    ok(setxattr(od, "trusted.overlay.opaque", "y", 1, 0) == 0, "opaque directory");
    const char *dirs[] = {up, lo};
    struct rootview *rv = NULL;
    ok(rootview_open(dirs, 2, &rv, &err) == 0, "open the view");
    struct rootview_entry e;
    is_int(rootview_lookup(rv, "/bin/sh", 1, &e, &err), 1, "/bin/sh through the symlink");
    is_str(e.path, "usr/bin/sh", "canonical path of /bin/sh");
    rootview_entry_release(&e);
    is_int(rootview_lookup(rv, "/bin/new", 1, &e, &err), 0, "a missing file");
    is_str(e.path, "usr/bin/new", "its would-be path is resolved too");
    rootview_entry_release(&e);
    is_int(rootview_lookup(rv, "/a/b/gone", 0, &e, &err), 0, "whited-out file is gone");
    rootview_entry_release(&e);
    is_int(rootview_lookup(rv, "/a/b/kept", 0, &e, &err), 1, "its sibling is kept");
    is_int(e.layer, 1, "found in the lower layer");
    rootview_entry_release(&e);
    is_int(rootview_lookup(rv, "/o/old", 0, &e, &err), 0, "opaque dir hides lower contents");
    rootview_entry_release(&e);
    is_int(rootview_lookup(rv, "/usr/../../etc/passwd", 1, &e, &err), 1, "'..' stays in the root");
    rootview_entry_release(&e);
    char **names;
    size_t n;
    rootview_list(rv, "a/b", &names, &n, &err);
    ok(n == 1 && strcmp(names[0], "kept") == 0, "listing applies whiteouts");
    rootview_names_free(names, n);
    rootview_list(rv, "", &names, &n, &err);
    ok(n == 5, "root lists a bin etc o usr (got %zu)", n);
    rootview_names_free(names, n);
    char *data = NULL;
    size_t len;
    ok(rootview_read(rv, "/etc/passwd", 4096, &data, &len, &err) == 0 && strstr(data, "app:x"),
       "read /etc/passwd");
    free(data);
    rootview_free(rv);
    kiln_error_free(err);
}

int main(void)
{
    if (mkdtemp(tmp) == NULL)
        return 1;
    test_progress_plain();
    test_progress_json_and_error();
    test_cache();
    test_cache_view();
    test_statcache();
    test_epoch();
    test_rootview();
    struct kiln_error *err = NULL;
    rm_rf(tmp, &err);
    kiln_error_free(err);
    return done_testing();
}
