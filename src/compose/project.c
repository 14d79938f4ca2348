/* A compose project: which files, which name, which variables; then the
 * files read, normalised and merged, and the whole checked before anything
 * may start (references, cycles, profiles, files, ports). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

extern char **environ;

static const char *const default_files[] = {"compose.yaml", "compose.yml", "docker-compose.yml",
                                            "docker-compose.yaml"};

long long compose_parse_duration_ns(const char *s)
{
    static const struct {
        const char *unit;
        long long ns;
    } units[] = {{"ns", 1},           {"us", 1000},         {"µs", 1000},          {"ms", 1000000},
                 {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
    char *end;
    if (*s == '\0')
        return -1;
    /* A bare number is seconds. */
    double bare = strtod(s, &end);
    if (*end == '\0')
        return bare < 0 ? -1 : (long long)(bare * 1e9 + 0.5);
    long long total = 0;
    while (*s) {
        double v = strtod(s, &end);
        if (end == s || v < 0)
            return -1;
        s = end;
        size_t best = 0;
        long long mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(s, units[i].unit, n) == 0 && n > best) {
                best = n;
                mult = units[i].ns;
            }
        }
        if (best == 0)
            return -1;
        total += (long long)(v * (double)mult + 0.5); /* 1.001s: 1001000000 */
        s += best;
    }
    return total;
}

/* The spec's project name: lower case letters, digits, '-' and '_', starting
 * with a letter or digit. */
static char *normalize_name(const char *in)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    for (const char *c = in; *c; c++) {
        int ch = tolower((unsigned char)*c);
        if (isalnum(ch) || ((ch == '-' || ch == '_') && sb.len > 0))
            strbuf_addc(&sb, (char)ch);
    }
    return strbuf_detach(&sb);
}

static char *dir_of(const char *path)
{
    char resolved[PATH_MAX];
    if (realpath(path, resolved) == NULL)
        return NULL;
    char *slash = strrchr(resolved, '/');
    if (slash == resolved)
        return xstrdup("/");
    return xstrndup(resolved, (size_t)(slash - resolved));
}

static int find_default_file(const char *dir, char **out, struct kiln_error **err)
{
    for (size_t i = 0; i < sizeof(default_files) / sizeof(default_files[0]); i++) {
        cleanup_free char *p = xasprintf("%s/%s", dir, default_files[i]);
        char resolved[PATH_MAX];
        if (access(p, F_OK) == 0 && realpath(p, resolved)) {
            *out = xstrdup(resolved);
            return 0;
        }
    }
    return kiln_error_set(err, KILN_E_NOTFOUND,
                          "no compose file in %s (compose.yaml, compose.yml, docker-compose.yml); "
                          "name one with -f",
                          dir);
}

static int active(const json_t *svc, const char *const *profiles, size_t n, const char *env_prof)
{
    json_t *list = json_object_get(svc, "profiles");
    if (json_array_size(list) == 0)
        return 1;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        const char *name = json_string_value(p);
        for (size_t j = 0; j < n; j++)
            if (strcmp(profiles[j], name) == 0 || strcmp(profiles[j], "*") == 0)
                return 1;
        if (n == 0 && env_prof) {
            cleanup_free char *copy = xstrdup(env_prof);
            for (char *tok = copy, *next; tok; tok = next) {
                next = strchr(tok, ',');
                if (next)
                    *next++ = '\0';
                if (strcmp(tok, name) == 0 || strcmp(tok, "*") == 0)
                    return 1;
            }
        }
    }
    return 0;
}

/* depth-first: 1 in progress, 2 done. */
static int visit(struct compose_ctx *ctx, json_t *services, const char *name, json_t *marks,
                 struct strbuf *path, struct kiln_error **err)
{
    json_int_t m = json_integer_value(json_object_get(marks, name));
    if (m == 2)
        return 0;
    if (m == 1)
        return compose_error_at(ctx, json_object_get(services, name), err,
                                "dependency cycle: %s -> %s", path->buf, name);
    json_object_set_new(marks, name, json_integer(1));
    size_t len = path->len;
    strbuf_addf(path, "%s%s", len ? " -> " : "", name);
    const char *dep;
    json_t *d;
    json_object_foreach(json_object_get(json_object_get(services, name), "depends_on"), dep, d)
    {
        if (visit(ctx, services, dep, marks, path, err) < 0)
            return -1;
    }
    strbuf_setlen(path, len);
    json_object_set_new(marks, name, json_integer(2));
    return 0;
}

