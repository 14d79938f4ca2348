/* Container records under KILN_ROOT/containers (see container.h). */
#include "runtime/container.h"
#include "runtime/health.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

char *ctr_dir(const char *root, const char *id)
{
    return xasprintf("%s/containers/%s", root, id);
}

static int valid_name(const char *n)
{
    if (n[0] == '\0' || strlen(n) > 128)
        return 0;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              (c != n && (*c == '_' || *c == '.' || *c == '-'))))
            return 0;
    return 1;
}

static int is_hex_id(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return 0;
    return 1;
}

static const char *const adjectives[] = {"brave", "calm",  "eager", "fond", "keen", "merry",
                                         "proud", "quiet", "swift", "warm", "bold", "wise"};
static const char *const nouns[] = {"kiln", "anvil",    "forge",   "ember", "flint", "spark",
                                    "ore",  "crucible", "bellows", "tongs", "ingot", "slag"};

int ctr_create(const char *root, const char *name, json_t *config, char **id_out,
               struct kiln_error **err)
{
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
        return kiln_error_errno(err, errno, "getrandom");
    char id[65];
    for (int i = 0; i < 32; i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    cleanup_free char *names = xasprintf("%s/containers/names", root);
    if (mkdir_p(names, 0700, err) < 0)
        return -1;
    char gen[64];
    if (name == NULL) {
        snprintf(gen, sizeof(gen), "%s_%s_%02x", adjectives[rnd[0] % 12], nouns[rnd[1] % 12],
                 rnd[2]);
        name = gen;
    } else if (!valid_name(name)) {
        return kiln_error_set(err, KILN_E_USAGE,
                              "invalid container name \"%s\": use [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                              name);
    }
    cleanup_free char *dir = ctr_dir(root, id);
    cleanup_free char *link = xasprintf("%s/%s", names, name);
    if (symlink(id, link) < 0) {
        if (errno == EEXIST)
            return kiln_error_set(err, KILN_E_EXISTS,
                                  "the container name \"%s\" is already in use; remove that "
                                  "container (kiln rm %s) or choose another --name",
                                  name, name);
        return kiln_error_errno(err, errno, "reserving name %s", name);
    }
    cleanup_free char *upper = xasprintf("%s/upper", dir);
    cleanup_free char *work = xasprintf("%s/work", dir);
    if (mkdir(dir, 0700) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0) {
        int e = errno;
        unlink(link);
        rm_rf(dir, NULL);
        return kiln_error_errno(err, e, "creating %s", dir);
    }
    json_object_set_new(config, "Id", json_string(id));
    json_object_set_new(config, "Name", json_string(name));
    json_object_set_new(config, "Created", json_integer((json_int_t)time(NULL)));
    if (json_string_value(json_object_get(config, "Hostname")) == NULL) {
        char shortid[13];
        snprintf(shortid, sizeof(shortid), "%.12s", id);
        json_object_set_new(config, "Hostname", json_string(shortid));
    }
    cleanup_free char *cfg = json_dumps(config, JSON_COMPACT);
    cleanup_free char *cfgpath = xasprintf("%s/config.json", dir);
    /* No fsync: a container record is runtime state, not stored data. */
    int fd = open(cfgpath, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, cfg, strlen(cfg)) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        unlink(link);
        rm_rf(dir, NULL);
        return kiln_error_errno(err, e, "writing %s", cfgpath);
    }
    close(fd);
    /* No state.json yet: that is "created" (ctr_load_state). The first one is
     * then a new file, not a replacement, which ext4 must flush on rename. */
    *id_out = xstrdup(id);
    return 0;
}

int ctr_find(const char *root, const char *what, char **id_out, struct kiln_error **err)
{
    if (what[0] != '\0' && strchr(what, '/') == NULL && strcmp(what, ".") && strcmp(what, "..")) {
        cleanup_free char *link = xasprintf("%s/containers/names/%s", root, what);
        char buf[80];
        ssize_t n = readlink(link, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            if (is_hex_id(buf)) {
                *id_out = xstrdup(buf);
                return 0;
            }
        }
    }
    size_t len = strlen(what);
    char **ids = NULL;
    size_t n = 0;
    if (len >= 3 && ctr_list(root, &ids, &n, NULL) == 0) {
        char *found = NULL;
        int many = 0;
        for (size_t i = 0; i < n; i++) {
            if (strncmp(ids[i], what, len) == 0) {
                if (found)
                    many = 1;
                found = ids[i];
            }
        }
        if (found && !many)
            *id_out = xstrdup(found);
        ctr_list_free(ids, n);
        if (many)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "container id prefix \"%s\" is ambiguous; give more of it", what);
        if (found)
            return 0;
    }
    return kiln_error_set(err, KILN_E_NOTFOUND, "no such container: %s (see kiln ps -a)", what);
}

