/* util/: strbuf, arena, digest, error chaining, fs helpers. */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <limits.h>
#include <stdint.h>

#include "tap.h"
#include "util/arena.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/human.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "util/userns.h"

static void test_strbuf(void)
{
    cleanup_strbuf struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    is_str(sb.buf, "", "empty strbuf is \"\"");
    for (int i = 0; i < 1000; i++)
        strbuf_addc(&sb, 'x');
    is_int(sb.len, 1000, "strbuf grows past its first allocation");
    strbuf_reset(&sb);
    strbuf_addf(&sb, "%s-%d", "a", 42);
    strbuf_adds(&sb, "  \n");
    strbuf_rtrim(&sb);
    is_str(sb.buf, "a-42", "addf and rtrim");
    cleanup_free char *d = strbuf_detach(&sb);
    is_str(d, "a-42", "detach hands over the text");
    is_str(sb.buf, "", "detach leaves an empty buffer");
}

static void test_arena(void)
{
    struct arena a = ARENA_INIT;
    char *s = arena_strndup(&a, "hello world", 5);
    is_str(s, "hello", "arena_strndup copies n bytes and ends the string");
    int aligned = 1, zeroed = 1;
    char *prev = NULL;
    for (int i = 0; i < 5000; i++) { /* several chunks */
        char *p = arena_alloc(&a, (size_t)(i % 37) + 1);
        aligned &= ((uintptr_t)p % 16) == 0;
        for (int k = 0; k <= i % 37; k++)
            zeroed &= p[k] == 0;
        memset(p, 'x', (size_t)(i % 37) + 1);
        if (prev != NULL)
            aligned &= prev != p;
        prev = p;
    }
    ok(aligned, "allocations are 16-byte aligned and distinct");
    ok(zeroed, "arena_alloc zeroes");
    is_str(s, "hello", "earlier allocations survive new chunks");
    char *big = arena_alloc(&a, 1u << 20);
    big[(1u << 20) - 1] = 'y';
    ok(big[0] == 0, "a big request gets its own chunk");
    int *v = arena_calloc(&a, 3, sizeof(int));
    v[0] = 1, v[1] = 2, v[2] = 3;
    int *w = arena_grow(&a, v, 3, 8, sizeof(int));
    ok(w[0] == 1 && w[2] == 3 && w[3] == 0 && w[7] == 0, "arena_grow copies and zeroes the rest");
    is_str(arena_strdup(&a, ""), "", "empty string");
    arena_release(&a);
    ok(a.chunks == NULL && a.left == 0, "release empties the arena");

    max_align_t buf[8];
    arena_init_buf(&a, buf, sizeof(buf));
    char *t = arena_strdup(&a, "in the buffer");
    char *u = arena_alloc(&a, 4096); /* past the buffer */
    u[4095] = 1;
    is_str(t, "in the buffer", "arena_init_buf: the caller's buffer first, then chunks");
    arena_release(&a); /* must not free buf (ASan would say so) */

#if defined(__SANITIZE_ADDRESS__)
    /* Under ASan the arena must not hide an overflow: a write one past a
     * string it handed out kills the process. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct arena b = ARENA_INIT;
        char *x = arena_strndup(&b, "abc", 3);
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        dup2(fd, 2); /* keep ASan's report out of the TAP stream */
        volatile char *vx = x;
        vx[4] = 'z';
        arena_release(&b);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ok(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
       "ASan catches an overflow of an arena string");
#endif
}

