/* OSV records (ossf.github.io/osv-schema) into the index: an advisory line
 * per record (ID, severity from a CVSS v3 vector or database_specific, the
 * aliases and upstream IDs) and an entry line per affected package range or
 * version list. GIT ranges are skipped: images hold versions, not commits. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sbom/scan.h"
#include "sbom/scan_internal.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* RFC 3339 "2024-05-01T12:00:00Z" (fractions and offsets tolerated) -> UNIX. */
static time_t parse_rfc3339(const char *s)
{
    struct tm tm = {0};
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : t;
}

/* Versions go into space-separated lists: one with a space or tab cannot. */
static bool version_token_ok(const char *v)
{
    return v && *v && strcspn(v, " \t\n") == strlen(v);
}

/* The record's worst CVSS v3 score; severity name from database_specific. */
static void osv_severity(const json_t *rec, double *score, const char **sev)
{
    size_t i;
    const json_t *s, *a;
    *score = -1;
    *sev = NULL;
    json_array_foreach(json_object_get(rec, "severity"), i, s)
    {
        const char *type = json_get_str(s, "type");
        if (type && strncmp(type, "CVSS_V3", 7) == 0) {
            double v = cvss3_base_score(json_get_str(s, "score"));
            if (v > *score)
                *score = v;
        }
    }
    const char *ds = json_get_str(json_object_get(rec, "database_specific"), "severity");
    if (ds && scan_severity_parse(ds) >= 0)
        *sev = ds;
    json_array_foreach(json_object_get(rec, "affected"), i, a)
    {
        const char *es = json_get_str(json_object_get(a, "ecosystem_specific"), "severity");
        if (!*sev && es && scan_severity_parse(es) >= 0)
            *sev = es;
    }
}

static void osv_ids(const json_t *rec, const char *field, struct strbuf *out)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(rec, field), i, v)
    {
        const char *s = json_string_value(v);
        if (!s || !*s || strchr(s, ','))
            continue;
        if (out->len)
            strbuf_addc(out, ',');
        strbuf_adds(out, s);
    }
}

/* One range's events as "R TYPE i:V f:V ...": false when unusable. */
static bool osv_range_spec(const json_t *range, struct strbuf *spec)
{
    const char *type = json_get_str(range, "type");
    if (!type || (strcmp(type, "ECOSYSTEM") != 0 && strcmp(type, "SEMVER") != 0))
        return false;
    strbuf_addf(spec, "R %s", type);
    size_t i, n = 0;
    const json_t *ev;
    static const struct {
        const char *key, *tag;
    } kinds[] = {{"introduced", "i"}, {"fixed", "f"}, {"last_affected", "l"}, {"limit", "x"}};
    json_array_foreach(json_object_get(range, "events"), i, ev)
    {
        for (size_t k = 0; k < 4; k++) {
            const char *v = json_get_str(ev, kinds[k].key);
            if (!v)
                continue;
            if (!version_token_ok(v))
                return false;
            strbuf_addf(spec, " %s:%s", kinds[k].tag, v);
            n++;
        }
    }
    return n > 0;
}

static int osv_add_record(struct adv_sink *s, const json_t *rec, const char *what, size_t index)
{
    const char *id = json_get_str(rec, "id");
    if (!json_is_object(rec) || !id || !*id || strcspn(id, " \t\n,") != strlen(id)) {
        adv_sink_warn(s, "%s: record %zu has no usable \"id\": skipped", what, index);
        return -1;
    }
    if (json_get_str(rec, "withdrawn"))
        return 0;
    time_t mod = parse_rfc3339(json_get_str(rec, "modified"));
    if (mod > s->data_time)
        s->data_time = mod;
    json_t *affected = json_object_get(rec, "affected");
    if (affected && !json_is_array(affected)) {
        adv_sink_warn(s, "%s: %s: \"affected\" is not an array: skipped", what, id);
        return -1;
    }
    size_t i, j;
    const json_t *a, *r;
    size_t entries = 0;
    json_array_foreach(affected, i, a)
    {
        const json_t *pkg = json_object_get(a, "package");
        const char *eco = json_get_str(pkg, "ecosystem");
        const char *name = json_get_str(pkg, "name");
        if (!eco || !name || !*name || strchr(eco, '\t') || strchr(name, '\t')) {
            adv_sink_warn(s, "%s: %s: affected[%zu] names no package: skipped", what, id, i);
            continue;
        }
        cleanup_free char *norm = scan_normalize_name(eco, name);
        json_array_foreach(json_object_get(a, "ranges"), j, r)
        {
            cleanup_strbuf struct strbuf spec = STRBUF_INIT;
            if (!osv_range_spec(r, &spec))
                continue;
            adv_sink_entry(s, eco, norm, id, spec.buf);
            entries++;
        }
        const json_t *vs = json_object_get(a, "versions");
        if (json_array_size(vs) > 0) {
            cleanup_strbuf struct strbuf spec = STRBUF_INIT;
            strbuf_adds(&spec, "V");
            const json_t *v;
            json_array_foreach(vs, j, v)
            {
                const char *ver = json_string_value(v);
                if (version_token_ok(ver))
                    strbuf_addf(&spec, " %s", ver);
            }
            if (spec.len > 1) {
                adv_sink_entry(s, eco, norm, id, spec.buf);
                entries++;
            }
        }
    }
    double score;
    const char *sev;
    osv_severity(rec, &score, &sev);
    cleanup_strbuf struct strbuf aliases = STRBUF_INIT;
    osv_ids(rec, "aliases", &aliases);
    osv_ids(rec, "upstream", &aliases);
    const char *summary = json_get_str(rec, "summary");
    if (!summary)
        summary = json_get_str(rec, "details");
    adv_sink_advisory(s, id, sev ? sev : "-", score, aliases.len ? aliases.buf : "",
                      summary ? summary : "");
    s->advisories++;
    (void)entries;
    return 0;
}

int osv_add_document(struct adv_sink *s, const json_t *doc, const char *what,
                     struct kiln_error **err)
{
    if (json_is_object(doc)) {
        if (!json_get_str(doc, "id"))
            return kiln_error_set(err, KILN_E_INVALID, "%s: not an OSV record (no \"id\")", what);
        if (osv_add_record(s, doc, what, 0) < 0)
            s->skipped++;
        return 0;
    }
    if (!json_is_array(doc))
        return kiln_error_set(err, KILN_E_INVALID, "%s: not an OSV record or array of them", what);
    size_t i;
    const json_t *rec;
    json_array_foreach(doc, i, rec)
    {
        if (osv_add_record(s, rec, what, i) < 0)
            s->skipped++;
    }
    return 0;
}
