/* Compose files through libyaml: one document into JSON, with every value's
 * position kept for later errors. Scalars are typed as YAML 1.2's core schema
 * does (plain null/true/false/numbers; quoted is always a string); string
 * scalars are interpolated. Aliases are expanded (bounded: a "billion laughs"
 * file is refused) and << merge keys applied. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define MAX_FILE_SIZE (16u << 20)
#define MAX_VALUES    1000000 /* values made from one file, aliases expanded */
#define MAX_DEPTH     256

static void posmap_add(struct compose_posmap *m, json_t *v, const char *name, const char *file,
                       unsigned line, unsigned col)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->keys = xrealloc(m->keys, m->cap * sizeof(*m->keys));
        m->names = xrealloc(m->names, m->cap * sizeof(*m->names));
        m->vals = xrealloc(m->vals, m->cap * sizeof(*m->vals));
    }
    m->keys[m->n] = json_incref(v);
    m->names[m->n] = name ? xstrdup(name) : NULL;
    m->vals[m->n] = (struct compose_pos){file, line, col};
    m->n++;
}

void posmap_put(struct compose_posmap *m, json_t *v, const char *file, unsigned line, unsigned col)
{
    posmap_add(m, v, NULL, file, line, col);
}

void posmap_put_key(struct compose_posmap *m, json_t *obj, const char *key, const char *file,
                    unsigned line, unsigned col)
{
    posmap_add(m, obj, key, file, line, col);
}

static const struct compose_pos *posmap_find(const struct compose_posmap *m, const json_t *v,
                                             const char *name)
{
    /* Latest first: a value read again (an alias) has its latest place. */
    for (size_t i = m->n; i-- > 0;)
        if (m->keys[i] == v &&
            (name ? m->names[i] && strcmp(m->names[i], name) == 0 : m->names[i] == NULL))
            return &m->vals[i];
    return NULL;
}

const struct compose_pos *posmap_get(const struct compose_posmap *m, const json_t *v)
{
    return posmap_find(m, v, NULL);
}

const struct compose_pos *posmap_get_key(const struct compose_posmap *m, const json_t *obj,
                                         const char *key)
{
    return posmap_find(m, obj, key);
}

void posmap_copy(struct compose_posmap *m, json_t *to, const json_t *from)
{
    const struct compose_pos *p = posmap_get(m, from);
    if (p)
        posmap_put(m, to, p->file, p->line, p->col);
}

void posmap_release(struct compose_posmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        json_decref(m->keys[i]);
        free(m->names[i]);
    }
    free(m->keys);
    free(m->names);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static char *where_of(const struct compose_pos *p)
{
    return p ? xasprintf("%s:%u:%u: ", p->file, p->line, p->col) : xstrdup("");
}

char *compose_where(const struct compose_ctx *ctx, const json_t *v)
{
    return where_of(v ? posmap_get(&ctx->pos, v) : NULL);
}

static int error_pos(const struct compose_pos *p, struct kiln_error **err, const char *fmt,
                     va_list ap)
{
    cleanup_free char *where = where_of(p);
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    strbuf_vaddf(&sb, fmt, ap);
    kiln_error_set(err, KILN_E_INVALID, "%s%s", where, sb.buf);
    strbuf_release(&sb);
    return -1;
}

static void warn_pos(struct compose_ctx *ctx, const struct compose_pos *p, const char *fmt,
                     va_list ap)
{
    cleanup_free char *where = where_of(p);
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    strbuf_adds(&sb, where);
    strbuf_vaddf(&sb, fmt, ap);
    ctx->warnings = xrealloc(ctx->warnings, (ctx->n_warnings + 1) * sizeof(*ctx->warnings));
    ctx->warnings[ctx->n_warnings++] = strbuf_detach(&sb);
}

int compose_error_at(const struct compose_ctx *ctx, const json_t *v, struct kiln_error **err,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_pos(v ? posmap_get(&ctx->pos, v) : NULL, err, fmt, ap);
    va_end(ap);
    return -1;
}

int compose_error_key(const struct compose_ctx *ctx, const json_t *obj, const char *key,
                      struct kiln_error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_pos(posmap_get_key(&ctx->pos, obj, key), err, fmt, ap);
    va_end(ap);
    return -1;
}

