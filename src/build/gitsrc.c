/* Git sources for ADD: URL recognition and a fetch through the git binary
 * (a real tool; no library). git runs with no system or global config,
 * without prompts, and limited to the http, https, git and ssh transports,
 * so a URL cannot reach ext:: or file:: helpers. */
#include "build/gitsrc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

extern char **environ;

void git_ref_release(struct git_ref *r)
{
    free(r->remote);
    free(r->ref);
    free(r->subdir);
    free(r->checksum);
    memset(r, 0, sizeof(*r));
    r->keep_git_dir = -1;
    r->submodules = 1;
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* Percent-decoding of a query value (n bytes of s). */
static char *pct_decode(const char *s, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            strbuf_addc(&sb, (char)(hexval((unsigned char)s[i + 1]) * 16 +
                                    hexval((unsigned char)s[i + 2])));
            i += 2;
        } else {
            strbuf_addc(&sb, s[i] == '+' ? ' ' : s[i]);
        }
    }
    return strbuf_detach(&sb);
}

static int set_once(char **dst, char *v, const char *what, const char *src, struct kiln_error **err)
{
    if (*dst != NULL && strcmp(*dst, v) != 0) {
        int rc = kiln_error_set(err, KILN_E_INVALID, "%s: %s conflicts: \"%s\" vs \"%s\"", src,
                                what, *dst, v);
        free(v);
        return rc;
    }
    free(*dst);
    *dst = v;
    return 0;
}

static int parse_bool_str(const char *v, int *out)
{
    if (v[0] == '\0' || !strcasecmp(v, "true") || !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(v, "false") || !strcmp(v, "0")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_query(const char *q, size_t qlen, struct git_ref *r, const char *src,
                       struct kiln_error **err)
{
    cleanup_free char *tag = NULL, *branch = NULL;
    const char *end = q + qlen;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *fe = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(fe - q));
        cleanup_free char *k = xstrndup(q, (size_t)((eq ? eq : fe) - q));
        char *v = eq ? pct_decode(eq + 1, (size_t)(fe - eq - 1)) : xstrdup("");
        int rc = 0, b;
        if (!strcmp(k, "ref"))
            rc = set_once(&r->ref, v, "ref", src, err);
        else if (!strcmp(k, "tag"))
            rc = set_once(&tag, v, "tag", src, err);
        else if (!strcmp(k, "branch"))
            rc = set_once(&branch, v, "branch", src, err);
        else if (!strcmp(k, "subdir"))
            rc = set_once(&r->subdir, v, "subdir", src, err);
        else if (!strcmp(k, "checksum") || !strcmp(k, "commit"))
            rc = set_once(&r->checksum, v, "checksum", src, err);
        else if (!strcmp(k, "keep-git-dir") || !strcmp(k, "submodules")) {
            if (parse_bool_str(v, &b) < 0)
                rc = kiln_error_set(err, KILN_E_INVALID, "%s: %s=%s: use true or false", src, k, v);
            else if (k[0] == 'k')
                r->keep_git_dir = b;
            else
                r->submodules = b;
            free(v);
        } else {
            free(v);
            rc = kiln_error_set(err, KILN_E_INVALID, "%s: unexpected query \"%s\"", src, k);
        }
        if (rc < 0)
            return -1;
        q = amp ? amp + 1 : end;
    }
    if (tag && branch)
        return kiln_error_set(err, KILN_E_INVALID, "%s: give a branch or a tag, not both", src);
    if (tag || branch) {
        const char *pfx = tag ? "refs/tags/" : "refs/heads/";
        const char *name = tag ? tag : branch;
        char *full =
            strncmp(name, pfx, strlen(pfx)) == 0 ? xstrdup(name) : xasprintf("%s%s", pfx, name);
        if (set_once(&r->ref, full, "ref", src, err) < 0)
            return -1;
    }
    if (r->checksum && r->ref == NULL)
        r->ref = xstrdup(r->checksum);
    return 0;
}

