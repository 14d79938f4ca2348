/* The value shapes compose writes two ways, into the one long form: scalars
 * as strings, string lists, shell-split commands, KEY=VALUE lists, paths
 * against the project directory, ports (short syntax and ranges) and volumes
 * ("./d:/d:ro"). service.c applies them key by key. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* A scalar as the string compose means by it (8000 -> "8000", true -> "true"). */
char *compose_scalar_string(const json_t *v)
{
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return xasprintf("%g", json_real_value(v));
    if (json_is_boolean(v))
        return xstrdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

int compose_want_string(struct compose_ctx *ctx, const json_t *v, const char *what,
                        struct kiln_error **err)
{
    if (!json_is_string(v))
        return compose_error_at(ctx, v, err, "%s must be a string", what);
    return 0;
}

/* A string or a list of strings -> a list of strings (scalars stringified). */
json_t *compose_string_list(struct compose_ctx *ctx, json_t *v, const char *what,
                            struct kiln_error **err)
{
    json_t *out = json_array();
    if (json_is_string(v)) {
        json_array_append(out, v);
        return out;
    }
    if (!json_is_array(v)) {
        compose_error_at(ctx, v, err, "%s must be a string or a list of strings", what);
        json_decref(out);
        return NULL;
    }
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        cleanup_free char *s = compose_scalar_string(it);
        if (s == NULL) {
            compose_error_at(ctx, it, err, "%s: items must be strings", what);
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, json_string(s));
    }
    return out;
}

/* Shell-like words: quotes and backslashes, no expansion (compose's
 * shellwords for a string command). */
json_t *compose_split_words(struct compose_ctx *ctx, json_t *v, struct kiln_error **err)
{
    const char *s = json_string_value(v);
    json_t *out = json_array();
    struct strbuf w = STRBUF_INIT;
    strbuf_init(&w);
    int in_word = 0;
    char q = 0;
    for (; *s; s++) {
        if (q) {
            if (*s == q)
                q = 0;
            else if (q == '"' && *s == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == '$'))
                strbuf_addc(&w, *++s);
            else
                strbuf_addc(&w, *s);
        } else if (*s == '\'' || *s == '"') {
            q = *s;
            in_word = 1;
        } else if (*s == '\\' && s[1]) {
            strbuf_addc(&w, *++s);
            in_word = 1;
        } else if (isspace((unsigned char)*s)) {
            if (in_word)
                json_array_append_new(out, json_string(w.buf));
            strbuf_reset(&w);
            in_word = 0;
        } else {
            strbuf_addc(&w, *s);
            in_word = 1;
        }
    }
    if (q) {
        strbuf_release(&w);
        json_decref(out);
        compose_error_at(ctx, v, err, "unterminated quote in \"%s\"", json_string_value(v));
        return NULL;
    }
    if (in_word)
        json_array_append_new(out, json_string(w.buf));
    strbuf_release(&w);
    return out;
}

json_t *compose_command_value(struct compose_ctx *ctx, json_t *v, const char *key,
                              struct kiln_error **err)
{
    if (json_is_null(v))
        return json_null();
    if (json_is_string(v))
        return compose_split_words(ctx, v, err);
    return compose_string_list(ctx, v, key, err);
}

/* environment / labels / build args: a list of "K=V" (or "K") or a mapping ->
 * mapping of strings (null: take it from the environment at run time). */
json_t *compose_kv_map(struct compose_ctx *ctx, json_t *v, const char *what, int allow_null,
                       struct kiln_error **err)
{
    json_t *out = json_object();
    if (json_is_array(v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it)
        {
            if (!json_is_string(it)) {
                compose_error_at(ctx, it, err, "%s: items must be \"KEY=VALUE\" strings", what);
                json_decref(out);
                return NULL;
            }
            const char *s = json_string_value(it);
            const char *eq = strchr(s, '=');
            cleanup_free char *k = xstrndup(s, eq ? (size_t)(eq - s) : strlen(s));
            if (*k == '\0') {
                compose_error_at(ctx, it, err, "%s: empty name in \"%s\"", what, s);
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, k,
                                eq           ? json_string(eq + 1)
                                : allow_null ? json_null()
                                             : json_string(""));
        }
        return out;
    }
    if (!json_is_object(v)) {
        compose_error_at(ctx, v, err, "%s must be a mapping or a list of \"KEY=VALUE\"", what);
        json_decref(out);
        return NULL;
    }
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        if (json_is_null(val)) {
            json_object_set_new(out, k, allow_null ? json_null() : json_string(""));
            continue;
        }
        cleanup_free char *s = compose_scalar_string(val);
        if (s == NULL) {
            compose_error_at(ctx, val, err, "%s.%s must be a string, number or boolean", what, k);
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, k, json_string(s));
    }
    return out;
}

