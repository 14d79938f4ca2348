/* COPY/ADD plans: collect (source -> dest) items, add parents, dedupe (the
 * last source wins, as with Docker), digest them, write them to a directory.
 * Writes go through a component-by-component O_NOFOLLOW walk from the layer
 * directory, so a symlink copied by one source cannot redirect another's write. */
#include "build/copy.h"
#include "build/pathglob.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store/compress.h"
#include "store/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

enum item_kind { IK_DIR, IK_FILE, IK_LINK, IK_DATA, IK_SPECIAL, IK_ARCHIVE };

struct copy_item {
    char *dst; /* relative, canonical */
    enum item_kind kind;
    mode_t mode; /* with type bits */
    uid_t uid;
    gid_t gid;
    uint64_t size;
    dev_t rdev;
    char *link;
    int src_fd; /* borrowed */
    char *src_rel;
    struct stat src_st;
    const char *data; /* borrowed from the request */
    size_t data_len;
    int64_t mtime; /* -1: the epoch */
    int parent;    /* added only as a parent */
    size_t seq;
    size_t link_to; /* 1 + index of the item this file is a hard link of, or 0 */
};

struct copy_plan {
    struct copy_item *v;
    size_t n, cap;
};

size_t copy_plan_count(const struct copy_plan *p)
{
    return p->n;
}

void copy_plan_free(struct copy_plan *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].dst);
        free(p->v[i].link);
        free(p->v[i].src_rel);
    }
    free(p->v);
    free(p);
}

static struct copy_item *add_item(struct copy_plan *p, const char *dst)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    struct copy_item *it = &p->v[p->n];
    memset(it, 0, sizeof(*it));
    it->dst = xstrdup(dst);
    it->src_fd = -1;
    it->mtime = -1;
    it->seq = p->n++;
    return it;
}

/* Cleans a path: no leading/trailing '/', no "." or "..", single separators. */
static char *clean_rel(const char *path)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    path_push_clean(&sb, path);
    return strbuf_detach(&sb);
}

static char *join_rel(const char *a, const char *b)
{
    if (a[0] == '\0')
        return xstrdup(b);
    if (b[0] == '\0')
        return xstrdup(a);
    size_t la = strlen(a), lb = strlen(b);
    char *r = xmalloc(la + lb + 2);
    memcpy(r, a, la);
    r[la] = '/';
    memcpy(r + la + 1, b, lb + 1);
    return r;
}

static const char *base_name(const char *rel)
{
    const char *s = strrchr(rel, '/');
    return s ? s + 1 : rel;
}

