/* kube/play.c: the plan kube play runs. Ports from hostPort or the selecting
 * Service (by number and by name), env with valueFrom and envFrom (env wins),
 * volumes from the file's ConfigMaps and Secrets, probes as one health check,
 * the security context as run options; and the plan's errors and warnings. */
#include <stdlib.h>
#include <string.h>

#include "kube/play.h"
#include "tap.h"

static const char *const manifest =
    "apiVersion: v1\n"
    "kind: ConfigMap\n"
    "metadata: {name: cfg}\n"
    "data: {b: bee, c: sea, app.conf: x=1}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Secret\n"
    "metadata: {name: sec}\n"
    "stringData: {token: t0k}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: web}\n"
    "spec:\n"
    "  selector: {app: api}\n"
    "  ports: [{port: 18080, targetPort: http}, {port: 19090, "
    "targetPort: 9090}, {port: 17000, targetPort: 7000}]\n"
    "---\n"
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: api}\n"
    "spec:\n"
    "  replicas: 3\n"
    "  selector: {matchLabels: {app: api}}\n"
    "  template:\n"
    "    metadata: {labels: {app: api}}\n"
    "    spec:\n"
    "      securityContext: {runAsUser: 10001, runAsGroup: 10002}\n"
    "      volumes:\n"
    "      - {name: tmp, emptyDir: {}}\n"
    "      - {name: conf, configMap: {name: cfg}}\n"
    "      containers:\n"
    "      - name: main\n"
    "        image: app:1\n"
    "        command: [python3, -m]\n"
    "        args: [uvicorn]\n"
    "        env:\n"
    "        - {name: c, value: mine}\n"
    "        - name: TOKEN\n"
    "          valueFrom: {secretKeyRef: {name: sec, key: token}}\n"
    "        envFrom: [{configMapRef: {name: cfg}}]\n"
    "        ports:\n"
    "        - {name: http, containerPort: 8000}\n"
    "        - {containerPort: 9090}\n"
    "        - {containerPort: 5000, hostPort: 15000, protocol: UDP}\n"
    "        readinessProbe: {httpGet: {path: /health, port: http}, "
    "periodSeconds: 5, failureThreshold: 2}\n"
    "        startupProbe: {tcpSocket: {port: 8000}, periodSeconds: "
    "1, failureThreshold: 30}\n"
    "        securityContext:\n"
    "          runAsNonRoot: true\n"
    "          readOnlyRootFilesystem: true\n"
    "          capabilities: {drop: [ALL], add: [NET_RAW]}\n"
    "        volumeMounts:\n"
    "        - {name: tmp, mountPath: /tmp}\n"
    "        - {name: conf, mountPath: /etc/app.conf, subPath: "
    "app.conf}\n"
    "---\n"
    "apiVersion: networking.k8s.io/v1\n"
    "kind: Ingress\n"
    "metadata: {name: web}\n";

static int plan_of(const char *text, struct kube_manifest *m, struct kube_play_plan *p,
                   char **errmsg)
{
    struct kiln_error *err = NULL;
    *errmsg = NULL;
    if (kube_manifest_parse("m.yaml", text, strlen(text), m, &err) < 0) {
        *errmsg = strdup(err->msg);
        kiln_error_free(err);
        return -1;
    }
    if (kube_play_plan("m.yaml", m, p, &err) < 0) {
        *errmsg = strdup(err->msg);
        kiln_error_free(err);
        kube_manifest_release(m);
        return -1;
    }
    return 0;
}

static int has_env(const struct kube_play_container *c, const char *kv)
{
    for (size_t i = 0; i < c->n_env; i++)
        if (strcmp(c->env[i], kv) == 0)
            return (int)i + 1;
    return 0;
}

static void expect_error(const char *text, const char *want, const char *what)
{
    struct kube_manifest m;
    struct kube_play_plan p;
    char *msg = NULL;
    int rc = plan_of(text, &m, &p, &msg);
    ok(rc < 0 && msg && strstr(msg, want) != NULL, "%s", what);
    if (rc == 0) {
        kube_play_plan_release(&p);
        kube_manifest_release(&m);
    } else if (msg == NULL || strstr(msg, want) == NULL) {
        printf("#   got:  %s\n#   want: ...%s...\n", msg ? msg : "(planned)", want);
    }
    free(msg);
}

static char *with(const char *from, const char *to)
{
    const char *at = strstr(manifest, from);
    size_t n = strlen(manifest) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - manifest), manifest, to, at + strlen(from));
    return s;
}

