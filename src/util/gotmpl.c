/* A subset of Go's text/template for --format (see gotmpl.h). The template is
 * parsed once into a list of nodes (text, or an action's pipeline of
 * commands) and executed against each row's JSON. */
#include "util/gotmpl.h"

#include "util/cleanup.h"
#include "util/json.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum arg_kind { ARG_FIELD, ARG_STRING, ARG_INT };

struct arg {
    enum arg_kind kind;
    char **path; /* ARG_FIELD: the keys after ".", none for "." itself */
    size_t n_path;
    char *str; /* ARG_STRING */
    long long num;
    size_t col;
};

enum func { FN_NONE, FN_JSON, FN_JOIN, FN_UPPER, FN_LOWER, FN_INDEX };

/* One command of a pipeline: a function and its arguments, or one argument
 * (FN_NONE). A command after a '|' gets the previous value as its last. */
struct cmd {
    enum func fn;
    struct arg *args;
    size_t n_args;
    size_t col;
};

struct node;

struct list {
    struct node *nodes;
    size_t n;
};

enum node_kind { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH };

/* Text, an action (its pipeline printed), or {{if}}, {{range}} or {{with}}
 * over a pipeline with its body and {{else}} branch. */
struct node {
    enum node_kind kind;
    char *text; /* N_TEXT */
    struct cmd *cmds;
    size_t n_cmds;
    struct list body, alt;
    size_t col;
};

/* Nesting deeper than this is refused (the executor recurses). */
#define MAX_DEPTH 64

struct gotmpl {
    struct list root;
    unsigned flags;
    int table;
};

static const struct {
    const char *name;
    enum func fn;
    size_t min, max; /* argument counts, the piped value included */
} funcs[] = {
    {"json", FN_JSON, 1, 1},   {"join", FN_JOIN, 2, 2},   {"upper", FN_UPPER, 1, 1},
    {"lower", FN_LOWER, 1, 1}, {"index", FN_INDEX, 2, 2},
};

static const char *const keywords[] = {"range",  "if",       "else",  "end",   "with",
                                       "define", "template", "block", "break", "continue"};

struct parser {
    const char *src;
    size_t pos, end;
    struct kiln_error **err;
};

static int fail_at(struct parser *p, size_t at, const char *fmt, const char *what)
{
    return kiln_error_set(p->err, KILN_E_USAGE, "--format: column %zu: %s%s%s", at + 1, fmt,
                          what ? " " : "", what ? what : "");
}

static void skip_space(struct parser *p)
{
    while (p->pos < p->end && (p->src[p->pos] == ' ' || p->src[p->pos] == '\t' ||
                               p->src[p->pos] == '\n' || p->src[p->pos] == '\r'))
        p->pos++;
}

static int is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* A Go string literal: "..." with \" \\ \n \t \r escapes, or `raw`. */
static int parse_string(struct parser *p, struct arg *a)
{
    char q = p->src[p->pos];
    size_t start = p->pos++;
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    while (p->pos < p->end && p->src[p->pos] != q) {
        char c = p->src[p->pos++];
        if (q == '"' && c == '\n')
            break;
        if (q == '"' && c == '\\') {
            if (p->pos >= p->end)
                break;
            char e = p->src[p->pos++];
            const char *from = "nt\\\"r", *to = "\n\t\\\"\r";
            const char *k = strchr(from, e);
            if (k == NULL || e == '\0') {
                strbuf_release(&sb);
                return fail_at(p, p->pos - 2, "unknown escape in string; kiln knows",
                               "\\n \\t \\r \\\" \\\\");
            }
            c = to[k - from];
        }
        strbuf_addc(&sb, c);
    }
    if (p->pos >= p->end || p->src[p->pos] != q) {
        strbuf_release(&sb);
        return fail_at(p, start, "unterminated string", NULL);
    }
    p->pos++;
    a->kind = ARG_STRING;
    a->str = strbuf_detach(&sb);
    return 0;
}

static int parse_field(struct parser *p, struct arg *a)
{
    a->kind = ARG_FIELD;
    while (p->pos < p->end && p->src[p->pos] == '.') {
        size_t dot = p->pos++;
        size_t s = p->pos;
        while (p->pos < p->end && is_ident(p->src[p->pos]))
            p->pos++;
        if (p->pos == s) {
            if (dot == a->col && a->n_path == 0)
                return 0; /* "." itself */
            return fail_at(p, dot, "a field name must follow", "\".\"");
        }
        a->path = xrealloc(a->path, (a->n_path + 1) * sizeof(*a->path));
        a->path[a->n_path++] = xstrndup(p->src + s, p->pos - s);
    }
    return 0;
}

