/* RUN: an overlay of the stage's snapshots with an empty upper dir, the
 * command through runtime_run, then the upper dir is the layer (overlay
 * whiteouts become OCI ones). Mount points the runtime had to create (for
 * --mount targets, /proc, /etc/hosts...) are removed from the upper dir
 * first, as BuildKit does, so they do not end up in the image. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "build/copy.h"
#include "build/internal.h"
#include "dockerfile/mount.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define MAX_MOUNTS 32

struct run_mounts {
    struct rt_mount m[MAX_MOUNTS];
    size_t n;
    struct cache_mount caches[MAX_MOUNTS];
    size_t n_caches;
    char *owned[MAX_MOUNTS * 4 + 4];
    size_t n_owned;
    const char *tmpdirs[MAX_MOUNTS]; /* copies made for bind from=, removed after the step */
    size_t n_tmpdirs;
    const char *env[MAX_MOUNTS]; /* secrets given as env=: "NAME=value" */
    size_t n_env;
    int ssh[MAX_MOUNTS]; /* m[i] is an ssh agent */
    const char *ssh_env; /* "SSH_AUTH_SOCK=..." of the first one */
};

static const char *own(struct run_mounts *rm, char *s)
{
    if (rm->n_owned < sizeof(rm->owned) / sizeof(rm->owned[0]))
        rm->owned[rm->n_owned++] = s;
    return s;
}

static void run_mounts_release(struct run_mounts *rm)
{
    for (size_t i = 0; i < rm->n_tmpdirs; i++) {
        cleanup_error struct kiln_error *e = NULL;
        rm_rf(rm->tmpdirs[i], &e);
    }
    for (size_t i = 0; i < rm->n_caches; i++)
        cache_mount_release(&rm->caches[i]);
    for (size_t i = 0; i < rm->n_owned; i++)
        free(rm->owned[i]);
}

static char *clean_target(struct stage_state *st, const char *t)
{
    if (t[0] == '/')
        return xstrdup(t);
    const char *wd = json_string_value(json_object_get(build_config_obj(st), "WorkingDir"));
    return xasprintf("%s/%s", wd && wd[0] ? wd : "", t);
}

/* Copies path (a file or a directory) of the root file system view to
 * "mnt" in a fresh scratch dir (a copy: rw changes to the mount vanish with
 * it). Returns the scratch dir. */
static char *materialise(struct build_ctx *b, struct rootview *view, const char *path,
                         size_t *entries, struct kiln_error **err)
{
    struct copy_source cs = {.path = path};
    struct copy_req req = {.srcs = &cs, .n_srcs = 1, .dest = "/mnt", .from = view};
    struct copy_plan *plan = NULL;
    char *dir = build_scratch_mkdtemp(b, "bind", err);
    int rc = dir ? copy_plan_build(&req, &plan, err) : -1;
    if (rc == 0) {
        *entries = copy_plan_count(plan);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = fd < 0 ? kiln_error_errno(err, errno, "open %s", dir)
                    : copy_plan_write(plan, fd, -1, err);
        if (fd >= 0)
            close(fd);
    }
    copy_plan_free(plan);
    if (rc < 0 && dir != NULL) {
        cleanup_error struct kiln_error *e2 = NULL;
        rm_rf(dir, &e2);
        free(dir);
        return NULL;
    }
    return dir;
}

static int add_bind(struct build_ctx *b, struct stage_state *st, const struct df_mount *dm, int pid,
                    struct rt_mount *m, struct run_mounts *rm, struct kiln_error **err)
{
    m->type = RT_MOUNT_BIND;
    m->readonly = dm->readonly;
    const char *source = dm->source && dm->source[0] ? dm->source : NULL;
    if (dm->from == NULL) {
        m->source = own(rm, xasprintf("%s/%s", b->ctx->dir, source ? source : "."));
        return 0;
    }
    /* from= a stage (name or index) or an image: bind a copy of its path. */
    struct rootview *view = NULL;
    struct digest id;
    if (build_from_view(b, st, dm->from, &view, &id, err) < 0)
        return kiln_error_prefix(err, "--mount from=%s", dm->from);
    size_t entries = 0;
    char *dir = materialise(b, view, source ? source : "/", &entries, err);
    rootview_free(view);
    if (dir == NULL)
        return kiln_error_prefix(err, "--mount from=%s", dm->from);
    cleanup_free char *note = xasprintf("[kiln] --mount from=%s: copied %zu entries of %s\n",
                                        dm->from, entries, source ? source : "/");
    progress_step_output(b->o->progress, pid, note, strlen(note));
    rm->tmpdirs[rm->n_tmpdirs++] = own(rm, dir);
    m->source = own(rm, path_join(dir, "mnt"));
    return 0;
}

