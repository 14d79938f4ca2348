/* The --format template subset (src/util/gotmpl.h): fields and paths, every
 * function, pipelines, Docker's escapes, trimming, refused syntax with its
 * column, Go's value printing, and table output aligned as Docker's
 * tabwriter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/gotmpl.h"
#include "tap.h"

static const char *row_json =
    "{\"ID\":\"abc\",\"Names\":\"web\",\"Env\":[\"A=1\",\"B=2\"],\"Labels\":{\"k\":\"v\",\"a\":"
    "\"b\"},"
    "\"N\":3,\"F\":1.5,\"T\":true,\"Z\":null,\"Config\":{\"Env\":[\"X=y\"],\"User\":\"\"},"
    "\"Cmd\":[\"sh\",\"-c\",\"x\"],\"Mixed\":\"MiXed\"}";

/* The template's output for the row above, or "ERR: message". */
static char *run(const char *src, unsigned flags)
{
    struct kiln_error *err = NULL;
    struct gotmpl *t = gotmpl_parse(src, flags, &err);
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    if (t != NULL) {
        json_t *row = json_loads(row_json, 0, NULL);
        gotmpl_exec(t, row, &sb, &err);
        json_decref(row);
        gotmpl_free(t);
    }
    if (err != NULL) {
        strbuf_reset(&sb);
        strbuf_addf(&sb, "ERR: %s", err->msg);
        kiln_error_free(err);
    }
    return strbuf_detach(&sb);
}

static void check(const char *src, unsigned flags, const char *want)
{
    char *got = run(src, flags);
    is_str(got, want, "%s", src);
    free(got);
}

/* An error's message contains want. */
static void check_err(const char *src, unsigned flags, const char *want)
{
    char *got = run(src, flags);
    ok(strncmp(got, "ERR: ", 5) == 0 && strstr(got, want) != NULL, "%s refused: %s", src, want);
    if (strstr(got, want) == NULL)
        printf("#   got: %s\n", got);
    free(got);
}

static void fields(void)
{
    check("{{.ID}}", 0, "abc");
    check("{{ .Names }} {{.ID}}", 0, "web abc");
    check("{{.Config.Env}}", 0, "[X=y]");
    check("{{.Config.User}}|", 0, "|");
    check("{{.N}} {{.F}} {{.T}} {{.Z}}", 0, "3 1.5 true <nil>");
    check("{{.Labels}}", 0, "map[a:b k:v]");
    check("{{.Nope}}", 0, "<no value>");
    check("{{.Config.Nope.Deeper}}", 0, "<no value>");
    check("{{.names}}", 0, "<no value>");
    check("{{.names}}", GOTMPL_FOLD_CASE, "web");
    check("{{.config.env}}", GOTMPL_FOLD_CASE, "[X=y]");
    check("{{.CONFIG.User}}|", GOTMPL_FOLD_CASE, "|");
    check_err("{{.Nope}}", GOTMPL_STRICT, "column 3: no field .Nope");
    check("{{.Config.Nope}}", GOTMPL_STRICT, "<no value>");
    check_err("{{.ID.X}}", 0, "column 3: .X: ID is not an object");
    check("no actions at all", 0, "no actions at all");
    check("", 0, "");
    char *dot = run("{{.}}", 0);
    const char *want = "map[Cmd:[sh -c x] Config:map[Env:[X=y] User:] Env:[A=1 B=2] F:1.5 ID:abc "
                       "Labels:map[a:b k:v] Mixed:MiXed N:3 Names:web T:true Z:<nil>]";
    is_str(dot, want, "{{.}} printed as Go prints a map");
    free(dot);
}

