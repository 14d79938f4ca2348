/* YAML <-> kube_node trees with libyaml: the event parser builds the tree (with
 * each node's line and column, aliases refused, depth and size bounded), the
 * emitter writes one back, quoting the strings that would read as other types. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kube/kube.h"
#include "util/cleanup.h"

#define MAX_DEPTH 64
#define MAX_NODES 200000
#define MAX_PAIRS 10000

static struct kube_node *node_new(enum kube_type t)
{
    struct kube_node *n = xcalloc(1, sizeof(*n));
    n->type = t;
    return n;
}

void kube_node_free(struct kube_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        kube_node_free(n->items[i]);
    free(n->items);
    free(n->str);
    free(n);
}

void kube_docs_free(struct kube_node **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kube_node_free(docs[i]);
    free(docs);
}

static void append(struct kube_node *parent, struct kube_node *child)
{
    parent->items = xrealloc(parent->items, (parent->n + 1) * sizeof(*parent->items));
    parent->items[parent->n++] = child;
}

struct kube_node *kube_map(void)
{
    return node_new(KUBE_MAP);
}

struct kube_node *kube_seq(void)
{
    return node_new(KUBE_SEQ);
}

struct kube_node *kube_str(const char *s)
{
    struct kube_node *n = node_new(KUBE_STR);
    n->str = xstrdup(s);
    return n;
}

struct kube_node *kube_int(long long v)
{
    struct kube_node *n = node_new(KUBE_INT);
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%lld", v);
    n->str = strbuf_detach(&sb);
    n->i = v;
    return n;
}

struct kube_node *kube_bool(int v)
{
    struct kube_node *n = node_new(KUBE_BOOL);
    n->str = xstrdup(v ? "true" : "false");
    n->b = v != 0;
    return n;
}

struct kube_node *kube_push(struct kube_node *seq, struct kube_node *value)
{
    append(seq, value);
    return value;
}

struct kube_node *kube_set(struct kube_node *map, const char *key, struct kube_node *value)
{
    append(map, kube_str(key));
    append(map, value);
    return value;
}

const struct kube_node *kube_get(const struct kube_node *map, const char *key)
{
    if (map == NULL || map->type != KUBE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->str, key) == 0)
            return map->items[i + 1];
    return NULL;
}

const char *kube_type_name(enum kube_type t)
{
    switch (t) {
    case KUBE_NULL:
        return "null";
    case KUBE_BOOL:
        return "a boolean";
    case KUBE_INT:
        return "an integer";
    case KUBE_FLOAT:
        return "a number";
    case KUBE_STR:
        return "a string";
    case KUBE_SEQ:
        return "a list";
    case KUBE_MAP:
        return "a map";
    }
    return "?";
}

static int all_of(const char *s, const char *set)
{
    return *s != '\0' && s[strspn(s, set)] == '\0';
}

/* The type a plain scalar reads as: YAML 1.2 core, plus 1.1's yes/no/on/off as
 * booleans (Kubernetes' YAML decoder reads them so). */
