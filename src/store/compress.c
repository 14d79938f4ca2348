/* Streaming gzip (zlib, fixed header) and zstd (libzstd) for layers, plus the
 * byte sinks they write into. Deterministic: zlib's gzip wrapper writes no
 * name and mtime 0; zstd writes no dictionary id or checksum variation. */
#include "store/compress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "util/fs.h"
#include "util/strbuf.h"

#define CHUNK (1 << 17)

static int fd_sink_write(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    int fd = (int)(intptr_t)ctx;
    if (write_all(fd, buf, len) < 0)
        return kiln_error_errno(err, errno, "write");
    return 0;
}

struct byte_sink byte_sink_fd(int fd)
{
    return (struct byte_sink){fd_sink_write, (void *)(intptr_t)fd};
}

const char *compression_name(enum compression c)
{
    switch (c) {
    case COMPRESSION_GZIP:
        return "gzip";
    case COMPRESSION_ZSTD:
        return "zstd";
    default:
        return "none";
    }
}

const char *compression_media_suffix(enum compression c)
{
    switch (c) {
    case COMPRESSION_GZIP:
        return "+gzip";
    case COMPRESSION_ZSTD:
        return "+zstd";
    default:
        return "";
    }
}

enum compression compression_detect(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return COMPRESSION_GZIP;
    if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return COMPRESSION_ZSTD;
    return COMPRESSION_NONE;
}

struct compressor {
    enum compression kind;
    struct byte_sink out;
    z_stream z;
    ZSTD_CCtx *zc;
    unsigned char *buf;
    int finished;
};

