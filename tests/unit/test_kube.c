/* kube/: the YAML reader's errors (file:line:column), the model's checks (kind,
 * apiVersion, field types, references), what it reads, and the writer's
 * round trip (strings that look like numbers or booleans stay strings). */
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "tap.h"

/* The error of parsing text as "m.yaml", or NULL when it parses. Allocated. */
static char *parse_error(const char *text)
{
    struct kube_manifest m;
    struct kiln_error *err = NULL;
    if (kube_manifest_parse("m.yaml", text, strlen(text), &m, &err) == 0) {
        kube_manifest_release(&m);
        return NULL;
    }
    char *msg = strdup(err->msg);
    kiln_error_free(err);
    return msg;
}

static void expect_error(const char *text, const char *want, const char *what)
{
    char *msg = parse_error(text);
    ok(msg != NULL && strstr(msg, want) != NULL, "%s", what);
    if (msg == NULL || strstr(msg, want) == NULL)
        printf("#   got:  %s\n#   want: ...%s...\n", msg ? msg : "(parsed)", want);
    free(msg);
}

static const char *const deployment =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: api\n"
    "spec:\n"
    "  replicas: 2\n"
    "  selector:\n"
    "    matchLabels: {app: api}\n"
    "  template:\n"
    "    metadata:\n"
    "      labels: {app: api, tier: web}\n"
    "    spec:\n"
    "      securityContext: {runAsNonRoot: true, runAsUser: 10001}\n"
    "      containers:\n"
    "      - name: api\n"
    "        image: dataenv@sha256:0000\n"
    "        command: [python3, -m, uvicorn]\n"
    "        env:\n"
    "        - {name: A, value: \"1\"}\n"
    "        - name: B\n"
    "          valueFrom: {configMapKeyRef: {name: cfg, key: b}}\n"
    "        ports: [{name: http, containerPort: 8000}]\n"
    "        readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 5}\n"
    "        securityContext:\n"
    "          readOnlyRootFilesystem: true\n"
    "          capabilities: {drop: [ALL]}\n"
    "        volumeMounts: [{name: tmp, mountPath: /tmp}]\n"
    "      volumes: [{name: tmp, emptyDir: {}}]\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Secret\n"
    "metadata: {name: s}\n"
    "data: {token: aGVsbG8=}\n"
    "stringData: {plain: text}\n"
    "---\n"
    "apiVersion: networking.k8s.io/v1\n"
    "kind: Ingress\n"
    "metadata: {name: web}\n";

static void test_reads_model(void)
{
    struct kube_manifest m;
    struct kiln_error *err = NULL;
    int rc = kube_manifest_parse("d.yaml", deployment, strlen(deployment), &m, &err);
    ok(rc == 0, "a Deployment, a Secret and an Ingress read (%s)", err ? err->msg : "ok");
    if (rc != 0) {
        kiln_error_free(err);
        return;
    }
    is_int(m.n, 3, "three objects");
    const struct kube_object *d = &m.objects[0];
    is_int(d->kind, KUBE_KIND_DEPLOYMENT, "the first is a Deployment");
    is_int(d->replicas, 2, "replicas");
    is_int(d->pod.security.run_as_user, 10001, "pod runAsUser");
    is_int(d->pod.security.run_as_non_root, 1, "pod runAsNonRoot");
    const struct kube_container *c = &d->pod.containers[0];
    is_str(c->image, "dataenv@sha256:0000", "image");
    is_int(c->n_command, 3, "command");
    is_int(c->n_env, 2, "env");
    is_int(c->env[1].from, KUBE_ENV_CONFIGMAP, "env from a ConfigMap");
    is_str(c->env[1].ref_key, "b", "its key");
    is_int(c->ports[0].container_port, 8000, "containerPort");
    is_str(c->ports[0].protocol, "TCP", "protocol defaults to TCP");
    is_int(c->readiness.type, KUBE_PROBE_HTTP, "readiness probe: httpGet");
    is_str(c->readiness.port_name, "http", "on the named port");
    is_int(c->readiness.period, 5, "every 5 s");
    is_int(c->readiness.failure_threshold, 3, "failureThreshold defaults to 3");
    is_int(c->liveness.type, KUBE_PROBE_NONE, "no liveness probe");
    is_int(c->security.read_only_root_fs, 1, "readOnlyRootFilesystem");
    is_int(c->security.allow_privilege_escalation, -1, "allowPrivilegeEscalation unset");
    ok(c->security.n_cap_drop == 1 && strcmp(c->security.cap_drop[0], "ALL") == 0, "drop ALL");
    is_int(d->pod.volumes[0].type, KUBE_VOL_EMPTYDIR, "an emptyDir volume");
    const struct kube_object *s = &m.objects[1];
    ok(s->n_data == 2 && strcmp(s->data[0].value, "hello") == 0, "secret data base64-decoded");
    is_str(s->data[1].value, "text", "stringData merged");
    is_int(m.objects[2].kind, KUBE_KIND_OTHER, "Ingress: known, not run");
    kube_manifest_release(&m);
}

