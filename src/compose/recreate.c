/* Which running containers `up` replaces, and stopping them before anything
 * starts again. A container is recreated when its service changed (its
 * com.docker.compose.config-hash label differs from the file's, see hash.c)
 * or with --force-recreate. The services that depend on a recreated one
 * (any depends_on entry naming it) are restarted with it, as Docker Compose
 * v2 does (docker/compose#12122: it stops a diverged service's dependents
 * before recreating it, whatever their entry's `restart:` says, and starts
 * them again; `restart: true` is for `compose restart`): the dependents are
 * stopped first (last in start order first), the dependency replaced, and
 * everything started again in dependency order by up's start loop, each
 * waiting for its conditions. A restart does not cascade: a restarted
 * service is unchanged, its own dependents keep running. `compose restart
 * SERVICE` is where `restart: true` counts (compose_restart_set). */
#include <stdio.h>
#include <string.h>

#include "compose/stack.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* 1 when the container's recorded config hash is not the service's now. */
static int recorded_hash_differs(const char *root, const char *id, const struct compose_project *p,
                                 const char *service)
{
    json_t *cfg = ctr_load_config(root, id, NULL);
    const char *had = json_get_str(json_object_get(cfg, "Labels"), COMPOSE_LABEL_CONFIG_HASH);
    cleanup_free char *now = compose_config_hash(p, service);
    int differs = had == NULL || strcmp(had, now) != 0;
    json_decref(cfg);
    return differs;
}

/* 1 when one of svc's depends_on entries names a service in replaced. */
static int restarts_with(const json_t *svc, const json_t *replaced)
{
    const char *dep;
    json_t *dv;
    json_object_foreach((json_t *)json_object_get(svc, "depends_on"), dep, dv)
    {
        if (json_object_get(replaced, dep))
            return 1;
    }
    return 0;
}

json_t *compose_recreate_plan(const char *root, const struct compose_project *p,
                              const char *const *order, size_t n, const json_t *counts, int force,
                              int never)
{
    json_t *plan = json_object();
    if (never)
        return plan;
    json_t *replaced = json_object();
    const json_t *services = json_object_get(p->model, "services");
    for (size_t i = 0; i < n; i++) {
        const char *name = order[i];
        json_t *cnt = json_object_get(counts, name);
        if (!json_is_integer(cnt))
            continue; /* not selected */
        int restart = restarts_with(json_object_get(services, name), replaced);
        for (long k = 1; k <= (long)json_integer_value(cnt); k++) {
            cleanup_free char *cname = compose_ctr_name_n(p->name, name, k);
            cleanup_free char *id = NULL;
            if (ctr_find(root, cname, &id, NULL) < 0)
                continue; /* created, not replaced */
            json_t *s = ctr_load_state(root, id, NULL);
            const char *status = s ? json_get_str(s, "Status") : NULL;
            int running = status && strcmp(status, "running") == 0;
            json_decref(s);
            int changed = force || recorded_hash_differs(root, id, p, name);
            if (changed) /* a stopped one: up removes and starts it again anyway */
                json_object_set_new(replaced, name, json_true());
            if (running && (changed || restart))
                json_object_set_new(plan, cname, json_string(changed ? "Recreate" : "Restart"));
        }
    }
    json_decref(replaced);
    return plan;
}

int compose_recreate_stop(const char *root, const struct compose_project *p,
                          const char *const *order, size_t n, const json_t *plan,
                          struct kiln_error **err)
{
    if (json_object_size(plan) == 0)
        return 0;
    struct compose_ctr *cs;
    size_t nc;
    if (compose_list(root, p->name, &cs, &nc, err) < 0)
        return -1;
    const json_t *services = json_object_get(p->model, "services");
    int r = 0;
    for (size_t i = n; i-- > 0 && r == 0;) {
        long t = compose_stop_timeout(json_object_get(services, order[i]));
        for (size_t k = 0; k < nc && r == 0; k++) {
            const char *why = json_get_str(plan, cs[k].name);
            if (why == NULL || strcmp(cs[k].service, order[i]) != 0)
                continue;
            fprintf(stderr, " Container %s  %s\n", cs[k].name, why);
            r = compose_stop_ctr(root, &cs[k], t, 1, err);
        }
    }
    compose_list_free(cs, nc);
    return r;
}

json_t *compose_restart_set(const struct compose_project *p, const char *const *services, size_t n)
{
    json_t *set = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(set, services[i], json_true());
    const json_t *all = json_object_get(p->model, "services");
    /* to a fixed point: a dependent's own restart: true dependents too */
    for (size_t before = 0; before != json_object_size(set);) {
        before = json_object_size(set);
        const char *name;
        json_t *svc;
        json_object_foreach((json_t *)all, name, svc)
        {
            const char *dep;
            json_t *dv;
            json_object_foreach(json_object_get(svc, "depends_on"), dep, dv)
            {
                if (json_is_true(json_object_get(dv, "restart")) && json_object_get(set, dep))
                    json_object_set_new(set, name, json_true());
            }
        }
    }
    return set;
}
