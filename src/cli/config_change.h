/* `--change` for import: Dockerfile config instructions (CMD, ENTRYPOINT,
 * ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL) applied to the
 * "config" object of an OCI image config, like `docker import --change`. */
#ifndef KILN_CLI_CONFIG_CHANGE_H
#define KILN_CLI_CONFIG_CHANGE_H

#include <jansson.h>

#include "util/error.h"

/* Applies one instruction to cfg (the image config's "config" object).
 * Unknown or malformed instructions are KILN_E_USAGE naming the text. */
int config_apply_change(json_t *cfg, const char *change, struct kiln_error **err);

#endif
