/* Stat-keyed digest cache: an open-addressing table of fixed records, saved
 * as a flat file ("KILNSC1\n" + records). Entries whose ctime is within two
 * seconds of now are not trusted for saving ("racy" files, after git's index:
 * a write in the same clock tick would not change the stat key). */
#include "build/statcache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define SC_MAGIC       "KILNSC1\n"
#define SC_MAX_ENTRIES (1u << 20)
#define SC_MAX_BYTES   ((size_t)SC_MAX_ENTRIES * sizeof(struct sc_rec) + 8)

struct sc_rec {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    unsigned char digest[32]; /* raw sha256 */
};

struct statcache {
    pthread_mutex_t mu;
    char *path;
    struct sc_rec *tab; /* ino == 0 and dev == 0 marks an empty slot */
    size_t cap, n;
    int dirty;
    unsigned long hashed, hits;
};

static uint64_t rec_hash(uint64_t dev, uint64_t ino)
{
    uint64_t h = dev * 0x9E3779B97F4A7C15ull ^ ino;
    h ^= h >> 33;
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
    size_t ncap = sc->cap ? sc->cap * 2 : 1024;
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
    if ((sc->n + 1) * 4 >= sc->cap * 3)
        grow(sc);
    struct sc_rec *s = find_slot(sc->tab, sc->cap, r->dev, r->ino);
    if (slot_empty(s))
        sc->n++;
    else if (memcmp(s, r, sizeof(*r)) == 0)
        return 0;
    *s = *r;
    return 1;
}

static void load_into(struct statcache *sc, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    struct kiln_error *err = NULL;
    if (read_file(path, SC_MAX_BYTES, &data, &len, &err) < 0) {
        kiln_error_free(err);
        return;
    }
    if (len >= 8 && memcmp(data, SC_MAGIC, 8) == 0 && (len - 8) % sizeof(struct sc_rec) == 0) {
        size_t n = (len - 8) / sizeof(struct sc_rec);
        for (size_t i = 0; i < n; i++) {
            struct sc_rec r;
            memcpy(&r, data + 8 + i * sizeof(r), sizeof(r));
            put(sc, &r);
        }
    }
    free(data);
}

struct statcache *statcache_open(const char *path)
{
    struct statcache *sc = xcalloc(1, sizeof(*sc));
    pthread_mutex_init(&sc->mu, NULL);
    sc->path = xstrdup(path);
    load_into(sc, path);
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

int statcache_file_digest(struct statcache *sc, int dirfd, const char *name, const struct stat *st,
                          struct digest *out, struct kiln_error **err)
{
    struct sc_rec key = {.dev = (uint64_t)st->st_dev,
                         .ino = (uint64_t)st->st_ino,
                         .size = (uint64_t)st->st_size,
                         .mtime_ns = ts_ns(st->st_mtim),
                         .ctime_ns = ts_ns(st->st_ctim)};
    pthread_mutex_lock(&sc->mu);
    if (sc->cap > 0) {
        struct sc_rec *s = find_slot(sc->tab, sc->cap, key.dev, key.ino);
        if (!slot_empty(s) && s->size == key.size && s->mtime_ns == key.mtime_ns &&
            s->ctime_ns == key.ctime_ns) {
            from_raw(s->digest, out);
            sc->hits++;
            pthread_mutex_unlock(&sc->mu);
            return 0;
        }
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
        if (sc->n < SC_MAX_ENTRIES && put(sc, &key))
            sc->dirty = 1;
    }
    pthread_mutex_unlock(&sc->mu);
    return 0;
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
    /* Others may have saved since we loaded: keep theirs, ours win on conflict. */
    struct statcache *other = statcache_open(sc->path);
    for (size_t i = 0; i < other->cap; i++)
        if (!slot_empty(&other->tab[i]) && sc->n < SC_MAX_ENTRIES) {
            struct sc_rec *s = find_slot(sc->tab, sc->cap, other->tab[i].dev, other->tab[i].ino);
            if (slot_empty(s))
                put(sc, &other->tab[i]);
        }
    statcache_free(other);
    struct strbuf sb = STRBUF_INIT;
    strbuf_add(&sb, SC_MAGIC, 8);
    for (size_t i = 0; i < sc->cap; i++)
        if (!slot_empty(&sc->tab[i]))
            strbuf_add(&sb, &sc->tab[i], sizeof(sc->tab[i]));
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
    free(sc->tab);
    free(sc->path);
    free(sc);
}
