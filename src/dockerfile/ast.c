/* The syntax tree's small services: freeing, deep copies (the evaluator
 * expands into a copy), flag look-ups and stage look-up. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile/expand.h"
#include "dockerfile/internal.h"
#include "util/strbuf.h"

void df_instr_release(struct df_instr *ins)
{
    if (ins == NULL)
        return;
    free(ins->keyword);
    free(ins->original);
    for (size_t i = 0; i < ins->n_flags; i++) {
        free(ins->flags[i].name);
        free(ins->flags[i].value);
    }
    free(ins->flags);
    df_strv_free(ins->args, ins->n_args);
    for (size_t i = 0; i < ins->n_kvs; i++) {
        free(ins->kvs[i].key);
        free(ins->kvs[i].value);
    }
    free(ins->kvs);
    for (size_t i = 0; i < ins->n_heredocs; i++) {
        free(ins->heredocs[i].name);
        free(ins->heredocs[i].content);
    }
    free(ins->heredocs);
    if (ins->sub != NULL) {
        df_instr_release(ins->sub);
        free(ins->sub);
    }
    memset(ins, 0, sizeof(*ins));
}

void df_instr_free(struct df_instr *ins)
{
    df_instr_release(ins);
    free(ins);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

int df_instr_copy(const struct df_instr *in, struct df_instr *out)
{
    *out = *in;
    out->keyword = dup_or_null(in->keyword);
    out->original = dup_or_null(in->original);
    out->flags = xcalloc(in->n_flags ? in->n_flags : 1, sizeof(*out->flags));
    for (size_t i = 0; i < in->n_flags; i++) {
        out->flags[i] = in->flags[i];
        out->flags[i].name = xstrdup(in->flags[i].name);
        out->flags[i].value = dup_or_null(in->flags[i].value);
    }
    out->args = xcalloc(in->n_args + 1, sizeof(*out->args));
    for (size_t i = 0; i < in->n_args; i++)
        out->args[i] = xstrdup(in->args[i]);
    out->kvs = xcalloc(in->n_kvs ? in->n_kvs : 1, sizeof(*out->kvs));
    for (size_t i = 0; i < in->n_kvs; i++) {
        out->kvs[i] = in->kvs[i];
        out->kvs[i].key = xstrdup(in->kvs[i].key);
        out->kvs[i].value = xstrdup(in->kvs[i].value);
    }
    out->heredocs = xcalloc(in->n_heredocs ? in->n_heredocs : 1, sizeof(*out->heredocs));
    for (size_t i = 0; i < in->n_heredocs; i++) {
        out->heredocs[i] = in->heredocs[i];
        out->heredocs[i].name = xstrdup(in->heredocs[i].name);
        out->heredocs[i].content = xstrdup(in->heredocs[i].content);
    }
    if (in->sub != NULL) {
        out->sub = xcalloc(1, sizeof(*out->sub));
        df_instr_copy(in->sub, out->sub);
    }
    return 0;
}

void df_free(struct dockerfile *df)
{
    if (df == NULL)
        return;
    free(df->file);
    free(df->syntax);
    free(df->check);
    for (size_t i = 0; i < df->n_meta_args; i++)
        df_instr_release(&df->meta_args[i]);
    free(df->meta_args);
    for (size_t i = 0; i < df->n_stages; i++) {
        struct df_stage *st = &df->stages[i];
        free(st->name);
        free(st->base);
        free(st->platform);
        df_instr_free(st->from);
        for (size_t j = 0; j < st->n_instrs; j++)
            df_instr_release(&st->instrs[j]);
        free(st->instrs);
    }
    free(df->stages);
    for (size_t i = 0; i < df->n_warnings; i++) {
        free(df->warnings[i].rule);
        free(df->warnings[i].msg);
    }
    free(df->warnings);
    free(df);
}

const char *df_instr_flag(const struct df_instr *ins, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < ins->n_flags; i++)
        if (strcmp(ins->flags[i].name, name) == 0)
            v = ins->flags[i].value ? ins->flags[i].value : "";
    return v;
}

int df_instr_flag_bool(const struct df_instr *ins, const char *name)
{
    const char *v = df_instr_flag(ins, name);
    return v != NULL && strcasecmp(v, "false") != 0;
}

char *df_run_script(const struct df_instr *ins)
{
    if (ins->json || ins->n_args == 0)
        return NULL;
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, ins->args[0]);
    for (size_t i = 0; i < ins->n_heredocs; i++)
        strbuf_addf(&sb, "\n%s%s", ins->heredocs[i].content, ins->heredocs[i].name);
    if (ins->n_heredocs > 0)
        strbuf_addc(&sb, '\n');
    return strbuf_detach(&sb);
}

size_t df_instr_flag_all(const struct df_instr *ins, const char *name, const char ***vals)
{
    size_t n = 0;
    *vals = xcalloc(ins->n_flags + 1, sizeof(**vals));
    for (size_t i = 0; i < ins->n_flags; i++)
        if (strcmp(ins->flags[i].name, name) == 0)
            (*vals)[n++] = ins->flags[i].value ? ins->flags[i].value : "";
    return n;
}

const struct df_stage *df_find_stage(const struct dockerfile *df, const char *name)
{
    for (size_t i = 0; i < df->n_stages; i++)
        if (df->stages[i].name && strcasecmp(df->stages[i].name, name) == 0)
            return &df->stages[i];
    if (name[0] == '\0')
        return NULL;
    for (const char *p = name; *p; p++)
        if (!isdigit((unsigned char)*p))
            return NULL;
    if (strlen(name) > 9)
        return NULL;
    size_t idx = (size_t)strtoul(name, NULL, 10);
    return idx < df->n_stages ? &df->stages[idx] : NULL;
}
