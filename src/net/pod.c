/* Pods: a network namespace with its own detached supervisor (what podman's
 * infra container is), published ports on it, and containers that join it
 * (kiln run --pod). The supervisor holds the pod directory's flock while it
 * lives; a SIGKILLed supervisor takes the holder and slirp4netns with it
 * (PDEATHSIG). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

static int valid_name(const char *n)
{
    if (n[0] == '\0' || strlen(n) > 64 || n[0] == '.' || n[0] == '-')
        return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

static char *pod_dir(const char *root, const char *name)
{
    return xasprintf("%s/pods/%s", root, name);
}

static json_t *load(const char *root, const char *name, const char *file)
{
    cleanup_free char *p = xasprintf("%s/pods/%s/%s", root, name, file);
    return json_load_file(p, 0, NULL);
}

static int save(const char *root, const char *name, const char *file, const json_t *j,
                struct kiln_error **err)
{
    cleanup_free char *p = xasprintf("%s/pods/%s/%s", root, name, file);
    cleanup_free char *text = json_dumps(j, JSON_COMPACT);
    return write_file_atomic(p, text, strlen(text), 0644, err);
}

static int locked(const char *dir)
{
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0)
        return errno == EWOULDBLOCK;
    return 0;
}

/* The pod's supervisor: holds the namespace until SIGTERM/SIGINT, or until
 * the holder or slirp4netns dies. */
static __attribute__((noreturn)) void supervise(const char *root, const char *name,
                                                const struct net_port *ports, size_t n_ports,
                                                net_map_ids_fn map_ids, void *map_ctx, int ready)
{
    cleanup_free char *dir = pod_dir(root, name);
    int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
        dprintf(ready, "pod %s is already running", name);
        _exit(1);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct net_ns ns;
    struct kiln_error *err = NULL;
    if (net_ns_create(ports, n_ports, map_ids, map_ctx, &ns, &err) < 0) {
        dprintf(ready, "%s", err->msg);
        _exit(1);
    }
    json_t *st = json_pack("{s:s,s:i,s:i,s:i,s:I}", "Status", "running", "Supervisor",
                           (int)getpid(), "NetHolder", (int)ns.holder, "NetHelper", (int)ns.slirp,
                           "Started", (json_int_t)time(NULL));
    save(root, name, "state.json", st, NULL);
    json_decref(st);
    write_all(ready, "", 1);
    close(ready);
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig == SIGCHLD) {
            int died = 0;
            pid_t p;
            while ((p = waitpid(-1, NULL, WNOHANG)) > 0)
                if (p == ns.holder || p == ns.slirp) {
                    if (p == ns.holder)
                        ns.holder = 0;
                    else
                        ns.slirp = 0;
                    died = 1;
                }
            if (!died)
                continue;
        } else if (sig < 0) {
            continue;
        }
        break;
    }
    net_ns_release(&ns);
    st = json_pack("{s:s,s:I}", "Status", "exited", "Finished", (json_int_t)time(NULL));
    save(root, name, "state.json", st, NULL);
    json_decref(st);
    _exit(0);
}

