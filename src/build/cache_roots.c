/* The build cache's blobs as garbage-collection roots, for `kiln prune`. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>

#include "build/build.h"
#include "build/cache.h"
#include "store/digest_set.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

int build_cache_add_roots(void *ctx, struct store *s, struct digest_set *roots,
                          struct kiln_error **err)
{
    (void)ctx;
    cleanup_free char *dir = xasprintf("%s/cache/keys", store_root(s));
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : kiln_error_errno(err, errno, "open %s", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct digest key;
        if (digest_parse_hex(de->d_name, &key) < 0)
            continue;
        struct cache_entry e;
        cleanup_error struct kiln_error *lerr = NULL;
        cleanup_free char *path = xasprintf("%s/cache/keys/%s", store_root(s), key.hex);
        cleanup_json json_t *j = json_load_path(path, 1 << 16, &lerr);
        const char *dg = j ? json_get_str(json_object_get(j, "layer"), "digest") : NULL;
        if (dg != NULL && digest_parse(dg, &e.digest, &lerr) == 0)
            digest_set_add(roots, &e.digest);
    }
    return 0;
}
