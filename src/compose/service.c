/* One compose file's services into their long syntax, key by key: what the
 * spec allows in two shapes (ports "8000:80", environment lists, volumes
 * "./d:/d:ro", depends_on lists ...) becomes the one shape `docker compose
 * config` prints, types are checked with the value's file:line:column, and
 * keys kiln cannot honour are refused or reported. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"
#include "compose/service_values.h"
#include "util/cleanup.h"
#include "util/json.h"

/* Keys of the spec kiln does not run. Ignoring these would change what runs:
 * an error. */
static const char *const refused_keys[] = {
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "device_cgroup_rules",
    "devices",
    "ipc",
    "isolation",
    "pid",
    "privileged",
    "runtime",
    "security_opt",
    "storage_opt",
    "sysctls",
    "ulimits",
    "userns_mode",
    "uts",
    "volumes_from",
    "group_add",
    "oom_kill_disable",
    "extends",
    "gpus",
    "credential_spec",
};
/* Ignoring these leaves the containers doing the same work: a warning. */
static const char *const ignored_keys[] = {
    "container_name",
    "develop",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "external_links",
    "extra_hosts",
    "hostname",
    "links",
    "logging",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "networks",
    "oom_score_adj",
    "pids_limit",
    "pull_policy",
    "shm_size",
    "stdin_open",
    "tty",
    "cpu_shares",
    "cpu_quota",
    "cpu_period",
    "cpuset",
    "cpu_count",
    "cpu_percent",
    "attach",
    "annotations",
    "post_start",
    "pre_stop",
    "cpu_rt_runtime",
    "cpu_rt_period",
};

static int in_list(const char *const *list, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], key) == 0)
            return 1;
    return 0;
}
#define IN(list, key) in_list(list, sizeof(list) / sizeof(list[0]), key)

static int normalize_key(struct compose_ctx *ctx, const json_t *in, json_t *svc, const char *k,
                         json_t *v, struct kiln_error **err)
{
    json_t *n = NULL;
    if (strcmp(k, "image") == 0 || strcmp(k, "user") == 0 || strcmp(k, "working_dir") == 0 ||
        strcmp(k, "stop_signal") == 0 || strcmp(k, "network_mode") == 0 ||
        strcmp(k, "platform") == 0) {
        if (compose_want_string(ctx, v, k, err) < 0)
            return -1;
        if (strcmp(k, "working_dir") == 0 && json_string_value(v)[0] != '/')
            return compose_error_at(ctx, v, err, "working_dir must be an absolute path");
        json_object_set(svc, k, v);
        return 0;
    }
    if (strcmp(k, "read_only") == 0 || strcmp(k, "init") == 0) {
        if (!json_is_boolean(v))
            return compose_error_key(ctx, in, k, err, "%s must be true or false", k);
        json_object_set(svc, k, v);
        return 0;
    }
    if (strcmp(k, "command") == 0 || strcmp(k, "entrypoint") == 0)
        n = compose_command_value(ctx, v, k, err);
    else if (strcmp(k, "environment") == 0 || strcmp(k, "labels") == 0)
        n = compose_kv_map(ctx, v, k, strcmp(k, "environment") == 0, err);
    else if (strcmp(k, "ports") == 0)
        n = compose_ports_value(ctx, v, err);
    else if (strcmp(k, "expose") == 0 || strcmp(k, "cap_add") == 0 || strcmp(k, "cap_drop") == 0 ||
             strcmp(k, "profiles") == 0 || strcmp(k, "tmpfs") == 0)
        n = compose_string_list(ctx, v, k, err);
    else if (strcmp(k, "volumes") == 0)
        n = compose_volumes_value(ctx, v, err);
    else if (strcmp(k, "secrets") == 0 || strcmp(k, "configs") == 0)
        n = compose_file_refs(ctx, v, k, err);
    else if (strcmp(k, "healthcheck") == 0)
        return compose_healthcheck_value(ctx, svc, v, err);
    else if (strcmp(k, "depends_on") == 0)
        return compose_depends_on_value(ctx, svc, v, err);
    else if (strcmp(k, "build") == 0)
        return compose_build_value(ctx, svc, v, err);
    else if (strcmp(k, "stop_grace_period") == 0)
        return compose_duration_value(ctx, svc, k, v, err);
    else if (strcmp(k, "mem_limit") == 0)
        return compose_bytes_value(ctx, svc, k, v, err);
    else if (strcmp(k, "deploy") == 0)
        return compose_deploy_value(ctx, svc, v, err);
    else if (strcmp(k, "scale") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return compose_error_key(ctx, in, k, err, "scale must be a number of containers");
        json_object_set(svc, k, v);
        return 0;
    } else if (strcmp(k, "restart") == 0) {
        if (compose_restart_value(ctx, v, err) < 0)
            return -1;
        json_object_set(svc, k, v);
        return 0;
    } else if (strcmp(k, "cpus") == 0) {
        cleanup_free char *s = compose_scalar_string(v);
        char *end;
        double c = s ? strtod(s, &end) : 0;
        if (s == NULL || json_is_boolean(v) || end == s || *end || c <= 0)
            return compose_error_at(ctx, v, err, "cpus must be a positive number");
        json_object_set_new(svc, k, json_real(c));
        return 0;
    } else if (strcmp(k, "env_file") == 0)
        return 0; /* read after environment: see compose_normalize_service */
    else if (strncmp(k, "x-", 2) == 0)
        return 0;
    else if (IN(refused_keys, k))
        return compose_error_key(ctx, in, k, err,
                                 "service key \"%s\" is not supported by kiln (ignoring it would "
                                 "change what runs)",
                                 k);
    else if (IN(ignored_keys, k)) {
        compose_warn_key(ctx, in, k, "service key \"%s\" is ignored by kiln", k);
        return 0;
    } else
        return compose_error_key(ctx, in, k, err, "unknown service key \"%s\"", k);
    if (n == NULL)
        return -1;
    json_object_set_new(svc, k, n);
    return 0;
}

