/* Stat-keyed digest cache. On disk: "KILNSC2\n" + fixed records sorted by
 * (dev, ino). The file is mapped on first use and searched in place, so a
 * build whose context has three files does not pay for the 20,000 records
 * another context left there, and an unchanged rebuild builds no table.
 * Digests computed during the build go into a small open-addressing table
 * and are merged into the file on save. Entries whose ctime is within two
 * seconds of now are not trusted for saving ("racy" files, after git's
 * index: a write in the same clock tick would not change the stat key). */
#include "build/statcache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define SC_MAGIC       "KILNSC2\n"
#define SC_MAGIC_LEN   8
#define SC_MAX_ENTRIES (1u << 20)

struct sc_rec {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    unsigned char digest[32]; /* raw sha256 */
};

/* A read-only view of a saved file (or of nothing). */
struct sc_map {
    void *addr;
    size_t len;
    const struct sc_rec *v;
    size_t n;
};

struct statcache {
    pthread_mutex_t mu;
    char *path;
    int loaded;
    struct sc_map base;
    struct sc_rec *tab; /* computed this build; dev == 0 && ino == 0 is an empty slot */
    size_t cap, n;
    int dirty;
    unsigned long hashed, hits;
};

static void map_open(const char *path, struct sc_map *m)
{
    memset(m, 0, sizeof(*m));
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < SC_MAGIC_LEN ||
        (uint64_t)st.st_size > SC_MAGIC_LEN + (uint64_t)SC_MAX_ENTRIES * sizeof(struct sc_rec) ||
        ((size_t)st.st_size - SC_MAGIC_LEN) % sizeof(struct sc_rec) != 0)
        return;
    void *a = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (a == MAP_FAILED)
        return;
    if (memcmp(a, SC_MAGIC, SC_MAGIC_LEN) != 0) {
        munmap(a, (size_t)st.st_size);
        return;
    }
    m->addr = a;
    m->len = (size_t)st.st_size;
    m->v = (const struct sc_rec *)((const char *)a + SC_MAGIC_LEN);
    m->n = (m->len - SC_MAGIC_LEN) / sizeof(struct sc_rec);
}

static void map_close(struct sc_map *m)
{
    if (m->addr != NULL)
        munmap(m->addr, m->len);
    memset(m, 0, sizeof(*m));
}

static int key_cmp(uint64_t dev, uint64_t ino, const struct sc_rec *r)
{
    if (dev != r->dev)
        return dev < r->dev ? -1 : 1;
    if (ino != r->ino)
        return ino < r->ino ? -1 : 1;
    return 0;
}

static const struct sc_rec *map_find(const struct sc_map *m, uint64_t dev, uint64_t ino)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(dev, ino, &m->v[mid]);
        if (c == 0)
            return &m->v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static uint64_t rec_hash(uint64_t dev, uint64_t ino)
{
    uint64_t h = (dev * 0x9E3779B97F4A7C15ull) ^ (ino * 0xC2B2AE3D27D4EB4Full);
    h ^= h >> 31;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int slot_empty(const struct sc_rec *r)
{
    return r->dev == 0 && r->ino == 0;
}

static struct sc_rec *find_slot(struct sc_rec *tab, size_t cap, uint64_t dev, uint64_t ino)
{
    size_t i = rec_hash(dev, ino) & (cap - 1);
    while (!slot_empty(&tab[i]) && !(tab[i].dev == dev && tab[i].ino == ino))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static void grow(struct statcache *sc)
{
    size_t ncap = sc->cap ? sc->cap * 2 : 256;
    struct sc_rec *nt = xcalloc(ncap, sizeof(*nt));
    for (size_t i = 0; i < sc->cap; i++)
        if (!slot_empty(&sc->tab[i]))
            *find_slot(nt, ncap, sc->tab[i].dev, sc->tab[i].ino) = sc->tab[i];
    free(sc->tab);
    sc->tab = nt;
    sc->cap = ncap;
}

/* Inserts or replaces; returns 1 when the table changed. */
static int put(struct statcache *sc, const struct sc_rec *r)
{
    if (slot_empty(r))
        return 0;
    if ((sc->n + 1) * 2 >= sc->cap)
        grow(sc);
    struct sc_rec *s = find_slot(sc->tab, sc->cap, r->dev, r->ino);
    if (slot_empty(s))
        sc->n++;
    else if (memcmp(s, r, sizeof(*r)) == 0)
        return 0;
    *s = *r;
    return 1;
}

struct statcache *statcache_open(const char *path)
{
    struct statcache *sc = xcalloc(1, sizeof(*sc));
    pthread_mutex_init(&sc->mu, NULL);
    sc->path = xstrdup(path);
    return sc;
}

static int64_t ts_ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void to_raw(const struct digest *d, unsigned char raw[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned hi =
            (unsigned)(d->hex[2 * i] <= '9' ? d->hex[2 * i] - '0' : d->hex[2 * i] - 'a' + 10);
        unsigned lo = (unsigned)(d->hex[2 * i + 1] <= '9' ? d->hex[2 * i + 1] - '0'
                                                          : d->hex[2 * i + 1] - 'a' + 10);
        raw[i] = (unsigned char)(hi << 4 | lo);
    }
}

static void from_raw(const unsigned char raw[32], struct digest *d)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        d->hex[2 * i] = digits[raw[i] >> 4];
        d->hex[2 * i + 1] = digits[raw[i] & 15];
    }
    d->hex[64] = '\0';
}

