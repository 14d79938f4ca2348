/* A scan's findings as JSON (kiln's own shape) and as SARIF 2.1.0 (OASIS),
 * the format code-scanning dashboards import: one rule per advisory, one
 * result per finding, located at the scanned image or SBOM file. */
#include <stdio.h>
#include <string.h>

#include "sbom/scan.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

static json_t *aliases_array(const char *list)
{
    json_t *a = json_array();
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, l));
        p = c ? c + 1 : NULL;
    }
    return a;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *finding_json(const struct scan_finding *f)
{
    json_t *o = json_object();
    const struct scan_package *p = f->pkg;
    json_object_set_new(o, "id", json_string(f->id));
    json_object_set_new(o, "aliases", aliases_array(f->aliases));
    json_object_set_new(o, "package", json_string(p->name));
    json_object_set_new(o, "version", json_string(p->version));
    json_object_set_new(o, "type", json_string(p->type));
    json_object_set_new(o, "purl", str_or_null(p->purl));
    if (strcmp(p->type, "deb") == 0) {
        json_object_set_new(o, "source_package", json_string(p->source_name));
        json_object_set_new(o, "source_version", json_string(p->source_version));
    }
    json_object_set_new(o, "fixed_version", str_or_null(f->fixed_version));
    json_object_set_new(o, "status", str_or_null(f->status));
    json_object_set_new(o, "severity", json_string(scan_severity_name(f->severity)));
    json_object_set_new(o, "cvss_score", f->score >= 0 ? json_real(f->score) : json_null());
    json_object_set_new(o, "minor", json_boolean(f->minor));
    if (f->minor_reason)
        json_object_set_new(o, "minor_reason", json_string(f->minor_reason));
    json_object_set_new(o, "summary", json_string(f->summary ? f->summary : ""));
    json_object_set_new(o, "database", str_or_null(f->source));
    return o;
}

json_t *scan_result_json(const struct scan_result *r, const char *target)
{
    json_t *o = json_object();
    json_object_set_new(o, "target", json_string(target));
    json_object_set_new(o, "packages", json_integer((json_int_t)r->packages));
    json_t *counts = json_object();
    for (int s = SEV_CRITICAL; s >= SEV_UNKNOWN; s--) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++)
            n += r->v[i].severity == (enum scan_severity)s;
        json_object_set_new(counts, scan_severity_name((enum scan_severity)s),
                            json_integer((json_int_t)n));
    }
    json_object_set_new(o, "counts", counts);
    json_t *a = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(a, finding_json(&r->v[i]));
    json_object_set_new(o, "findings", a);
    return o;
}

/* SARIF levels: what fails the scan is an error, minor Debian issues notes. */
static const char *sarif_level(const struct scan_finding *f)
{
    if (f->minor)
        return "note";
    return f->severity >= SEV_HIGH ? "error" : "warning";
}

json_t *scan_result_sarif(const struct scan_result *r, const char *target, const char *version)
{
    json_t *rules = json_array(), *results = json_array();
    json_t *rule_index = json_object(); /* id -> index in rules */
    for (size_t i = 0; i < r->n; i++) {
        const struct scan_finding *f = &r->v[i];
        json_t *idx = json_object_get(rule_index, f->id);
        if (!idx) {
            json_t *rule = json_object();
            json_object_set_new(rule, "id", json_string(f->id));
            json_object_set_new(rule, "name", json_string(f->id));
            cleanup_free char *short_text =
                f->summary && *f->summary ? xstrdup(f->summary) : xasprintf("%s", f->id);
            json_object_set_new(rule, "shortDescription", json_pack("{s:s}", "text", short_text));
            cleanup_free char *help_uri =
                strncmp(f->id, "CVE-", 4) == 0
                    ? xasprintf("https://security-tracker.debian.org/tracker/%s", f->id)
                    : xasprintf("https://osv.dev/vulnerability/%s", f->id);
            json_object_set_new(rule, "helpUri", json_string(help_uri));
            json_t *props = json_object();
            json_object_set_new(
                props, "tags",
                json_pack("[s,s,s]", "security", "vulnerability", scan_severity_name(f->severity)));
            if (f->score >= 0) {
                char buf[16];
                snprintf(buf, sizeof(buf), "%.1f", f->score);
                json_object_set_new(props, "security-severity", json_string(buf));
            }
            json_object_set_new(rule, "properties", props);
            json_object_set_new(rule, "defaultConfiguration",
                                json_pack("{s:s}", "level", sarif_level(f)));
            idx = json_integer((json_int_t)json_array_size(rules));
            json_object_set_new(rule_index, f->id, idx);
            json_array_append_new(rules, rule);
        }
        struct strbuf msg = STRBUF_INIT;
        strbuf_addf(&msg, "%s %s (%s) is affected by %s, severity %s", f->pkg->name,
                    f->pkg->version, f->pkg->type, f->id, scan_severity_name(f->severity));
        if (f->fixed_version)
            strbuf_addf(&msg, "; fixed in %s", f->fixed_version);
        else
            strbuf_adds(&msg, "; no fixed version");
        if (f->minor_reason)
            strbuf_addf(&msg, " (%s)", f->minor_reason);
        json_t *res = json_object();
        json_object_set_new(res, "ruleId", json_string(f->id));
        json_object_set_new(res, "ruleIndex", json_integer(json_integer_value(idx)));
        json_object_set_new(res, "level", json_string(sarif_level(f)));
        json_object_set_new(res, "message", json_pack("{s:s}", "text", msg.buf));
        strbuf_release(&msg);
        json_t *loc = json_object();
        json_object_set_new(loc, "physicalLocation",
                            json_pack("{s:{s:s}}", "artifactLocation", "uri", target));
        json_t *logical = json_object();
        json_object_set_new(logical, "name", json_string(f->pkg->name));
        if (f->pkg->purl)
            json_object_set_new(logical, "fullyQualifiedName", json_string(f->pkg->purl));
        json_object_set_new(logical, "kind", json_string("package"));
        json_object_set_new(loc, "logicalLocations", json_pack("[o]", logical));
        json_object_set_new(res, "locations", json_pack("[o]", loc));
        json_t *props = json_object();
        json_object_set_new(props, "installedVersion", json_string(f->pkg->version));
        if (f->fixed_version)
            json_object_set_new(props, "fixedVersion", json_string(f->fixed_version));
        json_object_set_new(props, "severity", json_string(scan_severity_name(f->severity)));
        json_object_set_new(res, "properties", props);
        json_array_append_new(results, res);
    }
    json_decref(rule_index);
    json_t *driver = json_object();
    json_object_set_new(driver, "name", json_string("kiln"));
    json_object_set_new(driver, "version", json_string(version));
    json_object_set_new(driver, "rules", rules);
    json_t *run = json_object();
    json_object_set_new(run, "tool", json_pack("{s:o}", "driver", driver));
    json_object_set_new(run, "results", results);
    json_t *doc = json_object();
    json_object_set_new(doc, "$schema",
                        json_string("https://json.schemastore.org/sarif-2.1.0.json"));
    json_object_set_new(doc, "version", json_string("2.1.0"));
    json_object_set_new(doc, "runs", json_pack("[o]", run));
    return doc;
}
