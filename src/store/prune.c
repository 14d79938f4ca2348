/* Prune: remove blobs and snapshots that nothing reaches. Roots are the
 * manifests in index.json (and whatever add_roots contributes); anything a
 * live kiln process may have written since it started is kept, as is any
 * snapshot held as a lowerdir. Runs under the store lock, so no tag can move
 * onto content while it is being removed. */
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/digest_set.h"
#include "store/referrers.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

static int newer_than(const struct stat *st, const struct timespec *cutoff)
{
    return st->st_mtim.tv_sec > cutoff->tv_sec ||
           (st->st_mtim.tv_sec == cutoff->tv_sec && st->st_mtim.tv_nsec >= cutoff->tv_nsec);
}

int store_reachable(struct store *s,
                    int (*add_roots)(void *, struct store *, struct digest_set *,
                                     struct kiln_error **),
                    void *ctx, struct digest_set *blobs, struct digest_set *diffids,
                    struct kiln_error **err)
{
    struct store_tag_entry *e = NULL;
    size_t n = 0;
    if (store_list_tags(s, &e, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        store_manifest_walk(s, &e[i].manifest, 0, blobs, diffids, NULL);
    store_tag_entries_free(e, n);
    if (add_roots != NULL && add_roots(ctx, s, blobs, err) < 0)
        return -1;
    return 0;
}

/* A name of a file with more than one (a snapshot unpacked like another
 * links its unchanged files): the file is freed only if every name is in
 * the tree removed. */
struct linked {
    dev_t dev;
    ino_t ino;
    nlink_t nlink;
    uint64_t size;
};
struct linked_set {
    struct linked *v;
    size_t n, cap;
};

static void linked_add(struct linked_set *ls, const struct stat *st)
{
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? 2 * ls->cap : 64;
        ls->v = xrealloc(ls->v, ls->cap * sizeof(*ls->v));
    }
    ls->v[ls->n++] = (struct linked){st->st_dev, st->st_ino, st->st_nlink, (uint64_t)st->st_size};
}

static int linked_cmp(const void *a, const void *b)
{
    const struct linked *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static uint64_t tree_walk(int dir_fd, int depth, struct linked_set *ls)
{
    uint64_t total = 0;
    cleanup_dir DIR *d = fdopendir(dir_fd);
    if (d == NULL) {
        close(dir_fd);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISREG(st.st_mode) && st.st_nlink > 1)
            linked_add(ls, &st);
        else if (S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
        else if (S_ISDIR(st.st_mode) && depth < 256) {
            int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                total += tree_walk(fd, depth + 1, ls);
        }
    }
    return total;
}

/* Bytes removing a directory frees (regular files, st_size), for reports:
 * a file also named outside it (nlink) frees nothing. */
static uint64_t tree_bytes(int dir_fd)
{
    struct linked_set ls = {0};
    uint64_t total = tree_walk(dir_fd, 0, &ls);
    if (ls.n > 1)
        qsort(ls.v, ls.n, sizeof(*ls.v), linked_cmp);
    for (size_t i = 0, j; i < ls.n; i = j) {
        for (j = i + 1; j < ls.n && linked_cmp(&ls.v[i], &ls.v[j]) == 0; j++)
            ;
        if (j - i >= ls.v[i].nlink)
            total += ls.v[i].size;
    }
    free(ls.v);
    return total;
}

static int prune_blobs(struct store *s, const struct digest_set *keep,
                       const struct timespec *cutoff, int dry_run,
                       struct store_prune_report *report, struct kiln_error **err)
{
    int fd = openat(s->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_dir DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL)
        return kiln_error_errno(err, errno, "read %s/blobs/sha256", s->root);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct digest dg;
        struct stat st;
        if (digest_parse_hex(de->d_name, &dg) < 0 || digest_set_has(keep, &dg))
            continue; /* foreign names are fsck's business */
        if (fstatat(s->blobs_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            newer_than(&st, cutoff))
            continue;
        if (!dry_run && unlinkat(s->blobs_fd, de->d_name, 0) < 0) {
            if (errno == ENOENT)
                continue;
            return kiln_error_errno(err, errno, "remove blob sha256:%s", de->d_name);
        }
        report->blobs_removed++;
        report->blob_bytes += (uint64_t)st.st_size;
    }
    if (!dry_run)
        fsync(s->blobs_fd);
    return 0;
}

static int prune_snapshots(struct store *s, const struct digest_set *blobs,
                           const struct digest_set *diffids, const struct timespec *cutoff,
                           int dry_run, struct store_prune_report *report, struct kiln_error **err)
{
    cleanup_digest_set struct digest_set *mounted = digest_set_new();
    if (store_snapshots_in_use(s, mounted) < 0)
        return kiln_error_set(err, KILN_E_FAIL,
                              "cannot read /proc to see which snapshots are mounted; not "
                              "removing any");
    int fd = openat(s->snapshots_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_dir DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL)
        return kiln_error_errno(err, errno, "read %s/snapshots", s->root);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct digest dg;
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int valid = digest_parse_hex(de->d_name, &dg) == 0;
        if (valid && (digest_set_has(diffids, &dg) || digest_set_has(blobs, &dg) ||
                      digest_set_has(mounted, &dg)))
            continue;
        if (fstatat(s->snapshots_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            newer_than(&st, cutoff))
            continue;
        cleanup_close int sfd =
            openat(s->snapshots_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd >= 0 && flock(sfd, LOCK_EX | LOCK_NB) < 0)
            continue; /* in use as a lowerdir */
        uint64_t bytes = 0;
        if (sfd >= 0) {
            int dup_fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dup_fd >= 0)
                bytes = tree_bytes(dup_fd);
        }
        if (!dry_run && rm_rf_at(s->snapshots_fd, de->d_name, err) < 0)
            return kiln_error_prefix(err, "remove snapshot");
        report->snapshots_removed++;
        report->snapshot_bytes += bytes;
    }
    if (!dry_run)
        fsync(s->snapshots_fd);
    return 0;
}

int store_prune(struct store *s, const struct store_prune_opts *opts,
                struct store_prune_report *report, struct kiln_error **err)
{
    struct store_prune_opts none = {0};
    if (opts == NULL)
        opts = &none;
    memset(report, 0, sizeof(*report));
    if (store_lock(s, err) < 0)
        return -1;
    cleanup_digest_set struct digest_set *blobs = digest_set_new();
    cleanup_digest_set struct digest_set *diffids = digest_set_new();
    struct timespec cutoff;
    int rc = -1;
    size_t orphans = 0;
    /* attached SBOMs of removed images go with them */
    if (referrers_drop_orphans(s, opts->dry_run, &orphans, err) < 0)
        goto out;
    if (store_live_cutoff(s, &cutoff, err) < 0 ||
        store_reachable(s, opts->add_roots, opts->add_roots_ctx, blobs, diffids, err) < 0)
        goto out;
    if (prune_blobs(s, blobs, &cutoff, opts->dry_run, report, err) < 0 ||
        prune_snapshots(s, blobs, diffids, &cutoff, opts->dry_run, report, err) < 0)
        goto out;
    rc = 0;
out:
    store_unlock(s);
    return rc;
}
