/* COPY and ADD steps (and WORKDIR's directory): build the copy plan, key it
 * by its content, and on a miss write it into a fresh layer directory. With
 * --link the layer's key leaves out everything below it, so the layer is
 * reused when only lower layers change. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/copy.h"
#include "build/gitsrc.h"
#include "build/internal.h"
#include "dockerfile/expand.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static const char *scope_lookup(void *ud, const char *name)
{
    return df_scope_get(ud, name);
}

static const struct df_heredoc *find_heredoc(const struct df_instr *ins, const char *word)
{
    const char *n = word + 2;
    if (*n == '-')
        n++;
    cleanup_free char *name = xstrdup(n);
    size_t l = strlen(name);
    if (l >= 2 && (name[0] == '"' || name[0] == '\'') && name[l - 1] == name[0]) {
        memmove(name, name + 1, l - 2);
        name[l - 2] = '\0';
    }
    for (size_t i = 0; i < ins->n_heredocs; i++)
        if (strcmp(ins->heredocs[i].name, name) == 0)
            return &ins->heredocs[i];
    return NULL;
}

/* Joins dest with WORKDIR when relative, keeping a trailing '/'. */
static char *abs_dest(struct stage_state *st, const char *dest)
{
    if (dest[0] == '/')
        return xstrdup(dest);
    const char *wd = json_string_value(json_object_get(build_config_obj(st), "WorkingDir"));
    if (wd == NULL || wd[0] == '\0')
        wd = "/";
    int slash = wd[strlen(wd) - 1] == '/';
    return xasprintf("%s%s%s", wd, slash ? "" : "/", dest);
}

/* The stage's output, not how it was made: its layers' diff ids. */
static void stage_identity(const struct stage_state *src, struct digest *identity)
{
    struct digester *d = cache_key_begin(NULL);
    for (size_t i = 0; i < src->n_layers; i++)
        cache_key_adds(d, "layer", src->layers[i].diffid.hex);
    cache_key_finish(d, identity);
}

/* An image's snapshots as a view, top layer first. */
static int image_view(struct build_ctx *b, struct image *img, struct rootview **view,
                      struct kiln_error **err)
{
    char **snaps = NULL;
    if (build_image_snapshots(b, img, &snaps, err) < 0)
        return -1;
    const char **dirs = xcalloc(img->n_layers + 1, sizeof(char *));
    for (size_t i = 0; i < img->n_layers; i++)
        dirs[i] = snaps[img->n_layers - 1 - i];
    int rc = rootview_open(dirs, img->n_layers, view, err);
    free(dirs);
    if (rc == 0 && build_host_ids() != NULL)
        rootview_set_ids(*view, build_host_ids());
    for (size_t i = 0; i < img->n_layers; i++)
        free(snaps[i]);
    free(snaps);
    return rc;
}

int build_from_view(struct build_ctx *b, struct stage_state *st, const char *from,
                    struct rootview **view, struct digest *identity, struct kiln_error **err)
{
    struct df_ref ref = {0};
    if (df_resolve_from(b->df, st->index, from, &ref, err) < 0)
        return -1;
    int rc = 0;
    if (ref.kind == DF_REF_STAGE) {
        struct stage_state *src = &b->stages[ref.stage];
        if (build_wait_stage(b, st, ref.stage, err) < 0) {
            df_ref_release(&ref);
            return -1;
        }
        if (src->config == NULL) {
            rc = kiln_error_set(err, KILN_E_FAIL, "--from=%s: stage not built", from);
        } else {
            stage_identity(src, identity);
            if (view != NULL)
                rc = build_stage_rootview(b, src, view, err);
        }
    } else if (ref.kind == DF_REF_SCRATCH) {
        digest_bytes("scratch", 7, identity);
        if (view != NULL)
            rc = rootview_open(NULL, 0, view, err);
    } else {
        cleanup_image struct image *img = NULL;
        rc = build_load_image(b, ref.image, &st->plat, &img, err);
        if (rc == 0) {
            *identity = img->manifest.digest;
            if (view != NULL)
                rc = image_view(b, img, view, err);
        }
    }
    df_ref_release(&ref);
    return rc;
}

