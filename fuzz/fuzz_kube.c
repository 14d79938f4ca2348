/* libFuzzer target for the Kubernetes manifest reader (src/kube/): the input is
 * read as YAML into trees and into the checked model; trees that parse are
 * written back with the emitter and must parse again to as many documents.
 * Nothing may crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube/kube.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kube_manifest m;
    struct kiln_error *err = NULL;
    if (kube_manifest_parse("fuzz.yaml", (const char *)data, size, &m, &err) == 0)
        kube_manifest_release(&m);
    kiln_error_free(err);
    err = NULL;

    struct kube_node **docs = NULL;
    size_t n = 0;
    if (kube_yaml_parse("fuzz.yaml", (const char *)data, size, &docs, &n, &err) < 0) {
        kiln_error_free(err);
        return 0;
    }
    struct strbuf out = STRBUF_INIT;
    if (kube_yaml_write(docs, n, &out, &err) == 0) {
        struct kube_node **again = NULL;
        size_t n2 = 0;
        struct kiln_error *err2 = NULL;
        if (kube_yaml_parse("rewritten.yaml", out.buf, out.len, &again, &n2, &err2) < 0 || n2 != n)
            abort(); /* what the writer writes, the reader must read */
        kube_docs_free(again, n2);
    } else {
        kiln_error_free(err);
    }
    strbuf_release(&out);
    kube_docs_free(docs, n);
    return 0;
}
