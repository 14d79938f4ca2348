/* An image's referrers (attached SBOMs and other artifacts, store/referrers.h)
 * moved with it: the referrers API where the registry has it, else the
 * referrers tag schema (tag sha256-<hex> holding an index). Used by
 * registry_push and registry_pull. */
#ifndef KILN_REGISTRY_REFERRERS_H
#define KILN_REGISTRY_REFERRERS_H

#include <stddef.h>

#include "registry/registry.h"
#include "store/store.h"

struct reference;

/* Pushes every referrer of local_subject to ref's repository, each pointed
 * at pushed_subject (the manifest as pushed: its digest differs when the push
 * rewrote it), and makes the registry list it. */
int registry_push_referrers(struct store *s, const struct digest *local_subject,
                            const struct descriptor *pushed_subject, const struct reference *ref,
                            const struct registry_opts *opts, struct kiln_error **err);
/* Pulls every artifact the registry lists for subject into the store as a
 * referrer; *count says how many. c: the connection the image came through
 * (its tokens serve again: one token per scope for a whole pull), or NULL
 * for a new one to ref's registry. */
struct reg_client;
int registry_pull_referrers(struct reg_client *c, struct store *s, const struct digest *subject,
                            const struct reference *ref, const struct registry_opts *opts,
                            size_t *count, struct kiln_error **err);

#endif
