/* runtime_run end to end on a plain busybox-static root (no store needed):
 * isolation, lock-down, user, workdir, exit statuses, mounts. Needs root;
 * skips otherwise. */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/runtime.h"
#include "tap.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/kiln-rt-test.XXXXXX";
static char *rootfs;

static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        printf("Bail out! %s\n", cmd);
        exit(1);
    }
}

static void make_rootfs(void)
{
    rootfs = path_join(tmp, "rootfs");
    char *cmd = xasprintf(
        "set -e; r=%s; mkdir -p $r/bin $r/etc $r/home/app $r/tmp; cp /bin/busybox $r/bin/; "
        "for a in $($r/bin/busybox --list); do [ $a = busybox ] || ln -sf busybox $r/bin/$a; done; "
        "printf 'root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000:App:/home/app:/bin/sh\\n' "
        "> $r/etc/passwd; printf 'root:x:0:\\napp:x:1000:\\ndata:x:2000:app\\n' > $r/etc/group; "
        "printf '#!/bin/nonexistent\\n' > $r/bin/badinterp; chmod 755 $r/bin/badinterp; "
        "printf 'x' > $r/bin/notexec; chmod 644 $r/bin/notexec; "
        "ln -s /../../../../tmp $r/escape",
        rootfs);
    sh(cmd);
    free(cmd);
}

/* Runs argv in the rootfs with stdout captured; returns the status. */
static int run(struct rt_spec *s, const char *const *argv, char **out, char **errmsg)
{
    char *outpath = path_join(tmp, "out");
    int fd = open(outpath, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    s->rootfs = s->n_lowerdirs ? NULL : rootfs;
    s->argv = argv;
    s->stdio[0] = -1;
    s->stdio[1] = fd;
    s->stdio[2] = fd;
    int status = -1;
    struct kiln_error *err = NULL;
    int r = runtime_run(s, &status, &err);
    close(fd);
    *out = NULL;
    read_file(outpath, 1 << 20, out, NULL, NULL);
    if (errmsg)
        *errmsg = r < 0 && err ? xstrdup(err->msg) : NULL;
    if (r < 0 && !errmsg)
        printf("# runtime_run: %s\n", err ? err->msg : "?");
    kiln_error_free(err);
    free(outpath);
    return status;
}

static int runsh(struct rt_spec *s, const char *script, char **out)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    return run(s, argv, out, NULL);
}

/* Overlay root: many lower dirs (long paths, more than fit in one option
 * string), an upper dir that ends up holding the kernel's whiteouts. */