static const char *ssh_socket(struct build_ctx *b, const char *id)
{
    for (size_t i = 0; i < b->o->n_ssh; i++)
        if (strcmp(b->o->ssh[i].id, id) == 0)
            return b->o->ssh[i].socket;
    return NULL;
}

static const char *secret_src(struct build_ctx *b, const char *id)
{
    for (size_t i = 0; i < b->o->n_secrets; i++)
        if (strcmp(b->o->secrets[i].id, id) == 0)
            return b->o->secrets[i].src;
    return NULL;
}

/* What one --mount=... adds to the step's key, with no side effect: the
 * cache lookup comes before any mount is set up (a hit needs none). */
static int mount_key(struct build_ctx *b, struct stage_state *st, const char *spec,
                     struct digester *k, struct kiln_error **err)
{
    struct df_mount dm;
    if (df_mount_parse(spec, &dm, err) < 0)
        return -1;
    int rc = 0;
    switch (dm.type) {
    case DF_MOUNT_SECRET: {
        if (secret_src(b, dm.id) == NULL) {
            if (dm.required)
                rc = kiln_error_set(err, KILN_E_NOTFOUND,
                                    "secret \"%s\" is required; pass --secret id=%s,src=FILE",
                                    dm.id, dm.id);
            break;
        }
        if (dm.env != NULL) /* only its name goes into the key */
            cache_key_adds(k, "secret-env", dm.env);
        if (dm.target != NULL) {
            cleanup_free char *t = clean_target(st, dm.target);
            cache_key_adds(k, "mount", "secret");
            cache_key_adds(k, "target", t); /* never the secret itself */
        }
        break;
    }
    case DF_MOUNT_SSH:
        if (ssh_socket(b, dm.id) == NULL) {
            if (dm.required)
                rc = kiln_error_set(err, KILN_E_NOTFOUND,
                                    "ssh agent \"%s\" is required by RUN --mount=%s; pass --ssh "
                                    "%s[=SOCKET]",
                                    dm.id, spec, dm.id);
            break;
        }
        cache_key_adds(k, "mount", spec); /* not the host's socket path */
        break;
    case DF_MOUNT_TMPFS:
    case DF_MOUNT_CACHE:
        cache_key_adds(k, "mount", spec);
        break;
    case DF_MOUNT_BIND: {
        const char *source = dm.source && dm.source[0] ? dm.source : NULL;
        if (dm.from != NULL) {
            struct digest id;
            if (build_from_view(b, st, dm.from, NULL, &id, err) < 0) {
                rc = kiln_error_prefix(err, "--mount from=%s", dm.from);
                break;
            }
            cache_key_adds(k, "mount", spec);
            cache_key_adds(k, "from", id.hex);
            break;
        }
        /* Bind from the context: the key covers what is bound. */
        struct copy_source cs = {.path = source ? source : "."};
        struct copy_req req = {.srcs = &cs, .n_srcs = 1, .dest = "/", .ctx = b->ctx};
        struct copy_plan *plan = NULL;
        struct digest d;
        if (copy_plan_build(&req, &plan, err) < 0) {
            rc = kiln_error_prefix(err, "--mount=%s", spec);
            break;
        }
        rc = copy_plan_digest(plan, b->sc, &d, err);
        copy_plan_free(plan);
        if (rc < 0)
            break;
        cache_key_adds(k, "mount", spec);
        cache_key_adds(k, "content", d.hex);
        if (source != NULL && strstr(source, "..") != NULL)
            rc = kiln_error_set(err, KILN_E_INVALID,
                                "--mount source=%s: must stay inside the context", source);
        break;
    }
    }
    df_mount_release(&dm);
    return rc;
}

/* Sets up one --mount=... (parsed by dockerfile/mount.h) into rm, after a
 * cache miss; its key part came from mount_key. */