struct compressor *compressor_new(enum compression c, int level, struct byte_sink out)
{
    struct compressor *k = xcalloc(1, sizeof(*k));
    k->kind = c;
    k->out = out;
    if (c == COMPRESSION_GZIP) {
        /* windowBits 31: gzip wrapper with a zeroed header (no name, mtime 0). */
        if (deflateInit2(&k->z, level > 0 ? level : 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK)
            abort();
    } else if (c == COMPRESSION_ZSTD) {
        k->zc = ZSTD_createCCtx();
        if (k->zc == NULL)
            abort();
        ZSTD_CCtx_setParameter(k->zc, ZSTD_c_compressionLevel, level > 0 ? level : 3);
        ZSTD_CCtx_setParameter(k->zc, ZSTD_c_checksumFlag, 1);
    }
    if (c != COMPRESSION_NONE)
        k->buf = xmalloc(CHUNK);
    return k;
}

static int gzip_pump(struct compressor *k, const void *buf, size_t len, int flush,
                     struct kiln_error **err)
{
    k->z.next_in = (unsigned char *)buf;
    k->z.avail_in = (uInt)len;
    for (;;) {
        k->z.next_out = k->buf;
        k->z.avail_out = CHUNK;
        int rc = deflate(&k->z, flush);
        if (rc == Z_STREAM_ERROR)
            return kiln_error_set(err, KILN_E_FAIL, "gzip: compression failed");
        size_t have = CHUNK - k->z.avail_out;
        if (have > 0 && k->out.write(k->out.ctx, k->buf, have, err) < 0)
            return -1;
        if (flush == Z_FINISH ? rc == Z_STREAM_END : k->z.avail_in == 0 && k->z.avail_out != 0)
            return 0;
    }
}

static int zstd_pump(struct compressor *k, const void *buf, size_t len, ZSTD_EndDirective mode,
                     struct kiln_error **err)
{
    ZSTD_inBuffer in = {buf, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {k->buf, CHUNK, 0};
        size_t rem = ZSTD_compressStream2(k->zc, &out, &in, mode);
        if (ZSTD_isError(rem))
            return kiln_error_set(err, KILN_E_FAIL, "zstd: %s", ZSTD_getErrorName(rem));
        if (out.pos > 0 && k->out.write(k->out.ctx, k->buf, out.pos, err) < 0)
            return -1;
        if (mode == ZSTD_e_end ? rem == 0 : in.pos == in.size)
            return 0;
    }
}

int compressor_write(struct compressor *k, const void *buf, size_t len, struct kiln_error **err)
{
    if (len == 0)
        return 0;
    switch (k->kind) {
    case COMPRESSION_GZIP:
        while (len > 0) {
            size_t n = len > (1u << 30) ? (1u << 30) : len;
            if (gzip_pump(k, buf, n, Z_NO_FLUSH, err) < 0)
                return -1;
            buf = (const char *)buf + n;
            len -= n;
        }
        return 0;
    case COMPRESSION_ZSTD:
        return zstd_pump(k, buf, len, ZSTD_e_continue, err);
    default:
        return k->out.write(k->out.ctx, buf, len, err);
    }
}

int compressor_finish(struct compressor *k, struct kiln_error **err)
{
    if (k->finished)
        return 0;
    k->finished = 1;
    if (k->kind == COMPRESSION_GZIP)
        return gzip_pump(k, NULL, 0, Z_FINISH, err);
    if (k->kind == COMPRESSION_ZSTD)
        return zstd_pump(k, NULL, 0, ZSTD_e_end, err);
    return 0;
}

void compressor_free(struct compressor *k)
{
    if (k == NULL)
        return;
    if (k->kind == COMPRESSION_GZIP)
        deflateEnd(&k->z);
    ZSTD_freeCCtx(k->zc);
    free(k->buf);
    free(k);
}

static int compressor_sink_write(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    return compressor_write(ctx, buf, len, err);
}

struct byte_sink compressor_sink(struct compressor *c)
{
    return (struct byte_sink){compressor_sink_write, c};
}

struct decompressor {
    int fd;
    enum compression kind;
    int detected, in_eof, stream_end;
    z_stream z;
    ZSTD_DCtx *zd;
    size_t zstd_hint; /* last ZSTD_decompressStream return: 0 at a frame end */
    unsigned char *in;
    size_t in_pos, in_len;
};

struct decompressor *decompressor_new(int fd)
{
    struct decompressor *d = xcalloc(1, sizeof(*d));
    d->fd = fd;
    d->in = xmalloc(CHUNK);
    return d;
}

static int fill(struct decompressor *d, struct kiln_error **err)
{
    if (d->in_pos < d->in_len || d->in_eof)
        return 0;
    for (;;) {
        ssize_t n = read(d->fd, d->in, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_errno(err, errno, "read layer");
        d->in_pos = 0;
        d->in_len = (size_t)n;
        if (n == 0)
            d->in_eof = 1;
        return 0;
    }
}

static int detect(struct decompressor *d, struct kiln_error **err)
{
    /* Gather up to 4 bytes for the magic check. */
    while (d->in_len < 4 && !d->in_eof) {
        ssize_t n = read(d->fd, d->in + d->in_len, CHUNK - d->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_errno(err, errno, "read layer");
        if (n == 0)
            d->in_eof = 1;
        d->in_len += (size_t)n;
    }
    d->kind = compression_detect(d->in, d->in_len);
    d->detected = 1;
    if (d->kind == COMPRESSION_GZIP) {
        if (inflateInit2(&d->z, 31) != Z_OK)
            abort();
    } else if (d->kind == COMPRESSION_ZSTD) {
        d->zd = ZSTD_createDCtx();
        if (d->zd == NULL)
            abort();
    }
    return 0;
}

static ssize_t read_gzip(struct decompressor *d, void *buf, size_t len, struct kiln_error **err)
{
    for (;;) {
        if (d->stream_end) {
            /* Concatenated gzip members are one stream; anything else after
             * the end is refused rather than silently dropped. */
            if (fill(d, err) < 0)
                return -1;
            if (d->in_pos == d->in_len)
                return 0;
            if (inflateReset(&d->z) != Z_OK)
                abort();
            d->stream_end = 0;
        }
        if (fill(d, err) < 0)
            return -1;
        d->z.next_in = d->in + d->in_pos;
        d->z.avail_in = (uInt)(d->in_len - d->in_pos);
        d->z.next_out = buf;
        d->z.avail_out = (uInt)(len > (1u << 30) ? (1u << 30) : len);
        uInt before_out = d->z.avail_out;
        int rc = inflate(&d->z, Z_NO_FLUSH);
        d->in_pos = d->in_len - d->z.avail_in;
        size_t got = before_out - d->z.avail_out;
        if (rc == Z_STREAM_END)
            d->stream_end = 1;
        else if (rc == Z_BUF_ERROR && d->in_eof && d->in_pos == d->in_len)
            return kiln_error_set(err, KILN_E_INVALID, "gzip stream is truncated");
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return kiln_error_set(err, KILN_E_INVALID, "gzip stream is corrupt: %s",
                                  d->z.msg ? d->z.msg : "inflate failed");
        if (got > 0)
            return (ssize_t)got;
        if (d->in_eof && d->in_pos == d->in_len && !d->stream_end)
            return kiln_error_set(err, KILN_E_INVALID, "gzip stream is truncated");
    }
}

static ssize_t read_zstd(struct decompressor *d, void *buf, size_t len, struct kiln_error **err)
{
    for (;;) {
        if (fill(d, err) < 0)
            return -1;
        if (d->in_eof && d->in_pos == d->in_len) {
            if (d->zstd_hint != 0)
                return kiln_error_set(err, KILN_E_INVALID, "zstd stream is truncated");
            return 0;
        }
        ZSTD_inBuffer in = {d->in, d->in_len, d->in_pos};
        ZSTD_outBuffer out = {buf, len, 0};
        size_t rc = ZSTD_decompressStream(d->zd, &out, &in);
        d->in_pos = in.pos;
        if (ZSTD_isError(rc))
            return kiln_error_set(err, KILN_E_INVALID, "zstd stream is corrupt: %s",
                                  ZSTD_getErrorName(rc));
        d->zstd_hint = rc;
        if (out.pos > 0)
            return (ssize_t)out.pos;
    }
}

ssize_t decompressor_read(struct decompressor *d, void *buf, size_t len, struct kiln_error **err)
{
    if (!d->detected && detect(d, err) < 0)
        return -1;
    if (len == 0)
        return 0;
    switch (d->kind) {
    case COMPRESSION_GZIP:
        return read_gzip(d, buf, len, err);
    case COMPRESSION_ZSTD:
        return read_zstd(d, buf, len, err);
    default:
        if (d->in_pos < d->in_len) {
            size_t n = d->in_len - d->in_pos < len ? d->in_len - d->in_pos : len;
            memcpy(buf, d->in + d->in_pos, n);
            d->in_pos += n;
            return (ssize_t)n;
        }
        if (d->in_eof)
            return 0;
        for (;;) {
            ssize_t n = read(d->fd, buf, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return kiln_error_errno(err, errno, "read layer");
            if (n == 0)
                d->in_eof = 1;
            return n;
        }
    }
}

enum compression decompressor_format(const struct decompressor *d)
{
    return d->kind;
}

void decompressor_free(struct decompressor *d)
{
    if (d == NULL)
        return;
    if (d->detected && d->kind == COMPRESSION_GZIP)
        inflateEnd(&d->z);
    ZSTD_freeDCtx(d->zd);
    free(d->in);
    free(d);
}

struct counting_sink {
    struct byte_sink next;
    struct digester *dg;
    uint64_t n;
};

static int counting_write(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    struct counting_sink *c = ctx;
    digester_update(c->dg, buf, len);
    c->n += len;
    return c->next.write(c->next.ctx, buf, len, err);
}

int compress_stream(int in_fd, enum compression c, int level, struct byte_sink out,
                    struct digest *out_digest, uint64_t *out_size, struct digest *raw_digest,
                    uint64_t *raw_size, struct kiln_error **err)
{
    struct counting_sink cs = {out, digester_new(), 0};
    struct compressor *k = compressor_new(c, level, (struct byte_sink){counting_write, &cs});
    struct decompressor *d = decompressor_new(in_fd);
    struct digester *raw = digester_new();
    unsigned char *buf = xmalloc(CHUNK);
    uint64_t total = 0;
    int rc = -1;
    for (;;) {
        ssize_t n = decompressor_read(d, buf, CHUNK, err);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        digester_update(raw, buf, (size_t)n);
        total += (uint64_t)n;
        if (compressor_write(k, buf, (size_t)n, err) < 0)
            goto out;
    }
    if (compressor_finish(k, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc == 0) {
        struct digest tmp;
        digester_finish(cs.dg, out_digest ? out_digest : &tmp);
        digester_finish(raw, raw_digest ? raw_digest : &tmp);
        if (out_size)
            *out_size = cs.n;
        if (raw_size)
            *raw_size = total;
    } else {
        digester_free(cs.dg);
        digester_free(raw);
    }
    free(buf);
    decompressor_free(d);
    compressor_free(k);
    return rc;
}
