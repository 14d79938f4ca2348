/* kiln kube generate: an image's config (or a container's record) as a
 * Deployment of one replica and a Service, shaped like podman kube generate's:
 * ports, env the container adds to the image's, user, working dir, command,
 * and the HEALTHCHECK as exec probes (liveness; startup for its start period). */
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

static long long ns_field(const json_t *hc, const char *key, long long def)
{
    const json_t *v = json_object_get(hc, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : def;
}

/* Whole seconds, rounded up, at least 1. */
static long long secs(long long ns)
{
    long long s = (ns + 999999999LL) / 1000000000LL;
    return s < 1 ? 1 : s;
}

static int add_probes(struct kube_node *c, const json_t *hc, struct kiln_error **err)
{
    const json_t *test = json_object_get(hc, "Test");
    if (!json_is_array(test) || json_array_size(test) == 0)
        return 0;
    const char *how = json_string_value(json_array_get(test, 0));
    if (how == NULL || strcmp(how, "NONE") == 0)
        return 0;
    struct kube_node *cmd = kube_seq();
    if (strcmp(how, "CMD-SHELL") == 0) {
        kube_push(cmd, kube_str("/bin/sh"));
        kube_push(cmd, kube_str("-c"));
    } else if (strcmp(how, "CMD") != 0) {
        kube_node_free(cmd);
        return kiln_error_set(err, KILN_E_INVALID,
                              "HEALTHCHECK test \"%s\": CMD or CMD-SHELL expected", how);
    }
    for (size_t i = 1; i < json_array_size(test); i++) {
        const char *a = json_string_value(json_array_get(test, i));
        if (a == NULL) {
            kube_node_free(cmd);
            return kiln_error_set(err, KILN_E_INVALID, "HEALTHCHECK test: a non-string argument");
        }
        kube_push(cmd, kube_str(a));
    }
    /* docker's defaults: 30s, 30s, 3 retries, no start period */
    long long interval = ns_field(hc, "Interval", 30000000000LL);
    long long timeout = ns_field(hc, "Timeout", 30000000000LL);
    long long start = ns_field(hc, "StartPeriod", 0),
              start_interval = ns_field(hc, "StartInterval", 0);
    const json_t *r = json_object_get(hc, "Retries");
    long long retries = json_is_integer(r) && json_integer_value(r) > 0 ? json_integer_value(r) : 3;
    if (start > 0) {
        /* the window in which docker would not yet call it unhealthy */
        long long period = secs(start_interval > 0 ? start_interval : interval);
        long long window = (start + retries * interval + 999999999LL) / 1000000000LL;
        struct kube_node *p = kube_set(c, "startupProbe", kube_map());
        struct kube_node *e = kube_set(p, "exec", kube_map());
        struct kube_node *copy = kube_set(e, "command", kube_seq());
        for (size_t i = 0; i < cmd->n; i++)
            kube_push(copy, kube_str(cmd->items[i]->str));
        kube_set(p, "periodSeconds", kube_int(period));
        kube_set(p, "timeoutSeconds", kube_int(secs(timeout)));
        kube_set(p, "failureThreshold", kube_int((window + period - 1) / period));
    }
    struct kube_node *p = kube_set(c, "livenessProbe", kube_map());
    kube_set(kube_set(p, "exec", kube_map()), "command", cmd);
    kube_set(p, "periodSeconds", kube_int(secs(interval)));
    kube_set(p, "timeoutSeconds", kube_int(secs(timeout)));
    kube_set(p, "failureThreshold", kube_int(retries));
    return 0;
}

static struct kube_node *str_seq(const json_t *arr, size_t from)
{
    struct kube_node *s = kube_seq();
    for (size_t i = from; i < json_array_size(arr); i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        kube_push(s, kube_str(v ? v : ""));
    }
    return s;
}

/* argv begins with every element of prefix. */
static int starts_with(const json_t *argv, const json_t *prefix)
{
    if (json_array_size(argv) < json_array_size(prefix))
        return 0;
    for (size_t i = 0; i < json_array_size(prefix); i++)
        if (!json_equal(json_array_get(argv, i), json_array_get(prefix, i)))
            return 0;
    return 1;
}

static int env_in(const json_t *env, const char *entry)
{
    for (size_t i = 0; i < json_array_size(env); i++) {
        const char *e = json_string_value(json_array_get(env, i));
        if (e != NULL && strcmp(e, entry) == 0)
            return 1;
    }
    return 0;
}

/* USER "uid[:gid]" as numbers; a user name cannot be said in a pod spec. */
static void add_user(struct kube_node *c, const char *user)
{
    if (user == NULL || *user == '\0')
        return;
    char *end;
    long long uid = strtoll(user, &end, 10);
    if (end == user || (*end != '\0' && *end != ':') || uid < 0 || uid > 2147483647LL)
        return;
    struct kube_node *sc = kube_set(c, "securityContext", kube_map());
    kube_set(sc, "runAsUser", kube_int(uid));
    if (*end == ':') {
        char *gend;
        long long gid = strtoll(end + 1, &gend, 10);
        if (gend != end + 1 && *gend == '\0' && gid >= 0 && gid <= 2147483647LL)
            kube_set(sc, "runAsGroup", kube_int(gid));
    }
    if (uid != 0)
        kube_set(sc, "runAsNonRoot", kube_bool(1));
}

static void add_ports(struct kube_node *c, const json_t *exposed)
{
    const char *key;
    const json_t *v;
    struct kube_node *ports = NULL;
    json_object_foreach((json_t *)exposed, key, v)
    {
        (void)v;
        char *end;
        long port = strtol(key, &end, 10);
        if (end == key || port < 1 || port > 65535)
            continue;
        const char *proto = *end == '/' ? end + 1 : "tcp";
        if (ports == NULL)
            ports = kube_set(c, "ports", kube_seq());
        struct kube_node *p = kube_push(ports, kube_map());
        kube_set(p, "containerPort", kube_int(port));
        kube_set(p, "protocol",
                 kube_str(strcmp(proto, "udp") == 0    ? "UDP"
                          : strcmp(proto, "sctp") == 0 ? "SCTP"
                                                       : "TCP"));
    }
}

static struct kube_node *labels(const char *name)
{
    struct kube_node *m = kube_map();
    kube_set(m, "app", kube_str(name));
    return m;
}

static int service(const struct kube_generate_opts *o, const struct kube_node *ports,
                   struct kube_node **out, struct kiln_error **err)
{
    if (ports == NULL)
        return kiln_error_set(
            err, KILN_E_INVALID,
            "--service: %s exposes no ports (EXPOSE), so a Service has none to serve", o->image);
    struct kube_node *svc = kube_map();
    kube_set(svc, "apiVersion", kube_str("v1"));
    kube_set(svc, "kind", kube_str("Service"));
    struct kube_node *meta = kube_set(svc, "metadata", kube_map());
    kube_set(meta, "name", kube_str(o->name));
    kube_set(meta, "labels", labels(o->name));
    struct kube_node *spec = kube_set(svc, "spec", kube_map());
    kube_set(spec, "type", kube_str("ClusterIP"));
    kube_set(spec, "selector", labels(o->name));
    struct kube_node *sp = kube_set(spec, "ports", kube_seq());
    for (size_t i = 0; i < ports->n; i++) {
        const struct kube_node *port = kube_get(ports->items[i], "containerPort");
        const struct kube_node *proto = kube_get(ports->items[i], "protocol");
        struct kube_node *p = kube_push(sp, kube_map());
        struct strbuf name = STRBUF_INIT;
        strbuf_addf(&name, "%lld-%s", port->i, proto->str);
        for (char *c = name.buf; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        kube_set(p, "name", kube_str(name.buf));
        strbuf_release(&name);
        kube_set(p, "port", kube_int(port->i));
        kube_set(p, "targetPort", kube_int(port->i));
        kube_set(p, "protocol", kube_str(proto->str));
    }
    *out = svc;
    return 0;
}

int kube_generate(const struct kube_generate_opts *o, struct kube_node ***docs, size_t *n_docs,
                  struct kiln_error **err)
{
    const json_t *cfg = o->config, *ctr = o->ctr;
    struct kube_node *d = kube_map();
    kube_set(d, "apiVersion", kube_str("apps/v1"));
    kube_set(d, "kind", kube_str("Deployment"));
    struct kube_node *meta = kube_set(d, "metadata", kube_map());
    kube_set(meta, "name", kube_str(o->name));
    kube_set(meta, "labels", labels(o->name));
    struct kube_node *spec = kube_set(d, "spec", kube_map());
    kube_set(spec, "replicas", kube_int(1));
    kube_set(kube_set(spec, "selector", kube_map()), "matchLabels", labels(o->name));
    struct kube_node *tmpl = kube_set(spec, "template", kube_map());
    kube_set(kube_set(tmpl, "metadata", kube_map()), "labels", labels(o->name));
    struct kube_node *pod = kube_set(tmpl, "spec", kube_map());
    /* as podman writes it: no API token, no service env vars in the pod */
    kube_set(pod, "automountServiceAccountToken", kube_bool(0));
    kube_set(pod, "enableServiceLinks", kube_bool(0));
    struct kube_node *c = kube_push(kube_set(pod, "containers", kube_seq()), kube_map());
    kube_set(c, "name", kube_str(o->name));
    kube_set(c, "image", kube_str(o->image));

    /* The command: a container's full argv; an image's ENTRYPOINT and CMD. */
    const json_t *argv = ctr ? json_object_get(ctr, "Cmd") : NULL;
    const json_t *image_ep = json_object_get(cfg, "Entrypoint");
    size_t n_ep = json_array_size(image_ep);
    if (json_array_size(argv) > 0 && n_ep > 0 && starts_with(argv, image_ep)) {
        /* the image's ENTRYPOINT kept: the rest are args, as podman writes it */
        kube_set(c, "command", str_seq(image_ep, 0));
        if (json_array_size(argv) > n_ep)
            kube_set(c, "args", str_seq(argv, n_ep));
    } else if (json_array_size(argv) > 0) {
        kube_set(c, "command", str_seq(argv, 0));
    } else {
        const json_t *ep = json_object_get(cfg, "Entrypoint"), *cmd = json_object_get(cfg, "Cmd");
        if (json_array_size(ep) > 0)
            kube_set(c, "command", str_seq(ep, 0));
        if (json_array_size(cmd) > 0)
            kube_set(c, json_array_size(ep) > 0 ? "args" : "command", str_seq(cmd, 0));
    }
    const char *wd = json_string_value(json_object_get(ctr ? ctr : cfg, "WorkingDir"));
    if (wd == NULL && ctr)
        wd = json_string_value(json_object_get(cfg, "WorkingDir"));
    if (wd != NULL && *wd != '\0')
        kube_set(c, "workingDir", kube_str(wd));

    /* env: what the container sets beyond the image's ENV (the runtime adds those) */
    const json_t *env = ctr ? json_object_get(ctr, "Env") : NULL,
                 *img_env = json_object_get(cfg, "Env");
    struct kube_node *envs = NULL;
    for (size_t i = 0; i < json_array_size(env); i++) {
        const char *e = json_string_value(json_array_get(env, i));
        const char *eq = e ? strchr(e, '=') : NULL;
        if (eq == NULL || eq == e || env_in(img_env, e))
            continue;
        if (envs == NULL)
            envs = kube_set(c, "env", kube_seq());
        struct kube_node *ev = kube_push(envs, kube_map());
        struct strbuf name = STRBUF_INIT;
        strbuf_add(&name, e, (size_t)(eq - e));
        kube_set(ev, "name", kube_str(name.buf));
        strbuf_release(&name);
        kube_set(ev, "value", kube_str(eq + 1));
    }
    add_ports(c, json_object_get(cfg, "ExposedPorts"));
    const json_t *hc = ctr && json_object_get(ctr, "Healthcheck")
                           ? json_object_get(ctr, "Healthcheck")
                           : json_object_get(cfg, "Healthcheck");
    int rc = hc ? add_probes(c, hc, err) : 0;
    const char *user = json_string_value(json_object_get(ctr ? ctr : cfg, "User"));
    if (user == NULL && ctr)
        user = json_string_value(json_object_get(cfg, "User"));
    add_user(c, user);

    struct kube_node *svc = NULL;
    if (rc == 0 && o->service)
        rc = service(o, kube_get(c, "ports"), &svc, err);
    if (rc < 0) {
        kube_node_free(d);
        return -1;
    }
    *n_docs = svc ? 2 : 1;
    *docs = xcalloc(*n_docs, sizeof(**docs));
    (*docs)[0] = d;
    if (svc)
        (*docs)[1] = svc;
    return 0;
}