static int parse_arg(struct parser *p, struct arg *a)
{
    memset(a, 0, sizeof(*a));
    a->col = p->pos;
    char c = p->src[p->pos];
    if (c == '.')
        return parse_field(p, a);
    if (c == '"' || c == '`')
        return parse_string(p, a);
    if (isdigit((unsigned char)c) ||
        (c == '-' && p->pos + 1 < p->end && isdigit((unsigned char)p->src[p->pos + 1]))) {
        char *e;
        a->kind = ARG_INT;
        a->num = strtoll(p->src + p->pos, &e, 10);
        p->pos = (size_t)(e - p->src);
        if (p->pos < p->end && (is_ident(p->src[p->pos]) || p->src[p->pos] == '.'))
            return fail_at(p, a->col, "kiln's templates take whole numbers only", NULL);
        return 0;
    }
    if (c == '$')
        return fail_at(p, a->col, "variables ($) are not supported", NULL);
    if (c == '(')
        return fail_at(p, a->col, "parentheses are not supported; use a pipeline (|)", NULL);
    return fail_at(p, a->col,
                   "unexpected character; expected a field (.Name), a string or a number", NULL);
}

static void arg_release(struct arg *a)
{
    for (size_t i = 0; i < a->n_path; i++)
        free(a->path[i]);
    free(a->path);
    free(a->str);
}

static int at_action_end(struct parser *p)
{
    return p->pos >= p->end || p->src[p->pos] == '|';
}

static int parse_cmd(struct parser *p, struct cmd *c, int piped)
{
    memset(c, 0, sizeof(*c));
    skip_space(p);
    c->col = p->pos;
    if (p->pos >= p->end)
        return fail_at(p, p->pos, piped ? "missing command after \"|\"" : "empty action", NULL);
    if (isalpha((unsigned char)p->src[p->pos]) || p->src[p->pos] == '_') {
        size_t s = p->pos;
        while (p->pos < p->end && is_ident(p->src[p->pos]))
            p->pos++;
        size_t len = p->pos - s;
        size_t i;
        for (i = 0; i < sizeof(keywords) / sizeof(*keywords); i++)
            if (strlen(keywords[i]) == len && strncmp(keywords[i], p->src + s, len) == 0) {
                cleanup_free char *k = xstrndup(p->src + s, len);
                return fail_at(
                    p, s, k,
                    "is not supported by kiln's --format (fields, if, range, with, json, join, "
                    "upper, lower and index are)");
            }
        for (i = 0; i < sizeof(funcs) / sizeof(*funcs); i++)
            if (strlen(funcs[i].name) == len && strncmp(funcs[i].name, p->src + s, len) == 0)
                break;
        if (i == sizeof(funcs) / sizeof(*funcs)) {
            cleanup_free char *k = xstrndup(p->src + s, len);
            cleanup_free char *m = xasprintf("function \"%s\" is not supported; kiln knows", k);
            return fail_at(p, s, m, "json, join, upper, lower and index");
        }
        c->fn = funcs[i].fn;
        for (;;) {
            size_t before = p->pos;
            skip_space(p);
            if (at_action_end(p))
                break;
            if (p->pos == before)
                return fail_at(p, p->pos, "expected a space between arguments", NULL);
            c->args = xrealloc(c->args, (c->n_args + 1) * sizeof(*c->args));
            if (parse_arg(p, &c->args[c->n_args++]) < 0)
                return -1;
        }
        size_t n = c->n_args + (piped ? 1 : 0);
        if (n < funcs[i].min || n > funcs[i].max) {
            cleanup_free char *m = xasprintf("%s takes %zu argument%s, not %zu", funcs[i].name,
                                             funcs[i].min, funcs[i].min == 1 ? "" : "s", n);
            return fail_at(p, s, m, NULL);
        }
        return 0;
    }
    if (piped)
        return fail_at(p, c->col, "only a function can follow \"|\"", NULL);
    c->args = xcalloc(1, sizeof(*c->args));
    c->n_args = 1; /* counted first: node_release frees what a failed parse left */
    if (parse_arg(p, &c->args[0]) < 0)
        return -1;
    size_t before = p->pos;
    skip_space(p);
    /* Docker's methods with an argument ({{.Label "k"}}): a field that is an
     * object, indexed by the string */
    if (!at_action_end(p) && p->pos > before && c->args[0].kind == ARG_FIELD &&
        c->args[0].n_path > 0 && (p->src[p->pos] == '"' || p->src[p->pos] == '`')) {
        c->args = xrealloc(c->args, 2 * sizeof(*c->args));
        c->n_args = 2;
        if (parse_arg(p, &c->args[1]) < 0)
            return -1;
        c->fn = FN_INDEX;
        skip_space(p);
    }
    if (!at_action_end(p))
        return fail_at(p, p->pos,
                       "unexpected text after the value; a function (json, join, ...) "
                       "comes first",
                       NULL);
    return 0;
}

