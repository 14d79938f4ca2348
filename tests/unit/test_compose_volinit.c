/* compose_volume_populate on layers made here (no image, no container): a
 * mount path through symlinks of the merged image resolves inside the
 * image's root (absolute links, ".." past the root, chains), never reads
 * what lies outside the layers, and honours whiteouts and opaque directories
 * on the way; a symlink loop fills nothing. The e2e side (a built image, the
 * runtime's mount) is tests/e2e/compose_recreate.bats. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "compose/internal.h"
#include "tap.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char base[] = "/tmp/kiln-volinit-XXXXXX";

/* BASE/rel, allocated */
static char *at(const char *rel)
{
    return xasprintf("%s/%s", base, rel);
}

static void put(const char *rel, const char *text)
{
    char *p = at(rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdir_p(p, 0755, NULL);
    *slash = '/';
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

static void link_to(const char *rel, const char *target)
{
    char *p = at(rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdir_p(p, 0755, NULL);
    *slash = '/';
    if (symlink(target, p) < 0)
        fprintf(stderr, "# symlink %s: %s\n", p, strerror(errno));
    free(p);
}

/* What the volume holds, "a,b/c" (sorted by find), after populating a fresh
 * one from layers l0 (top) .. l(n-1) at target. */
static char *fill(size_t n, const char *target)
{
    static int seq;
    char *vol = xasprintf("%s/vol%d", base, seq++);
    mkdir_p(vol, 0755, NULL);
    char *lower[4];
    for (size_t i = 0; i < n; i++)
        lower[i] = xasprintf("%s/l%zu", base, i);
    struct kiln_error *err = NULL;
    int r = compose_volume_populate(vol, lower, n, target, &err);
    for (size_t i = 0; i < n; i++)
        free(lower[i]);
    if (r < 0) {
        char *msg = xasprintf("error: %s", err->msg);
        kiln_error_free(err);
        free(vol);
        return msg;
    }
    char *cmd = xasprintf("cd %s && find . -mindepth 1 | sort | sed 's|^./||' | paste -sd,", vol);
    FILE *p = popen(cmd, "r");
    char buf[512] = "";
    if (p) {
        if (fgets(buf, sizeof(buf), p) == NULL)
            buf[0] = '\0';
        pclose(p);
    }
    buf[strcspn(buf, "\n")] = '\0';
    free(cmd);
    free(vol);
    return xstrdup(buf);
}

static void fills(size_t n, const char *target, const char *want, const char *what)
{
    char *got = fill(n, target);
    is_str(got, want, "%s (%s)", what, target);
    free(got);
}

int main(void)
{
    if (mkdtemp(base) == NULL) {
        ok(0, "mkdtemp: %s", strerror(errno));
        return done_testing();
    }
    /* outside the layers: what an escaping link would reach */
    put("srv/data/HOST", "host");
    put("secret/HOST", "host");

    /* bottom layer: the content and the links */
    put("l1/srv/data/sub/f", "seed");
    link_to("l1/data", "/srv/data");
    link_to("l1/up", "../../../../../srv");
    link_to("l1/a/b", "../srv/data/sub");
    link_to("l1/esc", "../secret");
    link_to("l1/chain1", "chain2");
    link_to("l1/chain2", "/data");
    link_to("l1/loop1", "/loop2");
    link_to("l1/loop2", "loop1");
    link_to("l1/gone", "/srv/data");
    /* top layer: more content, and a whiteout over /gone */
    put("l0/srv/data/g", "top");
    char *wh = at("l0/gone");
    int have_mknod = mknod(wh, S_IFCHR | 0, makedev(0, 0)) == 0;
    free(wh);

    fills(2, "/srv/data", "g,sub,sub/f", "a plain directory, both layers merged");
    fills(2, "/data", "g,sub,sub/f", "an absolute link in the lower layer");
    fills(2, "/data/sub", "f", "below an absolute link");
    fills(2, "/up/data/sub", "f", "a relative link climbing past / stays in the root");
    fills(2, "/a/b", "f", "a relative link one level down");
    fills(2, "/chain1", "g,sub,sub/f", "a chain of links");
    fills(2, "/esc", "", "a link to ../secret never reads outside the layers");
    fills(2, "/data/../data/sub", "f", "\"..\" after a link goes up from its target");
    fills(2, "/loop1/x", "", "a loop fills nothing");
    if (have_mknod)
        fills(2, "/gone", "", "a whiteout hides the lower layer's link");
    else
        ok(1, "# SKIP mknod of a whiteout needs CAP_MKNOD");

    /* an opaque /srv on top hides the lower layer's /srv/data/sub */
    put("l2/srv/data/h", "opaque");
    link_to("l3/data", "/srv/data");
    put("l3/srv/data/sub/f", "seed");
    char *l2srv = at("l2/srv");
    int opaque = setxattr(l2srv, "trusted.overlay.opaque", "y", 1, 0) == 0;
    free(l2srv);
    if (opaque) {
        /* layers l2 (top) and l3 only: rename them into place */
        char *cmd = xasprintf("cd %s && mv l0 x0 && mv l1 x1 && mv l2 l0 && mv l3 l1", base);
        ok(system(cmd) == 0, "layers for the opaque case");
        free(cmd);
        fills(2, "/data", "h", "an opaque directory on top hides the lower layer's content");
        fills(2, "/srv/data", "h", "an opaque directory above the mount path, no link");
        /* a rootless store marks it user.overlay.opaque instead */
        char *srv = at("l0/srv");
        removexattr(srv, "trusted.overlay.opaque");
        if (setxattr(srv, "user.overlay.opaque", "y", 1, 0) == 0)
            fills(2, "/data", "h", "user.overlay.opaque (a rootless store) hides it as well");
        else
            ok(1, "# SKIP user xattrs refused here");
        free(srv);
    } else {
        ok(1, "# SKIP trusted.overlay.opaque needs CAP_SYS_ADMIN and a filesystem with xattrs");
    }
    rm_rf(base, NULL);
    return done_testing();
}
