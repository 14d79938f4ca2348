/* fsck: check the layout files, every blob's digest and size, and that
 * every tag's content is present; with repair, drop what is broken and prune
 * what is unreachable. Findings go to a callback one line each. */
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/digest_set.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

struct fsck {
    struct store *s;
    const struct store_fsck_opts *o;
    struct store_fsck_result *r;
    struct digest *bad; /* corrupt blobs found (and maybe removed) */
    size_t n_bad;
};

static void say(struct fsck *f, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct fsck *f, const char *kind, const char *fmt, ...)
{
    if (f->o->report == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    struct strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    f->o->report(f->o->report_ctx, kind, sb.buf);
    strbuf_release(&sb);
}

/* A problem; repaired tells whether the caller fixed it. */
static void problem(struct fsck *f, int repaired, const char *msg)
{
    f->r->problems++;
    if (repaired)
        say(f, "repaired", "%s", msg);
    else {
        f->r->unfixed++;
        say(f, "problem", "%s", msg);
    }
}

static void check_layout(struct fsck *f)
{
    struct kiln_error *e = NULL;
    cleanup_free char *path = path_join(f->s->root, "oci-layout");
    cleanup_json json_t *j = json_load_path(path, 4096, &e);
    const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
    if (v != NULL) {
        kiln_error_free(e);
        return;
    }
    cleanup_free char *msg = xasprintf("oci-layout: %s", e ? e->msg : "no imageLayoutVersion");
    kiln_error_free(e);
    e = NULL;
    int fixed = 0;
    if (f->o->repair) {
        fixed = store_write_root_file(f->s, "oci-layout", OCI_LAYOUT_JSON, strlen(OCI_LAYOUT_JSON),
                                      &e) == 0;
        kiln_error_free(e);
    }
    cleanup_free char *full = xasprintf("%s%s", msg, fixed ? " (rewritten)" : "");
    problem(f, fixed, full);
}

static void check_blob(struct fsck *f, const char *name)
{
    struct digest want, got;
    struct stat st;
    const char *why = NULL;
    cleanup_free char *detail = NULL;
    if (fstatat(f->s->blobs_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return; /* gone meanwhile */
    if (digest_parse_hex(name, &want) < 0)
        why = "not a sha256 digest name";
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    if (why == NULL) {
        cleanup_close int fd = openat(f->s->blobs_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        uint64_t size = 0;
        struct kiln_error *e = NULL;
        if (fd < 0 || digest_file_fd(fd, &got, &size, &e) < 0) {
            detail = xasprintf("unreadable: %s", e ? e->msg : strerror(errno));
            why = detail;
        } else if (!digest_equal(&got, &want)) {
            detail = xasprintf("corrupt: content is sha256:%s", got.hex);
            why = detail;
        }
        kiln_error_free(e);
        f->r->blobs_checked++;
        f->r->bytes_checked += size;
    }
    if (why == NULL)
        return;
    if (digest_parse_hex(name, &want) == 0) {
        f->bad = xrealloc(f->bad, (f->n_bad + 1) * sizeof(*f->bad));
        f->bad[f->n_bad++] = want;
    }
    int fixed = 0;
    if (f->o->repair) {
        struct kiln_error *e = NULL;
        fixed = rm_rf_at(f->s->blobs_fd, name, &e) == 0;
        kiln_error_free(e);
    }
    cleanup_free char *msg =
        xasprintf("blobs/sha256/%s: %s%s", name, why, fixed ? " (removed)" : "");
    problem(f, fixed, msg);
}

static int check_blobs(struct fsck *f, struct kiln_error **err)
{
    int fd = openat(f->s->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_dir DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL)
        return kiln_error_errno(err, errno, "read %s/blobs/sha256", f->s->root);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            check_blob(f, de->d_name);
    return 0;
}

/* Checks every index entry; with repair, drops the broken ones. */
static int check_tags(struct fsck *f, struct kiln_error **err)
{
    struct kiln_error *e = NULL;
    cleanup_json json_t *index = store_index_read(f->s, &e);
    if (index == NULL) {
        cleanup_free char *msg = xasprintf("%s (not repaired: restore index.json by hand)",
                                           e ? e->msg : "index.json unreadable");
        kiln_error_free(e);
        problem(f, 0, msg);
        return 0;
    }
    json_t *manifests = json_object_get(index, "manifests");
    int dropped = 0;
    for (size_t i = 0; i < json_array_size(manifests);) {
        json_t *m = json_array_get(manifests, i);
        const char *name = json_string_value(
            json_object_get(json_object_get(m, "annotations"), ANNOTATION_REF_NAME));
        cleanup_free char *label =
            name ? xasprintf("tag %s", name) : xasprintf("untagged index.json entry %zu", i);
        struct descriptor desc;
        uint64_t size = 0;
        int bad = descriptor_from_json(m, &desc, "index.json", &e) < 0;
        if (!bad && store_blob_size(f->s, &desc.digest, &size, NULL) < 0)
            bad = kiln_error_set(&e, KILN_E_NOTFOUND, "manifest sha256:%s is missing",
                                 desc.digest.hex) < 0;
        else if (!bad && size != desc.size)
            bad = kiln_error_set(&e, KILN_E_DIGEST, "manifest sha256:%s has %llu bytes, not %llu",
                                 desc.digest.hex, (unsigned long long)size,
                                 (unsigned long long)desc.size) < 0;
        else if (!bad)
            bad = store_manifest_walk(f->s, &desc, 1, NULL, NULL, &e) < 0;
        if (!bad && f->n_bad > 0) {
            cleanup_digest_set struct digest_set *uses = digest_set_new();
            store_manifest_walk(f->s, &desc, 0, uses, NULL, NULL);
            for (size_t b = 0; b < f->n_bad && !bad; b++)
                if (digest_set_has(uses, &f->bad[b]))
                    bad = kiln_error_set(&e, KILN_E_DIGEST, "blob sha256:%s is corrupt",
                                         f->bad[b].hex) < 0;
        }
        descriptor_release(&desc);
        f->r->tags_checked++;
        if (!bad) {
            i++;
            continue;
        }
        cleanup_free char *msg = xasprintf("%s: %s%s", label, e ? e->msg : "broken",
                                           f->o->repair ? " (tag removed)" : "");
        kiln_error_free(e);
        e = NULL;
        problem(f, f->o->repair, msg);
        if (f->o->repair) {
            json_array_remove(manifests, i);
            dropped++;
        } else {
            i++;
        }
    }
    if (dropped > 0 && store_index_write(f->s, index, err) < 0)
        return -1;
    return 0;
}

static void report_unreachable(struct fsck *f, const struct store_prune_report *p, int removed)
{
    if (p->blobs_removed == 0 && p->snapshots_removed == 0)
        return;
    say(f, "removed",
        "%s %llu unreachable blob%s (%llu bytes) and %llu unreachable snapshot%s (%llu bytes)%s",
        removed ? "removed" : "found", (unsigned long long)p->blobs_removed,
        p->blobs_removed == 1 ? "" : "s", (unsigned long long)p->blob_bytes,
        (unsigned long long)p->snapshots_removed, p->snapshots_removed == 1 ? "" : "s",
        (unsigned long long)p->snapshot_bytes,
        removed ? "" : "; 'kiln prune' or 'kiln fsck --repair' removes them");
}

int store_fsck(struct store *s, const struct store_fsck_opts *opts,
               struct store_fsck_result *result, struct kiln_error **err)
{
    memset(result, 0, sizeof(*result));
    struct fsck f = {.s = s, .o = opts, .r = result};
    /* Only repairs need the lock: reading is safe against concurrent writers. */
    if (opts->repair && store_lock(s, err) < 0)
        return -1;
    int rc = -1;
    check_layout(&f);
    if (check_blobs(&f, err) < 0 || check_tags(&f, err) < 0)
        goto out;
    struct store_prune_opts popts = {
        .dry_run = !opts->repair,
        .add_roots = opts->add_roots,
        .add_roots_ctx = opts->add_roots_ctx,
    };
    if (store_prune(s, &popts, &result->removed, err) < 0)
        goto out;
    report_unreachable(&f, &result->removed, opts->repair);
    rc = 0;
out:
    free(f.bad);
    if (opts->repair)
        store_unlock(s);
    return rc;
}
