/* RUN --mount specifications: comma-separated key=value fields (fields
 * may be quoted), defaults per type as BuildKit sets them. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile/expand.h"
#include "dockerfile/mount.h"
#include "util/strbuf.h"

static const char *const type_names[] = {NULL, "bind", "cache", "tmpfs", "secret", "ssh"};

const char *df_mount_type_name(enum df_mount_type t)
{
    return t >= DF_MOUNT_BIND && t <= DF_MOUNT_SSH ? type_names[t] : "?";
}

void df_mount_release(struct df_mount *m)
{
    free(m->target);
    free(m->source);
    free(m->from);
    free(m->id);
    free(m->sharing);
    free(m->env);
    memset(m, 0, sizeof(*m));
}

/* Fields split at commas outside double quotes; quotes removed. */
static size_t split_fields(const char *s, char ***out)
{
    char **v = NULL;
    size_t n = 0;
    struct strbuf f = STRBUF_INIT;
    int q = 0;
    for (const char *p = s;; p++) {
        if (*p == '\0' || (*p == ',' && !q)) {
            v = xrealloc(v, (n + 1) * sizeof(*v));
            v[n++] = strbuf_detach(&f);
            if (*p == '\0')
                break;
            continue;
        }
        if (*p == '"') {
            q = !q;
            continue;
        }
        strbuf_addc(&f, *p);
    }
    *out = v;
    return n;
}

static int parse_bool(const char *v, int *out)
{
    if (v == NULL || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_long(const char *v, int base, long *out)
{
    char *e;
    if (v == NULL || *v == '\0')
        return -1;
    long x = strtol(v, &e, base);
    if (*e != '\0' || x < 0)
        return -1;
    *out = x;
    return 0;
}

static int parse_size(const char *v, long long *out)
{
    char *e;
    if (v == NULL || !isdigit((unsigned char)*v))
        return -1;
    double x = strtod(v, &e);
    long long mult = 1;
    if (*e) {
        switch (tolower((unsigned char)*e)) {
        case 'k':
            mult = 1LL << 10;
            break;
        case 'm':
            mult = 1LL << 20;
            break;
        case 'g':
            mult = 1LL << 30;
            break;
        case 'b':
            mult = 1;
            break;
        default:
            return -1;
        }
        e++;
        if (*e == 'b' || *e == 'B')
            e++;
        if (*e)
            return -1;
    }
    if (x * (double)mult > 9e18)
        return -1;
    *out = (long long)(x * (double)mult);
    return 0;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v ? v : "");
}

static int defaults(struct df_mount *m, const char *spec, int ro_set, struct kiln_error **err)
{
    if (!ro_set)
        m->readonly = m->type == DF_MOUNT_BIND;
    switch (m->type) {
    case DF_MOUNT_BIND:
    case DF_MOUNT_CACHE:
    case DF_MOUNT_TMPFS:
        /* BuildKit: a relative target is under the working directory, and a
         * missing one is the working directory itself */
        if (m->target == NULL)
            m->target = xstrdup("");
        if (m->type == DF_MOUNT_CACHE) {
            if (m->id == NULL)
                m->id = xstrdup(m->target);
            if (m->sharing == NULL)
                m->sharing = xstrdup("shared");
        }
        return 0;
    case DF_MOUNT_SECRET:
        if (m->id == NULL && m->target != NULL) {
            const char *b = strrchr(m->target, '/');
            m->id = xstrdup(b ? b + 1 : m->target);
        }
        if (m->id == NULL || m->id[0] == '\0')
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--mount \"%s\": secret mount needs an id or a target", spec);
        if (m->target == NULL && m->env == NULL)
            m->target = xasprintf("/run/secrets/%s", m->id);
        return 0;
    case DF_MOUNT_SSH:
        if (m->id == NULL)
            m->id = xstrdup("default");
        if (m->target == NULL)
            m->target = xstrdup("/run/buildkit/ssh_agent.0");
        return 0;
    }
    return 0;
}