/* A path as compose resolves it: ~ is $HOME, relative is against the project. */
char *compose_resolve_path(struct compose_ctx *ctx, const char *p)
{
    if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
        const char *home = getenv("HOME");
        return xasprintf("%s%s", home ? home : "", p + 1);
    }
    if (p[0] == '/')
        return xstrdup(p);
    const char *rel = p;
    while (strncmp(rel, "./", 2) == 0)
        rel += 2;
    if (strcmp(rel, ".") == 0 || *rel == '\0')
        return xstrdup(ctx->dir);
    return xasprintf("%s/%s", ctx->dir, rel);
}

static int parse_port_range(const char *s, long *lo, long *hi)
{
    char *end;
    errno = 0;
    *lo = strtol(s, &end, 10);
    if (end == s || errno || *lo < 0 || *lo > 65535)
        return -1;
    *hi = *lo;
    if (*end == '-') {
        const char *s2 = end + 1;
        *hi = strtol(s2, &end, 10);
        if (end == s2 || errno || *hi < *lo || *hi > 65535)
            return -1;
    }
    return *end == '\0' ? 0 : -1;
}

static json_t *port_entry(long target, const char *published, const char *host_ip,
                          const char *proto)
{
    json_t *p = json_object();
    json_object_set_new(p, "mode", json_string("ingress"));
    if (host_ip && *host_ip)
        json_object_set_new(p, "host_ip", json_string(host_ip));
    json_object_set_new(p, "target", json_integer(target));
    if (published && *published)
        json_object_set_new(p, "published", json_string(published));
    json_object_set_new(p, "protocol", json_string(proto));
    return p;
}

/* "[IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]" -> entries, ranges expanded. */
static int short_port(struct compose_ctx *ctx, json_t *item, json_t *out, struct kiln_error **err)
{
    cleanup_free char *s = compose_scalar_string(item);
    if (s == NULL || json_is_real(item) || json_is_boolean(item))
        return compose_error_at(ctx, item, err,
                                "ports: an item must be a string, number or mapping");
    char *proto = "tcp";
    char *slash = strrchr(s, '/');
    if (slash) {
        *slash = '\0';
        proto = slash + 1;
    }
    if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
        return compose_error_at(ctx, item, err, "ports: protocol must be tcp or udp, not \"%s\"",
                                proto);
    /* The container part is after the last ':'; an IPv6 host IP is bracketed. */
    char *container = strrchr(s, ':');
    const char *host = NULL, *ip = NULL;
    if (container) {
        *container++ = '\0';
        char *c2 = strrchr(s, ':');
        if (c2 && (s[0] != '[' || c2 > strchr(s, ']'))) {
            *c2 = '\0';
            ip = s;
            host = c2 + 1;
        } else {
            host = s;
        }
    } else {
        container = s;
    }
    cleanup_free char *ipbuf = NULL;
    if (ip && ip[0] == '[') {
        size_t n = strlen(ip);
        if (n < 2 || ip[n - 1] != ']')
            return compose_error_at(ctx, item, err, "ports: bad host IP in \"%s\"",
                                    json_string_value(item));
        ipbuf = xstrndup(ip + 1, n - 2);
        ip = ipbuf;
    }
    long clo, chi, hlo = 0, hhi = 0;
    if (parse_port_range(container, &clo, &chi) < 0 || clo == 0)
        return compose_error_at(ctx, item, err, "ports: invalid container port \"%s\"", container);
    if (host && *host) {
        if (parse_port_range(host, &hlo, &hhi) < 0)
            return compose_error_at(ctx, item, err, "ports: invalid host port \"%s\"", host);
        if (hhi - hlo != chi - clo && hlo != hhi)
            return compose_error_at(ctx, item, err,
                                    "ports: host range %s and container range %s differ in size",
                                    host, container);
    }
    for (long c = clo; c <= chi; c++) {
        cleanup_free char *pub = NULL;
        if (host && *host)
            pub = hlo == hhi && clo != chi ? xasprintf("%ld", hlo)
                                           : xasprintf("%ld", hlo + (c - clo));
        json_array_append_new(out, port_entry(c, pub, ip, proto));
    }
    return 0;
}

static int long_port(struct compose_ctx *ctx, json_t *item, json_t *out, struct kiln_error **err)
{
    json_t *target = json_object_get(item, "target");
    if (!json_is_integer(target) || json_integer_value(target) < 1 ||
        json_integer_value(target) > 65535)
        return compose_error_at(ctx, target ? target : item, err,
                                "ports: target must be a port number");
    json_t *pub = json_object_get(item, "published");
    cleanup_free char *pubs = pub ? compose_scalar_string(pub) : NULL;
    json_t *ip = json_object_get(item, "host_ip");
    json_t *proto = json_object_get(item, "protocol");
    const char *p = proto ? json_string_value(proto) : "tcp";
    if (p == NULL || (strcmp(p, "tcp") != 0 && strcmp(p, "udp") != 0))
        return compose_error_at(ctx, proto, err, "ports: protocol must be tcp or udp");
    if (ip && !json_is_string(ip))
        return compose_error_at(ctx, ip, err, "ports: host_ip must be a string");
    json_t *e = port_entry(json_integer_value(target), pubs, ip ? json_string_value(ip) : NULL, p);
    json_t *mode = json_object_get(item, "mode");
    if (mode)
        json_object_set(e, "mode", mode);
    json_array_append_new(out, e);
    return 0;
}

