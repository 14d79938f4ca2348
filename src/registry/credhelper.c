/* Running docker-credential-NAME get|store|erase. The request is small, so
 * it is written into the stdin pipe before the helper starts (no SIGPIPE if
 * the helper never reads it); stdout and stderr are collected until both
 * close, for at most HELPER_TIMEOUT_MS. */
#include "registry/credhelper.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

extern char **environ;

#define HELPER_TIMEOUT_MS 60000
#define HELPER_MAX_OUT    (1 << 20)
#define HELPER_MAX_IN     4096 /* well below a pipe's buffer */

struct helper_out {
    struct strbuf out, errout;
    int status; /* exit status, or -1 when killed by a signal */
};

static void helper_out_release(struct helper_out *o)
{
    strbuf_release(&o->out);
    strbuf_release(&o->errout);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the helper's stdout/stderr until both close or time runs out. */
static int collect(pid_t pid, int out_fd, int err_fd, struct helper_out *o, const char *prog,
                   struct kiln_error **err)
{
    struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    struct strbuf *dst[2] = {&o->out, &o->errout};
    long long deadline = now_ms() + HELPER_TIMEOUT_MS;
    int open_fds = 2;
    while (open_fds > 0) {
        long long left = deadline - now_ms();
        int n = left > 0 ? poll(p, 2, (int)left) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            kill(pid, SIGKILL);
            return kiln_error_set(err, KILN_E_FAIL,
                                  "credential helper %s did not answer within %d s; stopped it",
                                  prog, HELPER_TIMEOUT_MS / 1000);
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || p[i].revents == 0)
                continue;
            char buf[4096];
            ssize_t r = read(p[i].fd, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            if (dst[i]->len + (size_t)r > HELPER_MAX_OUT) {
                kill(pid, SIGKILL);
                return kiln_error_set(err, KILN_E_FAIL,
                                      "credential helper %s wrote more than %d bytes", prog,
                                      HELPER_MAX_OUT);
            }
            strbuf_add(dst[i], buf, (size_t)r);
        }
    }
    return 0;
}

static int run_helper(const char *helper, const char *action, const char *input,
                      struct helper_out *o, struct kiln_error **err)
{
    memset(o, 0, sizeof(*o));
    strbuf_init(&o->out);
    strbuf_init(&o->errout);
    if (helper[0] == '\0' || strchr(helper, '/') != NULL)
        return kiln_error_set(err, KILN_E_INVALID,
                              "credential helper name \"%.100s\" is not valid (a plain name: "
                              "docker-credential-NAME is run)",
                              helper);
    size_t in_len = strlen(input);
    if (in_len > HELPER_MAX_IN)
        return kiln_error_set(err, KILN_E_INVALID, "credential helper request too large");
    cleanup_free char *prog = xasprintf("docker-credential-%s", helper);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
        }
        return kiln_error_errno(err, e, "credential helper %s: pipe", prog);
    }
    ssize_t w = write(in[1], input, in_len);
    close(in[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, er[1], 2);
    char *argv[] = {prog, (char *)action, NULL};
    pid_t pid = -1;
    int rc = w == (ssize_t)in_len ? posix_spawnp(&pid, prog, &fa, NULL, argv, environ) : EIO;
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(er[1]);
    int ret = 0;
    if (rc != 0)
        ret = rc == ENOENT ? kiln_error_set(err, KILN_E_NOTFOUND,
                                            "credential helper %s is not on PATH (config.json "
                                            "names it in credsStore or credHelpers)",
                                            prog)
                           : kiln_error_errno(err, rc, "run credential helper %s", prog);
    else
        ret = collect(pid, out[0], er[0], o, prog, err);
    close(out[0]);
    close(er[0]);
    if (pid > 0) {
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        o->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    return ret;
}

/* What the helper said, trimmed to one line for an error message. */
static const char *helper_said(struct helper_out *o)
{
    struct strbuf *b = o->out.len > 0 ? &o->out : &o->errout;
    char *s = b->buf + strspn(b->buf, " \t\r\n");
    s[strcspn(s, "\r\n")] = '\0';
    return s[0] != '\0' ? s : "no message";
}

/* docker-credential-helpers answer a missing entry with this text. */
static int said_not_found(struct helper_out *o)
{
    return strstr(o->out.buf, "credentials not found") != NULL ||
           strstr(o->errout.buf, "credentials not found") != NULL;
}

int credhelper_get(const char *helper, const char *server, char **user, char **secret,
                   struct kiln_error **err)
{
    *user = *secret = NULL;
    struct helper_out o;
    if (run_helper(helper, "get", server, &o, err) < 0) {
        helper_out_release(&o);
        return -1;
    }
    int ret = 0;
    if (o.status != 0 && said_not_found(&o)) {
        ret = 0;
    } else if (o.status != 0) {
        ret = kiln_error_set(err, KILN_E_FAIL,
                             "credential helper docker-credential-%s get %s failed: %.200s", helper,
                             server, helper_said(&o));
    } else {
        json_error_t je;
        json_t *j = json_loadb(o.out.buf, o.out.len, 0, &je);
        const char *u = json_get_str(j, "Username"), *s = json_get_str(j, "Secret");
        if (u == NULL || s == NULL)
            ret = kiln_error_set(err, KILN_E_INVALID,
                                 "credential helper docker-credential-%s get %s: the answer is "
                                 "not JSON with Username and Secret",
                                 helper, server);
        else if (strcmp(u, "<token>") == 0)
            ret = kiln_error_set(err, KILN_E_INVALID,
                                 "credential helper docker-credential-%s holds an identity token "
                                 "for %s; kiln uses user name and password: run 'kiln login %s'",
                                 helper, server, server);
        else {
            *user = xstrdup(u);
            *secret = xstrdup(s);
        }
        json_decref(j);
    }
    explicit_bzero(o.out.buf, o.out.len);
    helper_out_release(&o);
    return ret;
}

int credhelper_store(const char *helper, const char *server, const char *user, const char *secret,
                     struct kiln_error **err)
{
    json_t *req =
        json_pack("{s:s, s:s, s:s}", "ServerURL", server, "Username", user, "Secret", secret);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (text == NULL)
        abort();
    struct helper_out o;
    int ret = run_helper(helper, "store", text, &o, err);
    explicit_bzero(text, strlen(text));
    free(text);
    if (ret == 0 && o.status != 0)
        ret = kiln_error_set(err, KILN_E_FAIL,
                             "credential helper docker-credential-%s store %s failed: %.200s",
                             helper, server, helper_said(&o));
    helper_out_release(&o);
    return ret;
}

int credhelper_erase(const char *helper, const char *server, struct kiln_error **err)
{
    struct helper_out o;
    int ret = run_helper(helper, "erase", server, &o, err);
    if (ret == 0 && o.status != 0)
        ret = said_not_found(&o)
                  ? kiln_error_set(err, KILN_E_NOTFOUND, "not logged in to %s", server)
                  : kiln_error_set(err, KILN_E_FAIL,
                                   "credential helper docker-credential-%s erase %s failed: %.200s",
                                   helper, server, helper_said(&o));
    helper_out_release(&o);
    return ret;
}