int main(void)
{
    struct kube_manifest m;
    struct kube_play_plan p;
    char *msg;
    if (plan_of(manifest, &m, &p, &msg) < 0) {
        printf("Bail out! the manifest does not plan: %s\n", msg);
        return 1;
    }
    ok(p.n_pods == 1 && strcmp(p.pods[0].name, "api-pod") == 0, "one pod, NAME-pod");
    const struct kube_play_pod *pp = &p.pods[0];
    const struct kube_play_container *c = &pp->containers[0];
    ok(strcmp(c->name, "api-pod-main") == 0 && strcmp(c->kname, "main") == 0,
       "container NAME-pod-CONTAINER");
    ok(pp->n_ports == 3, "three ports published (7000 is not a container port)");
    ok(pp->ports[0].host_port == 18080 && pp->ports[0].ctr_port == 8000 && !pp->ports[0].udp,
       "the Service's port for targetPort by name");
    ok(pp->ports[1].host_port == 19090 && pp->ports[1].ctr_port == 9090,
       "the Service's port for targetPort by number");
    ok(pp->ports[2].host_port == 15000 && pp->ports[2].ctr_port == 5000 && pp->ports[2].udp,
       "hostPort, UDP");
    ok(c->entrypoint && strcmp(c->entrypoint, "python3") == 0 && c->n_cmd == 2 &&
           strcmp(c->cmd[0], "-m") == 0 && strcmp(c->cmd[1], "uvicorn") == 0,
       "command[0] as entrypoint, the rest and args as the command");
    ok(has_env(c, "b=bee") && has_env(c, "TOKEN=t0k"), "envFrom and secretKeyRef");
    ok(has_env(c, "c=mine") > has_env(c, "c=sea") && has_env(c, "c=sea"),
       "env comes after envFrom (it wins)");
    ok(c->user && strcmp(c->user, "10001:10002") == 0, "runAsUser:runAsGroup from the pod");
    ok(c->run_as_non_root && c->run_as_user == 10001, "runAsNonRoot, the uid");
    ok(c->read_only, "readOnlyRootFilesystem");
    ok(c->n_cap_drop == 1 && strcmp(c->cap_drop[0], "ALL") == 0 && c->n_cap_add == 1,
       "capabilities");
    ok(pp->n_volumes == 2 && pp->volumes[1].n_files == 3 &&
           strcmp(pp->volumes[1].files[2].key, "app.conf") == 0 &&
           strcmp(pp->volumes[1].files[2].value, "x=1") == 0,
       "the configMap volume's files");
    ok(c->n_mounts == 2 && !c->mounts[0].read_only && c->mounts[1].read_only &&
           strcmp(c->mounts[1].sub_path, "app.conf") == 0,
       "emptyDir writable, configMap read-only with subPath");
    char *hc = json_dumps(c->healthcheck, JSON_COMPACT | JSON_SORT_KEYS);
    const char *want_hc =
        "{\"Interval\":5000000000,\"Retries\":2,\"StartInterval\":1000000000,"
        "\"StartPeriod\":30000000000,\"Test\":[\"KILN-HTTPGET\",\"8000\",\"/health\"],"
        "\"Timeout\":1000000000}";
    ok(strcmp(hc, want_hc) == 0,
       "readiness is the health check, the startup window its start period");
    if (strcmp(hc, want_hc) != 0)
        printf("#   got: %s\n", hc);
    free(hc);
    int replicas = 0, ingress = 0;
    for (size_t i = 0; i < p.n_warnings; i++) {
        replicas |= strstr(p.warnings[i], "replicas 3: kube play runs one") != NULL;
        ingress |= strstr(p.warnings[i], "not run by kube play") != NULL &&
                   strstr(p.warnings[i], "Ingress/web") != NULL;
    }
    ok(replicas && ingress, "warnings: replicas, kinds not run");
    kube_play_plan_release(&p);
    kube_manifest_release(&m);

    char *s;
    s = with("key: token", "key: nope");
    expect_error(s, "m.yaml:", "a missing Secret key is an error");
    expect_error(s, "container main: env TOKEN: Secret sec has no key nope",
                 "... naming the container, the variable, the key");
    free(s);
    s = with("envFrom: [{configMapRef: {name: cfg}}]", "envFrom: [{configMapRef: {name: x}}]");
    expect_error(s, "envFrom: ConfigMap x is not in the manifest", "envFrom of a missing one");
    free(s);
    s = with("envFrom: [{configMapRef: {name: cfg}}]",
             "envFrom: [{configMapRef: {name: x, optional: true}}]");
    ok(plan_of(s, &m, &p, &msg) == 0, "an optional one may be missing");
    if (msg == NULL) {
        kube_play_plan_release(&p);
        kube_manifest_release(&m);
    }
    free(msg);
    free(s);
    s = with("{name: tmp, emptyDir: {}}", "{name: tmp, hostPath: {path: /tmp}}");
    expect_error(s, "volume tmp: hostPath volumes are not provided by kube play", "hostPath");
    free(s);
    s = with("runAsNonRoot: true", "privileged: true");
    expect_error(s, "container main: privileged containers are not run by kiln", "privileged");
    free(s);
    s = with("port: http}, periodSeconds: 5", "port: web}, periodSeconds: 5");
    expect_error(s, "container main: readinessProbe: no port named \"web\"", "a probe's port");
    free(s);
    s = with("{containerPort: 9090}", "{containerPort: 9090, hostPort: 18080}");
    expect_error(s, "host port 127.0.0.1:18080 is published twice", "one host port twice");
    free(s);
    s = with("subPath: app.conf", "subPath: ../etc");
    expect_error(s, "subPath ../etc leaves the volume", "a subPath that leaves the volume");
    free(s);
    expect_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
                 "m.yaml: no Pod or Deployment to play", "nothing to play");
    return done_testing();
}
