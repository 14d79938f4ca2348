/* The Dockerfile reader: parser directives, BOM and CRLF, comments, line
 * continuations with the active escape character, heredoc bodies, and the
 * grouping of instructions into stages. Instruction arguments are cut in
 * instr.c. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MAX_DOCKERFILE (16u << 20)

struct reader {
    const char *data;
    size_t len, pos;
    int line; /* number of the line last returned */
};

/* Next physical line without its "\n" / "\r\n"; 0 at the end. */
static int next_line(struct reader *r, const char **s, size_t *n)
{
    if (r->pos >= r->len)
        return 0;
    const char *start = r->data + r->pos;
    const char *nl = memchr(start, '\n', r->len - r->pos);
    size_t l = nl ? (size_t)(nl - start) : r->len - r->pos;
    r->pos += l + (nl ? 1 : 0);
    if (l > 0 && start[l - 1] == '\r')
        l--;
    r->line++;
    *s = start;
    *n = l;
    return 1;
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

struct df_pos df_lline_pos(const struct df_lline *ll, size_t off)
{
    const struct df_seg *best = &ll->segs[0];
    for (size_t i = 0; i < ll->n_segs; i++)
        if (ll->segs[i].off <= off)
            best = &ll->segs[i];
    return (struct df_pos){best->line, best->col + (int)(off - best->off)};
}

static void lline_add(struct df_lline *ll, const char *s, size_t n, int line, int col)
{
    if (ll->n_segs == ll->cap_segs) {
        ll->cap_segs = ll->cap_segs ? ll->cap_segs * 2 : 4;
        ll->segs = xrealloc(ll->segs, ll->cap_segs * sizeof(*ll->segs));
    }
    ll->segs[ll->n_segs++] = (struct df_seg){ll->text.len, line, col};
    strbuf_add(&ll->text, s, n);
    ll->end_line = line;
}

static void lline_reset(struct df_lline *ll)
{
    strbuf_reset(&ll->text);
    ll->n_segs = 0;
    ll->end_line = 0;
}

static void lline_release(struct df_lline *ll)
{
    strbuf_release(&ll->text);
    free(ll->segs);
    memset(ll, 0, sizeof(*ll));
}

int df_perr(struct df_pctx *p, struct df_pos pos, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    kiln_error_set(p->err, KILN_E_INVALID, "%s:%d:%d: %s", p->file, pos.line, pos.col, sb.buf);
    strbuf_release(&sb);
    return -1;
}

void df_pwarn(struct df_pctx *p, const char *rule, struct df_pos pos, const char *fmt, ...)
{
    if (p->n_warnings == p->cap_warnings) {
        size_t cap = p->cap_warnings ? p->cap_warnings * 2 : 8;
        p->warnings = arena_grow(p->a, p->warnings, p->n_warnings, cap, sizeof(*p->warnings));
        p->cap_warnings = cap;
    }
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    p->warnings[p->n_warnings++] =
        (struct df_warning){arena_strdup(p->a, rule), arena_strndup(p->a, sb.buf, sb.len), pos};
    strbuf_release(&sb);
}

/* "# name = value" before the first instruction. Returns 1 if the line is a
 * directive (and handles it), 0 if directives are over, -1 on error. */
static int directive(struct df_pctx *p, struct dockerfile *df, const char *s, size_t n, int line,
                     int *seen)
{
    size_t i = 0;
    if (n == 0 || s[0] != '#')
        return 0;
    i = 1;
    while (i < n && is_blank((unsigned char)s[i]))
        i++;
    size_t ks = i;
    if (i >= n || !isalpha((unsigned char)s[i]))
        return 0;
    while (i < n && isalnum((unsigned char)s[i]))
        i++;
    size_t ke = i;
    while (i < n && is_blank((unsigned char)s[i]))
        i++;
    if (i >= n || s[i] != '=')
        return 0;
    i++;
    while (i < n && is_blank((unsigned char)s[i]))
        i++;
    size_t ve = n;
    while (ve > i && is_blank((unsigned char)s[ve - 1]))
        ve--;
    if (ve == i)
        return 0;
    struct df_pos pos = {line, 1};
    static const char *const names[] = {"syntax", "escape", "check"};
    int which = -1;
    for (int k = 0; k < 3; k++)
        if (strlen(names[k]) == ke - ks && strncasecmp(names[k], s + ks, ke - ks) == 0)
            which = k;
    if (which < 0)
        return 0; /* an unknown directive is a comment and ends directives */
    if (seen[which])
        return df_perr(p, pos, "only one %s parser directive can be used", names[which]);
    seen[which] = 1;
    char *val = arena_strndup(p->a, s + i, ve - i);
    if (which == 1) {
        if (strcmp(val, "\\") != 0 && strcmp(val, "`") != 0)
            return df_perr(p, pos, "invalid escape token '%s' does not match ` or \\", val);
        p->escape = df->escape = val[0];
    } else if (which == 0) {
        df->syntax = val;
    } else {
        df->check = val;
    }
    return 1;
}

/* Does the line end with the escape character (plus blanks)? If so, *cut is
 * the length without them. */
static int continues(const char *s, size_t n, char escape, size_t *cut)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n > 0 && s[n - 1] == escape) {
        *cut = n - 1;
        return 1;
    }
    return 0;
}

