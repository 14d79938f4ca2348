/* Build cache records to and from a registry: see cache_xfer.h. */
#include "registry/cache_xfer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/pull.h"
#include "registry/push.h"
#include "store/reference.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

struct reg_cache_repo {
    struct reference ref;
    struct reg_client *c;
    pthread_mutex_t mu; /* one transfer at a time on c */
};

int reg_cache_open(const char *refstr, const struct registry_opts *opts,
                   struct reg_cache_repo **out, struct kiln_error **err)
{
    struct reg_cache_repo *r = xcalloc(1, sizeof(*r));
    if (reference_parse(refstr, &r->ref, err) < 0) {
        free(r);
        return -1;
    }
    if (reg_client_new(reference_registry_host(&r->ref), r->ref.domain, opts, &r->c, err) < 0) {
        reference_release(&r->ref);
        free(r);
        return -1;
    }
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

void reg_cache_close(struct reg_cache_repo *r)
{
    if (r == NULL)
        return;
    reg_client_free(r->c);
    reference_release(&r->ref);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Allocated: the tag, or the digest when one was given. */
static char *tag_or_digest(const struct reg_cache_repo *r)
{
    if (r->ref.has_digest)
        return digest_strdup(&r->ref.digest);
    return xstrdup(r->ref.tag != NULL ? r->ref.tag : "latest");
}

int reg_cache_get_manifest(struct reg_cache_repo *r, char **body, size_t *len,
                           struct kiln_error **err)
{
    cleanup_free char *td = tag_or_digest(r);
    cleanup_free char *what = xasprintf("cache record %s/%s:%s", r->ref.domain, r->ref.path, td);
    cleanup_free char *ct = NULL;
    struct digest dg;
    pthread_mutex_lock(&r->mu);
    int rc = pull_fetch_manifest(r->c, r->ref.path, td, NULL, what, body, len, &ct, &dg, err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int reg_cache_get_blob(struct reg_cache_repo *r, struct store *s, const struct descriptor *d,
                       struct kiln_error **err)
{
    const struct descriptor *want[1] = {d};
    pthread_mutex_lock(&r->mu);
    int rc = pull_blobs(r->c, s, r->ref.path, want, 1, err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int reg_cache_put(struct reg_cache_repo *r, struct store *s, const struct descriptor *blobs,
                  size_t n, const char *manifest, size_t len, struct kiln_error **err)
{
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = push_blob(r->c, s, r->ref.path, &blobs[i], err);
    if (rc == 0) {
        struct digest md;
        char mds[DIGEST_STR_LEN + 1];
        digest_bytes(manifest, len, &md);
        digest_str(&md, mds);
        rc = put_manifest(r->c, &r->ref, 0, MT_OCI_MANIFEST, manifest, len, mds, err);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}