static int add_mount(struct build_ctx *b, struct stage_state *st, const char *spec, int pid,
                     struct run_mounts *rm, struct kiln_error **err)
{
    if (rm->n >= MAX_MOUNTS)
        return kiln_error_set(err, KILN_E_INVALID, "too many --mount options");
    struct df_mount dm;
    if (df_mount_parse(spec, &dm, err) < 0)
        return -1;
    struct rt_mount *m = &rm->m[rm->n];
    memset(m, 0, sizeof(*m));
    int rc = 0, skip = 0;
    switch (dm.type) {
    case DF_MOUNT_SECRET: {
        const char *src = secret_src(b, dm.id);
        if (src == NULL) {
            skip = 1; /* mount_key refused a required one */
            break;
        }
        if (dm.env != NULL) {
            /* env=NAME: the secret's bytes as the step's environment
             * variable NAME. */
            char *val = NULL;
            if (rm->n_env >= MAX_MOUNTS) {
                rc = kiln_error_set(err, KILN_E_INVALID, "too many --mount options");
                break;
            }
            if (read_file(src, 1 << 20, &val, NULL, err) < 0) {
                rc = kiln_error_prefix(err, "secret \"%s\"", dm.id);
                break;
            }
            rm->env[rm->n_env++] = own(rm, xasprintf("%s=%s", dm.env, val));
            free(val);
        }
        if (dm.target == NULL) {
            skip = 1;
            break;
        }
        m->type = RT_MOUNT_BIND;
        m->readonly = 1;
        m->source = own(rm, xstrdup(src));
        m->target = own(rm, clean_target(st, dm.target));
        break;
    }
    case DF_MOUNT_SSH: {
        const char *sock = ssh_socket(b, dm.id);
        if (sock == NULL) {
            skip = 1;
            break;
        }
        size_t nth = 0;
        for (size_t i = 0; i < rm->n; i++)
            nth += rm->ssh[i];
        char *t = strcmp(dm.target, "/run/buildkit/ssh_agent.0") == 0
                      ? xasprintf("/run/buildkit/ssh_agent.%zu", nth)
                      : clean_target(st, dm.target);
        m->type = RT_MOUNT_BIND;
        m->source = own(rm, xstrdup(sock));
        m->target = own(rm, t);
        rm->ssh[rm->n] = 1;
        if (rm->ssh_env == NULL)
            rm->ssh_env = own(rm, xasprintf("SSH_AUTH_SOCK=%s", t));
        break;
    }
    case DF_MOUNT_TMPFS:
        m->type = RT_MOUNT_TMPFS;
        m->target = own(rm, clean_target(st, dm.target));
        if (dm.size > 0)
            m->options = own(rm, xasprintf("size=%lld", dm.size));
        break;
    case DF_MOUNT_CACHE: {
        m->target = own(rm, clean_target(st, dm.target));
        enum cache_sharing sh = strcmp(dm.sharing, "private") == 0  ? CACHE_PRIVATE
                                : strcmp(dm.sharing, "locked") == 0 ? CACHE_LOCKED
                                                                    : CACHE_SHARED;
        struct cache_mount *c = &rm->caches[rm->n_caches];
        if (cache_mount_acquire(b->root, dm.id, sh, dm.uid >= 0 ? (uid_t)dm.uid : 0,
                                dm.gid >= 0 ? (gid_t)dm.gid : 0,
                                dm.mode >= 0 ? (mode_t)dm.mode : 0755, c, err) < 0) {
            rc = -1;
            break;
        }
        rm->n_caches++;
        m->type = RT_MOUNT_CACHE;
        m->source = c->path;
        m->upper = c->upper;
        m->work = c->work;
        break;
    }
    case DF_MOUNT_BIND:
        m->target = own(rm, clean_target(st, dm.target));
        rc = add_bind(b, st, &dm, pid, m, rm, err);
        break;
    }
    df_mount_release(&dm);
    if (rc == 0 && !skip)
        rm->n++;
    return rc;
}

/* --- mount stubs ----------------------------------------------------------------- */

struct stubs {
    char *paths[MAX_MOUNTS + 8][16]; /* missing components of each target, shallow first */
    size_t n_paths[MAX_MOUNTS + 8];
    size_t n;
};