int pod_create(const char *root, const char *name, const struct net_port *ports, size_t n_ports,
               net_map_ids_fn map_ids, void *map_ctx, char **name_out, struct kiln_error **err)
{
    char gen[32];
    if (name == NULL) {
        unsigned r = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)clock();
        snprintf(gen, sizeof(gen), "pod-%06x", r & 0xffffff);
        name = gen;
    }
    if (!valid_name(name))
        return kiln_error_set(err, KILN_E_USAGE,
                              "pod name \"%s\": use letters, digits, _ . - (at most 64)", name);
    cleanup_free char *pods = xasprintf("%s/pods", root);
    if (mkdir_p(pods, 0700, err) < 0)
        return -1;
    cleanup_free char *dir = pod_dir(root, name);
    if (mkdir(dir, 0700) < 0) {
        if (errno == EEXIST)
            return kiln_error_set(err, KILN_E_EXISTS, "a pod named %s already exists", name);
        return kiln_error_errno(err, errno, "%s", dir);
    }
    json_t *cfg = json_pack("{s:s,s:I,s:o}", "Name", name, "Created", (json_int_t)time(NULL),
                            "Ports", net_ports_to_json(ports, n_ports));
    int r = save(root, name, "pod.json", cfg, err);
    json_decref(cfg);
    cleanup_free char *hosts = xasprintf("%s/hosts", dir);
    static const char base[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    if (r == 0)
        r = write_file_atomic(hosts, base, strlen(base), 0644, err);
    int p[2];
    if (r == 0 && pipe2(p, O_CLOEXEC) < 0)
        r = kiln_error_errno(err, errno, "pipe");
    if (r < 0) {
        rm_rf(dir, NULL);
        return -1;
    }
    fflush(NULL);
    pid_t first = fork();
    if (first == 0) {
        close(p[0]);
        setsid();
        signal(SIGHUP, SIG_IGN);
        if (fork() != 0)
            _exit(0);
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        fd_close_inherited(&p[1], 1);
        if (chdir("/") < 0)
            _exit(1);
        supervise(root, name, ports, n_ports, map_ids, map_ctx, p[1]);
    }
    close(p[1]);
    if (first > 0)
        waitpid(first, NULL, 0);
    char buf[600];
    ssize_t n, got = 0;
    while ((n = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
        got += n;
    close(p[0]);
    if (got == 1 && buf[0] == '\0') {
        if (name_out)
            *name_out = xstrdup(name);
        return 0;
    }
    buf[got > 0 ? got : 0] = '\0';
    rm_rf(dir, NULL);
    return kiln_error_set(err, KILN_E_FAIL, "pod %s: %s", name,
                          got > 0 ? buf : "its supervisor failed");
}

int pod_lookup(const char *root, const char *name, struct pod_info *pi, struct kiln_error **err)
{
    memset(pi, 0, sizeof(*pi));
    cleanup_free char *dir = pod_dir(root, name);
    if (!valid_name(name) || access(dir, F_OK) < 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "no pod named %s (kiln pod create --name %s)",
                              name, name);
    json_t *st = load(root, name, "state.json");
    pid_t holder = st ? (pid_t)json_get_int(st, "NetHolder", 0) : 0;
    json_decref(st);
    if (holder <= 0 || !locked(dir))
        return kiln_error_set(err, KILN_E_NOTFOUND, "pod %s is not running", name);
    pi->holder = holder;
    pi->hosts_file = xasprintf("%s/hosts", dir);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int pod_list(const char *root, char ***names, size_t *n, struct kiln_error **err)
{
    *names = NULL;
    *n = 0;
    cleanup_free char *pods = xasprintf("%s/pods", root);
    DIR *d = opendir(pods);
    if (d == NULL)
        return errno == ENOENT ? 0 : kiln_error_errno(err, errno, "%s", pods);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        *names = xrealloc(*names, (*n + 1) * sizeof(char *));
        (*names)[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof(char *), cmp_str);
    return 0;
}

json_t *pod_load(const char *root, const char *name, struct kiln_error **err)
{
    json_t *cfg = valid_name(name) ? load(root, name, "pod.json") : NULL;
    if (cfg == NULL) {
        kiln_error_set(err, KILN_E_NOTFOUND, "no pod named %s", name);
        return NULL;
    }
    cleanup_free char *dir = pod_dir(root, name);
    json_t *st = load(root, name, "state.json");
    int running = locked(dir);
    json_object_set_new(cfg, "Status", json_string(running ? "running" : "exited"));
    if (running && st)
        json_object_set_new(cfg, "Pid", json_integer(json_get_int(st, "Supervisor", 0)));
    json_decref(st);
    return cfg;
}

int pod_remove(const char *root, const char *name, struct kiln_error **err)
{
    cleanup_free char *dir = pod_dir(root, name);
    if (!valid_name(name) || access(dir, F_OK) < 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "no pod named %s", name);
    json_t *st = load(root, name, "state.json");
    pid_t sup = st ? (pid_t)json_get_int(st, "Supervisor", 0) : 0;
    pid_t holder = st ? (pid_t)json_get_int(st, "NetHolder", 0) : 0;
    pid_t slirp = st ? (pid_t)json_get_int(st, "NetHelper", 0) : 0;
    json_decref(st);
    if (locked(dir) && sup > 0) {
        kill(sup, SIGTERM);
        for (int i = 0; i < 200 && locked(dir); i++) {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
        if (locked(dir))
            kill(sup, SIGKILL);
        for (int i = 0; i < 200 && locked(dir); i++) {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    } else {
        net_ns_reap_recorded(holder, slirp);
    }
    return rm_rf(dir, err);
}

/* The hosts file is changed in place under its flock: the pod's running
 * containers bind this inode as /etc/hosts, a renamed-over copy would not
 * reach them. */
int pod_add_host(const char *hosts_file, const char *names, struct kiln_error **err)
{
    cleanup_close int fd = open(hosts_file, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX) < 0)
        return kiln_error_errno(err, errno, "%s", hosts_file);
    cleanup_free char *line = xasprintf("127.0.0.1\t%s\n", names);
    if (write_all(fd, line, strlen(line)) < 0)
        return kiln_error_errno(err, errno, "%s", hosts_file);
    return 0;
}

/* 1 when line (up to its newline) is pod_add_host's for container name:
 * "127.0.0.1<TAB>NAME" then a space or the end. */
static int host_line_of(const char *line, const char *name)
{
    static const char ip[] = "127.0.0.1\t";
    size_t n = strlen(name);
    if (strncmp(line, ip, sizeof(ip) - 1) != 0)
        return 0;
    line += sizeof(ip) - 1;
    return strncmp(line, name, n) == 0 && (line[n] == ' ' || line[n] == '\n' || line[n] == '\0');
}

int pod_remove_host(const char *root, const char *pod, const char *name, struct kiln_error **err)
{
    if (!valid_name(pod) || name == NULL || name[0] == '\0')
        return 0;
    cleanup_free char *dir = pod_dir(root, pod);
    cleanup_free char *path = xasprintf("%s/hosts", dir);
    cleanup_close int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : kiln_error_errno(err, errno, "%s", path);
    struct stat st;
    if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0)
        return kiln_error_errno(err, errno, "%s", path);
    if (st.st_size > (1 << 20))
        return kiln_error_set(err, KILN_E_INVALID, "%s: larger than 1 MiB", path);
    cleanup_free char *buf = xmalloc((size_t)st.st_size + 1);
    ssize_t got = pread(fd, buf, (size_t)st.st_size, 0);
    if (got < 0)
        return kiln_error_errno(err, errno, "%s", path);
    buf[got] = '\0';
    struct strbuf keep;
    strbuf_init(&keep);
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        if (!host_line_of(line, name))
            strbuf_add(&keep, line, len);
        line += len;
    }
    int r = 0;
    if (keep.len != (size_t)got && (pwrite(fd, keep.buf, keep.len, 0) != (ssize_t)keep.len ||
                                    ftruncate(fd, (off_t)keep.len) < 0))
        r = kiln_error_errno(err, errno, "%s", path);
    strbuf_release(&keep);
    return r;
}
