/* The syntax tree's small services: freeing, deep copies (the evaluator
 * expands into a copy), flag look-ups and stage look-up. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile/expand.h"
#include "dockerfile/internal.h"
#include "util/strbuf.h"

/* A parsed file or instruction, with the arena that owns all it points to. */
struct owned_df {
    struct dockerfile df;
    struct arena a;
};

struct owned_instr {
    struct df_instr ins;
    struct arena a;
};

struct dockerfile *df_alloc(struct arena **a)
{
    struct owned_df *o = xcalloc(1, sizeof(*o));
    *a = &o->a;
    return &o->df;
}

struct df_instr *df_instr_alloc(struct arena **a)
{
    struct owned_instr *o = xcalloc(1, sizeof(*o));
    *a = &o->a;
    return &o->ins;
}

void df_free(struct dockerfile *df)
{
    if (df == NULL)
        return;
    struct owned_df *o = (struct owned_df *)df; /* df is its first member */
    arena_release(&o->a);
    free(o);
}

void df_instr_free(struct df_instr *ins)
{
    if (ins == NULL)
        return;
    struct owned_instr *o = (struct owned_instr *)ins;
    arena_release(&o->a);
    free(o);
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
    for (size_t i = df->n_stages; i-- > 0;) /* a name used twice: its last stage */
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