static void functions(void)
{
    check("{{json .Config}}", 0, "{\"Env\":[\"X=y\"],\"User\":\"\"}");
    check("{{json .Names}}", 0, "\"web\"");
    check("{{json .Nope}}", 0, "null");
    check("{{json .N}}", 0, "3");
    check("{{join .Env \", \"}}", 0, "A=1, B=2");
    check("{{join .Cmd \" \"}}", 0, "sh -c x");
    check("{{join .Names \",\"}}", 0, "web");
    check("{{join .Nope \",\"}}", 0, "");
    check("{{upper .Mixed}} {{lower .Mixed}}", 0, "MIXED mixed");
    check("{{index .Labels \"k\"}}", 0, "v");
    check("{{index .Labels \"missing\"}}|", 0, "|"); /* and nothing leaked (ASan) */
    check("{{upper \"\xff\"}}", 0, "\xff");          /* bytes as they are, not UTF-8 checked */
    check("{{index .Cmd 2}}", 0, "x");
    check("{{.Labels \"k\"}}", 0, "v"); /* Docker's {{.Label "k"}} */
    check_err("{{index .Cmd 3}}", 0, "column 3: index 3 out of range");
    check_err("{{index .Names 0}}", 0, "column 3: index takes an object");
    check("{{.Mixed | upper}}", 0, "MIXED");
    check("{{.Config | json}}", 0, "{\"Env\":[\"X=y\"],\"User\":\"\"}");
    check("{{json .Labels | upper}}", 0, "{\"K\":\"V\",\"A\":\"B\"}");
    check("{{\", \" | join .Env}}", 0, "A=1, B=2");
    check("{{`raw\\t` }}", 0, "raw\\t");
    check("{{\"q\\\"\\t\"}}", 0, "q\"\t");
    check("{{7}}", 0, "7");
}

/* With GOTMPL_FOLD_CASE an exact key wins, and a path the exact key does not
 * resolve is tried through the keys equal regardless of case. */
static void fold_case(void)
{
    struct kiln_error *err = NULL;
    json_t *v = json_loads(
        "{\"Config\":{\"Env\":[\"D=1\"]},\"config\":{\"config\":{\"Env\":[\"O=1\"]}}}", 0, NULL);
    const char *src[] = {"{{.Config.Env}}", "{{.config.config.Env}}", "{{.Config.Config.Env}}",
                         "{{.CONFIG.ENV}}", "{{.Config.Nope}}"};
    const char *want[] = {"[D=1]", "[O=1]", "[O=1]", "[D=1]", "<no value>"};
    for (size_t i = 0; i < 5; i++) {
        struct gotmpl *t = gotmpl_parse(src[i], GOTMPL_FOLD_CASE, &err);
        struct strbuf sb = STRBUF_INIT;
        strbuf_init(&sb);
        gotmpl_exec(t, v, &sb, &err);
        is_str(sb.buf, want[i], "fold case: %s", src[i]);
        strbuf_release(&sb);
        gotmpl_free(t);
    }
    json_decref(v);
    /* 30 levels of {"a": X, "A": X}: a path that fails at the end does not
     * try its 2^30 spellings */
    json_t *deep = json_object();
    for (int i = 0; i < 30; i++) {
        json_t *o = json_object();
        json_object_set(o, "a", deep);
        json_object_set_new(o, "A", deep);
        deep = o;
    }
    struct strbuf p = STRBUF_INIT;
    strbuf_init(&p);
    strbuf_adds(&p, "{{");
    for (int i = 0; i < 30; i++)
        strbuf_adds(&p, ".a");
    strbuf_adds(&p, ".nope}}");
    struct gotmpl *t = gotmpl_parse(p.buf, GOTMPL_FOLD_CASE, &err);
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    gotmpl_exec(t, deep, &sb, &err);
    is_str(sb.buf, "<no value>", "fold case: the search is bounded");
    strbuf_release(&sb);
    strbuf_release(&p);
    gotmpl_free(t);
    json_decref(deep);
}