static void test_errors(void)
{
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: [a\n",
                 "m.yaml:4:1: YAML: ", "a YAML syntax error names file:line:column");
    expect_error("apiVersion: v1\nkind: Pod\n  bad: indent\n",
                 "m.yaml:3:6: YAML: ", "bad indentation: file:line:column");
    expect_error("apiVersion: v1\nkind: Pdo\nmetadata: {name: x}\n",
                 "m.yaml:1:1: Pdo/x: kind: unknown kind \"Pdo\" in apiVersion v1", "unknown kind");
    expect_error("apiVersion: apps/v9\nkind: Widget\nmetadata: {name: x}\n",
                 "unknown apiVersion \"apps/v9\" (kind Widget)", "unknown apiVersion");
    expect_error("apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: x}\n",
                 "Deployment is not served as \"extensions/v1beta1\" (use apiVersion: apps/v1)",
                 "a kind under a removed apiVersion");
    char *wrong = strdup(deployment);
    char *r = strstr(wrong, "replicas: 2");
    memcpy(r, "replicas: x", 11);
    expect_error(
        wrong, "m.yaml:6:13: Deployment/api: spec.replicas: expected an integer, got a string (x)",
        "a field of the wrong type: file:line:column, object, path");
    free(wrong);
    expect_error(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: c\n    image: i\n    ports: [{containerPort: \"80\"}]\n",
        "m.yaml:8:29: Pod/p: spec.containers[0].ports[0].containerPort: expected an integer",
        "a quoted port is a string");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                 "  - name: c\n    image: i\n    env: [{name: A, value: 8000}]\n",
                 "env[0].value: expected a string, got an integer (8000)",
                 "an unquoted number as env value");
    expect_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {on: yes}\n",
                 "data.on: expected a string, got a boolean (yes): quote it",
                 "yes is a boolean, as kubectl reads it");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
                 "spec.containers: a pod needs at least one container", "a pod without containers");
    expect_error("a: &x 1\nb: *x\n", "m.yaml:2:4: YAML: aliases", "aliases are refused");
    expect_error("apiVersion: v1\nkind: Pod\nkind: Pod\n",
                 "m.yaml:3:1: YAML: duplicate key \"kind\"", "a duplicate key");
    expect_error("- 1\n- 2\n", "a manifest document must be a map", "a list is no manifest");
    expect_error("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: \"no base64!\"}\n",
                 "Secret/s: data: k: not base64", "secret data that is not base64");
    expect_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
                 "m.yaml:5:1: ConfigMap/c: a second ConfigMap named c (the first at line 1)",
                 "two objects of one kind and name");
    expect_error(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
        "  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: b}}\n"
        "    spec: {containers: [{name: c, image: i}]}\n",
        "app=a does not match the template's labels", "a selector that selects nothing");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                 "  - {name: c, image: i, volumeMounts: [{name: data, mountPath: /d}]}\n",
                 "mounts volume \"data\", which the pod does not have", "a mount of no volume");
    expect_error("", "no objects", "an empty file");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                 "  - {name: c, image: i, livenessProbe: {periodSeconds: 3}}\n",
                 "give exactly one of exec, httpGet, tcpSocket", "a probe without a handler");
}

