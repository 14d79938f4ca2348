/* --format for the listing commands (ps, images, compose ps, inspect): the
 * Go-template subset of util/gotmpl.h with Docker's spelling of the values
 * its templates read. */
#ifndef KILN_CLI_FORMAT_H
#define KILN_CLI_FORMAT_H

#include <jansson.h>

#include "util/gotmpl.h"

/* Parses a --format template for cmd as Docker's CLI does (\t and \n, a
 * "table" prefix, unknown first-level fields refused); NULL after printing
 * the usage error. */
struct gotmpl *cli_format_parse(const char *cmd, const char *format);

/* Prints rows (a JSON array) through t; EXIT_OK, or the error's exit code. */
int cli_format_print(const char *cmd, const struct gotmpl *t, const json_t *rows,
                     const struct gotmpl_header *headers);

/* config.json's Cmd joined by spaces, cut to 20 characters ending in "…"
 * unless whole (Docker's formatter.Ellipsis), then quoted as Go's
 * strconv.Quote: "\"sh -c 'x'\"". */
char *cli_docker_command(const json_t *cfg, int whole);

/* config.json's Labels as Docker prints them: "k=v,k2=v2" (by key). */
char *cli_docker_labels(const json_t *cfg);

/* A time as Go's time.Time prints it: "2026-12-06 08:35:36 +0000 UTC". */
void cli_docker_time(long long unix_time, char *buf, unsigned long bufsz);

#endif
