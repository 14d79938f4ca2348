/* kiln push: an image from the store to a registry. Uncompressed layers are
 * gzip-compressed once (the result is remembered, see records.h); each blob
 * is checked with HEAD, mounted from another repository of the same registry
 * when kiln knows one that has it, else uploaded (one PUT for small blobs,
 * PATCH chunks for large ones); the manifest goes last. */
#include <curl/curl.h>
#include <errno.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/push.h"
#include "registry/records.h"
#include "registry/registry.h"
#include "store/compress.h"
#include "store/reference.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define MONOLITHIC_MAX (32ull << 20) /* larger blobs go up in chunks of this size */
/* Layers up to this size are compressed in one libdeflate call (several times
 * faster than zlib at the same level); larger ones stream through zlib. */
#define WHOLE_GZIP_MAX (2ull << 30)
#define GZIP_LEVEL     6

/* Location + "digest=..." as an absolute URL; allocated. */
static char *with_digest(const char *location, const char *digest)
{
    CURLU *u = curl_url();
    char *out = NULL, *res = NULL;
    cleanup_free char *q = xasprintf("digest=%s", digest);
    if (curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK)
        res = xstrdup(out);
    curl_free(out);
    curl_url_cleanup(u);
    return res;
}

static int expect_status(struct reg_client *c, struct reg_response *r, long want, const char *what,
                         struct kiln_error **err)
{
    if (r->status == want)
        return 0;
    return reg_status_error(c, r, what, err);
}

/* Sends size bytes of fd to an upload session at *location. */
static int upload(struct reg_client *c, const char *scope, int fd, uint64_t size,
                  const char *digest, char **location, struct kiln_error **err)
{
    cleanup_free char *what = xasprintf("upload of blob %s", digest);
    uint64_t off = 0;
    if (size > MONOLITHIC_MAX) {
        while (off < size) {
            uint64_t n = size - off < MONOLITHIC_MAX ? size - off : MONOLITHIC_MAX;
            char cr[64];
            snprintf(cr, sizeof(cr), "%llu-%llu", (unsigned long long)off,
                     (unsigned long long)(off + n - 1));
            struct reg_request rq = {.method = "PATCH",
                                     .url = *location,
                                     .scope = scope,
                                     .content_type = "application/octet-stream",
                                     .content_range = cr,
                                     .body_fd = fd,
                                     .body_off = off,
                                     .body_size = n,
                                     .progress_digest = digest};
            struct reg_response r = {0};
            int ret = reg_do(c, &rq, &r, err);
            if (ret == 0)
                ret = expect_status(c, &r, 202, what, err);
            if (ret == 0 && r.location == NULL)
                ret = kiln_error_set(err, KILN_E_NET, "%s: registry sent no Location", what);
            if (ret == 0) {
                free(*location);
                *location = steal_pointer(&r.location);
            }
            reg_response_release(&r);
            if (ret < 0)
                return -1;
            off += n;
            reg_progress(c, REGISTRY_EV_BLOB_BYTES, digest, off, size, NULL);
        }
    }
    cleanup_free char *url = with_digest(*location, digest);
    if (url == NULL)
        return kiln_error_set(err, KILN_E_NET, "%s: bad upload location from registry", what);
    struct reg_request rq = {.method = "PUT",
                             .url = url,
                             .scope = scope,
                             .content_type = "application/octet-stream",
                             .body_fd = off < size ? fd : 0,
                             .body_off = 0,
                             .body_size = off < size ? size : 0,
                             .progress_digest = digest};
    struct reg_response r = {0};
    int ret = reg_do(c, &rq, &r, err);
    if (ret == 0)
        ret = expect_status(c, &r, 201, what, err);
    reg_response_release(&r);
    return ret;
}

