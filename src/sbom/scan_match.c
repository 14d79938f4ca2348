/* Matching packages against the advisory index: a package's ecosystem and
 * lookup name (a Debian binary package by its source package), its entries
 * in every index, each entry evaluated by the ecosystem's version order
 * (OSV ranges and version lists, Debian tracker per-release status), then
 * one finding per (package, advisory) with the best severity known. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sbom/scan.h"
#include "sbom/scan_db_internal.h"
#include "sbom/scan_internal.h"
#include "sbom/version.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define MAX_EVENTS 128

struct match_ctx {
    const struct scan_db *db;
    const struct scan_options *opt;
    struct scan_result *out;
};

/* Ecosystem (OSV spelling), version order, lookup name and version. */
static bool package_target(const struct scan_package *p, char **eco, enum version_scheme *scheme,
                           const char **name, const char **version)
{
    if (strcmp(p->type, "deb") == 0) {
        const char *d = p->distro;
        if (!d || strncmp(d, "debian-", 7) != 0 || !isdigit((unsigned char)d[7]))
            return false;
        size_t n = strspn(d + 7, "0123456789");
        *eco = xasprintf("Debian:%.*s", (int)n, d + 7);
        *scheme = VERSION_DPKG;
        *name = p->source_name ? p->source_name : p->name;
        *version = p->source_version ? p->source_version : p->version;
        return true;
    }
    if (strcmp(p->type, "pypi") == 0) {
        *eco = xstrdup("PyPI");
        *scheme = VERSION_PEP440;
    } else if (strcmp(p->type, "npm") == 0) {
        *eco = xstrdup("npm");
        *scheme = VERSION_SEMVER;
    } else {
        return false;
    }
    *name = p->name;
    *version = p->version;
    return true;
}

/* One entry's verdict. */
struct verdict {
    bool affected;
    char *fixed; /* allocated or NULL */
    const char *status;
    bool minor;
    char *minor_reason;
    int urgency_sev; /* from a tracker entry, or -1 */
};

struct event {
    char kind; /* i f l x */
    char *v;
};

static int event_cmp(const void *a, const void *b, void *scheme)
{
    const struct event *x = a, *y = b;
    bool zx = x->kind == 'i' && strcmp(x->v, "0") == 0;
    bool zy = y->kind == 'i' && strcmp(y->v, "0") == 0;
    if (zx || zy)
        return zy - zx;
    return version_cmp(*(enum version_scheme *)scheme, x->v, y->v);
}

/* OSV's evaluation: walk the events in version order; introduced turns
 * vulnerability on, fixed (v >= it) and last_affected (v > it) turn it off. */
static void eval_range(char *spec, enum version_scheme eco_scheme, const char *v,
                       struct verdict *out)
{
    char *save = NULL;
    char *type = strtok_r(spec, " ", &save);
    enum version_scheme scheme = type && strcmp(type, "SEMVER") == 0 ? VERSION_SEMVER : eco_scheme;
    struct event ev[MAX_EVENTS];
    size_t n = 0;
    for (char *t; (t = strtok_r(NULL, " ", &save)) && n < MAX_EVENTS;) {
        if (strlen(t) < 3 || t[1] != ':')
            continue;
        ev[n].kind = t[0];
        ev[n].v = t + 2;
        n++;
    }
    qsort_r(ev, n, sizeof(ev[0]), event_cmp, &scheme);
    bool vuln = false;
    const char *fixed = NULL;
    for (size_t i = 0; i < n; i++) {
        bool zero = ev[i].kind == 'i' && strcmp(ev[i].v, "0") == 0;
        int c = zero ? 1 : version_cmp(scheme, v, ev[i].v);
        if (ev[i].kind == 'i' && c >= 0) {
            vuln = true;
            fixed = NULL;
        } else if (ev[i].kind == 'f') {
            if (c >= 0)
                vuln = false;
            else if (vuln && !fixed)
                fixed = ev[i].v;
        } else if (ev[i].kind == 'l' && c > 0) {
            vuln = false;
        } else if (ev[i].kind == 'x' && c >= 0) {
            vuln = false;
        }
    }
    if (vuln) {
        out->affected = true;
        out->fixed = fixed ? xstrdup(fixed) : NULL;
        out->status = fixed ? "fixed" : "affected";
    }
}

static void eval_versions(char *spec, enum version_scheme scheme, const char *v,
                          struct verdict *out)
{
    char *save = NULL;
    strtok_r(spec, " ", &save);
    for (char *t; (t = strtok_r(NULL, " ", &save));)
        if (version_cmp(scheme, v, t) == 0) {
            out->affected = true;
            out->status = "affected";
            return;
        }
}

static void untoken(char *s)
{
    for (; *s; s++)
        if (*s == '_')
            *s = ' ';
}

