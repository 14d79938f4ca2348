/* The Dockerfile config instructions that `--change` accepts, each turned
 * into its field of the image config. Shell-form CMD/ENTRYPOINT become
 * ["/bin/sh", "-c", "..."] as in a Dockerfile. */
#include "cli/config_change.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* Splits words with "double" or 'single' quotes and backslash escapes. */
static json_t *split_words(const char *s, struct kiln_error **err)
{
    json_t *out = json_array();
    struct strbuf w = STRBUF_INIT;
    strbuf_init(&w);
    while (*s != '\0') {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            break;
        strbuf_reset(&w);
        char q = 0;
        for (; *s != '\0' && (q || !isspace((unsigned char)*s)); s++) {
            if (q && *s == q) {
                q = 0;
            } else if (!q && (*s == '"' || *s == '\'')) {
                q = *s;
            } else if (*s == '\\' && s[1] != '\0' && q != '\'') {
                strbuf_addc(&w, *++s);
            } else {
                strbuf_addc(&w, *s);
            }
        }
        if (q) {
            strbuf_release(&w);
            json_decref(out);
            kiln_error_set(err, KILN_E_USAGE, "unterminated quote in --change value");
            return NULL;
        }
        json_array_append_new(out, json_string(w.buf));
    }
    strbuf_release(&w);
    return out;
}

/* JSON form ["a","b"] or shell form "a b" -> ["/bin/sh","-c","a b"]. */
static json_t *command_form(const char *arg, const char *instr, struct kiln_error **err)
{
    if (arg[0] == '[') {
        json_error_t je;
        json_t *v = json_loads(arg, 0, &je);
        size_t i;
        json_t *el;
        int okay = json_is_array(v);
        json_array_foreach(v, i, el) okay = okay && json_is_string(el);
        if (okay)
            return v;
        json_decref(v);
        kiln_error_set(err, KILN_E_USAGE, "--change '%s %s': not a JSON array of strings", instr,
                       arg);
        return NULL;
    }
    return json_pack("[s,s,s]", "/bin/sh", "-c", arg);
}

/* KEY=VALUE pairs (or the legacy "KEY VALUE" form) into a callback. */
static int pairs(const char *instr, const char *arg, int legacy_ok,
                 void (*add)(json_t *, const char *, const char *), json_t *cfg,
                 struct kiln_error **err)
{
    cleanup_json json_t *words = split_words(arg, err);
    if (words == NULL)
        return -1;
    const char *first = json_string_value(json_array_get(words, 0));
    if (first == NULL)
        return kiln_error_set(err, KILN_E_USAGE, "--change '%s': needs KEY=VALUE", instr);
    if (strchr(first, '=') == NULL) {
        if (!legacy_ok)
            return kiln_error_set(err, KILN_E_USAGE, "--change '%s %s': needs KEY=VALUE", instr,
                                  arg);
        /* ENV KEY VALUE...: the rest of the line, as written. */
        const char *rest = arg + strspn(arg, " \t");
        rest += strlen(first);
        rest += strspn(rest, " \t");
        add(cfg, first, rest);
        return 0;
    }
    size_t i;
    json_t *w;
    json_array_foreach(words, i, w)
    {
        const char *kv = json_string_value(w);
        const char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv)
            return kiln_error_set(err, KILN_E_USAGE, "--change '%s': \"%s\" is not KEY=VALUE",
                                  instr, kv);
        cleanup_free char *k = xstrndup(kv, (size_t)(eq - kv));
        add(cfg, k, eq + 1);
    }
    return 0;
}

static void add_env(json_t *cfg, const char *k, const char *v)
{
    json_t *env = json_object_get(cfg, "Env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(cfg, "Env", env);
    }
    size_t klen = strlen(k), i;
    json_t *el;
    cleanup_free char *entry = xasprintf("%s=%s", k, v);
    json_array_foreach(env, i, el)
    {
        const char *s = json_string_value(el);
        if (s && strncmp(s, k, klen) == 0 && s[klen] == '=') {
            json_array_set_new(env, i, json_string(entry));
            return;
        }
    }
    json_array_append_new(env, json_string(entry));
}

