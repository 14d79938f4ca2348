/* An image from the store made ready to launch: its layers' snapshots
 * (unpacked by the store when missing) held and given as overlay lower dirs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/binfmt.h"
#include "runtime/image.h"
#include "runtime/runtime.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/platform.h"
#include "util/strbuf.h"

struct unpack_ctx {
    struct store *store;
    const struct image_layer *layer;
};

static int unpack_layer(void *ctx, struct kiln_error **err)
{
    struct unpack_ctx *u = ctx;
    char *p = NULL;
    int r = store_snapshot_ensure(u->store, u->layer, &p, err);
    free(p);
    return r;
}

/* store_snapshot_ensure, but a rootless user unpacks a missing snapshot in
 * its user namespace, where the layer's files get their owners (a snapshot
 * is shared by every later run and build). */
static int snapshot_ensure(struct store *s, const struct image_layer *l, char **p,
                           struct kiln_error **err)
{
    if (geteuid() != 0 && store_snapshot_has(s, &l->diffid) != 1) {
        rt_rootless_owners_note();
        struct unpack_ctx u = {s, l};
        if (rt_rootless_call(unpack_layer, &u, err) < 0)
            return -1;
    }
    return store_snapshot_ensure(s, l, p, err);
}

int run_image_open(const char *root, const char *name, struct run_image *ri, struct launch_opts *o,
                   struct kiln_error **err)
{
    memset(ri, 0, sizeof(*ri));
    if (store_open_reader(root, &ri->store, err) < 0)
        return -1;
    struct platform want;
    if (o->platform != NULL &&
        (platform_parse(o->platform, &want, err) < 0 || platform_check_buildable(&want, err) < 0))
        return -1;
    if (store_image_load_platform(ri->store, name, o->platform ? &want : NULL, &ri->img, err) < 0)
        return -1;
    /* a foreign image runs under QEMU: its binfmt_misc handler must be there */
    struct platform have;
    if (platform_from_json(ri->img->config_json, &have) == 0 && binfmt_ensure(&have, err) < 0)
        return kiln_error_prefix(err, "image %s", name);
    size_t n = ri->img->n_layers;
    ri->lowerdirs = xcalloc(n + 1, sizeof(char *));
    ri->holds = xcalloc(n + 1, sizeof(int));
    for (size_t i = 0; i < n; i++)
        ri->holds[i] = -1;
    ri->n_lowerdirs = n;
    for (size_t i = 0; i < n; i++) {
        const struct image_layer *l = &ri->img->layers[i];
        /* The hold keeps prune off the snapshot for as long as this process
         * (for -d: the supervisor, which inherits it) lives, even where prune
         * cannot see the container's mounts (another pid namespace). A prune
         * that won the race removed it: unpack it again, once. */
        for (int attempt = 0; attempt < 2 && ri->holds[i] < 0; attempt++) {
            char *p = NULL;
            if (snapshot_ensure(ri->store, l, &p, err) < 0)
                return kiln_error_prefix(err, "image %s", name);
            free(ri->lowerdirs[n - 1 - i]);
            ri->lowerdirs[n - 1 - i] = p; /* overlay wants the top layer first */
            struct kiln_error *e = NULL;
            ri->holds[i] = store_snapshot_hold(ri->store, &l->diffid, &e);
            if (ri->holds[i] < 0 && (attempt == 1 || e->code != KILN_E_NOTFOUND)) {
                *err = e;
                return kiln_error_prefix(err, "image %s", name);
            }
            kiln_error_free(e);
        }
    }
    ri->image_id = xasprintf("sha256:%s", ri->img->config.digest.hex);
    o->image = name;
    o->image_id = ri->image_id;
    o->image_config = json_object_get(ri->img->config_json, "config");
    o->lowerdirs = (const char *const *)ri->lowerdirs;
    o->n_lowerdirs = n;
    if (n == 0)
        return kiln_error_set(err, KILN_E_INVALID, "image %s has no layers to run", name);
    return 0;
}

void run_image_close(struct run_image *ri)
{
    for (size_t i = 0; i < ri->n_lowerdirs; i++) {
        free(ri->lowerdirs[i]);
        if (ri->holds[i] >= 0)
            close(ri->holds[i]);
    }
    free(ri->lowerdirs);
    free(ri->holds);
    free(ri->image_id);
    if (ri->img)
        image_free(ri->img);
    if (ri->store)
        store_close(ri->store);
    memset(ri, 0, sizeof(*ri));
}
