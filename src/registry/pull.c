/* kiln pull: resolve a reference to an image manifest (choosing a platform
 * from an index), fetch the config and layers the store lacks, up to three
 * at a time over curl multi (each blob written, hashed and fsynced on a
 * thread of its own: blob_sink), verify every byte against its descriptor,
 * and only then put everything into the store and move the tag. If anything
 * fails, nothing of this pull is kept. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "registry/blob_sink.h"
#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/mirrors.h"
#include "registry/pull.h"
#include "registry/registry.h"
#include "store/reference.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/strbuf.h"

#define MAX_IN_FLIGHT 3

void registry_pull_result_release(struct registry_pull_result *r)
{
    free(r->name);
    free(r->manifest_digest);
    free(r->index_digest);
    free(r->config_digest);
    memset(r, 0, sizeof(*r));
}

/* ---- manifests ---------------------------------------------------------- */

/* GETs a manifest by tag or digest and checks its bytes: against `expected`
 * (digest and size) when given, else against the registry's
 * Docker-Content-Digest header. */
int pull_fetch_manifest(struct reg_client *c, const char *path, const char *tag_or_digest,
                        const struct descriptor *expected, const char *what, char **body,
                        size_t *len, char **content_type, struct digest *dg,
                        struct kiln_error **err)
{
    cleanup_free char *url = xasprintf("/v2/%s/manifests/%s", path, tag_or_digest);
    cleanup_free char *scope = xasprintf("repository:%s:pull", path);
    struct reg_request rq = {
        .method = "GET",
        .url = url,
        .scope = scope,
        .accept = MANIFEST_ACCEPT,
        .max_body = STORE_JSON_MAX,
    };
    struct reg_response resp = {0};
    if (reg_do(c, &rq, &resp, err) < 0) {
        reg_response_release(&resp);
        return kiln_error_prefix(err, "%s", what);
    }
    if (resp.status != 200) {
        reg_status_error(c, &resp, what, err);
        reg_response_release(&resp);
        return -1;
    }
    digest_bytes(resp.body.buf, resp.body.len, dg);
    char got[DIGEST_STR_LEN + 1];
    digest_str(dg, got);
    int ret = 0;
    if (expected != NULL) {
        char want[DIGEST_STR_LEN + 1];
        digest_str(&expected->digest, want);
        if (!digest_equal(dg, &expected->digest))
            ret = kiln_error_set(err, KILN_E_DIGEST,
                                 "%s: manifest %s failed verification: its content hashes to %s; "
                                 "nothing was stored",
                                 what, want, got);
        else if (expected->size != 0 && expected->size != resp.body.len)
            ret = kiln_error_set(err, KILN_E_DIGEST,
                                 "%s: manifest %s is %zu bytes, its descriptor says %llu", what,
                                 want, resp.body.len, (unsigned long long)expected->size);
    } else if (resp.docker_digest != NULL && strcmp(resp.docker_digest, got) != 0) {
        ret = kiln_error_set(err, KILN_E_DIGEST,
                             "%s: manifest %.80s failed verification: its content hashes to %s; "
                             "nothing was stored",
                             what, resp.docker_digest, got);
    }
    if (ret == 0) {
        *len = resp.body.len;
        *content_type = resp.content_type ? xstrdup(resp.content_type) : NULL;
        *body = strbuf_detach(&resp.body);
    }
    reg_response_release(&resp);
    return ret;
}

/* ---- blobs over curl multi ---------------------------------------------- */

struct blob_job {
    struct pull_blobs *pb;
    const struct descriptor *d;
    char digest[DIGEST_STR_LEN + 1];
    struct blob_sink *k; /* where the bytes go */
    uint64_t got;        /* bytes received */
    CURL *e;
    struct reg_response resp;
    struct reg_sink sink;
    int attempts, reauthed, started;
    int first_write; /* first body bytes of this attempt not seen yet */
    uint64_t attempt_start;
    uint64_t reported;
};

struct pull_blobs {
    struct reg_client *c;
    struct store *s;
    const char *path;
    const char *scope;
    struct blob_job *jobs;
    size_t n;
};

static void job_reset_writer(struct blob_job *j)
{
    blob_sink_free(j->k);
    j->k = NULL;
    j->got = 0;
}

static int job_open_writer(struct blob_job *j, struct kiln_error **err)
{
    if (j->k != NULL)
        return 0;
    j->got = 0;
    return blob_sink_new(j->pb->s, &j->k, err);
}

/* "bytes START-END/TOTAL" -> START, or -1. */
static long long range_start(const char *cr)
{
    if (cr == NULL || strncmp(cr, "bytes ", 6) != 0)
        return -1;
    char *end = NULL;
    long long v = strtoll(cr + 6, &end, 10);
    return end && *end == '-' ? v : -1;
}