void compose_warn_at(struct compose_ctx *ctx, const json_t *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    warn_pos(ctx, v ? posmap_get(&ctx->pos, v) : NULL, fmt, ap);
    va_end(ap);
}

void compose_warn_key(struct compose_ctx *ctx, const json_t *obj, const char *key, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    warn_pos(ctx, posmap_get_key(&ctx->pos, obj, key), fmt, ap);
    va_end(ap);
}

static int all_digits(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* A plain scalar's JSON value by the YAML 1.2 core schema; NULL: a string. */
static json_t *plain_scalar(const char *s)
{
    if (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    char *end;
    /* 0440 and 0o440: octal, as compose files write file modes. */
    if ((s[0] == '0' && s[1] >= '0' && s[1] <= '7') || (s[0] == '0' && s[1] == 'o')) {
        const char *digits = s + (s[1] == 'o' ? 2 : 1);
        errno = 0;
        long long v = strtoll(digits, &end, 8);
        if (errno == 0 && *end == '\0' && end != digits)
            return json_integer(v);
    }
    if (s[0] == '0' && s[1] == 'x') {
        errno = 0;
        long long v = strtoll(s + 2, &end, 16);
        if (errno == 0 && *end == '\0' && end != s + 2)
            return json_integer(v);
    }
    if (all_digits(s)) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_integer(v);
    }
    const char *p = s + (*s == '+' || *s == '-');
    if ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')) {
        errno = 0;
        double d = strtod(s, &end);
        if (errno == 0 && *end == '\0' && strpbrk(s, "xXpPnN") == NULL)
            return json_real(d);
    }
    return NULL;
}

struct loader {
    struct compose_ctx *ctx;
    yaml_document_t *doc;
    const char *file;
    size_t made;
};

static json_t *convert(struct loader *l, yaml_node_t *node, int depth, struct kiln_error **err);

static int where_err(struct loader *l, yaml_node_t *node, struct kiln_error **err, const char *msg)
{
    return kiln_error_set(err, KILN_E_INVALID, "%s:%zu:%zu: %s", l->file, node->start_mark.line + 1,
                          node->start_mark.column + 1, msg);
}

static json_t *convert_scalar(struct loader *l, yaml_node_t *node, struct kiln_error **err)
{
    const char *raw = (const char *)node->data.scalar.value;
    if (strlen(raw) != node->data.scalar.length) {
        where_err(l, node, err, "NUL byte in a value");
        return NULL;
    }
    if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        json_t *typed = plain_scalar(raw);
        if (typed)
            return typed;
    }
    cleanup_free char *out = NULL;
    cleanup_free char *msg = NULL;
    if (compose_interpolate(raw, &l->ctx->env, &out, &msg) < 0) {
        where_err(l, node, err, msg);
        return NULL;
    }
    json_t *s = json_string(out);
    if (s == NULL)
        where_err(l, node, err, "value is not valid UTF-8");
    return s;
}

/* << : merges the keys of one mapping or of a list of mappings, those already
 * present winning. */
static int apply_merge_key(struct loader *l, json_t *obj, yaml_node_t *value, int depth,
                           struct kiln_error **err)
{
    yaml_node_t *one[1] = {value};
    yaml_node_t **list = one;
    size_t n = 1;
    cleanup_free yaml_node_t **items = NULL;
    if (value->type == YAML_SEQUENCE_NODE) {
        n = (size_t)(value->data.sequence.items.top - value->data.sequence.items.start);
        items = xcalloc(n + 1, sizeof(*items));
        for (size_t i = 0; i < n; i++)
            items[i] = yaml_document_get_node(l->doc, value->data.sequence.items.start[i]);
        list = items;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i] == NULL || list[i]->type != YAML_MAPPING_NODE)
            return where_err(l, value, err, "<< merges mappings only");
        json_t *m = convert(l, list[i], depth + 1, err);
        if (m == NULL)
            return -1;
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v)
        {
            if (json_object_get(obj, k) == NULL)
                json_object_set(obj, k, v);
        }
        json_decref(m);
    }
    return 0;
}

