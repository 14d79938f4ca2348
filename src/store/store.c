/* Opening and closing the store: the on-disk layout, the lock, and this
 * process's ingest session (a flocked directory under ingest/ that marks the
 * process alive; sessions whose lock can be taken belong to dead processes
 * and are removed). */
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

const char *store_root(const struct store *s)
{
    return s->root;
}

int store_root_fd(const struct store *s)
{
    return s->root_fd;
}

const char *store_scratch_dir(const struct store *s)
{
    return s->scratch;
}

char *store_cache_dir(const struct store *s)
{
    return path_join(s->root, "cache");
}

int store_lock(struct store *s, struct kiln_error **err)
{
    pthread_mutex_lock(&s->lock_mutex);
    if (s->lock_depth == 0) {
        while (flock(s->lock_fd, LOCK_EX) < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            pthread_mutex_unlock(&s->lock_mutex);
            return kiln_error_errno(err, e, "lock %s/lock", s->root);
        }
    }
    s->lock_depth++;
    return 0;
}

void store_unlock(struct store *s)
{
    if (--s->lock_depth == 0)
        flock(s->lock_fd, LOCK_UN);
    pthread_mutex_unlock(&s->lock_mutex);
}

static int open_dir_at(int dirfd, const char *name, const char *root, int *out,
                       struct kiln_error **err)
{
    if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
        return kiln_error_errno(err, errno, "create %s/%s", root, name);
    *out = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*out < 0)
        return kiln_error_errno(err, errno, "open %s/%s", root, name);
    return 0;
}

/* oci-layout and index.json, created once under the lock. */
static int create_layout_files(struct store *s, struct kiln_error **err)
{
    if (faccessat(s->root_fd, "oci-layout", F_OK, 0) == 0 &&
        faccessat(s->root_fd, "index.json", F_OK, 0) == 0)
        return 0;
    if (store_lock(s, err) < 0)
        return -1;
    int rc = 0;
    if (faccessat(s->root_fd, "oci-layout", F_OK, 0) != 0)
        rc = store_write_root_file(s, "oci-layout", OCI_LAYOUT_JSON, strlen(OCI_LAYOUT_JSON), err);
    if (rc == 0 && faccessat(s->root_fd, "index.json", F_OK, 0) != 0) {
        cleanup_json json_t *index = store_index_read(s, err);
        rc = index ? store_index_write(s, index, err) : -1;
    }
    store_unlock(s);
    return rc;
}

/* Removes ingest entries whose owner is gone: sessions whose flock we can take. */
static void remove_stale_sessions(struct store *s, int ingest_fd)
{
    int fd = openat(ingest_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    cleanup_dir DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            (s->scratch_name != NULL && strcmp(de->d_name, s->scratch_name) == 0))
            continue;
        cleanup_close int sfd = openat(ingest_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
            continue;
        if (flock(sfd, LOCK_EX | LOCK_NB) < 0)
            continue; /* a live writer */
        struct kiln_error *e = NULL;
        rm_rf_at(ingest_fd, de->d_name, &e); /* best effort: the next open retries */
        kiln_error_free(e);
    }
}

/* The session is named after s->started, the store's opening: prune keeps what
 * this process touched since then, even when the session came later. */
static int start_session(struct store *s, int ingest_fd, struct kiln_error **err)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        free(s->scratch);
        s->scratch = xasprintf("%s/ingest/" SESSION_PREFIX "%lld.%09ld-%ld-XXXXXX", s->root,
                               (long long)s->started.tv_sec, s->started.tv_nsec, (long)getpid());
        if (mkdtemp(s->scratch) == NULL)
            return kiln_error_errno(err, errno, "create ingest directory in %s/ingest", s->root);
        s->scratch_name = strrchr(s->scratch, '/') + 1;
        int fd =
            openat(ingest_fd, s->scratch_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue; /* removed by another process's stale cleanup: try again */
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0) {
            s->scratch_fd = fd;
            return 0;
        }
        close(fd);
    }
    return kiln_error_set(err, KILN_E_FAIL, "cannot create an ingest session in %s/ingest",
                          s->root);
}