/* The file name an ADD of url gets in a directory: the last path segment. */
static const char *url_name(const char *url, char **owned)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *slash = strchr(p, '/');
    cleanup_free char *path = xstrdup(slash ? slash : "/");
    char *q = strpbrk(path, "?#");
    if (q)
        *q = '\0';
    while (strlen(path) > 1 && path[strlen(path) - 1] == '/')
        path[strlen(path) - 1] = '\0';
    const char *base = strrchr(path, '/');
    *owned = xstrdup(base && base[1] ? base + 1 : "index.html");
    return *owned;
}

struct dl {
    struct digester *d;
    int fd;
};

static size_t curl_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct dl *dl = ud;
    size_t len = size * nmemb;
    if (write_all(dl->fd, ptr, len) < 0)
        return 0;
    digester_update(dl->d, ptr, len);
    return len;
}

/* ADD of a URL: downloads into the scratch area, verifying --checksum. */
static int download(struct build_ctx *b, const char *url, const char *checksum, char **file,
                    struct kiln_error **err)
{
    struct digest want;
    if (checksum != NULL && digest_parse(checksum, &want, err) < 0)
        return kiln_error_prefix(err, "ADD --checksum");
    if (checksum == NULL)
        progress_message(b->o->progress,
                         "warning: ADD %s without --checksum: its content is not verified", url);
    char *path = xasprintf("%s/download-XXXXXX", store_scratch_dir(b->store));
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        free(path);
        return kiln_error_errno(err, errno, "create a file for the download of %s", url);
    }
    struct digester *d = digester_new();
    struct dl ud = {d, fd};
    CURL *c = curl_easy_init();
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ud);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    close(fd);
    struct digest got;
    digester_finish(d, &got);
    if (rc != CURLE_OK) {
        unlink(path);
        free(path);
        return kiln_error_set(err, KILN_E_NET, "ADD %s: %s", url,
                              ebuf[0] ? ebuf : curl_easy_strerror(rc));
    }
    if (checksum != NULL && !digest_equal(&got, &want)) {
        unlink(path);
        free(path);
        return kiln_error_set(err, KILN_E_DIGEST,
                              "ADD %s: checksum mismatch: expected %s, got sha256:%s", url,
                              checksum, got.hex);
    }
    *file = path;
    return 0;
}

/* ADD of a git repository: a checkout in the scratch area, listed like a
 * context (no .dockerignore) so the plan copies, keys and writes it as
 * it does context files: the epoch as mtime, owner root. */
struct git_tree {
    char *work;
    struct context_index *ci;
};

static void git_tree_release(struct git_tree *g)
{
    if (g->work != NULL) {
        cleanup_error struct kiln_error *e2 = NULL;
        rm_rf(g->work, &e2);
    }
    free(g->work);
    context_index_free(g->ci);
}

static int add_git_source(struct build_ctx *b, const struct df_instr *ins, struct git_ref *r,
                          const char *checksum, struct git_tree *g, struct kiln_error **err)
{
    if (checksum != NULL) {
        const char *c = strncmp(checksum, "sha1:", 5) == 0 ? checksum + 5 : checksum;
        if (r->checksum != NULL && strcmp(r->checksum, c) != 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "ADD %s: --checksum=%s conflicts with the URL's checksum %s",
                                  r->remote, checksum, r->checksum);
        free(r->checksum);
        r->checksum = xstrdup(c);
        if (r->ref == NULL)
            r->ref = xstrdup(c);
    }
    int keep = df_instr_flag(ins, "keep-git-dir") != NULL ? df_instr_flag_bool(ins, "keep-git-dir")
                                                          : r->keep_git_dir == 1;
    if (df_instr_flag(ins, "keep-git-dir") != NULL && r->keep_git_dir >= 0 &&
        r->keep_git_dir != keep)
        return kiln_error_set(err, KILN_E_INVALID,
                              "ADD %s: --keep-git-dir and the URL's keep-git-dir disagree",
                              r->remote);
    g->work = build_scratch_mkdtemp(b, "git", err);
    if (g->work == NULL)
        return -1;
    cleanup_free char *tree = NULL, *commit = NULL;
    if (git_fetch_tree(r, g->work, keep, &tree, &commit, err) < 0)
        return -1;
    return context_index_build(tree, NULL, &g->ci, err);
}

/* ADD of git repositories only: a key from the step and the commits its
 * refs name now (one ls-remote each), so a hit fetches nothing. 1 and *out
 * set; 0 when the step is not git-only or a ref cannot be resolved so. */