static void list_release(struct list *l);

static void node_release(struct node *n)
{
    list_release(&n->body);
    list_release(&n->alt);
    free(n->text);
    for (size_t i = 0; i < n->n_cmds; i++) {
        for (size_t j = 0; j < n->cmds[i].n_args; j++)
            arg_release(&n->cmds[i].args[j]);
        free(n->cmds[i].args);
    }
    free(n->cmds);
}

static void list_release(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        node_release(&l->nodes[i]);
    free(l->nodes);
    l->nodes = NULL;
    l->n = 0;
}

enum { ACT_PIPELINE, ACT_COMMENT, ACT_OPEN, ACT_ELSE, ACT_END };

/* The keyword the action starts with (if, range, with, else, end), moving
 * past it; 0 for none. */
static int control_keyword(struct parser *p, struct node *n)
{
    static const struct {
        const char *word;
        int act;
        enum node_kind kind;
    } words[] = {{"if", ACT_OPEN, N_IF},
                 {"range", ACT_OPEN, N_RANGE},
                 {"with", ACT_OPEN, N_WITH},
                 {"else", ACT_ELSE, N_TEXT},
                 {"end", ACT_END, N_TEXT}};
    size_t len = 0;
    while (p->pos + len < p->end && is_ident(p->src[p->pos + len]))
        len++;
    for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
        if (strlen(words[i].word) == len && strncmp(words[i].word, p->src + p->pos, len) == 0) {
            n->kind = words[i].kind;
            n->col = p->pos;
            p->pos += len;
            return words[i].act;
        }
    return 0;
}

/* The action between "{{" and "}}" (p->end is at the "}}" or "-}}"): a
 * pipeline, a comment, or if/range/with PIPELINE, else, end. */
static int parse_action(struct parser *p, struct node *n)
{
    skip_space(p);
    if (p->pos + 1 < p->end && p->src[p->pos] == '/' && p->src[p->pos + 1] == '*') {
        if (p->end < p->pos + 4 || strncmp(p->src + p->end - 2, "*/", 2) != 0)
            return fail_at(p, p->pos, "unterminated comment", NULL);
        return ACT_COMMENT; /* a comment: no node */
    }
    n->kind = N_ACTION;
    size_t at = p->pos;
    int act = control_keyword(p, n);
    if (act == ACT_ELSE || act == ACT_END) {
        skip_space(p);
        if (p->pos < p->end)
            return fail_at(p, p->pos,
                           act == ACT_ELSE ? "else takes nothing (no \"else if\": nest an if)"
                                           : "end takes nothing",
                           NULL);
        return act;
    }
    if (act == ACT_OPEN) {
        size_t before = p->pos;
        skip_space(p);
        if (p->pos == before || p->pos >= p->end)
            return fail_at(p, at, "missing the value after",
                           n->kind == N_IF      ? "if"
                           : n->kind == N_RANGE ? "range"
                                                : "with");
    }
    do {
        if (n->n_cmds > 0)
            p->pos++; /* the '|' */
        n->cmds = xrealloc(n->cmds, (n->n_cmds + 1) * sizeof(*n->cmds));
        n->n_cmds++;
        if (parse_cmd(p, &n->cmds[n->n_cmds - 1], n->n_cmds > 1) < 0)
            return -1;
    } while (p->pos < p->end && p->src[p->pos] == '|');
    return act ? act : ACT_PIPELINE;
}

