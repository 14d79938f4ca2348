/* kiln kube play FILE [--down]: a manifest's Pods and Deployments run as kiln
 * pods (src/kube/play.h makes the plan), and --down removes what play made:
 * the containers, the pods (their namespaces, slirp4netns, ports) and the volume
 * directories under KILN_ROOT/kube/POD/. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/kube_cli.h"
#include "cli/run.h"
#include "kube/play.h"
#include "net/net.h"
#include "runtime/container.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

/* KILN_ROOT/kube/POD[/VOLUME], allocated. */
static char *volume_dir(const char *root, const char *pod, const char *vol)
{
    return vol ? xasprintf("%s/kube/%s/%s", root, pod, vol) : xasprintf("%s/kube/%s", root, pod);
}

/* Removes what play made for pod pp (whatever of it exists). */
static int down_pod(const char *root, const struct kube_play_pod *pp, int quiet,
                    struct kiln_error **err)
{
    int rc = 0;
    for (size_t i = 0; i < pp->n_containers; i++) {
        cleanup_free char *id = NULL;
        if (ctr_find(root, pp->containers[i].name, &id, NULL) < 0)
            continue;
        cleanup_json json_t *cfg = ctr_load_config(root, id, NULL);
        const char *pod = cfg ? json_get_str(cfg, "Pod") : NULL;
        if (pod == NULL || strcmp(pod, pp->name) != 0)
            continue; /* not ours */
        cleanup_json json_t *st = ctr_load_state(root, id, NULL);
        const char *s = st ? json_get_str(st, "Status") : NULL;
        if (((s && strcmp(s, "running") == 0 && ctr_stop(root, id, 10, err) < 0) ||
             ctr_remove(root, id, err) < 0) &&
            rc == 0)
            rc = -1;
        else if (!quiet)
            printf("removed container %s\n", pp->containers[i].name);
    }
    cleanup_json json_t *pod = pod_load(root, pp->name, NULL);
    if (pod != NULL) {
        if (rc == 0 && pod_remove(root, pp->name, err) < 0)
            rc = -1;
        else if (rc == 0 && !quiet)
            printf("removed pod %s\n", pp->name);
    }
    cleanup_free char *dir = volume_dir(root, pp->name, NULL);
    if (rc == 0 && path_exists(dir) && rt_rootless_rm_rf(dir, err) < 0)
        rc = -1;
    cleanup_free char *kube = xasprintf("%s/kube", root);
    rmdir(kube); /* when it was the last pod's */
    return rc;
}

/* One key of a configMap or secret volume. Not write_file_atomic: the file is
 * the pod's scratch copy of the manifest (--down removes it, the next play
 * writes it again), so its two fsyncs (10-40 ms of play's time before the pod
 * starts, measured on this machine under load) buy nothing. */
static int write_volume_file(const char *path, const char *data, struct kiln_error **err)
{
    cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_error_errno(err, errno, "create %s", path);
    /* readable by the pod's user whatever kiln's umask */
    if (write_all(fd, data, strlen(data)) < 0 || fchmod(fd, 0644) < 0)
        return kiln_error_errno(err, errno, "write %s", path);
    return 0;
}

/* The pod's volumes as directories: emptyDir world-writable (as the kubelet
 * makes it), configMap and secret holding a file per key. */
