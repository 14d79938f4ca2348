/* USER resolution against the image's own passwd and group files. The files
 * are hostile input: lines are parsed field by field, never trusted for size. */
#include "runtime/user.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

#define MAX_GROUPS 256

/* Parses a decimal id; returns 0 and sets *id when the whole string is one. */
static int parse_id(const char *s, size_t len, unsigned long *id)
{
    if (len == 0 || len > 10)
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 0xfffffffeUL)
        return -1;
    *id = v;
    return 0;
}

/* Splits one line into up to max ':'-separated fields (pointers into line). */
static size_t split_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = line;
    for (char *p = line; *p != '\0' && n < max; p++) {
        if (*p == ':') {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    return n;
}

/* Calls fn for each non-comment line of a colon file with its fields. Returns
 * 1 as soon as fn does. */
static int each_entry(const char *text, size_t nfields, int (*fn)(char **f, size_t n, void *ctx),
                      void *ctx)
{
    if (text == NULL)
        return 0;
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 0 && p[0] != '#' && len < 4096) {
            char *line = xstrndup(p, len);
            char *f[8] = {0};
            size_t n = split_fields(line, f, nfields);
            int r = fn(f, n, ctx);
            free(line);
            if (r)
                return 1;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return 0;
}

struct pw_query {
    const char *name; /* match by name, or */
    int by_uid;
    unsigned long uid;
    /* results */
    char *found_name;
    unsigned long found_uid, found_gid;
    char *home;
};

static int pw_match(char **f, size_t n, void *ctx)
{
    struct pw_query *q = ctx;
    unsigned long uid, gid;
    if (n < 4 || parse_id(f[2], strlen(f[2]), &uid) < 0 || parse_id(f[3], strlen(f[3]), &gid) < 0)
        return 0;
    if (q->by_uid ? uid != q->uid : strcmp(f[0], q->name) != 0)
        return 0;
    q->found_name = xstrdup(f[0]);
    q->found_uid = uid;
    q->found_gid = gid;
    q->home = xstrdup(n >= 6 && f[5][0] != '\0' ? f[5] : "/");
    return 1;
}

struct gr_query {
    const char *name; /* group name to find, or NULL */
    unsigned long found_gid;
    int found;
    const char *member; /* user name whose memberships to collect, or NULL */
    gid_t *groups;
    size_t n_groups;
};

static int gr_match(char **f, size_t n, void *ctx)
{
    struct gr_query *q = ctx;
    unsigned long gid;
    if (n < 3 || parse_id(f[2], strlen(f[2]), &gid) < 0)
        return 0;
    if (q->name != NULL && !q->found && strcmp(f[0], q->name) == 0) {
        q->found = 1;
        q->found_gid = gid;
    }
    if (q->member != NULL && n >= 4 && q->n_groups < MAX_GROUPS) {
        char *m = f[3];
        while (m != NULL && *m != '\0') {
            char *comma = strchr(m, ',');
            size_t len = comma ? (size_t)(comma - m) : strlen(m);
            if (len == strlen(q->member) && strncmp(m, q->member, len) == 0) {
                q->groups[q->n_groups++] = (gid_t)gid;
                break;
            }
            m = comma ? comma + 1 : NULL;
        }
    }
    return 0;
}

int rt_user_resolve(const char *spec, const char *passwd, const char *group, struct rt_user *u,
                    struct kiln_error **err)
{
    memset(u, 0, sizeof(*u));
    if (spec == NULL || spec[0] == '\0')
        spec = "0";
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    char *uname = xstrndup(spec, ulen);
    struct pw_query pq = {0};
    unsigned long id;
    int ret = -1;

    if (parse_id(uname, ulen, &id) == 0) {
        pq.by_uid = 1;
        pq.uid = id;
        if (!each_entry(passwd, 7, pw_match, &pq)) {
            pq.found_uid = id;
            pq.found_gid = 0;
            pq.home = xstrdup("/");
        }
    } else {
        if (ulen == 0) {
            kiln_error_set(err, KILN_E_INVALID, "invalid user \"%s\"", spec);
            goto out;
        }
        pq.name = uname;
        if (!each_entry(passwd, 7, pw_match, &pq)) {
            kiln_error_set(err, KILN_E_NOTFOUND,
                           "unable to find user %s: no matching entries in passwd file", uname);
            goto out;
        }
    }
    u->uid = (uid_t)pq.found_uid;
    u->gid = (gid_t)pq.found_gid;
    u->home = pq.home;
    pq.home = NULL;

    struct gr_query gq = {0};
    gq.groups = xcalloc(MAX_GROUPS, sizeof(gid_t));
    gq.member = pq.found_name;
    if (colon != NULL) {
        const char *g = colon + 1;
        if (parse_id(g, strlen(g), &id) == 0) {
            u->gid = (gid_t)id;
        } else if (g[0] == '\0') {
            free(gq.groups);
            kiln_error_set(err, KILN_E_INVALID, "invalid user \"%s\"", spec);
            goto out;
        } else {
            gq.name = g;
        }
    }
    each_entry(group, 4, gr_match, &gq);
    if (gq.name != NULL) {
        if (!gq.found) {
            free(gq.groups);
            kiln_error_set(err, KILN_E_NOTFOUND,
                           "unable to find group %s: no matching entries in group file", gq.name);
            goto out;
        }
        u->gid = (gid_t)gq.found_gid;
    }
    u->groups = gq.groups;
    u->n_groups = gq.n_groups;
    ret = 0;
out:
    if (ret < 0)
        rt_user_free(u);
    free(uname);
    free(pq.found_name);
    free(pq.home);
    return ret;
}

void rt_user_free(struct rt_user *u)
{
    free(u->groups);
    free(u->home);
    u->groups = NULL;
    u->home = NULL;
    u->n_groups = 0;
}
