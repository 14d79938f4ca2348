/* Temporary: the frontend's API compiles against these until the real
 * implementation lands; every entry point fails with "not implemented". */
#include <stdlib.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/eval.h"
#include "dockerfile/expand.h"
#include "dockerfile/graph.h"
#include "dockerfile/plan.h"

#define NOTYET(err) kiln_error_set(err, KILN_E_FAIL, "dockerfile frontend: not implemented yet")

int df_parse(const char *d, size_t l, const char *f, struct dockerfile **o, struct kiln_error **err)
{
    (void)d, (void)l, (void)f, (void)o;
    return NOTYET(err);
}
int df_parse_file(const char *p, struct dockerfile **o, struct kiln_error **err)
{
    (void)p, (void)o;
    return NOTYET(err);
}
int df_parse_instr(const char *t, char e, const char *w, struct df_instr **o,
                   struct kiln_error **err)
{
    (void)t, (void)e, (void)w, (void)o;
    return NOTYET(err);
}
void df_free(struct dockerfile *df)
{
    (void)df;
}
void df_instr_free(struct df_instr *ins)
{
    (void)ins;
}
const char *df_kind_name(enum df_kind k)
{
    (void)k;
    return "?";
}
const char *df_instr_flag(const struct df_instr *ins, const char *name)
{
    (void)ins, (void)name;
    return NULL;
}
size_t df_instr_flag_all(const struct df_instr *ins, const char *name, const char ***vals)
{
    (void)ins, (void)name;
    *vals = NULL;
    return 0;
}
const struct df_stage *df_find_stage(const struct dockerfile *df, const char *n)
{
    (void)df, (void)n;
    return NULL;
}
