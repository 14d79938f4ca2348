/* The com.docker.compose.config-hash label: what `up` compares to decide
 * whether a running container still is its service. It covers the service's
 * normalised model (environment with env_file contents folded in, so an
 * env_file's content counts) and, for each secret and config the service
 * mounts, the top-level definition and a sha256 of its content: the file's
 * bytes, the environment variable's value, or content: itself. scale and
 * deploy.replicas are left out (how many containers, not what each is). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose/stack.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/json.h"
#include "util/strbuf.h"

/* "sha256:HEX" of a secret's or config's content, or a word saying why
 * there is none (the file is gone: up then fails on it anyway). */
static json_t *content_digest(const json_t *def)
{
    struct digest d;
    const char *file = json_get_str(def, "file");
    const char *envname = json_get_str(def, "environment");
    if (file != NULL) {
        cleanup_close int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || digest_file_fd(fd, &d, NULL, NULL) < 0)
            return json_string("unreadable");
    } else if (envname != NULL) {
        const char *val = getenv(envname);
        if (val == NULL)
            return json_string("unset");
        digest_bytes(val, strlen(val), &d);
    } else {
        return json_null(); /* content: is in the definition itself */
    }
    return json_sprintf("sha256:%s", d.hex);
}

/* {"secrets/NAME": {definition..., "digest": ...}, ...} for what svc mounts;
 * NULL when it mounts none. */
static json_t *mounted_files(const json_t *model, const json_t *svc)
{
    static const char *const kinds[] = {"secrets", "configs"};
    json_t *out = NULL;
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *ref;
        json_array_foreach(json_object_get(svc, kinds[k]), i, ref)
        {
            const char *src = json_get_str(ref, "source");
            json_t *def = json_object_get(json_object_get(model, kinds[k]), src);
            if (src == NULL || def == NULL)
                continue;
            if (out == NULL)
                out = json_object();
            json_t *e = json_deep_copy(def);
            json_object_set_new(e, "digest", content_digest(def));
            cleanup_free char *key = xasprintf("%s/%s", kinds[k], src);
            json_object_set_new(out, key, e);
        }
    }
    return out;
}

char *compose_config_hash(const struct compose_project *p, const char *service)
{
    const json_t *svc = json_object_get(json_object_get(p->model, "services"), service);
    json_t *copy = json_deep_copy(svc ? svc : json_null());
    json_object_del(copy, "scale");
    json_t *deploy = json_object_get(copy, "deploy");
    json_object_del(deploy, "replicas");
    if (deploy != NULL && json_object_size(deploy) == 0)
        json_object_del(copy, "deploy");
    json_t *files = mounted_files(p->model, svc);
    json_t *whole = copy;
    if (files != NULL) /* a service without any hashes as it always did */
        whole = json_pack("{s:o,s:o}", "service", copy, "files", files);
    cleanup_free char *text = json_dumps(whole, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(whole);
    struct digest d;
    digest_bytes(text ? text : "", text ? strlen(text) : 0, &d);
    return xstrdup(d.hex);
}
