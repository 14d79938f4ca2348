/* rm_rf_parallel: removes a large tree with several threads.
 *
 * Why: on a disk whose ext4 is mounted with `discard` (this project's build
 * machines), an unlink of a file whose blocks reached the disk waits for the
 * journal commit that issues the discard: one thread removing a RUN step's
 * 2,300-file upper dir took 7.9 s (0.2 s of CPU), eight threads 2.4 s, as
 * their unlinks share commits (docs/build-performance.md).
 *
 * How: one walk lists the tree (directories breadth first, every other entry
 * with its directory); the threads unlink the entries, then remove the
 * directories deepest first, level by level. Every directory is opened with
 * openat2 beneath the root without following symlinks, so nothing outside the
 * tree is touched. Whatever is left (an error, a directory that was not
 * writable) goes to rm_rf, which also removes the root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define RMTREE_THREADS 8

struct rt_dir {
    char *rel; /* "." for the root */
    int depth;
};

struct rt_ent {
    size_t dir; /* index into dirs */
    char *name;
};

struct rmtree {
    int rootfd;
    struct rt_dir *dirs;
    size_t n_dirs, cap_dirs;
    struct rt_ent *ents;
    size_t n_ents, cap_ents;
    /* the work of one phase: entries [0, n_ents) or directories of one level */
    size_t *order; /* directory indexes, deepest first */
    size_t lo, hi; /* the current level's range in order */
    atomic_size_t next;
    int phase; /* 0 entries, 1 directories */
};

static int open_beneath(int rootfd, const char *rel)
{
    struct open_how how = {
        .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

static void add_dir(struct rmtree *t, char *rel, int depth)
{
    if (t->n_dirs == t->cap_dirs) {
        t->cap_dirs = t->cap_dirs ? t->cap_dirs * 2 : 64;
        t->dirs = xrealloc(t->dirs, t->cap_dirs * sizeof(*t->dirs));
    }
    t->dirs[t->n_dirs++] = (struct rt_dir){rel, depth};
}

static void add_ent(struct rmtree *t, size_t dir, const char *name)
{
    if (t->n_ents == t->cap_ents) {
        t->cap_ents = t->cap_ents ? t->cap_ents * 2 : 256;
        t->ents = xrealloc(t->ents, t->cap_ents * sizeof(*t->ents));
    }
    t->ents[t->n_ents++] = (struct rt_ent){dir, xstrdup(name)};
}

/* Lists the tree; -1 when a directory cannot be read (rm_rf then does it all). */
static int walk(struct rmtree *t)
{
    add_dir(t, xstrdup("."), 0);
    for (size_t i = 0; i < t->n_dirs; i++) {
        int fd = open_beneath(t->rootfd, t->dirs[i].rel);
        if (fd < 0)
            return -1;
        cleanup_dir DIR *d = fdopendir(fd);
        if (d == NULL) {
            close(fd);
            return -1;
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            int is_dir = de->d_type == DT_DIR;
            if (de->d_type == DT_UNKNOWN) {
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                    return -1;
                is_dir = S_ISDIR(st.st_mode);
            }
            if (is_dir) {
                char *rel =
                    i == 0 ? xstrdup(de->d_name) : xasprintf("%s/%s", t->dirs[i].rel, de->d_name);
                add_dir(t, rel, t->dirs[i].depth + 1);
            } else {
                add_ent(t, i, de->d_name);
            }
        }
    }
    return 0;
}

static void *worker(void *arg)
{
    struct rmtree *t = arg;
    size_t open_dir = (size_t)-1;
    int fd = -1;
    for (;;) {
        size_t i = atomic_fetch_add(&t->next, 1);
        if (t->phase == 0) {
            if (i >= t->n_ents)
                break;
            const struct rt_ent *e = &t->ents[i];
            if (e->dir != open_dir) {
                if (fd >= 0)
                    close(fd);
                fd = open_beneath(t->rootfd, t->dirs[e->dir].rel);
                open_dir = e->dir;
            }
            if (fd >= 0)
                (void)unlinkat(fd, e->name, 0); /* a failure: rm_rf sees it */
        } else {
            if (t->lo + i >= t->hi)
                break;
            /* the directory's parent is a level up, which is still there */
            (void)unlinkat(t->rootfd, t->dirs[t->order[t->lo + i]].rel, AT_REMOVEDIR);
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void run_phase(struct rmtree *t, size_t n)
{
    pthread_t th[RMTREE_THREADS];
    size_t started = 0;
    atomic_store(&t->next, 0);
    size_t want = n < RMTREE_THREADS ? n : RMTREE_THREADS;
    for (; started < want; started++)
        if (pthread_create(&th[started], NULL, worker, t) != 0)
            break;
    if (started == 0)
        worker(t); /* no thread: this one does it */
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

static int by_depth_desc(const void *a, const void *b, void *arg)
{
    const struct rmtree *t = arg;
    int da = t->dirs[*(const size_t *)a].depth, db = t->dirs[*(const size_t *)b].depth;
    return (da < db) - (da > db);
}

static void release(struct rmtree *t)
{
    for (size_t i = 0; i < t->n_dirs; i++)
        free(t->dirs[i].rel);
    for (size_t i = 0; i < t->n_ents; i++)
        free(t->ents[i].name);
    free(t->dirs);
    free(t->ents);
    free(t->order);
}

int rm_rf_parallel(const char *path, struct kiln_error **err)
{
    struct rmtree t = {.rootfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (t.rootfd < 0)
        return rm_rf(path, err); /* missing, a file, a symlink, unreadable */
    if (walk(&t) == 0) {
        t.phase = 0;
        run_phase(&t, t.n_ents);
        /* directories, deepest level first (the root, level 0, is rm_rf's) */
        t.order = xcalloc(t.n_dirs, sizeof(*t.order));
        for (size_t i = 0; i < t.n_dirs; i++)
            t.order[i] = i;
        qsort_r(t.order, t.n_dirs, sizeof(*t.order), by_depth_desc, &t);
        t.phase = 1;
        for (size_t lo = 0; lo < t.n_dirs && t.dirs[t.order[lo]].depth > 0;) {
            size_t hi = lo;
            int depth = t.dirs[t.order[lo]].depth;
            while (hi < t.n_dirs && t.dirs[t.order[hi]].depth == depth)
                hi++;
            t.lo = lo;
            t.hi = hi;
            run_phase(&t, hi - lo);
            lo = hi;
        }
    }
    close(t.rootfd);
    release(&t);
    return rm_rf(path, err);
}