static void add_label(json_t *cfg, const char *k, const char *v)
{
    json_t *l = json_object_get(cfg, "Labels");
    if (!json_is_object(l)) {
        l = json_object();
        json_object_set_new(cfg, "Labels", l);
    }
    json_object_set_new(l, k, json_string(v));
}

static void add_set_member(json_t *cfg, const char *field, const char *key)
{
    json_t *o = json_object_get(cfg, field);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(cfg, field, o);
    }
    json_object_set_new(o, key, json_object());
}

int config_apply_change(json_t *cfg, const char *change, struct kiln_error **err)
{
    const char *p = change + strspn(change, " \t");
    size_t n = strcspn(p, " \t");
    cleanup_free char *instr = xstrndup(p, n);
    const char *arg = p + n;
    arg += strspn(arg, " \t");
    cleanup_free char *val = xstrdup(arg);
    for (size_t l = strlen(val); l > 0 && isspace((unsigned char)val[l - 1]); l--)
        val[l - 1] = '\0';
    if (val[0] == '\0')
        return kiln_error_set(err, KILN_E_USAGE, "--change '%s': missing a value", change);
    if (strcasecmp(instr, "CMD") == 0 || strcasecmp(instr, "ENTRYPOINT") == 0) {
        json_t *v = command_form(val, instr, err);
        if (v == NULL)
            return -1;
        int is_cmd = strcasecmp(instr, "CMD") == 0;
        json_object_set_new(cfg, is_cmd ? "Cmd" : "Entrypoint", v);
        return 0;
    }
    if (strcasecmp(instr, "ENV") == 0)
        return pairs("ENV", val, 1, add_env, cfg, err);
    if (strcasecmp(instr, "LABEL") == 0)
        return pairs("LABEL", val, 0, add_label, cfg, err);
    if (strcasecmp(instr, "WORKDIR") == 0 || strcasecmp(instr, "USER") == 0 ||
        strcasecmp(instr, "STOPSIGNAL") == 0) {
        const char *field = strcasecmp(instr, "WORKDIR") == 0 ? "WorkingDir"
                            : strcasecmp(instr, "USER") == 0  ? "User"
                                                              : "StopSignal";
        json_object_set_new(cfg, field, json_string(val));
        return 0;
    }
    if (strcasecmp(instr, "EXPOSE") == 0 || strcasecmp(instr, "VOLUME") == 0) {
        int expose = strcasecmp(instr, "EXPOSE") == 0;
        cleanup_json json_t *words = NULL;
        if (!expose && val[0] == '[') {
            words = command_form(val, instr, err);
        } else {
            words = split_words(val, err);
        }
        if (words == NULL)
            return -1;
        size_t i;
        json_t *w;
        json_array_foreach(words, i, w)
        {
            const char *s = json_string_value(w);
            if (expose) {
                size_t digits = strspn(s, "0123456789");
                if (digits == 0 ||
                    (s[digits] != '\0' && strcmp(s + digits, "/tcp") != 0 &&
                     strcmp(s + digits, "/udp") != 0 && strcmp(s + digits, "/sctp") != 0))
                    return kiln_error_set(err, KILN_E_USAGE,
                                          "--change 'EXPOSE %s': \"%s\" is not PORT[/PROTO]", val,
                                          s);
                cleanup_free char *key = strchr(s, '/') ? xstrdup(s) : xasprintf("%s/tcp", s);
                add_set_member(cfg, "ExposedPorts", key);
            } else {
                add_set_member(cfg, "Volumes", s);
            }
        }
        return 0;
    }
    return kiln_error_set(err, KILN_E_USAGE,
                          "--change '%s': %s is not a config instruction (use CMD, ENTRYPOINT, "
                          "ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME or STOPSIGNAL)",
                          change, instr);
}
