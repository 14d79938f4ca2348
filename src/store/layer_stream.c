/* layer_stream: a layer tar written entry by entry through the same tar
 * writer as layer_write_from_dir, so both give the same bytes for the same
 * tree. The caller's order is checked, never fixed: a sort here would need
 * every entry in memory, and the caller has them sorted already. */
#include "store/layer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store/layer_tar.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

struct layer_stream {
    struct tar_writer *tw;
    int64_t epoch;
    struct strbuf prev; /* the last tar name, for the order check */
    struct strbuf name;
    int failed;
};

struct layer_stream *layer_stream_new(struct byte_sink out, int64_t epoch)
{
    struct layer_stream *s = xcalloc(1, sizeof(*s));
    s->tw = tar_writer_new(out);
    s->epoch = epoch;
    strbuf_init(&s->prev);
    strbuf_init(&s->name);
    return s;
}

void layer_stream_free(struct layer_stream *s)
{
    if (s == NULL)
        return;
    tar_writer_free(s->tw);
    strbuf_release(&s->prev);
    strbuf_release(&s->name);
    free(s);
}

static int put_data(struct layer_stream *s, const struct layer_stream_entry *e, int fd,
                    const void *data, struct kiln_error **err)
{
    uint64_t left = e->size;
    const char *p = data;
    while (left > 0) {
        size_t room = left > (1u << 20) ? (1u << 20) : (size_t)left;
        void *buf = tar_data_buffer(s->tw, &room, err);
        if (buf == NULL)
            return -1;
        ssize_t n;
        if (p != NULL) {
            memcpy(buf, p, room);
            p += room;
            n = (ssize_t)room;
        } else {
            n = read(fd, buf, room);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return kiln_error_errno(err, errno, "layer: %s: read", e->path);
            if (n == 0)
                return kiln_error_set(err, KILN_E_FAIL,
                                      "layer: %s: file shrank while being read; retry when it "
                                      "is not changing",
                                      e->path);
        }
        tar_data_commit(s->tw, (size_t)n, err);
        left -= (uint64_t)n;
    }
    return tar_data_end(s->tw, e->size, err);
}

int layer_stream_add(struct layer_stream *s, const struct layer_stream_entry *e, int data_fd,
                     const void *data, struct kiln_error **err)
{
    if (s->failed)
        return kiln_error_set(err, KILN_E_FAIL, "layer: %s: the stream failed before", e->path);
    if (e->path[0] == '\0' || e->path[0] == '/')
        return kiln_error_set(err, KILN_E_INVALID, "layer: \"%s\": not a relative path", e->path);
    strbuf_reset(&s->name);
    strbuf_adds(&s->name, e->path);
    if (S_ISDIR(e->mode))
        strbuf_addc(&s->name, '/');
    if (s->prev.len > 0 && strcmp(s->prev.buf, s->name.buf) >= 0)
        return kiln_error_set(err, KILN_E_INVALID, "layer: %s comes after %s: entries out of order",
                              s->name.buf, s->prev.buf);
    strbuf_reset(&s->prev);
    strbuf_add(&s->prev, s->name.buf, s->name.len);
    int64_t mtime = e->mtime;
    if (s->epoch >= 0 && mtime > s->epoch)
        mtime = s->epoch;
    struct tar_header h = {
        .name = s->name.buf,
        .mode = e->mode & 07777,
        .uid = e->uid,
        .gid = e->gid,
        .mtime = mtime,
    };
    switch (e->mode & S_IFMT) {
    case S_IFDIR:
        h.type = '5';
        break;
    case S_IFLNK:
        h.type = '2';
        h.linkname = e->link != NULL ? e->link : "";
        break;
    case S_IFCHR:
    case S_IFBLK:
        h.type = S_ISCHR(e->mode) ? '3' : '4';
        h.devmajor = major(e->rdev);
        h.devminor = minor(e->rdev);
        break;
    case S_IFIFO:
        h.type = '6';
        break;
    case S_IFREG:
        h.type = '0';
        h.size = e->size;
        break;
    default:
        return kiln_error_set(err, KILN_E_INVALID, "layer: %s: a socket cannot be in a layer",
                              e->path);
    }
    int rc = tar_write_header(s->tw, &h, err);
    if (rc == 0 && h.type == '0')
        rc = put_data(s, e, data_fd, data, err);
    if (rc < 0)
        s->failed = 1; /* a partial entry: nothing sensible can follow */
    return rc;
}

int layer_stream_finish(struct layer_stream *s, struct digest *diffid, uint64_t *size,
                        struct kiln_error **err)
{
    if (s->failed)
        return kiln_error_set(err, KILN_E_FAIL, "layer: the stream failed before its end");
    return tar_writer_finish(s->tw, diffid, size, err);
}