/* user@host:path without a scheme (as ssh and git take it). */
static int scp_like(const char *s)
{
    const char *at = strchr(s, '@'), *colon = strchr(s, ':');
    if (at == NULL || colon == NULL || colon < at || strstr(s, "://") != NULL)
        return 0;
    return strcspn(s, "/") > (size_t)(colon - s) && at > s && colon > at + 1;
}

int git_ref_parse(const char *src, struct git_ref *out, struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    out->keep_git_dir = -1;
    out->submodules = 1;
    int http = !strncmp(src, "http://", 7) || !strncmp(src, "https://", 8);
    int git = !strncmp(src, "git://", 6) || !strncmp(src, "ssh://", 6) || scp_like(src);
    size_t base_len = strcspn(src, "?#");
    if (http) {
        size_t n = base_len;
        git = n >= 4 && strncmp(src + n - 4, ".git", 4) == 0;
    }
    if (!git)
        return 0;
    if (src[0] == '-')
        return kiln_error_set(err, KILN_E_INVALID, "%s: not a repository URL", src);
    out->remote = xstrndup(src, base_len);
    const char *p = src + base_len;
    int rc = 0;
    if (*p == '?') {
        size_t qlen = strcspn(p + 1, "#");
        rc = parse_query(p + 1, qlen, out, src, err);
        p += 1 + qlen;
    }
    if (rc == 0 && *p == '#') {
        const char *frag = p + 1;
        const char *colon = strchr(frag, ':');
        cleanup_free char *ref = xstrndup(frag, colon ? (size_t)(colon - frag) : strlen(frag));
        if (ref[0] && (rc = set_once(&out->ref, xstrdup(ref), "ref", src, err)) < 0) {
        } else if (colon && colon[1]) {
            rc = set_once(&out->subdir, xstrdup(colon + 1), "subdir", src, err);
        }
    }
    if (rc == 0 && out->ref && out->ref[0] == '-')
        rc = kiln_error_set(err, KILN_E_INVALID, "%s: ref \"%s\" is not valid", src, out->ref);
    if (rc == 0 && out->subdir) {
        for (const char *s = out->subdir; *s;) {
            size_t n = strcspn(s, "/");
            if (n == 2 && s[0] == '.' && s[1] == '.')
                rc = kiln_error_set(err, KILN_E_INVALID, "%s: subdir must stay in the repository",
                                    src);
            s += n;
            while (*s == '/')
                s++;
        }
    }
    if (rc < 0) {
        git_ref_release(out);
        return -1;
    }
    return 1;
}

/* --- running git ----------------------------------------------------------- */