/* "T STATUS FIXED URGENCY NODSA". */
static void eval_tracker(char *spec, const char *v, struct verdict *out)
{
    char *save = NULL;
    strtok_r(spec, " ", &save);
    char *status = strtok_r(NULL, " ", &save);
    char *fixed = strtok_r(NULL, " ", &save);
    char *urgency = strtok_r(NULL, " ", &save);
    char *nodsa = strtok_r(NULL, " ", &save);
    if (!status || !fixed || !urgency || !nodsa)
        return;
    if (strcmp(status, "resolved") == 0) {
        if (strcmp(fixed, "-") == 0 || strcmp(fixed, "0") == 0 || version_cmp_dpkg(v, fixed) >= 0)
            return;
        out->fixed = xstrdup(fixed);
        out->status = "fixed";
    } else if (strcmp(status, "open") == 0) {
        out->status = "open";
    } else if (strcmp(status, "undetermined") == 0) {
        out->status = "undetermined";
    } else {
        return;
    }
    out->affected = true;
    if (strcmp(nodsa, "-") != 0) {
        out->minor = true;
        untoken(nodsa);
        out->minor_reason =
            strcmp(nodsa, "no-dsa") == 0 ? xstrdup("no-dsa") : xasprintf("no-dsa: %s", nodsa);
        if (!out->fixed)
            out->status = "no-dsa";
    } else if (strcmp(urgency, "unimportant") == 0) {
        out->minor = true;
        out->minor_reason = xstrdup("unimportant");
    } else if (strcmp(urgency, "end-of-life") == 0) {
        out->minor = true;
        out->minor_reason = xstrdup("end-of-life");
    }
    out->urgency_sev = strncmp(urgency, "high", 4) == 0     ? SEV_HIGH
                       : strncmp(urgency, "medium", 6) == 0 ? SEV_MEDIUM
                       : (strncmp(urgency, "low", 3) == 0 || strcmp(urgency, "unimportant") == 0)
                           ? SEV_LOW
                           : -1;
}

/* Splits a line copy into n tab fields. */
static int split_tabs(char *s, char **f, int n)
{
    int i = 0;
    f[i++] = s;
    for (char *c = s; *c && i < n; c++)
        if (*c == '\t') {
            *c = '\0';
            f[i++] = c + 1;
        }
    return i;
}

static struct scan_finding *finding_for(struct scan_result *r, size_t first,
                                        const struct scan_package *p, const char *id)
{
    for (size_t i = first; i < r->n; i++)
        if (strcmp(r->v[i].id, id) == 0)
            return &r->v[i];
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    struct scan_finding *f = &r->v[r->n++];
    memset(f, 0, sizeof(*f));
    f->pkg = p;
    f->id = xstrdup(id);
    f->score = -1;
    f->severity = SEV_UNKNOWN;
    return f;
}

/* Keeps the lowest fixed version above the installed one. */
static void merge_verdict(struct scan_finding *f, struct verdict *v, enum version_scheme scheme,
                          const char *source, bool fresh)
{
    if (v->fixed && (!f->fixed_version || version_cmp(scheme, v->fixed, f->fixed_version) < 0)) {
        free(f->fixed_version);
        f->fixed_version = steal_pointer(&v->fixed);
        free(f->status);
        f->status = xstrdup(v->status);
    }
    if (!f->status)
        f->status = xstrdup(v->status);
    if (v->minor && !f->minor) {
        f->minor = true;
        free(f->minor_reason);
        f->minor_reason = steal_pointer(&v->minor_reason);
    }
    if (v->urgency_sev > (int)f->severity)
        f->severity = (enum scan_severity)v->urgency_sev;
    if (fresh || !f->source)
        f->source = xstrdup(source);
    free(v->fixed);
    free(v->minor_reason);
}

/* The advisory line of id with the most information across all indexes. */
static void advisory_info(const struct scan_db *db, const char *id, struct scan_finding *f)
{
    cleanup_free char *key = xasprintf("%s\t", id);
    for (size_t i = 0; i < db->n; i++) {
        struct scan_line l;
        if (scan_index_find(&db->idx[i], false, key, &l, 1) == 0)
            continue;
        cleanup_free char *copy = xstrndup(l.s, l.len);
        char *fld[5];
        if (split_tabs(copy, fld, 5) < 5)
            continue;
        double score = strcmp(fld[2], "-") == 0 ? -1 : strtod(fld[2], NULL);
        if (score > f->score) {
            f->score = score;
            f->severity = scan_severity_of_score(score);
        } else if (f->score < 0 && f->severity == SEV_UNKNOWN) {
            int s = scan_severity_parse(fld[1]);
            if (s > (int)f->severity)
                f->severity = (enum scan_severity)s;
        }
        if (!f->aliases && *fld[3])
            f->aliases = xstrdup(fld[3]);
        if (!f->summary && *fld[4])
            f->summary = xstrdup(fld[4]);
    }
}

static bool in_list(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == n && strncmp(p, id, n) == 0)
            return true;
        p = c ? c + 1 : NULL;
    }
    return false;
}

static void finding_release(struct scan_finding *f)
{
    free(f->id);
    free(f->aliases);
    free(f->summary);
    free(f->fixed_version);
    free(f->status);
    free(f->source);
    free(f->minor_reason);
}