static int job_write(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    struct blob_job *j = ctx;
    if (j->first_write) {
        j->first_write = 0;
        if (j->resp.status == 0)
            curl_easy_getinfo(j->e, CURLINFO_RESPONSE_CODE, &j->resp.status);
        if (j->got > 0) {
            long long start = range_start(j->resp.content_range);
            if (j->resp.status == 206 && (uint64_t)start == j->got) {
                /* resuming where the last attempt stopped */
            } else if (j->resp.status == 200) {
                job_reset_writer(j); /* no range support: start over */
            } else {
                return kiln_error_set(
                    err, KILN_E_NET, "blob %s: registry resumed at the wrong offset (%s)",
                    j->digest, j->resp.content_range ? j->resp.content_range : "no Content-Range");
            }
        }
        if (job_open_writer(j, err) < 0)
            return -1;
    }
    if (j->got + len > j->d->size)
        return kiln_error_set(err, KILN_E_DIGEST,
                              "blob %s failed verification: the registry sent more than the %llu "
                              "bytes its descriptor says; nothing was stored",
                              j->digest, (unsigned long long)j->d->size);
    if (blob_sink_write(j->k, buf, len, err) < 0)
        return -1;
    j->got += len;
    if (j->got - j->reported >= (256 << 10) || j->got == j->d->size) {
        j->reported = j->got;
        reg_progress(j->pb->c, REGISTRY_EV_BLOB_BYTES, j->digest, j->got, j->d->size, NULL);
    }
    return 0;
}

static int job_start(struct blob_job *j, CURLM *multi, struct kiln_error **err)
{
    cleanup_free char *url = xasprintf("/v2/%s/blobs/%s", j->pb->path, j->digest);
    memset(&j->resp, 0, sizeof(j->resp));
    strbuf_init(&j->resp.body);
    j->sink.write = job_write;
    j->sink.ctx = j;
    j->e = reg_easy_new(j->pb->c, url, j->pb->scope, &j->resp, &j->sink, err);
    if (j->e == NULL)
        return -1;
    j->first_write = 1;
    if (j->got > 0) {
        char range[48];
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)j->got);
        curl_easy_setopt(j->e, CURLOPT_RANGE, range);
    }
    if (!j->started) {
        j->started = 1;
        reg_progress(j->pb->c, REGISTRY_EV_BLOB_START, j->digest, 0, j->d->size, NULL);
    }
    curl_multi_add_handle(multi, j->e);
    return 0;
}

static void job_stop(struct blob_job *j, CURLM *multi)
{
    if (j->e != NULL) {
        curl_multi_remove_handle(multi, j->e);
        reg_easy_free(j->e);
        j->e = NULL;
    }
    reg_response_release(&j->resp);
}

/* A finished transfer: 1 = all bytes received (the sink checks them later),
 * 0 = restarted, -1 = failed. */
static int job_finish(struct blob_job *j, CURLM *multi, CURLcode rc, struct kiln_error **err)
{
    long status = 0;
    curl_easy_getinfo(j->e, CURLINFO_RESPONSE_CODE, &status);
    j->resp.status = status;
    struct kiln_error *sink_err = reg_easy_take_error(j->e);
    char errbuf[CURL_ERROR_SIZE];
    snprintf(errbuf, sizeof(errbuf), "%s", reg_easy_errbuf(j->e));
    char www[512] = "";
    if (j->resp.www_auth != NULL)
        snprintf(www, sizeof(www), "%s", j->resp.www_auth);
    if (sink_err != NULL) {
        job_stop(j, multi);
        if (err != NULL && *err == NULL)
            *err = sink_err;
        else
            kiln_error_free(sink_err);
        return -1;
    }
    if (rc == CURLE_OK && (status == 200 || status == 206) && j->got == j->d->size) {
        /* An empty blob never calls the sink. */
        int r = job_open_writer(j, err);
        job_stop(j, multi);
        if (r < 0)
            return -1;
        blob_sink_close(j->k);
        return 1;
    }
    if (rc == CURLE_OK && (status == 200 || status == 206)) {
        job_stop(j, multi);
        return kiln_error_set(err, KILN_E_DIGEST,
                              "blob %s failed verification: got %llu bytes, its descriptor says "
                              "%llu; nothing was stored",
                              j->digest, (unsigned long long)j->got,
                              (unsigned long long)j->d->size);
    }
    if (rc == CURLE_OK && status == 401 && !j->reauthed) {
        j->reauthed = 1;
        reg_client_auth_failed(j->pb->c, j->pb->scope, www[0] ? www : NULL);
        job_stop(j, multi);
        return job_start(j, multi, err) < 0 ? -1 : 0;
    }
    if (reg_retryable(rc, status) && j->attempts < REG_MAX_RETRIES) {
        char msg[200];
        snprintf(msg, sizeof(msg), "blob %s: %s after %llu bytes, retrying", j->digest,
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "server error",
                 (unsigned long long)j->got);
        reg_progress(j->pb->c, REGISTRY_EV_RETRY, j->digest, j->got, j->d->size, msg);
        job_stop(j, multi);
        reg_backoff(j->attempts++);
        return job_start(j, multi, err) < 0 ? -1 : 0;
    }
    cleanup_free char *what = xasprintf("blob %s", j->digest);
    if (rc != CURLE_OK)
        reg_curl_error(j->pb->c, rc, errbuf, what, err);
    else
        reg_status_error(j->pb->c, &j->resp, what, err);
    job_stop(j, multi);
    return -1;
}

