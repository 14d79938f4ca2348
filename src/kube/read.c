/* Typed field readers over kube_node trees: each checks the YAML type of one
 * field and names the file, line, column, object and path when it is wrong. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kube/read.h"
#include "util/strbuf.h"

int kube_bad(struct kube_rd *rd, const struct kube_node *n, const char *path, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    kiln_error_set(rd->err, KILN_E_INVALID, "%s:%u:%u: %s%s%s%s%s", rd->file, n ? n->line : 1,
                   n ? n->col : 1, rd->obj, rd->obj[0] ? ": " : "", path ? path : "",
                   path && *path ? ": " : "", sb.buf);
    strbuf_release(&sb);
    return -1;
}

char *kube_path(const char *path, const char *key)
{
    struct strbuf sb = STRBUF_INIT;
    if (path != NULL && *path != '\0')
        strbuf_addf(&sb, "%s.", path);
    strbuf_adds(&sb, key);
    return strbuf_detach(&sb);
}

char *kube_path_index(const char *path, size_t i)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s[%zu]", path, i);
    return strbuf_detach(&sb);
}

/* The value of key, NULL when absent or null. */
static const struct kube_node *value(const struct kube_node *map, const char *key)
{
    const struct kube_node *v = kube_get(map, key);
    return v != NULL && v->type == KUBE_NULL ? NULL : v;
}

static int wrong(struct kube_rd *rd, const struct kube_node *v, const char *path, const char *key,
                 const char *want)
{
    char *p = kube_path(path, key);
    int r;
    if (v->type == KUBE_MAP || v->type == KUBE_SEQ)
        r = kube_bad(rd, v, p, "expected %s, got %s", want, kube_type_name(v->type));
    else
        r = kube_bad(rd, v, p, "expected %s, got %s (%s)", want, kube_type_name(v->type), v->str);
    free(p);
    return r;
}

int kube_rd_str(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                char **out)
{
    const struct kube_node *v = value(map, key);
    if (v == NULL)
        return 0;
    if (v->type != KUBE_STR)
        return wrong(rd, v, path, key, "a string");
    free(*out);
    *out = xstrdup(v->str);
    return 0;
}

int kube_rd_int(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                long long min, long long max, long long *out)
{
    const struct kube_node *v = value(map, key);
    if (v == NULL)
        return 0;
    if (v->type != KUBE_INT)
        return wrong(rd, v, path, key, "an integer");
    if (v->i < min || v->i > max) {
        char *p = kube_path(path, key);
        kube_bad(rd, v, p, "%lld is out of range (%lld to %lld)", v->i, min, max);
        free(p);
        return -1;
    }
    *out = v->i;
    return 0;
}

int kube_rd_int32(struct kube_rd *rd, const struct kube_node *map, const char *key,
                  const char *path, int min, int *out)
{
    long long v = *out;
    if (kube_rd_int(rd, map, key, path, min, 2147483647LL, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

int kube_rd_bool(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                 int *out)
{
    const struct kube_node *v = value(map, key);
    if (v == NULL)
        return 0;
    if (v->type != KUBE_BOOL)
        return wrong(rd, v, path, key, "a boolean");
    *out = v->b;
    return 0;
}

int kube_rd_node(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                 enum kube_type type, const struct kube_node **out)
{
    const struct kube_node *v = value(map, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (v->type != type)
        return wrong(rd, v, path, key, kube_type_name(type));
    *out = v;
    return 0;
}

int kube_rd_strs(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                 char ***out, size_t *n)
{
    const struct kube_node *seq;
    if (kube_rd_node(rd, map, key, path, KUBE_SEQ, &seq) < 0)
        return -1;
    if (seq == NULL)
        return 0;
    char *p = kube_path(path, key);
    int rc = 0;
    for (size_t i = 0; i < seq->n; i++) {
        const struct kube_node *v = seq->items[i];
        if (v->type != KUBE_STR) {
            char *pi = kube_path_index(p, i);
            rc = kube_bad(rd, v, pi, "expected a string, got %s", kube_type_name(v->type));
            free(pi);
            break;
        }
        *out = xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[(*n)++] = xstrdup(v->str);
    }
    free(p);
    return rc;
}

int kube_rd_kv(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
               struct kube_kv **out, size_t *n)
{
    const struct kube_node *m;
    if (kube_rd_node(rd, map, key, path, KUBE_MAP, &m) < 0)
        return -1;
    if (m == NULL)
        return 0;
    char *p = kube_path(path, key);
    int rc = 0;
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const struct kube_node *v = m->items[i + 1];
        if (v->type != KUBE_STR) {
            char *pk = kube_path(p, m->items[i]->str);
            if (v->str != NULL)
                rc = kube_bad(rd, v, pk, "expected a string, got %s (%s): quote it",
                              kube_type_name(v->type), v->str);
            else
                rc = kube_bad(rd, v, pk, "expected a string, got %s", kube_type_name(v->type));
            free(pk);
            break;
        }
        *out = xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[*n].key = xstrdup(m->items[i]->str);
        (*out)[(*n)++].value = xstrdup(v->str);
    }
    free(p);
    return rc;
}

int kube_rd_port(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                 int *num, char **name)
{
    const struct kube_node *v = value(map, key);
    if (v == NULL)
        return 0;
    if (v->type == KUBE_STR) {
        free(*name);
        *name = xstrdup(v->str);
        return 0;
    }
    if (v->type != KUBE_INT)
        return wrong(rd, v, path, key, "a port number or name");
    int port = 0;
    if (kube_rd_int32(rd, map, key, path, 1, &port) < 0)
        return -1;
    if (port > 65535) {
        char *p = kube_path(path, key);
        kube_bad(rd, v, p, "%d is not a port (1 to 65535)", port);
        free(p);
        return -1;
    }
    *num = port;
    return 0;
}

void kube_kv_free(struct kube_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void kube_strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
