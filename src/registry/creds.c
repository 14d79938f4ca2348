/* ~/.docker/config.json "auths": lookup, store (mode 0600), erase. */
#include "registry/creds.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/auth.h"
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

/* "https://index.docker.io/v1/" -> "docker.io", "http://h:5000/v2/" -> "h:5000". */
static char *normalize_host(const char *key)
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
    cleanup_free char *h = normalize_host(registry);
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
    cleanup_free char *want = normalize_host(registry);
    const char *key;
    json_t *v;
    json_object_foreach(auths, key, v)
    {
        cleanup_free char *h = normalize_host(key);
        if (strcmp(h, want) == 0)
            return key;
    }
    return NULL;
}

int creds_lookup(const char *path, const char *registry, char **user, char **password,
                 struct kiln_error **err)
{
    *user = *password = NULL;
    cleanup_json json_t *cfg = load_config(path, err);
    if (cfg == NULL)
        return -1;
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
    json_t *auths = json_object_get(cfg, "auths");
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
    json_t *auths = json_object_get(cfg, "auths");
    const char *key = json_is_object(auths) ? find_key(auths, registry) : NULL;
    if (key == NULL)
        return kiln_error_set(err, KILN_E_NOTFOUND, "not logged in to %s", registry);
    json_object_del(auths, key);
    return save_config(path, cfg, err);
}
