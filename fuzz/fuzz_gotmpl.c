/* libFuzzer target for the --format template subset (src/util/gotmpl.h): the
 * input's first byte picks the flags, the rest up to a NUL is the template and
 * what follows a JSON document (rows when an array, else one row; a fixed row
 * when it does not parse). The template is parsed, executed and rendered (as a
 * table too, header included); the text is also run through the tabwriter.
 * Beyond not crashing: a parse either succeeds or names a column. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/gotmpl.h"

static const char fixed[] = "{\"ID\":\"abc\",\"Names\":\"web\",\"Env\":[\"A=1\",2,null,true],"
                            "\"Labels\":{\"k\":\"v\"},\"Config\":{\"Env\":[\"X=y\"],\"N\":1.5}}";

static const struct gotmpl_header headers[] = {{"ID", "CONTAINER ID"}, {NULL, NULL}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & 15;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *nul = memchr(rest, '\0', n);
    char *src = strndup(rest, nul ? (size_t)(nul - rest) : n);
    json_t *doc =
        nul ? json_loadb(nul + 1, n - (size_t)(nul + 1 - rest), JSON_DECODE_ANY, NULL) : NULL;
    if (doc == NULL)
        doc = json_loads(fixed, 0, NULL);
    json_t *rows = json_is_array(doc) ? json_incref(doc) : json_pack("[O]", doc);

    struct kiln_error *err = NULL;
    struct gotmpl *t = gotmpl_parse(src, flags, &err);
    if (t == NULL) {
        if (err == NULL || strstr(err->msg, "column ") == NULL)
            abort();
    } else {
        struct strbuf out = STRBUF_INIT;
        strbuf_init(&out);
        struct kiln_error *e2 = NULL;
        gotmpl_exec(t, doc, &out, &e2);
        kiln_error_free(e2);
        e2 = NULL;
        strbuf_reset(&out);
        gotmpl_render(t, rows, headers, &out, &e2);
        kiln_error_free(e2);
        strbuf_release(&out);
        gotmpl_free(t);
    }
    kiln_error_free(err);
    struct strbuf tw = STRBUF_INIT;
    strbuf_init(&tw);
    gotmpl_tabwrite(src, &tw);
    strbuf_release(&tw);
    json_decref(rows);
    json_decref(doc);
    free(src);
    return 0;
}