static void note_stub(struct stubs *s, struct rootview *view, const char *target)
{
    if (s->n >= MAX_MOUNTS + 8)
        return;
    size_t k = 0;
    cleanup_free char *t = xstrdup(target);
    /* each prefix of target that the lower layers do not have */
    for (char *p = t + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        struct rootview_entry e;
        cleanup_error struct kiln_error *err = NULL;
        int found = rootview_lookup(view, t, 0, &e, &err);
        if (found == 0 && k < 16)
            s->paths[s->n][k++] = xstrdup(e.path);
        rootview_entry_release(&e);
        *p = saved;
        if (saved == '\0')
            break;
    }
    s->n_paths[s->n++] = k;
}

static void remove_stubs(struct stubs *s, int upper)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = s->n_paths[i]; k-- > 0;) {
            struct stat st;
            const char *p = s->paths[i][k];
            if (fstatat(upper, p, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISDIR(st.st_mode))
                    unlinkat(upper, p, AT_REMOVEDIR); /* only when empty */
                else if (S_ISREG(st.st_mode) && st.st_size == 0)
                    unlinkat(upper, p, 0);
            }
            /* the parent the kernel copied up to hold the stub: drop it when
             * it is now empty (and so unchanged apart from its times) */
            cleanup_free char *parent = xstrdup(p);
            char *slash = strrchr(parent, '/');
            while (slash != NULL) {
                *slash = '\0';
                char v[4];
                int dfd = openat(upper, parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dfd < 0)
                    break;
                int opaque = fgetxattr(dfd, "trusted.overlay.opaque", v, sizeof(v)) > 0 ||
                             fgetxattr(dfd, "user.overlay.opaque", v, sizeof(v)) > 0;
                close(dfd);
                if (opaque || unlinkat(upper, parent, AT_REMOVEDIR) < 0)
                    break;
                slash = strrchr(parent, '/');
            }
            free(s->paths[i][k]);
        }
    }
}

