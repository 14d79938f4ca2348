/* store/layer_stream and build/copy's copy_plan_stream: a COPY written
 * straight into a tar gives the bytes the old way (plan -> directory ->
 * layer_write_from_dir) gives; out-of-order entries are refused; extraction
 * with a reuse tree links only files that are really the same. Needs root
 * (chown, mknod). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/context.h"
#include "build/copy.h"
#include "build/statcache.h"
#include "store/layer.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/kiln-test-lstream-XXXXXX";

static int mem_write(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    (void)err;
    strbuf_add(ctx, buf, len);
    return 0;
}

static void show(struct kiln_error **err)
{
    if (*err != NULL)
        printf("# %s\n", (*err)->msg);
    kiln_error_freep(err);
}

/* The layer of "COPY src dest" (with chmod/chown when given), both ways. */
static int both_ways(const char *ctx, const char *src, const char *dest, const char *chmod,
                     struct strbuf *via_dir, struct strbuf *via_stream)
{
    struct kiln_error *err = NULL;
    struct context_index *ci = NULL;
    struct copy_plan *p = NULL;
    struct chmod_spec cm;
    struct copy_source s = {.path = src};
    struct copy_req req = {
        .srcs = &s, .n_srcs = 1, .dest = dest, .has_chown = 1, .uid = 1000, .gid = 1001};
    if (chmod != NULL && chmod_parse(chmod, &cm) == 0)
        req.chmod = &cm;
    int rc = context_index_build(ctx, NULL, &ci, &err);
    req.ctx = ci;
    if (rc == 0)
        rc = copy_plan_build(&req, &p, &err);
    if (rc == 0 && !copy_plan_streamable(p)) {
        printf("# plan not streamable\n");
        rc = -1;
    }
    cleanup_free char *dir = xasprintf("%s/written", tmp);
    tap_sh("rm -rf %s && mkdir %s", dir, dir);
    if (rc == 0) {
        cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct layer_write_opts o = {.epoch = 1700000000};
        rc = copy_plan_write(p, fd, 1700000000, &err);
        if (rc == 0)
            rc = layer_write_from_dir(fd, &o, (struct byte_sink){mem_write, via_dir}, NULL, NULL,
                                      &err);
    }
    if (rc == 0) {
        struct layer_stream *ls =
            layer_stream_new((struct byte_sink){mem_write, via_stream}, 1700000000);
        rc = copy_plan_stream(p, 1700000000, ls, &err);
        if (rc == 0)
            rc = layer_stream_finish(ls, NULL, NULL, &err);
        layer_stream_free(ls);
    }
    show(&err);
    copy_plan_free(p);
    context_index_free(ci);
    return rc;
}

