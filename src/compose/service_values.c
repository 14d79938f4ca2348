/* The values of service keys that have a shape of their own (healthcheck,
 * depends_on, build, env_file, secrets/configs references, durations, sizes,
 * deploy, restart) in their long syntax, each checked with its file:line:column.
 * service.c decides which key goes where. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"
#include "compose/service_values.h"
#include "util/cleanup.h"
#include "util/human.h"
#include "util/json.h"

int compose_duration_value(struct compose_ctx *ctx, json_t *svc, const char *key, json_t *v,
                           struct kiln_error **err)
{
    cleanup_free char *s = compose_scalar_string(v);
    long long ns = s && !json_is_boolean(v) ? compose_parse_duration_ns(s) : -1;
    if (ns < 0)
        return compose_error_at(ctx, v, err, "%s: invalid duration \"%s\" (e.g. 30s, 1m30s, 500ms)",
                                key, s ? s : "");
    char out[HUMAN_DURATION_MAX];
    json_object_set_new(svc, key, json_string(human_duration(ns, out, sizeof(out))));
    return 0;
}

int compose_healthcheck_value(struct compose_ctx *ctx, json_t *svc, json_t *v,
                              struct kiln_error **err)
{
    if (!json_is_object(v))
        return compose_error_at(ctx, v, err, "healthcheck must be a mapping");
    json_t *hc = json_object();
    json_object_set_new(svc, "healthcheck", hc);
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        if (strcmp(k, "test") == 0) {
            json_t *t;
            if (json_is_string(val))
                t = json_pack("[ss]", "CMD-SHELL", json_string_value(val));
            else if ((t = compose_string_list(ctx, val, "healthcheck.test", err)) == NULL)
                return -1;
            const char *first = json_string_value(json_array_get(t, 0));
            if (first == NULL || (strcmp(first, "CMD") != 0 && strcmp(first, "CMD-SHELL") != 0 &&
                                  strcmp(first, "NONE") != 0)) {
                json_decref(t);
                return compose_error_at(ctx, val, err,
                                        "healthcheck.test must start with CMD, CMD-SHELL or NONE");
            }
            json_object_set_new(hc, "test", t);
        } else if (strcmp(k, "interval") == 0 || strcmp(k, "timeout") == 0 ||
                   strcmp(k, "start_period") == 0 || strcmp(k, "start_interval") == 0) {
            if (compose_duration_value(ctx, hc, k, val, err) < 0)
                return -1;
        } else if (strcmp(k, "retries") == 0) {
            if (!json_is_integer(val) || json_integer_value(val) < 0)
                return compose_error_at(ctx, val, err, "healthcheck.retries must be a number");
            json_object_set(hc, k, val);
        } else if (strcmp(k, "disable") == 0) {
            if (!json_is_boolean(val))
                return compose_error_at(ctx, val, err, "healthcheck.disable must be true or false");
            json_object_set(hc, k, val);
        } else if (strncmp(k, "x-", 2) != 0) {
            return compose_error_at(ctx, val, err, "healthcheck: unknown key \"%s\"", k);
        }
    }
    return 0;
}

int compose_depends_on_value(struct compose_ctx *ctx, json_t *svc, json_t *v,
                             struct kiln_error **err)
{
    json_t *out = json_object();
    json_object_set_new(svc, "depends_on", out);
    if (json_is_array(v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it)
        {
            if (!json_is_string(it))
                return compose_error_at(ctx, it, err, "depends_on: items must be service names");
            json_t *d = json_pack("{s:s,s:b}", "condition", "service_started", "required", 1);
            json_object_set_new(out, json_string_value(it), d);
            posmap_copy(&ctx->pos, d, it);
        }
        return 0;
    }
    if (!json_is_object(v))
        return compose_error_at(ctx, v, err, "depends_on must be a list or a mapping");
    const char *name;
    json_t *d;
    json_object_foreach(v, name, d)
    {
        if (!json_is_object(d))
            return compose_error_at(ctx, d, err, "depends_on.%s must be a mapping", name);
        json_t *cond = json_object_get(d, "condition");
        const char *c = cond ? json_string_value(cond) : "service_started";
        if (c == NULL || (strcmp(c, "service_started") != 0 && strcmp(c, "service_healthy") != 0 &&
                          strcmp(c, "service_completed_successfully") != 0))
            return compose_error_at(ctx, cond, err,
                                    "depends_on.%s.condition must be service_started, "
                                    "service_healthy or service_completed_successfully",
                                    name);
        json_t *req = json_object_get(d, "required");
        if (req && !json_is_boolean(req))
            return compose_error_at(ctx, req, err, "depends_on.%s.required must be true or false",
                                    name);
        json_t *n = json_pack("{s:s,s:b}", "condition", c, "required", req ? json_is_true(req) : 1);
        json_t *restart = json_object_get(d, "restart");
        if (restart)
            json_object_set(n, "restart", restart);
        json_object_set_new(out, name, n);
        posmap_copy(&ctx->pos, n, d);
    }
    return 0;
}

int compose_restart_value(struct compose_ctx *ctx, json_t *v, struct kiln_error **err)
{
    const char *s = json_string_value(v);
    if (s && (strcmp(s, "no") == 0 || strcmp(s, "always") == 0 ||
              strcmp(s, "unless-stopped") == 0 || strcmp(s, "on-failure") == 0))
        return 0;
    if (s && strncmp(s, "on-failure:", 11) == 0) {
        char *end;
        long n = strtol(s + 11, &end, 10);
        if (end != s + 11 && *end == '\0' && n >= 0)
            return 0;
    }
    return compose_error_at(ctx, v, err,
                            "restart must be no, always, unless-stopped or on-failure[:N], not %s",
                            s ? s : "a non-string");
}

/* secrets / configs of a service: "NAME" or {source, target, uid, gid, mode}. */
json_t *compose_file_refs(struct compose_ctx *ctx, json_t *v, const char *what,
                          struct kiln_error **err)
{
    if (!json_is_array(v)) {
        compose_error_at(ctx, v, err, "%s must be a list", what);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        json_t *e;
        if (json_is_string(it)) {
            e = json_pack("{s:O}", "source", it);
        } else if (json_is_object(it) && json_is_string(json_object_get(it, "source"))) {
            e = json_deep_copy(it);
            json_t *mode = json_object_get(it, "mode");
            if (mode && !(json_is_integer(mode) && json_integer_value(mode) >= 0 &&
                          json_integer_value(mode) <= 07777)) {
                json_decref(e);
                json_decref(out);
                compose_error_at(ctx, mode, err, "%s: mode must be a number such as 0440", what);
                return NULL;
            }
        } else {
            json_decref(out);
            compose_error_at(ctx, it, err, "%s: an item must be a name or a mapping with source",
                             what);
            return NULL;
        }
        posmap_copy(&ctx->pos, e, it);
        json_array_append_new(out, e);
    }
    return out;
}