static void test_digest(void)
{
    struct digest d;
    char buf[DIGEST_STR_LEN + 1];
    digest_bytes("", 0, &d);
    is_str(digest_str(&d, buf),
           "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "sha256 of the empty string");
    digest_bytes("abc", 3, &d);
    is_str(d.hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
           "sha256(abc)");

    struct kiln_error *err = NULL;
    struct digest p;
    ok(digest_parse(buf, &p, &err) == 0 && err == NULL, "parse a valid digest");
    ok(digest_parse("sha256:../../etc/passwd", &p, &err) < 0 && err != NULL, "reject a path");
    ok(err && err->code == KILN_E_INVALID, "rejection is KILN_E_INVALID");
    kiln_error_freep(&err);
    ok(digest_parse("sha512:abcd", &p, &err) < 0, "reject other algorithms");
    kiln_error_freep(&err);
    ok(digest_parse("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", &p,
                    &err) < 0,
       "reject upper-case hex");
    kiln_error_freep(&err);
}

static void test_error(void)
{
    struct kiln_error *err = NULL;
    ok(kiln_error_set(&err, KILN_E_NOTFOUND, "image %s not found", "x") == -1, "set returns -1");
    kiln_error_set(&err, KILN_E_FAIL, "second");
    is_str(err->msg, "image x not found", "the first cause wins");
    kiln_error_prefix(&err, "run");
    is_str(err->msg, "run: image x not found", "prefix adds context");
    is_int(err->code, KILN_E_NOTFOUND, "prefix keeps the code");
    kiln_error_free(err);
}

static void test_fs(void)
{
    char tmpl[] = "/tmp/kiln-test-util-XXXXXX";
    ok(mkdtemp(tmpl) != NULL, "mkdtemp");
    struct kiln_error *err = NULL;
    cleanup_free char *deep = path_join(tmpl, "a/b/c");
    ok(mkdir_p(deep, 0755, &err) == 0, "mkdir_p makes a nested path");
    ok(mkdir_p(deep, 0755, &err) == 0, "mkdir_p of an existing dir is fine");
    cleanup_free char *f = path_join(deep, "file.json");
    ok(write_file_atomic(f, "{\"b\":1,\"a\":2}", 13, 0644, &err) == 0, "atomic write");
    cleanup_json json_t *v = json_load_path(f, 1024, &err);
    ok(v != NULL, "json reads back");
    cleanup_free char *canon = json_dump_canonical(v);
    is_str(canon, "{\"a\":2,\"b\":1}", "canonical JSON sorts keys and is compact");
    ok(read_file(f, 4, &canon, NULL, &err) < 0 && err && err->code == KILN_E_INVALID,
       "read_file refuses files over the limit");
    kiln_error_freep(&err);
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    path_push_clean(&sb, "/a//./b/../c/");
    is_str(sb.buf, "a/c", "path_push_clean drops '.', empty parts and resolves '..'");
    path_push_clean(&sb, "../../../x");
    is_str(sb.buf, "x", "'..' never climbs above the start");
    strbuf_release(&sb);
    cleanup_free char *p = path_join("/a/", "/b");
    is_str(p, "/a/b", "path_join keeps one slash");
    chmod(deep, 0500);
    ok(rm_rf(tmpl, &err) == 0, "rm_rf removes a tree with a read-only dir");
    ok(!path_exists(tmpl), "and it is gone");
    ok(rm_rf(tmpl, &err) == 0, "rm_rf of a missing path is success");
    kiln_error_freep(&err);
}

/* rm_rf_parallel: a tree of many directories and files goes, a symlink in it
 * is removed, never followed (what it points at outside stays), a read-only
 * directory is no obstacle, a missing path is success. */
static void test_rm_rf_parallel(void)
{
    char tmpl[] = "/tmp/kiln-test-rmtree-XXXXXX";
    ok(mkdtemp(tmpl) != NULL, "mkdtemp");
    struct kiln_error *err = NULL;
    cleanup_free char *outside = path_join(tmpl, "outside");
    cleanup_free char *keep = path_join(outside, "keep");
    cleanup_free char *tree = path_join(tmpl, "tree");
    ok(mkdir_p(outside, 0755, &err) == 0 && write_file_atomic(keep, "k", 1, 0644, &err) == 0,
       "a file outside the tree");
    int made = 1;
    for (int i = 0; i < 12 && made; i++) {
        cleanup_free char *d = xasprintf("%s/d%d/e%d/f", tree, i, i % 3);
        made = mkdir_p(d, 0755, &err) == 0;
        for (int j = 0; j < 40 && made; j++) {
            cleanup_free char *f = xasprintf("%s/file%d", d, j);
            made = write_file_atomic(f, "x", 1, 0644, &err) == 0;
        }
    }
    cleanup_free char *link = path_join(tree, "d0/to-outside");
    cleanup_free char *link2 = path_join(tree, "d1/e1/f/dirlink");
    made = made && symlink(outside, link) == 0 && symlink("../../../../outside", link2) == 0;
    cleanup_free char *ro = path_join(tree, "d2/e2");
    made = made && chmod(ro, 0500) == 0;
    ok(made, "a tree of 12 x 40 files, two symlinks out, a read-only dir");
    ok(rm_rf_parallel(tree, &err) == 0, "rm_rf_parallel removes it");
    ok(!path_exists(tree), "the tree is gone");
    ok(path_exists(keep), "what its symlinks pointed at is not");
    ok(rm_rf_parallel(tree, &err) == 0, "a missing path is success");
    ok(rm_rf(tmpl, &err) == 0, "cleanup");
    kiln_error_freep(&err);
}

static void test_human(void)
{
    char b[16];
    is_str(human_size(0, b, sizeof(b)), "0B", "zero bytes");
    is_str(human_size(999, b, sizeof(b)), "999B", "below a kilobyte stays in bytes");
    is_str(human_size(1000, b, sizeof(b)), "1.00kB", "decimal units, as docker prints");
    is_str(human_size(77600000, b, sizeof(b)), "77.6MB", "two digits before the point: one after");
    is_str(human_size(152600000000ULL, b, sizeof(b)), "153GB", "three digits: none after");
    is_str(human_size(UINT64_MAX, b, sizeof(b)), "18446744TB",
           "the largest size still fits 16 bytes");
}

/* human_duration against what Go's time.Duration.String() prints. */
static void test_human_duration(void)
{
    static const struct {
        long long ns;
        const char *go;
    } cases[] = {
        {0, "0s"},
        {1, "1ns"},
        {999, "999ns"},
        {1000, "1µs"},
        {1500, "1.5µs"},
        {250000, "250µs"},
        {1000000, "1ms"},
        {1500000, "1.5ms"},
        {500000000, "500ms"},
        {999999999, "999.999999ms"},
        {1000000000, "1s"},
        {1000000001, "1.000000001s"},
        {1500000000, "1.5s"},
        {30000000000, "30s"},
        {60000000000, "1m0s"},
        {90000000000, "1m30s"},
        {3600000000000, "1h0m0s"},
        {3661500000000, "1h1m1.5s"},
        {360000000000000, "100h0m0s"},
        {-1500000000, "-1.5s"},
        {-1000, "-1µs"},
        {LLONG_MAX, "2562047h47m16.854775807s"},
        {LLONG_MIN, "-2562047h47m16.854775808s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char b[HUMAN_DURATION_MAX];
        is_str(human_duration(cases[i].ns, b, sizeof(b)), cases[i].go, "%lldns as Go prints it",
               cases[i].ns);
    }
}

/* write_output_file: a regular file is replaced atomically, a device, a FIFO or
 * a symlink is written in place (kiln sbom -o /dev/null once renamed a file over
 * the host's /dev/null). */
static void test_output_file(void)
{
    char dir[] = "/tmp/kiln-test-out.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return;
    }
    struct kiln_error *err = NULL;
    char path[256], target[256];
    cleanup_free char *got = NULL;
    struct stat st;

    snprintf(path, sizeof path, "%s/new", dir);
    ok(write_output_file(path, "one\n", 4, 0644, &err) == 0, "a new file is written");
    ok(read_file(path, 100, &got, NULL, NULL) == 0 && strcmp(got, "one\n") == 0,
       "with its content");
    free(got), got = NULL;
    ino_t before = stat(path, &st) == 0 ? st.st_ino : 0;
    ok(write_output_file(path, "two\n", 4, 0644, &err) == 0, "a regular file is replaced");
    ok(stat(path, &st) == 0 && st.st_ino != before, "by a new inode (renamed over: atomic)");

    snprintf(path, sizeof path, "%s/null", dir);
    int dev = mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0;
    if (dev) {
        ok(write_output_file(path, "x", 1, 0644, &err) == 0, "a character device is written to");
        ok(stat(path, &st) == 0 && S_ISCHR(st.st_mode), "and is still the device");
    } else {
        ok(errno == EPERM, "# SKIP mknod needs root");
        ok(errno == EPERM, "# SKIP mknod needs root");
    }

    snprintf(path, sizeof path, "%s/fifo", dir);
    ok(mkfifo(path, 0600) == 0, "mkfifo");
    pid_t pid = fork();
    if (pid == 0) {
        char buf[16] = {0};
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        _exit(n == 5 && strcmp(buf, "fifo\n") == 0 ? 0 : 1);
    }
    ok(write_output_file(path, "fifo\n", 5, 0644, &err) == 0, "a FIFO is written to");
    int status = 0;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "its reader gets the bytes");
    ok(stat(path, &st) == 0 && S_ISFIFO(st.st_mode), "and it is still a FIFO");

    snprintf(target, sizeof target, "%s/real", dir);
    snprintf(path, sizeof path, "%s/link", dir);
    ok(write_output_file(target, "old old old\n", 12, 0644, &err) == 0 &&
           symlink("real", path) == 0,
       "a symlink to a file");
    ok(write_output_file(path, "new\n", 4, 0644, &err) == 0, "writing through the symlink");
    ok(lstat(path, &st) == 0 && S_ISLNK(st.st_mode), "leaves the link a link");
    ok(read_file(target, 100, &got, NULL, NULL) == 0 && strcmp(got, "new\n") == 0,
       "and its target holds the new bytes, truncated");
    free(got), got = NULL;

    snprintf(path, sizeof path, "%s/no/such/dir/f", dir);
    ok(write_output_file(path, "x", 1, 0644, &err) < 0 && err != NULL, "a missing directory fails");
    kiln_error_free(err), err = NULL;
    snprintf(path, sizeof path, "%s/ro", dir);
    mkdir(path, 0755);
    ok(write_output_file(path, "x", 1, 0644, &err) < 0, "a directory fails");
    kiln_error_free(err), err = NULL;
    rm_rf(dir, NULL);
}