static long long created_of(const char *root, const char *id)
{
    json_t *c = ctr_load_config(root, id, NULL);
    long long t = c ? json_get_int(c, "Created", 0) : 0;
    json_decref(c);
    return t;
}

struct idtime {
    char *id;
    long long t;
};

static int by_time_desc(const void *a, const void *b)
{
    const struct idtime *x = a, *y = b;
    return x->t < y->t ? 1 : x->t > y->t ? -1 : strcmp(x->id, y->id);
}

int ctr_list(const char *root, char ***ids, size_t *n, struct kiln_error **err)
{
    cleanup_free char *dir = xasprintf("%s/containers", root);
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return kiln_error_errno(err, errno, "%s", dir);
    }
    struct idtime *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_hex_id(e->d_name))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[cnt].id = xstrdup(e->d_name);
        v[cnt].t = created_of(root, e->d_name);
        cnt++;
    }
    closedir(d);
    if (cnt > 1)
        qsort(v, cnt, sizeof(*v), by_time_desc);
    *ids = xcalloc(cnt + 1, sizeof(char *));
    for (size_t i = 0; i < cnt; i++)
        (*ids)[i] = v[i].id;
    free(v);
    *n = cnt;
    return 0;
}

void ctr_list_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static json_t *load_json(const char *root, const char *id, const char *file,
                         struct kiln_error **err)
{
    cleanup_free char *dir = ctr_dir(root, id);
    cleanup_free char *p = xasprintf("%s/%s", dir, file);
    return json_load_path(p, 16 << 20, err);
}

json_t *ctr_load_config(const char *root, const char *id, struct kiln_error **err)
{
    return load_json(root, id, "config.json", err);
}

static int save_json(const char *root, const char *id, const char *file, const json_t *v,
                     struct kiln_error **err)
{
    cleanup_free char *dir = ctr_dir(root, id);
    cleanup_free char *p = xasprintf("%s/%s", dir, file);
    cleanup_free char *tmp = xasprintf("%s/.%s.%d", dir, file, (int)getpid());
    cleanup_free char *text = json_dumps(v, JSON_COMPACT);
    int fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return kiln_error_errno(err, errno, "writing %s", p);
    int r = write_all(fd, text, strlen(text));
    int e = errno;
    close(fd);
    if (r < 0 || rename(tmp, p) < 0) {
        e = r < 0 ? e : errno;
        unlink(tmp);
        return kiln_error_errno(err, e, "writing %s", p);
    }
    return 0;
}

int ctr_save_state(const char *root, const char *id, const json_t *state, struct kiln_error **err)
{
    return save_json(root, id, "state.json", state, err);
}

json_t *ctr_load_health(const char *root, const char *id)
{
    json_t *raw = load_json(root, id, "health.json", NULL);
    json_t *h = ctr_health_normalize(raw);
    json_decref(raw);
    return h;
}

int ctr_save_health(const char *root, const char *id, const json_t *health, struct kiln_error **err)
{
    return save_json(root, id, "health.json", health, err);
}

/* The supervisor's flock is on the record's directory itself: no lock file
 * to create and delete per container. */