int compose_build_value(struct compose_ctx *ctx, json_t *svc, json_t *v, struct kiln_error **err)
{
    json_t *b = json_object();
    json_object_set_new(svc, "build", b);
    if (json_is_string(v)) {
        cleanup_free char *abs = compose_resolve_path(ctx, json_string_value(v));
        json_object_set_new(b, "context", json_string(abs));
        json_object_set_new(b, "dockerfile", json_string("Dockerfile"));
        return 0;
    }
    if (!json_is_object(v))
        return compose_error_at(ctx, v, err, "build must be a path or a mapping");
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        if (strcmp(k, "context") == 0 || strcmp(k, "dockerfile") == 0 || strcmp(k, "target") == 0) {
            if (compose_want_string(ctx, val, k, err) < 0)
                return -1;
            if (strcmp(k, "context") == 0) {
                cleanup_free char *abs = compose_resolve_path(ctx, json_string_value(val));
                json_object_set_new(b, k, json_string(abs));
            } else {
                json_object_set(b, k, val);
            }
        } else if (strcmp(k, "args") == 0) {
            json_t *args = compose_kv_map(ctx, val, "build.args", 1, err);
            if (args == NULL)
                return -1;
            json_object_set_new(b, k, args);
        } else if (strcmp(k, "platforms") == 0 || strcmp(k, "cache_from") == 0 ||
                   strcmp(k, "cache_to") == 0 || strcmp(k, "tags") == 0) {
            json_t *l = compose_string_list(ctx, val, k, err);
            if (l == NULL)
                return -1;
            json_object_set_new(b, k, l);
        } else if (strcmp(k, "labels") == 0) {
            json_t *l = compose_kv_map(ctx, val, "build.labels", 0, err);
            if (l == NULL)
                return -1;
            json_object_set_new(b, k, l);
        } else if (strcmp(k, "network") == 0 || strcmp(k, "no_cache") == 0 ||
                   strcmp(k, "pull") == 0) {
            json_object_set(b, k, val);
        } else if (strncmp(k, "x-", 2) != 0) {
            return compose_error_at(ctx, val, err, "build: key \"%s\" is not supported by kiln", k);
        }
    }
    if (json_object_get(b, "context") == NULL)
        json_object_set_new(b, "context", json_string(ctx->dir));
    if (json_object_get(b, "dockerfile") == NULL)
        json_object_set_new(b, "dockerfile", json_string("Dockerfile"));
    return 0;
}

