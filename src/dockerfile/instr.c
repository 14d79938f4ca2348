/* One instruction from its logical line: keyword, flags checked against
 * what the instruction accepts, and the arguments cut the way BuildKit cuts
 * them for that instruction (JSON or shell form, word lists, KEY=VALUE). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile/expand.h"
#include "dockerfile/internal.h"
#include "dockerfile/mount.h"

enum { F_STR = 1, F_BOOL, F_LIST };

struct flag_spec {
    const char *name;
    int type;
};

static const struct flag_spec from_flags[] = {{"platform", F_STR}, {NULL, 0}};
static const struct flag_spec run_flags[] = {
    {"mount", F_LIST}, {"network", F_STR}, {"security", F_STR}, {NULL, 0}};
static const struct flag_spec copy_flags[] = {
    {"chown", F_STR},    {"chmod", F_STR},    {"from", F_STR}, {"link", F_BOOL},
    {"parents", F_BOOL}, {"exclude", F_LIST}, {NULL, 0}};
static const struct flag_spec add_flags[] = {{"chown", F_STR},
                                             {"chmod", F_STR},
                                             {"checksum", F_STR},
                                             {"keep-git-dir", F_BOOL},
                                             {"link", F_BOOL},
                                             {"exclude", F_LIST},
                                             {NULL, 0}};
static const struct flag_spec health_flags[] = {{"interval", F_STR},     {"timeout", F_STR},
                                                {"start-period", F_STR}, {"start-interval", F_STR},
                                                {"retries", F_STR},      {NULL, 0}};
static const struct flag_spec no_flags[] = {{NULL, 0}};

static const struct {
    const char *name;
    enum df_kind kind;
    const struct flag_spec *flags;
} kinds[] = {
    {"FROM", DF_FROM, from_flags},
    {"RUN", DF_RUN, run_flags},
    {"CMD", DF_CMD, no_flags},
    {"LABEL", DF_LABEL, no_flags},
    {"MAINTAINER", DF_MAINTAINER, no_flags},
    {"EXPOSE", DF_EXPOSE, no_flags},
    {"ENV", DF_ENV, no_flags},
    {"ADD", DF_ADD, add_flags},
    {"COPY", DF_COPY, copy_flags},
    {"ENTRYPOINT", DF_ENTRYPOINT, no_flags},
    {"VOLUME", DF_VOLUME, no_flags},
    {"USER", DF_USER, no_flags},
    {"WORKDIR", DF_WORKDIR, no_flags},
    {"ARG", DF_ARG, no_flags},
    {"ONBUILD", DF_ONBUILD, no_flags},
    {"STOPSIGNAL", DF_STOPSIGNAL, no_flags},
    {"HEALTHCHECK", DF_HEALTHCHECK, health_flags},
    {"SHELL", DF_SHELL, no_flags},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

const char *df_kind_name(enum df_kind kind)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (kinds[i].kind == kind)
            return kinds[i].name;
    return "?";
}

static int blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int find_kind(const char *word, size_t len)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (strlen(kinds[i].name) == len && strncasecmp(kinds[i].name, word, len) == 0)
            return (int)i;
    return -1;
}

/* Everything an instruction parser needs about where it is. */
struct ictx {
    struct df_pctx *p;
    const struct df_lline *ll;
    struct df_instr *ins;
    size_t args_off;  /* offset of the arguments in ll->text */
    const char *args; /* trimmed copy (in the arena) */
    size_t args_len;
    int in_health; /* the CMD of a HEALTHCHECK */
};

static struct df_pos ipos(const struct ictx *c, size_t rel)
{
    return df_lline_pos(c->ll, c->args_off + rel);
}

