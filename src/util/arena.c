/* The bump allocator (see arena.h), and its one-malloc-per-allocation form
 * under AddressSanitizer. */
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_PER_ALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_PER_ALLOC 1
#endif
#endif

#define ALIGN      16u
#define FIRST_SIZE 4096u
#define MAX_CHUNK  (64u << 10) /* stays below malloc's mmap threshold */

struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* usable bytes after the header */
    max_align_t data[];
};

#ifndef ARENA_PER_ALLOC
static size_t round_up(size_t n)
{
    if (n > SIZE_MAX - ALIGN)
        abort();
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}
#endif

static struct arena_chunk *new_chunk(struct arena *a, size_t size)
{
    if (size > SIZE_MAX - sizeof(struct arena_chunk))
        abort();
    struct arena_chunk *c = xmalloc(sizeof(*c) + size);
    c->next = a->chunks;
    c->size = size;
    a->chunks = c;
    return c;
}

void arena_init_buf(struct arena *a, void *buf, size_t size)
{
    *a = (struct arena)ARENA_INIT;
#ifdef ARENA_PER_ALLOC
    (void)buf;
    (void)size;
#else
    uintptr_t p = ((uintptr_t)buf + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    size_t skip = (size_t)(p - (uintptr_t)buf);
    if (size > skip) {
        a->cur = (char *)p;
        a->left = (size - skip) & ~(size_t)(ALIGN - 1);
    }
#endif
}

void *arena_alloc(struct arena *a, size_t n)
{
#ifdef ARENA_PER_ALLOC
    struct arena_chunk *c = new_chunk(a, n);
    memset(c->data, 0, n);
    return c->data;
#else
    n = round_up(n ? n : 1);
    if (n > a->left) {
        size_t size = a->next_size ? a->next_size : FIRST_SIZE;
        if (a->next_size < MAX_CHUNK)
            a->next_size = size * 2;
        if (n > size / 4) { /* a big request gets a chunk of its own; the
                               current chunk stays current */
            void *p = new_chunk(a, n)->data;
            memset(p, 0, n);
            return p;
        }
        struct arena_chunk *c = new_chunk(a, size);
        a->cur = (char *)c->data;
        a->left = size;
    }
    void *p = a->cur;
    a->cur += n;
    a->left -= n;
    memset(p, 0, n);
    return p;
#endif
}

void *arena_calloc(struct arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        abort();
    return arena_alloc(a, n * size);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        abort();
#ifdef ARENA_PER_ALLOC
    char *p = (char *)new_chunk(a, n + 1)->data;
#else
    size_t need = round_up(n + 1);
    char *p;
    if (need <= a->left) { /* the common case, without zeroing */
        p = a->cur;
        a->cur += need;
        a->left -= need;
    } else {
        p = arena_alloc(a, n + 1);
    }
#endif
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void *arena_grow(struct arena *a, const void *old, size_t old_n, size_t new_n, size_t size)
{
    void *p = arena_calloc(a, new_n, size);
    if (old_n > 0)
        memcpy(p, old, (old_n < new_n ? old_n : new_n) * size);
    return p;
}

void arena_release(struct arena *a)
{
    for (struct arena_chunk *c = a->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    *a = (struct arena)ARENA_INIT;
}
