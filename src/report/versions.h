/* The version report of an image, read statically from its layers (no
 * container is started): Debian packages from /var/lib/dpkg/status, Python
 * distributions from dist-info METADATA / egg-info PKG-INFO in the usual site
 * directories (first on sys.path wins, as for `pip list`), the image's labels and
 * the baked /etc/dataenv/versions.conf. `kiln versions` prints it. */
#ifndef KILN_REPORT_VERSIONS_H
#define KILN_REPORT_VERSIONS_H

#include <jansson.h>
#include <stddef.h>

#include "store/store.h"
#include "util/error.h"

/* Report of the image `what` names (see store_image_load): a JSON object
 * {"image", "id", "labels": {}, "config": {}, "toolchains": {}, "debian": {},
 * "python": {}}, each map name -> version sorted by name. "toolchains" repeats the
 * Debian versions of the language toolchains installed (python3, rustc, cargo,
 * rustfmt, rust-clippy). Unpacks missing snapshots. */
struct platform;
/* want: the image of an index to read (NULL: this machine's). */
int versions_of_image(struct store *s, const char *what, const struct platform *want, json_t **out,
                      struct kiln_error **err);

/* The same from layer directories in overlay-whiteout form (character device
 * 0/0 = deleted, trusted.overlay.opaque=y = opaque directory), bottom layer
 * first. Fills "config", "toolchains", "debian" and "python" of report. */
int versions_from_layers(const char *const *dirs, size_t n, json_t *report,
                         struct kiln_error **err);

/* Parsers, exposed for tests. Each adds name -> version to `into`. */
void versions_parse_dpkg_status(const char *buf, size_t len, json_t *into);
/* Name and Version headers of a METADATA / PKG-INFO file; 0 when both found. */
int versions_parse_metadata(const char *buf, size_t len, char **name, char **version);
/* KEY=VALUE lines (comments and blank lines skipped). */
void versions_parse_conf(const char *buf, size_t len, json_t *into);

#endif
