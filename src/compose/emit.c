/* The model as YAML through libyaml's emitter: block style, keys sorted, and
 * every string that a YAML reader would take for a number, boolean or null
 * double-quoted, so reading the output back gives the same model. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "compose/compose.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    strbuf_add(data, buffer, size);
    return 1;
}

/* Strings that read back as something else under YAML 1.1 or 1.2. */
static int ambiguous(const char *s)
{
    static const char *const words[] = {
        "",      "~",   "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
        "FALSE", "yes", "Yes",  "YES",  "no",   "No",   "NO",   "on",   "On",    "ON",
        "off",   "Off", "OFF",  "y",    "Y",    "n",    "N",    ".inf", ".nan",  "-.inf"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(s, words[i]) == 0)
            return 1;
    char *end;
    strtod(s, &end);
    if (*end == '\0')
        return 1;
    /* 0x1f, 0o17, 1_000 and sexagesimal 1:30 under YAML 1.1 */
    int digits = 0, other = 0;
    for (const char *c = s; *c; c++) {
        if (*c >= '0' && *c <= '9')
            digits++;
        else if (*c != '_' && *c != ':' && *c != '.' && *c != '-' && *c != '+')
            other++;
    }
    return (digits && !other) || strncmp(s, "0x", 2) == 0 || strncmp(s, "0o", 2) == 0;
}

static int scalar(yaml_emitter_t *em, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1, style);
    return yaml_emitter_emit(em, &ev);
}

static int emit_value(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t ev;
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n, i;
        cleanup_free const char **keys = json_sorted_keys(v, &n);
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return 0;
        for (i = 0; i < n; i++)
            if (!scalar(em, keys[i],
                        ambiguous(keys[i]) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                           : YAML_ANY_SCALAR_STYLE) ||
                !emit_value(em, json_object_get(v, keys[i])))
                return 0;
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return 0;
        size_t i;
        json_t *x;
        json_array_foreach((json_t *)v, i, x)
        {
            if (!emit_value(em, x))
                return 0;
        }
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        return scalar(em, s,
                      ambiguous(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    }
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return scalar(em, buf, YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
        if (strpbrk(buf, ".eEn") == NULL) {
            size_t len = strlen(buf);
            snprintf(buf + len, sizeof(buf) - len, ".0");
        }
        return scalar(em, buf, YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE:
        return scalar(em, "true", YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return scalar(em, "false", YAML_PLAIN_SCALAR_STYLE);
    default:
        return scalar(em, "null", YAML_PLAIN_SCALAR_STYLE);
    }
}

char *compose_to_yaml(const json_t *model, struct kiln_error **err)
{
    struct strbuf out = STRBUF_INIT;
    strbuf_init(&out);
    yaml_emitter_t em;
    yaml_event_t ev;
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, write_handler, &out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    int ok = yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &ev) && emit_value(&em, model);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    if (!ok) {
        kiln_error_set(err, KILN_E_FAIL, "writing YAML: %s",
                       em.problem ? em.problem : "emitter error");
        yaml_emitter_delete(&em);
        strbuf_release(&out);
        return NULL;
    }
    yaml_emitter_delete(&em);
    return strbuf_detach(&out);
}
