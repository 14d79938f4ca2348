/* Sizes for people to read: decimal units as docker and podman print them. */
#ifndef KILN_UTIL_HUMAN_H
#define KILN_UTIL_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* "512B", "3.42kB", "77.6MB", "153GB": three significant digits at most.
 * Writes into buf (16 bytes are always enough) and returns it. */
const char *human_size(uint64_t bytes, char *buf, size_t bufsz);

#endif
