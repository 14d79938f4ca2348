/* Registry credentials in Docker's config.json format: "auths" maps a registry
 * to {"auth": base64("user:password")}. kiln reads the entries Docker,
 * podman and skopeo write and writes its own with file mode 0600. When the
 * file names a credential helper for a registry ("credHelpers", else
 * "credsStore"), lookups ask it first and store/erase go through it. */
#ifndef KILN_REGISTRY_CREDS_H
#define KILN_REGISTRY_CREDS_H

#include "util/error.h"

/* The credentials file: `override` if set, else $DOCKER_CONFIG/config.json,
 * else $HOME/.docker/config.json. Allocated. */
char *creds_path(const char *override);

/* A registry's name as kiln compares it: scheme and path dropped, Docker
 * Hub's aliases -> "docker.io" ("https://index.docker.io/v1/" -> "docker.io",
 * "http://h:5000/v2/" -> "h:5000"). Allocated. */
char *creds_registry_name(const char *key);

/* The key kiln stores a registry under: "https://index.docker.io/v1/" for
 * Docker Hub (as docker login does), else host[:port]. Allocated. */
char *creds_key(const char *registry);

/* Finds the entry for registry (keys compared after dropping a scheme and a
 * path, with Docker Hub's aliases). No file or no entry: 0 with *user NULL. */
int creds_lookup(const char *path, const char *registry, char **user, char **password,
                 struct kiln_error **err);
int creds_store(const char *path, const char *registry, const char *user, const char *password,
                struct kiln_error **err);
/* KILN_E_NOTFOUND when there was no entry for registry. */
int creds_erase(const char *path, const char *registry, struct kiln_error **err);

#endif
