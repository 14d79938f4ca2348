/* Build cache storage: cache/keys/<key hex> (JSON), cache/mounts/<id digest>/
 * {data/,lock} for cache mounts, cache/statcache for file digests. */
#include "build/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

struct digester *cache_key_begin(const struct digest *parent)
{
    struct digester *d = digester_new();
    cache_key_adds(d, "kiln-step-v1", parent != NULL ? parent->hex : "");
    return d;
}

void cache_key_add(struct digester *d, const char *field, const void *data, size_t len)
{
    char hdr[64];
    int n = snprintf(hdr, sizeof(hdr), "%zu:%zu:", strlen(field), len);
    digester_update(d, hdr, (size_t)n);
    digester_update(d, field, strlen(field));
    digester_update(d, data, len);
}

void cache_key_adds(struct digester *d, const char *field, const char *value)
{
    cache_key_add(d, field, value, strlen(value));
}

void cache_key_finish(struct digester *d, struct digest *out)
{
    digester_finish(d, out);
}

static char *entry_path(const char *root, const struct digest *key)
{
    return xasprintf("%s/cache/keys/%s", root, key->hex);
}

static int blob_present(const char *root, const struct digest *d)
{
    cleanup_free char *p = xasprintf("%s/blobs/sha256/%s", root, d->hex);
    return path_exists(p);
}

int cache_lookup(const char *root, const struct digest *key, struct cache_entry *out,
                 struct kiln_error **err)
{
    cleanup_free char *path = entry_path(root, key);
    if (!path_exists(path))
        return 0;
    cleanup_error struct kiln_error *lerr = NULL;
    cleanup_json json_t *j = json_load_path(path, 1 << 16, &lerr);
    if (j == NULL)
        return 0; /* unreadable entry: treat as a miss, it will be rewritten */
    memset(out, 0, sizeof(*out));
    json_t *layer = json_object_get(j, "layer");
    if (layer == NULL || json_is_null(layer))
        return 1;
    const char *mt = json_get_str(layer, "mediaType");
    const char *dg = json_get_str(layer, "digest");
    const char *di = json_get_str(layer, "diffID");
    json_int_t size = json_get_int(layer, "size", -1);
    cleanup_error struct kiln_error *perr = NULL;
    if (mt == NULL || strlen(mt) >= sizeof(out->media_type) || dg == NULL || di == NULL ||
        size < 0 || digest_parse(dg, &out->digest, &perr) < 0 ||
        digest_parse(di, &out->diff_id, &perr) < 0)
        return 0;
    (void)err;
    snprintf(out->media_type, sizeof(out->media_type), "%s", mt);
    out->size = (uint64_t)size;
    out->has_layer = 1;
    return blob_present(root, &out->digest) ? 1 : 0;
}

int cache_store(const char *root, const struct digest *key, const struct cache_entry *e,
                struct kiln_error **err)
{
    cleanup_free char *dir = xasprintf("%s/cache/keys", root);
    if (mkdir_p(dir, 0755, err) < 0)
        return -1;
    cleanup_json json_t *j = json_object();
    if (e->has_layer) {
        char a[DIGEST_STR_LEN + 1], b[DIGEST_STR_LEN + 1];
        json_object_set_new(j, "layer",
                            json_pack("{s:s, s:s, s:s, s:I}", "mediaType", e->media_type, "digest",
                                      digest_str(&e->digest, a), "diffID",
                                      digest_str(&e->diff_id, b), "size", (json_int_t)e->size));
    } else {
        json_object_set_new(j, "layer", json_null());
    }
    cleanup_free char *text = json_dump_canonical(j);
    cleanup_free char *path = entry_path(root, key);
    /* write_file_atomic's temp name carries the pid; threads of one build
     * never store the same key at once (one step, one key). */
    return write_file_atomic(path, text, strlen(text), 0644, err);
}

static char *hint_path(const char *root, const struct digest *id)
{
    return xasprintf("%s/cache/hints/%s", root, id->hex);
}

int cache_hint_get(const char *root, const struct digest *id, struct digest *out)
{
    cleanup_free char *path = hint_path(root, id);
    char buf[DIGEST_HEX_LEN + 1];
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, DIGEST_HEX_LEN);
    if (n != DIGEST_HEX_LEN)
        return 0;
    buf[n] = '\0';
    return digest_parse_hex(buf, out) == 0;
}

void cache_hint_put(const char *root, const struct digest *id, const struct digest *value)
{
    cleanup_free char *dir = xasprintf("%s/cache/hints", root);
    cleanup_error struct kiln_error *e = NULL;
    if (mkdir_p(dir, 0755, &e) < 0)
        return;
    /* No fsync: a hint lost or torn in a crash only costs a copy. */
    cleanup_free char *path = hint_path(root, id);
    cleanup_free char *tmp = xasprintf("%s.%d.tmp", path, (int)gettid());
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write_all(fd, value->hex, DIGEST_HEX_LEN) < 0 || rename(tmp, path) < 0)
        unlink(tmp);
}

