/* Byte-stable tar encoding: ustar headers, plus a PAX 'x' header before an
 * entry only for what ustar cannot hold (names or link targets over 100
 * bytes, numbers too big for octal fields, xattrs). Output is buffered and
 * hashed on its way to the sink. */
#include "store/layer_tar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/strbuf.h"

#define BLOCK 512
#define BUFSZ (1 << 20)

struct tar_writer {
    struct byte_sink out;
    struct digester *dg;
    uint64_t total;
    unsigned char *buf;
    size_t len;
};

struct tar_writer *tar_writer_new(struct byte_sink out)
{
    struct tar_writer *w = xcalloc(1, sizeof(*w));
    w->out = out;
    w->dg = digester_new();
    w->buf = xmalloc(BUFSZ);
    return w;
}

static int flush(struct tar_writer *w, struct kiln_error **err)
{
    if (w->len == 0)
        return 0;
    digester_update(w->dg, w->buf, w->len);
    w->total += w->len;
    size_t n = w->len;
    w->len = 0;
    return w->out.write(w->out.ctx, w->buf, n, err);
}

static int put(struct tar_writer *w, const void *data, size_t len, struct kiln_error **err)
{
    const char *p = data;
    while (len > 0) {
        if (w->len == BUFSZ && flush(w, err) < 0)
            return -1;
        size_t n = BUFSZ - w->len < len ? BUFSZ - w->len : len;
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int put_zeros(struct tar_writer *w, size_t len, struct kiln_error **err)
{
    static const char zeros[BLOCK];
    while (len > 0) {
        size_t n = len > BLOCK ? BLOCK : len;
        if (put(w, zeros, n, err) < 0)
            return -1;
        len -= n;
    }
    return 0;
}

void *tar_data_buffer(struct tar_writer *w, size_t *len, struct kiln_error **err)
{
    if (w->len == BUFSZ && flush(w, err) < 0)
        return NULL;
    if (*len > BUFSZ - w->len)
        *len = BUFSZ - w->len;
    return w->buf + w->len;
}

int tar_data_commit(struct tar_writer *w, size_t len, struct kiln_error **err)
{
    (void)err;
    w->len += len;
    return 0;
}

int tar_data_end(struct tar_writer *w, uint64_t size, struct kiln_error **err)
{
    size_t pad = (size_t)((BLOCK - size % BLOCK) % BLOCK);
    return put_zeros(w, pad, err);
}

/* Octal with a NUL in a field of width w; 0 when the value does not fit. */
static int octal(char *field, size_t width, uint64_t v)
{
    uint64_t max = (1ULL << (3 * (width - 1))) - 1;
    if (v > max)
        return 0;
    field[width - 1] = '\0';
    for (size_t i = width - 1; i > 0; i--) {
        field[i - 1] = (char)('0' + (v & 7));
        v >>= 3;
    }
    return 1;
}

/* One PAX record "LEN key=value\n", where LEN counts the whole record. */
static void pax_record(struct strbuf *sb, const char *key, const char *val, size_t vlen)
{
    size_t base = strlen(key) + vlen + 3; /* ' ' '=' '\n' */
    size_t total = base + 1;
    for (;;) {
        size_t digits = 1;
        for (size_t t = total; t >= 10; t /= 10)
            digits++;
        if (base + digits == total)
            break;
        total = base + digits;
    }
    strbuf_addf(sb, "%zu %s=", total, key);
    strbuf_add(sb, val, vlen);
    strbuf_addc(sb, '\n');
}

static void pax_number(struct strbuf *sb, const char *key, uint64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
    pax_record(sb, key, num, (size_t)n);
}

static int write_block(struct tar_writer *w, char *hdr, struct kiln_error **err)
{
    memset(hdr + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += (unsigned char)hdr[i];
    snprintf(hdr + 148, 8, "%06o", sum);
    hdr[155] = ' ';
    return put(w, hdr, BLOCK, err);
}

static void fill_common(char *hdr, char type)
{
    hdr[156] = type;
    memcpy(hdr + 257, "ustar", 6);
    memcpy(hdr + 263, "00", 2);
}

int tar_write_header(struct tar_writer *w, const struct tar_header *h, struct kiln_error **err)
{
    char hdr[BLOCK];
    memset(hdr, 0, sizeof(hdr));
    cleanup_strbuf struct strbuf pax = STRBUF_INIT;
    uint64_t mtime = h->mtime < 0 ? 0 : (uint64_t)h->mtime;

    size_t nlen = strlen(h->name);
    if (nlen <= 100)
        memcpy(hdr, h->name, nlen);
    else
        pax_record(&pax, "path", h->name, nlen);
    if (h->linkname != NULL) {
        size_t llen = strlen(h->linkname);
        if (llen <= 100)
            memcpy(hdr + 157, h->linkname, llen);
        else
            pax_record(&pax, "linkpath", h->linkname, llen);
    }
    octal(hdr + 100, 8, h->mode & 07777);
    if (!octal(hdr + 108, 8, h->uid))
        pax_number(&pax, "uid", h->uid);
    if (!octal(hdr + 116, 8, h->gid))
        pax_number(&pax, "gid", h->gid);
    if (!octal(hdr + 124, 12, h->size))
        pax_number(&pax, "size", h->size);
    if (!octal(hdr + 136, 12, mtime))
        pax_number(&pax, "mtime", mtime);
    if (h->type == '3' || h->type == '4') {
        if (!octal(hdr + 329, 8, h->devmajor) || !octal(hdr + 337, 8, h->devminor))
            return kiln_error_set(err, KILN_E_INVALID, "%s: device number too large for tar",
                                  h->name);
    }
    for (size_t i = 0; i < h->n_xattrs; i++) {
        cleanup_free char *key = xasprintf("SCHILY.xattr.%s", h->xattrs[i].name);
        pax_record(&pax, key, h->xattrs[i].value, h->xattrs[i].len);
    }
    fill_common(hdr, h->type);

    if (pax.len > 0) {
        char ph[BLOCK];
        memset(ph, 0, sizeof(ph));
        memcpy(ph, "././@PaxHeader", 14);
        octal(ph + 100, 8, 0644);
        octal(ph + 108, 8, 0);
        octal(ph + 116, 8, 0);
        octal(ph + 124, 12, pax.len);
        octal(ph + 136, 12, 0);
        fill_common(ph, 'x');
        if (write_block(w, ph, err) < 0 || put(w, pax.buf, pax.len, err) < 0 ||
            tar_data_end(w, pax.len, err) < 0)
            return -1;
    }
    return write_block(w, hdr, err);
}

int tar_writer_finish(struct tar_writer *w, struct digest *d, uint64_t *size,
                      struct kiln_error **err)
{
    if (put_zeros(w, 2 * BLOCK, err) < 0 || flush(w, err) < 0)
        return -1;
    struct digester *dg = w->dg;
    w->dg = NULL;
    struct digest tmp;
    digester_finish(dg, d ? d : &tmp);
    if (size)
        *size = w->total;
    return 0;
}

void tar_writer_free(struct tar_writer *w)
{
    if (w == NULL)
        return;
    digester_free(w->dg);
    free(w->buf);
    free(w);
}