static int dir_empty(int fd)
{
    int d = dup(fd);
    if (d < 0)
        return 0;
    DIR *dir = fdopendir(d);
    if (dir == NULL) {
        close(d);
        return 0;
    }
    struct dirent *de;
    int empty = 1;
    while ((de = readdir(dir)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(dir);
    return empty;
}

/* --- the step --------------------------------------------------------------------- */

/* The heredoc a shell-form RUN consists of alone ("RUN <<EOF", "RUN <<-'EOF'"),
 * or NULL: BuildKit runs such a body itself, as the shell's script, or, when
 * it starts with "#!", as an executable file. */
static const struct df_heredoc *sole_heredoc(const struct df_step *step)
{
    const struct df_instr *o = step->orig;
    if (step->ins->json || o->n_heredocs != 1 || step->ins->n_args == 0)
        return NULL;
    const char *t = step->ins->args[0];
    while (*t == ' ' || *t == '\t')
        t++;
    if (strncmp(t, "<<", 2) != 0)
        return NULL;
    size_t n = strcspn(t, " \t\n");
    return t[n + strspn(t + n, " \t\n")] == '\0' ? &o->heredocs[0] : NULL;
}

/* Where a "#!" heredoc is mounted in the container (as BuildKit does). */
static char *shebang_path(const struct df_heredoc *h)
{
    char *p = xasprintf("/dev/pipes/%s", h->name[0] ? h->name : "EOF");
    for (char *c = p + strlen("/dev/pipes/"); *c; c++)
        if (*c == '/')
            *c = '_';
    return p;
}

static int is_shebang(const struct df_heredoc *h)
{
    return h != NULL && strncmp(h->content, "#!", 2) == 0;
}

/* Writes the "#!" heredoc into stepdir and binds it read-only at
 * /dev/pipes/NAME, mode 0755, for the shell to execute. */
static int add_shebang_mount(const struct df_heredoc *h, const char *stepdir, struct run_mounts *rm,
                             struct kiln_error **err)
{
    if (rm->n >= MAX_MOUNTS)
        return kiln_error_set(err, KILN_E_INVALID, "too many --mount options");
    char *file = path_join(stepdir, "script");
    if (write_file_atomic(file, h->content, strlen(h->content), 0755, err) < 0) {
        free(file);
        return -1;
    }
    struct rt_mount *m = &rm->m[rm->n++];
    memset(m, 0, sizeof(*m));
    m->type = RT_MOUNT_BIND;
    m->readonly = 1;
    m->source = own(rm, file);
    m->target = own(rm, shebang_path(h));
    return 0;
}

static char **run_argv(struct stage_state *st, const struct df_step *step)
{
    const struct df_instr *ins = step->ins;
    if (ins->json) {
        char **v = xcalloc(ins->n_args + 1, sizeof(char *));
        for (size_t i = 0; i < ins->n_args; i++)
            v[i] = xstrdup(ins->args[i]);
        return v;
    }
    struct strbuf script = STRBUF_INIT;
    strbuf_adds(&script, ins->n_args ? ins->args[0] : "");
    const struct df_instr *o = step->orig;
    if (o->n_heredocs > 0) {
        const struct df_heredoc *only = sole_heredoc(step);
        if (is_shebang(only)) {
            strbuf_reset(&script);
            char *path = shebang_path(only);
            strbuf_adds(&script, path);
            free(path);
        } else if (only) {
            strbuf_reset(&script);
            strbuf_adds(&script, only->content);
        } else {
            strbuf_addc(&script, '\n');
            for (size_t i = 0; i < o->n_heredocs; i++)
                strbuf_addf(&script, "%s%s\n", o->heredocs[i].content, o->heredocs[i].name);
        }
    }
    json_t *shell = json_object_get(build_config_obj(st), "Shell");
    size_t ns = json_is_array(shell) ? json_array_size(shell) : 0;
    char **v = xcalloc(ns + 4, sizeof(char *));
    size_t k = 0;
    if (ns == 0) {
        v[k++] = xstrdup("/bin/sh");
        v[k++] = xstrdup("-c");
    } else {
        for (size_t i = 0; i < ns; i++)
            v[k++] = xstrdup(json_string_value(json_array_get(shell, i)) ?: "");
    }
    v[k++] = strbuf_detach(&script);
    return v;
}

static void strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static int execute(struct build_ctx *b, struct stage_state *st, const struct df_step *step, int pid,
                   struct run_mounts *rm, int net_none, const char *stepdir,
                   struct kiln_error **err)
{
    cleanup_free char *upper = path_join(stepdir, "upper");
    cleanup_free char *work = path_join(stepdir, "work");
    cleanup_free char *empty = path_join(stepdir, "empty");
    if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(empty, 0755) < 0)
        return kiln_error_errno(err, errno, "create overlay dirs in %s", stepdir);
    size_t nl = st->n_layers;
    const char **lowers = xcalloc(nl + 1, sizeof(char *));
    int *holds = xcalloc(nl + 1, sizeof(int));
    for (size_t i = 0; i < nl; i++) {
        lowers[i] = st->snaps[nl - 1 - i];
        holds[i] = store_snapshot_hold(b->store, &st->layers[i].diffid, err);
        if (holds[i] < 0) {
            for (size_t j = 0; j < i; j++)
                close(holds[j]);
            free(holds);
            free(lowers);
            return -1;
        }
    }
    if (nl == 0) {
        lowers[0] = empty;
        nl = 1;
    }
    /* Which mount points will the runtime create? */
    struct stubs stubs = {0};
    struct rootview *view = NULL;
    if (build_stage_rootview(b, st, &view, err) == 0) {
        static const char *fixed[] = {
            "/proc", "/dev", "/sys", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"};
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            note_stub(&stubs, view, fixed[i]);
        for (size_t i = 0; i < rm->n; i++)
            note_stub(&stubs, view, rm->m[i].target);
        const char *wd = json_string_value(json_object_get(build_config_obj(st), "WorkingDir"));
        if (wd && wd[0])
            note_stub(&stubs, view, wd);
        rootview_free(view);
    } else {
        kiln_error_freep(err);
    }
    char **argv = run_argv(st, step);
    const char **env = xcalloc(step->n_run_env + rm->n_env + 2, sizeof(char *));
    size_t n_env = 0;
    int has_sock = 0;
    for (size_t i = 0; i < step->n_run_env; i++) {
        int shadowed = 0; /* a secret env= of the same name wins */
        for (size_t j = 0; j < rm->n_env && !shadowed; j++) {
            size_t kl = strcspn(rm->env[j], "=") + 1;
            shadowed = strncmp(step->run_env[i], rm->env[j], kl) == 0;
        }
        if (shadowed)
            continue;
        env[n_env++] = step->run_env[i];
        has_sock |= strncmp(step->run_env[i], "SSH_AUTH_SOCK=", 14) == 0;
    }
    if (rm->ssh_env != NULL && !has_sock)
        env[n_env++] = rm->ssh_env;
    for (size_t i = 0; i < rm->n_env; i++)
        env[n_env++] = rm->env[i];
    json_t *c = build_config_obj(st);
    int pipefd[2], errfd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        int e = errno;
        strv_free(argv);
        free(env);
        return kiln_error_errno(err, e, "pipe");
    }
    if (pipe2(errfd, O_CLOEXEC) < 0) {
        int e = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        strv_free(argv);
        free(env);
        return kiln_error_errno(err, e, "pipe");
    }
    struct rt_spec spec;
    rt_spec_init(&spec);
    spec.lowerdirs = lowers;
    spec.n_lowerdirs = nl;
    spec.upperdir = upper;
    spec.workdir = work;
    spec.argv = (const char *const *)argv;
    spec.env = env;
    const char *wd = json_string_value(json_object_get(c, "WorkingDir"));
    spec.cwd = wd && wd[0] ? wd : "/";
    spec.user = json_string_value(json_object_get(c, "User"));
    /* net_none: 0 host, 1 none, 2 a private namespace (net/) for this step */
    spec.network = net_none == 1 ? RT_NET_NONE : net_none == 2 ? RT_NET_PRIVATE : RT_NET_HOST;
    spec.mounts = rm->m;
    spec.n_mounts = rm->n;
    spec.stdio[0] = -1;
    spec.stdio[1] = pipefd[1];
    spec.stdio[2] = pipefd[1];
    spec.hostname = "buildkitsandbox";
    /* The upper dir becomes a layer, synced once when committed (see
     * build_step_run): the fsyncs of the step's own programs (dpkg makes
     * one per file) need not reach the disk, and unmounting the overlay
     * need not sync the whole file system. */
    spec.volatile_upper = 1;
    /* ... and the calls themselves cost nothing: a sync(2) would flush every
     * file system of the host, fsyncs on cache mounts would reach the disk. */
    spec.sync_noop = 1;
    /* The runtime runs in a child made by fork(): the build has other
     * threads (parallel stages, progress), and glibc's fork leaves the child
     * with consistent allocator and stdio state, which a raw clone from a
     * multi-threaded process does not. The child reports back on errfd. */
    int rc = 0, status = 0;
    pid_t child = fork();
    if (child < 0) {
        rc = kiln_error_errno(err, errno, "fork");
    } else if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Only this step's ends: a step of another stage started meanwhile
         * must see its output's end when its own command is done, not when
         * this one's is (build_sched.bats). */
        int keep[] = {pipefd[1], errfd[1]};
        close_fds_except(keep, sizeof(keep) / sizeof(keep[0]));
        struct kiln_error *cerr = NULL;
        int st2 = 0;
        int r = runtime_run(&spec, &st2, &cerr);
        struct strbuf msg = STRBUF_INIT;
        strbuf_addf(&msg, "%d %d %d ", r, st2, cerr ? cerr->code : 0);
        if (cerr != NULL)
            strbuf_adds(&msg, cerr->msg);
        (void)write_all(errfd[1], msg.buf, msg.len);
        _exit(0);
    }
    close(pipefd[1]);
    close(errfd[1]);
    if (child > 0) {
        char buf[8192];
        for (;;) {
            ssize_t n = read(pipefd[0], buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            progress_step_output(b->o->progress, pid, buf, (size_t)n);
        }
        cleanup_strbuf struct strbuf rep = STRBUF_INIT;
        for (;;) {
            ssize_t n = read(errfd[0], buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            strbuf_add(&rep, buf, (size_t)n);
        }
        int ws = 0;
        while (waitpid(child, &ws, 0) < 0 && errno == EINTR)
            ;
        int r = -1, code = 0, off = 0;
        if (rep.len > 0 &&
            sscanf(rep.buf ? rep.buf : "", "%d %d %d %n", &r, &status, &code, &off) >= 3) {
            if (r < 0)
                rc = kiln_error_set(err, code ? code : KILN_E_FAIL, "%s", rep.buf + off);
        } else {
            rc = kiln_error_set(err, KILN_E_FAIL, "the runtime process died (wait status %d)", ws);
        }
    }
    close(pipefd[0]);
    close(errfd[0]);
    for (size_t i = 0; i < st->n_layers; i++)
        close(holds[i]);
    free(holds);
    free(lowers);
    free(env);
    strv_free(argv);
    if (rc == 0 && status != 0)
        rc = kiln_error_set(err, KILN_E_FAIL, "%s:%d: %s: the command exited with status %d",
                            b->df->file, step->orig->pos.line, step->text, status);
    else if (rc < 0)
        kiln_error_prefix(err, "%s:%d: %s", b->df->file, step->orig->pos.line, step->text);
    cleanup_close int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ufd >= 0)
        remove_stubs(&stubs, ufd);
    return rc;
}

int build_step_run(struct build_ctx *b, struct stage_state *st, const struct df_step *step, int pid,
                   struct digest *key, struct kiln_error **err)
{
    const struct df_instr *ins = step->ins;
    struct run_mounts rm = {0};
    size_t layers_before = st->n_layers;
    int rc = -1, inflight = 0;
    cleanup_free char *stepdir = NULL;
    cleanup_free char *upper = NULL;
    struct digester *k = cache_key_begin(key);
    const char **mounts = NULL;
    size_t n_mounts = df_instr_flag_all(ins, "mount", &mounts);
    for (size_t i = 0; i < n_mounts; i++) {
        if (mount_key(b, st, mounts[i], k, err) < 0) {
            digester_free(k);
            goto out;
        }
    }
    const char *net = df_instr_flag(ins, "network");
    int net_none = b->o->network_none;
    if (net != NULL && strcmp(net, "none") == 0)
        net_none = 1;
    else if (net != NULL && (strcmp(net, "host") == 0 || strcmp(net, "default") == 0))
        net_none = strcmp(net, "host") == 0 ? 0 : net_none;
    else if (net != NULL && strcmp(net, "private") == 0)
        net_none = 2;
    else if (net != NULL) {
        digester_free(k);
        kiln_error_set(err, KILN_E_USAGE, "RUN --network=%s: use default, none, host or private",
                       net);
        goto out;
    }
    /* A private namespace reaches out as the host does: the same key as host. */
    cache_key_adds(k, "network", net_none == 1 ? "none" : "host");
    cache_key_finish(k, key);
    /* another platform running this very step: wait, then take its result */
    build_inflight_enter(key);
    inflight = 1;
    int hit = build_cache_hit(b, st, key, err);
    if (hit < 0)
        goto out;
    if (hit) {
        progress_step_cached(b->o->progress, pid);
        rc = 0;
        goto out;
    }
    /* A miss runs on top of the layers: fetch those --cache-from hits left out. */
    if (build_stage_materialize(b, st, err) < 0)
        goto out;
    /* A shared cache mount another step holds is a view of it: no wait. */
    for (size_t i = 0; i < n_mounts; i++)
        if (add_mount(b, st, mounts[i], pid, &rm, err) < 0)
            goto out;
    stepdir = build_scratch_mkdtemp(b, "run", err);
    if (stepdir == NULL)
        goto out;
    if (is_shebang(sole_heredoc(step)) &&
        add_shebang_mount(sole_heredoc(step), stepdir, &rm, err) < 0)
        goto out;
    rc = execute(b, st, step, pid, &rm, net_none, stepdir, err);
    run_mounts_release(&rm); /* the caches are free, a view's new files in its cache */
    memset(&rm, 0, sizeof(rm));
    if (rc < 0)
        goto out;
    rc = -1;
    upper = path_join(stepdir, "upper");
    {
        cleanup_close int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ufd < 0) {
            kiln_error_errno(err, errno, "open %s", upper);
            goto out;
        }
        if (dir_empty(ufd)) {
            struct cache_entry none = {0};
            if (build_cache_record(b, st, key, &none, err) < 0)
                goto out;
            progress_step_done(b->o->progress, pid);
            rc = 0;
            goto out;
        }
    }
    /* The overlay was volatile: its files are synced only if they become
     * the layer's snapshot (not when the store has it already, as after a
     * --no-cache rebuild), before the cache points at it. */
    if (build_commit_dir(b, st, upper, 1, key, err) < 0)
        goto out;
    progress_step_done(b->o->progress, pid);
    rc = 0;
out:
    if (inflight)
        build_inflight_leave(key);
    if (rc == 0)
        build_add_history(b, st, step->text, st->n_layers == layers_before);
    if (rc < 0)
        progress_step_error(b->o->progress, pid, *err ? (*err)->msg : "failed");
    if (stepdir != NULL)
        build_discard(b, stepdir);
    run_mounts_release(&rm);
    free(mounts);
    return rc;
}