/* Reads env_file entries into the environment mapping (environment wins). */
int compose_env_files_value(struct compose_ctx *ctx, json_t *svc, json_t *v,
                            struct kiln_error **err)
{
    json_t *list = json_is_array(v) ? v : NULL;
    cleanup_json json_t *one = NULL;
    if (json_is_string(v) || json_is_object(v))
        list = one = json_pack("[O]", v);
    if (list == NULL)
        return compose_error_at(ctx, v, err, "env_file must be a path or a list");
    json_t *env = json_object_get(svc, "environment");
    cleanup_json json_t *from_files = json_object();
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        const char *path = json_is_string(it) ? json_string_value(it)
                                              : json_string_value(json_object_get(it, "path"));
        json_t *req = json_is_object(it) ? json_object_get(it, "required") : NULL;
        if (path == NULL)
            return compose_error_at(ctx, it, err, "env_file: an item must be a path");
        cleanup_free char *abs = compose_resolve_path(ctx, path);
        struct compose_env fe;
        compose_env_init(&fe);
        struct kiln_error *ferr = NULL;
        if (compose_env_read_file(&fe, abs, 1, &ferr) < 0) {
            compose_env_release(&fe);
            if (req && json_is_false(req) && ferr->errnum == ENOENT) {
                kiln_error_free(ferr);
                continue;
            }
            compose_error_at(ctx, it, err, "env_file: %s", ferr->msg);
            kiln_error_free(ferr);
            return -1;
        }
        for (size_t k = 0; k < fe.n; k++)
            json_object_set_new(from_files, fe.keys[k], json_string(fe.vals[k]));
        compose_env_release(&fe);
    }
    if (env) {
        const char *k;
        json_t *val;
        json_object_foreach(env, k, val) json_object_set(from_files, k, val);
    }
    json_object_set(svc, "environment", from_files);
    return 0;
}

int compose_bytes_value(struct compose_ctx *ctx, json_t *svc, const char *key, json_t *v,
                        struct kiln_error **err)
{
    cleanup_free char *s = compose_scalar_string(v);
    char *end;
    errno = 0;
    double n = s ? strtod(s, &end) : -1;
    if (s == NULL || json_is_boolean(v) || end == s || errno || n < 0)
        return compose_error_at(ctx, v, err, "%s: invalid size \"%s\" (e.g. 512m, 1g)", key,
                                s ? s : "");
    double mult = 1;
    switch (tolower((unsigned char)*end)) {
    case '\0':
        break;
    case 'b':
        break;
    case 'k':
        mult = 1024.0;
        break;
    case 'm':
        mult = 1024.0 * 1024;
        break;
    case 'g':
        mult = 1024.0 * 1024 * 1024;
        break;
    default:
        return compose_error_at(ctx, v, err, "%s: invalid size \"%s\" (e.g. 512m, 1g)", key, s);
    }
    if (*end && end[1] && !(tolower((unsigned char)end[1]) == 'b' && end[2] == '\0'))
        return compose_error_at(ctx, v, err, "%s: invalid size \"%s\" (e.g. 512m, 1g)", key, s);
    json_object_set_new(svc, key, json_integer((json_int_t)(n * mult)));
    return 0;
}

/* deploy: replicas is kept (how many up runs, see scale.c); the rest is swarm's and ignored with a
 * warning naming each key. */
int compose_deploy_value(struct compose_ctx *ctx, json_t *svc, json_t *v, struct kiln_error **err)
{
    if (!json_is_object(v))
        return compose_error_at(ctx, v, err, "deploy must be a mapping");
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        if (strcmp(k, "replicas") == 0) {
            if (!json_is_integer(val) || json_integer_value(val) < 0)
                return compose_error_key(ctx, v, k, err,
                                         "deploy.replicas must be a number of containers");
            json_object_set_new(svc, "deploy", json_pack("{s:O}", "replicas", val));
        } else if (strncmp(k, "x-", 2) != 0) {
            compose_warn_key(ctx, v, k, "service key \"deploy.%s\" is ignored by kiln", k);
        }
    }
    return 0;
}
