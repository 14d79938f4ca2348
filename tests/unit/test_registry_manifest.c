/* registry/manifest: media types both ways, schema 1 refused, mismatches
 * refused, descriptors checked, platform selection. */
#include <stdlib.h>
#include <string.h>

#include "registry/manifest.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static int parse(const char *ct, const char *body, struct manifest *m, int *code)
{
    struct kiln_error *e = NULL;
    int r = manifest_parse(ct, body, strlen(body), m, &e);
    *code = e ? e->code : 0;
    if (e)
        printf("# error: %s\n", e->msg);
    kiln_error_free(e);
    return r;
}

static const char *oci_manifest =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
    "\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":12},"
    "\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER_GZIP "\",\"digest\":\"" D2 "\",\"size\":345},"
    "{\"mediaType\":\"" MT_OCI_LAYER "\",\"digest\":\"" D3 "\",\"size\":0}]}";

static const char *docker_manifest =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
    "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"digest\":\"" D1 "\",\"size\":12},"
    "\"layers\":[{\"mediaType\":\"" MT_DOCKER_LAYER "\",\"digest\":\"" D2 "\",\"size\":345}]}";

static const char *index_doc =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":11,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":12,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

static void test_image_manifests(void)
{
    struct manifest m;
    int code;
    ok(parse(MT_OCI_MANIFEST, oci_manifest, &m, &code) == 0, "OCI manifest parses");
    is_int(m.kind, MANIFEST_IMAGE, "kind image");
    is_int(m.n_layers, 2, "two layers");
    is_int(m.layers[0].size, 345, "layer size");
    is_str(m.layers[0].digest.hex, D2 + 7, "layer digest");
    is_str(m.config.media_type, MT_OCI_CONFIG, "config media type");
    manifest_release(&m);

    ok(parse(MT_DOCKER_MANIFEST "; charset=utf-8", docker_manifest, &m, &code) == 0,
       "Docker v2s2 manifest parses (Content-Type with parameters)");
    is_str(m.media_type, MT_DOCKER_MANIFEST, "docker media type kept");
    manifest_release(&m);

    ok(parse("application/octet-stream", oci_manifest, &m, &code) == 0,
       "unknown Content-Type: the document's mediaType wins");
    manifest_release(&m);

    ok(parse(MT_DOCKER_MANIFEST, oci_manifest, &m, &code) < 0 && code == KILN_E_INVALID,
       "Content-Type and mediaType disagreeing is refused");
    ok(parse(MT_OCI_INDEX, oci_manifest, &m, &code) < 0, "manifest served as index refused");

    const char *lying =
        "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\","
        "\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":12},"
        "\"layers\":[]}";
    ok(parse(NULL, lying, &m, &code) < 0 && code == KILN_E_INVALID,
       "mediaType saying index over manifest content is refused");

    const char *nomt = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
                       "\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}";
    ok(parse(NULL, nomt, &m, &code) == 0 && m.kind == MANIFEST_IMAGE &&
           strcmp(m.media_type, MT_OCI_MANIFEST) == 0,
       "no mediaType: inferred from structure");
    manifest_release(&m);
}

static void test_refusals(void)
{
    struct manifest m;
    int code;
    ok(parse(MT_DOCKER_SCHEMA1S, "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", &m,
             &code) < 0 &&
           code == KILN_E_INVALID,
       "schema 1 refused");
    ok(parse(NULL, "{\"schemaVersion\":1}", &m, &code) < 0, "schemaVersion 1 refused");
    ok(parse(NULL, "{\"schemaVersion\":3,\"layers\":[]}", &m, &code) < 0,
       "schemaVersion 3 refused");
    ok(parse(NULL, "[1]", &m, &code) < 0, "non-object refused");
    ok(parse(NULL, "{\"schemaVersion\":2,", &m, &code) < 0, "broken JSON refused");
    const char *bad_digest = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
                             "\",\"digest\":\"sha512:abcd\",\"size\":1},\"layers\":[]}";
    ok(parse(NULL, bad_digest, &m, &code) < 0, "non-sha256 digest refused");
    const char *bad_size = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
                           "\",\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}";
    ok(parse(NULL, bad_size, &m, &code) < 0, "negative size refused");
    const char *traversal = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
                            "\",\"digest\":\"sha256:../../etc/passwd\",\"size\":1},\"layers\":[]}";
    ok(parse(NULL, traversal, &m, &code) < 0, "digest that is a path refused");
    const char *weird = "{\"schemaVersion\":2,\"mediaType\":\"application/x-foo\",\"layers\":[]}";
    ok(parse(NULL, weird, &m, &code) < 0, "unknown manifest media type refused");
}

static void test_index(void)
{
    struct manifest m;
    int code;
    ok(parse(MT_OCI_INDEX, index_doc, &m, &code) == 0, "index parses");
    is_int(m.kind, MANIFEST_INDEX, "kind index");
    is_int(m.n_manifests, 3, "three entries");
    const struct platform_entry *d = manifest_select_platform(&m, "linux/amd64", NULL);
    ok(d && strcmp(d->d.digest.hex, D3 + 7) == 0, "linux/amd64 selected");
    d = manifest_select_platform(&m, "linux/arm64/v8", NULL);
    ok(d && strcmp(d->d.digest.hex, D1 + 7) == 0, "arm64 without variant is v8");
    d = manifest_select_platform(&m, "linux/arm/v7", NULL);
    ok(d && strcmp(d->d.digest.hex, D2 + 7) == 0, "arm/v7 by variant");
    cleanup_error struct kiln_error *e = NULL;
    d = manifest_select_platform(&m, "linux/s390x", &e);
    ok(d == NULL && e && e->code == KILN_E_NOTFOUND && strstr(e->msg, "linux/arm/v7") != NULL,
       "missing platform lists what the index offers");
    kiln_error_freep(&e);
    d = manifest_select_platform(&m, "linux/&arm", &e);
    ok(d == NULL && e && e->code == KILN_E_INVALID && strstr(e->msg, "linux/&arm") != NULL,
       "malformed platform is an error naming it");
    cleanup_free char *host = manifest_host_platform();
    ok(strncmp(host, "linux/", 6) == 0, "host platform is linux/... (%s)", host);
    d = manifest_select_platform(&m, NULL, NULL);
    ok(strcmp(host, "linux/amd64") != 0 || (d && strcmp(d->d.digest.hex, D3 + 7) == 0),
       "default platform is the host's");
    manifest_release(&m);

    const char *list = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\",\"manifests\":["
                       "{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
                       "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
    ok(parse(MT_DOCKER_LIST, list, &m, &code) == 0 && m.kind == MANIFEST_INDEX,
       "Docker manifest list parses");
    manifest_release(&m);
    ok(parse(MT_DOCKER_LIST,
             "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\",\"layers\":[]}", &m,
             &code) < 0,
       "list without manifests refused");

    is_int(layer_media_type_compression(MT_DOCKER_LAYER), 1, "docker layer is gzip");
    is_int(layer_media_type_compression(MT_OCI_LAYER_ZSTD), 2, "zstd");
    is_int(layer_media_type_compression(MT_OCI_LAYER), 0, "plain tar");
    is_int(layer_media_type_compression("application/x-foo"), -1, "unknown");
}

int main(void)
{
    test_image_manifests();
    test_refusals();
    test_index();
    return done_testing();
}
