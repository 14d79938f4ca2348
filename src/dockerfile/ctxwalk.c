/* The build context as the build sees it: which ignore file applies
 * ("<Dockerfile>.dockerignore" wins over "<context>/.dockerignore"), and a
 * walk over the included entries in bytewise order that does not descend
 * into excluded directories unless an exception could reach inside. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockerfile/dockerignore.h"
#include "dockerfile/dockerignore_int.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define MAX_IGNORE_FILE (4u << 20)

static int load_one(const char *path, struct dockerignore **out, struct kiln_error **err)
{
    cleanup_free char *data = NULL;
    size_t len;
    if (read_file(path, MAX_IGNORE_FILE, &data, &len, err) < 0)
        return -1;
    if (dockerignore_parse(data, len, out, err) < 0)
        return kiln_error_prefix(err, "%s", path);
    return 0;
}

int dockerignore_load(const char *context_dir, const char *dockerfile, struct dockerignore **out,
                      char **used, struct kiln_error **err)
{
    if (used != NULL)
        *used = NULL;
    if (dockerfile != NULL) {
        char *beside = xasprintf("%s.dockerignore", dockerfile);
        struct stat st;
        if (stat(beside, &st) == 0 && S_ISREG(st.st_mode)) {
            int r = load_one(beside, out, err);
            if (r == 0 && used != NULL)
                *used = beside;
            else
                free(beside);
            return r;
        }
        free(beside);
    }
    char *ctx = path_join(context_dir, ".dockerignore");
    struct stat st;
    if (stat(ctx, &st) == 0 && S_ISREG(st.st_mode)) {
        int r = load_one(ctx, out, err);
        if (r == 0 && used != NULL)
            *used = ctx;
        else
            free(ctx);
        return r;
    }
    free(ctx);
    return dockerignore_parse("", 0, out, err);
}

struct walk {
    const struct dockerignore *di;
    dockerignore_walk_fn fn;
    void *ud;
    struct kiln_error **err;
    /* excluded directories entered because an exception may reach inside;
     * reported (with DI_WALK_PARENT) only once something below is included */
    struct pending {
        char *rel;
        struct stat st;
        int reported;
    } * pending;
    size_t n_pending, cap_pending;
};

static int flush_pending(struct walk *w)
{
    for (size_t i = 0; i < w->n_pending; i++) {
        if (w->pending[i].reported)
            continue;
        w->pending[i].reported = 1;
        int r = w->fn(w->ud, w->pending[i].rel, &w->pending[i].st, DI_WALK_PARENT, w->err);
        if (r < 0)
            return -1;
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the directory open at fd (which this takes over). */
static int list_dir(int fd, const char *rel, char ***names, size_t *n, struct kiln_error **err)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        return kiln_error_errno(err, e, "read directory %s of the build context",
                                rel[0] ? rel : ".");
    }
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[cnt++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (cnt > 1)
        qsort(v, cnt, sizeof(*v), cmp_names);
    *names = v;
    *n = cnt;
    return 0;
}

static int walk_dir(struct walk *w, int dirfd, const char *prefix);

static int visit(struct walk *w, int dirfd, const char *name, const char *rel)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0; /* vanished while walking */
        return kiln_error_errno(w->err, errno, "stat %s in the build context", rel);
    }
    int excluded = dockerignore_excluded(w->di, rel);
    int is_dir = S_ISDIR(st.st_mode);
    if (!excluded) {
        if (flush_pending(w) < 0)
            return -1;
        int r = w->fn(w->ud, rel, &st, 0, w->err);
        if (r < 0)
            return -1;
        if (r == 1 || !is_dir)
            return 0;
    } else if (!is_dir || !di_exception_may_match_below(w->di, rel)) {
        return 0;
    } else {
        if (w->n_pending == w->cap_pending) {
            w->cap_pending = w->cap_pending ? w->cap_pending * 2 : 8;
            w->pending = xrealloc(w->pending, w->cap_pending * sizeof(*w->pending));
        }
        w->pending[w->n_pending++] = (struct pending){xstrdup(rel), st, 0};
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int r;
    if (fd < 0)
        r = kiln_error_errno(w->err, errno, "open directory %s in the build context", rel);
    else
        r = walk_dir(w, fd, rel);
    if (excluded) {
        w->n_pending--;
        free(w->pending[w->n_pending].rel);
    }
    return r;
}

static int walk_dir(struct walk *w, int fd, const char *prefix)
{
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0) {
        int e = errno;
        close(fd);
        return kiln_error_errno(w->err, e, "dup");
    }
    char **names = NULL;
    size_t n = 0;
    int r = list_dir(dupfd, prefix, &names, &n, w->err);
    struct strbuf rel = STRBUF_INIT;
    for (size_t i = 0; i < n && r == 0; i++) {
        strbuf_reset(&rel);
        if (prefix[0]) {
            strbuf_adds(&rel, prefix);
            strbuf_addc(&rel, '/');
        }
        strbuf_adds(&rel, names[i]);
        r = visit(w, fd, names[i], rel.buf);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    strbuf_release(&rel);
    close(fd);
    return r;
}

int dockerignore_walk(const char *context_dir, const struct dockerignore *di,
                      dockerignore_walk_fn fn, void *ud, struct kiln_error **err)
{
    int fd = open(context_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "open build context %s", context_dir);
    struct walk w = {di, fn, ud, err, NULL, 0, 0};
    int r = walk_dir(&w, fd, "");
    free(w.pending);
    return r;
}
