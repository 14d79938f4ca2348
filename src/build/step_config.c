/* Config-only instructions (ENV LABEL EXPOSE VOLUME USER WORKDIR STOPSIGNAL
 * SHELL CMD ENTRYPOINT HEALTHCHECK ONBUILD MAINTAINER): each updates the image
 * config and adds an empty_layer history entry, as Docker's builder does. */
#include <stdlib.h>
#include <string.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* SHELL + [text] for shell form, the JSON strings for exec form. */
static json_t *command_json(struct stage_state *st, const struct df_instr *ins)
{
    if (ins->json)
        return strv_json(ins->args, ins->n_args);
    json_t *shell = json_object_get(build_config_obj(st), "Shell");
    json_t *a = json_is_array(shell) && json_array_size(shell) > 0
                    ? json_deep_copy(shell)
                    : json_pack("[s, s]", "/bin/sh", "-c");
    json_array_append_new(a, json_string(ins->n_args > 0 ? ins->args[0] : ""));
    return a;
}

static json_t *map_obj(json_t *c, const char *key)
{
    json_t *m = json_object_get(c, key);
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(c, key, m);
    }
    return m;
}

/* Go duration ("30s", "1m30s", "500ms", "1.5h") in nanoseconds; -1 if bad. */
static long long parse_duration(const char *s)
{
    long long total = 0;
    if (strcmp(s, "0") == 0)
        return 0;
    while (*s != '\0') {
        char *end;
        double v = strtod(s, &end);
        if (end == s)
            return -1;
        s = end;
        double unit;
        if (strncmp(s, "ns", 2) == 0)
            unit = 1, s += 2;
        else if (strncmp(s, "us", 2) == 0)
            unit = 1e3, s += 2;
        else if (strncmp(s, "ms", 2) == 0)
            unit = 1e6, s += 2;
        else if (*s == 's')
            unit = 1e9, s += 1;
        else if (*s == 'm')
            unit = 60e9, s += 1;
        else if (*s == 'h')
            unit = 3600e9, s += 1;
        else
            return -1;
        total += (long long)(v * unit);
    }
    return total;
}

static int healthcheck(struct stage_state *st, const struct df_instr *ins, struct kiln_error **err)
{
    json_t *c = build_config_obj(st);
    if (ins->sub == NULL) {
        json_object_set_new(c, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
        return 0;
    }
    json_t *test = json_array();
    if (ins->sub->json) {
        json_array_append_new(test, json_string("CMD"));
        for (size_t i = 0; i < ins->sub->n_args; i++)
            json_array_append_new(test, json_string(ins->sub->args[i]));
    } else {
        json_array_append_new(test, json_string("CMD-SHELL"));
        json_array_append_new(test, json_string(ins->sub->n_args ? ins->sub->args[0] : ""));
    }
    json_t *hc = json_pack("{s:o}", "Test", test);
    static const struct {
        const char *flag, *key;
    } durs[] = {{"interval", "Interval"},
                {"timeout", "Timeout"},
                {"start-period", "StartPeriod"},
                {"start-interval", "StartInterval"}};
    for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
        const char *v = df_instr_flag(ins, durs[i].flag);
        if (v == NULL)
            continue;
        long long ns = parse_duration(v);
        if (ns < 0) {
            json_decref(hc);
            return kiln_error_set(err, KILN_E_INVALID,
                                  "HEALTHCHECK --%s=%s: not a duration such as 30s or 1m30s",
                                  durs[i].flag, v);
        }
        if (ns > 0)
            json_object_set_new(hc, durs[i].key, json_integer(ns));
    }
    const char *r = df_instr_flag(ins, "retries");
    if (r != NULL) {
        char *end;
        long n = strtol(r, &end, 10);
        if (*end != '\0' || n < 0) {
            json_decref(hc);
            return kiln_error_set(err, KILN_E_INVALID, "HEALTHCHECK --retries=%s: not a number", r);
        }
        if (n > 0)
            json_object_set_new(hc, "Retries", json_integer(n));
    }
    json_object_set_new(c, "Healthcheck", hc);
    return 0;
}

