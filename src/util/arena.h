/* A bump allocator: many small allocations carved out of a few large chunks,
 * all freed at once by arena_release. For data that lives and dies together
 * (a Dockerfile's syntax tree, one expanded build step).
 *
 * Under AddressSanitizer (gcc's __SANITIZE_ADDRESS__ or clang's
 * __has_feature(address_sanitizer)) every allocation is its own malloc
 * block, chained for arena_release: ASan's redzones then catch an overflow
 * of any single allocation, and a forgotten arena_release shows up as a
 * leak, exactly as with plain malloc. Allocation failure aborts. */
#ifndef KILN_UTIL_ARENA_H
#define KILN_UTIL_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *chunks; /* newest first */
    char *cur;                  /* free space of the newest chunk */
    size_t left;
    size_t next_size; /* size of the next chunk */
};

#define ARENA_INIT                                                                                 \
    {                                                                                              \
        NULL, NULL, 0, 0                                                                           \
    }

/* Starts a with the caller's buffer (e.g. inside the object the arena
 * belongs to) as its first chunk; arena_release does not free it. Saves the
 * malloc of the first chunk for small arenas. Ignored under ASan. */
void arena_init_buf(struct arena *a, void *buf, size_t size);
/* n bytes, zeroed, aligned for any object. */
void *arena_alloc(struct arena *a, size_t n);
/* n objects of size bytes, zeroed (overflow-checked). */
void *arena_calloc(struct arena *a, size_t n, size_t size);
/* Copies s[0..n) and adds a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* A copy of old (old_n objects) in room for new_n objects; the rest zeroed. */
void *arena_grow(struct arena *a, const void *old, size_t old_n, size_t new_n, size_t size);
/* Frees everything allocated from a; a is empty (and reusable) afterwards. */
void arena_release(struct arena *a);

#endif
