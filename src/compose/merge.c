/* Several compose files into one model, by the Compose Specification's merge
 * rules: mappings merge key by key; command, entrypoint and healthcheck.test
 * are replaced; ports, volumes, secrets and configs merge by their identity
 * (a later file's entry replaces the earlier one with the same key); other
 * sequences append. Both sides are already in long syntax. */
#include <string.h>

#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

static int replaced(const char *key)
{
    return strcmp(key, "command") == 0 || strcmp(key, "entrypoint") == 0 ||
           strcmp(key, "test") == 0;
}

/* The identity a sequence entry merges by; NULL: append. */
static char *entry_key(const char *seq, const json_t *e)
{
    if (strcmp(seq, "ports") == 0)
        return xasprintf("%s|%s|%lld|%s", json_string_value(json_object_get(e, "host_ip")) ?: "",
                         json_string_value(json_object_get(e, "published")) ?: "",
                         (long long)json_integer_value(json_object_get(e, "target")),
                         json_string_value(json_object_get(e, "protocol")) ?: "tcp");
    if (strcmp(seq, "volumes") == 0)
        return xstrdup(json_string_value(json_object_get(e, "target")) ?: "");
    if (strcmp(seq, "secrets") == 0 || strcmp(seq, "configs") == 0) {
        const char *t = json_string_value(json_object_get(e, "target"));
        return xstrdup(t ? t : json_string_value(json_object_get(e, "source")) ?: "");
    }
    if (strcmp(seq, "expose") == 0 || strcmp(seq, "cap_add") == 0 || strcmp(seq, "cap_drop") == 0 ||
        strcmp(seq, "profiles") == 0 || strcmp(seq, "tmpfs") == 0)
        return json_is_string(e) ? xstrdup(json_string_value(e)) : NULL;
    return NULL;
}

static void merge_sequence(const char *key, json_t *base, json_t *over)
{
    size_t i;
    json_t *o;
    json_array_foreach(over, i, o)
    {
        cleanup_free char *ok = entry_key(key, o);
        int done = 0;
        if (ok) {
            size_t j;
            json_t *b;
            json_array_foreach(base, j, b)
            {
                cleanup_free char *bk = entry_key(key, b);
                if (bk && strcmp(bk, ok) == 0) {
                    json_array_set(base, j, o);
                    done = 1;
                    break;
                }
            }
        }
        if (!done)
            json_array_append(base, o);
    }
}

void compose_merge(json_t *base, json_t *over)
{
    const char *k;
    json_t *ov;
    json_object_foreach(over, k, ov)
    {
        json_t *bv = json_object_get(base, k);
        if (bv && json_is_object(bv) && json_is_object(ov))
            compose_merge(bv, ov);
        else if (bv && json_is_array(bv) && json_is_array(ov) && !replaced(k))
            merge_sequence(k, bv, ov);
        else
            json_object_set(base, k, ov);
    }
}
