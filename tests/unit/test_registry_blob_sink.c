/* blob_sink: bytes handed over in any chunk sizes arrive in order, hashed and
 * fsynced on the sink's thread; a write failure there reaches the receiver;
 * an abandoned sink leaves nothing behind. */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "registry/blob_sink.h"
#include "store/store.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char *tmp_root(void)
{
    char tmpl[] = "/tmp/kiln-sink-XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        abort();
    return path_join(tmpl, "store");
}

static unsigned char *pattern(size_t n)
{
    unsigned char *p = xmalloc(n);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static int ingest_files(struct store *s)
{
    cleanup_dir DIR *d = opendir(store_scratch_dir(s));
    int n = 0;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    return n;
}

static void test_order_and_digest(struct store *s)
{
    struct kiln_error *err = NULL;
    size_t total = (5u << 20) + 123;
    unsigned char *data = pattern(total);
    struct digest want;
    digest_bytes(data, total, &want);
    struct blob_sink *k = NULL;
    ok(blob_sink_new(s, &k, &err) == 0, "new sink");
    /* Odd sizes: across buffer boundaries, and one larger than a buffer. */
    static const size_t sizes[] = {1, 7, 16384, (1u << 20) + 3, 65535, 3u << 20};
    size_t off = 0, i = 0;
    int rc = 0;
    while (off < total && rc == 0) {
        size_t n = sizes[i++ % (sizeof(sizes) / sizeof(sizes[0]))];
        if (n > total - off)
            n = total - off;
        rc = blob_sink_write(k, data + off, n, &err);
        off += n;
    }
    ok(rc == 0, "all bytes queued");
    blob_sink_close(k);
    struct digest got;
    ok(blob_sink_wait(k, &got, &err) == 0, "wait");
    is_str(got.hex, want.hex, "digest of the bytes in order");
    ok(blob_writer_write(blob_sink_writer(k), "x", 1, &err) < 0, "no writes after the digest");
    kiln_error_free(err);
    err = NULL;
    ok(blob_writer_commit(blob_sink_writer(k), &want, (int64_t)total, NULL, &err) == 0,
       "commit after the digest");
    blob_sink_free(k);
    ok(store_blob_has(s, &want), "blob stored");
    cleanup_free char *body = NULL;
    size_t len = 0;
    cleanup_free char *path = xasprintf("%s/blobs/sha256/%s", store_root(s), want.hex);
    ok(read_file(path, 16u << 20, &body, &len, &err) == 0 && len == total &&
           memcmp(body, data, total) == 0,
       "stored bytes are the bytes written");
    free(data);
}

static void test_empty_and_abandoned(struct store *s)
{
    struct kiln_error *err = NULL;
    struct blob_sink *k = NULL;
    blob_sink_new(s, &k, &err);
    blob_sink_close(k);
    struct digest got, want;
    digest_bytes("", 0, &want);
    ok(blob_sink_wait(k, &got, &err) == 0 && digest_equal(&got, &want), "empty blob");
    blob_sink_free(k);
    is_int(ingest_files(s), 0, "uncommitted empty blob removed");

    blob_sink_new(s, &k, &err);
    unsigned char *data = pattern(3u << 20);
    blob_sink_write(k, data, 3u << 20, &err);
    blob_sink_free(k); /* never closed: the thread stops */
    is_int(ingest_files(s), 0, "abandoned sink leaves nothing in ingest");
    free(data);
}

static void test_write_error(struct store *s)
{
    struct kiln_error *err = NULL;
    struct rlimit old, small = {2u << 20, 0};
    getrlimit(RLIMIT_FSIZE, &old);
    small.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    struct blob_sink *k = NULL;
    blob_sink_new(s, &k, &err);
    unsigned char *data = pattern(1u << 20);
    int rc = 0;
    for (int i = 0; i < 16 && rc == 0; i++)
        rc = blob_sink_write(k, data, 1u << 20, &err);
    if (rc == 0) {
        blob_sink_close(k);
        struct digest got;
        rc = blob_sink_wait(k, &got, &err);
    }
    ok(rc < 0 && err != NULL && strstr(err->msg, "large") != NULL,
       "the thread's write error reaches the receiver: %s", err ? err->msg : "(none)");
    kiln_error_free(err);
    blob_sink_free(k);
    setrlimit(RLIMIT_FSIZE, &old);
    is_int(ingest_files(s), 0, "failed blob removed");
    free(data);
}

int main(void)
{
    cleanup_free char *root = tmp_root();
    struct kiln_error *err = NULL;
    struct store *s = NULL;
    if (store_open(root, &s, &err) < 0) {
        printf("Bail out! store_open: %s\n", err->msg);
        return 1;
    }
    test_order_and_digest(s);
    test_empty_and_abandoned(s);
    test_write_error(s);
    store_close(s);
    char *parent = xstrdup(root);
    *strrchr(parent, '/') = '\0';
    rm_rf(parent, NULL);
    free(parent);
    return done_testing();
}
