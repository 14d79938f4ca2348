/* Debian's security-tracker JSON (security-tracker.debian.org/tracker/data/json):
 * {SOURCE: {CVE: {description, releases: {CODENAME: {status, fixed_version,
 * urgency, nodsa, nodsa_reason}}}}} into index entries, one per (source
 * package, CVE, release). Releases resolved with fixed_version "0" were never
 * affected and are not indexed. */
#include <string.h>

#include "sbom/scan.h"
#include "sbom/scan_internal.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

const char *debtracker_release_number(const char *codename)
{
    static const char *const map[][2] = {
        {"buster", "10"}, {"bullseye", "11"}, {"bookworm", "12"}, {"trixie", "13"}, {"forky", "14"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(codename, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

bool debtracker_is_document(const json_t *doc)
{
    /* An object of objects whose values have "releases" (OSV records have "id"). */
    if (!json_is_object(doc) || json_object_get(doc, "id"))
        return false;
    const char *k, *k2;
    json_t *v, *v2;
    json_object_foreach((json_t *)doc, k, v)
    {
        if (!json_is_object(v))
            return false;
        json_object_foreach(v, k2, v2) return json_object_get(v2, "releases") != NULL;
    }
    return json_object_size(doc) == 0;
}

/* "not yet assigned" -> "not_yet_assigned", "low**" -> "low". */
static char *token(const char *s)
{
    if (!s || !*s)
        return xstrdup("-");
    char *t = xstrdup(s);
    char *star = strchr(t, '*');
    if (star)
        *star = '\0';
    for (char *c = t; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n')
            *c = '_';
    if (!*t) {
        free(t);
        return xstrdup("-");
    }
    return t;
}

static const char *urgency_severity(const char *u)
{
    if (!u)
        return "-";
    if (strncmp(u, "high", 4) == 0)
        return "HIGH";
    if (strncmp(u, "medium", 6) == 0)
        return "MEDIUM";
    if (strncmp(u, "low", 3) == 0 || strcmp(u, "unimportant") == 0)
        return "LOW";
    return "-";
}

int debtracker_add_document(struct adv_sink *s, const json_t *doc, const char *what,
                            struct kiln_error **err)
{
    if (!json_is_object(doc))
        return kiln_error_set(err, KILN_E_INVALID, "%s: not a security-tracker document", what);
    const char *src, *cve, *rel;
    json_t *cves, *info, *r;
    json_object_foreach((json_t *)doc, src, cves)
    {
        if (!json_is_object(cves) || !*src || strcspn(src, " \t\n") != strlen(src)) {
            adv_sink_warn(s, "%s: package \"%.80s\": not an object of CVEs: skipped", what, src);
            s->skipped++;
            continue;
        }
        json_object_foreach(cves, cve, info)
        {
            json_t *rels = json_object_get(info, "releases");
            if (!json_is_object(rels) || !*cve || strcspn(cve, " \t\n,") != strlen(cve)) {
                adv_sink_warn(s, "%s: %s/%.80s: no \"releases\" object: skipped", what, src, cve);
                s->skipped++;
                continue;
            }
            const char *worst = NULL;
            json_object_foreach(rels, rel, r)
            {
                const char *num = debtracker_release_number(rel);
                const char *status = json_get_str(r, "status");
                if (!num || !status)
                    continue;
                const char *fixed = json_get_str(r, "fixed_version");
                if (strcmp(status, "resolved") == 0 && (!fixed || strcmp(fixed, "0") == 0))
                    continue; /* not affected */
                cleanup_free char *st = token(status);
                cleanup_free char *fx = token(fixed);
                cleanup_free char *urg = token(json_get_str(r, "urgency"));
                cleanup_free char *nodsa = NULL;
                if (json_object_get(r, "nodsa")) {
                    const char *reason = json_get_str(r, "nodsa_reason");
                    nodsa = token(reason && *reason ? reason : "no-dsa");
                } else {
                    nodsa = xstrdup("-");
                }
                cleanup_free char *eco = xasprintf("Debian:%s", num);
                cleanup_free char *spec = xasprintf("T %s %s %s %s", st, fx, urg, nodsa);
                adv_sink_entry(s, eco, src, cve, spec);
                const char *sev = urgency_severity(urg);
                if (!worst || scan_severity_parse(sev) > scan_severity_parse(worst))
                    worst = sev;
            }
            const char *desc = json_get_str(info, "description");
            adv_sink_advisory(s, cve, worst ? worst : "-", -1, "", desc ? desc : "");
            s->advisories++;
        }
    }
    return 0;
}