static int git_only_key(const struct df_step *step, const struct digest *parent, struct digest *out,
                        struct kiln_error **err)
{
    const struct df_instr *ins = step->ins;
    struct digester *k = cache_key_begin(parent);
    cache_key_adds(k, "copy-git", step->text);
    for (size_t i = 0; i + 1 < ins->n_args; i++) {
        struct git_ref r;
        int g = git_ref_parse(ins->args[i], &r, err);
        char *id = NULL;
        if (g == 1) {
            g = git_ref_resolve(&r, &id, err) < 0 ? -1 : id != NULL;
            git_ref_release(&r);
        }
        if (g <= 0) {
            digester_free(k);
            return g;
        }
        cache_key_adds(k, "git", id);
        free(id);
    }
    cache_key_finish(k, out);
    return 1;
}

struct stream_ctx {
    struct copy_plan *plan;
    int64_t epoch;
};

static int fill_from_plan(void *ctx, struct layer_stream *ls, struct kiln_error **err)
{
    struct stream_ctx *c = ctx;
    return copy_plan_stream(c->plan, c->epoch, ls, err);
}

/* text names the step for its snapshot hint (NULL: no hint). */
static int write_and_commit(struct build_ctx *b, struct stage_state *st, struct copy_plan *plan,
                            const char *text, const struct digest *key, struct kiln_error **err)
{
    if (copy_plan_streamable(plan)) {
        /* Straight from the sources into the layer blob; the snapshot
         * links what the step's previous snapshot already holds. */
        struct digest hint_id, hint;
        int have_hint = 0;
        if (text != NULL) {
            struct digester *h = cache_key_begin(NULL);
            cache_key_adds(h, "copy-snapshot-hint", text);
            cache_key_finish(h, &hint_id);
            have_hint = cache_hint_get(b->root, &hint_id, &hint);
        }
        struct stream_ctx c = {plan, b->o->epoch};
        if (build_commit_stream(b, st, fill_from_plan, &c, have_hint ? &hint : NULL, key, err) < 0)
            return -1;
        if (text != NULL)
            cache_hint_put(b->root, &hint_id, &st->layers[st->n_layers - 1].diffid);
        return 0;
    }
    cleanup_free char *dir = build_scratch_mkdtemp(b, "copy", err);
    if (dir == NULL)
        return -1;
    int rc;
    {
        cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            rc = kiln_error_errno(err, errno, "open %s", dir);
        else
            rc = copy_plan_write(plan, fd, b->o->epoch, err);
    }
    if (rc == 0)
        rc = build_commit_dir(b, st, dir, 0, key, err);
    if (rc < 0) {
        cleanup_error struct kiln_error *e2 = NULL;
        rm_rf(dir, &e2);
    }
    return rc;
}