int ctr_lock_supervisor(const char *root, const char *id, struct kiln_error **err)
{
    cleanup_free char *dir = ctr_dir(root, id);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "%s", dir);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return kiln_error_set(err, KILN_E_EXISTS, "container %.12s is already running", id);
        return kiln_error_errno(err, e, "locking %s", dir);
    }
    return fd;
}

static int locked_by_other(const char *path, int flags)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0)
        return errno == EWOULDBLOCK;
    flock(fd, LOCK_UN);
    return 0;
}

int ctr_supervisor_alive(const char *root, const char *id)
{
    cleanup_free char *dir = ctr_dir(root, id);
    /* "lock": where supervisors of earlier kiln versions hold it. */
    cleanup_free char *legacy = xasprintf("%s/lock", dir);
    return locked_by_other(dir, O_DIRECTORY | O_NOFOLLOW) || locked_by_other(legacy, 0);
}

json_t *ctr_load_state(const char *root, const char *id, struct kiln_error **err)
{
    struct kiln_error *e = NULL;
    json_t *st = load_json(root, id, "state.json", &e);
    if (st == NULL) {
        cleanup_free char *dir = ctr_dir(root, id);
        cleanup_free char *cfg = xasprintf("%s/config.json", dir);
        if (e != NULL && e->errnum == ENOENT && access(cfg, F_OK) == 0) {
            kiln_error_free(e);
            return json_pack("{s:s}", "Status", "created");
        }
        if (err != NULL)
            *err = e;
        else
            kiln_error_free(e);
        return NULL;
    }
    const char *status = json_get_str(st, "Status");
    if (status && (strcmp(status, "running") == 0 || strcmp(status, "restarting") == 0) &&
        !ctr_supervisor_alive(root, id)) {
        /* The supervisor was killed; PID 1 died with it (PDEATHSIG), and so
         * did its network's holder and slirp4netns; make sure of those. */
        net_ns_reap_recorded((pid_t)json_get_int(st, "NetHolder", 0),
                             (pid_t)json_get_int(st, "NetHelper", 0));
        json_object_set_new(st, "Status", json_string("exited"));
        json_object_set_new(st, "ExitCode", json_integer(137));
        json_object_set_new(st, "Finished", json_integer((json_int_t)time(NULL)));
        json_object_set_new(st, "Error", json_string("supervisor died"));
        ctr_save_state(root, id, st, NULL);
    }
    return st;
}

int ctr_remove(const char *root, const char *id, struct kiln_error **err)
{
    json_t *cfg = ctr_load_config(root, id, NULL);
    const char *name = cfg ? json_get_str(cfg, "Name") : NULL;
    const char *pod = cfg ? json_get_str(cfg, "Pod") : NULL;
    /* Best effort: a pod's hosts file that cannot be rewritten (the pod
     * half-removed) is no reason to keep the container's record. */
    if (name != NULL && pod != NULL)
        pod_remove_host(root, pod, name, NULL);
    if (name != NULL) {
        cleanup_free char *link = xasprintf("%s/containers/names/%s", root, name);
        char buf[80];
        ssize_t n = readlink(link, buf, sizeof(buf) - 1);
        if (n == 64 && strncmp(buf, id, 64) == 0)
            unlink(link);
    }
    json_decref(cfg);
    cleanup_free char *dir = ctr_dir(root, id);
    /* the upper dir holds what the container gave to its other users */
    return rt_rootless_rm_rf(dir, err);
}

int ctr_parse_signal(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } table[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2},   {"TERM", SIGTERM}, {"STOP", SIGSTOP},
        {"CONT", SIGCONT}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR},   {"ALRM", SIGALRM},
    };
    if (s == NULL || *s == '\0')
        return -1;
    if (*s >= '0' && *s <= '9') {
        int v = atoi(s);
        return v > 0 && v < NSIG ? v : -1;
    }
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcasecmp(s, table[i].name) == 0)
            return table[i].sig;
    if (strncasecmp(s, "RTMIN+", 6) == 0)
        return SIGRTMIN + atoi(s + 6);
    return -1;
}