json_t *compose_ports_value(struct compose_ctx *ctx, json_t *v, struct kiln_error **err)
{
    if (!json_is_array(v)) {
        compose_error_at(ctx, v, err, "ports must be a list");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        size_t before = json_array_size(out);
        if ((json_is_object(it) ? long_port(ctx, it, out, err) : short_port(ctx, it, out, err)) <
            0) {
            json_decref(out);
            return NULL;
        }
        for (size_t j = before; j < json_array_size(out); j++)
            posmap_copy(&ctx->pos, json_array_get(out, j), it);
    }
    return out;
}

/* "SRC:DST[:ro|rw|...]", "DST" (anonymous) -> long syntax. */
static json_t *short_volume(struct compose_ctx *ctx, json_t *it, struct kiln_error **err)
{
    const char *s = json_string_value(it);
    cleanup_free char *copy = xstrdup(s);
    char *parts[3] = {copy, NULL, NULL};
    int n = 1;
    for (char *p = copy; *p && n < 3; p++)
        if (*p == ':') {
            *p = '\0';
            parts[n++] = p + 1;
        }
    json_t *v = json_object();
    if (n == 1) {
        json_object_set_new(v, "type", json_string("volume"));
        json_object_set_new(v, "target", json_string(parts[0]));
        json_object_set_new(v, "volume", json_object());
        return v;
    }
    const char *src = parts[0], *dst = parts[1], *mode = parts[2];
    if (*dst != '/') {
        json_decref(v);
        compose_error_at(ctx, it, err, "volumes: the target of \"%s\" must be an absolute path", s);
        return NULL;
    }
    int bind = src[0] == '/' || src[0] == '.' || src[0] == '~';
    json_object_set_new(v, "type", json_string(bind ? "bind" : "volume"));
    if (bind) {
        cleanup_free char *abs = compose_resolve_path(ctx, src);
        json_object_set_new(v, "source", json_string(abs));
    } else {
        json_object_set_new(v, "source", json_string(src));
    }
    json_object_set_new(v, "target", json_string(dst));
    if (mode) {
        cleanup_free char *m = xstrdup(mode);
        for (char *tok = m, *next; tok; tok = next) {
            next = strchr(tok, ',');
            if (next)
                *next++ = '\0';
            if (strcmp(tok, "ro") == 0)
                json_object_set_new(v, "read_only", json_true());
            else if (strcmp(tok, "rw") == 0 || strcmp(tok, "z") == 0 || strcmp(tok, "Z") == 0)
                continue;
            else {
                json_decref(v);
                compose_error_at(ctx, it, err, "volumes: unknown mode \"%s\" in \"%s\"", tok, s);
                return NULL;
            }
        }
    }
    json_object_set_new(v, bind ? "bind" : "volume",
                        bind ? json_pack("{s:b}", "create_host_path", 1) : json_object());
    return v;
}

json_t *compose_volumes_value(struct compose_ctx *ctx, json_t *v, struct kiln_error **err)
{
    if (!json_is_array(v)) {
        compose_error_at(ctx, v, err, "volumes must be a list");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        json_t *e = NULL;
        if (json_is_string(it)) {
            e = short_volume(ctx, it, err);
        } else if (json_is_object(it)) {
            const char *type = json_string_value(json_object_get(it, "type"));
            const char *target = json_string_value(json_object_get(it, "target"));
            if (type == NULL || (strcmp(type, "bind") != 0 && strcmp(type, "volume") != 0 &&
                                 strcmp(type, "tmpfs") != 0)) {
                compose_error_at(ctx, it, err, "volumes: type must be bind, volume or tmpfs");
            } else if (target == NULL || target[0] != '/') {
                compose_error_at(ctx, it, err, "volumes: target must be an absolute path");
            } else {
                e = json_deep_copy(it);
                const char *src = json_string_value(json_object_get(it, "source"));
                if (strcmp(type, "bind") == 0 && src) {
                    cleanup_free char *abs = compose_resolve_path(ctx, src);
                    json_object_set_new(e, "source", json_string(abs));
                }
            }
        } else {
            compose_error_at(ctx, it, err, "volumes: an item must be a string or a mapping");
        }
        if (e == NULL) {
            json_decref(out);
            return NULL;
        }
        posmap_copy(&ctx->pos, e, it);
        json_array_append_new(out, e);
    }
    return out;
}
