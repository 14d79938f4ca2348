/* Registry mirrors for pulls: KILN_REGISTRY_MIRRORS="docker.io=mirror:5000,
 * quay.io=m2" (a bare "mirror:5000" means docker.io), else the first of
 * $KILN_MIRRORS_CONF, $XDG_CONFIG_HOME/kiln/mirrors.conf (or
 * ~/.config/kiln/mirrors.conf) and /etc/kiln/mirrors.conf that exists, with
 * lines "REGISTRY MIRROR [MIRROR...]" and # comments. */
#ifndef KILN_REGISTRY_MIRRORS_H
#define KILN_REGISTRY_MIRRORS_H

#include <stddef.h>

#include "util/error.h"

/* Mirrors for registry (e.g. "docker.io"), in order; *n may be 0. Free with
 * mirrors_free. env and conf_text are what the environment/file gave (NULL
 * when absent): exposed for tests. */
int mirrors_parse(const char *registry, const char *env, const char *conf_text, char ***out,
                  size_t *n, struct kiln_error **err);
/* The same, reading the environment and the config files. */
int mirrors_for(const char *registry, char ***out, size_t *n, struct kiln_error **err);
void mirrors_free(char **v, size_t n);

#endif