int store_session(struct store *s, struct kiln_error **err)
{
    if (s->scratch_fd >= 0)
        return 0;
    cleanup_close int ingest = openat(s->root_fd, "ingest", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ingest < 0)
        return kiln_error_errno(err, errno, "open %s/ingest", s->root);
    return start_session(s, ingest, err);
}

static int open_store(const char *root, int lazy, struct store **out, struct kiln_error **err)
{
    *out = NULL;
    if (mkdir_p(root, 0755, err) < 0)
        return kiln_error_prefix(err, "store %s", root);
    /* An absolute, symlink-free root: paths handed out (snapshot lowerdirs)
     * then mean the same from any cwd, and mountinfo shows them as given. */
    char *real = realpath(root, NULL);
    if (real == NULL)
        return kiln_error_errno(err, errno, "store %s", root);
    struct store *s = xcalloc(1, sizeof(*s));
    s->root = real;
    s->root_fd = s->blobs_fd = s->snapshots_fd = s->lock_fd = s->scratch_fd = -1;
    clock_gettime(CLOCK_REALTIME_COARSE, &s->started);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock_mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    cleanup_close int blobs = -1, ingest = -1, cache = -1;
    s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        kiln_error_errno(err, errno, "open store %s", root);
        goto fail;
    }
    if (open_dir_at(s->root_fd, "blobs", root, &blobs, err) < 0 ||
        open_dir_at(blobs, "sha256", root, &s->blobs_fd, err) < 0 ||
        open_dir_at(s->root_fd, "snapshots", root, &s->snapshots_fd, err) < 0 ||
        open_dir_at(s->root_fd, "cache", root, &cache, err) < 0 ||
        open_dir_at(s->root_fd, "ingest", root, &ingest, err) < 0)
        goto fail;
    s->lock_fd = openat(s->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        kiln_error_errno(err, errno, "open %s/lock", root);
        goto fail;
    }
    if ((!lazy && start_session(s, ingest, err) < 0) || create_layout_files(s, err) < 0)
        goto fail;
    remove_stale_sessions(s, ingest);
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

int store_open(const char *root, struct store **out, struct kiln_error **err)
{
    return open_store(root, 0, out, err);
}

int store_open_reader(const char *root, struct store **out, struct kiln_error **err)
{
    return open_store(root, 1, out, err);
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    if (s->scratch_fd >= 0) {
        struct kiln_error *e = NULL;
        rm_rf(s->scratch, &e);
        kiln_error_free(e);
        close(s->scratch_fd);
    }
    int fds[] = {s->root_fd, s->blobs_fd, s->snapshots_fd, s->lock_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&s->lock_mutex);
    free(s->scratch);
    free(s->root);
    free(s);
}

void cleanup_storep(struct store **s)
{
    store_close(*s);
    *s = NULL;
}

static int parse_session_start(const char *name, struct timespec *ts)
{
    long long sec;
    long nsec;
    if (sscanf(name, SESSION_PREFIX "%lld.%ld-", &sec, &nsec) != 2)
        return -1;
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = nsec;
    return 0;
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int store_live_cutoff(struct store *s, struct timespec *cutoff, struct kiln_error **err)
{
    *cutoff = s->started;
    cleanup_free char *ingest = path_join(s->root, "ingest");
    cleanup_dir DIR *d = opendir(ingest);
    if (d == NULL)
        return kiln_error_errno(err, errno, "open %s", ingest);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct timespec ts;
        if ((s->scratch_name != NULL && strcmp(de->d_name, s->scratch_name) == 0) ||
            parse_session_start(de->d_name, &ts) < 0)
            continue;
        cleanup_close int fd =
            openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            continue; /* dead: not a reason to keep anything */
        if (ts_before(&ts, cutoff))
            *cutoff = ts;
    }
    /* Session starts are read from CLOCK_REALTIME_COARSE, the clock the
     * kernel stamps file times with, so no slack is needed. */
    return 0;
}

void store_touch_at(int dirfd, const char *name)
{
    utimensat(dirfd, name, NULL, AT_SYMLINK_NOFOLLOW);
}
