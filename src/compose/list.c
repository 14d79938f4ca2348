/* A project's containers, found by their com.docker.compose.project label,
 * and stopping one of them. */
#include <stdlib.h>
#include <string.h>

#include "compose/stack.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static int by_service(const void *a, const void *b)
{
    const struct compose_ctr *x = a, *y = b;
    int c = strcmp(x->service, y->service);
    return c ? c : strcmp(x->name, y->name);
}

int compose_list(const char *root, const char *project, struct compose_ctr **out, size_t *n,
                 struct kiln_error **err)
{
    char **ids;
    size_t nids;
    *out = NULL;
    *n = 0;
    if (ctr_list(root, &ids, &nids, err) < 0)
        return -1;
    struct compose_ctr *v = NULL;
    size_t cnt = 0;
    for (size_t i = 0; i < nids; i++) {
        json_t *cfg = ctr_load_config(root, ids[i], NULL);
        json_t *labels = cfg ? json_object_get(cfg, "Labels") : NULL;
        const char *proj = json_get_str(labels, COMPOSE_LABEL_PROJECT);
        const char *svc = json_get_str(labels, COMPOSE_LABEL_SERVICE);
        if (proj == NULL || svc == NULL || strcmp(proj, project) != 0) {
            json_decref(cfg);
            continue;
        }
        v = xrealloc(v, (cnt + 1) * sizeof(*v));
        struct compose_ctr *c = &v[cnt++];
        c->id = xstrdup(ids[i]);
        const char *nm = json_get_str(cfg, "Name");
        c->name = xstrdup(nm ? nm : ids[i]);
        c->service = xstrdup(svc);
        c->cfg = cfg;
        c->state = ctr_load_state(root, ids[i], NULL);
        if (c->state == NULL)
            c->state = json_pack("{s:s}", "Status", "unknown");
    }
    ctr_list_free(ids, nids);
    if (cnt > 1)
        qsort(v, cnt, sizeof(*v), by_service);
    *out = v;
    *n = cnt;
    return 0;
}

void compose_list_free(struct compose_ctr *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].name);
        free(v[i].service);
        json_decref(v[i].cfg);
        json_decref(v[i].state);
    }
    free(v);
}

int compose_stop_ctr(const char *root, const struct compose_ctr *c, long timeout_s, int remove,
                     struct kiln_error **err)
{
    if (timeout_s < 0)
        timeout_s = json_get_int(c->cfg, "StopTimeout", 10);
    if (ctr_stop(root, c->id, timeout_s, err) < 0)
        return -1;
    /* a supervisor killed with kiln during `up` leaves a record that says
     * running: ctr_load_state (through ctr_stop) has repaired it */
    if (remove && ctr_remove(root, c->id, err) < 0)
        return -1;
    return 0;
}
