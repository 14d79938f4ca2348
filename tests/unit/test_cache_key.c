/* Step keys are portable (docs/build.md, "What a step key covers"): the
 * serialisation of fields is fixed, and a COPY's content digest depends on
 * the files' contents and modes only, not on the checkout path, the inodes
 * or the mtimes. Plus the --cache-to/--cache-from spec syntax. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/cache.h"
#include "build/cache_io.h"
#include "build/context.h"
#include "build/copy.h"
#include "build/statcache.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/kiln-test-cache-key-XXXXXX";

/* One field as the key serialises it: "LEN(name):LEN(value):" name value. */
static void ref_field(struct digester *d, const char *name, const char *value)
{
    char hdr[64];
    int n = snprintf(hdr, sizeof(hdr), "%zu:%zu:", strlen(name), strlen(value));
    digester_update(d, hdr, (size_t)n);
    digester_update(d, name, strlen(name));
    digester_update(d, value, strlen(value));
}

static void make_ctx(const char *dir, const char *content, long mtime)
{
    struct kiln_error *err = NULL;
    cleanup_free char *sub = path_join(dir, "app");
    mkdir_p(sub, 0755, &err);
    cleanup_free char *a = path_join(sub, "main.py");
    write_file_atomic(a, content, strlen(content), 0644, &err);
    chmod(a, 0644);
    chmod(sub, 0755);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    utimensat(AT_FDCWD, a, ts, 0);
    utimensat(AT_FDCWD, sub, ts, 0);
    kiln_error_free(err);
}

static int ctx_digest(const char *dir, struct statcache *sc, struct digest *out)
{
    struct kiln_error *err = NULL;
    struct context_index *ci = NULL;
    struct copy_plan *p = NULL;
    int rc = context_index_build(dir, NULL, &ci, &err);
    struct copy_source s = {.path = "app/"};
    struct copy_req req = {.srcs = &s, .n_srcs = 1, .dest = "/app/app/", .ctx = ci};
    if (rc == 0)
        rc = copy_plan_build(&req, &p, &err);
    if (rc == 0)
        rc = copy_plan_digest(p, sc, out, &err);
    copy_plan_free(p);
    context_index_free(ci);
    kiln_error_free(err);
    return rc;
}

static int spec_ok(const char *text, int to, enum cache_io_kind kind, int max)
{
    struct cache_io_spec s;
    struct kiln_error *err = NULL;
    int rc = cache_io_spec_parse(text, to, &s, &err);
    int good = rc == 0 && s.kind == kind && s.max == max;
    if (rc == 0)
        cache_io_spec_release(&s);
    kiln_error_free(err);
    return good;
}

static int spec_bad(const char *text, int to)
{
    struct cache_io_spec s;
    struct kiln_error *err = NULL;
    int rc = cache_io_spec_parse(text, to, &s, &err);
    int bad = rc < 0 && err != NULL && err->code == KILN_E_USAGE && strstr(err->msg, text) != NULL;
    if (rc == 0)
        cache_io_spec_release(&s);
    kiln_error_free(err);
    return bad;
}