static int make_volumes(const char *root, const struct kube_play_pod *pp, struct kiln_error **err)
{
    for (size_t v = 0; v < pp->n_volumes; v++) {
        const struct kube_play_volume *pv = &pp->volumes[v];
        cleanup_free char *dir = volume_dir(root, pp->name, pv->name);
        if (mkdir_p(dir, 0755, err) < 0)
            return -1;
        if (chmod(dir, pv->type == KUBE_VOL_EMPTYDIR ? 01777 : 0755) < 0)
            return kiln_error_errno(err, errno, "%s", dir);
        for (size_t k = 0; k < pv->n_files; k++) {
            cleanup_free char *f = path_join(dir, pv->files[k].key);
            if (write_volume_file(f, pv->files[k].value, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* runAsNonRoot as the kubelet checks it before a container starts: runAsUser
 * non-zero, else the image's USER numeric and non-zero. */
static int check_non_root(const char *file, const struct kube_play_pod *pp,
                          const struct kube_play_container *pc, const json_t *config,
                          struct kiln_error **err)
{
    if (!pc->run_as_non_root || pc->run_as_user > 0)
        return 0;
    const struct kube_object *o = pp->object;
    if (pc->run_as_user == 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "%s:%u:%u: %s/%s: container %s: runAsNonRoot with runAsUser 0", file,
                              pc->line, pc->col, o->kind_name, o->name, pc->kname);
    const char *user = json_get_str(config, "User");
    long long iu = kube_cli_image_uid(user);
    if (iu > 0)
        return 0;
    return kiln_error_set(
        err, KILN_E_INVALID,
        "%s:%u:%u: %s/%s: container %s: runAsNonRoot, but image %s %s%s%s; set runAsUser", file,
        pc->line, pc->col, o->kind_name, o->name, pc->kname, pc->image,
        iu == 0 ? "runs as root (USER " : "has a non-numeric USER (",
        user && *user ? user : "unset", iu == 0 ? ")" : ", so it cannot be verified non-root)");
}

/* Starts one container of pod pp (running, holder known). */
static int start_container(const char *root, const char *file, const struct kube_play_pod *pp,
                           const struct kube_play_container *pc, const struct pod_info *pi,
                           struct kiln_error **err)
{
    struct launch_opts o = {0};
    struct run_image ri;
    o.root = root;
    if (run_image_open(root, pc->image, &ri, &o, err) < 0) {
        run_image_close(&ri);
        return -1;
    }
    int rc = 0;
    /* the probes replace the image's HEALTHCHECK, as on a cluster */
    cleanup_json json_t *config = json_deep_copy(o.image_config ? o.image_config : json_object());
    json_object_set(config, "Healthcheck", pc->healthcheck);
    o.image_config = config;
    cleanup_free struct rt_mount *mounts = xcalloc(pc->n_mounts + 1, sizeof(*mounts));
    char **sources = xcalloc(pc->n_mounts + 1, sizeof(char *));
    for (size_t i = 0; rc == 0 && i < pc->n_mounts; i++) {
        const struct kube_play_mount *pm = &pc->mounts[i];
        char *dir = volume_dir(root, pp->name, pp->volumes[pm->volume].name);
        sources[i] = pm->sub_path ? path_join(dir, pm->sub_path) : xstrdup(dir);
        free(dir);
        if (pm->sub_path && !path_exists(sources[i]) && mkdir_p(sources[i], 01777, err) < 0)
            rc = -1;
        mounts[i] = (struct rt_mount){.type = RT_MOUNT_BIND,
                                      .source = sources[i],
                                      .target = pm->target,
                                      .readonly = pm->read_only};
    }
    cleanup_free char *mode = xasprintf("pod:%s", pp->name);
    if (rc == 0 &&
        rt_caps_mask(pc->cap_add, pc->n_cap_add, pc->cap_drop, pc->n_cap_drop, &o.caps, err) < 0)
        rc = kiln_error_prefix(err, "%s: container %s", file, pc->name);
    if (rc == 0) {
        o.caps_set = pc->n_cap_add + pc->n_cap_drop > 0;
        o.name = pc->name;
        o.detach = 1;
        o.env = (const char *const *)pc->env;
        o.n_env = pc->n_env;
        o.mounts = mounts;
        o.n_mounts = pc->n_mounts;
        o.user = pc->user;
        o.workdir = pc->workdir;
        o.entrypoint = pc->entrypoint;
        o.cmd = pc->cmd;
        o.n_cmd = pc->n_cmd;
        o.network = RT_NET_PRIVATE;
        o.network_mode = mode;
        o.net_holder = pi->holder;
        o.pod = pp->name;
        o.hosts_file = pi->hosts_file;
        o.read_only = pc->read_only;
        int status;
        rc = launch_container(&o, &status, NULL, err);
        if (rc < 0)
            kiln_error_prefix(err, "container %s", pc->name);
    }
    for (size_t i = 0; i < pc->n_mounts; i++)
        free(sources[i]);
    free(sources);
    run_image_close(&ri);
    return rc;
}

static int play_pod(const char *root, const char *file, const struct kube_play_pod *pp,
                    struct kiln_error **err)
{
    cleanup_free struct net_port *ports = xcalloc(pp->n_ports + 1, sizeof(*ports));
    size_t n = pp->n_ports;
    for (size_t i = 0; i < n; i++) {
        snprintf(ports[i].host_ip, sizeof(ports[i].host_ip), "127.0.0.1");
        ports[i].host_port = (unsigned)pp->ports[i].host_port;
        ports[i].ctr_port = (unsigned)pp->ports[i].ctr_port;
        ports[i].count = 1;
        ports[i].proto = pp->ports[i].udp ? NET_UDP : NET_TCP;
    }
    if (make_volumes(root, pp, err) < 0 || (n > 0 && net_ports_reserve(&ports, &n, err) < 0) ||
        pod_create(root, pp->name, ports, n, runtime_map_ids, NULL, NULL, err) < 0)
        return -1;
    struct pod_info pi;
    if (pod_lookup(root, pp->name, &pi, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < pp->n_containers; i++)
        rc = start_container(root, file, pp, &pp->containers[i], &pi, err);
    free(pi.hosts_file);
    if (rc == 0) {
        cleanup_free char *desc = net_ports_describe(ports, n);
        printf("Pod %s (%s/%s)%s%s\n", pp->name, pp->object->kind_name, pp->object->name,
               n ? ": " : "", desc ? desc : "");
        for (size_t i = 0; i < pp->n_containers; i++)
            printf("  container %s\n", pp->containers[i].name);
    }
    return rc;
}

/* Before anything starts: every image in the store, runAsNonRoot against it. */
static int check_images(const char *root, const char *file, const struct kube_play_plan *p,
                        struct kiln_error **err)
{
    cleanup_store struct store *s = NULL;
    if (store_open_reader(root, &s, err) < 0)
        return -1;
    for (size_t i = 0; i < p->n_pods; i++)
        for (size_t k = 0; k < p->pods[i].n_containers; k++) {
            const struct kube_play_container *pc = &p->pods[i].containers[k];
            cleanup_image struct image *img = NULL;
            if (store_image_load(s, pc->image, &img, err) < 0)
                return kiln_error_prefix(err, "%s: container %s", file, pc->kname);
            if (check_non_root(file, &p->pods[i], pc, json_object_get(img->config_json, "config"),
                               err) < 0)
                return -1;
        }
    return 0;
}

/* Nothing of the plan may exist yet: play does not adopt or replace. */
static int check_free(const char *root, const struct kube_play_plan *p, struct kiln_error **err)
{
    for (size_t i = 0; i < p->n_pods; i++) {
        const struct kube_play_pod *pp = &p->pods[i];
        cleanup_json json_t *pod = pod_load(root, pp->name, NULL);
        if (pod != NULL)
            return kiln_error_set(err, KILN_E_EXISTS,
                                  "pod %s exists (kiln kube play --down removes what play made)",
                                  pp->name);
        for (size_t k = 0; k < pp->n_containers; k++) {
            cleanup_free char *id = NULL;
            if (ctr_find(root, pp->containers[k].name, &id, NULL) == 0)
                return kiln_error_set(err, KILN_E_EXISTS, "container %s exists",
                                      pp->containers[k].name);
        }
    }
    return 0;
}

static int read_stdin(char **out, size_t *len, struct kiln_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || sb.len + (size_t)n > (16u << 20)) {
            strbuf_release(&sb);
            return n < 0 ? kiln_error_errno(err, errno, "reading standard input")
                         : kiln_error_set(err, KILN_E_INVALID, "<stdin>: more than 16 MiB");
        }
        strbuf_add(&sb, buf, (size_t)n);
    }
    *len = sb.len;
    *out = strbuf_detach(&sb);
    return 0;
}

int kube_play(struct cli_global *g, const char *file, int down)
{
    struct kiln_error *err = NULL;
    cleanup_free char *text = NULL;
    size_t len = 0;
    const char *name = strcmp(file, "-") == 0 ? "<stdin>" : file;
    if (strcmp(file, "-") == 0 ? read_stdin(&text, &len, &err) < 0
                               : read_file(file, 16u << 20, &text, &len, &err) < 0)
        return cli_fail(err);
    struct kube_manifest m;
    if (kube_manifest_parse(name, text, len, &m, &err) < 0)
        return cli_fail(err);
    struct kube_play_plan p;
    if (kube_play_plan(name, &m, &p, &err) < 0) {
        kube_manifest_release(&m);
        return cli_fail(err);
    }
    cleanup_free char *root = cli_store_root(g);
    int rc = 0;
    if (down) {
        for (size_t i = 0; i < p.n_pods; i++)
            if (down_pod(root, &p.pods[i], 0, &err) < 0 && rc == 0)
                rc = cli_fail(err);
    } else {
        for (size_t i = 0; i < p.n_warnings; i++)
            cli_warn("%s", p.warnings[i]);
        if (check_images(root, name, &p, &err) < 0 || check_free(root, &p, &err) < 0)
            rc = cli_fail(err);
        for (size_t i = 0; rc == 0 && i < p.n_pods; i++) {
            if (play_pod(root, name, &p.pods[i], &err) == 0)
                continue;
            /* nothing left behind: what this run made goes again */
            for (size_t k = 0; k <= i; k++)
                down_pod(root, &p.pods[k], 1, NULL);
            rc = cli_fail(err);
        }
    }
    kube_play_plan_release(&p);
    kube_manifest_release(&m);
    return rc;
}