static int check_refs(struct compose_ctx *ctx, json_t *model, const char *svc_name, json_t *svc,
                      const char *key, struct kiln_error **err)
{
    json_t *top = json_object_get(model, key);
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(svc, key), i, ref)
    {
        const char *src = json_string_value(json_object_get(ref, "source"));
        if (strcmp(key, "volumes") == 0) {
            const char *type = json_string_value(json_object_get(ref, "type"));
            if (src == NULL || strcmp(type, "volume") != 0)
                continue;
        }
        json_t *def = json_object_get(top, src);
        if (def == NULL)
            return compose_error_at(ctx, ref, err, "service \"%s\" refers to undefined %.*s \"%s\"",
                                    svc_name, (int)strlen(key) - 1, key, src);
        const char *file = json_string_value(json_object_get(def, "file"));
        if (file && access(file, R_OK) != 0)
            return compose_error_at(ctx, def, err, "%.*s \"%s\": file %s: %s", (int)strlen(key) - 1,
                                    key, src, file, strerror(errno));
        if (strcmp(key, "volumes") != 0 && file == NULL &&
            json_object_get(def, "environment") == NULL && json_object_get(def, "content") == NULL)
            return compose_error_at(ctx, def, err, "%.*s \"%s\" needs file, environment or content",
                                    (int)strlen(key) - 1, key, src);
    }
    return 0;
}

int compose_check_project(struct compose_ctx *ctx, json_t *model, const char *const *profiles,
                          size_t n_profiles, struct kiln_error **err)
{
    json_t *services = json_object_get(model, "services");
    if (json_object_size(services) == 0)
        return kiln_error_set(err, KILN_E_INVALID, "%s: no services", ctx->files[0]);
    const char *env_prof = getenv("COMPOSE_PROFILES");
    const char *name;
    json_t *svc;
    void *tmp;
    json_object_foreach_safe(services, tmp, name, svc)
    {
        if (!active(svc, profiles, n_profiles, env_prof))
            json_object_del(services, name);
    }
    json_object_foreach(services, name, svc)
    {
        if (json_object_get(svc, "image") == NULL && json_object_get(svc, "build") == NULL)
            return compose_error_at(ctx, svc, err, "service \"%s\" has neither image nor build",
                                    name);
        const char *dep;
        json_t *d;
        json_object_foreach(json_object_get(svc, "depends_on"), dep, d)
        {
            if (json_object_get(services, dep) == NULL)
                return compose_error_at(
                    ctx, d, err, "service \"%s\" depends on undefined service \"%s\"", name, dep);
        }
        if (check_refs(ctx, model, name, svc, "volumes", err) < 0 ||
            check_refs(ctx, model, name, svc, "secrets", err) < 0 ||
            check_refs(ctx, model, name, svc, "configs", err) < 0)
            return -1;
    }
    cleanup_json json_t *marks = json_object();
    struct strbuf path = STRBUF_INIT;
    strbuf_init(&path);
    int rc = 0;
    json_object_foreach(services, name, svc)
    {
        if ((rc = visit(ctx, services, name, marks, &path, err)) < 0)
            break;
    }
    strbuf_release(&path);
    return rc;
}

static void ctx_release(struct compose_ctx *ctx)
{
    compose_env_release(&ctx->env);
    posmap_release(&ctx->pos);
    for (size_t i = 0; i < ctx->n_files; i++)
        free(ctx->files[i]);
    free(ctx->files);
    for (size_t i = 0; i < ctx->n_warnings; i++)
        free(ctx->warnings[i]);
    free(ctx->warnings);
}

static int load_env(struct compose_ctx *ctx, const struct compose_opts *o, struct kiln_error **err)
{
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        cleanup_free char *k = xstrndup(*e, (size_t)(eq - *e));
        compose_env_set(&ctx->env, k, eq + 1, 1);
    }
    /* The environment wins: files only add what it does not set. */
    if (o->n_env_files == 0) {
        cleanup_free char *dotenv = xasprintf("%s/.env", ctx->dir);
        if (access(dotenv, F_OK) == 0)
            return compose_env_read_file(&ctx->env, dotenv, 0, err);
        return 0;
    }
    for (size_t i = 0; i < o->n_env_files; i++)
        if (compose_env_read_file(&ctx->env, o->env_files[i], 0, err) < 0)
            return -1;
    return 0;
}

/* Volumes, secrets and configs a project makes are named PROJECT_NAME unless
 * they say otherwise or are external. */
static void finish_top(json_t *model, const char *key, const char *project)
{
    const char *name;
    json_t *def;
    json_object_foreach(json_object_get(model, key), name, def)
    {
        if (json_object_get(def, "name") || json_is_true(json_object_get(def, "external")))
            continue;
        cleanup_free char *full = xasprintf("%s_%s", project, name);
        json_object_set_new(def, "name", json_string(full));
    }
}

