/* COPY and ADD: the files a step adds, as a plan (what lands where, with
 * which mode and owner), its content digest for the cache key, and writing
 * the plan out as a new layer directory. Docker's rules: a source directory
 * copies its contents; a file into a dest ending in '/' (or an existing
 * directory) keeps its name; wildcards and several sources need a directory
 * dest; missing parents are created 0755 (owned by --chown when given). */
#ifndef KILN_BUILD_COPY_H
#define KILN_BUILD_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "build/chmod.h"
#include "build/context.h"
#include "build/rootview.h"
#include "build/statcache.h"
#include "dockerfile/dockerignore.h"
#include "store/layer.h"
#include "util/digest.h"
#include "util/error.h"

struct copy_source {
    const char *path; /* as written (expanded); for heredocs the file name */
    const char *data; /* heredoc body, or NULL */
    size_t data_len;
    const char *file; /* a host file (ADD of a URL, downloaded), or NULL */
    /* a host directory whose contents are copied (ADD of a git URL), or NULL */
    const struct context_index *tree;
};

struct copy_req {
    const struct copy_source *srcs;
    size_t n_srcs;
    const char *dest; /* absolute (WORKDIR already applied); trailing '/' kept */
    int has_chown;
    uid_t uid;
    gid_t gid;
    const struct chmod_spec *chmod;     /* --chmod, or NULL */
    int parents;                        /* --parents */
    int is_add;                         /* ADD: local archives are extracted */
    const struct dockerignore *exclude; /* --exclude, or NULL */
    /* Where sources come from: the context, or a root file system (--from). */
    const struct context_index *ctx;
    struct rootview *from;
    /* The current root, to resolve dest and keep existing parents; NULL for --link. */
    struct rootview *dest_view;
};

struct copy_plan;

int copy_plan_build(const struct copy_req *req, struct copy_plan **out, struct kiln_error **err);
void copy_plan_free(struct copy_plan *p);
/* Digest of everything the layer will hold: paths, types, modes, owners,
 * link targets, file bytes (through sc; mtimes are not part of it). */
int copy_plan_digest(struct copy_plan *p, struct statcache *sc, struct digest *out,
                     struct kiln_error **err);
/* Writes the plan into the empty directory dirfd. */
int copy_plan_write(struct copy_plan *p, int dirfd, int64_t epoch, struct kiln_error **err);
size_t copy_plan_count(const struct copy_plan *p);
/* 1 when the plan can go straight into a layer tar (copy_plan_stream): no
 * ADD of a local archive, every parent a directory of the plan. */
int copy_plan_streamable(const struct copy_plan *p);
/* Writes the plan's entries to ls in layer order, with the bytes,
 * modes, owners and times copy_plan_write would give them. */
int copy_plan_stream(struct copy_plan *p, int64_t epoch, struct layer_stream *ls,
                     struct kiln_error **err);

/* --chown value: "uid[:gid]" or names looked up in the root's /etc/passwd
 * and /etc/group (view may be NULL: numbers only). */
int copy_resolve_owner(struct rootview *view, const char *spec, uid_t *uid, gid_t *gid,
                       struct kiln_error **err);

/* A plan that creates directory path (absolute) and its missing parents,
 * owned by uid:gid, keeping the attributes of parents view already has:
 * WORKDIR's mkdir (BuildKit makes them as the stage's USER). */
int copy_plan_mkdir(struct rootview *view, const char *path, uid_t uid, gid_t gid,
                    struct copy_plan **out, struct kiln_error **err);
#endif
