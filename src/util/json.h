/* JSON output helpers over jansson. Every document kiln writes (config,
 * manifest, index) goes through json_dump_canonical so the same object gives
 * the same bytes on any machine: compact, keys sorted, no trailing newline. */
#ifndef KILN_UTIL_JSON_H
#define KILN_UTIL_JSON_H

#include <jansson.h>

#include "util/error.h"

/* Allocated; caller frees. Aborts on allocation failure. */
char *json_dump_canonical(const json_t *v);
/* Parses bytes (not necessarily NUL-terminated); errors name `what`. */
json_t *json_parse_bytes(const char *data, size_t len, const char *what, struct kiln_error **err);
json_t *json_load_path(const char *path, size_t max, struct kiln_error **err);
/* Typed getters: NULL / default when missing or of another type. */
const char *json_get_str(const json_t *obj, const char *key);
json_int_t json_get_int(const json_t *obj, const char *key, json_int_t dflt);

/* An object's keys in strcmp order, NULL-terminated, *n of them (n may be
 * NULL). The array is allocated (free it); the keys are the object's. An
 * object that is not one gives no keys. */
const char **json_sorted_keys(const json_t *obj, size_t *n);

void cleanup_jsonp(json_t **v);
#define cleanup_json __attribute__((cleanup(cleanup_jsonp)))

#endif