int push_blob(struct reg_client *c, struct store *s, const char *path, const struct descriptor *d,
              struct kiln_error **err)
{
    char ds[DIGEST_STR_LEN + 1];
    digest_str(&d->digest, ds);
    cleanup_free char *scope = xasprintf("repository:%s:pull,push", path);
    cleanup_free char *head_url = xasprintf("/v2/%s/blobs/%s", path, ds);
    struct reg_request head = {.method = "HEAD", .url = head_url, .scope = scope};
    struct reg_response r = {0};
    if (reg_do(c, &head, &r, err) < 0)
        return -1;
    long st = r.status;
    reg_response_release(&r);
    if (st == 200) {
        reg_progress(c, REGISTRY_EV_BLOB_EXISTS, ds, d->size, d->size, NULL);
        return 0;
    }
    cleanup_free char *location = NULL;
    cleanup_free char *from = records_source_find(s, &d->digest, reg_client_host(c), path);
    if (from != NULL) {
        cleanup_free char *mscope =
            xasprintf("repository:%s:pull,push repository:%s:pull", path, from);
        cleanup_free char *murl =
            xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", path, ds, from);
        struct reg_request rq = {.method = "POST", .url = murl, .scope = mscope};
        if (reg_do(c, &rq, &r, err) < 0)
            return -1;
        if (r.status == 201) {
            reg_response_release(&r);
            reg_progress(c, REGISTRY_EV_BLOB_MOUNTED, ds, d->size, d->size, from);
            return 0;
        }
        if (r.status == 202)
            location = steal_pointer(&r.location);
        reg_response_release(&r);
    }
    cleanup_free char *what = xasprintf("push of blob %s to %s", ds, path);
    if (location == NULL) {
        cleanup_free char *url = xasprintf("/v2/%s/blobs/uploads/", path);
        struct reg_request rq = {.method = "POST", .url = url, .scope = scope};
        if (reg_do(c, &rq, &r, err) < 0)
            return -1;
        int ret = expect_status(c, &r, 202, what, err);
        if (ret == 0 && r.location == NULL)
            ret = kiln_error_set(err, KILN_E_NET, "%s: registry sent no upload Location", what);
        location = steal_pointer(&r.location);
        reg_response_release(&r);
        if (ret < 0)
            return -1;
    }
    reg_progress(c, REGISTRY_EV_BLOB_START, ds, 0, d->size, NULL);
    cleanup_close int fd = store_blob_open(s, &d->digest, err);
    if (fd < 0)
        return -1;
    if (upload(c, scope, fd, d->size, ds, &location, err) < 0)
        return -1;
    reg_progress(c, REGISTRY_EV_BLOB_DONE, ds, d->size, d->size, NULL);
    return 0;
}

static int writer_sink(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    return blob_writer_write(ctx, buf, len, err);
}

/* gzip of the whole tar in fd into w: libdeflate, level 6, fixed header (no
 * name, mtime 0). *raw is the tar's digest. */
static int gzip_whole(int fd, struct blob_writer *w, struct digest *raw, struct kiln_error **err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kiln_error_errno(err, errno, "stat layer for compression");
    uint64_t size = (uint64_t)st.st_size;
    void *in = size > 0 ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    if (size > 0 && in == MAP_FAILED)
        return kiln_error_errno(err, errno, "map layer for compression");
    if (in != NULL)
        madvise(in, size, MADV_SEQUENTIAL | MADV_WILLNEED);
    digest_bytes(in ? in : "", size, raw);
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(GZIP_LEVEL);
    size_t bound = c ? libdeflate_gzip_compress_bound(c, size) : 0;
    void *out = c ? malloc(bound) : NULL;
    size_t n = out ? libdeflate_gzip_compress(c, in ? in : "", size, out, bound) : 0;
    int ret = n > 0 ? blob_writer_write(w, out, n, err)
                    : kiln_error_set(err, KILN_E_FAIL, "gzip: out of memory for a %llu-byte layer",
                                     (unsigned long long)size);
    free(out);
    libdeflate_free_compressor(c);
    if (in != NULL)
        munmap(in, size);
    return ret;
}

/* The gzip form of an uncompressed layer blob: remembered, else made now. */
int push_gzip_layer(struct store *s, const struct descriptor *tar, struct descriptor *out,
                    struct kiln_error **err)
{
    struct digest gz;
    uint64_t size = 0;
    if (!records_compressed_get(s, &tar->digest, &gz, &size)) {
        cleanup_close int fd = store_blob_open(s, &tar->digest, err);
        if (fd < 0)
            return -1;
        cleanup_blob_writer struct blob_writer *w = NULL;
        if (blob_writer_new(s, &w, err) < 0)
            return -1;
        struct byte_sink sink = {writer_sink, w};
        struct digest raw;
        if (tar->size <= WHOLE_GZIP_MAX ? gzip_whole(fd, w, &raw, err)
                                        : compress_stream(fd, COMPRESSION_GZIP, GZIP_LEVEL, sink,
                                                          NULL, NULL, &raw, NULL, err))
            return -1;
        if (!digest_equal(&raw, &tar->digest)) {
            char a[DIGEST_STR_LEN + 1];
            return kiln_error_set(err, KILN_E_DIGEST,
                                  "layer %s in the store is corrupt (its content hashes to "
                                  "sha256:%s); run 'kiln fsck'",
                                  digest_str(&tar->digest, a), raw.hex);
        }
        size = blob_writer_size(w);
        if (blob_writer_commit(w, NULL, -1, &gz, err) < 0)
            return -1;
        if (records_compressed_put(s, &tar->digest, &gz, size, err) < 0)
            return -1;
    }
    out->digest = gz;
    out->size = size;
    return 0;
}