/* The record for key's file, if one is known (caller holds mu). */
static const struct sc_rec *lookup(struct statcache *sc, const struct sc_rec *key)
{
    if (!sc->loaded) {
        map_open(sc->path, &sc->base);
        sc->loaded = 1;
    }
    if (sc->n > 0) {
        struct sc_rec *s = find_slot(sc->tab, sc->cap, key->dev, key->ino);
        if (!slot_empty(s))
            return s;
    }
    return map_find(&sc->base, key->dev, key->ino);
}

int statcache_file_digest(struct statcache *sc, int dirfd, const char *name, const struct stat *st,
                          struct digest *out, struct kiln_error **err)
{
    struct sc_rec key = {.dev = (uint64_t)st->st_dev,
                         .ino = (uint64_t)st->st_ino,
                         .size = (uint64_t)st->st_size,
                         .mtime_ns = ts_ns(st->st_mtim),
                         .ctime_ns = ts_ns(st->st_ctim)};
    pthread_mutex_lock(&sc->mu);
    const struct sc_rec *s = lookup(sc, &key);
    if (s != NULL && s->size == key.size && s->mtime_ns == key.mtime_ns &&
        s->ctime_ns == key.ctime_ns) {
        from_raw(s->digest, out);
        sc->hits++;
        pthread_mutex_unlock(&sc->mu);
        return 0;
    }
    pthread_mutex_unlock(&sc->mu);

    cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kiln_error_errno(err, errno, "open %s", name);
    uint64_t size = 0;
    if (digest_file_fd(fd, out, &size, err) < 0)
        return kiln_error_prefix(err, "%s", name);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&sc->mu);
    sc->hashed++;
    if (size == key.size && key.ctime_ns < ts_ns(now) - 2000000000LL) {
        to_raw(out, key.digest);
        if (sc->base.n + sc->n < SC_MAX_ENTRIES && put(sc, &key))
            sc->dirty = 1;
    }
    pthread_mutex_unlock(&sc->mu);
    return 0;
}

static int cmp_rec(const void *a, const void *b)
{
    const struct sc_rec *y = b;
    return key_cmp(((const struct sc_rec *)a)->dev, ((const struct sc_rec *)a)->ino, y);
}

/* disk's records merged with ours (sorted), ours winning, into sb. */
static void merge(const struct sc_map *disk, const struct sc_rec *ours, size_t n_ours,
                  struct strbuf *sb)
{
    size_t i = 0, j = 0, out = 0;
    while ((i < disk->n || j < n_ours) && out < SC_MAX_ENTRIES) {
        int c = i == disk->n  ? 1
                : j == n_ours ? -1
                              : key_cmp(disk->v[i].dev, disk->v[i].ino, &ours[j]);
        if (c < 0) {
            strbuf_add(sb, &disk->v[i++], sizeof(struct sc_rec));
        } else {
            if (c == 0)
                i++;
            strbuf_add(sb, &ours[j++], sizeof(struct sc_rec));
        }
        out++;
    }
}

int statcache_save(struct statcache *sc, const char *lock_path, struct kiln_error **err)
{
    pthread_mutex_lock(&sc->mu);
    if (!sc->dirty) {
        pthread_mutex_unlock(&sc->mu);
        return 0;
    }
    int rc = -1;
    cleanup_close int lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) {
        kiln_error_errno(err, errno, "open %s", lock_path);
        goto out;
    }
    while (flock(lfd, LOCK_EX) < 0 && errno == EINTR)
        ;
    /* Others may have saved since we mapped: keep theirs, ours win on conflict. */
    struct sc_rec *ours = xmalloc((sc->n + 1) * sizeof(*ours));
    size_t n = 0;
    for (size_t i = 0; i < sc->cap; i++)
        if (!slot_empty(&sc->tab[i]))
            ours[n++] = sc->tab[i];
    if (n > 1)
        qsort(ours, n, sizeof(*ours), cmp_rec);
    struct sc_map disk;
    map_open(sc->path, &disk);
    struct strbuf sb = STRBUF_INIT;
    strbuf_grow(&sb, SC_MAGIC_LEN + (disk.n + n) * sizeof(struct sc_rec));
    strbuf_add(&sb, SC_MAGIC, SC_MAGIC_LEN);
    merge(&disk, ours, n, &sb);
    map_close(&disk);
    free(ours);
    rc = write_file_atomic(sc->path, sb.buf, sb.len, 0644, err);
    strbuf_release(&sb);
    if (rc == 0)
        sc->dirty = 0;
    flock(lfd, LOCK_UN);
out:
    pthread_mutex_unlock(&sc->mu);
    return rc;
}

void statcache_stats(struct statcache *sc, unsigned long *hashed, unsigned long *hits)
{
    pthread_mutex_lock(&sc->mu);
    *hashed = sc->hashed;
    *hits = sc->hits;
    pthread_mutex_unlock(&sc->mu);
}

void statcache_free(struct statcache *sc)
{
    if (sc == NULL)
        return;
    pthread_mutex_destroy(&sc->mu);
    map_close(&sc->base);
    free(sc->tab);
    free(sc->path);
    free(sc);
}