int build_step_copy(struct build_ctx *b, struct stage_state *st, const struct df_step *step,
                    int pid, struct digest *key, struct kiln_error **err)
{
    const struct df_instr *ins = step->ins;
    int is_add = ins->kind == DF_ADD;
    struct rootview *dest_view = NULL, *src_view = NULL;
    struct dockerignore *excl = NULL;
    struct copy_plan *plan = NULL;
    struct copy_source *srcs = NULL;
    char **owned = NULL;
    size_t n_owned = 0;
    char *dest = NULL;
    struct git_tree *gits = NULL;
    size_t n_gits = 0;
    struct git_ref gref;
    int gr;
    int rc = -1;
    if (ins->n_args < 2) {
        kiln_error_set(err, KILN_E_INVALID, "%s needs a source and a destination", ins->keyword);
        goto out;
    }
    int link =
        df_instr_flag(ins, "link") != NULL && strcmp(df_instr_flag(ins, "link"), "false") != 0;
    const char *from = df_instr_flag(ins, "from");
    const char *chown = df_instr_flag(ins, "chown");
    const char *chmod = df_instr_flag(ins, "chmod");
    const char *parents = df_instr_flag(ins, "parents");
    const char *checksum = df_instr_flag(ins, "checksum");
    struct copy_req req = {.is_add = is_add && from == NULL,
                           .parents = parents != NULL && strcmp(parents, "false") != 0,
                           .ctx = b->ctx};
    /* The tree below (dest_view) and the owner names (--chown=user) are not
     * read before the cache lookup: both follow from the parent key, so the
     * key needs neither, and a hit opens no layer (the layers of
     * --cache-from hits stay unfetched). */
    struct digest from_id = {{0}};
    struct chmod_spec mode;
    /* --from: only its identity before the cache lookup; its root file
     * system (for an image: unpacked snapshots) only on a miss. */
    if (from != NULL && build_from_view(b, st, from, NULL, &from_id, err) < 0)
        goto out;
    if (chmod != NULL) {
        if (chmod_parse(chmod, &mode) < 0) {
            kiln_error_set(err, KILN_E_INVALID,
                           "%s --chmod=%s: not a mode; use octal (0755) or symbolic "
                           "(u=rwx,go=rx, +x, a-w)",
                           ins->keyword, chmod);
            goto out;
        }
        req.chmod = &mode;
    }
    const char **ex = NULL;
    size_t n_ex = df_instr_flag_all(ins, "exclude", &ex);
    if (n_ex > 0) {
        rc = dockerignore_from_patterns(ex, n_ex, &excl, err);
        free(ex);
        if (rc < 0)
            goto out;
        rc = -1;
        req.exclude = excl;
    } else {
        free(ex);
    }
    struct digest layer_key;
    struct digester *k = NULL;
    int have_key = 0;
    if (is_add && from == NULL) {
        have_key = git_only_key(step, link ? NULL : key, &layer_key, err);
        if (have_key < 0)
            goto out;
        int hit = have_key ? build_cache_hit(b, st, &layer_key, err) : 0;
        if (hit < 0)
            goto out;
        if (hit) {
            progress_step_cached(b->o->progress, pid);
            goto finish;
        }
    }
    size_t n = ins->n_args - 1;
    srcs = xcalloc(n, sizeof(*srcs));
    owned = xcalloc(2 * n, sizeof(char *));
    gits = xcalloc(n, sizeof(*gits));
    for (size_t i = 0; i < n; i++) {
        const char *a = ins->args[i];
        srcs[i].path = a;
        if (strncmp(a, "<<", 2) == 0) {
            const struct df_heredoc *h = find_heredoc(step->orig, a);
            if (h == NULL) {
                kiln_error_set(err, KILN_E_INVALID, "no heredoc body for %s", a);
                goto out;
            }
            char *body = NULL;
            if (h->expand) {
                struct df_expand_ctx cx = {
                    .escape = b->df->escape, .lookup = scope_lookup, .ud = st->scope};
                if (df_expand_heredoc(&cx, h->content, &body, err) < 0)
                    goto out;
            } else {
                body = xstrdup(h->content);
            }
            owned[n_owned++] = body;
            srcs[i].path = h->name;
            srcs[i].data = body;
            srcs[i].data_len = strlen(body);
        } else if (is_add && from == NULL && (gr = git_ref_parse(a, &gref, err)) != 0) {
            if (gr < 0)
                goto out;
            struct git_tree *g = &gits[n_gits++];
            int fetched = add_git_source(b, ins, &gref, checksum, g, err);
            git_ref_release(&gref);
            if (fetched < 0)
                goto out;
            srcs[i].tree = g->ci;
        } else if (is_add && (strncmp(a, "http://", 7) == 0 || strncmp(a, "https://", 8) == 0)) {
            char *file = NULL;
            if (download(b, a, checksum, &file, err) < 0)
                goto out;
            owned[n_owned++] = file;
            srcs[i].file = file;
            srcs[i].path = url_name(a, &owned[n_owned++]);
        }
    }
    req.srcs = srcs;
    req.n_srcs = n;
    dest = abs_dest(st, ins->args[ins->n_args - 1]);
    req.dest = dest;
    /* --from: the source is identified by its layers (no walk on a hit);
     * the context: by the content digest of what the plan selects. */
    struct digest content = from_id;
    if (from == NULL && !have_key) {
        if (copy_plan_build(&req, &plan, err) < 0 ||
            copy_plan_digest(plan, b->sc, &content, err) < 0)
            goto out;
    }
    int hit = 0;
    if (!have_key) {
        k = cache_key_begin(link ? NULL : key);
        if (link) { /* not chained to the stage's key, which holds the epoch */
            char epoch[24];
            snprintf(epoch, sizeof(epoch), "%lld", (long long)b->o->epoch);
            cache_key_adds(k, "epoch", epoch);
        }
        cache_key_adds(k, "copy", step->text);
        cache_key_adds(k, from == NULL ? "content" : "from", content.hex);
        cache_key_finish(k, &layer_key);
        hit = build_cache_hit(b, st, &layer_key, err);
    }
    if (hit < 0)
        goto out;
    if (hit) {
        progress_step_cached(b->o->progress, pid);
    } else {
        if (from != NULL) {
            struct digest again;
            if (build_from_view(b, st, from, &src_view, &again, err) < 0)
                goto out;
            req.from = src_view;
        }
        if (!link && build_stage_rootview(b, st, &dest_view, err) < 0)
            goto out;
        req.dest_view = dest_view;
        if (chown != NULL) {
            if (copy_resolve_owner(dest_view, chown, &req.uid, &req.gid, err) < 0)
                goto out;
            req.has_chown = 1;
        }
        /* the key's plan knew neither the tree below nor the owner */
        copy_plan_free(plan);
        plan = NULL;
        if (copy_plan_build(&req, &plan, err) < 0)
            goto out;
        if (write_and_commit(b, st, plan, step->text, &layer_key, err) < 0)
            goto out;
        progress_step_done(b->o->progress, pid);
    }
finish:
    if (link) {
        k = cache_key_begin(key);
        cache_key_adds(k, "link", layer_key.hex);
        cache_key_finish(k, key);
    } else {
        *key = layer_key;
    }
    build_add_history(b, st, step->text, 0);
    rc = 0;
out:
    if (rc < 0)
        progress_step_error(b->o->progress, pid, *err ? (*err)->msg : "failed");
    for (size_t i = 0; srcs != NULL && i + 1 < ins->n_args; i++)
        if (srcs[i].file != NULL)
            unlink(srcs[i].file);
    for (size_t i = 0; i < n_gits; i++)
        git_tree_release(&gits[i]);
    free(gits);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(srcs);
    free(dest);
    copy_plan_free(plan);
    dockerignore_free(excl);
    rootview_free(dest_view);
    rootview_free(src_view);
    return rc;
}