static json_t *convert_mapping(struct loader *l, yaml_node_t *node, int depth,
                               struct kiln_error **err)
{
    json_t *obj = json_object();
    yaml_node_t *merge = NULL;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE) {
            where_err(l, k ? k : node, err, "a mapping key must be a string");
            json_decref(obj);
            return NULL;
        }
        const char *key = (const char *)k->data.scalar.value;
        if (strcmp(key, "<<") == 0 && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            merge = v;
            continue;
        }
        if (json_object_get(obj, key) != NULL) {
            cleanup_free char *msg = xasprintf("duplicate key \"%s\"", key);
            where_err(l, k, err, msg);
            json_decref(obj);
            return NULL;
        }
        posmap_put_key(&l->ctx->pos, obj, key, l->file, (unsigned)k->start_mark.line + 1,
                       (unsigned)k->start_mark.column + 1);
        json_t *jv = convert(l, v, depth + 1, err);
        if (jv == NULL || json_object_set_new(obj, key, jv) < 0) {
            if (jv == NULL && *err == NULL)
                where_err(l, k, err, "invalid key");
            json_decref(obj);
            return NULL;
        }
    }
    if (merge && apply_merge_key(l, obj, merge, depth, err) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static json_t *convert(struct loader *l, yaml_node_t *node, int depth, struct kiln_error **err)
{
    if (depth > MAX_DEPTH) {
        where_err(l, node, err, "nested too deep (or an alias refers to its own parent)");
        return NULL;
    }
    if (++l->made > MAX_VALUES) {
        where_err(l, node, err, "too many values once aliases are expanded");
        return NULL;
    }
    json_t *v = NULL;
    switch (node->type) {
    case YAML_SCALAR_NODE:
        v = convert_scalar(l, node, err);
        break;
    case YAML_SEQUENCE_NODE:
        v = json_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++) {
            json_t *item = convert(l, yaml_document_get_node(l->doc, *it), depth + 1, err);
            if (item == NULL) {
                json_decref(v);
                return NULL;
            }
            json_array_append_new(v, item);
        }
        break;
    case YAML_MAPPING_NODE:
        v = convert_mapping(l, node, depth, err);
        break;
    default:
        where_err(l, node, err, "empty node");
        return NULL;
    }
    /* json_null/true/false are shared singletons: no position for them. */
    if (v && (json_is_object(v) || json_is_array(v) || json_is_string(v) || json_is_number(v)))
        posmap_put(&l->ctx->pos, v, l->file, (unsigned)node->start_mark.line + 1,
                   (unsigned)node->start_mark.column + 1);
    return v;
}

json_t *compose_yaml_load(struct compose_ctx *ctx, const char *path, struct kiln_error **err)
{
    cleanup_fclose FILE *f = fopen(path, "re");
    if (f == NULL) {
        kiln_error_errno(err, errno, "%s", path);
        return NULL;
    }
    ctx->files = xrealloc(ctx->files, (ctx->n_files + 1) * sizeof(*ctx->files));
    ctx->files[ctx->n_files++] = xstrdup(path);
    const char *file = ctx->files[ctx->n_files - 1];

    struct strbuf data = STRBUF_INIT;
    strbuf_init(&data);
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (data.len + got > MAX_FILE_SIZE) {
            strbuf_release(&data);
            kiln_error_set(err, KILN_E_INVALID, "%s: larger than %u MiB", path,
                           MAX_FILE_SIZE >> 20);
            return NULL;
        }
        strbuf_add(&data, buf, got);
    }

    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data.buf, data.len);
    if (!yaml_parser_load(&parser, &doc)) {
        kiln_error_set(err, KILN_E_INVALID, "%s:%zu:%zu: %s%s%s", path,
                       parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                       parser.problem ? parser.problem : "YAML syntax error",
                       parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        strbuf_release(&data);
        return NULL;
    }
    json_t *out = NULL;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        kiln_error_set(err, KILN_E_INVALID, "%s: empty file", path);
    } else if (root->type != YAML_MAPPING_NODE) {
        kiln_error_set(err, KILN_E_INVALID, "%s:%zu:%zu: the top level must be a mapping", path,
                       root->start_mark.line + 1, root->start_mark.column + 1);
    } else {
        struct loader l = {ctx, &doc, file, 0};
        out = convert(&l, root, 0, err);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    strbuf_release(&data);
    return out;
}
