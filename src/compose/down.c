/* compose down: the project's containers (found by label, so what a killed
 * `up` left is found too), its pod, its copied secrets, and with -v its
 * volumes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/stack.h"
#include "net/net.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

int compose_down(const char *root, const struct compose_project *p, int volumes, int remove_orphans,
                 struct kiln_error **err)
{
    struct compose_ctr *cs;
    size_t n;
    if (compose_list(root, p->name, &cs, &n, err) < 0)
        return -1;
    const json_t *services = json_object_get(p->model, "services");
    int ret = 0, orphans_left = 0;
    /* dependents first: the reverse of the start order */
    size_t n_order;
    cleanup_free const char **order = compose_start_order(p, &n_order);
    for (size_t pass = 0; pass <= n_order; pass++) {
        /* pass < n_order: the service order[n_order-1-pass]; last pass: the rest
         * (orphans, one-off `run` containers) */
        const char *svc = pass < n_order ? order[n_order - 1 - pass] : NULL;
        for (size_t i = 0; i < n; i++) {
            struct compose_ctr *c = &cs[i];
            if (c->id == NULL || (svc != NULL && strcmp(c->service, svc) != 0))
                continue;
            int orphan = json_object_get(services, c->service) == NULL;
            if (orphan && !remove_orphans) {
                fprintf(stderr,
                        "warning: container %s is an orphan of project %s (service %s is "
                        "not in the compose file); --remove-orphans removes it\n",
                        c->name, p->name, c->service);
                orphans_left = 1;
            } else {
                long t = orphan ? 10 : compose_stop_timeout(json_object_get(services, c->service));
                struct kiln_error *e = NULL;
                if (compose_stop_ctr(root, c, t, 1, &e) < 0) {
                    fprintf(stderr, "kiln: %s: %s\n", c->name, e->msg);
                    kiln_error_free(e);
                    ret = -1;
                } else {
                    fprintf(stderr, " Container %s  Removed\n", c->name);
                }
            }
            free(c->id);
            c->id = NULL;
        }
    }
    compose_list_free(cs, n);
    if (ret < 0)
        return kiln_error_set(err, KILN_E_FAIL, "project %s: some containers could not be removed",
                              p->name);

    cleanup_free char *pod = compose_pod_name(p->name);
    json_t *pj = pod_load(root, pod, NULL);
    if (pj != NULL && orphans_left) {
        fprintf(stderr, "warning: pod %s is kept for the orphans\n", pod);
    } else if (pj != NULL) {
        if (pod_remove(root, pod, err) < 0) {
            json_decref(pj);
            return -1;
        }
        fprintf(stderr, " Pod %s  Removed\n", pod);
    }
    json_decref(pj);

    cleanup_free char *files = xasprintf("%s/compose/%s", root, p->name);
    if (rm_rf(files, err) < 0)
        return -1;

    if (volumes) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)json_object_get(p->model, "volumes"), k, v)
        {
            if (json_is_true(json_object_get(v, "external")))
                continue;
            const char *name = json_get_str(v, "name");
            cleanup_free char *dir = xasprintf("%s/volumes/%s", root, name ? name : k);
            if (path_exists(dir)) {
                if (rt_rootless_rm_rf(dir, err) < 0)
                    return -1;
                fprintf(stderr, " Volume %s  Removed\n", name ? name : k);
            }
        }
        /* anonymous volumes: PROJECT_SERVICE_anonI, replicas' PROJECT_SERVICE_anonI_N */
        json_object_foreach((json_t *)services, k, v)
        {
            size_t i;
            json_t *vol;
            json_array_foreach(json_object_get(v, "volumes"), i, vol)
            {
                const char *src = json_get_str(vol, "source");
                const char *type = json_get_str(vol, "type");
                if (type == NULL || strcmp(type, "volume") != 0 || (src != NULL && src[0]))
                    continue;
                cleanup_free char *dir = xasprintf("%s/volumes/%s_%s_anon%zu", root, p->name, k, i);
                if (rt_rootless_rm_rf(dir, err) < 0)
                    return -1;
                for (long n = 2; n <= COMPOSE_MAX_REPLICAS; n++) {
                    cleanup_free char *rd = xasprintf("%s_%ld", dir, n);
                    if (rt_rootless_rm_rf(rd, err) < 0)
                        return -1;
                }
            }
        }
    }
    return 0;
}
