/* Instructions back to text: a readable one-line form for plans, and an
 * unambiguous JSON-style form for cache keys. Strings are escaped by hand
 * (not through jansson) so that bytes that are not UTF-8 survive. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/internal.h"

static void add_jstr(struct strbuf *sb, const char *s)
{
    strbuf_addc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const unsigned char *q = p; /* a run that needs no escaping, in one go */
        while (*q >= 0x20 && *q != 0x7f && *q != '"' && *q != '\\')
            q++;
        if (q > p) {
            strbuf_add(sb, p, (size_t)(q - p));
            p = q - 1;
            continue;
        }
        if (*p == '"' || *p == '\\') {
            strbuf_addc(sb, '\\');
            strbuf_addc(sb, (char)*p);
        } else if (*p == '\n') {
            strbuf_adds(sb, "\\n");
        } else if (*p == '\t') {
            strbuf_adds(sb, "\\t");
        } else if (*p < 0x20 || *p == 0x7f) {
            strbuf_addf(sb, "\\u%04x", *p);
        } else {
            strbuf_addc(sb, (char)*p);
        }
    }
    strbuf_addc(sb, '"');
}

static void add_quoted(struct strbuf *sb, const char *s)
{
    int plain = s[0] != '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p && plain; p++)
        if (*p <= ' ' || *p == '"' || *p == '\'' || *p == '\\')
            plain = 0;
    if (plain)
        strbuf_adds(sb, s);
    else
        add_jstr(sb, s);
}

static void add_jlist(struct strbuf *sb, char *const *v, size_t n)
{
    strbuf_addc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addc(sb, ',');
        add_jstr(sb, v[i]);
    }
    strbuf_addc(sb, ']');
}

void df_step_text_add(struct strbuf *sb, const struct df_instr *ins)
{
    strbuf_adds(sb, ins->keyword);
    for (size_t i = 0; i < ins->n_flags; i++) {
        strbuf_add(sb, " --", 3);
        strbuf_adds(sb, ins->flags[i].name);
        if (ins->flags[i].value) {
            strbuf_addc(sb, '=');
            add_quoted(sb, ins->flags[i].value);
        }
    }
    if (ins->kind == DF_ONBUILD || ins->kind == DF_HEALTHCHECK) {
        if (ins->sub) {
            strbuf_addc(sb, ' ');
            df_step_text_add(sb, ins->sub);
        } else if (ins->n_args) {
            strbuf_addc(sb, ' ');
            strbuf_adds(sb, ins->args[0]);
        }
        return;
    }
    for (size_t i = 0; i < ins->n_kvs; i++) {
        strbuf_addc(sb, ' ');
        add_quoted(sb, ins->kvs[i].key);
        if (ins->kvs[i].has_value) {
            strbuf_addc(sb, '=');
            add_quoted(sb, ins->kvs[i].value);
        }
    }
    if (ins->json) {
        strbuf_addc(sb, ' ');
        add_jlist(sb, ins->args, ins->n_args);
    } else {
        for (size_t i = 0; i < ins->n_args; i++) {
            strbuf_addc(sb, ' ');
            strbuf_adds(sb, ins->args[i]);
        }
    }
}

/* [keyword, [[flag, value|null]...], json, [args], [[key, value|null]...],
 *  [[name, content, expand, chomp]...], sub|null] */
static void cache_json(struct strbuf *sb, const struct df_instr *ins)
{
    strbuf_addc(sb, '[');
    add_jstr(sb, ins->keyword);
    strbuf_adds(sb, ",[");
    for (size_t i = 0; i < ins->n_flags; i++) {
        strbuf_adds(sb, i ? ",[" : "[");
        add_jstr(sb, ins->flags[i].name);
        strbuf_addc(sb, ',');
        if (ins->flags[i].value)
            add_jstr(sb, ins->flags[i].value);
        else
            strbuf_adds(sb, "null");
        strbuf_addc(sb, ']');
    }
    strbuf_adds(sb, ins->json ? "],true," : "],false,");
    add_jlist(sb, ins->args, ins->n_args);
    strbuf_adds(sb, ",[");
    for (size_t i = 0; i < ins->n_kvs; i++) {
        strbuf_adds(sb, i ? ",[" : "[");
        add_jstr(sb, ins->kvs[i].key);
        strbuf_addc(sb, ',');
        if (ins->kvs[i].has_value)
            add_jstr(sb, ins->kvs[i].value);
        else
            strbuf_adds(sb, "null");
        strbuf_addc(sb, ']');
    }
    strbuf_adds(sb, "],[");
    for (size_t i = 0; i < ins->n_heredocs; i++) {
        const struct df_heredoc *h = &ins->heredocs[i];
        strbuf_adds(sb, i ? ",[" : "[");
        add_jstr(sb, h->name);
        strbuf_addc(sb, ',');
        add_jstr(sb, h->content);
        strbuf_adds(sb, h->expand ? ",true," : ",false,");
        strbuf_adds(sb, h->chomp ? "true]" : "false]");
    }
    strbuf_adds(sb, "],");
    if (ins->sub)
        cache_json(sb, ins->sub);
    else
        strbuf_adds(sb, "null");
    strbuf_addc(sb, ']');
}

void df_step_cache_text_add(struct strbuf *sb, const struct df_instr *ins)
{
    cache_json(sb, ins);
}