static void test_overlay(void)
{
    enum { N = 120 };
    char *lowers[N + 1];
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    for (int i = 0; i < N; i++) {
        lowers[i] = xasprintf("%s/snapshots/%064d", tmp, i);
        strbuf_addf(&sb, "mkdir -p %s/layer%d; echo %d > %s/layer%d/v; ", lowers[i], i, i,
                    lowers[i], i);
    }
    lowers[N] = rootfs; /* the bottom layer: busybox */
    char *upper = path_join(tmp, "upper"), *work = path_join(tmp, "work");
    strbuf_addf(&sb, "mkdir -p %s %s", upper, work);
    sh(sb.buf);
    strbuf_release(&sb);

    struct rt_spec s;
    char *out;
    rt_spec_init(&s);
    s.lowerdirs = (const char *const *)lowers;
    s.n_lowerdirs = N + 1;
    s.upperdir = upper;
    s.workdir = work;
    is_int(runsh(&s,
                 "cat /layer0/v /layer119/v; rm /bin/cat; rm -rf /home/app; "
                 "mkdir /home/app; echo new > /home/app/f",
                 &out),
           0, "overlay of %d layers runs", N + 1);
    is_str(out, "0\n119\n", "every layer visible");
    free(out);
    char *wh = path_join(upper, "bin/cat");
    struct stat st;
    ok(lstat(wh, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0,
       "deleted file is a 0/0 whiteout in the upper dir");
    free(wh);
    char *opq = path_join(upper, "home/app");
    char v[4] = {0};
    ok(lgetxattr(opq, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y',
       "recreated dir is opaque in the upper dir");
    free(opq);
    char *leak = xasprintf("%s/proc", upper);
    ok(!path_exists(leak), "the /proc mount point is not left in the upper dir");
    free(leak);
    leak = xasprintf("%s/etc", upper);
    ok(!path_exists(leak), "nor /etc/hosts and the /etc copied up for it");
    free(leak);
    leak = xasprintf("%s/dev", upper);
    ok(!path_exists(leak), "nor /dev");
    free(leak);
    ok(!path_exists(rootfs) || access(rootfs, F_OK) == 0, "lower dir untouched");
    char *cat = path_join(rootfs, "bin/cat");
    ok(lstat(cat, &st) == 0 && S_ISLNK(st.st_mode), "lower file still there");
    free(cat);

    /* Read-only overlay: no upper dir. */
    rt_spec_init(&s);
    s.lowerdirs = (const char *const *)lowers;
    s.n_lowerdirs = N + 1;
    is_int(runsh(&s, "touch /x 2>/dev/null || echo ro", &out), 0, "overlay without upper runs");
    is_str(out, "ro\n", "overlay without upper is read-only");
    free(out);
    for (int i = 0; i < N; i++)
        free(lowers[i]);
    free(upper);
    free(work);
}

static int pid_pipe[2];

static void send_pid(void *ctx, pid_t pid)
{
    (void)ctx;
    write(pid_pipe[1], &pid, sizeof(pid));
}

/* runtime_exec into a running container. */
static void test_exec(void)
{
    if (pipe(pid_pipe) < 0)
        return;
    fflush(stdout); /* the child must not repeat our buffered TAP lines */
    pid_t runner = fork();
    if (runner == 0) {
        struct rt_spec s;
        rt_spec_init(&s);
        s.hostname = "execbox";
        s.on_start = send_pid;
        char *out;
        runsh(&s, "echo marker > /tmp/m; exec sleep 30", &out);
        _exit(0);
    }
    pid_t pid1 = 0;
    read(pid_pipe[0], &pid1, sizeof(pid1));
    usleep(100000);
    struct rt_spec s;
    rt_spec_init(&s);
    s.user = "app";
    s.cwd = "/tmp";
    char *out;
    const char *argv[] = {"sh", "-c",
                          "hostname; cat m; id -u; pwd; grep -E '^(CapEff|NoNewPrivs|Seccomp):' "
                          "/proc/self/status; ls /proc | grep -c '^[0-9]'",
                          NULL};
    char *outpath = path_join(tmp, "exec-out");
    int fd = open(outpath, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    s.argv = argv;
    s.stdio[0] = -1;
    s.stdio[1] = fd;
    s.stdio[2] = fd;
    int status = -1;
    struct kiln_error *err = NULL;
    ok(runtime_exec(pid1, &s, &status, &err) == 0, "runtime_exec runs");
    close(fd);
    kiln_error_free(err);
    read_file(outpath, 1 << 20, &out, NULL, NULL);
    is_str(
        out,
        "execbox\nmarker\n1000\n/tmp\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n5\n",
        "exec sees the container's hostname, files, pid namespace; locked down as the user");
    free(out);
    /* The same through namespace files (what a rootless container's
     * supervisor hands over): pid1 is then not looked at. */
    struct rt_ns ns;
    rt_ns_init(&ns);
    const char *names[] = {"user", "ipc", "uts", "net", "pid", "mnt"};
    for (int i = 0; i < RT_NS_COUNT; i++) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid1, names[i]);
        ns.fd[i] = open(p, O_RDONLY | O_CLOEXEC);
    }
    const char *hn[] = {"sh", "-c", "hostname; cat /tmp/m", NULL};
    fd = open(outpath, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    s.argv = hn;
    s.stdio[1] = s.stdio[2] = fd;
    s.ns = &ns;
    err = NULL;
    ok(runtime_exec(-1, &s, &status, &err) == 0 && status == 0, "runtime_exec through s->ns runs");
    close(fd);
    kiln_error_free(err);
    read_file(outpath, 1 << 20, &out, NULL, NULL);
    is_str(out, "execbox\nmarker\n", "in the container those files are of");
    free(out);
    free(outpath);
    s.ns = NULL;
    rt_ns_close(&ns);
    const char *typo[] = {"pyhton", NULL};
    s.argv = typo;
    err = NULL;
    ok(runtime_exec(pid1, &s, &status, &err) < 0 && status == 127,
       "exec of a missing command: 127");
    kiln_error_free(err);
    kill(pid1, SIGKILL);
    waitpid(runner, NULL, 0);
    err = NULL;
    s.argv = argv;
    ok(runtime_exec(pid1, &s, &status, &err) < 0, "exec into a dead container fails");
    kiln_error_free(err);
}

static void kill_at_start(void *ctx, pid_t pid)
{
    (void)ctx;
    kill(pid, SIGKILL);
}

/* Container records: "created" before any state.json, the supervisor's lock
 * on the record's directory, hostname defaulting to the short id. */
static void test_records(void)
{
    char *root = xasprintf("%s/store", tmp);
    mkdir(root, 0700);
    json_t *cfg = json_object();
    char *id = NULL;
    struct kiln_error *err = NULL;
    is_int(ctr_create(root, "rec", cfg, &id, &err), 0, "record created");
    json_t *st = ctr_load_state(root, id, &err);
    is_str(st ? json_string_value(json_object_get(st, "Status")) : "(none)", "created",
           "no state.json yet reads as created");
    json_decref(st);
    json_t *c = ctr_load_config(root, id, NULL);
    char shortid[13];
    snprintf(shortid, sizeof(shortid), "%.12s", id);
    is_str(c ? json_string_value(json_object_get(c, "Hostname")) : "(none)", shortid,
           "hostname defaults to the short id");
    json_decref(c);
    ok(!ctr_supervisor_alive(root, id), "no supervisor yet");
    int lk = ctr_lock_supervisor(root, id, &err);
    ok(lk >= 0, "supervisor lock taken");
    ok(ctr_supervisor_alive(root, id), "alive while the lock is held");
    struct kiln_error *e2 = NULL;
    ok(ctr_lock_supervisor(root, id, &e2) < 0 && e2 && e2->code == KILN_E_EXISTS,
       "a second supervisor is refused");
    kiln_error_free(e2);
    close(lk);
    ok(!ctr_supervisor_alive(root, id), "gone when the lock is released");
    is_int(ctr_remove(root, id, NULL), 0, "record removed");
    ok(ctr_load_state(root, id, NULL) == NULL, "no state once removed");
    free(id);
    json_decref(cfg);
    free(root);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("1..0 # SKIP needs root\n");
        return 0;
    }
    if (mkdtemp(tmp) == NULL)
        return 1;
    make_rootfs();
    struct rt_spec s;
    char *out, *msg;

    rt_spec_init(&s);
    is_int(runsh(&s, "echo hello", &out), 0, "echo runs");
    is_str(out, "hello\n", "output captured");
    free(out);

    rt_spec_init(&s);
    s.hostname = "box1";
    runsh(&s, "hostname; cat /etc/hostname; echo $HOSTNAME", &out);
    is_str(out, "box1\nbox1\nbox1\n", "hostname is the container's");
    free(out);

    rt_spec_init(&s);
    runsh(&s, "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status", &out);
    is_str(out,
           "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\n",
           "Docker's capabilities, no_new_privs, seccomp");
    free(out);

    rt_spec_init(&s);
    runsh(&s, "ls /proc/self/fd", &out);
    is_str(out, "0\n1\n2\n3\n", "only stdio (and ls's own dir fd) open");
    free(out);

    rt_spec_init(&s);
    runsh(&s, "echo $$; ps -o pid,comm | wc -l", &out);
    ok(out && strncmp(out, "2\n", 2) == 0, "command is PID 1's child");
    free(out);

    rt_spec_init(&s);
    s.no_init = 1;
    runsh(&s, "echo $$", &out);
    is_str(out, "1\n", "--init=false: command is PID 1");
    free(out);

    rt_spec_init(&s);
    runsh(&s, "mount -t tmpfs t /mnt 2>&1; unshare -m true 2>&1; echo done", &out);
    ok(out && strstr(out, "Operation not permitted") && strstr(out, "done"),
       "mount and unshare fail with EPERM");
    free(out);

    rt_spec_init(&s);
    is_int(runsh(&s, "exit 3", &out), 3, "exit status passes through");
    free(out);
    is_int(runsh(&s, "kill -TERM $$", &out), 143, "death by SIGTERM is 128+15");
    free(out);
    s.no_init = 1;
    s.on_start = kill_at_start;
    is_int(runsh(&s, "sleep 10", &out), 137, "PID 1 killed from outside: 128+9");
    free(out);

    rt_spec_init(&s);
    const char *typo[] = {"pyhton", NULL};
    is_int(run(&s, typo, &out, &msg), 127, "missing command: 127");
    is_str(msg, "exec: \"pyhton\": executable file not found in $PATH", "Docker's message");
    free(out);
    free(msg);
    const char *noexec[] = {"/bin/notexec", NULL};
    is_int(run(&s, noexec, &out, &msg), 126, "not executable: 126");
    free(out);
    free(msg);
    const char *nofile[] = {"/no/such", NULL};
    is_int(run(&s, nofile, &out, &msg), 127, "missing path: 127");
    free(out);
    free(msg);

    rt_spec_init(&s);
    s.user = "app";
    runsh(&s, "id; echo $HOME; pwd", &out);
    is_str(out, "uid=1000(app) gid=1000(app) groups=2000(data)\n/home/app\n/\n",
           "image user with groups and HOME");
    free(out);
    s.user = "nosuch";
    is_int(run(&s, typo, &out, &msg), 125, "unknown user: 125");
    free(out);
    free(msg);

    rt_spec_init(&s);
    s.cwd = "/work/dir";
    runsh(&s, "pwd", &out);
    is_str(out, "/work/dir\n", "WORKDIR created");
    free(out);
    s.cwd = "/proc/self/fd/3";
    is_int(run(&s, typo, &out, &msg), 125, "WORKDIR through a magic link refused");
    free(out);
    free(msg);
    s.cwd = "/escape/kiln-wd-escape";
    runsh(&s, "pwd", &out);
    free(out);
    ok(!path_exists("/tmp/kiln-wd-escape"), "WORKDIR symlink does not leave the root");

    /* Volume onto a symlink pointing outside the root. */
    rt_spec_init(&s);
    char *vol = path_join(tmp, "vol");
    mkdir(vol, 0755);
    char *volfile = path_join(vol, "v.txt");
    write_file_atomic(volfile, "vol\n", 4, 0644, NULL);
    struct rt_mount m = {
        .type = RT_MOUNT_BIND, .source = vol, .target = "/escape/kiln-vol", .readonly = 1};
    s.mounts = &m;
    s.n_mounts = 1;
    runsh(&s, "cat /tmp/kiln-vol/v.txt; touch /tmp/kiln-vol/x 2>&1 | grep -c Read-only", &out);
    is_str(out, "vol\n1\n", "volume mounted read-only through the symlink, inside the root");
    free(out);
    ok(!path_exists("/tmp/kiln-vol"), "nothing created on the host");
    free(volfile);
    free(vol);

    rt_spec_init(&s);
    s.network = RT_NET_NONE;
    runsh(&s, "ls /sys/class/net", &out);
    is_str(out, "lo\n", "--network none: only loopback");
    free(out);

    rt_spec_init(&s);
    s.readonly_root = 1;
    runsh(&s, "touch /x 2>&1 | grep -c Read-only; touch /dev/shm/ok && echo shm", &out);
    is_str(out, "1\nshm\n", "read-only root, writable /dev/shm");
    free(out);

    rt_spec_init(&s);
    runsh(&s, "ls /dev | tr '\\n' ' '", &out);
    ok(out && strstr(out, "null") && strstr(out, "urandom") && strstr(out, "pts") &&
           strstr(out, "shm") && strstr(out, "ptmx"),
       "minimal /dev");
    free(out);

    test_overlay();
    test_exec();
    test_records();

    char *cmd = xasprintf("rm -rf %s", tmp);
    sh(cmd);
    free(cmd);
    return done_testing();
}
