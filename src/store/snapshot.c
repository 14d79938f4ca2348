/* Snapshots: snapshots/<diffid hex>/ holds a layer unpacked once, in overlay
 * form (whiteouts as char 0/0 devices, opaque dirs as trusted.overlay.opaque),
 * ready to be an overlayfs lowerdir. Built in the ingest session and renamed
 * into place, so a snapshot directory is always complete. Users hold a shared
 * flock on the directory; prune only removes what it can lock exclusively. */
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/userns.h"

char *store_snapshot_path(const struct store *s, const struct digest *diffid)
{
    return xasprintf("%s/snapshots/%s", s->root, diffid->hex);
}

int store_snapshot_has(struct store *s, const struct digest *diffid)
{
    struct stat st;
    return fstatat(s->snapshots_fd, diffid->hex, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISDIR(st.st_mode);
}

/* Renames dir into place; someone else's identical snapshot wins a race. */
static int install(struct store *s, const char *dir, const struct digest *diffid,
                   struct kiln_error **err)
{
    if (renameat(AT_FDCWD, dir, s->snapshots_fd, diffid->hex) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY)
            return kiln_error_errno(err, errno, "install snapshot %s", diffid->hex);
        struct kiln_error *e = NULL;
        rm_rf(dir, &e);
        kiln_error_free(e);
    }
    store_touch_at(s->snapshots_fd, diffid->hex);
    if (fsync(s->snapshots_fd) < 0)
        return kiln_error_errno(err, errno, "sync %s/snapshots", s->root);
    return 0;
}

int store_snapshot_adopt(struct store *s, const char *dir, const struct digest *diffid,
                         struct kiln_error **err)
{
    if (store_lock(s, err) < 0)
        return -1;
    int has = store_snapshot_has(s, diffid);
    if (has)
        store_touch_at(s->snapshots_fd, diffid->hex);
    store_unlock(s);
    if (has)
        return 0;
    /* Its files were written without syncs (a volatile overlay's upper):
     * durable before they become the snapshot. */
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "open %s", dir);
    if (syncfs(fd) < 0)
        return kiln_error_errno(err, errno, "sync %s", dir);
    return install(s, dir, diffid, err) < 0 ? -1 : 1;
}

int store_snapshot_ensure(struct store *s, const struct image_layer *layer, char **path_out,
                          struct kiln_error **err)
{
    return store_snapshot_ensure_like(s, layer, NULL, path_out, err);
}

int store_snapshot_ensure_like(struct store *s, const struct image_layer *layer,
                               const struct digest *like, char **path_out, struct kiln_error **err)
{
    *path_out = NULL;
    if (store_lock(s, err) < 0)
        return -1;
    int has = store_snapshot_has(s, &layer->diffid);
    if (has) /* marked as in use under the lock, so a running prune keeps it */
        store_touch_at(s->snapshots_fd, layer->diffid.hex);
    store_unlock(s);
    if (has) {
        *path_out = store_snapshot_path(s, &layer->diffid);
        return 0;
    }
    cleanup_close int blob = store_blob_open(s, &layer->blob.digest, err);
    if (blob < 0)
        return -1;
    if (store_session(s, err) < 0)
        return -1;
    cleanup_free char *tmp = xasprintf("%s/snap-XXXXXX", s->scratch);
    if (mkdtemp(tmp) == NULL)
        return kiln_error_errno(err, errno, "create %s", tmp);
    int rc = -1;
    /* The snapshot like's files are linked from, held (shared) while they
     * are: prune leaves it alone. Declared before the first goto, so that
     * its cleanup never sees an unset fd. */
    cleanup_close int like_fd = -1;
    cleanup_close int dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        kiln_error_errno(err, errno, "open %s", tmp);
        goto out;
    }
    fchmod(dirfd, 0755);
    struct layer_extract_opts opts = {
        .whiteouts = LAYER_WHITEOUT_OVERLAY,
        .allow_devices = !userns_unprivileged(),
        .skip_owners = geteuid() != 0,
        .user_xattrs = userns_unprivileged(),
    };
    if (like != NULL && !digest_equal(like, &layer->diffid) && store_snapshot_has(s, like)) {
        cleanup_error struct kiln_error *herr = NULL;
        like_fd = store_snapshot_hold(s, like, &herr);
        if (like_fd >= 0) {
            opts.reuse = true;
            opts.reuse_dirfd = like_fd;
        }
    }
    struct digest got;
    if (layer_extract(blob, dirfd, &opts, &got, err) < 0) {
        kiln_error_prefix(err, "unpack layer sha256:%s", layer->blob.digest.hex);
        goto out;
    }
    if (!digest_equal(&got, &layer->diffid)) {
        kiln_error_set(err, KILN_E_DIGEST,
                       "layer sha256:%s: uncompressed digest is sha256:%s, the image says "
                       "sha256:%s",
                       layer->blob.digest.hex, got.hex, layer->diffid.hex);
        goto out;
    }
    if (syncfs(dirfd) < 0) {
        kiln_error_errno(err, errno, "sync snapshot %s", layer->diffid.hex);
        goto out;
    }
    rc = install(s, tmp, &layer->diffid, err);
out:
    if (rc < 0) {
        struct kiln_error *e = NULL;
        rm_rf(tmp, &e);
        kiln_error_free(e);
        return -1;
    }
    *path_out = store_snapshot_path(s, &layer->diffid);
    return 0;
}

int store_snapshot_hold(struct store *s, const struct digest *diffid, struct kiln_error **err)
{
    int fd = openat(s->snapshots_fd, diffid->hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "snapshot %s", diffid->hex);
    while (flock(fd, LOCK_SH) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return kiln_error_errno(err, e, "lock snapshot %s", diffid->hex);
        }
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_nlink == 0) {
        close(fd);
        return kiln_error_set(err, KILN_E_NOTFOUND, "snapshot %s was just pruned", diffid->hex);
    }
    return fd;
}
