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
#include <sys/xattr.h>
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

static int lock_wait(int fd, int op, const char *path, struct kiln_error **err)
{
    while (flock(fd, op) < 0) {
        if (errno != EINTR)
            return kiln_error_errno(err, errno, "lock %s", path);
    }
    return 0;
}

/* The first free slot "base/prefix-N" (its lock "base/prefix-N.lock" taken
 * exclusive, *fd): a directory a step has to itself. */
static char *free_slot(const char *base, const char *prefix, int *fd, struct kiln_error **err)
{
    for (int i = 1;; i++) {
        char *p = xasprintf("%s/%s-%d", base, prefix, i);
        cleanup_free char *l = xasprintf("%s.lock", p);
        int lfd = open(l, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lfd < 0) {
            free(p);
            kiln_error_errno(err, errno, "open cache mount lock %s", l);
            return NULL;
        }
        if (flock(lfd, LOCK_EX | LOCK_NB) == 0) {
            *fd = lfd;
            return p;
        }
        close(lfd);
        free(p);
    }
}

/* Hard links of every entry under src into dst (which exists): the view's
 * lower dir, a copy of the cache as it is now that costs no data. */
static int link_tree(const char *src, const char *dst, struct kiln_error **err)
{
    cleanup_dir DIR *d = opendir(src);
    if (d == NULL)
        return kiln_error_errno(err, errno, "open %s", src);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *s = path_join(src, de->d_name);
        cleanup_free char *t = path_join(dst, de->d_name);
        struct stat st;
        if (lstat(s, &st) < 0) {
            if (errno == ENOENT)
                continue; /* removed by its user meanwhile */
            return kiln_error_errno(err, errno, "stat %s", s);
        }
        if (!S_ISDIR(st.st_mode)) {
            if (link(s, t) < 0 && errno != ENOENT)
                return kiln_error_errno(err, errno, "link %s to %s", s, t);
            continue;
        }
        if (mkdir(t, st.st_mode & 07777) < 0 || lchown(t, st.st_uid, st.st_gid) < 0 ||
            chmod(t, st.st_mode & 07777) < 0)
            return kiln_error_errno(err, errno, "create %s", t);
        if (link_tree(s, t, err) < 0)
            return -1;
    }
    return 0;
}

/* A shared cache already taken: a view of its own in base/view-N. */
static int view_acquire(const char *base, const char *data, struct cache_mount *out,
                        struct kiln_error **err)
{
    int vfd = -1;
    cleanup_free char *view = free_slot(base, "view", &vfd, err);
    if (view == NULL)
        return -1;
    cleanup_free char *lower = path_join(view, "lower");
    cleanup_free char *upper = path_join(view, "upper");
    cleanup_free char *work = path_join(view, "work");
    struct stat st;
    /* a view a killed build left is only a copy: its files are dropped */
    if (rm_rf(view, err) < 0 || mkdir(view, 0700) < 0 || stat(data, &st) < 0 ||
        mkdir(lower, st.st_mode & 07777) < 0 || chown(lower, st.st_uid, st.st_gid) < 0 ||
        chmod(lower, st.st_mode & 07777) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0) {
        if (*err == NULL)
            kiln_error_errno(err, errno, "create cache mount view %s", view);
        close(vfd);
        return -1;
    }
    if (link_tree(data, lower, err) < 0) {
        close(vfd);
        return kiln_error_prefix(err, "cache mount view %s", view);
    }
    out->path = steal_pointer(&lower);
    out->upper = steal_pointer(&upper);
    out->work = steal_pointer(&work);
    out->data = xstrdup(data);
    out->view = steal_pointer(&view);
    out->own_fd = vfd;
    return 0;
}

/* Rootless (a build that did not enter its user namespace), the RUN step's
 * root is the caller itself: a new directory is its already, and other ids
 * are in the subuid range, which only newuidmap reaches: no chown. */
static int make_data(const char *data, uid_t uid, gid_t gid, mode_t mode, struct kiln_error **err)
{
    if (mkdir(data, mode) == 0) {
        if ((geteuid() == 0 && chown(data, uid, gid) < 0) || chmod(data, mode) < 0)
            return kiln_error_errno(err, errno, "set owner of cache mount %s", data);
    } else if (errno != EEXIST) {
        return kiln_error_errno(err, errno, "create cache mount %s", data);
    }
    return 0;
}

