/* Internal to the layer codec: a set of path strings (open addressing), used
 * to remember which paths an archive made symlinks or created. */
#ifndef KILN_STORE_LAYER_PATHSET_H
#define KILN_STORE_LAYER_PATHSET_H

#include <stddef.h>

struct pathset;

struct pathset *pathset_new(void);
void pathset_free(struct pathset *s);
void pathset_add(struct pathset *s, const char *path, size_t len);
void pathset_remove(struct pathset *s, const char *path, size_t len);
int pathset_has(const struct pathset *s, const char *path, size_t len);
size_t pathset_count(const struct pathset *s);

#endif