static int normalize_service(struct compose_ctx *ctx, const char *name, json_t *in, json_t **out,
                             struct kiln_error **err)
{
    if (!json_is_object(in))
        return compose_error_at(ctx, in, err, "service \"%s\" must be a mapping", name);
    json_t *svc = json_object();
    posmap_copy(&ctx->pos, svc, in);
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        if (normalize_key(ctx, in, svc, k, v, err) < 0) {
            json_decref(svc);
            return -1;
        }
    }
    json_t *env_file = json_object_get(in, "env_file");
    if (env_file && compose_env_files_value(ctx, svc, env_file, err) < 0) {
        json_decref(svc);
        return -1;
    }
    *out = svc;
    return 0;
}

/* Top-level volumes/secrets/configs: mappings of names to mappings (or null). */
static int normalize_top(struct compose_ctx *ctx, json_t *doc, const char *key,
                         struct kiln_error **err)
{
    json_t *v = json_object_get(doc, key);
    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return compose_error_at(ctx, v, err, "%s must be a mapping", key);
    const char *name;
    json_t *def;
    json_t *out = json_object();
    json_object_foreach(v, name, def)
    {
        if (json_is_null(def)) {
            json_object_set_new(out, name, json_object());
            continue;
        }
        if (!json_is_object(def)) {
            json_decref(out);
            return compose_error_at(ctx, def, err, "%s.%s must be a mapping", key, name);
        }
        json_t *d = json_deep_copy(def);
        posmap_copy(&ctx->pos, d, def);
        const char *file = json_string_value(json_object_get(def, "file"));
        if (strcmp(key, "volumes") != 0 && file) {
            cleanup_free char *abs = compose_resolve_path(ctx, file);
            json_object_set_new(d, "file", json_string(abs));
        }
        json_object_set_new(out, name, d);
    }
    json_object_set_new(doc, key, out);
    return 0;
}

int compose_normalize_file(struct compose_ctx *ctx, json_t *doc, struct kiln_error **err)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(doc, tmp, k, v)
    {
        if (strcmp(k, "services") == 0 || strcmp(k, "volumes") == 0 || strcmp(k, "secrets") == 0 ||
            strcmp(k, "configs") == 0 || strncmp(k, "x-", 2) == 0)
            continue;
        if (strcmp(k, "name") == 0) {
            if (compose_want_string(ctx, v, "name", err) < 0)
                return -1;
            continue;
        }
        if (strcmp(k, "version") == 0 || strcmp(k, "networks") == 0) {
            compose_warn_at(ctx, v,
                            strcmp(k, "version") == 0
                                ? "\"version\" is obsolete and ignored"
                                : "\"networks\" is ignored: a project is one pod, its services "
                                  "reach each other by name on 127.0.0.1");
            json_object_del(doc, k);
            continue;
        }
        return compose_error_at(ctx, v, err, "unknown top-level key \"%s\"%s", k,
                                strcmp(k, "include") == 0 ? " (include is not supported by kiln)"
                                                          : "");
    }
    if (normalize_top(ctx, doc, "volumes", err) < 0 ||
        normalize_top(ctx, doc, "secrets", err) < 0 || normalize_top(ctx, doc, "configs", err) < 0)
        return -1;
    json_t *services = json_object_get(doc, "services");
    if (services == NULL)
        return 0;
    if (!json_is_object(services))
        return compose_error_at(ctx, services, err, "services must be a mapping");
    json_t *out = json_object();
    const char *name;
    json_object_foreach(services, name, v)
    {
        int ok = name[0] != '\0';
        for (const char *c = name; ok && *c; c++)
            ok = isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.';
        if (!ok || !isalnum((unsigned char)name[0])) {
            json_decref(out);
            return compose_error_at(
                ctx, v, err, "invalid service name \"%s\" (letters, digits, '-', '_', '.')", name);
        }
        json_t *svc = NULL;
        if (normalize_service(ctx, name, v, &svc, err) < 0) {
            json_decref(out);
            return -1;
        }
        json_object_set_new(out, name, svc);
    }
    json_object_set_new(doc, "services", out);
    return 0;
}
