/* Docker credential helpers: the program docker-credential-NAME (found on
 * PATH) run as `get`, `store` or `erase`, with the request on stdin and a
 * JSON answer on stdout, as docker, podman and skopeo run them. */
#ifndef KILN_REGISTRY_CREDHELPER_H
#define KILN_REGISTRY_CREDHELPER_H

#include "util/error.h"

/* The credentials the helper holds for server (a key such as "127.0.0.1:5000"
 * or "https://index.docker.io/v1/"). None: 0 with *user NULL. */
int credhelper_get(const char *helper, const char *server, char **user, char **secret,
                   struct kiln_error **err);
int credhelper_store(const char *helper, const char *server, const char *user, const char *secret,
                     struct kiln_error **err);
/* KILN_E_NOTFOUND when the helper held nothing for server. */
int credhelper_erase(const char *helper, const char *server, struct kiln_error **err);

#endif
