/* The mapped advisory indexes, shared by the reader (scan_db.c) and the
 * matcher (scan_match.c). Not for use outside src/sbom/scan*. */
#ifndef KILN_SBOM_SCAN_DB_INTERNAL_H
#define KILN_SBOM_SCAN_DB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct scan_index {
    char *name;
    char *map;
    bool mapped; /* map is an mmap (else the caller's memory) */
    size_t size;
    size_t a_off, a_len, p_off, p_len; /* absolute offsets into map */
    time_t data_time;
    size_t advisories, entries;
};

struct scan_db {
    struct scan_index *idx;
    size_t n;
};

/* A line of the map, without its '\n'. */
struct scan_line {
    const char *s;
    size_t len;
};

/* An index over len bytes of memory (kept by the caller until close):
 * the same checks as a file gets. For the fuzz targets and tests. */
struct kiln_error;
int scan_db_from_memory(char *buf, size_t len, const char *name, struct scan_db **out,
                        struct kiln_error **err);

/* The lines starting with key ("ECO\tNAME\t" for entries, "ID\t" for
 * advisories); up to max stored, the count of all returned. */
size_t scan_index_find(const struct scan_index *x, bool entries, const char *key,
                       struct scan_line *lines, size_t max);

#endif
