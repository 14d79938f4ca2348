/* Digest set: open addressing keyed by the digest's leading hex, which is
 * already uniformly distributed. */
#include "store/digest_set.h"

#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

struct digest_set {
    struct digest *slots; /* hex[0] == '\0' marks an empty slot */
    size_t cap;           /* power of two */
    size_t count;
};

struct digest_set *digest_set_new(void)
{
    struct digest_set *set = xcalloc(1, sizeof(*set));
    set->cap = 64;
    set->slots = xcalloc(set->cap, sizeof(*set->slots));
    return set;
}

void digest_set_free(struct digest_set *set)
{
    if (set == NULL)
        return;
    free(set->slots);
    free(set);
}

void cleanup_digest_setp(struct digest_set **set)
{
    digest_set_free(*set);
    *set = NULL;
}

static size_t slot_of(const struct digest *d, size_t cap)
{
    size_t h = 0;
    for (int i = 0; i < 16 && d->hex[i]; i++)
        h = h * 16 + (size_t)(d->hex[i] <= '9' ? d->hex[i] - '0' : d->hex[i] - 'a' + 10);
    return h & (cap - 1);
}

static struct digest *find(const struct digest_set *set, const struct digest *d)
{
    size_t i = slot_of(d, set->cap);
    for (;;) {
        struct digest *s = &set->slots[i];
        if (s->hex[0] == '\0' || strcmp(s->hex, d->hex) == 0)
            return s;
        i = (i + 1) & (set->cap - 1);
    }
}

static void grow(struct digest_set *set)
{
    struct digest *old = set->slots;
    size_t old_cap = set->cap;
    set->cap *= 2;
    set->slots = xcalloc(set->cap, sizeof(*set->slots));
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].hex[0] != '\0')
            *find(set, &old[i]) = old[i];
    free(old);
}

int digest_set_add(struct digest_set *set, const struct digest *d)
{
    if ((set->count + 1) * 2 > set->cap)
        grow(set);
    struct digest *s = find(set, d);
    if (s->hex[0] != '\0')
        return 0;
    *s = *d;
    set->count++;
    return 1;
}

int digest_set_has(const struct digest_set *set, const struct digest *d)
{
    return find(set, d)->hex[0] != '\0';
}

size_t digest_set_count(const struct digest_set *set)
{
    return set->count;
}