static int has_wildcard(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static int excluded(const struct copy_req *req, const char *rel)
{
    return req->exclude != NULL && dockerignore_excluded(req->exclude, rel);
}

static void set_attrs(const struct copy_req *req, struct copy_item *it, const struct stat *st,
                      int keep_owner)
{
    it->mode = st->st_mode;
    it->uid = keep_owner ? st->st_uid : 0;
    it->gid = keep_owner ? st->st_gid : 0;
    if (req->has_chown) {
        it->uid = req->uid;
        it->gid = req->gid;
    }
    if (req->chmod != NULL)
        it->mode = (st->st_mode & S_IFMT) | chmod_apply(req->chmod, st->st_mode);
    it->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
    it->rdev = st->st_rdev;
    it->src_st = *st;
    /* Context files get the epoch as mtime: their checkout time says nothing
     * about their content, and the cache key leaves mtimes out, so a hit
     * must give the same bytes a fresh build would. --from keeps layer times. */
    it->mtime = keep_owner ? st->st_mtim.tv_sec : -1;
}

/* The directory a directory source is copied into (BuildKit's MkdirAll of the
 * destination, then the copy with its metadata left alone): kept as it is
 * when it exists, else made 0755 and owned by --chown; neither the source
 * directory's mode nor --chmod applies to it (they apply to what is inside). */
static int set_base_dir(const struct copy_req *req, struct copy_item *it, struct kiln_error **err)
{
    it->mode = S_IFDIR | 0755;
    it->uid = req->has_chown ? req->uid : 0;
    it->gid = req->has_chown ? req->gid : 0;
    it->mtime = -1;
    if (req->dest_view == NULL)
        return 0;
    struct rootview_entry e;
    int found = rootview_lookup(req->dest_view, it->dst, 0, &e, err);
    if (found < 0)
        return -1;
    if (found && S_ISDIR(e.st.st_mode)) {
        it->mode = e.st.st_mode;
        it->uid = e.st.st_uid;
        it->gid = e.st.st_gid;
    }
    rootview_entry_release(&e);
    return 0;
}

static int is_archive(int dirfd, const char *rel)
{
    cleanup_close int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned char buf[512];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    if (n < 4)
        return 0;
    enum compression c = compression_detect(buf, (size_t)n);
    if (c != COMPRESSION_NONE)
        return 1;
    return n >= 262 && memcmp(buf + 257, "ustar", 5) == 0;
}

/* One source entry (file, dir, link...) at dst. fd/rel locate its bytes. */
static int add_entry(const struct copy_req *req, struct copy_plan *p, const char *dst, int fd,
                     const char *rel, const struct stat *st, int keep_owner, int extract,
                     struct kiln_error **err)
{
    if (extract) {
        /* ADD of a local tar: its contents go into the destination directory. */
        struct copy_item *it = add_item(p, dst);
        it->kind = IK_ARCHIVE;
        it->src_fd = fd;
        it->src_rel = xstrdup(rel);
        it->src_st = *st;
        it->mode = S_IFDIR | 0755;
        return 0;
    }
    struct copy_item *it = add_item(p, dst);
    set_attrs(req, it, st, keep_owner);
    it->src_fd = fd;
    it->src_rel = xstrdup(rel);
    if (S_ISDIR(st->st_mode)) {
        it->kind = IK_DIR;
    } else if (S_ISREG(st->st_mode)) {
        it->kind = IK_FILE;
    } else if (S_ISLNK(st->st_mode)) {
        it->kind = IK_LINK;
        char target[4096];
        ssize_t n = readlinkat(fd, rel, target, sizeof(target) - 1);
        if (n < 0)
            return kiln_error_errno(err, errno, "readlink %s", rel);
        target[n] = '\0';
        it->link = xstrdup(target);
    } else if (S_ISSOCK(st->st_mode)) {
        p->n--; /* sockets are not copied */
        free(it->dst);
        free(it->src_rel);
    } else {
        it->kind = IK_SPECIAL;
    }
    return 0;
}

/* --- sources from the context ---------------------------------------------- */

/* With --parents the destination keeps the source path after its first
 * strip bytes (the part before a "/./" pivot, or nothing). */
static char *parents_dst(const char *dest, const char *src_rel, size_t strip)
{
    return join_rel(dest, strlen(src_rel) >= strip ? src_rel + strip : "");
}

/* src_rel's bytes land under the name of as_rel (a symlink that was followed
 * to src_rel), or of src_rel itself when as_rel is NULL. */
static int add_ctx_match(const struct copy_req *req, struct copy_plan *p, const char *src_rel,
                         const char *as_rel, const struct stat *st, const char *dest,
                         int dest_is_dir, size_t strip, struct kiln_error **err)
{
    const char *name_rel = as_rel != NULL ? as_rel : src_rel;
    const struct context_index *ci = req->ctx;
    if (st == NULL || S_ISDIR(st->st_mode)) {
        cleanup_free char *base = req->parents ? parents_dst(dest, name_rel, strip) : xstrdup(dest);
        if (st != NULL && !excluded(req, src_rel)) {
            if (add_entry(req, p, base, ci->dirfd, src_rel, st, 0, 0, err) < 0)
                return -1;
            if (set_base_dir(req, &p->v[p->n - 1], err) < 0)
                return -1;
        }
        size_t first, count;
        context_subtree(ci, src_rel, &first, &count);
        size_t skip = src_rel[0] == '\0' ? 0 : strlen(src_rel) + 1;
        for (size_t i = first; i < first + count; i++) {
            const struct context_entry *e = &ci->v[i];
            if (excluded(req, e->rel))
                continue;
            cleanup_free char *dst = join_rel(base, e->rel + skip);
            if (add_entry(req, p, dst, ci->dirfd, e->rel, &e->st, 0, 0, err) < 0)
                return -1;
        }
        return 0;
    }
    if (excluded(req, src_rel))
        return 0;
    cleanup_free char *dst = NULL;
    int extract = req->is_add && S_ISREG(st->st_mode) && is_archive(ci->dirfd, src_rel);
    if (extract)
        dst = xstrdup(dest); /* a tar's contents go into dest itself */
    else if (req->parents)
        dst = parents_dst(dest, name_rel, strip);
    else if (dest_is_dir)
        dst = join_rel(dest, base_name(name_rel));
    else
        dst = xstrdup(dest);
    return add_entry(req, p, dst, ci->dirfd, src_rel, st, 0, extract, err);
}

/* A source named in COPY/ADD (or matched by its wildcard) that is a symlink is
 * followed, inside the context (an absolute target starts at its root), as
 * BuildKit does: the bytes of what it points at land under the link's name.
 * NULL (error set) when it leads out of the context or nowhere. */
static const struct context_entry *ctx_follow(const struct context_index *ci,
                                              const struct context_entry *e, const char *src,
                                              struct kiln_error **err)
{
    for (int hops = 0; e != NULL && S_ISLNK(e->st.st_mode); hops++) {
        char target[4096];
        ssize_t n = hops < 40 ? readlinkat(ci->dirfd, e->rel, target, sizeof(target) - 1) : -1;
        if (n < 0) {
            kiln_error_set(err, KILN_E_INVALID,
                           "\"%s\": too many levels of symbolic links in the build context", src);
            return NULL;
        }
        target[n] = '\0';
        struct strbuf sb = STRBUF_INIT;
        strbuf_init(&sb);
        const char *slash = strrchr(e->rel, '/');
        if (target[0] != '/' && slash != NULL) {
            cleanup_free char *dir = xstrndup(e->rel, (size_t)(slash - e->rel));
            path_push_clean(&sb, dir);
        }
        path_push_clean(&sb, target);
        cleanup_free char *rel = strbuf_detach(&sb);
        e = rel[0] == '\0' ? NULL : context_find(ci, rel);
        if (e == NULL) {
            kiln_error_set(err, KILN_E_NOTFOUND,
                           "\"%s\" is a symbolic link to \"%s\", which is not in the build "
                           "context (or excluded by .dockerignore)",
                           src, target);
            return NULL;
        }
    }
    return e;
}

/* add_ctx_match for a context entry, following it when it is a symlink. */
static int add_ctx_entry(const struct copy_req *req, struct copy_plan *p,
                         const struct context_entry *e, const char *src, const char *dest,
                         int dest_is_dir, size_t strip, struct kiln_error **err)
{
    if (!S_ISLNK(e->st.st_mode))
        return add_ctx_match(req, p, e->rel, NULL, &e->st, dest, dest_is_dir, strip, err);
    const struct context_entry *t = ctx_follow(req->ctx, e, src, err);
    if (t == NULL)
        return -1;
    return add_ctx_match(req, p, t->rel, e->rel, &t->st, dest, dest_is_dir, strip, err);
}

/* --parents "a/./b/c": the pattern is "a/b/c" and "a/" is left out of the
 * destination. Returns the cleaned pattern; *strip is the length to drop. */
static char *split_pivot(const struct copy_req *req, const char *src, size_t *strip)
{
    *strip = 0;
    const char *piv = req->parents ? strstr(src, "/./") : NULL;
    if (piv == NULL)
        return clean_rel(src);
    cleanup_free char *head = xstrndup(src, (size_t)(piv - src));
    cleanup_free char *h = clean_rel(head);
    cleanup_free char *t = clean_rel(piv + 3);
    *strip = h[0] ? strlen(h) + 1 : 0;
    return join_rel(h, t);
}

static int add_ctx_source(const struct copy_req *req, struct copy_plan *p, const char *src,
                          const char *dest, int dest_is_dir, struct kiln_error **err)
{
    size_t strip;
    cleanup_free char *rel = split_pivot(req, src, &strip);
    const struct context_index *ci = req->ctx;
    if (has_wildcard(rel)) {
        int found = 0;
        for (size_t i = 0; i < ci->n; i++) {
            if (!pathglob_match(rel, ci->v[i].rel))
                continue;
            found = 1;
            if (add_ctx_entry(req, p, &ci->v[i], src, dest, 1, strip, err) < 0)
                return -1;
        }
        if (!found)
            return kiln_error_set(err, KILN_E_NOTFOUND,
                                  "no file in the build context matches \"%s\"", src);
        return 0;
    }
    if (rel[0] == '\0')
        return add_ctx_match(req, p, "", NULL, NULL, dest, 1, 0, err);
    const struct context_entry *e = context_find(ci, rel);
    if (e == NULL)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "\"%s\" not found in the build context (or excluded by "
                              ".dockerignore)",
                              src);
    return add_ctx_entry(req, p, e, src, dest, dest_is_dir, strip, err);
}