int main(void)
{
    if (mkdtemp(tmp) == NULL)
        return 1;
    umask(022);
    struct kiln_error *err = NULL;

    /* the serialisation: a list of (name, value) fields after the parent */
    struct digest parent, got, want;
    digest_bytes("p", 1, &parent);
    struct digester *k = cache_key_begin(&parent);
    cache_key_adds(k, "instr", "RUN make");
    cache_key_adds(k, "arg", "V=1");
    cache_key_finish(k, &got);
    struct digester *r = digester_new();
    ref_field(r, "kiln-step-v1", parent.hex);
    ref_field(r, "instr", "RUN make");
    ref_field(r, "arg", "V=1");
    digester_finish(r, &want);
    is_str(got.hex, want.hex, "a key is the sha256 of its length-prefixed fields");
    k = cache_key_begin(&parent);
    cache_key_adds(k, "instr", "RUN mak");
    cache_key_adds(k, "arg", "eV=1");
    cache_key_finish(k, &want);
    ok(!digest_equal(&got, &want), "moving a byte from one field to the next changes the key");

    /* the same files in two checkouts, other mtimes and inodes */
    cleanup_free char *c1 = path_join(tmp, "home/alice/src/kiln/dataenv");
    cleanup_free char *c2 = path_join(tmp, "ci/runner-7/work/dataenv");
    make_ctx(c1, "print('hi')\n", 1000000000);
    make_ctx(c2, "print('hi')\n", 1700000123);
    cleanup_free char *scp = path_join(tmp, "statcache");
    struct statcache *sc = statcache_open(scp);
    struct digest d1, d2, d3;
    ok(ctx_digest(c1, sc, &d1) == 0 && ctx_digest(c2, sc, &d2) == 0, "both contexts digested");
    is_str(d1.hex, d2.hex, "the content digest ignores checkout path, inodes and mtimes");
    /* ... and through a fresh stat cache (another machine) */
    statcache_free(sc);
    cleanup_free char *scp2 = path_join(tmp, "statcache2");
    sc = statcache_open(scp2);
    ok(ctx_digest(c2, sc, &d3) == 0, "digested with an empty stat cache");
    is_str(d3.hex, d1.hex, "the same digest with no stat cache");
    /* but it covers the contents and the modes */
    cleanup_free char *f2 = path_join(c2, "app/main.py");
    write_file_atomic(f2, "print('ho')\n", 12, 0644, &err);
    ok(ctx_digest(c2, sc, &d3) == 0 && !digest_equal(&d3, &d1), "another content, another digest");
    write_file_atomic(f2, "print('hi')\n", 12, 0644, &err);
    chmod(f2, 0755);
    ok(ctx_digest(c2, sc, &d3) == 0 && !digest_equal(&d3, &d1), "another mode, another digest");
    statcache_free(sc);

    /* --cache-to / --cache-from */
    ok(spec_ok("type=registry,ref=127.0.0.1:5000/c:t,mode=max", 1, CACHE_IO_REGISTRY, 1),
       "registry, mode=max");
    ok(spec_ok("type=registry,ref=127.0.0.1:5000/c:t", 1, CACHE_IO_REGISTRY, 0),
       "mode=min is the default");
    ok(spec_ok("type=local,dest=/tmp/c", 1, CACHE_IO_LOCAL, 0), "local dest");
    ok(spec_ok("type=local,src=/tmp/c", 0, CACHE_IO_LOCAL, 0), "local src");
    ok(spec_ok("type=inline", 1, CACHE_IO_INLINE, 0), "inline");
    ok(spec_ok("127.0.0.1:5000/app:1", 0, CACHE_IO_IMAGE, 0), "an image name");
    ok(spec_ok("ref=127.0.0.1:5000/c:t", 0, CACHE_IO_REGISTRY, 0), "type=registry by default");
    ok(spec_bad("type=registry", 1), "registry without ref");
    ok(spec_bad("type=local,src=/x", 1), "--cache-to local wants dest");
    ok(spec_bad("type=inline", 0), "--cache-from type=inline names no image");
    ok(spec_bad("type=registry,ref=x,mode=all", 1), "a mode that is not min or max");
    ok(spec_bad("type=s3,bucket=b", 1), "an unknown type");
    ok(spec_bad("app:1", 1), "--cache-to wants a type");

    /* inline: key -> index of the layer in the image, -1 for no layer */
    struct cache_step steps[2] = {{.key = parent, .e = {.has_layer = 1}}, {.e = {0}}};
    digest_bytes("layer", 5, &steps[0].e.digest);
    digest_bytes("k2", 2, &steps[1].key);
    struct image_layer layers[2] = {{.blob = {.digest = want}},
                                    {.blob = {.digest = steps[0].e.digest}}};
    cleanup_free char *v = cache_inline_value(steps, 2, layers, 2);
    ok(strstr(v, parent.hex) != NULL && strstr(v, "\":1") != NULL && strstr(v, "\":-1") != NULL,
       "inline value maps keys to layer indexes: %s", v);

    rm_rf(tmp, &err);
    kiln_error_free(err);
    return done_testing();
}
