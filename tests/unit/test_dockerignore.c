/* .dockerignore vectors (patternmatcher semantics: *, ?, [], **, \, !
 * exceptions, last match wins, parents), the context walker, and which
 * ignore file applies. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockerfile/dockerignore.h"
#include "dockerfile/dockerignore_int.h"
#include "tap.h"
#include "util/fs.h"
#include "util/strbuf.h"

static struct dockerignore *load(const char *text)
{
    struct dockerignore *di = NULL;
    struct kiln_error *err = NULL;
    if (dockerignore_parse(text, strlen(text), &di, &err) < 0) {
        printf("# parse error: %s\n", err->msg);
        kiln_error_free(err);
    }
    return di;
}

static void ex(const char *patterns, const char *path, int want)
{
    struct dockerignore *di = load(patterns);
    int got = di ? dockerignore_excluded(di, path) : -1;
    char shown[128];
    snprintf(shown, sizeof(shown), "%s", patterns);
    for (char *p = shown; *p; p++)
        if (*p == '\n')
            *p = '|';
    ok(got == want, "[%s] %s %s", shown, path, want ? "excluded" : "included");
    dockerignore_free(di);
}

static void bad(const char *patterns, const char *want)
{
    struct dockerignore *di = NULL;
    struct kiln_error *err = NULL;
    int r = dockerignore_parse(patterns, strlen(patterns), &di, &err);
    ok(r < 0, "rejected %s", want);
    is_str(err ? err->msg : NULL, want, "message");
    kiln_error_free(err);
    dockerignore_free(di);
}

static void clean(const char *in, const char *want)
{
    char *c = di_clean_path(in);
    is_str(c, want, "clean %s", in);
    free(c);
}

struct collect {
    struct strbuf sb;
};

static int collect_fn(void *ud, const char *rel, const struct stat *st, int flags,
                      struct kiln_error **err)
{
    (void)err;
    struct collect *c = ud;
    strbuf_addf(&c->sb, "%s%s%s%s", c->sb.len ? " " : "", rel, S_ISDIR(st->st_mode) ? "/" : "",
                flags & DI_WALK_PARENT ? "(p)" : "");
    return 0;
}

static void touch(const char *root, const char *rel, const char *content)
{
    char *p = path_join(root, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdir_p(p, 0755, NULL);
    *slash = '/';
    write_file_atomic(p, content, strlen(content), 0644, NULL);
    free(p);
}

static void t_walk(void)
{
    char tmpl[] = "/tmp/kiln-di-XXXXXX";
    char *root = mkdtemp(tmpl);
    touch(root, ".dockerignore", "node_modules\n*.log\ndocs\n!docs/keep.md\nb/*.go\n");
    touch(root, "Dockerfile", "FROM x\n");
    touch(root, "a.txt", "a");
    touch(root, "x.log", "x");
    touch(root, "b/x.go", "x");
    touch(root, "b/keep.md", "x");
    touch(root, "b/c/y.go", "x");
    touch(root, "node_modules/m/index.js", "x");
    touch(root, "docs/keep.md", "x");
    touch(root, "docs/other.md", "x");
    touch(root, "B.txt", "x");
    char *empty = path_join(root, "e");
    mkdir(empty, 0755);
    free(empty);
    char *link = path_join(root, "lnk");
    symlink("/etc", link);
    free(link);

    struct dockerignore *di = NULL;
    struct kiln_error *err = NULL;
    char *used = NULL;
    ok(dockerignore_load(root, NULL, &di, &used, &err) == 0, "load .dockerignore");
    ok(used && strstr(used, "/.dockerignore"), "context .dockerignore used");
    free(used);
    struct collect c = {STRBUF_INIT};
    ok(dockerignore_walk(root, di, collect_fn, &c, &err) == 0, "walk");
    is_str(c.sb.buf,
           ".dockerignore B.txt Dockerfile a.txt b/ b/c/ b/c/y.go b/keep.md docs/(p) "
           "docs/keep.md e/ lnk",
           "included entries, sorted, parents of exceptions marked");
    ok(di_exception_may_match_below(di, "docs"), "exception reaches into docs");
    ok(!di_exception_may_match_below(di, "node_modules"), "nothing reaches into node_modules");
    dockerignore_free(di);
    strbuf_release(&c.sb);

    /* <name>.dockerignore beside the Dockerfile wins */
    touch(root, "sub/Dockerfile.dev", "FROM x\n");
    touch(root, "sub/Dockerfile.dev.dockerignore", "a.txt\n");
    char *df = path_join(root, "sub/Dockerfile.dev");
    ok(dockerignore_load(root, df, &di, &used, &err) == 0, "load with Dockerfile name");
    ok(used && strstr(used, "Dockerfile.dev.dockerignore"), "Dockerfile.dev.dockerignore wins");
    ok(dockerignore_excluded(di, "a.txt") && !dockerignore_excluded(di, "x.log"),
       "its patterns apply, not the context's");
    free(used);
    dockerignore_free(di);
    char *df2 = path_join(root, "Dockerfile");
    ok(dockerignore_load(root, df2, &di, &used, &err) == 0, "no Dockerfile.dockerignore");
    ok(used && strstr(used, "/.dockerignore") && !strstr(used, "Dockerfile."),
       "falls back to .dockerignore");
    free(used);
    dockerignore_free(di);
    free(df);
    free(df2);

    char *ign = path_join(root, ".dockerignore");
    unlink(ign);
    free(ign);
    ok(dockerignore_load(root, NULL, &di, &used, &err) == 0 && used == NULL &&
           dockerignore_count(di) == 0,
       "no ignore file: nothing excluded");
    dockerignore_free(di);
    rm_rf(root, NULL);
}