static int parse_flags(struct ictx *c, const struct flag_spec *spec, size_t flags_off,
                       size_t *args_off)
{
    struct df_rawflag *raw = NULL;
    size_t n = 0;
    struct arena *a = c->p->a;
    const char *text = c->ll->text.buf + flags_off;
    size_t end = df_extract_flags(a, text, c->ll->text.len - flags_off, &raw, &n);
    int r = 0;
    *args_off = flags_off + end;
    if (n == 0)
        return 0;
    c->ins->flags = arena_calloc(a, n, sizeof(*c->ins->flags));
    for (size_t i = 0; i < n && r == 0; i++) {
        struct df_pos pos = df_lline_pos(c->ll, flags_off + raw[i].off);
        const char *w = raw[i].word + 2;
        size_t wlen = raw[i].len - 2;
        const char *eq = memchr(w, '=', wlen);
        size_t nlen = eq ? (size_t)(eq - w) : wlen;
        const struct flag_spec *f = NULL;
        for (const struct flag_spec *s = spec; s->name; s++)
            if (strlen(s->name) == nlen && strncmp(s->name, w, nlen) == 0)
                f = s;
        char *name = arena_strndup(a, w, nlen);
        if (f == NULL) {
            const char *cands[8];
            size_t nc = 0;
            for (const struct flag_spec *s = spec; s->name && nc < 8; s++)
                cands[nc++] = s->name;
            const char *sug = df_suggest(name, cands, nc);
            if (sug)
                r = df_perr(c->p, pos, "unknown flag --%s for %s (did you mean --%s?)", name,
                            c->ins->keyword, sug);
            else
                r = df_perr(c->p, pos, "unknown flag --%s for %s", name, c->ins->keyword);
        } else if (f->type != F_BOOL && eq == NULL) {
            r = df_perr(c->p, pos, "missing a value on flag --%s for %s (use --%s=VALUE)", name,
                        c->ins->keyword, name);
        } else if (f->type == F_BOOL && eq != NULL && strcasecmp(eq + 1, "true") != 0 &&
                   strcasecmp(eq + 1, "false") != 0) {
            r = df_perr(c->p, pos, "expecting boolean value for flag --%s, not: %s", name, eq + 1);
        } else if (f->type != F_LIST && df_instr_flag(c->ins, name) != NULL) {
            r = df_perr(c->p, pos, "duplicate flag specified: --%s", name);
        } else {
            struct df_flag *fl = &c->ins->flags[c->ins->n_flags++];
            fl->name = name;
            fl->value = eq ? arena_strndup(a, eq + 1, wlen - nlen - 1) : NULL;
            fl->pos = pos;
        }
    }
    return r;
}

static int need_args(struct ictx *c, size_t n, size_t min, const char *what)
{
    if (n >= min)
        return 0;
    return df_perr(c->p, c->ins->pos, "%s requires %s", c->ins->keyword, what);
}

static void set_blank_words(struct ictx *c)
{
    c->ins->n_args = df_split_blank(c->p->a, c->args, c->args_len, &c->ins->args);
}

/* args = [the whole argument text] */
static void set_whole(struct ictx *c)
{
    c->ins->args = arena_calloc(c->p->a, 2, sizeof(char *));
    c->ins->args[0] = (char *)c->args;
    c->ins->n_args = 1;
}

static void set_maybe_json(struct ictx *c, int to_list)
{
    if (df_parse_json_list(c->p->a, c->args, c->args_len, &c->ins->args, &c->ins->n_args)) {
        c->ins->json = 1;
        return;
    }
    if (to_list) {
        set_blank_words(c);
    } else if (c->args[0] != '\0') {
        set_whole(c);
    }
}

static int parse_kv(struct ictx *c, int is_arg)
{
    char **w = NULL;
    struct arena *a = c->p->a;
    struct df_instr *ins = c->ins;
    size_t n = df_split_words_a(a, c->args, c->args_len, c->p->escape, &w);
    if (n == 0)
        return need_args(c, 0, 1, "at least one argument");
    ins->kvs = arena_calloc(a, n, sizeof(*ins->kvs));
    if (!is_arg && strchr(w[0], '=') == NULL) {
        /* Legacy "ENV KEY value": the value is the rest of the line. */
        const char *s = c->args;
        size_t k = 0;
        while (s[k] && !blank((unsigned char)s[k]))
            k++;
        size_t v = k;
        while (s[v] && blank((unsigned char)s[v]))
            v++;
        if (s[v] == '\0')
            return df_perr(c->p, ins->pos, "%s must have two arguments (use %s KEY=VALUE)",
                           ins->keyword, ins->keyword);
        ins->kvs[0] = (struct df_kv){arena_strndup(a, s, k), (char *)s + v, 1, ipos(c, 0)};
        ins->n_kvs = 1;
        ins->legacy_kv = 1;
        df_pwarn(c->p, "LegacyKeyValueFormat", ins->pos,
                 "\"%s key=value\" should be used instead of legacy \"%s key value\" format",
                 ins->keyword, ins->keyword);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (eq == NULL && !is_arg)
            return df_perr(c->p, ipos(c, 0),
                           "syntax error: can't find = in \"%s\"; must be of the form name=value",
                           w[i]);
        struct df_kv *kv = &ins->kvs[ins->n_kvs++];
        kv->pos = ipos(c, 0);
        /* the word is ours: cut it at '=' into key and value */
        kv->key = w[i];
        kv->value = eq ? eq + 1 : (char *)"";
        kv->has_value = eq != NULL;
        if (eq != NULL)
            *eq = '\0';
        if (kv->key[0] == '\0')
            return df_perr(c->p, ipos(c, 0), "%s names can not be blank", ins->keyword);
    }
    return 0;
}

