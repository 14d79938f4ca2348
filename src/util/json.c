/* Canonical JSON dumps and checked parsing. */
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

char *json_dump_canonical(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (s == NULL)
        abort();
    return s;
}

json_t *json_parse_bytes(const char *data, size_t len, const char *what, struct kiln_error **err)
{
    json_error_t je;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL)
        kiln_error_set(err, KILN_E_INVALID, "%s: invalid JSON at line %d column %d: %s", what,
                       je.line, je.column, je.text);
    return v;
}

json_t *json_load_path(const char *path, size_t max, struct kiln_error **err)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    if (read_file(path, max, &data, &len, err) < 0)
        return NULL;
    return json_parse_bytes(data, len, path, err);
}

const char *json_get_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_int_t json_get_int(const json_t *obj, const char *key, json_int_t dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

void cleanup_jsonp(json_t **v)
{
    if (*v != NULL)
        json_decref(*v);
    *v = NULL;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **json_sorted_keys(const json_t *obj, size_t *n)
{
    size_t count = json_object_size(obj), k = 0;
    const char **keys = xcalloc(count + 1, sizeof(*keys));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) keys[k++] = key;
    qsort(keys, k, sizeof(*keys), key_cmp);
    if (n != NULL)
        *n = k;
    return keys;
}
