/* Blobs: streamed into this process's ingest session while hashing, then
 * fsynced, verified and renamed into blobs/sha256/<hex>. Nothing half-written
 * or unverified ever appears under blobs/. */
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

struct blob_writer {
    struct store *store;
    int fd;
    char *path; /* in the session directory */
    struct digester *dg;
    uint64_t size;
    uint64_t writeback_from; /* bytes before this are being written back */
    int done;                /* committed or failed: no more writes */
    int hashed;              /* writing ended; got holds the digest */
    int synced;              /* fsynced by blob_writer_digest() */
    struct digest got;
    int defer_dir_sync;
};

int blob_writer_new(struct store *s, struct blob_writer **out, struct kiln_error **err)
{
    if (store_session(s, err) < 0)
        return -1;
    struct blob_writer *w = xcalloc(1, sizeof(*w));
    w->store = s;
    w->path = xasprintf("%s/blob-XXXXXX", s->scratch);
    w->fd = mkostemp(w->path, O_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        free(w->path);
        free(w);
        return kiln_error_errno(err, e, "create a blob in %s", s->scratch);
    }
    w->dg = digester_new();
    *out = w;
    return 0;
}

int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct kiln_error **err)
{
    if (w->done || w->hashed)
        return kiln_error_set(err, KILN_E_FAIL, "blob writer: write after commit");
    if (write_all(w->fd, buf, len) < 0)
        return kiln_error_errno(err, errno, "write %s", w->path);
    digester_update(w->dg, buf, len);
    w->size += len;
    return 0;
}

void blob_writer_start_writeback(struct blob_writer *w)
{
    if (w->fd < 0 || w->size <= w->writeback_from)
        return;
    /* Only a hint: commit's fsync is what makes the blob durable. */
    (void)sync_file_range(w->fd, (off64_t)w->writeback_from, (off64_t)(w->size - w->writeback_from),
                          SYNC_FILE_RANGE_WRITE);
    w->writeback_from = w->size;
}

void blob_writer_defer_dir_sync(struct blob_writer *w)
{
    w->defer_dir_sync = 1;
}

int store_blobs_sync(struct store *s, struct kiln_error **err)
{
    if (fsync(s->blobs_fd) < 0)
        return kiln_error_errno(err, errno, "sync %s/blobs/sha256", s->root);
    return 0;
}

uint64_t blob_writer_size(const struct blob_writer *w)
{
    return w->size;
}

static void finish_hash(struct blob_writer *w)
{
    if (!w->hashed) {
        digester_finish(w->dg, &w->got);
        w->dg = NULL;
        w->hashed = 1;
    }
}

int blob_writer_digest(struct blob_writer *w, struct digest *out, struct kiln_error **err)
{
    if (w->done)
        return kiln_error_set(err, KILN_E_FAIL, "blob writer: digest after commit");
    if (!w->synced) {
        if (fsync(w->fd) < 0)
            return kiln_error_errno(err, errno, "sync %s", w->path);
        w->synced = 1;
    }
    finish_hash(w);
    *out = w->got;
    return 0;
}

static void discard(struct blob_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->path != NULL) {
        unlink(w->path);
        free(w->path);
        w->path = NULL;
    }
}

int blob_writer_commit(struct blob_writer *w, const struct digest *expected, int64_t expected_size,
                       struct digest *out, struct kiln_error **err)
{
    if (w->done)
        return kiln_error_set(err, KILN_E_FAIL, "blob writer: committed twice");
    w->done = 1;
    finish_hash(w);
    struct digest got = w->got;
    if (expected_size >= 0 && w->size != (uint64_t)expected_size) {
        discard(w);
        return kiln_error_set(err, KILN_E_DIGEST,
                              "blob sha256:%s: size mismatch: expected %lld bytes, got %llu",
                              expected ? expected->hex : got.hex, (long long)expected_size,
                              (unsigned long long)w->size);
    }
    if (expected != NULL && !digest_equal(expected, &got)) {
        discard(w);
        return kiln_error_set(err, KILN_E_DIGEST,
                              "blob sha256:%s: digest mismatch: content is sha256:%s",
                              expected->hex, got.hex);
    }
    if (out != NULL)
        *out = got;
    struct store *s = w->store;
    if (store_blob_has(s, &got)) {
        /* Already there (and now marked as in use): keep the old one. */
        discard(w);
        return 0;
    }
    if ((!w->synced && fsync(w->fd) < 0) || fchmod(w->fd, 0444) < 0) {
        int e = errno;
        discard(w);
        return kiln_error_errno(err, e, "sync blob sha256:%s", got.hex);
    }
    if (renameat(AT_FDCWD, w->path, s->blobs_fd, got.hex) < 0) {
        int e = errno;
        discard(w);
        return kiln_error_errno(err, e, "store blob sha256:%s", got.hex);
    }
    free(w->path);
    w->path = NULL;
    return w->defer_dir_sync ? 0 : store_blobs_sync(s, err);
}