/* Appends *n to l (taking what it holds); the node's new place. */
static struct node *add_node(struct list *l, struct node *n)
{
    l->nodes = xrealloc(l->nodes, (l->n + 1) * sizeof(*l->nodes));
    l->nodes[l->n] = *n;
    memset(n, 0, sizeof(*n));
    return &l->nodes[l->n++];
}

/* Literal text [s, e), with Docker's \t and \n; trimmed at its end when the
 * next action starts with "{{- ". */
static void add_text(const struct gotmpl *t, struct list *l, const char *s, const char *e,
                     int trim_left_of_next, int trim_right_of_prev)
{
    if (trim_right_of_prev)
        while (s < e && isspace((unsigned char)*s))
            s++;
    if (trim_left_of_next)
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
    if (s == e)
        return;
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    for (const char *c = s; c < e; c++) {
        if ((t->flags & GOTMPL_ESCAPES) && c[0] == '\\' && c + 1 < e &&
            (c[1] == 't' || c[1] == 'n')) {
            strbuf_addc(&sb, c[1] == 't' ? '\t' : '\n');
            c++;
        } else {
            strbuf_addc(&sb, *c);
        }
    }
    struct node n = {.kind = N_TEXT, .text = strbuf_detach(&sb)};
    add_node(l, &n);
}

struct gotmpl *gotmpl_parse(const char *src, unsigned flags, struct kiln_error **err)
{
    struct gotmpl *t = xcalloc(1, sizeof(*t));
    t->flags = flags;
    size_t start = 0, len = strlen(src);
    if ((flags & GOTMPL_TABLE) && strncmp(src, "table", 5) == 0) {
        t->table = 1;
        start = 5;
    }
    if (flags & GOTMPL_TABLE) { /* Docker trims the spaces around the format */
        while (start < len && src[start] == ' ')
            start++;
        while (len > start && src[len - 1] == ' ')
            len--;
    }
    struct parser p = {.src = src, .err = err};
    size_t at = start;
    int trim_prev = 0;
    /* the open if/range/with nodes, innermost last, and whether in their else */
    struct node *open_ctl[MAX_DEPTH];
    int in_alt[MAX_DEPTH];
    size_t depth = 0;
#define CURRENT                                                                                    \
    (depth == 0          ? &t->root                                                                \
     : in_alt[depth - 1] ? &open_ctl[depth - 1]->alt                                               \
                         : &open_ctl[depth - 1]->body)
    while (at < len) {
        const char *open = strstr(src + at, "{{");
        size_t o = open && (size_t)(open - src) + 2 <= len ? (size_t)(open - src) : len;
        int trim_left = o < len && o + 3 < len && src[o + 2] == '-' &&
                        (src[o + 3] == ' ' || src[o + 3] == '\t' || src[o + 3] == '\n');
        add_text(t, CURRENT, src + at, src + o, trim_left, trim_prev);
        if (o >= len)
            break;
        size_t body = o + 2 + (trim_left ? 2 : 0);
        /* the close must not be inside a string literal */
        size_t c = body;
        char q = 0;
        for (; c < len; c++) {
            if (q) {
                if (src[c] == '\\' && q == '"' && c + 1 < len)
                    c++;
                else if (src[c] == q)
                    q = 0;
            } else if (src[c] == '"' || src[c] == '`') {
                q = src[c];
            } else if (src[c] == '}' && c + 1 < len && src[c + 1] == '}') {
                break;
            }
        }
        if (c >= len) {
            fail_at(&p, o, "unclosed action: \"{{\" without \"}}\"", NULL);
            gotmpl_free(t);
            return NULL;
        }
        size_t e = c;
        trim_prev = e >= body + 2 && src[e - 1] == '-' &&
                    (src[e - 2] == ' ' || src[e - 2] == '\t' || src[e - 2] == '\n');
        p.pos = body;
        p.end = trim_prev ? e - 2 : e;
        struct node n = {0};
        int r = parse_action(&p, &n);
        if (r == ACT_PIPELINE || r == ACT_OPEN) {
            skip_space(&p);
            if (p.pos < p.end)
                r = fail_at(&p, p.pos, "unexpected text in the action", NULL);
        }
        if ((r == ACT_ELSE || r == ACT_END) && depth == 0)
            r = fail_at(&p, n.col,
                        r == ACT_ELSE ? "else without if, range or with"
                                      : "end without if, range or with",
                        NULL);
        else if (r == ACT_ELSE && in_alt[depth - 1])
            r = fail_at(&p, n.col, "a second else", NULL);
        else if (r == ACT_OPEN && depth == MAX_DEPTH)
            r = fail_at(&p, n.col, "if, range and with nested too deep", NULL);
        if (r < 0) {
            node_release(&n);
            gotmpl_free(t);
            return NULL;
        }
        if (r == ACT_PIPELINE) {
            add_node(CURRENT, &n);
        } else if (r == ACT_OPEN) {
            struct node *ctl = add_node(CURRENT, &n);
            open_ctl[depth] = ctl;
            in_alt[depth++] = 0;
        } else if (r == ACT_ELSE) {
            in_alt[depth - 1] = 1;
        } else if (r == ACT_END) {
            depth--;
        }
        at = e + 2;
    }
#undef CURRENT
    if (depth > 0) {
        fail_at(&p, open_ctl[depth - 1]->col, "missing {{end}} for this", NULL);
        gotmpl_free(t);
        return NULL;
    }
    return t;
}