/* Runs git with args in dir; *out gets stdout and stderr together. */
static int run_git(const char *dir, const char *const *args, struct strbuf *out,
                   struct kiln_error **err)
{
    const char *argv[24];
    size_t n = 0;
    argv[n++] = "git";
    argv[n++] = "-C";
    argv[n++] = dir;
    for (size_t i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *envp[12];
    size_t ne = 0;
    const char *path = getenv("PATH");
    const char *sock = getenv("SSH_AUTH_SOCK");
    cleanup_free char *e_path = xasprintf("PATH=%s", path ? path : "/usr/bin:/bin");
    cleanup_free char *e_sock = sock ? xasprintf("SSH_AUTH_SOCK=%s", sock) : NULL;
    envp[ne++] = e_path;
    envp[ne++] = "HOME=/nonexistent";
    envp[ne++] = "LC_ALL=C";
    envp[ne++] = "GIT_CONFIG_NOSYSTEM=1";
    envp[ne++] = "GIT_CONFIG_GLOBAL=/dev/null";
    envp[ne++] = "GIT_TERMINAL_PROMPT=0";
    envp[ne++] = "GIT_ALLOW_PROTOCOL=http:https:git:ssh";
    envp[ne++] = "GIT_SSH_COMMAND=ssh -o BatchMode=yes";
    if (e_sock)
        envp[ne++] = e_sock;
    envp[ne] = NULL;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return kiln_error_errno(err, errno, "pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, "git", &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        return kiln_error_errno(err, rc, "run git (is git installed?)");
    }
    char buf[4096];
    for (;;) {
        ssize_t r = read(pfd[0], buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (out->len < (1u << 20))
            strbuf_add(out, buf, (size_t)r);
    }
    close(pfd[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : 1;
}

/* The last non-empty line of git's output, for messages. */
static const char *last_line(struct strbuf *sb)
{
    if (sb->buf == NULL)
        return "no output";
    while (sb->len > 0 && (sb->buf[sb->len - 1] == '\n' || sb->buf[sb->len - 1] == '\r'))
        sb->buf[--sb->len] = '\0';
    char *nl = strrchr(sb->buf, '\n');
    return nl ? nl + 1 : sb->buf;
}

static int is_hex_commit(const char *s)
{
    size_t n = strlen(s);
    return n >= 7 && n <= 64 && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* Regular files 0644 or 0755, directories 0755; every .git (the
 * repository's, a submodule's gitfile) left as it is, or removed. */
static int normalise_modes(int dfd, int depth, int keep_git_dir, struct kiln_error **err)
{
    if (depth > 128)
        return kiln_error_set(err, KILN_E_INVALID, "git checkout too deep");
    int d2 = dup(dfd);
    DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
    if (d == NULL) {
        if (d2 >= 0)
            close(d2);
        return kiln_error_errno(err, errno, "read the git checkout");
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!strcmp(de->d_name, ".git")) {
            if (!keep_git_dir)
                rc = rm_rf_at(dfd, ".git", err);
            continue;
        }
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            fchmodat(dfd, de->d_name, (st.st_mode & 0100) ? 0755 : 0644, 0);
        } else if (S_ISDIR(st.st_mode)) {
            fchmodat(dfd, de->d_name, 0755, 0);
            int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                rc = normalise_modes(sub, depth + 1, keep_git_dir, err);
                close(sub);
            }
        }
    }
    closedir(d);
    return rc;
}

int git_ref_resolve(const struct git_ref *r, char **id, struct kiln_error **err)
{
    *id = NULL;
    const char *ref = r->ref ? r->ref : "HEAD";
    if (strlen(ref) == 40 && is_hex_commit(ref)) {
        *id = xstrdup(ref);
        return 0;
    }
    cleanup_strbuf struct strbuf out = STRBUF_INIT;
    const char *args[] = {"ls-remote", "--", r->remote, ref, NULL};
    int rc = run_git("/", args, &out, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && out.len > 0)
        *id = strbuf_detach(&out);
    return 0;
}

/* The submodules of the checkout, recursively, each at the commit the tree
 * pins, shallowly where the server allows (BuildKit's `git submodule update
 * --init --recursive --depth=1`). Their URLs go through the same transport
 * limits as the repository's (no file:// or ext::). */
static int update_submodules(const struct git_ref *r, const char *work, struct kiln_error **err)
{
    cleanup_free char *gm = path_join(work, ".gitmodules");
    if (!path_exists(gm))
        return 0;
    cleanup_strbuf struct strbuf out = STRBUF_INIT;
    /* relative submodule URLs (../lib.git) are relative to the remote */
    const char *origin[] = {"config", "remote.origin.url", r->remote, NULL};
    int rc = run_git(work, origin, &out, err);
    if (rc != 0)
        return rc < 0 ? -1 : kiln_error_set(err, KILN_E_FAIL, "git config: %s", last_line(&out));
    strbuf_reset(&out);
    const char *shallow[] = {"submodule",   "update",    "-q", "--init",
                             "--recursive", "--depth=1", NULL};
    rc = run_git(work, shallow, &out, err);
    if (rc <= 0)
        return rc;
    /* dumb http has no shallow fetch; a server may refuse a pinned commit
     * that no branch names in a shallow one: start again from nothing */
    strbuf_reset(&out);
    const char *deinit[] = {"submodule", "deinit", "-q", "-f", "--all", NULL};
    if (run_git(work, deinit, &out, err) < 0)
        return -1;
    cleanup_free char *modules = path_join(work, ".git/modules");
    if (rm_rf(modules, err) < 0)
        return -1;
    strbuf_reset(&out);
    const char *full[] = {"submodule", "update", "-q", "--init", "--recursive", NULL};
    rc = run_git(work, full, &out, err);
    if (rc < 0)
        return -1;
    if (rc != 0)
        return kiln_error_set(err, KILN_E_NET, "ADD %s: git submodule update failed: %s", r->remote,
                              last_line(&out));
    return 0;
}

int git_fetch_tree(const struct git_ref *r, const char *work, int keep_git_dir, char **tree,
                   char **commit, struct kiln_error **err)
{
    cleanup_strbuf struct strbuf out = STRBUF_INIT;
    const char *ref = r->ref ? r->ref : "HEAD";
    const char *init[] = {"init", "-q", ".", NULL};
    if (run_git(work, init, &out, err) != 0)
        return *err ? -1 : kiln_error_set(err, KILN_E_FAIL, "git init: %s", last_line(&out));
    strbuf_reset(&out);
    const char *shallow[] = {"fetch", "-q", "--depth=1", "--no-tags", "--", r->remote, ref, NULL};
    int rc = run_git(work, shallow, &out, err);
    if (rc < 0)
        return -1;
    const char *target = "FETCH_HEAD";
    if (rc != 0) {
        /* dumb http and servers that refuse a commit in "want" need a full fetch */
        strbuf_reset(&out);
        const char *all[] = {"fetch",
                             "-q",
                             "--no-tags",
                             "--",
                             r->remote,
                             "+refs/heads/*:refs/kiln/heads/*",
                             "+refs/tags/*:refs/kiln/tags/*",
                             NULL};
        const char *one[] = {"fetch", "-q", "--no-tags", "--", r->remote, ref, NULL};
        int hex = is_hex_commit(ref);
        rc = run_git(work, hex ? all : one, &out, err);
        if (rc < 0)
            return -1;
        if (rc != 0)
            return kiln_error_set(err, KILN_E_NET, "ADD %s: git fetch of %s failed: %s", r->remote,
                                  ref, last_line(&out));
        if (hex)
            target = ref;
    }
    strbuf_reset(&out);
    const char *co[] = {"-c", "advice.detachedHead=false", "checkout", "-q", target, "--", NULL};
    if ((rc = run_git(work, co, &out, err)) != 0)
        return rc < 0 ? -1
                      : kiln_error_set(err, KILN_E_NOTFOUND, "ADD %s: cannot check out %s: %s",
                                       r->remote, ref, last_line(&out));
    strbuf_reset(&out);
    const char *rp[] = {"rev-parse", "HEAD", NULL};
    if ((rc = run_git(work, rp, &out, err)) != 0)
        return rc < 0 ? -1 : kiln_error_set(err, KILN_E_FAIL, "git rev-parse: %s", last_line(&out));
    const char *hexsum = last_line(&out);
    if (r->checksum && strncasecmp(hexsum, r->checksum, strlen(r->checksum)) != 0)
        return kiln_error_set(err, KILN_E_DIGEST,
                              "ADD %s: checksum mismatch: expected commit %s, got %s", r->remote,
                              r->checksum, hexsum);
    *commit = xstrdup(hexsum);
    if (r->submodules && update_submodules(r, work, err) < 0) {
        free(*commit);
        *commit = NULL;
        return -1;
    }
    cleanup_close int wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (wfd < 0 || normalise_modes(wfd, 0, keep_git_dir, err) < 0) {
        free(*commit);
        *commit = NULL;
        return wfd < 0 ? kiln_error_errno(err, errno, "open %s", work) : -1;
    }
    char *t = r->subdir ? path_join(work, r->subdir) : xstrdup(work);
    char real[PATH_MAX], wreal[PATH_MAX];
    struct stat st;
    if (realpath(t, real) == NULL || realpath(work, wreal) == NULL || stat(real, &st) < 0 ||
        !S_ISDIR(st.st_mode) ||
        (strncmp(real, wreal, strlen(wreal)) != 0 ||
         (real[strlen(wreal)] != '\0' && real[strlen(wreal)] != '/'))) {
        free(t);
        free(*commit);
        *commit = NULL;
        return kiln_error_set(err, KILN_E_NOTFOUND, "ADD %s: no directory \"%s\" at %s", r->remote,
                              r->subdir ? r->subdir : "", ref);
    }
    free(t);
    *tree = xstrdup(real);
    return 0;
}
