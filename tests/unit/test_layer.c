/* store/layer + store/compress: byte-stable writes, round trips through the
 * extractor, whiteouts both ways, and the hostile archives the extractor must
 * refuse without writing outside its root. Needs root (chown, mknod, xattrs). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/compress.h"
#include "store/layer.h"
#include "store/layer_tar.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char *tmp;

struct membuf {
    struct strbuf sb;
};

static int mem_write(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    (void)err;
    strbuf_add(&((struct membuf *)ctx)->sb, buf, len);
    return 0;
}

static struct byte_sink mem_sink(struct membuf *m)
{
    return (struct byte_sink){mem_write, m};
}

/* A pipe-free way to hand bytes to fd-based readers: a temp file. */
static int fd_of(const void *data, size_t len)
{
    cleanup_free char *p = xasprintf("%s/blob.XXXXXX", tmp);
    int fd = mkostemp(p, O_CLOEXEC);
    if (write_all(fd, data, len) < 0)
        abort();
    unlink(p);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void test_compress(void)
{
    char data[100000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i % 251 < 100 ? 'a' : i % 7);
    enum compression kinds[] = {COMPRESSION_GZIP, COMPRESSION_ZSTD};
    for (int k = 0; k < 2; k++) {
        struct membuf a = {STRBUF_INIT}, b = {STRBUF_INIT};
        strbuf_init(&a.sb);
        strbuf_init(&b.sb);
        for (int round = 0; round < 2; round++) {
            struct membuf *m = round ? &b : &a;
            struct compressor *c = compressor_new(kinds[k], 0, mem_sink(m));
            ok(compressor_write(c, data, 1000, NULL) == 0 &&
                   compressor_write(c, data + 1000, sizeof(data) - 1000, NULL) == 0 &&
                   compressor_finish(c, NULL) == 0,
               "%s: compress", compression_name(kinds[k]));
            compressor_free(c);
        }
        ok(a.sb.len == b.sb.len && memcmp(a.sb.buf, b.sb.buf, a.sb.len) == 0,
           "%s: same bytes in, same bytes out", compression_name(kinds[k]));
        is_int(compression_detect(a.sb.buf, a.sb.len), kinds[k], "%s: detected",
               compression_name(kinds[k]));
        if (kinds[k] == COMPRESSION_GZIP)
            ok(a.sb.buf[3] == 0 && a.sb.buf[4] == 0 && a.sb.buf[5] == 0 && a.sb.buf[6] == 0 &&
                   a.sb.buf[7] == 0,
               "gzip: header has no name and mtime 0");
        int fd = fd_of(a.sb.buf, a.sb.len);
        struct decompressor *d = decompressor_new(fd);
        struct strbuf out = STRBUF_INIT;
        strbuf_init(&out);
        char buf[4096];
        ssize_t n;
        while ((n = decompressor_read(d, buf, sizeof(buf), NULL)) > 0)
            strbuf_add(&out, buf, (size_t)n);
        ok(n == 0 && out.len == sizeof(data) && memcmp(out.buf, data, sizeof(data)) == 0,
           "%s: round trip", compression_name(kinds[k]));
        decompressor_free(d);
        close(fd);
        /* truncated */
        fd = fd_of(a.sb.buf, a.sb.len / 2);
        d = decompressor_new(fd);
        struct kiln_error *err = NULL;
        while ((n = decompressor_read(d, buf, sizeof(buf), &err)) > 0)
            ;
        ok(n < 0 && err && strstr(err->msg, "truncated"), "%s: truncated stream is an error (%s)",
           compression_name(kinds[k]), err ? err->msg : "none");
        kiln_error_free(err);
        decompressor_free(d);
        close(fd);
        strbuf_release(&out);
        strbuf_release(&a.sb);
        strbuf_release(&b.sb);
    }
}

static void make_tree(const char *dir)
{
    tap_sh("rm -rf %s && mkdir -p %s/bin %s/etc/deep && cd %s && echo hello > etc/hello && "
           "printf 'x%%.0s' $(seq 1 5000) > bin/big && ln -s ../etc/hello bin/link && "
           "ln etc/hello bin/hard && mkfifo etc/fifo && chmod 4755 bin/big && chown 1234:5678 "
           "etc/hello && setfattr -n user.kiln -v yes etc/hello && "
           "mkdir -p a/$(printf 'n%%.0s' $(seq 1 120)) && touch a/$(printf 'n%%.0s' $(seq 1 "
           "120))/f && touch -d @1500000000 etc/deep && touch -d @1800000000 etc/hello",
           dir, dir, dir, dir);
}

static int write_layer(const char *dir, const struct layer_write_opts *o, struct membuf *m,
                       struct digest *d)
{
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    strbuf_init(&m->sb);
    struct kiln_error *err = NULL;
    int rc = layer_write_from_dir(fd, o, mem_sink(m), d, NULL, &err);
    if (rc < 0)
        printf("# write: %s\n", err->msg);
    kiln_error_free(err);
    return rc;
}

static int extract(const void *data, size_t len, const char *dir,
                   const struct layer_extract_opts *o, struct kiln_error **err)
{
    mkdir_p(dir, 0755, NULL);
    cleanup_close int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_close int fd = fd_of(data, len);
    return layer_extract(fd, root, o, NULL, err);
}

static void test_write_and_extract(void)
{
    cleanup_free char *src = xasprintf("%s/src", tmp);
    make_tree(src);
    struct layer_write_opts o = {.epoch = 1700000000};
    struct membuf a, b;
    struct digest da, db;
    ok(write_layer(src, &o, &a, &da) == 0, "write a layer from a directory");
    tap_sh("touch -d @1750000000 %s/bin/big %s/etc", src, src);
    ok(write_layer(src, &o, &b, &db) == 0, "write it again after touching mtimes");
    ok(digest_equal(&da, &db) && a.sb.len == b.sb.len, "mtimes newer than the epoch don't matter");
    ok(a.sb.len % 512 == 0, "tar is whole blocks");
    ok(memmem(a.sb.buf, a.sb.len, "SCHILY.xattr.user.kiln=yes", 26) != NULL,
       "xattr written as PAX SCHILY.xattr");
    ok(memmem(a.sb.buf, a.sb.len,
              "ustar\0"
              "00",
              8) != NULL,
       "ustar magic");

    cleanup_free char *dst = xasprintf("%s/dst", tmp);
    struct kiln_error *err = NULL;
    ok(extract(a.sb.buf, a.sb.len, dst, NULL, &err) == 0, "extract it (%s)", err ? err->msg : "ok");
    kiln_error_free(err);
    err = NULL;
    struct stat s1, s2, s3;
    cleanup_free char *p1 = xasprintf("%s/etc/hello", dst);
    cleanup_free char *p2 = xasprintf("%s/bin/hard", dst);
    cleanup_free char *p3 = xasprintf("%s/bin/big", dst);
    ok(stat(p1, &s1) == 0 && stat(p2, &s2) == 0 && s1.st_ino == s2.st_ino, "hardlink kept");
    ok(s1.st_uid == 1234 && s1.st_gid == 5678, "numeric owner kept");
    is_int(s1.st_mtime, 1700000000, "mtime clamped to the epoch");
    ok(stat(p3, &s3) == 0 && (s3.st_mode & 07777) == 04755 && s3.st_size == 5000,
       "setuid mode and size kept");
    char v[16];
    ssize_t vl = getxattr(p1, "user.kiln", v, sizeof(v));
    ok(vl == 3 && memcmp(v, "yes", 3) == 0, "xattr kept");
    cleanup_free char *l = xasprintf("%s/bin/link", dst);
    char t[64];
    ssize_t tl = readlink(l, t, sizeof(t));
    ok(tl == 12 && memcmp(t, "../etc/hello", 12) == 0, "symlink target kept");
    cleanup_free char *deep = xasprintf("%s/etc/deep", dst);
    ok(stat(deep, &s1) == 0 && s1.st_mtime == 1500000000, "directory mtime kept");

    /* Re-writing the extracted tree gives the same bytes. */
    struct membuf c;
    struct digest dc;
    write_layer(dst, &o, &c, &dc);
    ok(digest_equal(&da, &dc), "extract then write again is byte-identical");
    strbuf_release(&a.sb);
    strbuf_release(&b.sb);
    strbuf_release(&c.sb);
}

/* Builds a tar from a list of headers with the writer itself. */
struct hentry {
    const char *name;
    char type;
    const char *link;
    const char *data;
};

static void build_tar(const struct hentry *h, size_t n, struct membuf *m)
{
    strbuf_init(&m->sb);
    struct tar_writer *w = tar_writer_new(mem_sink(m));
    for (size_t i = 0; i < n; i++) {
        size_t dl = h[i].data ? strlen(h[i].data) : 0;
        struct tar_header th = {.name = h[i].name,
                                .type = h[i].type,
                                .mode = h[i].type == '5' ? 0755 : 0644,
                                .size = dl,
                                .linkname = h[i].link,
                                .devmajor = 1,
                                .devminor = 3};
        tar_write_header(w, &th, NULL);
        if (dl) {
            size_t room = dl;
            void *p = tar_data_buffer(w, &room, NULL);
            memcpy(p, h[i].data, dl);
            tar_data_commit(w, dl, NULL);
            tar_data_end(w, dl, NULL);
        }
    }
    tar_writer_finish(w, NULL, NULL, NULL);
    tar_writer_free(w);
}

static void expect_refused(const char *what, const struct hentry *h, size_t n, const char *needle)
{
    struct membuf m;
    build_tar(h, n, &m);
    cleanup_free char *root = xasprintf("%s/hostile/root", tmp);
    tap_sh("rm -rf %s/hostile && mkdir -p %s", tmp, root);
    struct kiln_error *err = NULL;
    int rc = extract(m.sb.buf, m.sb.len, root, NULL, &err);
    ok(rc < 0 && err && strstr(err->msg, needle), "%s refused: %s", what,
       err ? err->msg : "(accepted)");
    kiln_error_free(err);
    err = NULL;
    cleanup_close int fd = fd_of(m.sb.buf, m.sb.len);
    ok(layer_check(fd, NULL, NULL, NULL, &err) < 0, "%s refused by layer_check too", what);
    kiln_error_free(err);
    cleanup_free char *outside = xasprintf("%s/hostile/evil", tmp);
    ok(!path_exists(outside), "%s: nothing written outside the root", what);
    strbuf_release(&m.sb);
}

static void test_hostile(void)
{
    struct hentry dotdot[] = {{"../evil", '0', NULL, "x"}};
    expect_refused("\"..\" name", dotdot, 1, "\"..\"");
    struct hentry abs[] = {{"/tmp/evil", '0', NULL, "x"}};
    expect_refused("absolute name", abs, 1, "absolute");
    struct hentry via_link[] = {{"l", '2', "..", NULL}, {"l/evil", '0', NULL, "x"}};
    expect_refused("symlink then write", via_link, 2, "symlink this archive created");
    struct hentry via_root[] = {{"l", '2', "/", NULL}, {"l/etc/evil", '0', NULL, "x"}};
    expect_refused("symlink to / then write", via_root, 2, "symlink");
    struct hentry hl[] = {{"h", '1', "../evil", NULL}};
    expect_refused("hardlink out of the root", hl, 1, "\"..\"");
    struct hentry dev[] = {{"null", '3', NULL, NULL}};
    expect_refused("device node", dev, 1, "device node");
    char longname[5000];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct hentry lng[] = {{longname, '0', NULL, "x"}};
    expect_refused("very long name", lng, 1, "longer than");

    /* Truncation: cut inside data, and drop the end marker. */
    struct hentry ok1[] = {{"a", '0', NULL, "hello world"}, {"b", '0', NULL, "bye"}};
    struct membuf m;
    build_tar(ok1, 2, &m);
    struct kiln_error *err = NULL;
    cleanup_close int f1 = fd_of(m.sb.buf, 700);
    ok(layer_check(f1, NULL, NULL, NULL, &err) < 0, "tar cut mid-entry refused: %s",
       err ? err->msg : "(accepted)");
    kiln_error_free(err);
    err = NULL;
    cleanup_close int f2 = fd_of(m.sb.buf, 2048);
    ok(layer_check(f2, NULL, NULL, NULL, &err) < 0, "tar without end marker refused: %s",
       err ? err->msg : "(accepted)");
    kiln_error_free(err);
    err = NULL;
    cleanup_close int f3 = fd_of(m.sb.buf, m.sb.len);
    struct digest d, want;
    digest_bytes(m.sb.buf, m.sb.len, &want);
    ok(layer_check(f3, NULL, &d, NULL, &err) == 0 && digest_equal(&d, &want),
       "whole tar passes and its diffid is the sha256 of the tar");
    kiln_error_free(err);
    strbuf_release(&m.sb);

    /* A symlink already in the tree resolves inside the root. */
    cleanup_free char *root = xasprintf("%s/inroot/root", tmp);
    tap_sh("rm -rf %s/inroot && mkdir -p %s && ln -s / %s/up", tmp, root, root);
    struct hentry through[] = {{"up/etc/x", '0', NULL, "contained"}};
    build_tar(through, 1, &m);
    ok(extract(m.sb.buf, m.sb.len, root, NULL, &err) == 0, "write through an existing symlink");
    cleanup_free char *inside = xasprintf("%s/etc/x", root);
    ok(path_exists(inside), "...lands inside the root");
    kiln_error_free(err);
    err = NULL;
    strbuf_release(&m.sb);
}

static void test_whiteouts(void)
{
    cleanup_free char *root = xasprintf("%s/wh/root", tmp);
    tap_sh("rm -rf %s/wh && mkdir -p %s", tmp, root);
    struct hentry l1[] = {{"a/", '5', NULL, NULL},
                          {"a/x", '0', NULL, "x"},
                          {"a/sub/", '5', NULL, NULL},
                          {"a/sub/old", '0', NULL, "o"},
                          {"b", '0', NULL, "b"}};
    struct hentry l2[] = {{"a/", '5', NULL, NULL},     {"a/.wh..wh..opq", '0', NULL, NULL},
                          {"a/sub/", '5', NULL, NULL}, {"a/sub/new", '0', NULL, "n"},
                          {"a/z", '0', NULL, "z"},     {".wh.b", '0', NULL, NULL}};
    struct membuf m1, m2;
    build_tar(l1, 5, &m1);
    build_tar(l2, 6, &m2);
    struct kiln_error *err = NULL;
    ok(extract(m1.sb.buf, m1.sb.len, root, NULL, &err) == 0 &&
           extract(m2.sb.buf, m2.sb.len, root, NULL, &err) == 0,
       "flatten two layers");
    cleanup_free char *ax = xasprintf("%s/a/x", root), *az = xasprintf("%s/a/z", root),
                      *b = xasprintf("%s/b", root), *old = xasprintf("%s/a/sub/old", root),
                      *nw = xasprintf("%s/a/sub/new", root), *wh = xasprintf("%s/.wh.b", root);
    ok(!path_exists(ax) && !path_exists(old) && path_exists(az) && path_exists(nw),
       "opaque dir hides the lower layer's files, keeps this layer's");
    ok(!path_exists(b) && !path_exists(wh), "whiteout deletes and leaves no marker");

    cleanup_free char *ov = xasprintf("%s/wh/ov", tmp);
    struct layer_extract_opts oo = {.whiteouts = LAYER_WHITEOUT_OVERLAY};
    ok(extract(m2.sb.buf, m2.sb.len, ov, &oo, &err) == 0, "overlay mode extract");
    cleanup_free char *ovb = xasprintf("%s/b", ov), *ova = xasprintf("%s/a", ov);
    struct stat st;
    ok(lstat(ovb, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
       "whiteout becomes char 0/0");
    char v[4];
    ok(getxattr(ova, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y',
       "opaque dir gets trusted.overlay.opaque=y");
    cleanup_free char *uv = xasprintf("%s/wh/uv", tmp), *uva = xasprintf("%s/a", uv);
    struct layer_extract_opts uo = {.whiteouts = LAYER_WHITEOUT_OVERLAY, .user_xattrs = true};
    ok(extract(m2.sb.buf, m2.sb.len, uv, &uo, &err) == 0, "overlay mode extract, user xattrs");
    ok(getxattr(uva, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y' &&
           getxattr(uva, "trusted.overlay.opaque", v, sizeof(v)) < 0,
       "with user_xattrs (an overlay mounted userxattr) the dir gets user.overlay.opaque=y");

    /* And back: an overlay upper dir written with overlay_whiteouts. */
    struct layer_write_opts wo = {.epoch = 0, .overlay_whiteouts = true};
    struct membuf back;
    struct digest d;
    write_layer(ov, &wo, &back, &d);
    ok(memmem(back.sb.buf, back.sb.len, ".wh.b", 6) != NULL &&
           memmem(back.sb.buf, back.sb.len, "a/.wh..wh..opq", 15) != NULL,
       "overlay whiteouts written as OCI whiteouts");
    ok(memmem(back.sb.buf, back.sb.len, "trusted.overlay", 15) == NULL,
       "overlay xattrs are not written");
    kiln_error_free(err);
    strbuf_release(&m1.sb);
    strbuf_release(&m2.sb);
    strbuf_release(&back.sb);
}

int main(void)
{
    char tpl[] = "/tmp/kiln-test-layer.XXXXXX";
    tmp = mkdtemp(tpl);
    test_compress();
    if (geteuid() == 0) {
        test_write_and_extract();
        test_hostile();
        test_whiteouts();
    } else {
        printf("# skipping tree tests: they need root\n");
    }
    rm_rf(tmp, NULL);
    return done_testing();
}
