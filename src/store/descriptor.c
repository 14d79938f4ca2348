/* OCI content descriptors: {"mediaType","digest","size"} and back. */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

void descriptor_release(struct descriptor *d)
{
    free(d->media_type);
    memset(d, 0, sizeof(*d));
}

void descriptor_copy(struct descriptor *dst, const struct descriptor *src)
{
    *dst = *src;
    dst->media_type = src->media_type ? xstrdup(src->media_type) : NULL;
}

json_t *descriptor_to_json(const struct descriptor *d)
{
    char buf[DIGEST_STR_LEN + 1];
    return json_pack("{s:s, s:s, s:I}", "mediaType", d->media_type ? d->media_type : "", "digest",
                     digest_str(&d->digest, buf), "size", (json_int_t)d->size);
}

int descriptor_from_json(const json_t *j, struct descriptor *out, const char *what,
                         struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(j))
        return kiln_error_set(err, KILN_E_INVALID, "%s: descriptor is not an object", what);
    const char *mt = json_string_value(json_object_get(j, "mediaType"));
    const char *dg = json_string_value(json_object_get(j, "digest"));
    json_t *size = json_object_get(j, "size");
    if (mt == NULL || mt[0] == '\0')
        return kiln_error_set(err, KILN_E_INVALID, "%s: descriptor without mediaType", what);
    if (dg == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "%s: descriptor without digest", what);
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return kiln_error_set(err, KILN_E_INVALID, "%s: descriptor %s without a valid size", what,
                              dg);
    if (digest_parse(dg, &out->digest, err) < 0)
        return kiln_error_prefix(err, "%s", what);
    out->size = (uint64_t)json_integer_value(size);
    out->media_type = xstrdup(mt);
    return 0;
}