void gotmpl_free(struct gotmpl *t)
{
    if (t == NULL)
        return;
    list_release(&t->root);
    free(t);
}

void gotmpl_freep(struct gotmpl **t)
{
    gotmpl_free(*t);
    *t = NULL;
}

int gotmpl_is_table(const struct gotmpl *t)
{
    return t->table;
}

void gotmpl_print_value(const json_t *v, struct strbuf *out)
{
    size_t i;
    json_t *e;
    switch (json_typeof(v)) {
    case JSON_STRING:
        strbuf_add(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        strbuf_addf(out, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d == (double)(long long)d && d < 1e21 && d > -1e21)
            strbuf_addf(out, "%.0f", d);
        else
            strbuf_addf(out, "%g", d);
        break;
    }
    case JSON_TRUE:
        strbuf_adds(out, "true");
        break;
    case JSON_FALSE:
        strbuf_adds(out, "false");
        break;
    case JSON_NULL:
        strbuf_adds(out, "<nil>");
        break;
    case JSON_ARRAY:
        strbuf_addc(out, '[');
        json_array_foreach((json_t *)v, i, e)
        {
            if (i)
                strbuf_addc(out, ' ');
            gotmpl_print_value(e, out);
        }
        strbuf_addc(out, ']');
        break;
    case JSON_OBJECT: {
        size_t k;
        const char **keys = json_sorted_keys(v, &k);
        strbuf_adds(out, "map[");
        for (i = 0; i < k; i++) {
            strbuf_addf(out, "%s%s:", i ? " " : "", keys[i]);
            gotmpl_print_value(json_object_get(v, keys[i]), out);
        }
        strbuf_addc(out, ']');
        free(keys);
        break;
    }
    }
}

struct exec {
    const struct gotmpl *t;
    const struct gotmpl_header *headers; /* header mode: fields are their headers */
    struct kiln_error **err;
};

/* Follows path[i..] from v: an exact key first; with GOTMPL_FOLD_CASE, when
 * that leads nowhere, each key equal regardless of case in turn (the first
 * that resolves the whole path wins). NULL: no value. */
static const json_t *resolve(const struct exec *x, const json_t *v, char *const *path, size_t n,
                             size_t *budget)
{
    if (n == 0 || v == NULL)
        return v;
    if (*budget == 0) /* keys differing only in case at every level: no blow-up */
        return NULL;
    --*budget;
    if (!json_is_object(v))
        return NULL;
    const json_t *exact = json_object_get(v, path[0]);
    const json_t *r = exact ? resolve(x, exact, path + 1, n - 1, budget) : NULL;
    if (r != NULL || !(x->t->flags & GOTMPL_FOLD_CASE))
        return r;
    const char *k;
    json_t *child;
    json_object_foreach((json_t *)v, k, child)
    {
        if (child != exact && strcasecmp(k, path[0]) == 0 &&
            (r = resolve(x, child, path + 1, n - 1, budget)) != NULL)
            return r;
    }
    return NULL;
}