static void test_writer_round_trip(void)
{
    struct kube_node *doc = kube_map();
    kube_set(doc, "apiVersion", kube_str("v1"));
    kube_set(doc, "kind", kube_str("ConfigMap"));
    kube_set(kube_set(doc, "metadata", kube_map()), "name", kube_str("c"));
    struct kube_node *data = kube_set(doc, "data", kube_map());
    const char *tricky[] = {"8000", "true", "yes", "",   "null",        "~",      "1.5",
                            "0x1F", "a: b", "- x", "#c", "multi\nline", "  lead", "plain text"};
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%zu", i);
        kube_set(data, key, kube_str(tricky[i]));
    }
    struct strbuf out = STRBUF_INIT;
    struct kiln_error *err = NULL;
    ok(kube_yaml_write(&doc, 1, &out, &err) == 0, "written");
    struct kube_manifest m;
    int rc = kube_manifest_parse("w.yaml", out.buf, out.len, &m, &err);
    ok(rc == 0, "reads back (%s)", err ? err->msg : "ok");
    if (rc == 0) {
        int same = m.objects[0].n_data == sizeof(tricky) / sizeof(tricky[0]);
        for (size_t i = 0; same && i < m.objects[0].n_data; i++)
            same = strcmp(m.objects[0].data[i].value, tricky[i]) == 0;
        ok(same, "every string comes back a string, unchanged");
        kube_manifest_release(&m);
    } else {
        printf("%s", out.buf);
        kiln_error_free(err);
    }
    ok(strstr(out.buf, "k0: \"8000\"") != NULL, "a number-like string is quoted");
    strbuf_release(&out);
    kube_node_free(doc);
}

/* Trees that parse are written and read back to the same shape (fuzz_kube's
 * check): two null keys, however spelled, are one key twice. */
static void test_tree_round_trip(void)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        /* fuzz_kube's crash: "~" and the empty key of a bare "?" were two keys,
         * written back as "null" twice */
        {"aid: Pol\n~: p}\nsp[eccon: ~\n?\ns  ima0e: 80\n", "m.yaml:4:2: YAML: duplicate key null"},
        {"~: a\nnull: b\n", "m.yaml:2:1: YAML: duplicate key null (\"null\"; first at line 1)"},
        {"? \n: a\nNULL: b\n", "duplicate key null"},
        {"~: a\n\"null\": b\n\"~\": c\n\"\": d\n1: e\n0x1: f\ntrue: g\nyes: h\n", NULL},
        {"1: a\n\"1\": b\n", "duplicate key \"1\""},
        {"a: [~, null, \"\", {? : x}]\n---\n~\n---\n- ? ~\n", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kube_node **docs = NULL;
        size_t n = 0;
        struct kiln_error *err = NULL;
        int rc = kube_yaml_parse("m.yaml", cases[i].text, strlen(cases[i].text), &docs, &n, &err);
        if (cases[i].error != NULL) {
            ok(rc < 0 && strstr(err->msg, cases[i].error) != NULL, "case %zu refused: %s", i,
               rc < 0 ? err->msg : "(parsed)");
            kiln_error_free(err);
            kube_docs_free(docs, n);
            continue;
        }
        ok(rc == 0, "case %zu parses (%s)", i, rc < 0 ? err->msg : "ok");
        struct strbuf out = STRBUF_INIT;
        struct kube_node **again = NULL;
        size_t n2 = 0;
        int same = rc == 0 && kube_yaml_write(docs, n, &out, &err) == 0 &&
                   kube_yaml_parse("w.yaml", out.buf, out.len, &again, &n2, &err) == 0 && n2 == n;
        for (size_t d = 0; same && d < n; d++)
            same = docs[d]->type == again[d]->type && docs[d]->n == again[d]->n;
        ok(same, "case %zu reads back as written", i);
        if (!same)
            printf("# %s# %s\n", out.buf, err ? err->msg : "");
        kiln_error_free(err);
        strbuf_release(&out);
        kube_docs_free(again, n2);
        kube_docs_free(docs, n);
    }
}

int main(void)
{
    test_reads_model();
    test_errors();
    test_writer_round_trip();
    test_tree_round_trip();
    return done_testing();
}