static enum kube_type plain_type(const char *s, int *b)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                        "on",   "On",   "ON",   "y",   "Y"};
    static const char *const falses[] = {"false", "False", "FALSE", "no", "No", "NO",
                                         "off",   "Off",   "OFF",   "n",  "N"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (strcmp(s, nulls[i]) == 0)
            return KUBE_NULL;
    for (size_t i = 0; i < sizeof(trues) / sizeof(trues[0]); i++) {
        if (strcmp(s, trues[i]) == 0) {
            *b = 1;
            return KUBE_BOOL;
        }
        if (strcmp(s, falses[i]) == 0) {
            *b = 0;
            return KUBE_BOOL;
        }
    }
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (all_of(d, "0123456789") ||
        (strncmp(s, "0x", 2) == 0 && all_of(s + 2, "0123456789abcdefABCDEF")) ||
        (strncmp(s, "0o", 2) == 0 && all_of(s + 2, "01234567")))
        return KUBE_INT;
    if (strcmp(d, ".inf") == 0 || strcmp(d, ".Inf") == 0 || strcmp(s, ".nan") == 0 ||
        strcmp(s, ".NaN") == 0)
        return KUBE_FLOAT;
    /* [0-9]*(.[0-9]*)?([eE][-+]?[0-9]+)? with at least one digit before the exponent */
    size_t i = 0, digits = 0;
    while (d[i] >= '0' && d[i] <= '9')
        i++, digits++;
    if (d[i] == '.')
        for (i++; d[i] >= '0' && d[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return KUBE_STR;
    if (d[i] == 'e' || d[i] == 'E') {
        i++;
        if (d[i] == '-' || d[i] == '+')
            i++;
        if (!(d[i] >= '0' && d[i] <= '9'))
            return KUBE_STR;
        while (d[i] >= '0' && d[i] <= '9')
            i++;
    }
    return d[i] == '\0' ? KUBE_FLOAT : KUBE_STR;
}

static int at(struct kiln_error **err, const char *name, unsigned line, unsigned col,
              const char *msg, const char *arg)
{
    return kiln_error_set(err, KILN_E_INVALID, "%s:%u:%u: %s%s", name, line, col, msg,
                          arg ? arg : "");
}

static int scalar_node(const char *name, const yaml_event_t *ev, struct kube_node **out,
                       struct kiln_error **err)
{
    const char *text = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    unsigned line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
    if (strlen(text) != ev->data.scalar.length)
        return at(err, name, line, col, "YAML: a NUL byte in a scalar", NULL);
    int b = 0;
    enum kube_type t = KUBE_STR;
    if (tag != NULL && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0)
        return at(err, name, line, col, "YAML: unsupported tag ", tag);
    if (tag == NULL && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        t = plain_type(text, &b);
    struct kube_node *n = node_new(t);
    n->line = line;
    n->col = col;
    n->str = xstrdup(text);
    n->b = b;
    if (t == KUBE_INT) {
        errno = 0;
        char *end;
        const char *digits = text;
        int base = 10;
        if (strncmp(text, "0x", 2) == 0 || strncmp(text, "0o", 2) == 0) {
            base = text[1] == 'x' ? 16 : 8;
            digits = text + 2;
        }
        n->i = strtoll(digits, &end, base);
        if (errno != 0 || *end != '\0') {
            kube_node_free(n);
            return at(err, name, line, col, "integer out of range: ", text);
        }
    }
    *out = n;
    return 0;
}

/* A map's new key must be a scalar and differ from the others. Null keys are
 * equal whatever their spelling ("~", "null", none at all) and differ from the
 * string "~": YAML compares keys by value, and the writer spells every null
 * "null". Other keys compare by their text, so 1 and "1" stay one key twice
 * for lookups by name. */
static int check_key(const char *name, const struct kube_node *map, const struct kube_node *key,
                     struct kiln_error **err)
{
    if (key->type == KUBE_SEQ || key->type == KUBE_MAP)
        return at(err, name, key->line, key->col, "YAML: a map key must be a scalar", NULL);
    if (map->n / 2 >= MAX_PAIRS)
        return at(err, name, key->line, key->col, "YAML: too many keys in one map", NULL);
    for (size_t i = 0; i < map->n; i += 2) {
        const struct kube_node *k = map->items[i];
        int both_null = k->type == KUBE_NULL && key->type == KUBE_NULL;
        int one_null = (k->type == KUBE_NULL) != (key->type == KUBE_NULL);
        if (both_null || (!one_null && strcmp(k->str, key->str) == 0)) {
            struct strbuf sb = STRBUF_INIT;
            if (both_null)
                strbuf_addf(&sb, "null (\"%s\"; first at line %u)", key->str, k->line);
            else
                strbuf_addf(&sb, "\"%s\" (first at line %u)", key->str, k->line);
            at(err, name, key->line, key->col, "YAML: duplicate key ", sb.buf);
            strbuf_release(&sb);
            return -1;
        }
    }
    return 0;
}

struct tree_builder {
    const char *name;
    struct kube_node *stack[MAX_DEPTH];
    size_t depth, count;
    struct kube_node *root;
};

static int add_node(struct tree_builder *b, struct kube_node *n, struct kiln_error **err)
{
    if (++b->count > MAX_NODES) {
        unsigned line = n->line, col = n->col;
        kube_node_free(n);
        return at(err, b->name, line, col, "YAML: too many nodes", NULL);
    }
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    struct kube_node *top = b->stack[b->depth - 1];
    if (top->type == KUBE_MAP && top->n % 2 == 0 && check_key(b->name, top, n, err) < 0) {
        kube_node_free(n);
        return -1;
    }
    append(top, n);
    return 0;
}

static void docs_add(struct kube_node ***docs, size_t *n, struct kube_node *d)
{
    *docs = xrealloc(*docs, (*n + 1) * sizeof(**docs));
    (*docs)[(*n)++] = d;
}

int kube_yaml_parse(const char *name, const char *text, size_t len, struct kube_node ***docs,
                    size_t *n_docs, struct kiln_error **err)
{
    yaml_parser_t p;
    *docs = NULL;
    *n_docs = 0;
    if (!yaml_parser_initialize(&p))
        return kiln_error_set(err, KILN_E_FAIL, "libyaml: cannot initialise a parser");
    /* libyaml asserts on a NULL input, which an empty buffer may be */
    yaml_parser_set_input_string(&p, (const unsigned char *)(text ? text : ""), text ? len : 0);
    struct tree_builder b = {.name = name};
    int rc = 0, done = 0;
    while (rc == 0 && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            struct strbuf sb = STRBUF_INIT;
            strbuf_addf(&sb, "%s", p.problem ? p.problem : "syntax error");
            if (p.context != NULL)
                strbuf_addf(&sb, " %s (line %zu)", p.context, p.context_mark.line + 1);
            rc = at(err, name, (unsigned)p.problem_mark.line + 1,
                    (unsigned)p.problem_mark.column + 1, "YAML: ", sb.buf);
            strbuf_release(&sb);
            break;
        }
        unsigned line = ev.start_mark.line + 1, col = ev.start_mark.column + 1;
        struct kube_node *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_ALIAS_EVENT:
            rc = at(err, name, line, col, "YAML: aliases (*name) are not supported", NULL);
            break;
        case YAML_SCALAR_EVENT:
            rc = scalar_node(name, &ev, &n, err);
            if (rc == 0)
                rc = add_node(&b, n, err);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (b.depth >= MAX_DEPTH) {
                rc = at(err, name, line, col, "YAML: nested too deeply", NULL);
                break;
            }
            n = node_new(ev.type == YAML_MAPPING_START_EVENT ? KUBE_MAP : KUBE_SEQ);
            n->line = line;
            n->col = col;
            rc = add_node(&b, n, err);
            if (rc == 0)
                b.stack[b.depth++] = n;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (b.depth > 0)
                b.depth--;
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (b.root != NULL && b.root->type != KUBE_NULL)
                docs_add(docs, n_docs, b.root);
            else
                kube_node_free(b.root);
            b.root = NULL;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc < 0) {
        /* an unfinished document: its root holds every node built so far */
        kube_node_free(b.root);
        kube_docs_free(*docs, *n_docs);
        *docs = NULL;
        *n_docs = 0;
    }
    return rc;
}

/* ---- writing ---------------------------------------------------------------- */

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    strbuf_add(data, buffer, size);
    return 1;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev, struct kiln_error **err)
{
    if (!yaml_emitter_emit(e, ev))
        return kiln_error_set(err, KILN_E_FAIL, "libyaml: %s",
                              e->problem ? e->problem : "cannot write YAML");
    return 0;
}

static int emit_node(yaml_emitter_t *e, const struct kube_node *n, struct kiln_error **err)
{
    yaml_event_t ev;
    if (n->type == KUBE_MAP || n->type == KUBE_SEQ) {
        if (n->type == KUBE_MAP)
            yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        else
            yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (emit(e, &ev, err) < 0)
            return -1;
        for (size_t i = 0; i < n->n; i++)
            if (emit_node(e, n->items[i], err) < 0)
                return -1;
        if (n->type == KUBE_MAP)
            yaml_mapping_end_event_initialize(&ev);
        else
            yaml_sequence_end_event_initialize(&ev);
        return emit(e, &ev, err);
    }
    const char *text = n->type == KUBE_NULL ? "null" : (n->str ? n->str : "");
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    int b;
    if (n->type == KUBE_STR && plain_type(text, &b) != KUBE_STR)
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
                                 style != YAML_DOUBLE_QUOTED_SCALAR_STYLE, 1, style);
    return emit(e, &ev, err);
}

int kube_yaml_write(struct kube_node *const *docs, size_t n, struct strbuf *out,
                    struct kiln_error **err)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return kiln_error_set(err, KILN_E_FAIL, "libyaml: cannot initialise an emitter");
    yaml_emitter_set_output(&e, write_handler, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    int rc = 0;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    rc = emit(&e, &ev, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, i == 0);
        rc = emit(&e, &ev, err);
        if (rc == 0)
            rc = emit_node(&e, docs[i], err);
        if (rc == 0) {
            yaml_document_end_event_initialize(&ev, 1);
            rc = emit(&e, &ev, err);
        }
    }
    if (rc == 0) {
        yaml_stream_end_event_initialize(&ev);
        rc = emit(&e, &ev, err);
    }
    if (rc == 0 && !yaml_emitter_flush(&e))
        rc = kiln_error_set(err, KILN_E_FAIL, "libyaml: cannot flush the output");
    yaml_emitter_delete(&e);
    return rc;
}
