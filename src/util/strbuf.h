/* A growable, always NUL-terminated string buffer: kiln's answer to fixed
 * arrays and strcat. Allocation failure aborts (there is no sane recovery). */
#ifndef KILN_UTIL_STRBUF_H
#define KILN_UTIL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *buf; /* never NULL after init; "" when empty */
    size_t len;
    size_t cap;
};

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
/* One character; inline because parsers call it per byte. */
static inline void strbuf_addc(struct strbuf *sb, char c)
{
    if (sb->cap > 0 && sb->len + 1 < sb->cap) {
        sb->buf[sb->len++] = c;
        sb->buf[sb->len] = '\0';
        return;
    }
    strbuf_add(sb, &c, 1);
}
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_setlen(struct strbuf *sb, size_t len);
/* Hands the buffer to the caller (who frees it) and resets sb. */
char *strbuf_detach(struct strbuf *sb);
/* Removes trailing whitespace. */
void strbuf_rtrim(struct strbuf *sb);

void cleanup_strbufp(struct strbuf *sb);
#define cleanup_strbuf __attribute__((cleanup(cleanup_strbufp)))

/* xmalloc family: abort on allocation failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