static void test_userns_map(void)
{
    ok(userns_map_is_identity("         0          0 4294967295\n"), "the initial namespace's map");
    ok(userns_map_is_identity("0 0 4294967295"), "without the newline");
    ok(!userns_map_is_identity("         0       1001          1\n"), "rootless: one id");
    ok(!userns_map_is_identity("0 0 65536\n"), "root of a namespace mapping 0..65535 to itself");
    ok(!userns_map_is_identity("0 0 4294967295\n1 1 1\n"), "a second line");
    ok(!userns_map_is_identity(""), "an empty map (not written yet)");
    ok(!userns_map_is_identity(NULL), "no map");
    /* a rootless user 1001 with the range 100000:65536 */
    struct id_range r[2] = {{0, 1001, 1}, {1, 100000, 65536}};
    is_int((int)id_map_inner(r, 2, 1001), 0, "the user is root inside");
    is_int((int)id_map_inner(r, 2, 100000), 1, "the range starts at 1");
    is_int((int)id_map_inner(r, 2, 101233), 1234, "an image user");
    is_int((int)id_map_inner(r, 2, 165535), 65536, "the range's last id");
    is_int((int)id_map_inner(r, 2, 165536), 65534, "past the range: nobody");
    is_int((int)id_map_inner(r, 1, 100000), 65534, "without a range only the user is mapped");
}

