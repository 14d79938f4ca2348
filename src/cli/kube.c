/* kiln kube generate IMAGE|CONTAINER: a Deployment (and Service) for Kubernetes
 * from an image's config or a container's record, the image named by digest;
 * kiln kube check FILE: a manifest read and checked the way kiln reads it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/kube_cli.h"
#include "cli/opt.h"
#include "cli/store_cmd.h"
#include "kube/kube.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

/* A DNS-1123 label from s: lower case, [a-z0-9-], at most 63, "app" if empty. */
static char *dns_name(const char *s)
{
    struct strbuf sb = STRBUF_INIT;
    for (; *s != '\0' && sb.len < 63; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            c = '-';
        if (c == '-' && (sb.len == 0 || sb.buf[sb.len - 1] == '-'))
            continue;
        strbuf_addc(&sb, c);
    }
    while (sb.len > 0 && sb.buf[sb.len - 1] == '-')
        strbuf_setlen(&sb, sb.len - 1);
    if (sb.len == 0)
        strbuf_adds(&sb, "app");
    return strbuf_detach(&sb);
}

/* "reg:5000/team/app:tag" or "...@sha256:..." -> "reg:5000/team/app". Allocated. */
static char *repository(const char *ref)
{
    char *r = xstrdup(ref);
    char *at = strchr(r, '@');
    if (at != NULL)
        *at = '\0';
    char *slash = strrchr(r, '/');
    char *colon = strrchr(slash ? slash : r, ':');
    if (colon != NULL)
        *colon = '\0';
    return r;
}

static int gen_service;
static const char *gen_name, *gen_image_name, *gen_file;
static const struct cli_opt generate_opts[] = {
    {'s', "service", CLI_OPT_FLAG, &gen_service, NULL,
     "add a Service (ClusterIP) for the exposed ports", NULL},
    {'n', "name", CLI_OPT_STRING, &gen_name, "NAME",
     "object and container name (default: the image's repository or the container's name, "
     "as a DNS label)",
     NULL},
    {'i', "image-name", CLI_OPT_STRING, &gen_image_name, "REF",
     "the repository the cluster pulls (default: the image's name without its tag); the "
     "digest is always the store's",
     NULL},
    {'f', "filename", CLI_OPT_STRING, &gen_file, "FILE", "write to FILE instead of standard output",
     NULL},
    CLI_OPT_END,
};
static const struct cli_spec generate_spec = {
    .name = "kube generate",
    .args = "IMAGE|CONTAINER",
    .summary = "a Deployment (and Service) for an image or a container",
    .text = "Writes a Deployment (one replica) for IMAGE or a container, as podman kube\n"
            "generate does: the image by digest (NAME@sha256:...), ENTRYPOINT/CMD (a\n"
            "container's command line) as command/args, WORKDIR, USER (numeric) as\n"
            "runAsUser/runAsGroup, EXPOSEd ports, the env a container adds to the image's,\n"
            "and the HEALTHCHECK as an exec livenessProbe (plus a startupProbe covering its\n"
            "start period and retries). The output reads back with kiln kube check and runs\n"
            "with kiln kube play.\n\n"
            "Example:\n"
            "  kiln kube generate --service dataenv:latest-prod > dataenv.yaml\n",
    .opts = generate_opts,
    .min_args = 1,
    .max_args = 1,
};

static int kube_generate_cmd(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&generate_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct kube_generate_opts o = {0};
    o.service = gen_service;
    const char *name = gen_name, *image_name = gen_image_name, *file = gen_file;
    const char *what = argv[first];
    struct kiln_error *err = NULL;
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *id = NULL;
    cleanup_json json_t *ctr = NULL;
    const char *image_ref = what, *image_id = what;
    if (ctr_find(root, what, &id, NULL) == 0) {
        if ((ctr = ctr_load_config(root, id, &err)) == NULL)
            return cli_fail(err);
        image_ref = json_string_value(json_object_get(ctr, "Image"));
        image_id = json_string_value(json_object_get(ctr, "ImageId"));
        if (image_ref == NULL || image_id == NULL) {
            fprintf(stderr, "kiln: container %s was not made from an image in the store\n", what);
            return EXIT_FAIL;
        }
    }
    cleanup_store struct store *s = NULL;
    int rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    cleanup_image struct image *img = NULL;
    if (store_image_load(s, image_id, &img, &err) < 0)
        return cli_fail(err);
    cleanup_free char *repo = repository(image_name ? image_name : image_ref);
    char dg[DIGEST_STR_LEN + 1];
    struct strbuf pull = STRBUF_INIT;
    strbuf_addf(&pull, "%s@%s", repo, digest_str(&img->manifest.digest, dg));
    const char *slash = strrchr(repo, '/');
    const char *ctr_name = ctr ? json_string_value(json_object_get(ctr, "Name")) : NULL;
    cleanup_free char *dname = dns_name(name       ? name
                                        : ctr_name ? ctr_name
                                        : slash    ? slash + 1
                                                   : repo);
    o.name = dname;
    o.image = pull.buf;
    o.config = json_object_get(img->config_json, "config");
    o.ctr = ctr;
    struct kube_node **docs = NULL;
    size_t n = 0;
    cleanup_strbuf struct strbuf out = STRBUF_INIT;
    strbuf_addf(&out, "# Generated by kiln kube generate %s from %s\n", what, pull.buf);
    rc = kube_generate(&o, &docs, &n, &err);
    strbuf_release(&pull);
    if (rc == 0)
        rc = kube_yaml_write(docs, n, &out, &err);
    kube_docs_free(docs, n);
    /* what we write must read back: the same reader kube check and play use */
    struct kube_manifest m;
    if (rc == 0 && kube_manifest_parse("generated", out.buf, out.len, &m, &err) == 0)
        kube_manifest_release(&m);
    else if (rc == 0)
        rc = kiln_error_prefix(&err, "internal: the generated manifest does not read back");
    if (rc == 0 && file != NULL)
        rc = write_output_file(file, out.buf, out.len, 0644, &err);
    if (rc < 0)
        return cli_fail(err);
    if (file == NULL)
        fwrite(out.buf, 1, out.len, stdout);
    return EXIT_OK;
}