static char *clean_abs(const char *base, const char *path)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    if (path[0] != '/')
        path_push_clean(&sb, base ? base : "/");
    path_push_clean(&sb, path);
    char *clean = xasprintf("/%s", sb.buf);
    strbuf_release(&sb);
    return clean;
}

int build_step_config(struct build_ctx *b, struct stage_state *st, const struct df_step *step,
                      struct kiln_error **err)
{
    const struct df_instr *ins = step->ins;
    json_t *c = build_config_obj(st);
    switch (ins->kind) {
    case DF_ARG:
        return 0; /* no history entry, as BuildKit */
    case DF_ENV: {
        const char *const *env;
        size_t n = df_scope_env(st->scope, &env);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_string(env[i]));
        json_object_set_new(c, "Env", a);
        break;
    }
    case DF_LABEL: {
        json_t *m = map_obj(c, "Labels");
        for (size_t i = 0; i < ins->n_kvs; i++)
            json_object_set_new(m, ins->kvs[i].key, json_string(ins->kvs[i].value));
        break;
    }
    case DF_MAINTAINER:
        json_object_set_new(st->config, "author", json_string(ins->n_args ? ins->args[0] : ""));
        break;
    case DF_EXPOSE: {
        json_t *m = map_obj(c, "ExposedPorts");
        for (size_t i = 0; i < ins->n_args; i++) {
            cleanup_free char *port = strchr(ins->args[i], '/') ? xstrdup(ins->args[i])
                                                                : xasprintf("%s/tcp", ins->args[i]);
            for (char *q = port; *q; q++)
                if (*q >= 'A' && *q <= 'Z')
                    *q = (char)(*q - 'A' + 'a');
            json_object_set_new(m, port, json_object());
        }
        break;
    }
    case DF_VOLUME: {
        json_t *m = map_obj(c, "Volumes");
        for (size_t i = 0; i < ins->n_args; i++) {
            if (ins->args[i][0] == '\0')
                return kiln_error_set(err, KILN_E_INVALID, "VOLUME: empty path");
            json_object_set_new(m, ins->args[i], json_object());
        }
        break;
    }
    case DF_USER:
        json_object_set_new(c, "User", json_string(ins->n_args ? ins->args[0] : ""));
        break;
    case DF_WORKDIR: {
        const char *cur = json_string_value(json_object_get(c, "WorkingDir"));
        cleanup_free char *wd =
            clean_abs(cur && cur[0] ? cur : "/", ins->n_args ? ins->args[0] : "/");
        json_object_set_new(c, "WorkingDir", json_string(wd));
        break;
    }
    case DF_STOPSIGNAL:
        json_object_set_new(c, "StopSignal", json_string(ins->n_args ? ins->args[0] : ""));
        break;
    case DF_SHELL:
        json_object_set_new(c, "Shell", strv_json(ins->args, ins->n_args));
        break;
    case DF_CMD:
        json_object_set_new(c, "Cmd", command_json(st, ins));
        st->cmd_set = 1;
        break;
    case DF_ENTRYPOINT:
        json_object_set_new(c, "Entrypoint", command_json(st, ins));
        if (!st->cmd_set)
            json_object_set_new(c, "Cmd", json_null());
        break;
    case DF_HEALTHCHECK:
        if (healthcheck(st, ins, err) < 0)
            return -1;
        break;
    case DF_ONBUILD: {
        json_t *a = json_object_get(c, "OnBuild");
        if (!json_is_array(a)) {
            a = json_array();
            json_object_set_new(c, "OnBuild", a);
        }
        const struct df_instr *sub = step->orig->sub;
        json_array_append_new(a, json_string(sub && sub->original ? sub->original : ""));
        break;
    }
    default:
        return kiln_error_set(err, KILN_E_INVALID, "%s is not a config instruction", ins->keyword);
    }
    if (ins->kind != DF_WORKDIR)
        build_add_history(b, st, step->text, 1);
    return 0;
}
