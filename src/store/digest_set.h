/* A set of digests (open addressing on the first bytes of the hash): the
 * reachability sets of prune and fsck, and the roots others add to them. */
#ifndef KILN_STORE_DIGEST_SET_H
#define KILN_STORE_DIGEST_SET_H

#include <stddef.h>

#include "util/digest.h"

struct digest_set;

struct digest_set *digest_set_new(void);
void digest_set_free(struct digest_set *set);
/* Returns 1 if d was added, 0 if it was already there. */
int digest_set_add(struct digest_set *set, const struct digest *d);
int digest_set_has(const struct digest_set *set, const struct digest *d);
size_t digest_set_count(const struct digest_set *set);

void cleanup_digest_setp(struct digest_set **set);
#define cleanup_digest_set __attribute__((cleanup(cleanup_digest_setp)))

#endif