static char *header_of(const struct gotmpl_header *h, const char *field)
{
    for (; h && h->field; h++)
        if (strcmp(h->field, field) == 0)
            return xstrdup(h->header);
    char *s = xstrdup(field);
    for (char *c = s; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return s;
}

/* A string value, bytes as they are (a template may hold any). */
static json_t *str_value(const char *s)
{
    return json_stringn_nocheck(s, strlen(s));
}

/* An argument's value: a new reference (NULL: no value). */
static int eval_arg(const struct exec *x, const struct arg *a, const json_t *dot, json_t **out)
{
    *out = NULL;
    if (a->kind == ARG_STRING) {
        *out = str_value(a->str);
        return 0;
    }
    if (a->kind == ARG_INT) {
        *out = json_integer(a->num);
        return 0;
    }
    if (x->headers) {
        if (a->n_path == 0) {
            *out = str_value("");
        } else {
            char *h = header_of(x->headers, a->path[0]);
            *out = str_value(h);
            free(h);
        }
        return 0;
    }
    const json_t *v = dot;
    if (a->n_path > 0 && (x->t->flags & GOTMPL_STRICT) && json_is_object(dot) &&
        json_object_get(dot, a->path[0]) == NULL)
        return kiln_error_set(x->err, KILN_E_USAGE,
                              "--format: column %zu: no field .%s (kiln --format json shows "
                              "the fields)",
                              a->col + 1, a->path[0]);
    size_t budget = 10000;
    const json_t *found = resolve(x, dot, a->path, a->n_path, &budget);
    /* no value: one that is not an object on the way is Go's "can't evaluate
     * field" */
    for (size_t i = 0; found == NULL && i + 1 < a->n_path && v != NULL; i++) {
        budget = 10000;
        const json_t *next = resolve(x, v, a->path + i, 1, &budget);
        if (next != NULL && !json_is_object(next) && !json_is_null(next))
            return kiln_error_set(x->err, KILN_E_USAGE,
                                  "--format: column %zu: .%s: %s is not an object", a->col + 1,
                                  a->path[i + 1], a->path[i]);
        if (next == NULL)
            break;
        v = next;
    }
    v = found;
    *out = v ? json_incref((json_t *)v) : NULL;
    return 0;
}

static char *text_of(const json_t *v)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    if (v == NULL)
        strbuf_adds(&sb, "<no value>");
    else
        gotmpl_print_value(v, &sb);
    return strbuf_detach(&sb);
}