int compose_load(const struct compose_opts *o, struct compose_project **out,
                 struct kiln_error **err)
{
    struct compose_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    compose_env_init(&ctx.env);
    cleanup_free char *first = NULL;
    if (o->n_files == 0 && find_default_file(o->dir ? o->dir : ".", &first, err) < 0)
        return -1;
    const char *first_file = o->n_files ? o->files[0] : first;
    cleanup_free char *dir = dir_of(first_file);
    if (dir == NULL)
        return kiln_error_errno(err, errno, "%s", first_file);
    ctx.dir = dir;
    json_t *model = NULL;
    cleanup_free char *name = NULL;
    int rc = -1;
    if (load_env(&ctx, o, err) < 0)
        goto out;
    model = json_object();
    for (size_t i = 0; i < (o->n_files ? o->n_files : 1); i++) {
        json_t *doc = compose_yaml_load(&ctx, o->n_files ? o->files[i] : first, err);
        if (doc == NULL || compose_normalize_file(&ctx, doc, err) < 0) {
            json_decref(doc);
            goto out;
        }
        compose_merge(model, doc);
        json_decref(doc);
    }
    const char *pname = o->project_name ? o->project_name : getenv("COMPOSE_PROJECT_NAME");
    if (pname == NULL || *pname == '\0')
        pname = json_string_value(json_object_get(model, "name"));
    if (pname == NULL || *pname == '\0')
        pname = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    name = normalize_name(pname);
    if (*name == '\0') {
        kiln_error_set(err, KILN_E_INVALID,
                       "project name \"%s\" has no letter or digit; give one with -p", pname);
        goto out;
    }
    json_object_set_new(model, "name", json_string(name));
    if (compose_check_project(&ctx, model, o->profiles, o->n_profiles, err) < 0)
        goto out;
    finish_top(model, "volumes", name);
    finish_top(model, "secrets", name);
    finish_top(model, "configs", name);
    struct compose_project *p = xcalloc(1, sizeof(*p));
    p->name = steal_pointer(&name);
    p->dir = steal_pointer(&dir);
    p->model = steal_pointer(&model);
    p->warnings = steal_pointer(&ctx.warnings);
    p->n_warnings = ctx.n_warnings;
    ctx.n_warnings = 0;
    *out = p;
    rc = 0;
out:
    json_decref(model);
    ctx_release(&ctx);
    return rc;
}

void compose_project_free(struct compose_project *p)
{
    if (p == NULL)
        return;
    free(p->name);
    free(p->dir);
    json_decref(p->model);
    for (size_t i = 0; i < p->n_warnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    free(p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **compose_start_order(const struct compose_project *p, size_t *n)
{
    json_t *services = json_object_get(p->model, "services");
    size_t total = json_object_size(services), done = 0;
    const char **names = xcalloc(total + 1, sizeof(*names));
    const char **order = xcalloc(total + 1, sizeof(*order));
    size_t i = 0;
    const char *name;
    json_t *svc;
    json_object_foreach(services, name, svc) names[i++] = name;
    qsort(names, total, sizeof(*names), cmp_str);
    /* Kahn's algorithm over sorted names: the order is the same every time.
     * The project was checked for cycles, so every round places one. */
    while (done < total) {
        size_t before = done;
        for (i = 0; i < total; i++) {
            if (names[i] == NULL)
                continue;
            int ready = 1;
            const char *dep;
            json_t *d;
            json_object_foreach(json_object_get(json_object_get(services, names[i]), "depends_on"),
                                dep, d)
            {
                for (size_t j = 0; j < total && ready; j++)
                    if (names[j] && strcmp(names[j], dep) == 0)
                        ready = 0;
            }
            if (ready) {
                order[done++] = names[i];
                names[i] = NULL;
                break;
            }
        }
        if (done == before)
            break;
    }
    free(names);
    *n = done;
    return order;
}

int compose_check_ports(const struct compose_project *p, struct kiln_error **err)
{
    json_t *services = json_object_get(p->model, "services");
    cleanup_json json_t *host = json_object();
    cleanup_json json_t *inside = json_object();
    size_t n;
    cleanup_free const char **order = compose_start_order(p, &n);
    for (size_t s = 0; s < n; s++) {
        json_t *svc = json_object_get(services, order[s]);
        size_t i;
        json_t *port;
        json_array_foreach(json_object_get(svc, "ports"), i, port)
        {
            const char *proto = json_string_value(json_object_get(port, "protocol"));
            cleanup_free char *in = xasprintf(
                "%lld/%s", (long long)json_integer_value(json_object_get(port, "target")), proto);
            const char *other = json_string_value(json_object_get(inside, in));
            if (other && strcmp(other, order[s]) != 0)
                return kiln_error_set(err, KILN_E_INVALID,
                                      "services \"%s\" and \"%s\" both listen on port %s: a "
                                      "project is one pod, they would collide",
                                      other, order[s], in);
            json_object_set_new(inside, in, json_string(order[s]));
            const char *pub = json_string_value(json_object_get(port, "published"));
            if (pub == NULL)
                continue;
            cleanup_free char *h = xasprintf("%s/%s", pub, proto);
            other = json_string_value(json_object_get(host, h));
            if (other)
                return kiln_error_set(err, KILN_E_INVALID,
                                      "services \"%s\" and \"%s\" both publish host port %s", other,
                                      order[s], h);
            json_object_set_new(host, h, json_string(order[s]));
        }
    }
    return 0;
}