int df_mount_parse(const char *spec, struct df_mount *out, struct kiln_error **err)
{
    struct df_mount m;
    memset(&m, 0, sizeof(m));
    m.type = DF_MOUNT_BIND;
    m.mode = -1;
    m.uid = m.gid = -1;
    char **f = NULL;
    size_t n = split_fields(spec, &f);
    int rc = 0, ro_set = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *k = f[i];
        while (*k == ' ')
            k++;
        if (*k == '\0')
            continue;
        char *v = strchr(k, '=');
        if (v)
            *v++ = '\0';
        for (char *p = k; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int b;
        long l;
        if (strcmp(k, "type") == 0) {
            int t = 0;
            for (int j = DF_MOUNT_BIND; j <= DF_MOUNT_SSH; j++)
                if (v && strcmp(v, type_names[j]) == 0)
                    t = j;
            if (t == 0)
                rc = kiln_error_set(err, KILN_E_INVALID,
                                    "--mount \"%s\": unsupported mount type \"%s\" (use bind, "
                                    "cache, tmpfs, secret or ssh)",
                                    spec, v ? v : "");
            else
                m.type = (enum df_mount_type)t;
        } else if (!strcmp(k, "target") || !strcmp(k, "dst") || !strcmp(k, "destination")) {
            set_str(&m.target, v);
        } else if (!strcmp(k, "source") || !strcmp(k, "src")) {
            set_str(&m.source, v);
        } else if (!strcmp(k, "from")) {
            set_str(&m.from, v);
        } else if (!strcmp(k, "id")) {
            set_str(&m.id, v);
        } else if (!strcmp(k, "env")) {
            set_str(&m.env, v);
        } else if (!strcmp(k, "readonly") || !strcmp(k, "ro") || !strcmp(k, "readwrite") ||
                   !strcmp(k, "rw")) {
            if (parse_bool(v, &b) < 0)
                rc = kiln_error_set(err, KILN_E_INVALID,
                                    "--mount \"%s\": %s wants true or false, not \"%s\"", spec, k,
                                    v);
            m.readonly = (!strcmp(k, "readonly") || !strcmp(k, "ro")) ? b : !b;
            ro_set = 1;
        } else if (!strcmp(k, "required")) {
            if (parse_bool(v, &b) < 0)
                rc = kiln_error_set(err, KILN_E_INVALID,
                                    "--mount \"%s\": required wants true or false", spec);
            m.required = b;
        } else if (!strcmp(k, "sharing")) {
            if (v == NULL || (strcmp(v, "shared") && strcmp(v, "private") && strcmp(v, "locked")))
                rc = kiln_error_set(err, KILN_E_INVALID,
                                    "--mount \"%s\": sharing must be shared, private or locked",
                                    spec);
            else
                set_str(&m.sharing, v);
        } else if (!strcmp(k, "mode")) {
            if (parse_long(v, 8, &l) < 0 || l > 07777)
                rc = kiln_error_set(err, KILN_E_INVALID,
                                    "--mount \"%s\": mode must be octal, e.g. 0600", spec);
            m.mode = (int)l;
        } else if (!strcmp(k, "uid") || !strcmp(k, "gid")) {
            if (parse_long(v, 10, &l) < 0)
                rc = kiln_error_set(err, KILN_E_INVALID, "--mount \"%s\": %s must be a number",
                                    spec, k);
            *(k[0] == 'u' ? &m.uid : &m.gid) = l;
        } else if (!strcmp(k, "size")) {
            if (parse_size(v, &m.size) < 0)
                rc = kiln_error_set(err, KILN_E_INVALID,
                                    "--mount \"%s\": size must be bytes, e.g. 64m", spec);
        } else {
            rc =
                kiln_error_set(err, KILN_E_INVALID, "--mount \"%s\": unexpected key '%s'", spec, k);
        }
    }
    df_strv_free(f, n);
    if (rc == 0)
        rc = defaults(&m, spec, ro_set, err);
    if (rc < 0) {
        df_mount_release(&m);
        return -1;
    }
    *out = m;
    return 0;
}