static json_t *call(const struct exec *x, const struct cmd *c, json_t **argv, size_t argc)
{
    switch (c->fn) {
    case FN_JSON: {
        if (argv[0] == NULL)
            return str_value("null");
        char *s = json_dumps(argv[0], JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *r = str_value(s ? s : "null");
        free(s);
        return r;
    }
    case FN_UPPER:
    case FN_LOWER: {
        char *s = text_of(argv[0]);
        for (char *p = s; *p; p++)
            *p =
                (char)(c->fn == FN_UPPER ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
        json_t *r = str_value(s);
        free(s);
        return r;
    }
    case FN_JOIN: {
        char *sep = text_of(argv[1]);
        struct strbuf sb = STRBUF_INIT;
        strbuf_init(&sb);
        if (json_is_array(argv[0])) {
            size_t i;
            json_t *e;
            json_array_foreach(argv[0], i, e)
            {
                if (i)
                    strbuf_adds(&sb, sep);
                gotmpl_print_value(e, &sb);
            }
        } else if (argv[0] != NULL && !json_is_null(argv[0])) {
            gotmpl_print_value(argv[0], &sb);
        }
        free(sep);
        json_t *r = str_value(sb.buf);
        strbuf_release(&sb);
        return r;
    }
    case FN_INDEX: {
        if (x->headers)
            return argv[0] ? json_incref(argv[0]) : str_value("");
        if (json_is_object(argv[0]) && json_is_string(argv[1])) {
            json_t *v = json_object_get(argv[0], json_string_value(argv[1]));
            return v ? json_incref(v) : str_value(""); /* Go: the zero value */
        }
        if (json_is_array(argv[0]) && json_is_integer(argv[1])) {
            json_int_t i = json_integer_value(argv[1]);
            if (i < 0 || (size_t)i >= json_array_size(argv[0])) {
                kiln_error_set(x->err, KILN_E_USAGE,
                               "--format: column %zu: index %lld out of range (the array has %zu)",
                               c->col + 1, (long long)i, json_array_size(argv[0]));
                return NULL;
            }
            return json_incref(json_array_get(argv[0], (size_t)i));
        }
        if (argv[0] == NULL || json_is_null(argv[0]))
            return str_value("");
        kiln_error_set(x->err, KILN_E_USAGE,
                       "--format: column %zu: index takes an object and a string key, or an array "
                       "and a number",
                       c->col + 1);
        return NULL;
    }
    case FN_NONE:
        break;
    }
    (void)argc;
    return argv[0] ? json_incref(argv[0]) : NULL;
}

/* A pipeline's value (a new reference, NULL: no value): each command's
 * value is the next one's last argument. */
static int eval_pipeline(const struct exec *x, const struct node *n, const json_t *dot,
                         json_t **out)
{
    json_t *prev = NULL;
    int have_prev = 0;
    for (size_t i = 0; i < n->n_cmds; i++) {
        const struct cmd *c = &n->cmds[i];
        size_t argc = c->n_args + (have_prev ? 1 : 0);
        json_t **argv = xcalloc(argc + 1, sizeof(*argv));
        int rc = 0;
        for (size_t j = 0; j < c->n_args && rc == 0; j++)
            rc = eval_arg(x, &c->args[j], dot, &argv[j]);
        if (have_prev)
            argv[c->n_args] = prev;
        prev = NULL;
        json_t *v = NULL;
        if (rc == 0) {
            v = call(x, c, argv, argc);
            if (v == NULL && *x->err != NULL)
                rc = -1;
        }
        for (size_t j = 0; j < argc; j++)
            json_decref(argv[j]);
        free(argv);
        if (rc < 0)
            return -1;
        prev = v;
        have_prev = 1;
    }
    *out = prev;
    return 0;
}

/* Go's truth: false, 0, null, no value and empty strings, arrays and
 * objects are false. */
static int truth(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_TRUE:
        return 1;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    default:
        return 0;
    }
}

static int run_list(const struct exec *x, const struct list *l, const json_t *dot,
                    struct strbuf *out);

/* {{range}}: the body once per element (an object's values in key order),
 * dot the element; the else branch when there are none. */
static int run_range(const struct exec *x, const struct node *n, const json_t *v, const json_t *dot,
                     struct strbuf *out)
{
    if (x->headers) /* a table's header: the body once */
        return run_list(x, &n->body, dot, out);
    if (v != NULL && !json_is_null(v) && !json_is_array(v) && !json_is_object(v))
        return kiln_error_set(x->err, KILN_E_USAGE,
                              "--format: column %zu: range over a value that is not a list or "
                              "an object",
                              n->col + 1);
    size_t count = json_is_array(v)    ? json_array_size(v)
                   : json_is_object(v) ? json_object_size(v)
                                       : 0;
    if (count == 0)
        return run_list(x, &n->alt, dot, out);
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach((json_t *)v, i, e)
        {
            if (run_list(x, &n->body, e, out) < 0)
                return -1;
        }
        return 0;
    }
    size_t k;
    const char **keys = json_sorted_keys(v, &k);
    int rc = 0;
    for (size_t i = 0; i < k && rc == 0; i++)
        rc = run_list(x, &n->body, json_object_get(v, keys[i]), out);
    free(keys);
    return rc;
}

static int run_node(const struct exec *x, const struct node *n, const json_t *dot,
                    struct strbuf *out)
{
    if (n->kind == N_TEXT) {
        strbuf_adds(out, n->text);
        return 0;
    }
    json_t *v = NULL;
    if (eval_pipeline(x, n, dot, &v) < 0)
        return -1;
    int rc = 0;
    if (n->kind == N_ACTION) {
        char *s = text_of(v);
        strbuf_adds(out, s);
        free(s);
    } else if (n->kind == N_RANGE) {
        rc = run_range(x, n, v, dot, out);
    } else if (truth(v)) {
        rc = run_list(x, &n->body, n->kind == N_WITH && !x->headers ? v : dot, out);
    } else {
        rc = run_list(x, &n->alt, dot, out);
    }
    json_decref(v);
    return rc;
}

static int run_list(const struct exec *x, const struct list *l, const json_t *dot,
                    struct strbuf *out)
{
    for (size_t i = 0; i < l->n; i++)
        if (run_node(x, &l->nodes[i], dot, out) < 0)
            return -1;
    return 0;
}

static int run(const struct exec *x, const json_t *dot, struct strbuf *out)
{
    return run_list(x, &x->t->root, dot, out);
}

