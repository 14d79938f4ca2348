/* A string set with linear probing and tombstones; keys are copied. */
#include "store/layer_pathset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

static char tombstone[1];

struct pathset {
    char **slot;
    size_t cap, used, live; /* used counts tombstones too */
};

static uint64_t hash(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

struct pathset *pathset_new(void)
{
    struct pathset *s = xcalloc(1, sizeof(*s));
    s->cap = 64;
    s->slot = xcalloc(s->cap, sizeof(*s->slot));
    return s;
}

void pathset_free(struct pathset *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i] != NULL && s->slot[i] != tombstone)
            free(s->slot[i]);
    free(s->slot);
    free(s);
}

static int key_eq(const char *k, const char *p, size_t len)
{
    return strncmp(k, p, len) == 0 && k[len] == '\0';
}

/* Slot holding the key, or SIZE_MAX. */
static size_t find(const struct pathset *s, const char *p, size_t len)
{
    size_t mask = s->cap - 1;
    for (size_t i = hash(p, len) & mask;; i = (i + 1) & mask) {
        if (s->slot[i] == NULL)
            return SIZE_MAX;
        if (s->slot[i] != tombstone && key_eq(s->slot[i], p, len))
            return i;
    }
}

static void grow(struct pathset *s)
{
    char **old = s->slot;
    size_t oldcap = s->cap;
    s->cap = s->live * 4 > 64 ? s->live * 4 : 64;
    size_t c = 64;
    while (c < s->cap)
        c *= 2;
    s->cap = c;
    s->slot = xcalloc(s->cap, sizeof(*s->slot));
    s->used = s->live;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i] == NULL || old[i] == tombstone)
            continue;
        size_t j = hash(old[i], strlen(old[i])) & (s->cap - 1);
        while (s->slot[j] != NULL)
            j = (j + 1) & (s->cap - 1);
        s->slot[j] = old[i];
    }
    free(old);
}

void pathset_add(struct pathset *s, const char *p, size_t len)
{
    if (find(s, p, len) != SIZE_MAX)
        return;
    if ((s->used + 1) * 2 > s->cap)
        grow(s);
    size_t mask = s->cap - 1;
    size_t i = hash(p, len) & mask;
    while (s->slot[i] != NULL && s->slot[i] != tombstone)
        i = (i + 1) & mask;
    if (s->slot[i] == NULL)
        s->used++;
    s->slot[i] = xstrndup(p, len);
    s->live++;
}

void pathset_remove(struct pathset *s, const char *p, size_t len)
{
    size_t i = find(s, p, len);
    if (i == SIZE_MAX)
        return;
    free(s->slot[i]);
    s->slot[i] = tombstone;
    s->live--;
}

int pathset_has(const struct pathset *s, const char *p, size_t len)
{
    return find(s, p, len) != SIZE_MAX;
}

size_t pathset_count(const struct pathset *s)
{
    return s->live;
}