static bool dropped(const struct scan_options *o, const struct scan_finding *f)
{
    for (size_t i = 0; i < o->nignore; i++)
        if (strcmp(o->ignore_ids[i], f->id) == 0 || in_list(f->aliases, o->ignore_ids[i]))
            return true;
    if (o->ignore_unfixed && !f->fixed_version)
        return true;
    unsigned mask = o->severities ? o->severities : SEV_ALL;
    return !(mask & (1u << f->severity));
}

/* Drops v[*i] (the last one takes its place) and steps *i back. */
static void remove_finding(struct scan_result *r, size_t *i)
{
    finding_release(&r->v[*i]);
    r->v[*i] = r->v[--r->n];
    (*i)--;
}

static void scan_package(struct match_ctx *m, const struct scan_package *p)
{
    cleanup_free char *eco = NULL;
    enum version_scheme scheme;
    const char *name, *version;
    if (!package_target(p, &eco, &scheme, &name, &version))
        return;
    m->out->packages++;
    cleanup_free char *norm = scan_normalize_name(eco, name);
    cleanup_free char *key = xasprintf("%s\t%s\t", eco, norm);
    size_t first = m->out->n;
    for (size_t i = 0; i < m->db->n; i++) {
        const struct scan_index *x = &m->db->idx[i];
        size_t n = scan_index_find(x, true, key, NULL, 0);
        if (n == 0)
            continue;
        struct scan_line *lines = xcalloc(n, sizeof(*lines));
        scan_index_find(x, true, key, lines, n);
        for (size_t j = 0; j < n; j++) {
            cleanup_free char *copy = xstrndup(lines[j].s, lines[j].len);
            char *fld[4];
            if (split_tabs(copy, fld, 4) < 4)
                continue;
            struct verdict v = {.urgency_sev = -1};
            switch (fld[3][0]) {
            case 'R':
                eval_range(fld[3], scheme, version, &v);
                break;
            case 'V':
                eval_versions(fld[3], scheme, version, &v);
                break;
            case 'T':
                eval_tracker(fld[3], version, &v);
                break;
            }
            if (!v.affected)
                continue;
            size_t before = m->out->n;
            struct scan_finding *f = finding_for(m->out, first, p, fld[2]);
            merge_verdict(f, &v, scheme, x->name, m->out->n != before);
        }
        free(lines);
    }
    /* Severity and text; then one finding per advisory known under several
     * IDs (a GHSA record aliasing the tracker's CVE): the CVE's stays. */
    for (size_t i = first; i < m->out->n; i++) {
        struct scan_finding *f = &m->out->v[i];
        advisory_info(m->db, f->id, f);
        if (!f->aliases)
            f->aliases = xstrdup("");
    }
    for (size_t i = first; i < m->out->n; i++) {
        struct scan_finding *f = &m->out->v[i];
        bool drop = false;
        for (size_t j = first; !drop && j < m->out->n; j++) {
            struct scan_finding *g = &m->out->v[j];
            if (j != i && in_list(f->aliases, g->id) && strncmp(f->id, "CVE-", 4) != 0) {
                if (!g->fixed_version && f->fixed_version) {
                    g->fixed_version = steal_pointer(&f->fixed_version);
                    free(g->status);
                    g->status = xstrdup("fixed");
                }
                if (f->score > g->score) {
                    g->score = f->score;
                    g->severity = f->severity;
                }
                /* The folded ID becomes one of the CVE's aliases (for the
                 * ignore file and the report). */
                if (!in_list(g->aliases, f->id)) {
                    char *a = *g->aliases ? xasprintf("%s,%s", g->aliases, f->id) : xstrdup(f->id);
                    free(g->aliases);
                    g->aliases = a;
                }
                drop = true;
            }
        }
        if (drop)
            remove_finding(m->out, &i);
    }
    /* Then the user's filters, on the merged findings. */
    for (size_t i = first; i < m->out->n; i++)
        if (dropped(m->opt, &m->out->v[i]))
            remove_finding(m->out, &i);
}

static int finding_cmp(const void *a, const void *b)
{
    const struct scan_finding *x = a, *y = b;
    if (x->severity != y->severity)
        return x->severity > y->severity ? -1 : 1;
    int c = strcmp(x->pkg->name, y->pkg->name);
    if (c)
        return c;
    if ((c = strcmp(x->pkg->version, y->pkg->version)))
        return c;
    return strcmp(x->id, y->id);
}

int scan_run(const struct scan_db *db, const struct scan_packages *pkgs,
             const struct scan_options *opt, struct scan_result *out, struct kiln_error **err)
{
    (void)err;
    memset(out, 0, sizeof(*out));
    struct match_ctx m = {.db = db, .opt = opt, .out = out};
    for (size_t i = 0; i < pkgs->n; i++)
        scan_package(&m, &pkgs->v[i]);
    if (out->n)
        qsort(out->v, out->n, sizeof(*out->v), finding_cmp);
    return 0;
}

void scan_result_release(struct scan_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        finding_release(&r->v[i]);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

size_t scan_result_failing(const struct scan_result *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!r->v[i].minor)
            n++;
    return n;
}
