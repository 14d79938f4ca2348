/* ~/.docker/config.json: "auths" entries (lookup, store with mode 0600,
 * erase) and the credential helpers "credHelpers" (per registry) and
 * "credsStore" (all registries) name, which take precedence. What a helper
 * answers is cached for the process (push runs several clients). */
#include "registry/creds.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/auth.h"
#include "registry/credhelper.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

#define CREDS_MAX (4 << 20)

char *creds_path(const char *override)
{
    if (override != NULL && override[0] != '\0')
        return xstrdup(override);
    const char *dc = getenv("DOCKER_CONFIG");
    if (dc != NULL && dc[0] != '\0')
        return path_join(dc, "config.json");
    const char *home = getenv("HOME");
    return xasprintf("%s/.docker/config.json", home && home[0] ? home : "/root");
}

char *creds_registry_name(const char *key)
{
    const char *p = key;
    if (strncmp(p, "https://", 8) == 0)
        p += 8;
    else if (strncmp(p, "http://", 7) == 0)
        p += 7;
    char *h = xstrndup(p, strcspn(p, "/"));
    if (strcmp(h, "index.docker.io") == 0 || strcmp(h, "registry-1.docker.io") == 0) {
        free(h);
        h = xstrdup("docker.io");
    }
    return h;
}

char *creds_key(const char *registry)
{
    cleanup_free char *h = creds_registry_name(registry);
    if (strcmp(h, "docker.io") == 0)
        return xstrdup("https://index.docker.io/v1/");
    return steal_pointer(&h);
}

static json_t *load_config(const char *path, struct kiln_error **err)
{
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return json_object();
    json_t *j = json_load_path(path, CREDS_MAX, err);
    if (j == NULL)
        return NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        kiln_error_set(err, KILN_E_INVALID, "%s: not a JSON object", path);
        return NULL;
    }
    return j;
}

/* The key in auths that names registry, or NULL. */
static const char *find_key(json_t *auths, const char *registry)
{
    cleanup_free char *want = creds_registry_name(registry);
    const char *key;
    json_t *v;
    json_object_foreach(auths, key, v)
    {
        cleanup_free char *h = creds_registry_name(key);
        if (strcmp(h, want) == 0)
            return key;
    }
    return NULL;
}

/* The credential helper config.json names for registry, or NULL. */
static const char *helper_for(json_t *cfg, const char *registry)
{
    json_t *helpers = json_object_get(cfg, "credHelpers");
    if (json_is_object(helpers)) {
        const char *key = find_key(helpers, registry);
        const char *h = key ? json_string_value(json_object_get(helpers, key)) : NULL;
        if (h != NULL && h[0] != '\0')
            return h;
    }
    const char *store = json_get_str(cfg, "credsStore");
    return store != NULL && store[0] != '\0' ? store : NULL;
}

/* ---- what helpers answered, per (helper, registry) ---- */

struct cached {
    char *key; /* "helper registry" */
    char *user, *password;
    struct cached *next;
};
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache;