int cache_mount_acquire(const char *root, const char *id, enum cache_sharing sharing, uid_t uid,
                        gid_t gid, mode_t mode, struct cache_mount *out, struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    out->lock_fd = out->own_fd = -1;
    if (geteuid() != 0 && (uid != 0 || gid != 0))
        return kiln_error_set(err, KILN_E_USAGE,
                              "cache mount %s: uid=%u,gid=%u: a rootless build cannot give a "
                              "cache mount another owner than root (drop uid/gid, or chown it "
                              "in the RUN step)",
                              id, (unsigned)uid, (unsigned)gid);
    struct digest idd;
    digest_bytes(id, strlen(id), &idd);
    cleanup_free char *base = xasprintf("%s/cache/mounts/%s", root, idd.hex);
    if (mkdir_p(base, 0700, err) < 0)
        return -1;
    cleanup_free char *lock = path_join(base, "lock");
    cleanup_free char *shared = path_join(base, "data");
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0)
        return kiln_error_errno(err, errno, "open %s", lock);
    out->lock_fd = lfd;
    int rc = 0;
    if (sharing == CACHE_PRIVATE) {
        /* private: the shared directory if free, else a fresh one of our own */
        if (flock(lfd, LOCK_EX | LOCK_NB) == 0) {
            out->path = xstrdup(shared);
        } else {
            close(lfd);
            out->lock_fd = -1;
            out->path = free_slot(base, "private", &out->lock_fd, err);
            rc = out->path == NULL ? -1 : 0;
        }
        rc = rc < 0 ? -1 : make_data(out->path, uid, gid, mode, err);
    } else if (sharing == CACHE_LOCKED) {
        rc = lock_wait(lfd, LOCK_EX, lock, err);
        out->path = xstrdup(shared);
        rc = rc < 0 ? -1 : make_data(out->path, uid, gid, mode, err);
    } else {
        /* shared: "direct" names the one user binding the cache itself */
        cleanup_free char *direct = path_join(base, "direct");
        rc = lock_wait(lfd, LOCK_SH, lock, err);
        if (rc == 0)
            rc = make_data(shared, uid, gid, mode, err);
        if (rc == 0) {
            out->own_fd = open(direct, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (out->own_fd < 0)
                rc = kiln_error_errno(err, errno, "open %s", direct);
        }
        if (rc == 0 && flock(out->own_fd, LOCK_EX | LOCK_NB) == 0) {
            out->path = xstrdup(shared);
        } else if (rc == 0) {
            close(out->own_fd);
            out->own_fd = -1;
            rc = view_acquire(base, shared, out, err);
        }
    }
    if (rc < 0)
        cache_mount_release(out);
    return rc;
}

static int overlay_noted(const char *path)
{
    static const char *const notes[] = {"trusted.overlay.origin", "trusted.overlay.opaque",
                                        "user.overlay.origin", "user.overlay.opaque"};
    for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++)
        if (lgetxattr(path, notes[i], NULL, 0) >= 0)
            return 1;
    return 0;
}

/* Whether a directory of a view's upper dir holds nothing overlay-made: no
 * whiteout, no overlay xattr (it can move into the cache as it is). */
static int tree_plain(const char *dir)
{
    if (overlay_noted(dir))
        return 0;
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *p = path_join(dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) < 0 || (S_ISCHR(st.st_mode) && st.st_rdev == 0) ||
            (S_ISDIR(st.st_mode) ? !tree_plain(p) : overlay_noted(p)))
            return 0;
    }
    return 1;
}

static void merge_at(const char *src, const char *dst, size_t *moved)
{
    cleanup_dir DIR *d = opendir(src);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *s = path_join(src, de->d_name);
        cleanup_free char *t = path_join(dst, de->d_name);
        struct stat st, dt;
        if (lstat(s, &st) < 0)
            continue;
        if (S_ISCHR(st.st_mode) && st.st_rdev == 0)
            continue; /* a whiteout: the view removed a file, the cache keeps it */
        if (S_ISDIR(st.st_mode) && lstat(t, &dt) == 0) {
            if (S_ISDIR(dt.st_mode))
                merge_at(s, t, moved);
            continue;
        }
        /* overlay's own note on a file (its copy-up origin) means nothing
         * outside the view */
        if (!S_ISDIR(st.st_mode)) {
            lremovexattr(s, "trusted.overlay.origin");
            lremovexattr(s, "user.overlay.origin");
        }
        /* a new directory goes in whole, but only if nothing in it is a
         * whiteout (a view's removal): else it is made and descended into */
        if (S_ISDIR(st.st_mode) && !tree_plain(s)) {
            if (mkdir(t, st.st_mode & 07777) == 0) {
                if (lchown(t, st.st_uid, st.st_gid) == 0)
                    chmod(t, st.st_mode & 07777);
                merge_at(s, t, moved);
            } else if (errno == EEXIST) {
                merge_at(s, t, moved);
            }
            continue;
        }
        if (renameat2(AT_FDCWD, s, AT_FDCWD, t, RENAME_NOREPLACE) == 0)
            (*moved)++;
    }
}

size_t cache_view_merge(const char *upper, const char *data)
{
    size_t moved = 0;
    merge_at(upper, data, &moved);
    return moved;
}

void cache_mount_release(struct cache_mount *m)
{
    if (m->view != NULL && m->upper != NULL && m->data != NULL) {
        cache_view_merge(m->upper, m->data);
        cleanup_error struct kiln_error *e = NULL;
        rm_rf(m->view, &e);
    }
    if (m->own_fd >= 0)
        close(m->own_fd);
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    m->own_fd = m->lock_fd = -1;
    free(m->path);
    free(m->upper);
    free(m->work);
    free(m->data);
    free(m->view);
    m->path = m->upper = m->work = m->data = m->view = NULL;
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