static void test_same_bytes(void)
{
    cleanup_free char *ctx = xasprintf("%s/ctx", tmp);
    char longname[160];
    memset(longname, 'n', 130);
    longname[130] = '\0';
    tap_sh("mkdir -p %s/a/b %s/a-b %s/%s && cd %s && echo one > a/b/f && echo two > a-b/g && "
           ": > empty && ln -s a/b/f link && mkfifo fifo && echo x > %s/y && chmod 4755 a/b/f && "
           "chmod 0600 a-b/g && printf 'z%%.0s' $(seq 1 70000) > big && touch -d @1800000000 a/b/f",
           ctx, ctx, ctx, longname, ctx, longname);
    const char *cases[][3] = {
        {".", "/app/", NULL},
        {"a", "/a/", NULL},
        {".", "/", "go-w,u+x"},
        {"big", "/big", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
        strbuf_init(&a);
        strbuf_init(&b);
        int rc = both_ways(ctx, cases[i][0], cases[i][1], cases[i][2], &a, &b);
        ok(rc == 0 && a.len > 0 && a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0,
           "COPY %s %s%s%s: the stream gives the bytes of the written directory (%zu, %zu)",
           cases[i][0], cases[i][1], cases[i][2] ? " --chmod=" : "", cases[i][2] ? cases[i][2] : "",
           a.len, b.len);
        strbuf_release(&a);
        strbuf_release(&b);
    }
}

static void test_order(void)
{
    struct strbuf out = STRBUF_INIT;
    strbuf_init(&out);
    struct layer_stream *ls = layer_stream_new((struct byte_sink){mem_write, &out}, -1);
    struct kiln_error *err = NULL;
    struct layer_stream_entry d = {.path = "a", .mode = S_IFDIR | 0755};
    struct layer_stream_entry f = {.path = "a-b", .mode = S_IFREG | 0644, .size = 2};
    struct layer_stream_entry g = {.path = "a/x", .mode = S_IFREG | 0644, .size = 2};
    ok(layer_stream_add(ls, &f, -1, "hi", &err) == 0, "a-b first");
    ok(layer_stream_add(ls, &d, -1, NULL, &err) == 0, "then a/ (a directory sorts as \"a/\")");
    ok(layer_stream_add(ls, &g, -1, "hi", &err) == 0, "then a/x");
    ok(layer_stream_add(ls, &f, -1, "hi", &err) < 0 && err && strstr(err->msg, "out of order"),
       "an entry out of order is refused (%s)", err ? err->msg : "accepted");
    kiln_error_freep(&err);
    ok(layer_stream_finish(ls, NULL, NULL, &err) == 0, "the stream still ends");
    kiln_error_freep(&err);
    layer_stream_free(ls);
    /* a file that gives fewer bytes than its size */
    strbuf_reset(&out);
    ls = layer_stream_new((struct byte_sink){mem_write, &out}, -1);
    cleanup_free char *path = xasprintf("%s/short", tmp);
    tap_sh("printf abc > %s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct layer_stream_entry s = {.path = "short", .mode = S_IFREG | 0644, .size = 10};
    ok(layer_stream_add(ls, &s, fd, NULL, &err) < 0 && err && strstr(err->msg, "shrank"),
       "a file shorter than its size is an error (%s)", err ? err->msg : "accepted");
    kiln_error_freep(&err);
    ok(layer_stream_finish(ls, NULL, NULL, &err) < 0, "and the stream cannot end after it");
    kiln_error_freep(&err);
    close(fd);
    layer_stream_free(ls);
    strbuf_release(&out);
}

static int tar_of(const char *dir, struct strbuf *out, struct digest *d)
{
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct layer_write_opts o = {.epoch = -1};
    struct kiln_error *err = NULL;
    int rc = layer_write_from_dir(fd, &o, (struct byte_sink){mem_write, out}, d, NULL, &err);
    show(&err);
    return rc;
}

static int extract_into(const struct strbuf *tar, const char *dir, int reuse_fd, struct digest *d)
{
    cleanup_free char *blob = xasprintf("%s/blob", tmp);
    struct kiln_error *err = NULL;
    if (write_file_atomic(blob, tar->buf, tar->len, 0600, &err) < 0) {
        show(&err);
        return -1;
    }
    tap_sh("rm -rf %s && mkdir %s", dir, dir);
    cleanup_close int in = open(blob, O_RDONLY | O_CLOEXEC);
    cleanup_close int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct layer_extract_opts o = {.whiteouts = LAYER_WHITEOUT_OVERLAY, .allow_devices = 1};
    if (reuse_fd >= 0) {
        o.reuse = true;
        o.reuse_dirfd = reuse_fd;
    }
    int rc = layer_extract(in, root, &o, d, &err);
    show(&err);
    return rc;
}

static ino_t ino(const char *dir, const char *rel)
{
    cleanup_free char *p = xasprintf("%s/%s", dir, rel);
    struct stat st;
    return lstat(p, &st) == 0 ? st.st_ino : 0;
}

static void test_reuse(void)
{
    cleanup_free char *v1 = xasprintf("%s/v1", tmp);
    cleanup_free char *v2 = xasprintf("%s/v2", tmp);
    cleanup_free char *s1 = xasprintf("%s/snap1", tmp);
    cleanup_free char *s2 = xasprintf("%s/snap2", tmp);
    /* v2: "same" unchanged, "bytes" same size and mtime but other bytes,
     * "mode" another mode, "owner" another owner, "big" its last byte changed
     * (the bytes compared equal so far are copied from the old file) */
    tap_sh("mkdir -p %s/d && cd %s && echo same > d/same && echo AAAA > bytes && echo m > mode && "
           "echo o > owner && printf 'q%%.0s' $(seq 1 300000) > big && "
           "touch -d @1600000000 d/same bytes mode owner big && cp -a %s %s && cd %s && "
           "echo BBBB > bytes && chmod 0600 mode && chown 7:7 owner && "
           "printf 'q%%.0s' $(seq 1 299999) > big && printf r >> big && "
           "touch -d @1600000000 bytes mode owner big",
           v1, v1, v1, v2, v2);
    struct strbuf t1 = STRBUF_INIT, t2 = STRBUF_INIT, t3 = STRBUF_INIT;
    strbuf_init(&t1);
    strbuf_init(&t2);
    strbuf_init(&t3);
    struct digest d1, d2, got, again;
    ok(tar_of(v1, &t1, &d1) == 0 && tar_of(v2, &t2, &d2) == 0, "two versions of a layer");
    ok(extract_into(&t1, s1, -1, NULL) == 0, "v1 unpacked");
    cleanup_close int r = open(s1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok(extract_into(&t2, s2, r, &got) == 0 && digest_equal(&got, &d2),
       "v2 unpacked with v1's snapshot to reuse");
    ok(ino(s1, "d/same") == ino(s2, "d/same"), "the unchanged file is linked");
    ok(ino(s1, "bytes") != ino(s2, "bytes"), "same size and time, other bytes: a new file");
    ok(ino(s1, "mode") != ino(s2, "mode"), "another mode: a new file");
    ok(ino(s1, "owner") != ino(s2, "owner"), "another owner: a new file");
    ok(ino(s1, "big") != ino(s2, "big"), "a big file changed in its last byte: a new file");
    ok(tar_of(s2, &t3, &again) == 0 && digest_equal(&again, &d2),
       "the snapshot made with links is the layer again (no hardlink entries)");
    cleanup_free char *bytes = xasprintf("%s/bytes", s2);
    char *data = NULL;
    struct kiln_error *err = NULL;
    ok(read_file(bytes, 100, &data, NULL, &err) == 0 && strcmp(data, "BBBB\n") == 0,
       "the changed file has the new bytes");
    free(data);
    show(&err);
    strbuf_release(&t1);
    strbuf_release(&t2);
    strbuf_release(&t3);
}

int main(void)
{
    if (mkdtemp(tmp) == NULL)
        return 1;
    test_same_bytes();
    test_order();
    test_reuse();
    tap_sh("rm -rf %s", tmp);
    return done_testing();
}