static int read_heredocs(struct df_pctx *p, struct reader *r, struct df_instr *ins,
                         const struct df_lline *ll, size_t args_base)
{
    struct df_heredoc_ref *refs = NULL;
    const char *text = ll->text.buf + args_base;
    size_t n = df_find_heredocs(p->a, ins->kind, text, &refs);
    int rc = 0;
    if (n == 0)
        return 0;
    ins->heredocs = arena_calloc(p->a, n, sizeof(*ins->heredocs));
    struct strbuf body = STRBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        struct df_heredoc *h = &ins->heredocs[ins->n_heredocs++];
        h->name = refs[i].name;
        h->expand = refs[i].expand;
        h->chomp = refs[i].chomp;
        h->pos = df_lline_pos(ll, args_base + refs[i].off);
        size_t name_len = strlen(h->name);
        const char *s;
        size_t len;
        int done = 0;
        strbuf_reset(&body);
        while (next_line(r, &s, &len)) {
            size_t skip = 0;
            if (h->chomp)
                while (skip < len && s[skip] == '\t')
                    skip++;
            if (len - skip == name_len && memcmp(s + skip, h->name, name_len) == 0) {
                done = 1;
                break;
            }
            strbuf_add(&body, s + skip, len - skip);
            strbuf_addc(&body, '\n');
        }
        h->content = arena_strndup(p->a, body.len ? body.buf : "", body.len);
        ins->end_line = r->line;
        if (!done) {
            rc = df_perr(
                p, h->pos,
                "unterminated heredoc <<%s%s started at line %d (end it with a line \"%s\")",
                h->chomp ? "-" : "", h->name, h->pos.line, h->name);
            break;
        }
    }
    strbuf_release(&body);
    return rc;
}

static void add_stage(struct df_pctx *p, struct dockerfile *df, struct df_instr *from, size_t *cap)
{
    if (df->n_stages == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        df->stages = arena_grow(p->a, df->stages, df->n_stages, ncap, sizeof(*df->stages));
        *cap = ncap;
    }
    struct df_stage *st = &df->stages[df->n_stages];
    st->index = df->n_stages++;
    st->from = from;
    st->base = from->args[0]; /* the strings are the arena's: share them */
    if (from->n_args == 3) {
        st->name = arena_strdup(p->a, from->args[2]);
        for (char *q = st->name; *q; q++)
            *q = (char)tolower((unsigned char)*q);
    }
    st->platform = (char *)df_instr_flag(from, "platform");
}

/* The instructions of the stage being read (or the ARGs before the first
 * FROM) gather here, and move to the arena in one piece when it ends. */
struct pending {
    struct df_instr *v;
    size_t n, cap;
};

static void pending_add(struct pending *pd, const struct df_instr *ins)
{
    if (pd->n == pd->cap) {
        pd->cap = pd->cap ? pd->cap * 2 : 64;
        pd->v = xrealloc(pd->v, pd->cap * sizeof(*pd->v));
    }
    pd->v[pd->n++] = *ins;
}

/* Hands the gathered instructions to the current stage (or meta_args). */
static void pending_flush(struct df_pctx *p, struct dockerfile *df, struct pending *pd)
{
    struct df_instr **v = df->n_stages ? &df->stages[df->n_stages - 1].instrs : &df->meta_args;
    size_t *n = df->n_stages ? &df->stages[df->n_stages - 1].n_instrs : &df->n_meta_args;
    if (pd->n > 0) {
        *v = arena_grow(p->a, pd->v, pd->n, pd->n, sizeof(*pd->v));
        *n = pd->n;
    }
    pd->n = 0;
}