int main(void)
{
    clean("a//b/./c/..", "a/b");
    clean("/../a", "/a");
    clean("../../a/../b", "../../b");
    clean("", ".");
    clean("./", ".");
    clean("a/../..", "..");
    clean("/", "/");

    ex("*.go", "a.go", 1);
    ex("*.go", "dir/a.go", 0);
    ex("**/*.go", "dir/sub/a.go", 1);
    ex("**/*.go", "a.go", 1);
    ex("dir", "dir", 1);
    ex("dir", "dir/x/y", 1);
    ex("dir", "dirx", 0);
    ex("dir/*", "dir", 0);
    ex("dir/*", "dir/x/y", 1);
    ex("*/temp*", "a/temporary.txt", 1);
    ex("*/temp*", "temp", 0);
    ex("*/temp*", "a/b/temp", 0);
    ex("*/*/temp*", "a/b/temp.txt", 1);
    ex("temp?", "temp1", 1);
    ex("temp?", "temp12", 0);
    ex("temp?", "temp/", 0);
    ex("/abs", "abs", 1);
    ex("a/../b", "b", 1);
    ex("./c", "c", 1);
    ex("*.md\n!README.md", "README.md", 0);
    ex("*.md\n!README.md", "x.md", 1);
    ex("*.md\n!README*.md\nREADME-secret.md", "README-secret.md", 1);
    ex("*.md\n!README*.md\nREADME-secret.md", "README.md", 0);
    ex("docs\n!docs/keep.md", "docs/keep.md", 0);
    ex("docs\n!docs/keep.md", "docs/other.md", 1);
    ex("docs\n!docs/keep.md", "docs", 1);
    ex("**", "anything/at/all", 1);
    ex("**\n!keep/**", "keep/x", 0);
    ex("**\n!keep/**", "other", 1);
    ex("foo/**", "foo", 0);
    ex("foo/**", "foo/x/y", 1);
    ex("foo/**/bar", "foo/bar", 1);
    ex("foo/**/bar", "foo/a/b/bar", 1);
    ex("foo/**/bar", "foo/abar", 0);
    ex("**/foo", "foo", 1);
    ex("**/foo", "a/b/foo/x", 1);
    ex("**/foo", "afoo", 0);
    ex("**foo", "afoo", 1); /* patternmatcher's suffix shortcut */
    ex("[a-c].txt", "b.txt", 1);
    ex("[a-c].txt", "d.txt", 0);
    ex("[^a].txt", "b.txt", 1);
    ex("[^a].txt", "a.txt", 0);
    ex("a\\*b", "a*b", 1);
    ex("a\\*b", "axb", 0);
    ex("a.b", "axb", 0);
    ex("a+(b)", "a+(b)", 1);
    ex("# comment\n  spaced.txt  \n\n", "spaced.txt", 1);
    ex("# comment", "# comment", 0);
    ex(" #notcomment", "#notcomment", 1);
    ex("\xef\xbb\xbf"
       "bom.txt",
       "bom.txt", 1);
    ex("*", ".", 0);
    ex("a/b", "./a/b/", 1);
    ex("?", "\xc3\xa9", 1); /* one character, two bytes */
    ex("!x\nx", "x", 1);
    ex("x\n! x", "x", 0);
    ex("x\r\n", "x", 1);

    bad("ok\n[abc\n", "line 2: syntax error in pattern \"[abc\"");
    bad("!\n", "line 1: illegal exclusion pattern \"!\" (an exception needs a pattern)");
    bad("abc\\", "line 1: syntax error in pattern \"abc\\\"");
    bad("[z-a]", "line 1: syntax error in pattern \"[z-a]\"");

    const char *pats[] = {"*.md", "!keep.md"};
    struct dockerignore *di = NULL;
    struct kiln_error *err = NULL;
    ok(dockerignore_from_patterns(pats, 2, &di, &err) == 0, "from patterns (COPY --exclude)");
    ok(dockerignore_excluded(di, "a.md") && !dockerignore_excluded(di, "keep.md"), "exclude list");
    dockerignore_free(di);

    t_walk();
    return done_testing();
}