int cache_mount_acquire(const char *root, const char *id, enum cache_sharing sharing, uid_t uid,
                        gid_t gid, mode_t mode, struct cache_mount *out, struct kiln_error **err)
{
    struct digest idd;
    digest_bytes(id, strlen(id), &idd);
    cleanup_free char *base = xasprintf("%s/cache/mounts/%s", root, idd.hex);
    if (mkdir_p(base, 0700, err) < 0)
        return -1;
    cleanup_free char *lock = path_join(base, "lock");
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0)
        return kiln_error_errno(err, errno, "open %s", lock);
    cleanup_free char *data = NULL;
    if (sharing == CACHE_PRIVATE) {
        /* private: the shared directory if free, else a fresh one of our own */
        if (flock(lfd, LOCK_EX | LOCK_NB) == 0) {
            data = path_join(base, "data");
        } else {
            close(lfd);
            for (int i = 1;; i++) {
                char *p = xasprintf("%s/private-%d", base, i);
                char *l = xasprintf("%s.lock", p);
                lfd = open(l, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                free(l);
                if (lfd < 0) {
                    free(p);
                    return kiln_error_errno(err, errno, "open cache mount lock in %s", base);
                }
                if (flock(lfd, LOCK_EX | LOCK_NB) == 0) {
                    data = p;
                    break;
                }
                close(lfd);
                free(p);
            }
        }
    } else {
        int op = sharing == CACHE_LOCKED ? LOCK_EX : LOCK_SH;
        while (flock(lfd, op) < 0) {
            if (errno != EINTR) {
                int e = errno;
                close(lfd);
                return kiln_error_errno(err, e, "lock %s", lock);
            }
        }
        data = path_join(base, "data");
    }
    /* Rootless, the RUN step's root is the caller itself: a new directory is
     * its already. Other ids are in the subuid range, which only the user
     * namespace's helpers (newuidmap) reach: chown from here cannot. */
    int rootless = geteuid() != 0;
    if (rootless && (uid != 0 || gid != 0)) {
        close(lfd);
        return kiln_error_set(err, KILN_E_USAGE,
                              "cache mount %s: uid=%u,gid=%u: a rootless build cannot give a "
                              "cache mount another owner than root (drop uid/gid, or chown it "
                              "in the RUN step)",
                              id, (unsigned)uid, (unsigned)gid);
    }
    if (mkdir(data, mode) == 0) {
        if ((!rootless && chown(data, uid, gid) < 0) || chmod(data, mode) < 0) {
            int e = errno;
            close(lfd);
            return kiln_error_errno(err, e, "set owner of cache mount %s", data);
        }
    } else if (errno != EEXIST) {
        int e = errno;
        close(lfd);
        return kiln_error_errno(err, e, "create cache mount %s", data);
    }
    out->path = steal_pointer(&data);
    out->lock_fd = lfd;
    return 0;
}

void cache_mount_release(struct cache_mount *m)
{
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    m->lock_fd = -1;
    free(m->path);
    m->path = NULL;
}

static int prune_keys(const char *root, unsigned long *freed, struct kiln_error **err)
{
    cleanup_free char *dir = xasprintf("%s/cache/keys", root);
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : kiln_error_errno(err, errno, "open %s", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            (*freed)++;
    }
    return 0;
}

static int prune_mounts(const char *root, unsigned long *freed, struct kiln_error **err)
{
    cleanup_free char *dir = xasprintf("%s/cache/mounts", root);
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : kiln_error_errno(err, errno, "open %s", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        cleanup_free char *lock = xasprintf("%s/%s/lock", dir, de->d_name);
        cleanup_close int lfd = open(lock, O_RDWR | O_CLOEXEC);
        if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0)
            continue; /* in use by a running build: leave it */
        cleanup_free char *sub = path_join(dir, de->d_name);
        if (rm_rf(sub, err) < 0)
            return -1;
        (*freed)++;
    }
    return 0;
}

int cache_prune(const char *root, unsigned long *freed, struct kiln_error **err)
{
    *freed = 0;
    if (prune_keys(root, freed, err) < 0 || prune_mounts(root, freed, err) < 0)
        return -1;
    cleanup_free char *hints = xasprintf("%s/cache/hints", root);
    if (rm_rf(hints, err) < 0)
        return -1;
    cleanup_free char *sc = xasprintf("%s/cache/statcache", root);
    if (unlink(sc) < 0 && errno != ENOENT)
        return kiln_error_errno(err, errno, "remove %s", sc);
    return 0;
}