/* Checks that need the whole file. A stage name used twice is BuildKit's
 * DuplicateStageName warning, not an error: a name then means its last
 * definition (its first before that, for FROM). */
static int whole_file_checks(struct df_pctx *p, struct dockerfile *df)
{
    for (size_t i = 0; i < df->n_stages; i++) {
        if (df->stages[i].name == NULL)
            continue;
        for (size_t j = 0; j < i; j++)
            if (df->stages[j].name && strcmp(df->stages[i].name, df->stages[j].name) == 0) {
                df_pwarn(p, "DuplicateStageName", df->stages[i].from->pos,
                         "Duplicate stage name \"%s\", stage names should be unique (first "
                         "defined at line %d)",
                         df->stages[i].name, df->stages[j].from->pos.line);
                break;
            }
    }
    return 0;
}

static void casing_check(struct df_pctx *p, struct df_pos pos, const char *kw, int majority_upper)
{
    int up = 0, low = 0;
    for (size_t i = 0; kw[i] && !isspace((unsigned char)kw[i]); i++) {
        if (isupper((unsigned char)kw[i]))
            up = 1;
        else if (islower((unsigned char)kw[i]))
            low = 1;
    }
    if ((majority_upper && low) || (!majority_upper && up))
        df_pwarn(p, "ConsistentInstructionCasing", pos,
                 "Command '%s' should match the case of the command majority (%s)", kw,
                 majority_upper ? "uppercase" : "lowercase");
}

static void count_case(const char *kw, int *upper, int *lower)
{
    if (isupper((unsigned char)kw[0]))
        (*upper)++;
    else
        (*lower)++;
}

static int place(struct df_pctx *p, struct dockerfile *df, struct df_instr *ins, size_t *stage_cap,
                 struct pending *pd)
{
    if (ins->kind == DF_FROM) {
        struct df_instr *from = arena_alloc(p->a, sizeof(*from));
        *from = *ins;
        pending_flush(p, df, pd);
        add_stage(p, df, from, stage_cap);
        return 0;
    }
    if (df->n_stages == 0) {
        if (ins->kind != DF_ARG) {
            return df_perr(p, ins->pos, "%s before the first FROM (only ARG may come before FROM)",
                           ins->keyword);
        }
        pending_add(pd, ins);
        return 0;
    }
    pending_add(pd, ins);
    return 0;
}