/* Whether st has a layer a --cache-from hit has not fetched yet. */
static int stage_lazy(const struct stage_state *st)
{
    for (size_t i = 0; i < st->n_layers; i++)
        if (st->snaps[i] == NULL)
            return 1;
    return 0;
}

int build_step_workdir(struct build_ctx *b, struct stage_state *st, const char *path,
                       const struct digest *key, struct kiln_error **err)
{
    cleanup_free char *text = xasprintf("WORKDIR %s", path);
    /* The key covers the tree below (its parent key), so whether the
     * directory exists is recorded under it too (an entry without a layer):
     * a chain of --cache-from hits need not fetch the layers to know. */
    if (stage_lazy(st)) {
        size_t before = st->n_layers;
        int hit = build_cache_hit(b, st, key, err);
        if (hit < 0)
            return -1;
        if (hit) {
            build_add_history(b, st, text, st->n_layers == before);
            return 0;
        }
    }
    struct rootview *view = NULL;
    if (build_stage_rootview(b, st, &view, err) < 0)
        return -1;
    struct rootview_entry e;
    int found = rootview_lookup(view, path, 1, &e, err);
    rootview_entry_release(&e);
    if (found < 0) {
        rootview_free(view);
        return -1;
    }
    if (found) {
        rootview_free(view);
        struct cache_entry none = {0}, old;
        cleanup_error struct kiln_error *lerr = NULL;
        if (cache_lookup(b->root, key, &old, &lerr) != 1) {
            if (build_cache_record(b, st, key, &none, err) < 0)
                return -1;
        } else {
            build_cache_note(b, st, key, &none); /* for --cache-to */
        }
        build_add_history(b, st, text, 1);
        return 0;
    }
    int rc = build_cache_hit(b, st, key, err);
    if (rc == 0) {
        /* Made as the USER (BuildKit): names from the image's /etc/passwd. */
        const char *user = json_string_value(json_object_get(build_config_obj(st), "User"));
        uid_t uid = 0;
        gid_t gid = 0;
        if (user != NULL && user[0] != '\0')
            rc = copy_resolve_owner(view, user, &uid, &gid, err);
        struct copy_plan *plan = NULL;
        if (rc == 0)
            rc = copy_plan_mkdir(view, path, uid, gid, &plan, err);
        if (rc == 0)
            rc = write_and_commit(b, st, plan, NULL, key, err);
        copy_plan_free(plan);
    }
    rootview_free(view);
    if (rc < 0)
        return -1;
    build_add_history(b, st, text, 0);
    return 0;
}