/* close_fds_except in a forked child: the kept ones stay open (in any order,
 * -1 and 0-2 ignored), every other from 3 up is closed. */
static void test_close_fds_except(void)
{
    int p[4][2];
    for (int i = 0; i < 4; i++)
        if (pipe2(p[i], O_CLOEXEC) < 0) {
            ok(0, "pipe: %s", strerror(errno));
            return;
        }
    int keep[] = {p[2][1], -1, p[0][0], 1};
    pid_t c = fork();
    if (c == 0) {
        close_fds_except(keep, sizeof(keep) / sizeof(keep[0]));
        int bits = 0;
        for (int i = 0; i < 4; i++)
            for (int e = 0; e < 2; e++)
                if (fcntl(p[i][e], F_GETFD) >= 0)
                    bits |= 1 << (i * 2 + e);
        bits |= fcntl(1, F_GETFD) >= 0 ? 1 << 8 : 0;
        _exit(bits == ((1 << 0) | (1 << 5) | (1 << 8)) ? 0 : 1);
    }
    int st = 0;
    waitpid(c, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "close_fds_except: the kept descriptors stay, 1 stays, the others from 3 up close");
    for (int i = 0; i < 4; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}

int main(void)
{
    test_close_fds_except();
    test_human();
    test_human_duration();
    test_strbuf();
    test_arena();
    test_digest();
    test_error();
    test_fs();
    test_output_file();
    test_rm_rf_parallel();
    test_userns_map();
    return done_testing();
}