static int parse_body(struct df_pctx *p, struct dockerfile *df, struct reader *r)
{
    int seen[3] = {0, 0, 0}, directives_done = 0, upper = 0, lower = 0;
    size_t stage_cap = 0;
    const char *s;
    size_t n;
    /* keyword text of each instruction, for the casing check afterwards */
    struct keyword {
        struct df_pos pos;
        char text[12]; /* "HEALTHCHECK" is the longest */
    } *kws = NULL;
    size_t n_kw = 0, cap_kw = 0;
    int rc = 0;
    struct df_lline ll = {STRBUF_INIT, NULL, 0, 0, 0};
    strbuf_init(&ll.text);
    struct pending pd = {NULL, 0, 0};

    while (rc == 0 && next_line(r, &s, &n)) {
        if (!directives_done) {
            int d = directive(p, df, s, n, r->line, seen);
            if (d < 0)
                return -1;
            if (d > 0)
                continue;
            directives_done = 1;
        }
        size_t i = 0;
        while (i < n && is_blank((unsigned char)s[i]))
            i++;
        if (i == n || s[i] == '#')
            continue;
        lline_reset(&ll);
        size_t cut;
        int line = r->line, more = continues(s + i, n - i, p->escape, &cut);
        lline_add(&ll, s + i, more ? cut : n - i, line, (int)i + 1);
        int warned_empty = 0;
        while (more && next_line(r, &s, &n)) {
            size_t j = 0;
            while (j < n && is_blank((unsigned char)s[j]))
                j++;
            if (j == n) {
                if (!warned_empty)
                    df_pwarn(p, "NoEmptyContinuation", (struct df_pos){r->line, 1},
                             "Empty continuation line");
                warned_empty = 1;
                continue;
            }
            if (s[j] == '#')
                continue;
            more = continues(s, n, p->escape, &cut);
            lline_add(&ll, s, more ? cut : n, r->line, 1);
        }
        struct df_instr ins;
        rc = df_instr_from_line(p, &ll, 0, &ins);
        if (rc == 0 && (ins.kind == DF_RUN || ins.kind == DF_COPY || ins.kind == DF_ADD) &&
            !ins.json)
            rc = read_heredocs(p, r, &ins, &ll, p->args_off);
        if (rc == 0 && ins.kind == DF_RUN && ins.n_args == 0 && ins.n_heredocs == 0)
            rc = df_perr(p, ins.pos, "RUN requires at least one argument");
        if (rc == 0) {
            if (n_kw == cap_kw) {
                cap_kw = cap_kw ? cap_kw * 2 : 64;
                kws = xrealloc(kws, cap_kw * sizeof(*kws));
            }
            size_t kl = strlen(ins.keyword);
            kws[n_kw].pos = ins.pos;
            memcpy(kws[n_kw].text, ll.text.buf, kl);
            kws[n_kw].text[kl] = '\0';
            count_case(kws[n_kw].text, &upper, &lower);
            n_kw++;
            rc = place(p, df, &ins, &stage_cap, &pd);
        }
    }
    lline_release(&ll);
    pending_flush(p, df, &pd);
    free(pd.v);
    if (rc == 0 && n_kw == 0)
        rc = df_perr(p, (struct df_pos){1, 1}, "the Dockerfile has no instructions");
    else if (rc == 0 && df->n_stages == 0)
        rc = df_perr(p, (struct df_pos){1, 1}, "no FROM instruction: nothing to build");
    if (rc == 0)
        rc = whole_file_checks(p, df);
    for (size_t k = 0; k < n_kw && rc == 0; k++)
        casing_check(p, kws[k].pos, kws[k].text, upper >= lower);
    free(kws);
    return rc;
}

int df_parse(const char *data, size_t len, const char *file, struct dockerfile **out,
             struct kiln_error **err)
{
    struct df_pctx p = {NULL, file ? file : "Dockerfile", '\\', err, NULL, 0, 0, 0};
    const char *nul = memchr(data, '\0', len);
    if (nul != NULL) {
        int line = 1;
        for (const char *q = data; q < nul; q++)
            line += *q == '\n';
        return df_perr(&p, (struct df_pos){line, 1},
                       "NUL byte in Dockerfile (is it a binary file?)");
    }
    struct arena *a;
    struct dockerfile *df = df_alloc(&a);
    p.a = a;
    df->file = arena_strdup(a, p.file);
    df->escape = '\\';
    struct reader r = {data, len, 0, 0};
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        r.pos = 3;
    int rc = parse_body(&p, df, &r);
    df->warnings = p.warnings;
    df->n_warnings = p.n_warnings;
    if (rc < 0) {
        df_free(df);
        return -1;
    }
    *out = df;
    return 0;
}

int df_parse_file(const char *path, struct dockerfile **out, struct kiln_error **err)
{
    cleanup_free char *data = NULL;
    size_t len;
    if (read_file(path, MAX_DOCKERFILE, &data, &len, err) < 0)
        return -1;
    const char *base = strrchr(path, '/');
    return df_parse(data, len, base ? base + 1 : path, out, err);
}

int df_parse_instr(const char *text, char escape, const char *what, struct df_instr **out,
                   struct kiln_error **err)
{
    struct df_pctx p = {NULL, what ? what : "instruction", escape ? escape : '\\', err, NULL, 0, 0,
                        0};
    struct df_lline ll = {STRBUF_INIT, NULL, 0, 0, 0};
    size_t i = 0;
    while (text[i] && isspace((unsigned char)text[i]))
        i++;
    if (strchr(text, '\n') != NULL || text[i] == '\0') {
        kiln_error_set(err, KILN_E_INVALID, "%s: expected one instruction on one line", p.file);
        return -1;
    }
    lline_add(&ll, text + i, strlen(text + i), 1, (int)i + 1);
    struct df_instr *ins = df_instr_alloc(&p.a);
    int rc = df_instr_from_line(&p, &ll, 0, ins);
    lline_release(&ll);
    if (rc < 0) {
        df_instr_free(ins);
        return -1;
    }
    *out = ins;
    return 0;
}