/* --- sources from another root (--from) ------------------------------------ */

static int add_view_tree(const struct copy_req *req, struct copy_plan *p, const char *src,
                         const char *dst, int depth, struct kiln_error **err)
{
    if (depth > 256)
        return kiln_error_set(err, KILN_E_INVALID, "/%s: directory tree too deep", src);
    char **names = NULL;
    size_t n = 0;
    if (rootview_list(req->from, src, &names, &n, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        cleanup_free char *child = join_rel(src, names[i]);
        cleanup_free char *cdst = join_rel(dst, names[i]);
        if (excluded(req, child))
            continue;
        struct rootview_entry e;
        int found = rootview_lookup(req->from, child, 0, &e, err);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (found) {
            rc = add_entry(req, p, cdst, rootview_layer_fd(req->from, e.layer), e.path, &e.st, 1, 0,
                           err);
            if (rc == 0 && S_ISDIR(e.st.st_mode))
                rc = add_view_tree(req, p, e.path, cdst, depth + 1, err);
        }
        rootview_entry_release(&e);
    }
    rootview_names_free(names, n);
    return rc;
}

static int add_view_match(const struct copy_req *req, struct copy_plan *p, const char *path,
                          const char *dest, int dest_is_dir, size_t strip, struct kiln_error **err)
{
    struct rootview_entry e;
    int found = rootview_lookup(req->from, path, 1, &e, err);
    if (found < 0)
        return -1;
    if (!found) {
        rootview_entry_release(&e);
        return kiln_error_set(err, KILN_E_NOTFOUND, "\"/%s\" not found in the --from source", path);
    }
    int rc;
    int fd = rootview_layer_fd(req->from, e.layer);
    if (S_ISDIR(e.st.st_mode)) {
        cleanup_free char *base = req->parents ? parents_dst(dest, path, strip) : xstrdup(dest);
        rc = add_entry(req, p, base, fd, e.path[0] ? e.path : ".", &e.st, 1, 0, err);
        if (rc == 0)
            rc = set_base_dir(req, &p->v[p->n - 1], err);
        if (rc == 0)
            rc = add_view_tree(req, p, e.path, base, 0, err);
    } else {
        cleanup_free char *dst = req->parents  ? parents_dst(dest, path, strip)
                                 : dest_is_dir ? join_rel(dest, base_name(path))
                                               : xstrdup(dest);
        rc = add_entry(req, p, dst, fd, e.path, &e.st, 1, 0, err);
    }
    rootview_entry_release(&e);
    return rc;
}

static int add_view_source(const struct copy_req *req, struct copy_plan *p, const char *src,
                           const char *dest, int dest_is_dir, struct kiln_error **err)
{
    size_t strip;
    cleanup_free char *rel = split_pivot(req, src, &strip);
    if (!has_wildcard(rel))
        return add_view_match(req, p, rel, dest, dest_is_dir, strip, err);
    /* Wildcards in the last component only. */
    const char *slash = strrchr(rel, '/');
    cleanup_free char *dir = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
    const char *pat = slash ? slash + 1 : rel;
    if (has_wildcard(dir))
        return kiln_error_set(err, KILN_E_INVALID,
                              "\"%s\": wildcards are supported in the last path component only "
                              "with --from",
                              src);
    struct rootview_entry de;
    int found = rootview_lookup(req->from, dir, 1, &de, err);
    if (found < 0)
        return -1;
    char **names = NULL;
    size_t n = 0;
    int rc = 0, matched = 0;
    if (found && S_ISDIR(de.st.st_mode))
        rc = rootview_list(req->from, de.path, &names, &n, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (fnmatch(pat, names[i], FNM_PERIOD) != 0)
            continue;
        matched = 1;
        cleanup_free char *path = join_rel(de.path, names[i]);
        rc = add_view_match(req, p, path, dest, 1, strip, err);
    }
    rootview_names_free(names, n);
    rootview_entry_release(&de);
    if (rc == 0 && !matched)
        return kiln_error_set(err, KILN_E_NOTFOUND, "no file in the --from source matches \"%s\"",
                              src);
    return rc;
}

/* --- the plan --------------------------------------------------------------- */

static int cmp_items(const void *a, const void *b)
{
    const struct copy_item *x = a, *y = b;
    int c = strcmp(x->dst, y->dst);
    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Binary search in the first n items (the sorted part of the plan). */
static int find_item(const struct copy_plan *p, size_t n, const char *dst)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->v[mid].dst, dst);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Items mostly arrive in order already (the context index is sorted). */
static void sort_items(struct copy_plan *p)
{
    for (size_t i = 1; i < p->n; i++)
        if (cmp_items(&p->v[i - 1], &p->v[i]) > 0) {
            qsort(p->v, p->n, sizeof(*p->v), cmp_items);
            return;
        }
}

/* Sorts, drops all but the last item for each path, adds missing parents. */
static int cmp_inodes(const void *a, const void *b, void *ctx)
{
    const struct copy_item *v = ctx;
    const struct stat *x = &v[*(const size_t *)a].src_st, *y = &v[*(const size_t *)b].src_st;
    if (x->st_dev != y->st_dev)
        return x->st_dev < y->st_dev ? -1 : 1;
    if (x->st_ino != y->st_ino)
        return x->st_ino < y->st_ino ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Source files that are hard links of each other stay so (BuildKit keeps the
 * links within one COPY): each becomes a link of the first in name order. */
static void pair_hardlinks(struct copy_plan *p)
{
    size_t k = 0;
    size_t *idx = NULL;
    for (size_t i = 0; i < p->n; i++) {
        struct copy_item *it = &p->v[i];
        it->link_to = 0;
        if (it->kind == IK_FILE && it->src_fd >= 0 && it->src_st.st_nlink > 1) {
            idx = xrealloc(idx, (k + 1) * sizeof(*idx));
            idx[k++] = i;
        }
    }
    if (k > 1)
        qsort_r(idx, k, sizeof(*idx), cmp_inodes, p->v);
    for (size_t j = 1; j < k; j++) {
        struct copy_item *a = &p->v[idx[j - 1]], *b = &p->v[idx[j]];
        if (a->src_st.st_dev != b->src_st.st_dev || a->src_st.st_ino != b->src_st.st_ino ||
            a->mode != b->mode || a->uid != b->uid || a->gid != b->gid)
            continue;
        b->link_to = a->link_to ? a->link_to : idx[j - 1] + 1;
    }
    free(idx);
}

static int finish_plan(const struct copy_req *req, struct copy_plan *p, struct kiln_error **err)
{
    sort_items(p);
    size_t w = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (i + 1 < p->n && strcmp(p->v[i].dst, p->v[i + 1].dst) == 0) {
            free(p->v[i].dst);
            free(p->v[i].link);
            free(p->v[i].src_rel);
            continue;
        }
        p->v[w++] = p->v[i];
    }
    p->n = w;
    size_t n0 = p->n;
    for (size_t i = 0; i < n0; i++) {
        cleanup_free char *dir = xstrdup(p->v[i].dst);
        for (char *s = strrchr(dir, '/'); s != NULL; s = strrchr(dir, '/')) {
            *s = '\0';
            if (find_item(p, n0, dir))
                break; /* its parents are handled too */
            int dup = 0;
            for (size_t k = n0; k < p->n && !dup; k++)
                dup = strcmp(p->v[k].dst, dir) == 0;
            if (dup)
                break;
            struct rootview_entry e = {0};
            int found = 0;
            if (req->dest_view != NULL) {
                found = rootview_lookup(req->dest_view, dir, 0, &e, err);
                if (found < 0)
                    return -1;
            }
            struct copy_item *it = add_item(p, dir);
            it->kind = IK_DIR;
            it->parent = 1;
            if (found && S_ISDIR(e.st.st_mode)) {
                it->mode = e.st.st_mode;
                it->uid = e.st.st_uid;
                it->gid = e.st.st_gid;
            } else {
                it->mode = S_IFDIR | 0755;
                it->uid = req->has_chown ? req->uid : 0;
                it->gid = req->has_chown ? req->gid : 0;
            }
            rootview_entry_release(&e);
        }
    }
    sort_items(p);
    pair_hardlinks(p);
    return 0;
}

int copy_plan_build(const struct copy_req *req, struct copy_plan **out, struct kiln_error **err)
{
    struct copy_plan *p = xcalloc(1, sizeof(*p));
    /* Resolve the destination in the current root (symlinks such as /bin ->
     * usr/bin are followed, as a copy into the running container would). */
    int dest_hint = req->dest[strlen(req->dest) - 1] == '/';
    int dest_exists_dir = 0;
    char *dest = NULL;
    if (req->dest_view != NULL) {
        struct rootview_entry e;
        int found = rootview_lookup(req->dest_view, req->dest, 1, &e, err);
        if (found < 0) {
            copy_plan_free(p);
            return -1;
        }
        dest_exists_dir = found && S_ISDIR(e.st.st_mode);
        dest = e.path;
    } else {
        dest = clean_rel(req->dest);
    }
    int wild = 0;
    for (size_t i = 0; i < req->n_srcs; i++)
        wild |= req->srcs[i].data == NULL && req->srcs[i].file == NULL &&
                req->srcs[i].tree == NULL && has_wildcard(req->srcs[i].path);
    int dest_is_dir = dest_hint || dest_exists_dir || req->n_srcs > 1 || wild;
    if ((req->n_srcs > 1 || wild) && !dest_hint && !dest_exists_dir) {
        free(dest);
        copy_plan_free(p);
        return kiln_error_set(err, KILN_E_INVALID,
                              "when copying several sources or a wildcard, the destination "
                              "\"%s\" must be a directory ending in '/'",
                              req->dest);
    }
    int rc = 0;
    for (size_t i = 0; i < req->n_srcs && rc == 0; i++) {
        const struct copy_source *s = &req->srcs[i];
        if (s->data != NULL) {
            cleanup_free char *dst =
                dest_is_dir ? join_rel(dest, base_name(s->path)) : xstrdup(dest);
            struct copy_item *it = add_item(p, dst);
            it->kind = IK_DATA;
            it->data = s->data;
            it->data_len = s->data_len;
            it->size = s->data_len;
            it->mode = S_IFREG | (req->chmod ? chmod_apply(req->chmod, S_IFREG | 0644) : 0644);
            it->uid = req->has_chown ? req->uid : 0;
            it->gid = req->has_chown ? req->gid : 0;
        } else if (s->file != NULL) {
            struct stat fst;
            if (stat(s->file, &fst) < 0) {
                rc = kiln_error_errno(err, errno, "stat %s", s->file);
                break;
            }
            cleanup_free char *dst =
                dest_is_dir ? join_rel(dest, base_name(s->path)) : xstrdup(dest);
            struct copy_item *it = add_item(p, dst);
            it->kind = IK_FILE;
            it->src_fd = AT_FDCWD;
            it->src_rel = xstrdup(s->file);
            it->src_st = fst;
            it->size = (uint64_t)fst.st_size;
            it->mode = S_IFREG | (req->chmod ? chmod_apply(req->chmod, S_IFREG | 0600) : 0600);
            it->uid = req->has_chown ? req->uid : 0;
            it->gid = req->has_chown ? req->gid : 0;
        } else if (s->tree != NULL) {
            struct copy_req sub = *req;
            sub.ctx = s->tree;
            sub.from = NULL;
            sub.parents = 0;
            sub.is_add = 0;
            rc = add_ctx_source(&sub, p, ".", dest, 1, err);
        } else if (req->from != NULL) {
            rc = add_view_source(req, p, s->path, dest, dest_is_dir, err);
        } else {
            rc = add_ctx_source(req, p, s->path, dest, dest_is_dir, err);
        }
    }
    free(dest);
    if (rc == 0)
        rc = finish_plan(req, p, err);
    if (rc < 0) {
        copy_plan_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

static void add_num(struct strbuf *sb, unsigned long long v, unsigned base)
{
    char buf[24];
    size_t i = sizeof(buf);
    do {
        buf[--i] = (char)('0' + v % base);
        v /= base;
    } while (v != 0);
    strbuf_add(sb, buf + i, sizeof(buf) - i);
}

/* One item's line: "DST\0KIND MODE UID GID SIZE MAJ:MIN[ -> LINK][ DIGEST]\n\0"
 * (formatted by hand: this runs once per file of a 20,000-file COPY). */
int copy_plan_digest(struct copy_plan *p, struct statcache *sc, struct digest *out,
                     struct kiln_error **err)
{
    struct digester *d = digester_new();
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < p->n; i++) {
        struct copy_item *it = &p->v[i];
        strbuf_reset(&sb);
        strbuf_add(&sb, it->dst, strlen(it->dst) + 1);
        add_num(&sb, (unsigned)it->kind, 10);
        strbuf_addc(&sb, ' ');
        add_num(&sb, (unsigned)it->mode, 8);
        strbuf_addc(&sb, ' ');
        add_num(&sb, (unsigned)it->uid, 10);
        strbuf_addc(&sb, ' ');
        add_num(&sb, (unsigned)it->gid, 10);
        strbuf_addc(&sb, ' ');
        add_num(&sb, (unsigned long long)it->size, 10);
        strbuf_addc(&sb, ' ');
        add_num(&sb, major(it->rdev), 10);
        strbuf_addc(&sb, ':');
        add_num(&sb, minor(it->rdev), 10);
        if (it->link != NULL) {
            strbuf_add(&sb, " -> ", 4);
            strbuf_adds(&sb, it->link);
        }
        if (it->link_to != 0) {
            strbuf_add(&sb, " => ", 4);
            strbuf_adds(&sb, p->v[it->link_to - 1].dst);
        }
        struct digest cd;
        if (it->kind == IK_FILE || it->kind == IK_ARCHIVE) {
            if (statcache_file_digest(sc, it->src_fd, it->src_rel, &it->src_st, &cd, err) < 0) {
                strbuf_release(&sb);
                digester_free(d);
                return -1;
            }
            strbuf_addc(&sb, ' ');
            strbuf_add(&sb, cd.hex, DIGEST_HEX_LEN);
        } else if (it->kind == IK_DATA) {
            digest_bytes(it->data, it->data_len, &cd);
            strbuf_addc(&sb, ' ');
            strbuf_add(&sb, cd.hex, DIGEST_HEX_LEN);
        }
        strbuf_addc(&sb, '\n');
        digester_update(d, sb.buf, sb.len + 1);
    }
    strbuf_release(&sb);
    digester_finish(d, out);
    return 0;
}

/* Opens the parent directory of rel below root without following any
 * symlink; *base points at the last component inside rel. */
static int open_parent(int root, const char *rel, const char **base, struct kiln_error **err)
{
    const char *slash = strrchr(rel, '/');
    *base = slash ? slash + 1 : rel;
    int fd = dup(root);
    if (fd < 0)
        return kiln_error_errno(err, errno, "dup");
    if (slash == NULL)
        return fd;
    cleanup_free char *dir = xstrndup(rel, (size_t)(slash - rel));
    char *save = NULL;
    for (char *c = strtok_r(dir, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
        int nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (nfd < 0)
            return kiln_error_errno(err, e, "open /%s (a parent of /%s)", c, rel);
        fd = nfd;
    }
    return fd;
}

/* The parent directory fd of the item written last: items are sorted, so
 * siblings come together and the walk from the root is done once for them. */
struct parent_cache {
    char *dir; /* relative path of the cached parent ("" for the root) */
    int fd;
};

static void parent_cache_release(struct parent_cache *pc)
{
    free(pc->dir);
    pc->dir = NULL;
    if (pc->fd >= 0)
        close(pc->fd);
    pc->fd = -1;
}

/* Like open_parent, through the cache; the fd stays owned by the cache. */
static int cached_parent(struct parent_cache *pc, int root, const char *rel, const char **base,
                         struct kiln_error **err)
{
    const char *slash = strrchr(rel, '/');
    size_t dlen = slash ? (size_t)(slash - rel) : 0;
    *base = slash ? slash + 1 : rel;
    if (pc->dir != NULL && strlen(pc->dir) == dlen && strncmp(pc->dir, rel, dlen) == 0)
        return pc->fd;
    parent_cache_release(pc);
    const char *b2;
    int fd = open_parent(root, rel, &b2, err);
    if (fd < 0)
        return -1;
    pc->dir = xstrndup(rel, dlen);
    pc->fd = fd;
    return fd;
}

/* Small files (most of a big context) go through one read and one write:
 * cheaper than copy_file_range's setup per file. */
#define SMALL_FILE (64u << 10)

/* read/write until the end; a short read ends it early when the caller knows
 * the file is smaller than one buffer (a regular file's short read is its end) */
static int copy_by_read(int in, int out, int short_is_end, const char *what,
                        struct kiln_error **err)
{
    char buf[SMALL_FILE];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_errno(err, errno, "read %s", what);
        if (n == 0)
            return 0;
        if (write_all(out, buf, (size_t)n) < 0)
            return kiln_error_errno(err, errno, "write %s", what);
        if (short_is_end && (size_t)n < sizeof(buf))
            return 0;
    }
}

static int copy_bytes(int in, int out, uint64_t size, const char *what, struct kiln_error **err)
{
    if (size < SMALL_FILE)
        return copy_by_read(in, out, 1, what, err);
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return kiln_error_errno(err, errno, "copy %s", what);
        break;
    }
    return copy_by_read(in, out, 0, what, err);
}

static void item_times(const struct copy_item *it, int64_t epoch, struct timespec ts[2])
{
    int64_t t = it->mtime >= 0 ? it->mtime : epoch;
    if (epoch >= 0 && t > epoch)
        t = epoch;
    ts[0].tv_sec = ts[1].tv_sec = t;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
}

static int write_item(const struct copy_plan *p, struct copy_item *it, int root,
                      struct parent_cache *pc, int64_t epoch, struct kiln_error **err)
{
    const char *base;
    int pfd = cached_parent(pc, root, it->dst, &base, err);
    if (pfd < 0)
        return -1;
    if (it->link_to != 0) {
        if (linkat(root, p->v[it->link_to - 1].dst, pfd, base, 0) < 0)
            return kiln_error_errno(err, errno, "link /%s", it->dst);
        return 0;
    }
    struct timespec ts[2];
    item_times(it, epoch, ts);
    mode_t perm = it->mode & 07777;
    switch (it->kind) {
    case IK_DIR:
        if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
            return kiln_error_errno(err, errno, "mkdir /%s", it->dst);
        if (fchownat(pfd, base, it->uid, it->gid, AT_SYMLINK_NOFOLLOW) < 0)
            return kiln_error_errno(err, errno, "chown /%s", it->dst);
        return 0; /* mode and time are set after the children */
    case IK_FILE:
    case IK_DATA: {
        cleanup_close int out =
            openat(pfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
            return kiln_error_errno(err, errno, "create /%s", it->dst);
        if (it->kind == IK_DATA) {
            if (write_all(out, it->data, it->data_len) < 0)
                return kiln_error_errno(err, errno, "write /%s", it->dst);
        } else {
            cleanup_close int in =
                openat(it->src_fd, it->src_rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (in < 0)
                return kiln_error_errno(err, errno, "open %s", it->src_rel);
            if (copy_bytes(in, out, it->size, it->src_rel, err) < 0)
                return -1;
        }
        if (fchown(out, it->uid, it->gid) < 0 || fchmod(out, perm) < 0)
            return kiln_error_errno(err, errno, "set owner and mode of /%s", it->dst);
        if (futimens(out, ts) < 0)
            return kiln_error_errno(err, errno, "set times of /%s", it->dst);
        return 0;
    }
    case IK_LINK:
        if (symlinkat(it->link, pfd, base) < 0)
            return kiln_error_errno(err, errno, "symlink /%s", it->dst);
        if (fchownat(pfd, base, it->uid, it->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return kiln_error_errno(err, errno, "set owner of /%s", it->dst);
        return 0;
    case IK_SPECIAL:
        if (mknodat(pfd, base, it->mode, it->rdev) < 0)
            return kiln_error_errno(err, errno, "mknod /%s", it->dst);
        if (fchownat(pfd, base, it->uid, it->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(pfd, base, perm, 0) < 0 || utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return kiln_error_errno(err, errno, "set attributes of /%s", it->dst);
        return 0;
    case IK_ARCHIVE: {
        if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
            return kiln_error_errno(err, errno, "mkdir /%s", it->dst);
        cleanup_close int dfd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_close int in = openat(it->src_fd, it->src_rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0 || in < 0)
            return kiln_error_errno(err, errno, "open %s for extraction", it->src_rel);
        struct layer_extract_opts o = {.whiteouts = LAYER_WHITEOUT_FLATTEN};
        if (layer_extract(in, dfd, &o, NULL, err) < 0)
            return kiln_error_prefix(err, "ADD %s", it->src_rel);
        return 0;
    }
    }
    return 0;
}

int copy_plan_write(struct copy_plan *p, int dirfd, int64_t epoch, struct kiln_error **err)
{
    struct parent_cache pc = {NULL, -1};
    for (size_t i = 0; i < p->n; i++) {
        if (write_item(p, &p->v[i], dirfd, &pc, epoch, err) < 0) {
            parent_cache_release(&pc);
            return -1;
        }
    }
    /* Directory modes and times last, deepest first. */
    for (size_t i = p->n; i-- > 0;) {
        struct copy_item *it = &p->v[i];
        if (it->kind != IK_DIR && it->kind != IK_ARCHIVE)
            continue;
        const char *base;
        int pfd = cached_parent(&pc, dirfd, it->dst, &base, err);
        if (pfd < 0)
            return -1;
        struct timespec ts[2];
        item_times(it, epoch, ts);
        if ((it->kind == IK_DIR && fchmodat(pfd, base, it->mode & 07777, 0) < 0) ||
            utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
            int e = errno;
            parent_cache_release(&pc);
            return kiln_error_errno(err, e, "set mode and times of /%s", it->dst);
        }
    }
    parent_cache_release(&pc);
    return 0;
}

/* --- straight into a layer tar ------------------------------------------------ */

int copy_plan_streamable(const struct copy_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct copy_item *it = &p->v[i];
        if (it->kind == IK_ARCHIVE)
            return 0; /* its entries are known only once extracted */
        if (it->link_to != 0)
            return 0; /* hard links: written out, then paired by the layer writer */
        /* every parent is a directory of the plan (copy_plan_write would
         * refuse to write below a symlink or a file) */
        const char *slash = strrchr(it->dst, '/');
        if (slash == NULL)
            continue;
        cleanup_free char *dir = xstrndup(it->dst, (size_t)(slash - it->dst));
        size_t lo = 0, hi = p->n;
        int isdir = 0;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(p->v[mid].dst, dir);
            if (c == 0) {
                isdir = p->v[mid].kind == IK_DIR;
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!isdir)
            return 0;
    }
    return 1;
}

struct tar_order {
    char *name; /* dst, with a '/' after a directory's */
    size_t i;
};

static int cmp_tar_order(const void *a, const void *b)
{
    const struct tar_order *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : x->i < y->i ? -1 : x->i > y->i;
}

static int stream_item(const struct copy_item *it, int64_t epoch, struct layer_stream *ls,
                       struct kiln_error **err)
{
    struct timespec ts[2];
    item_times(it, epoch, ts);
    struct layer_stream_entry e = {
        .path = it->dst,
        .mode = it->mode,
        .uid = it->uid,
        .gid = it->gid,
        .mtime = ts[1].tv_sec,
        .rdev = it->rdev,
        .link = it->link,
    };
    switch (it->kind) {
    case IK_DIR:
        e.mode = S_IFDIR | (it->mode & 07777);
        return layer_stream_add(ls, &e, -1, NULL, err);
    case IK_LINK:
        e.mode = S_IFLNK | 0777; /* what lstat says of any symlink */
        return layer_stream_add(ls, &e, -1, NULL, err);
    case IK_SPECIAL:
        return layer_stream_add(ls, &e, -1, NULL, err);
    case IK_DATA:
        e.mode = S_IFREG | (it->mode & 07777);
        e.size = it->data_len;
        return layer_stream_add(ls, &e, -1, it->data, err);
    case IK_FILE: {
        /* The size the plan (and its digest) saw: a file that shrank since
         * is an error, one that grew gives that many bytes. */
        cleanup_close int in = openat(it->src_fd, it->src_rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
            return kiln_error_errno(err, errno, "open %s", it->src_rel);
        e.mode = S_IFREG | (it->mode & 07777);
        e.size = it->size;
        return layer_stream_add(ls, &e, in, NULL, err);
    }
    case IK_ARCHIVE:
        break;
    }
    return kiln_error_set(err, KILN_E_FAIL, "/%s: cannot be streamed", it->dst);
}

int copy_plan_stream(struct copy_plan *p, int64_t epoch, struct layer_stream *ls,
                     struct kiln_error **err)
{
    struct tar_order *o = xcalloc(p->n + 1, sizeof(*o));
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].dst[0] == '\0')
            continue; /* the root has no entry in a layer */
        o[n].name = p->v[i].kind == IK_DIR ? xasprintf("%s/", p->v[i].dst) : xstrdup(p->v[i].dst);
        o[n++].i = i;
    }
    if (n > 1)
        qsort(o, n, sizeof(*o), cmp_tar_order);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        /* one entry per name: a directory named both as a source and as a
         * parent is the source's */
        size_t last = k, pick = k;
        while (last + 1 < n && strcmp(o[last + 1].name, o[k].name) == 0)
            last++;
        for (size_t j = k; j <= last; j++)
            if (!p->v[o[j].i].parent)
                pick = j;
        rc = stream_item(&p->v[o[pick].i], epoch, ls, err);
        k = last;
    }
    for (size_t k = 0; k < n; k++)
        free(o[k].name);
    free(o);
    return rc;
}

/* --- --chown ----------------------------------------------------------------- */

static int lookup_id(struct rootview *view, const char *file, const char *name, long *id,
                     long *gid_out)
{
    if (view == NULL)
        return 0;
    char *data = NULL;
    size_t len = 0;
    struct kiln_error *e = NULL;
    if (rootview_read(view, file, 4 << 20, &data, &len, &e) < 0) {
        kiln_error_free(e);
        return 0;
    }
    int found = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line && !found;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[5] = {0};
        int nf = 0;
        char *q = line;
        while (nf < 5) {
            f[nf++] = q;
            char *c = strchr(q, ':');
            if (c == NULL)
                break;
            *c = '\0';
            q = c + 1;
        }
        if (nf >= 3 && strcmp(f[0], name) == 0) {
            *id = strtol(f[2], NULL, 10);
            if (gid_out != NULL && nf >= 4)
                *gid_out = strtol(f[3], NULL, 10);
            found = 1;
        }
    }
    free(data);
    return found;
}

static int parse_num(const char *s, long *out)
{
    if (*s == '\0')
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0)
        return 0;
    *out = v;
    return 1;
}

int copy_resolve_owner(struct rootview *view, const char *spec, uid_t *uid, gid_t *gid,
                       struct kiln_error **err)
{
    cleanup_free char *user = xstrdup(spec);
    char *group = strchr(user, ':');
    if (group != NULL)
        *group++ = '\0';
    long u = -1, g = -1, pg = -1;
    if (!parse_num(user, &u) && !lookup_id(view, "/etc/passwd", user, &u, &pg))
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "--chown=%s: no user \"%s\" in the image's /etc/passwd", spec, user);
    if (group == NULL || group[0] == '\0') {
        /* A name gets its primary group; a number, the same number (Docker). */
        g = pg >= 0 ? pg : u;
    } else if (!parse_num(group, &g) && !lookup_id(view, "/etc/group", group, &g, NULL)) {
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "--chown=%s: no group \"%s\" in the image's /etc/group", spec, group);
    }
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

int copy_plan_mkdir(struct rootview *view, const char *path, uid_t uid, gid_t gid,
                    struct copy_plan **out, struct kiln_error **err)
{
    struct copy_req req = {.dest = path, .dest_view = view, .has_chown = 1, .uid = uid, .gid = gid};
    struct copy_plan *p = xcalloc(1, sizeof(*p));
    cleanup_free char *rel = clean_rel(path);
    struct copy_item *it = add_item(p, rel);
    it->kind = IK_DIR;
    it->mode = S_IFDIR | 0755;
    it->uid = uid;
    it->gid = gid;
    if (finish_plan(&req, p, err) < 0) {
        copy_plan_free(p);
        return -1;
    }
    *out = p;
    return 0;
}
