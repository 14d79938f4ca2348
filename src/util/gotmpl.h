/* A subset of Go's text/template, as Docker's and podman's --format take it:
 * literal text, {{.Field}} and {{.A.B}} paths, {{.}}, the functions json,
 * join, upper, lower and index, pipelines ({{.X | upper}}), string and
 * integer literals, {{- and -}} trimming, comments, {{if}}, {{range}} and
 * {{with}} with {{else}} and {{end}}, and Docker's "table " prefix (a header
 * line, columns aligned as Go's tabwriter with Docker's settings). Anything
 * else (else if, variables, define/template/block, other functions) is
 * refused at parse time with the column it starts at. Values are jansson trees: one
 * object per row, the same a command prints for --format json. */
#ifndef KILN_UTIL_GOTMPL_H
#define KILN_UTIL_GOTMPL_H

#include <jansson.h>

#include "util/error.h"
#include "util/strbuf.h"

enum {
    GOTMPL_ESCAPES = 1,   /* \t and \n in literal text are a tab and a newline (Docker's CLI) */
    GOTMPL_FOLD_CASE = 2, /* a key that does not match exactly matches regardless of case */
    GOTMPL_STRICT = 4,    /* a first-level field the row lacks is an error, not <no value> */
    GOTMPL_TABLE = 8,     /* a leading "table" makes a header line and aligned columns */
};

struct gotmpl;

/* A field's column header for table output: {"ID", "CONTAINER ID"}; the list
 * ends with {NULL, NULL}. A field not listed is headed by its name in
 * upper case. */
struct gotmpl_header {
    const char *field, *header;
};

/* Parses src; NULL with *err naming the column (1-based, of src as given). */
struct gotmpl *gotmpl_parse(const char *src, unsigned flags, struct kiln_error **err);
void gotmpl_free(struct gotmpl *t);
void gotmpl_freep(struct gotmpl **t);
#define cleanup_gotmpl __attribute__((cleanup(gotmpl_freep)))
/* Did src start with "table" (and GOTMPL_TABLE was given)? */
int gotmpl_is_table(const struct gotmpl *t);

/* Appends t executed with dot as "."; -1 with *err on a type error or (with
 * GOTMPL_STRICT) a missing field. */
int gotmpl_exec(const struct gotmpl *t, const json_t *dot, struct strbuf *out,
                struct kiln_error **err);

/* The whole output for rows (a JSON array): each row's text and a newline; for
 * a table template a header line first, and columns (cells ended by tabs)
 * aligned as Docker's tabwriter (minimum width 10, padding 3). */
int gotmpl_render(const struct gotmpl *t, const json_t *rows, const struct gotmpl_header *headers,
                  struct strbuf *out, struct kiln_error **err);

/* Go's text/tabwriter with Docker's settings over text (lines of cells ended
 * by '\t'): each column block padded to its widest cell + 3, at least 10. */
void gotmpl_tabwrite(const char *text, struct strbuf *out);

/* Appends v as Go's fmt %v prints the value decoded from JSON: strings raw,
 * arrays "[a b]", objects "map[k:v]" (keys sorted), null "<nil>". */
void gotmpl_print_value(const json_t *v, struct strbuf *out);

#endif
