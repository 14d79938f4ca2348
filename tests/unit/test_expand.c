/* Variable substitution vectors: every ${} form, quotes, escapes, word
 * splitting, heredoc bodies and the errors, against BuildKit's behaviour. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/expand.h"
#include "tap.h"

static const char *env[][2] = {
    {"A", "a"},
    {"EMPTY", ""},
    {"SP", "x y  z"},
    {"PATHV", "/usr/local/bin:/usr/bin"},
    {"FILE", "archive.tar.gz"},
    {"U", "user"},
    {"STAR", "a*b"},
    {"Q", "'quoted'"},
    {"DOLLAR", "$A"},
    {"abc", "lower"},
    {"_x1", "under"},
};

static char big[200001];

static const char *lookup(void *ud, const char *name)
{
    int *calls = ud;
    if (strcmp(name, "BIG") == 0)
        return big;
    if (calls)
        (*calls)++;
    for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
        if (strcmp(env[i][0], name) == 0)
            return env[i][1];
    return NULL;
}

static void word(const char *in, const char *want, char esc)
{
    struct df_expand_ctx cx = {esc, lookup, NULL};
    struct kiln_error *err = NULL;
    char *out = NULL;
    int r = df_expand_word(&cx, in, &out, &err);
    if (r < 0)
        printf("# error: %s\n", err->msg);
    is_str(r == 0 ? out : NULL, want, "word %s", in);
    free(out);
    kiln_error_free(err);
}

static void bad(const char *in, const char *want_msg_part)
{
    struct df_expand_ctx cx = {'\\', lookup, NULL};
    struct kiln_error *err = NULL;
    char *out = NULL;
    int r = df_expand_word(&cx, in, &out, &err);
    ok(r < 0 && err && strstr(err->msg, want_msg_part), "error for %s: %s", in,
       err ? err->msg : "(none)");
    free(out);
    kiln_error_free(err);
}

static void words(const char *in, const char *want_joined)
{
    struct df_expand_ctx cx = {'\\', lookup, NULL};
    struct kiln_error *err = NULL;
    char **v = NULL;
    size_t n = 0;
    int r = df_expand_words(&cx, in, &v, &n, &err);
    char buf[512] = "";
    size_t off = 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s[%s]", i ? "," : "", v[i]);
    is_str(r == 0 ? buf : NULL, want_joined, "words %s", in);
    df_strv_free(v, n);
    kiln_error_free(err);
}

static void heredoc(const char *in, const char *want)
{
    struct df_expand_ctx cx = {'`', lookup, NULL};
    struct kiln_error *err = NULL;
    char *out = NULL;
    int r = df_expand_heredoc(&cx, in, &out, &err);
    is_str(r == 0 ? out : NULL, want, "heredoc %s", in);
    free(out);
    kiln_error_free(err);
}

int main(void)
{
    /* plain forms */
    word("$A", "a", '\\');
    word("${A}", "a", '\\');
    word("x$A-y", "xa-y", '\\');
    word("${A}bc", "abc", '\\');
    word("$Abc", "", '\\'); /* name is Abc: unset */
    word("$abc", "lower", '\\');
    word("$_x1", "under", '\\');
    word("$UNSET", "", '\\');
    word("${UNSET}", "", '\\');
    word("$", "$", '\\');
    word("a$", "a$", '\\');
    word("$/x", "$/x", '\\');
    word("$1", "", '\\');
    word("$@", "", '\\');
    word("$$", "", '\\');
    /* defaults and alternatives */
    word("${A:-w}", "a", '\\');
    word("${EMPTY:-w}", "w", '\\');
    word("${UNSET:-w}", "w", '\\');
    word("${A-w}", "a", '\\');
    word("${EMPTY-w}", "", '\\');
    word("${UNSET-w}", "w", '\\');
    word("${A:+w}", "w", '\\');
    word("${EMPTY:+w}", "", '\\');
    word("${UNSET:+w}", "", '\\');
    word("${A+w}", "w", '\\');
    word("${EMPTY+w}", "w", '\\');
    word("${UNSET+w}", "", '\\');
    word("${A:?msg}", "a", '\\');
    word("${EMPTY?msg}", "", '\\');
    word("${UNSET:-$A}", "a", '\\');
    word("${UNSET:-${EMPTY:-deep}}", "deep", '\\');
    word("${UNSET:-'q w'}", "q w", '\\');
    word("${UNSET:-\"$A b\"}", "a b", '\\');
    word("${UNSET:-a\\}b}", "a}b", '\\');
    /* prefix / suffix removal */
    word("${FILE#*.}", "tar.gz", '\\');
    word("${FILE##*.}", "gz", '\\');
    word("${FILE%.*}", "archive.tar", '\\');
    word("${FILE%%.*}", "archive", '\\');
    word("${FILE#archive}", ".tar.gz", '\\');
    word("${FILE#nomatch}", "archive.tar.gz", '\\');
    word("${FILE%?z}", "archive.tar.", '\\');
    word("${PATHV#*:}", "/usr/bin", '\\');
    word("${PATHV%:*}", "/usr/local/bin", '\\');
    word("${STAR#a\\*}", "b", '\\');
    word("${STAR#a\\?}", "a*b", '\\');
    word("${UNSET#x}", "", '\\');
    /* replacement */
    word("${FILE/.tar/}", "archive.gz", '\\');
    word("${FILE/a/A}", "Archive.tar.gz", '\\');
    word("${FILE//a/A}", "Archive.tAr.gz", '\\');
    word("${FILE/*./X}", "Xgz", '\\');
    word("${FILE/nomatch/X}", "archive.tar.gz", '\\');
    word("${PATHV//\\//|}", "|usr|local|bin:|usr|bin", '\\');
    word("${U/?/X}", "Xser", '\\');
    word("${U//?/X}", "XXXX", '\\');
    /* quotes */
    word("'$A'", "$A", '\\');
    word("\"$A\"", "a", '\\');
    word("\"'$A'\"", "'a'", '\\');
    word("'\"x\"'", "\"x\"", '\\');
    word("a\" b \"c", "a b c", '\\');
    word("\"a\\\"b\"", "a\"b", '\\');
    word("\"a\\$A\"", "a$A", '\\');
    word("\"a\\nb\"", "a\\nb", '\\');
    word("\"a\\\\b\"", "a\\b", '\\');
    word("$Q", "'quoted'", '\\');
    word("$DOLLAR", "$A", '\\'); /* values are not re-expanded */
    /* escapes */
    word("\\$A", "$A", '\\');
    word("\\${A}", "${A}", '\\');
    word("a\\ b", "a b", '\\');
    word("a\\", "a", '\\');
    word("C:\\dir", "C:dir", '\\');
    word("`$A", "$A", '`');
    word("C:\\dir", "C:\\dir", '`');
    word("\"x`\"y\"", "x\"y", '`');
    /* errors */
    bad("${UNSET:?must be set}", "UNSET: must be set");
    bad("${UNSET?}", "UNSET: is not allowed to be unset");
    bad("${EMPTY:?}", "EMPTY: is not allowed to be empty");
    bad("${A", "missing '}'");
    bad("${A:-x", "missing '}'");
    bad("${", "missing '}'");
    bad("${}", "bad substitution");
    bad("${:-x}", "bad substitution");
    bad("${{A}}", "bad substitution");
    bad("${A:x}", "unsupported modifier (:x)");
    bad("${A*}", "unsupported modifier (*)");
    bad("${A/x", "missing '/'");
    bad("'abc", "single-quote");
    bad("\"abc", "double-quote");
    bad("${FILE#\\x}", "invalid escape");
    /* deep nesting is refused, not a stack overflow */
    {
        char deep[2000] = "";
        for (int i = 0; i < 300; i++)
            strcat(deep, "${U:-");
        strcat(deep, "x");
        for (int i = 0; i < 300; i++)
            strcat(deep, "}");
        bad(deep, "nested too deeply");
    }
    /* hostile input is refused, not a hang or an out-of-memory */
    memset(big, 'a', sizeof(big) - 1);
    word("${BIG%%*a*a*a*a*b}", big, '\\'); /* linear: no backtracking */
    bad("${BIG//*b/x}", "too costly");
    bad("${BIG//a/aaaaaaaaaa}", "expansion longer than");
    bad("$BIG$BIG$BIG$BIG$BIG$BIG", "expansion longer than");
    word("${BIG#a}", big + 1, '\\');
    /* word splitting (EXPOSE) */
    words("80 443/tcp", "[80],[443/tcp]");
    words("$SP", "[x],[y],[z]");
    words("\"$SP\"", "[x y  z]");
    words("  a   b  ", "[a],[b]");
    words("a\\ b c", "[a b],[c]");
    words("'' x", "[x]");
    words("$EMPTY", "");
    words("p$SP", "[px],[y],[z]");
    /* heredoc bodies: quotes stay, escapes and variables apply */
    heredoc("echo \"$A\" '$U'\n", "echo \"a\" 'user'\n");
    heredoc("\\$A ${UNSET:-d}\n", "$A d\n");
    /* the lookup sees each reference */
    {
        int calls = 0;
        struct df_expand_ctx cx = {'\\', lookup, &calls};
        char *out = NULL;
        struct kiln_error *err = NULL;
        df_expand_word(&cx, "$A ${U} '$X'", &out, &err);
        is_int(calls, 2, "lookup called once per unquoted reference");
        free(out);
    }
    return done_testing();
}
