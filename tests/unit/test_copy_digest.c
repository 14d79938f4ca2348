/* build/copy: the content digest of a COPY plan is a stable format (cache
 * keys written by one kiln must be found by the next): one line per item,
 * "DST\0KIND MODE(octal) UID GID SIZE MAJ:MIN[ -> LINK][ SHA256]\n\0". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/context.h"
#include "build/copy.h"
#include "build/statcache.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/kiln-test-copy-digest-XXXXXX";

/* The reference: the line as printf writes it, NUL included. */
static void ref_line(struct digester *d, const char *dst, int kind, unsigned mode,
                     unsigned long long size, const char *link, const char *content)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s%c%d %o %u %u %llu %u:%u", dst, 0, kind, mode, 0u, 0u,
                     size, 0u, 0u);
    if (link != NULL)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, " -> %s", link);
    if (content != NULL) {
        struct digest cd;
        digest_bytes(content, strlen(content), &cd);
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %s", cd.hex);
    }
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
    digester_update(d, buf, (size_t)n + 1);
}

int main(void)
{
    if (mkdtemp(tmp) == NULL)
        return 1;
    umask(022);
    struct kiln_error *err = NULL;
    cleanup_free char *ctx = path_join(tmp, "ctx");
    cleanup_free char *sub = path_join(ctx, "src");
    mkdir_p(sub, 0755, &err);
    cleanup_free char *a = path_join(sub, "a.txt");
    write_file_atomic(a, "hello\n", 6, 0644, &err);
    cleanup_free char *l = path_join(sub, "link");
    ok(symlink("a.txt", l) == 0, "a symlink in the context");
    cleanup_free char *sc_path = path_join(tmp, "sc");
    struct statcache *sc = statcache_open(sc_path);
    struct context_index *ci = NULL;
    ok(context_index_build(ctx, NULL, &ci, &err) == 0, "context indexed");

    struct copy_source s = {.path = "src"};
    struct copy_req req = {.srcs = &s, .n_srcs = 1, .dest = "/opt/app/", .ctx = ci};
    struct copy_plan *p = NULL;
    struct digest got, want;
    ok(copy_plan_build(&req, &p, &err) == 0 && copy_plan_digest(p, sc, &got, &err) == 0,
       "plan and digest");
    is_int(copy_plan_count(p), 4, "opt, opt/app, and the two entries");

    struct digester *d = digester_new();
    ref_line(d, "opt", 0, S_IFDIR | 0755, 0, NULL, NULL);
    ref_line(d, "opt/app", 0, S_IFDIR | 0755, 0, NULL, NULL);
    ref_line(d, "opt/app/a.txt", 1, S_IFREG | 0644, 6, NULL, "hello\n");
    ref_line(d, "opt/app/link", 2, S_IFLNK | 0777, 0, "a.txt", NULL);
    digester_finish(d, &want);
    is_str(got.hex, want.hex, "the digest follows the documented line format");

    copy_plan_free(p);
    context_index_free(ci);
    statcache_free(sc);
    rm_rf(tmp, &err);
    kiln_error_free(err);
    return done_testing();
}