static int parse_from(struct ictx *c)
{
    struct df_instr *ins = c->ins;
    set_blank_words(c);
    if (ins->n_args == 3 && strcasecmp(ins->args[1], "as") == 0) {
        const char *name = ins->args[2];
        int kw_upper = isupper((unsigned char)ins->original[0]);
        int as_upper = isupper((unsigned char)ins->args[1][0]);
        if (kw_upper != as_upper)
            df_pwarn(c->p, "FromAsCasing", ins->pos, "'%s' and '%s' keywords' casing do not match",
                     ins->args[1], kw_upper ? "FROM" : "from");
        int lower = 1;
        for (const char *q = name; *q; q++)
            if (isupper((unsigned char)*q))
                lower = 0;
        if (!lower)
            df_pwarn(c->p, "StageNameCasing", ins->pos, "Stage name '%s' should be lowercase",
                     name);
        char *low = arena_strdup(c->p->a, name);
        for (char *q = low; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        int ok = df_valid_stage_name(low);
        if (ok && (strcmp(low, "scratch") == 0 || strcmp(low, "context") == 0))
            df_pwarn(c->p, "ReservedStageName", ins->pos,
                     "'%s' is reserved and should not be used as a stage name", low);
        if (!ok)
            return df_perr(c->p, ipos(c, (size_t)(strstr(c->args, name) - c->args)),
                           "invalid name for build stage: \"%s\", name can't start with a number "
                           "or contain symbols",
                           name);
        return 0;
    }
    if (ins->n_args != 1)
        return df_perr(c->p, ins->pos,
                       "FROM requires either one or three arguments (FROM image [AS name])");
    return 0;
}

static int parse_healthcheck(struct ictx *c, int depth);

/* Flag values without variables can be checked now; others when expanded. */
static int check_run_flags(struct ictx *c)
{
    for (size_t i = 0; i < c->ins->n_flags; i++) {
        const struct df_flag *f = &c->ins->flags[i];
        if (strchr(f->value, '$') != NULL)
            continue;
        if (strcmp(f->name, "mount") == 0) {
            struct df_mount m;
            struct kiln_error *e = NULL;
            if (df_mount_parse(f->value, &m, &e) < 0) {
                int r = df_perr(c->p, f->pos, "%s", e->msg);
                kiln_error_free(e);
                return r;
            }
            df_mount_release(&m);
        } else if (strcmp(f->name, "network") == 0 && strcmp(f->value, "none") &&
                   strcmp(f->value, "host") && strcmp(f->value, "default")) {
            return df_perr(c->p, f->pos, "unsupported --network=%s (use none, host or default)",
                           f->value);
        } else if (strcmp(f->name, "security") == 0 && strcmp(f->value, "insecure") &&
                   strcmp(f->value, "sandbox")) {
            return df_perr(c->p, f->pos, "unsupported --security=%s (use sandbox or insecure)",
                           f->value);
        }
    }
    return 0;
}

static int parse_onbuild(struct ictx *c, int depth)
{
    struct df_instr *ins = c->ins;
    if (c->args[0] == '\0')
        return need_args(c, 0, 1, "at least one argument");
    size_t k = 0;
    while (c->args[k] && !blank((unsigned char)c->args[k]))
        k++;
    int ki = find_kind(c->args, k);
    if (ki >= 0 && kinds[ki].kind == DF_ONBUILD)
        return df_perr(c->p, ipos(c, 0), "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (ki >= 0 && (kinds[ki].kind == DF_FROM || kinds[ki].kind == DF_MAINTAINER))
        return df_perr(c->p, ipos(c, 0), "%s isn't allowed as an ONBUILD trigger", kinds[ki].name);
    ins->sub = arena_alloc(c->p->a, sizeof(*ins->sub));
    (void)depth;
    return df_instr_from_line(c->p, c->ll, c->args_off, ins->sub);
}

static int parse_by_kind(struct ictx *c)
{
    struct df_instr *ins = c->ins;
    switch (ins->kind) {
    case DF_FROM:
        return parse_from(c);
    case DF_RUN:
        set_maybe_json(c, 0);
        return check_run_flags(c); /* emptiness is checked once heredocs are known */
    case DF_CMD:
    case DF_ENTRYPOINT:
        set_maybe_json(c, 0);
        if (!ins->json && ins->n_args > 0 && !c->in_health)
            df_pwarn(c->p, "JSONArgsRecommended", ins->pos,
                     "JSON arguments recommended for %s to prevent unintended behavior related "
                     "to OS signals",
                     ins->keyword);
        return 0;
    case DF_SHELL:
        set_maybe_json(c, 0);
        if (!ins->json)
            return df_perr(c->p, ipos(c, 0),
                           "SHELL requires the arguments to be in JSON form, e.g. "
                           "SHELL [\"/bin/sh\", \"-c\"]");
        return need_args(c, ins->n_args, 1, "at least one argument");
    case DF_ADD:
    case DF_COPY:
        set_maybe_json(c, 1);
        return need_args(c, ins->n_args, 2, "at least two arguments (sources and a destination)");
    case DF_VOLUME:
        set_maybe_json(c, 1);
        for (size_t i = 0; i < ins->n_args; i++)
            if (ins->args[i][0] == '\0')
                return df_perr(c->p, ipos(c, 0), "VOLUME specified can not be an empty string");
        return need_args(c, ins->n_args, 1, "at least one argument");
    case DF_EXPOSE:
        set_blank_words(c);
        return need_args(c, ins->n_args, 1, "at least one argument");
    case DF_ENV:
    case DF_LABEL:
        return parse_kv(c, 0);
    case DF_ARG:
        return parse_kv(c, 1);
    case DF_MAINTAINER:
        df_pwarn(c->p, "MaintainerDeprecated", ins->pos,
                 "Maintainer instruction is deprecated in favor of using label");
        /* fall through */
    case DF_USER:
    case DF_WORKDIR:
    case DF_STOPSIGNAL:
        if (c->args[0] == '\0')
            return need_args(c, 0, 1,
                             ins->kind == DF_WORKDIR ? "exactly one argument"
                                                     : "at least one argument");
        set_whole(c);
        return 0;
    case DF_ONBUILD:
        return parse_onbuild(c, 0);
    case DF_HEALTHCHECK:
        return parse_healthcheck(c, 0);
    }
    return 0;
}

/* Builds ins from text at kw_off; with_flags 0 for HEALTHCHECK's CMD. */
static int from_line(struct df_pctx *p, const struct df_lline *ll, size_t kw_off, int with_flags,
                     struct df_instr *ins)
{
    const char *text = ll->text.buf;
    memset(ins, 0, sizeof(*ins));
    ins->pos = df_lline_pos(ll, kw_off);
    ins->end_line = ll->end_line;
    size_t k = kw_off;
    while (text[k] && !blank((unsigned char)text[k]))
        k++;
    int ki = find_kind(text + kw_off, k - kw_off);
    if (ki < 0) {
        char *word = xstrndup(text + kw_off, k - kw_off);
        const char *cands[N_KINDS];
        for (size_t i = 0; i < N_KINDS; i++)
            cands[i] = kinds[i].name;
        const char *sug = df_suggest(word, cands, N_KINDS);
        int r =
            sug ? df_perr(p, ins->pos, "unknown instruction \"%s\" (did you mean %s?)", word, sug)
                : df_perr(p, ins->pos, "unknown instruction \"%s\"", word);
        free(word);
        return r;
    }
    ins->kind = kinds[ki].kind;
    ins->keyword = arena_strdup(p->a, kinds[ki].name);
    size_t end = ll->text.len;
    while (end > kw_off && blank((unsigned char)text[end - 1]))
        end--;
    ins->original = arena_strndup(p->a, text + kw_off, end - kw_off);

    struct ictx c = {p, ll, ins, k, NULL, 0, !with_flags};
    size_t args_off = k;
    if (with_flags) {
        if (parse_flags(&c, kinds[ki].flags, k, &args_off) < 0)
            return -1;
    }
    while (args_off < end && blank((unsigned char)text[args_off]))
        args_off++;
    if (args_off > end)
        args_off = end;
    c.args_off = args_off;
    c.args = ins->original + (args_off - kw_off); /* a suffix of original */
    c.args_len = end - args_off;
    int r = parse_by_kind(&c);
    p->args_off = args_off; /* after the nested calls of ONBUILD and HEALTHCHECK */
    return r;
}

int df_instr_from_line(struct df_pctx *p, const struct df_lline *ll, size_t kw_off,
                       struct df_instr *out)
{
    return from_line(p, ll, kw_off, 1, out);
}

static int parse_healthcheck(struct ictx *c, int depth)
{
    struct df_instr *ins = c->ins;
    (void)depth;
    const char *a = c->args;
    size_t k = 0;
    while (a[k] && !blank((unsigned char)a[k]))
        k++;
    if (k == 0)
        return need_args(c, 0, 1, "at least one argument (NONE or CMD ...)");
    if (k == 4 && strncasecmp(a, "NONE", 4) == 0) {
        if (a[k] != '\0')
            return df_perr(c->p, ipos(c, k), "HEALTHCHECK NONE takes no arguments");
        set_whole(c);
        ins->args[0] = arena_strdup(c->p->a, "NONE");
        return 0;
    }
    if (!(k == 3 && strncasecmp(a, "CMD", 3) == 0)) {
        char *w = arena_strndup(c->p->a, a, k);
        return df_perr(c->p, ipos(c, 0), "unknown type \"%s\" in HEALTHCHECK (try CMD)", w);
    }
    for (size_t i = 0; i < ins->n_flags; i++) {
        const struct df_flag *f = &ins->flags[i];
        if (strcmp(f->name, "retries") == 0) {
            char *e;
            long v = strtol(f->value, &e, 10);
            if (f->value[0] == '\0' || *e != '\0')
                return df_perr(c->p, f->pos, "--retries must be an integer, not \"%s\"", f->value);
            if (v < 0)
                return df_perr(c->p, f->pos, "--retries cannot be negative");
            continue;
        }
        long long ns;
        if (df_parse_duration(f->value, &ns) < 0)
            return df_perr(c->p, f->pos, "--%s: invalid duration \"%s\" (use e.g. 30s, 1m30s)",
                           f->name, f->value);
        if (ns != 0 && ns < 1000000LL)
            return df_perr(c->p, f->pos, "--%s \"%s\" cannot be less than 1ms", f->name, f->value);
    }
    ins->sub = arena_alloc(c->p->a, sizeof(*ins->sub));
    if (from_line(c->p, c->ll, c->args_off, 0, ins->sub) < 0)
        return -1;
    if (ins->sub->n_args == 0)
        return df_perr(c->p, ipos(c, 0), "missing command after HEALTHCHECK CMD");
    return 0;
}

int df_parse_duration(const char *s, long long *ns)
{
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*s == '\0')
        return -1;
    double total = 0;
    while (*s) {
        char *e;
        if (!isdigit((unsigned char)*s) && *s != '.')
            return -1;
        double v = strtod(s, &e);
        if (e == s)
            return -1;
        s = e;
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(s, units[i].unit, l) == 0 && l > best_len) {
                best = i;
                best_len = l;
            }
        }
        if (best_len == 0)
            return -1;
        total += v * units[best].mult;
        s += best_len;
        if (total > 9.2e18)
            return -1;
    }
    *ns = (long long)total;
    return 0;
}