void blob_writer_free(struct blob_writer *w)
{
    if (w == NULL)
        return;
    discard(w);
    if (w->dg != NULL)
        digester_free(w->dg);
    free(w);
}

void cleanup_blob_writerp(struct blob_writer **w)
{
    blob_writer_free(*w);
    *w = NULL;
}

int store_blob_put(struct store *s, const void *data, size_t len, const struct digest *expected,
                   struct digest *out, struct kiln_error **err)
{
    /* In memory already: a blob the store has (a rebuild's config and
     * manifest) costs a digest and a stat, not a temporary file. */
    struct digest got;
    digest_bytes(data, len, &got);
    if ((expected == NULL || digest_equal(expected, &got)) && store_blob_has(s, &got)) {
        if (out != NULL)
            *out = got;
        return 0;
    }
    cleanup_blob_writer struct blob_writer *w = NULL;
    if (blob_writer_new(s, &w, err) < 0 || blob_writer_write(w, data, len, err) < 0)
        return -1;
    return blob_writer_commit(w, expected, -1, out, err);
}

int store_blob_put_fd(struct store *s, int fd, const struct digest *expected, int64_t expected_size,
                      struct digest *out, struct kiln_error **err)
{
    cleanup_blob_writer struct blob_writer *w = NULL;
    if (blob_writer_new(s, &w, err) < 0)
        return -1;
    cleanup_free char *buf = xmalloc(1 << 17);
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 17);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return kiln_error_errno(err, errno, "read blob source");
        }
        if (n == 0)
            break;
        if (blob_writer_write(w, buf, (size_t)n, err) < 0)
            return -1;
        if (expected_size >= 0 && w->size > (uint64_t)expected_size)
            break; /* too long already: commit reports the mismatch */
    }
    return blob_writer_commit(w, expected, expected_size, out, err);
}

char *store_blob_path(const struct store *s, const struct digest *d)
{
    return xasprintf("%s/blobs/sha256/%s", s->root, d->hex);
}

int store_blob_has(struct store *s, const struct digest *d)
{
    /* Under the lock, so a running prune either removed the blob already or
     * will see the fresh mtime and keep it. */
    int locked = store_lock(s, NULL) == 0;
    struct stat st;
    int has = fstatat(s->blobs_fd, d->hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    if (has)
        store_touch_at(s->blobs_fd, d->hex);
    if (locked)
        store_unlock(s);
    return has;
}

int store_blob_size(struct store *s, const struct digest *d, uint64_t *size,
                    struct kiln_error **err)
{
    struct stat st;
    if (fstatat(s->blobs_fd, d->hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_errno(err, errno, "blob sha256:%s", d->hex);
    *size = (uint64_t)st.st_size;
    return 0;
}

int store_blob_open(struct store *s, const struct digest *d, struct kiln_error **err)
{
    int fd = openat(s->blobs_fd, d->hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return kiln_error_set(err, KILN_E_NOTFOUND,
                                  "blob sha256:%s is missing from the store %s (run 'kiln fsck')",
                                  d->hex, s->root);
        return kiln_error_errno(err, errno, "open blob sha256:%s", d->hex);
    }
    return fd;
}

int store_blob_read(struct store *s, const struct digest *d, size_t max, char **out, size_t *len,
                    struct kiln_error **err)
{
    cleanup_close int fd = store_blob_open(s, d, err);
    if (fd < 0)
        return -1;
    struct strbuf sb = STRBUF_INIT;
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            strbuf_release(&sb);
            return kiln_error_errno(err, errno, "read blob sha256:%s", d->hex);
        }
        if (n == 0)
            break;
        if (sb.len + (size_t)n > max) {
            strbuf_release(&sb);
            return kiln_error_set(err, KILN_E_INVALID, "blob sha256:%s: larger than %zu bytes",
                                  d->hex, max);
        }
        strbuf_add(&sb, buf, (size_t)n);
    }
    if (len != NULL)
        *len = sb.len;
    *out = strbuf_detach(&sb);
    return 0;
}

json_t *store_blob_read_json(struct store *s, const struct digest *d, struct kiln_error **err)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    if (store_blob_read(s, d, STORE_JSON_MAX, &data, &len, err) < 0)
        return NULL;
    char what[DIGEST_STR_LEN + 8];
    snprintf(what, sizeof(what), "blob sha256:%s", d->hex);
    return json_parse_bytes(data, len, what, err);
}
