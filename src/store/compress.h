/* Byte sinks and the layer compressions kiln speaks: none, gzip (fixed header:
 * no name, mtime 0, so the same bytes in give the same bytes out) and zstd.
 * Streaming both ways; decompression autodetects the format from magic bytes. */
#ifndef KILN_STORE_COMPRESS_H
#define KILN_STORE_COMPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/digest.h"
#include "util/error.h"

/* Where a stream of bytes goes. write() consumes all len bytes or fails. */
struct byte_sink {
    int (*write)(void *ctx, const void *buf, size_t len, struct kiln_error **err);
    void *ctx;
};

/* A sink that writes to fd (which must stay open while the sink is used). */
struct byte_sink byte_sink_fd(int fd);

enum compression {
    COMPRESSION_NONE = 0,
    COMPRESSION_GZIP = 1,
    COMPRESSION_ZSTD = 2,
};

/* "none", "gzip", "zstd". */
const char *compression_name(enum compression c);
/* "", "+gzip", "+zstd": the suffix of an OCI layer media type. */
const char *compression_media_suffix(enum compression c);
/* From the first bytes of a stream (at least 4 for a sure answer). */
enum compression compression_detect(const void *buf, size_t len);

/* Streaming compressor writing into out. level 0 picks kiln's default
 * (gzip 6, zstd 3). For COMPRESSION_NONE it passes bytes through. */
struct compressor;
struct compressor *compressor_new(enum compression c, int level, struct byte_sink out);
int compressor_write(struct compressor *c, const void *buf, size_t len, struct kiln_error **err);
/* Flushes the trailer; no writes after it. */
int compressor_finish(struct compressor *c, struct kiln_error **err);
void compressor_free(struct compressor *c);
/* The compressor itself as a sink (feeds compressor_write). */
struct byte_sink compressor_sink(struct compressor *c);

/* Streaming decompressor reading from fd; the format is detected from the
 * first bytes. A stream that ends early (truncated) is KILN_E_INVALID. */
struct decompressor;
struct decompressor *decompressor_new(int fd);
/* Returns bytes read into buf, 0 at the end of the stream, -1 on error. */
ssize_t decompressor_read(struct decompressor *d, void *buf, size_t len, struct kiln_error **err);
/* Known after the first read. */
enum compression decompressor_format(const struct decompressor *d);
void decompressor_free(struct decompressor *d);

/* Reads all of in_fd (any compression), writes it compressed as c to out,
 * and returns the digest and size of what was written and of the
 * uncompressed bytes (the diff id of a layer). Any output may be NULL. */
int compress_stream(int in_fd, enum compression c, int level, struct byte_sink out,
                    struct digest *out_digest, uint64_t *out_size, struct digest *raw_digest,
                    uint64_t *raw_size, struct kiln_error **err);

#endif
