/* kiln rmi IMAGE...: removes tags; content no tag reaches any more is then
 * deleted (a prune of unreachable blobs and snapshots), as docker rmi does
 * when an image loses its last tag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "registry/records.h"
#include "store/reference.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* The tags to remove for arg: itself if it is a tag, else every tag of the
 * image it names (by id or digest). */
static int tags_for(struct store *s, const char *arg, int force, struct strbuf *names,
                    size_t *count, struct digest *manifest, struct kiln_error **err)
{
    struct descriptor d;
    if (store_resolve_tag(s, arg, &d, NULL) == 0) {
        *manifest = d.digest;
        descriptor_release(&d);
        strbuf_addf(names, "%s%c", arg, '\0');
        *count = 1;
        return 0;
    }
    cleanup_image struct image *img = NULL;
    if (store_image_load(s, arg, &img, err) < 0)
        return -1;
    *manifest = img->manifest.digest;
    struct store_tag_entry *e = NULL;
    size_t n = 0;
    if (store_list_tags(s, &e, &n, err) < 0)
        return -1;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].name == NULL)
            continue;
        struct image *other = NULL;
        int same = digest_equal(&e[i].manifest.digest, &img->manifest.digest);
        if (!same && store_image_load_manifest(s, &e[i].manifest.digest, &other, NULL) == 0)
            same = digest_equal(&other->config.digest, &img->config.digest);
        image_free(other);
        if (same) {
            strbuf_addf(names, "%s%c", e[i].name, '\0');
            (*count)++;
        }
    }
    store_tag_entries_free(e, n);
    if (*count > 1 && !force)
        return kiln_error_set(err, KILN_E_INVALID,
                              "image %s has %zu tags: remove them by name, or use -f to remove "
                              "them all",
                              arg, *count);
    return 0;
}

static int force, no_prune;

static const struct cli_opt rmi_opts[] = {
    {'f', "force", CLI_OPT_FLAG, &force, NULL, "remove every tag of an image given by id", NULL},
    {0, "no-prune", CLI_OPT_FLAG, &no_prune, NULL, "only remove the tags", NULL},
    CLI_OPT_END,
};

static const struct cli_spec rmi_spec = {
    .name = "rmi",
    .args = "IMAGE...",
    .summary = "remove images (their tags, then content nothing else uses)",
    .text = "Removes the tag IMAGE; given an image id or digest, removes the image's tag\n"
            "(all its tags with -f). Then deletes blobs and snapshots that no tag\n"
            "reaches any more (as 'kiln prune' does) and prints the deleted manifests.\n"
            "Content another kiln process wrote since it started is kept.\n",
    .opts = rmi_opts,
    .min_args = 1,
    .max_args = -1,
};

static int cmd_rmi(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&rmi_spec, argc, argv);
    if (first <= 0)
        return -first;
    /* The prune deletes snapshots with other users' files (rootless). */
    cleanup_free char *root = NULL;
    int rc = no_prune ? 0 : cli_rootless_enter(g, &root);
    if (rc != 0)
        return rc;
    cleanup_store struct store *s = NULL;
    rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    int failed = 0;
    size_t n_args = (size_t)(argc - first);
    struct digest *manifests = xcalloc(n_args, sizeof(*manifests));
    int *removed = xcalloc(n_args, sizeof(*removed));
    for (size_t a = 0; a < n_args; a++) {
        struct kiln_error *err = NULL;
        struct strbuf names = STRBUF_INIT;
        size_t count = 0;
        if (tags_for(s, argv[first + a], force, &names, &count, &manifests[a], &err) < 0) {
            cli_fail(err);
            err = NULL;
            failed = 1;
            count = 0;
        }
        const char *p = names.buf;
        for (size_t i = 0; i < count; i++, p += strlen(p) + 1) {
            cleanup_free char *fam = reference_familiar_str(p, NULL);
            if (store_untag(s, p, &err) < 0) {
                cli_fail(err);
                err = NULL;
                failed = 1;
                continue;
            }
            printf("Untagged: %s\n", fam ? fam : p);
            removed[a] = 1;
        }
        strbuf_release(&names);
    }
    if (!no_prune) {
        struct kiln_error *err = NULL;
        struct store_prune_report rep;
        struct store_prune_opts po = {.add_roots = cli_gc_roots};
        if (store_prune(s, &po, &rep, &err) < 0 || records_compressed_compact(s, &err) < 0) {
            cli_fail(err);
            failed = 1;
        }
        for (size_t a = 0; a < n_args; a++)
            if (removed[a] && !store_blob_has(s, &manifests[a]))
                printf("Deleted: sha256:%s\n", manifests[a].hex);
    }
    free(manifests);
    free(removed);
    return failed ? EXIT_FAIL : EXIT_OK;
}

const struct cli_command cli_cmd_rmi = {
    .name = "rmi",
    .run = cmd_rmi,
    .spec = &rmi_spec,
};
