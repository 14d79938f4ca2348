/* ADD of a git repository: which sources are git URLs (BuildKit's rules:
 * http(s) URLs whose path ends in ".git", git://, ssh://, user@host:path),
 * their "#ref:subdir" fragment and ?ref=/branch=/tag=/subdir=/
 * keep-git-dir=/checksum=/submodules= query, and fetching one with the git binary into
 * a tree whose bytes and modes depend only on the commit. */
#ifndef KILN_BUILD_GITSRC_H
#define KILN_BUILD_GITSRC_H

#include "util/error.h"

struct git_ref {
    char *remote;     /* what git fetches from, without fragment and query */
    char *ref;        /* branch, tag, full ref or commit; NULL = the remote's HEAD */
    char *subdir;     /* directory inside the repository, or NULL */
    char *checksum;   /* expected commit (a prefix of its hex), or NULL */
    int keep_git_dir; /* -1 unset, 0 or 1 */
    int submodules;   /* 0 with ?submodules=false; else submodules are checked out */
};

/* 1 and *out filled when src is a git URL, 0 when it is not one, -1 (an
 * error naming src) when it is one but malformed. */
int git_ref_parse(const char *src, struct git_ref *out, struct kiln_error **err);
void git_ref_release(struct git_ref *r);

/* What r's ref names on the remote now, from `git ls-remote` (or the ref
 * itself when it is a full commit id): *id is allocated, or NULL when it
 * cannot be told without fetching (an abbreviated commit, an unknown ref,
 * an unreachable remote: the fetch then reports the error). */
int git_ref_resolve(const struct git_ref *r, char **id, struct kiln_error **err);

/* Fetches r (shallowly where the server allows) into the empty directory
 * work and checks it out with its submodules, recursively (as BuildKit
 * does; unless r->submodules is 0); *tree is the directory to copy (work or
 * its subdir), *commit the commit's hex. Without keep_git_dir every .git
 * (the repository's and the submodules') is removed; files are made 0644 or 0755 (executable in
 * git), directories 0755, so the tree does not depend on the umask. */
int git_fetch_tree(const struct git_ref *r, const char *work, int keep_git_dir, char **tree,
                   char **commit, struct kiln_error **err);

#endif
