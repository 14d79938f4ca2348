/* build/statcache: the stat-keyed digest cache across builds: many files,
 * two builds saving at once, the on-disk order, damaged files, racy files. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/statcache.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/kiln-test-statcache-XXXXXX";

#define N_MANY 500
#define N_PAIR 50

static void mkfiles(const char *dir, int n)
{
    struct kiln_error *err = NULL;
    mkdir_p(dir, 0755, &err);
    for (int i = 0; i < n; i++) {
        char name[32], body[64];
        snprintf(name, sizeof(name), "f%04d", i);
        int len = snprintf(body, sizeof(body), "%s/%d\n", dir, i);
        cleanup_free char *p = path_join(dir, name);
        cleanup_close int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, body, (size_t)len) < 0)
            printf("# cannot write %s\n", p);
    }
    kiln_error_free(err);
}

/* Digests files [from, to) of dir through sc; returns how many were right. */
static int digest_range(struct statcache *sc, const char *dir, int from, int to)
{
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int right = 0;
    for (int i = from; i < to; i++) {
        char name[32], body[64];
        snprintf(name, sizeof(name), "f%04d", i);
        int len = snprintf(body, sizeof(body), "%s/%d\n", dir, i);
        struct stat st;
        struct digest got, want;
        struct kiln_error *err = NULL;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        digest_bytes(body, (size_t)len, &want);
        if (statcache_file_digest(sc, dfd, name, &st, &got, &err) == 0 && digest_equal(&got, &want))
            right++;
        kiln_error_free(err);
    }
    return right;
}

struct rec {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    unsigned char digest[32];
};

int main(void)
{
    if (mkdtemp(tmp) == NULL)
        return 1;
    struct kiln_error *err = NULL;
    cleanup_free char *many = path_join(tmp, "many");
    cleanup_free char *pair = path_join(tmp, "pair");
    cleanup_free char *path = path_join(tmp, "statcache");
    cleanup_free char *lock = path_join(tmp, "lock");
    mkfiles(many, N_MANY);
    mkfiles(pair, N_PAIR);
    sleep(3); /* older than the racy window */

    unsigned long hashed, hits;
    struct statcache *sc = statcache_open(path);
    is_int(digest_range(sc, many, 0, N_MANY), N_MANY, "every digest right on a cold cache");
    statcache_stats(sc, &hashed, &hits);
    ok(hashed == N_MANY && hits == 0, "a cold cache reads every file (%lu read)", hashed);
    ok(statcache_save(sc, lock, &err) == 0, "saved");
    statcache_free(sc);

    sc = statcache_open(path);
    is_int(digest_range(sc, many, 0, N_MANY), N_MANY, "every digest right from the saved cache");
    statcache_stats(sc, &hashed, &hits);
    ok(hashed == 0 && hits == N_MANY, "an unchanged rebuild reads no file (%lu read)", hashed);
    statcache_free(sc);

    /* Two builds opened before either saves: both sets survive. */
    struct statcache *a = statcache_open(path), *b = statcache_open(path);
    is_int(digest_range(a, pair, 0, N_PAIR / 2) + digest_range(b, pair, N_PAIR / 2, N_PAIR), N_PAIR,
           "two builds digest half each");
    ok(statcache_save(a, lock, &err) == 0 && statcache_save(b, lock, &err) == 0, "both save");
    statcache_free(a);
    statcache_free(b);
    sc = statcache_open(path);
    is_int(digest_range(sc, pair, 0, N_PAIR) + digest_range(sc, many, 0, N_MANY), N_PAIR + N_MANY,
           "all digests right after the merge");
    statcache_stats(sc, &hashed, &hits);
    ok(hashed == 0 && hits == N_PAIR + N_MANY, "the merged cache answers for both builds");
    statcache_free(sc);

    /* The file: magic, whole records sorted by (dev, ino), one per file. */
    char *data = NULL;
    size_t len = 0;
    ok(read_file(path, 1 << 24, &data, &len, &err) == 0 && len > 8 &&
           memcmp(data, "KILNSC2\n", 8) == 0 && (len - 8) % sizeof(struct rec) == 0,
       "the file is a header and whole records");
    size_t n = len > 8 ? (len - 8) / sizeof(struct rec) : 0;
    is_int(n, N_PAIR + N_MANY, "one record per file");
    int sorted = 1;
    for (size_t i = 1; i < n; i++) {
        struct rec x, y;
        memcpy(&x, data + 8 + (i - 1) * sizeof(x), sizeof(x));
        memcpy(&y, data + 8 + i * sizeof(y), sizeof(y));
        if (x.dev > y.dev || (x.dev == y.dev && x.ino >= y.ino))
            sorted = 0;
    }
    ok(sorted, "records sorted by (dev, ino), no duplicates");

    /* A damaged file is no cache, never a wrong answer. */
    write_file_atomic(path, data, len - 5, 0644, &err);
    sc = statcache_open(path);
    is_int(digest_range(sc, many, 0, 10), 10, "a truncated file: digests still right");
    statcache_stats(sc, &hashed, &hits);
    ok(hashed == 10 && hits == 0, "a truncated file is ignored");
    statcache_free(sc);
    memcpy(data, "KILNSC1\n", 8);
    write_file_atomic(path, data, len, 0644, &err);
    sc = statcache_open(path);
    digest_range(sc, many, 0, 10);
    statcache_stats(sc, &hashed, &hits);
    ok(hashed == 10 && hits == 0, "a file of another format is ignored");
    statcache_free(sc);
    free(data);

    /* A file written just now is digested but not trusted for saving. */
    unlink(path);
    cleanup_free char *fresh = path_join(tmp, "fresh");
    mkfiles(fresh, 3);
    sc = statcache_open(path);
    is_int(digest_range(sc, fresh, 0, 3), 3, "fresh files digested");
    ok(statcache_save(sc, lock, &err) == 0, "save with only racy entries");
    statcache_free(sc);
    ok(!path_exists(path), "racy entries alone write nothing");

    rm_rf(tmp, &err);
    kiln_error_free(err);
    return done_testing();
}