long long kube_cli_image_uid(const char *user)
{
    if (user == NULL || *user == '\0' || strcmp(user, "root") == 0 ||
        strncmp(user, "root:", 5) == 0)
        return 0;
    char *end;
    long long uid = strtoll(user, &end, 10);
    return end != user && (*end == '\0' || *end == ':') && uid >= 0 ? uid : -1;
}

/* runAsNonRoot against the image's USER, as the kubelet checks it before it
 * starts a container; for the images the store has (others are not checked). */
static int check_non_root(struct store *s, const char *file, const struct kube_object *o,
                          struct kiln_error **err)
{
    const struct kube_pod_spec *ps = &o->pod;
    for (size_t i = 0; i < ps->n_containers + ps->n_init_containers; i++) {
        const struct kube_container *c =
            i < ps->n_containers ? &ps->containers[i] : &ps->init_containers[i - ps->n_containers];
        int non_root = c->security.run_as_non_root != -1 ? c->security.run_as_non_root
                                                         : ps->security.run_as_non_root;
        long long uid =
            c->security.run_as_user != -1 ? c->security.run_as_user : ps->security.run_as_user;
        if (non_root != 1 || uid > 0)
            continue;
        if (uid == 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "%s:%u:%u: %s/%s: container %s: runAsNonRoot with runAsUser 0",
                                  file, c->line, c->col, o->kind_name, o->name, c->name);
        cleanup_image struct image *img = NULL;
        if (store_image_load(s, c->image, &img, NULL) < 0)
            continue;
        const char *user =
            json_string_value(json_object_get(json_object_get(img->config_json, "config"), "User"));
        long long iu = kube_cli_image_uid(user);
        if (iu > 0)
            continue;
        return kiln_error_set(
            err, KILN_E_INVALID,
            "%s:%u:%u: %s/%s: container %s: runAsNonRoot, but image %s %s%s%s; set runAsUser", file,
            c->line, c->col, o->kind_name, o->name, c->name, c->image,
            iu == 0 ? "runs as root (USER " : "has a non-numeric USER (",
            user && *user ? user : "unset", iu == 0 ? ")" : ", so it cannot be verified non-root)");
    }
    return 0;
}

static int check_no_images;
static const struct cli_opt check_opts[] = {
    {0, "no-images", CLI_OPT_FLAG, &check_no_images, NULL,
     "do not check runAsNonRoot against the images in the store", NULL},
    CLI_OPT_END,
};
static const struct cli_spec check_spec = {
    .name = "kube check",
    .args = "FILE...",
    .summary = "read and check manifests the way kiln reads them",
    .text = "Reads each FILE (every YAML document) into kiln's model and checks it whole:\n"
            "YAML syntax (file:line:column), apiVersion and kind, the type of each field of\n"
            "Pods, Deployments, Services, ConfigMaps and Secrets. It prints the objects; the\n"
            "kinds kiln does not run (Ingress, HorizontalPodAutoscaler, ...) are marked. A\n"
            "container with runAsNonRoot and no runAsUser whose image is in the store must\n"
            "have a numeric non-root USER, as the kubelet requires.\n\n"
            "Example:\n"
            "  kubectl kustomize dataenv/deploy/overlays/prod > prod.yaml && kiln kube check "
            "prod.yaml\n",
    .opts = check_opts,
    .min_args = 1,
    .max_args = -1,
};