/* Downloads every job; all received (their sinks closed) on success. */
static int run_jobs(struct pull_blobs *pb, struct kiln_error **err)
{
    CURLM *multi = curl_multi_init();
    size_t next = 0, active = 0, done = 0;
    int ret = 0;
    while (done < pb->n && ret == 0) {
        while (active < MAX_IN_FLIGHT && next < pb->n) {
            if (job_start(&pb->jobs[next++], multi, err) < 0) {
                ret = -1;
                break;
            }
            active++;
        }
        if (ret < 0)
            break;
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            ret = kiln_error_set(err, KILN_E_NET, "curl multi failed");
            break;
        }
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct blob_job *j = NULL;
            for (size_t i = 0; i < pb->n; i++)
                if (pb->jobs[i].e == m->easy_handle)
                    j = &pb->jobs[i];
            if (j == NULL)
                continue;
            int r = job_finish(j, multi, m->data.result, err);
            if (r < 0) {
                ret = -1;
                break;
            }
            if (r == 1) {
                active--;
                done++;
            }
        }
        if (ret == 0 && done < pb->n)
            curl_multi_poll(multi, NULL, 0, 200, NULL);
    }
    for (size_t i = 0; i < pb->n; i++)
        job_stop(&pb->jobs[i], multi);
    curl_multi_cleanup(multi);
    return ret;
}

/* Waits until a received blob is on disk and checks its digest. */
static int job_verify(struct blob_job *j, struct kiln_error **err)
{
    struct digest got;
    if (blob_sink_wait(j->k, &got, err) < 0)
        return kiln_error_prefix(err, "blob %s", j->digest);
    if (!digest_equal(&got, &j->d->digest)) {
        char gs[DIGEST_STR_LEN + 1];
        return kiln_error_set(err, KILN_E_DIGEST,
                              "blob %s failed verification: its content hashes to %s; "
                              "nothing was stored",
                              j->digest, digest_str(&got, gs));
    }
    return 0;
}

/* Largest first: the longest transfer starts at once instead of queueing
 * behind small ones (MAX_IN_FLIGHT at a time). */
static int by_size_desc(const void *a, const void *b)
{
    uint64_t x = ((const struct blob_job *)a)->d->size, y = ((const struct blob_job *)b)->d->size;
    return x < y ? 1 : x > y ? -1 : 0;
}

int pull_blobs(struct reg_client *c, struct store *s, const char *path,
               const struct descriptor *const *want, size_t n, struct kiln_error **err)
{
    cleanup_free char *scope = xasprintf("repository:%s:pull", path);
    struct pull_blobs pb = {c, s, path, scope, xcalloc(n ? n : 1, sizeof(struct blob_job)), 0};
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t k = 0; k < pb.n; k++)
            dup |= digest_equal(&pb.jobs[k].d->digest, &want[i]->digest);
        char ds[DIGEST_STR_LEN + 1];
        digest_str(&want[i]->digest, ds);
        if (dup)
            continue;
        if (store_blob_has(s, &want[i]->digest)) {
            reg_progress(c, REGISTRY_EV_BLOB_EXISTS, ds, want[i]->size, want[i]->size, NULL);
            continue;
        }
        struct blob_job *j = &pb.jobs[pb.n++];
        j->pb = &pb;
        j->d = want[i];
        memcpy(j->digest, ds, sizeof(ds));
    }
    qsort(pb.jobs, pb.n, sizeof(*pb.jobs), by_size_desc);
    int ret = run_jobs(&pb, err);
    for (size_t i = 0; ret == 0 && i < pb.n; i++)
        ret = job_verify(&pb.jobs[i], err);
    /* Everything verified: now (and only now) the blobs enter the store. */
    for (size_t i = 0; ret == 0 && i < pb.n; i++) {
        struct blob_job *j = &pb.jobs[i];
        struct blob_writer *w = blob_sink_writer(j->k);
        blob_writer_defer_dir_sync(w);
        if (blob_writer_commit(w, &j->d->digest, (int64_t)j->d->size, NULL, err) < 0)
            ret = -1;
        else
            reg_progress(c, REGISTRY_EV_BLOB_DONE, j->digest, j->d->size, j->d->size, NULL);
    }
    if (ret == 0 && pb.n > 0)
        ret = store_blobs_sync(s, err); /* once, before a manifest names them */
    for (size_t i = 0; i < pb.n; i++)
        job_reset_writer(&pb.jobs[i]);
    free(pb.jobs);
    return ret;
}