/* if, range, with, else, end: Go's truth, dot inside range and with. */
static void control(void)
{
    check("{{if .T}}y{{end}}", 0, "y");
    check("{{if .Z}}y{{else}}n{{end}}", 0, "n");
    check("{{if .Nope}}y{{else}}n{{end}}", 0, "n");
    check("{{if .Config.User}}y{{else}}empty{{end}}", 0, "empty");
    check("{{if .Env}}{{len}}{{end}}", 0,
          "ERR: --format: column 14: function \"len\" is not "
          "supported; kiln knows json, join, upper, lower and index");
    check("{{range .Env}}[{{.}}]{{end}}", 0, "[A=1][B=2]");
    check("{{range .Labels}}{{.}};{{end}}", 0, "b;v;");
    check("{{range .Nope}}x{{else}}none{{end}}", 0, "none");
    check("{{range .Config.Env}}{{upper .}}{{end}}", 0, "X=Y");
    check("{{with .Config}}{{.Env}}{{end}}", 0, "[X=y]");
    check("{{with .Nope}}x{{else}}{{.ID}}{{end}}", 0, "abc");
    check("{{range .Env}}{{if .}}<{{.}}>{{end}}{{end}}", 0, "<A=1><B=2>");
    check("{{- range .Cmd }} {{ . }}{{- end }}", 0, " sh -c x");
    struct strbuf deep = STRBUF_INIT;
    strbuf_init(&deep);
    for (int i = 0; i < 65; i++)
        strbuf_adds(&deep, "{{if .T}}");
    check_err(deep.buf, 0, "nested too deep");
    strbuf_release(&deep);
}

static void escapes_and_trim(void)
{
    check("{{.ID}}\\t{{.Names}}\\n", GOTMPL_ESCAPES, "abc\tweb\n");
    check("{{.ID}}\\t{{.Names}}", 0, "abc\\tweb");
    check("a\\x", GOTMPL_ESCAPES, "a\\x");
    check("a  {{- .ID -}}  b", 0, "aabcb");
    check_err("a {{-.ID}}", 0,
              "column 5: unexpected character"); /* "{{-" trims before a space only */
    check("{{/* a comment */}}x", 0, "x");
}

static void refused(void)
{
    check_err("{{.ID", 0, "column 1: unclosed action");
    check_err("ab{{range .Env}}{{.}}", 0, "column 5: missing {{end}} for this");
    check_err("{{if .T}}y{{else}}n{{else}}m{{end}}", 0, "column 22: a second else");
    check_err("{{if .T}}y{{else if .F}}n{{end}}", 0, "column 18: else takes nothing");
    check_err("x{{end}}", 0, "column 4: end without if");
    check_err("{{else}}", 0, "column 3: else without if");
    check_err("{{with}}{{end}}", 0, "column 3: missing the value after with");
    check_err("{{range .ID}}{{end}}", 0, "column 3: range over a value that is not a list");
    check_err("{{block \"x\" .}}{{end}}", 0, "column 3: block is not supported");
    check_err("{{ println .ID }}", 0, "column 4: function \"println\" is not supported");
    check_err("{{$x := .ID}}", 0, "column 3: variables ($) are not supported");
    check_err("{{json}}", 0, "column 3: json takes 1 argument, not 0");
    check_err("{{join .Env}}", 0, "column 3: join takes 2 arguments, not 1");
    check_err("{{.ID .Names}}", 0, "column 7: unexpected text after the value");
    check_err("{{}}", 0, "column 3: empty action");
    check_err("{{.ID |}}", 0, "column 8: missing command after \"|\"");
    check_err("{{.ID | .Names}}", 0, "column 9: only a function can follow");
    check_err("{{\"abc}}", 0, "unclosed action");
    check_err("{{.A.}}", 0, "column 5: a field name must follow");
    check_err("{{\"\\q\"}}", 0, "column 4: unknown escape");
    check_err("{{(json .ID)}}", 0, "column 3: parentheses are not supported");
    check_err("{{json .A.}}", 0, "column 10: a field name must follow"); /* freed (ASan) */
    check_err("{{.B \"x\" .}}", 0, "column 10: unexpected text");
    check_err("{{1.5}}", 0, "column 3: kiln's templates take whole numbers only");
    check_err("x\\t{{.ID}}\\t{{bogus}}", GOTMPL_ESCAPES | GOTMPL_TABLE,
              "column 15: function \"bogus\"");
    check_err("table {{.ID}} {{if}}", GOTMPL_ESCAPES | GOTMPL_TABLE,
              "column 17: missing the value");
}