int gotmpl_exec(const struct gotmpl *t, const json_t *dot, struct strbuf *out,
                struct kiln_error **err)
{
    struct kiln_error *local = NULL;
    struct exec x = {.t = t, .err = err ? err : &local};
    int rc = run(&x, dot, out);
    kiln_error_free(local);
    return rc;
}

/* Display width of [s, e): UTF-8 code points, as tabwriter counts runes. */
static size_t width_of(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xc0) != 0x80;
    return w;
}

struct cell {
    const char *s;
    size_t len, width;
};

struct line {
    struct cell *cells;
    size_t n;
};

struct tabw {
    struct line *lines;
    size_t *widths, n_widths;
    struct strbuf *out;
};

static void write_lines(struct tabw *w, size_t l0, size_t l1)
{
    for (size_t i = l0; i < l1; i++) {
        const struct line *ln = &w->lines[i];
        for (size_t j = 0; j < ln->n; j++) {
            strbuf_add(w->out, ln->cells[j].s, ln->cells[j].len);
            if (j < w->n_widths && j + 1 < ln->n)
                for (size_t k = ln->cells[j].width; k < w->widths[j]; k++)
                    strbuf_addc(w->out, ' ');
        }
        strbuf_addc(w->out, '\n');
    }
}

/* Go's tabwriter.Writer.format: a column block is a run of lines that all
 * have a tab-terminated cell in that column. */
static void format_block(struct tabw *w, size_t l0, size_t l1)
{
    size_t column = w->n_widths;
    for (size_t this = l0; this < l1; this ++) {
        if (column + 1 >= w->lines[this].n)
            continue;
        write_lines(w, l0, this);
        l0 = this;
        size_t width = 10; /* Docker's minwidth */
        for (; this < l1; this ++) {
            if (column + 1 >= w->lines[this].n)
                break;
            size_t cw = w->lines[this].cells[column].width + 3; /* padding */
            if (cw > width)
                width = cw;
        }
        w->widths = xrealloc(w->widths, (w->n_widths + 1) * sizeof(*w->widths));
        w->widths[w->n_widths++] = width;
        format_block(w, l0, this);
        w->n_widths--;
        l0 = this;
    }
    write_lines(w, l0, l1);
}

void gotmpl_tabwrite(const char *text, struct strbuf *out)
{
    struct tabw w = {.out = out};
    size_t n_lines = 0;
    const char *s = text;
    while (*s) {
        const char *nl = strchr(s, '\n');
        const char *e = nl ? nl : s + strlen(s);
        w.lines = xrealloc(w.lines, (n_lines + 1) * sizeof(*w.lines));
        struct line *ln = &w.lines[n_lines++];
        memset(ln, 0, sizeof(*ln));
        for (const char *c = s;;) {
            const char *tab = memchr(c, '\t', (size_t)(e - c));
            const char *ce = tab ? tab : e;
            ln->cells = xrealloc(ln->cells, (ln->n + 1) * sizeof(*ln->cells));
            ln->cells[ln->n++] = (struct cell){
                .s = c, .len = (size_t)(ce - c), .width = width_of(c, (size_t)(ce - c))};
            if (!tab)
                break;
            c = tab + 1;
        }
        s = nl ? nl + 1 : e;
    }
    format_block(&w, 0, n_lines);
    for (size_t i = 0; i < n_lines; i++)
        free(w.lines[i].cells);
    free(w.lines);
    free(w.widths);
}

int gotmpl_render(const struct gotmpl *t, const json_t *rows, const struct gotmpl_header *headers,
                  struct strbuf *out, struct kiln_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    struct kiln_error *local = NULL;
    struct exec x = {.t = t, .err = err ? err : &local};
    if (t->table) {
        x.headers = headers ? headers : (const struct gotmpl_header[]){{NULL, NULL}};
        run(&x, NULL, &sb);
        strbuf_addc(&sb, '\n');
        x.headers = NULL;
    }
    size_t i;
    json_t *row;
    json_array_foreach((json_t *)rows, i, row)
    {
        if (run(&x, row, &sb) < 0) {
            strbuf_release(&sb);
            kiln_error_free(local);
            return -1;
        }
        strbuf_addc(&sb, '\n');
    }
    if (t->table)
        gotmpl_tabwrite(sb.buf, out);
    else
        strbuf_add(out, sb.buf, sb.len);
    strbuf_release(&sb);
    kiln_error_free(local);
    return 0;
}