static int kube_check_cmd(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&check_spec, argc, argv);
    if (first <= 0)
        return -first;
    int images = !check_no_images;
    cleanup_store struct store *s = NULL;
    if (images) {
        int rc = cli_store_open(g, &s);
        if (rc != 0)
            return rc;
    }
    for (int i = first; i < argc; i++) {
        struct kube_manifest m;
        struct kiln_error *err = NULL;
        if (kube_manifest_read(argv[i], &m, &err) < 0)
            return cli_fail(err);
        for (size_t k = 0; s != NULL && k < m.n; k++)
            if ((m.objects[k].kind == KUBE_KIND_POD || m.objects[k].kind == KUBE_KIND_DEPLOYMENT) &&
                check_non_root(s, argv[i], &m.objects[k], &err) < 0) {
                kube_manifest_release(&m);
                return cli_fail(err);
            }
        printf("%s:", argv[i]);
        for (size_t k = 0; k < m.n; k++)
            printf(" %s/%s%s", m.objects[k].kind_name, m.objects[k].name,
                   m.objects[k].kind == KUBE_KIND_OTHER ? " (not run by kiln)" : "");
        printf("\n");
        kube_manifest_release(&m);
    }
    return EXIT_OK;
}

static int play_down;
static const struct cli_opt play_opts[] = {
    {0, "down", CLI_OPT_FLAG, &play_down, NULL,
     "remove what kube play FILE made: its containers, pods and volumes", NULL},
    CLI_OPT_END,
};
static const struct cli_spec play_spec = {
    .name = "kube play",
    .args = "FILE|-",
    .summary = "run a manifest's Pods, Deployments and Services as kiln pods",
    .text = "Runs each Pod and Deployment (one replica) of FILE (\"-\": standard input; any\n"
            "number of YAML documents, as kubectl kustomize prints them) as a kiln pod NAME-pod\n"
            "with a container NAME-pod-CONTAINER each. The images must be in the store.\n"
            "  ports     a containerPort is published on 127.0.0.1 at its hostPort, else at\n"
            "            the port of each Service (of the file) selecting the pod and\n"
            "            targeting it (by number or name); other ports are not published\n"
            "  env       value, valueFrom configMapKeyRef/secretKeyRef, envFrom, from the\n"
            "            ConfigMaps and Secrets of the same file\n"
            "  volumes   emptyDir (a directory, shared by the pod's containers), configMap and\n"
            "            secret (a read-only file per key); subPath; other types are an error\n"
            "  probes    readinessProbe (else liveness, else startup) is the health check\n"
            "            (kiln ps: healthy = ready); httpGet and tcpSocket connect to the pod's\n"
            "            127.0.0.1 as the kubelet does, exec runs in the container; the\n"
            "            startupProbe's window is the start period. A failing probe marks the\n"
            "            container unhealthy; kiln does not restart it\n"
            "  security  runAsNonRoot refuses an image whose USER is root (or unset or a name)\n"
            "            unless runAsUser is non-zero; runAsUser/runAsGroup;\n"
            "            readOnlyRootFilesystem; capabilities drop/add (ALL); no_new_privs\n"
            "            and kiln's default seccomp profile always (RuntimeDefault); privileged\n"
            "            is refused\n"
            "Other kinds (Ingress, HorizontalPodAutoscaler, PodDisruptionBudget, ...) are named\n"
            "in a warning. Bad input is one error (file:line:column) before anything starts;\n"
            "a failure while starting removes what this run made. A second play of the same\n"
            "file is refused while the first runs.\n\n"
            "Example:\n"
            "  kubectl kustomize dataenv/deploy/overlays/dev | kiln kube play -\n"
            "  kiln ps                                  # dataenv-api-pod-api ... (healthy)\n"
            "  kiln kube generate --service dataenv:latest-prod | kiln kube play -\n"
            "  kiln kube play --down dev.yaml\n",
    .opts = play_opts,
    .min_args = 1,
    .max_args = 1,
};

static int kube_play_cmd(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&play_spec, argc, argv);
    if (first <= 0)
        return -first;
    return kube_play(g, argv[first], play_down);
}

static const struct cli_spec *const kube_subcommands[] = {&generate_spec, &check_spec, &play_spec,
                                                          NULL};

static const struct cli_spec kube_spec = {
    .name = "kube",
    .args = "COMMAND [ARGS...]",
    .summary = "Kubernetes manifests: generate from an image or container, check, play",
    .text = "kiln's side of dataenv/deploy (Kustomize; docs/kube.md): generate writes a\n"
            "Deployment for an image, check reads a manifest as kiln does, play runs it\n"
            "locally as kiln pods so its constraints are proven against the real image.\n",
    .min_args = 1,
    .max_args = -1,
    .flags = CLI_SPEC_STOP_AT_OPERAND,
};

static int cmd_kube(struct cli_global *g, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return cli_print_help("kube"); /* with the list of subcommands */
    int first = cli_parse(&kube_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *sub = argv[first];
    argc -= first;
    argv += first;
    if (strcmp(sub, "generate") == 0)
        return kube_generate_cmd(g, argc, argv);
    if (strcmp(sub, "check") == 0)
        return kube_check_cmd(g, argc, argv);
    if (strcmp(sub, "play") == 0)
        return kube_play_cmd(g, argc, argv);
    return cli_usage_error("kube", "unknown subcommand \"%s\" (generate, check or play)", sub);
}

const struct cli_command cli_cmd_kube = {
    .name = "kube",
    .run = cmd_kube,
    .spec = &kube_spec,
    .subcommands = kube_subcommands,
};