static char *render(const char *src, const char *rows)
{
    struct kiln_error *err = NULL;
    static const struct gotmpl_header hdr[] = {
        {"ID", "CONTAINER ID"}, {"Names", "NAMES"}, {NULL, NULL}};
    struct gotmpl *t = gotmpl_parse(src, GOTMPL_ESCAPES | GOTMPL_TABLE, &err);
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    json_t *r = json_loads(rows, 0, NULL);
    if (t == NULL || gotmpl_render(t, r, hdr, &sb, &err) < 0)
        strbuf_addf(&sb, "ERR: %s", err ? err->msg : "?");
    kiln_error_free(err);
    json_decref(r);
    gotmpl_free(t);
    return strbuf_detach(&sb);
}

static void table(void)
{
    const char *rows =
        "[{\"ID\":\"abc\",\"Names\":\"web\",\"Image\":\"busybox\"},"
        "{\"ID\":\"0123456789ab\",\"Names\":\"a-much-longer-name\",\"Image\":\"x\"}]";
    char *s = render("table {{.ID}}\\t{{.Names}}\\t{{.Image}}", rows);
    is_str(s,
           "CONTAINER ID   NAMES                IMAGE\n"
           "abc            web                  busybox\n"
           "0123456789ab   a-much-longer-name   x\n",
           "table: Docker's headers, columns padded by 3 to at least 10");
    free(s);
    s = render("table {{.Names}}", rows);
    is_str(s, "NAMES\nweb\na-much-longer-name\n", "table of one column: no padding");
    free(s);
    s = render("table {{.ID}}\\t{{upper .Image}}", "[]");
    is_str(s, "CONTAINER ID   IMAGE\n", "no rows: the header alone; unknown field: its name upper");
    free(s);
    s = render("{{.ID}}\\t{{.Names}}", rows);
    is_str(s, "abc\tweb\n0123456789ab\ta-much-longer-name\n", "no table prefix: rows as they are");
    free(s);
    s = render("table {{.ID}}{{if .Names}}\\t{{.Names}}{{end}}", rows);
    is_str(s,
           "CONTAINER ID   NAMES\n"
           "abc            web\n"
           "0123456789ab   a-much-longer-name\n",
           "table with if: the header takes the body");
    free(s);
    s = render("table {{.Nope}}", rows);
    is_str(s, "NOPE\n<no value>\n<no value>\n", "missing fields (lenient)");
    free(s);
    s = render("table{{.Names}}:{{.ID}}", rows);
    is_str(s, "NAMES:CONTAINER ID\nweb:abc\na-much-longer-name:0123456789ab\n",
           "\"table\" without a space");
    free(s);
}

/* Go's tabwriter: a column block ends at a line without that column. */
static void tabwriter(void)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    gotmpl_tabwrite("a\tb\tc\nlonger-than-ten\td\ne\n\tf\tg\n", &sb);
    is_str(sb.buf,
           "a                 b         c\n"
           "longer-than-ten   d\n"
           "e\n"
           "          f         g\n",
           "column blocks as Go's text/tabwriter (minwidth 10, padding 3)");
    strbuf_reset(&sb);
    gotmpl_tabwrite("é\tx\n", &sb);
    is_str(sb.buf, "é         x\n", "widths count UTF-8 characters");
    strbuf_release(&sb);
}

int main(void)
{
    fields();
    functions();
    fold_case();
    control();
    escapes_and_trim();
    refused();
    table();
    tabwriter();
    return done_testing();
}