static struct cached *cache_find(const char *key)
{
    for (struct cached *c = cache; c != NULL; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

static void cache_forget(const char *helper, const char *registry)
{
    cleanup_free char *key = xasprintf("%s %s", helper, registry);
    pthread_mutex_lock(&cache_mu);
    for (struct cached **p = &cache; *p != NULL; p = &(*p)->next) {
        if (strcmp((*p)->key, key) == 0) {
            struct cached *c = *p;
            *p = c->next;
            free(c->key);
            free(c->user);
            if (c->password != NULL)
                explicit_bzero(c->password, strlen(c->password));
            free(c->password);
            free(c);
            break;
        }
    }
    pthread_mutex_unlock(&cache_mu);
}

static int helper_lookup(const char *helper, const char *registry, char **user, char **password,
                         struct kiln_error **err)
{
    cleanup_free char *key = xasprintf("%s %s", helper, registry);
    pthread_mutex_lock(&cache_mu);
    struct cached *c = cache_find(key);
    int ret = 0;
    if (c == NULL) {
        cleanup_free char *server = creds_key(registry);
        char *u = NULL, *p = NULL;
        ret = credhelper_get(helper, server, &u, &p, err);
        if (ret == 0) {
            c = xcalloc(1, sizeof(*c));
            c->key = steal_pointer(&key);
            c->user = u;
            c->password = p;
            c->next = cache;
            cache = c;
        }
    }
    if (ret == 0 && c->user != NULL) {
        *user = xstrdup(c->user);
        *password = xstrdup(c->password);
    }
    pthread_mutex_unlock(&cache_mu);
    return ret;
}

int creds_lookup(const char *path, const char *registry, char **user, char **password,
                 struct kiln_error **err)
{
    *user = *password = NULL;
    cleanup_json json_t *cfg = load_config(path, err);
    if (cfg == NULL)
        return -1;
    const char *helper = helper_for(cfg, registry);
    if (helper != NULL) {
        if (helper_lookup(helper, registry, user, password, err) < 0)
            return kiln_error_prefix(err, "credentials for %s (%s)", registry, path);
        if (*user != NULL)
            return 0;
    }
    json_t *auths = json_object_get(cfg, "auths");
    if (!json_is_object(auths))
        return 0;
    const char *key = find_key(auths, registry);
    if (key == NULL)
        return 0;
    json_t *e = json_object_get(auths, key);
    const char *b64 = json_get_str(e, "auth");
    if (b64 != NULL && b64[0] != '\0') {
        size_t n = 0;
        cleanup_free char *plain = base64_decode(b64, &n);
        char *colon = plain ? memchr(plain, ':', n) : NULL;
        if (colon == NULL)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "%s: the auth entry for %s is not base64 of user:password; "
                                  "run 'kiln login %s' again",
                                  path, registry, registry);
        *user = xstrndup(plain, (size_t)(colon - plain));
        *password = xstrdup(colon + 1);
        return 0;
    }
    const char *u = json_get_str(e, "username"), *p = json_get_str(e, "password");
    if (u != NULL && p != NULL) {
        *user = xstrdup(u);
        *password = xstrdup(p);
    }
    return 0;
}

static int save_config(const char *path, json_t *cfg, struct kiln_error **err)
{
    cleanup_free char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir_p(dir, 0700, err) < 0)
            return -1;
    }
    cleanup_free char *text = json_dumps(cfg, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (text == NULL)
        abort();
    return write_file_atomic(path, text, strlen(text), 0600, err);
}

int creds_store(const char *path, const char *registry, const char *user, const char *password,
                struct kiln_error **err)
{
    cleanup_json json_t *cfg = load_config(path, err);
    if (cfg == NULL)
        return -1;
    const char *helper = helper_for(cfg, registry);
    json_t *auths = json_object_get(cfg, "auths");
    if (helper != NULL) {
        /* The secret goes to the helper; an old entry in the file would
         * shadow nothing but could leak: drop it. */
        cleanup_free char *server = creds_key(registry);
        cache_forget(helper, registry);
        if (credhelper_store(helper, server, user, password, err) < 0)
            return -1;
        const char *old = json_is_object(auths) ? find_key(auths, registry) : NULL;
        if (old == NULL)
            return 0;
        json_object_del(auths, old);
        return save_config(path, cfg, err);
    }
    if (!json_is_object(auths)) {
        auths = json_object();
        json_object_set_new(cfg, "auths", auths);
    }
    const char *old = find_key(auths, registry);
    if (old != NULL)
        json_object_del(auths, old);
    cleanup_free char *plain = xasprintf("%s:%s", user, password);
    cleanup_free char *b64 = base64_encode(plain, strlen(plain));
    explicit_bzero(plain, strlen(plain));
    cleanup_free char *key = creds_key(registry);
    json_object_set_new(auths, key, json_pack("{s:s}", "auth", b64));
    return save_config(path, cfg, err);
}

int creds_erase(const char *path, const char *registry, struct kiln_error **err)
{
    cleanup_json json_t *cfg = load_config(path, err);
    if (cfg == NULL)
        return -1;
    const char *helper = helper_for(cfg, registry);
    int erased = 0;
    if (helper != NULL) {
        cleanup_free char *server = creds_key(registry);
        struct kiln_error *e = NULL;
        cache_forget(helper, registry);
        if (credhelper_erase(helper, server, &e) == 0)
            erased = 1;
        else if (e->code != KILN_E_NOTFOUND) {
            if (err != NULL && *err == NULL)
                *err = e;
            else
                kiln_error_free(e);
            return -1;
        } else
            kiln_error_free(e);
    }
    json_t *auths = json_object_get(cfg, "auths");
    const char *key = json_is_object(auths) ? find_key(auths, registry) : NULL;
    if (key == NULL)
        return erased ? 0 : kiln_error_set(err, KILN_E_NOTFOUND, "not logged in to %s", registry);
    json_object_del(auths, key);
    return save_config(path, cfg, err);
}
