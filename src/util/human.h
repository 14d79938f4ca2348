/* Sizes and durations for people to read, as docker and podman print them. */
#ifndef KILN_UTIL_HUMAN_H
#define KILN_UTIL_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* "512B", "3.42kB", "77.6MB", "153GB": three significant digits at most.
 * Writes into buf (16 bytes are always enough) and returns it. */
const char *human_size(uint64_t bytes, char *buf, size_t bufsz);

/* Enough for any human_duration. */
#define HUMAN_DURATION_MAX 32

/* ns as Go's time.Duration.String() prints it (Docker's and Docker Compose's
 * durations): "0s", "500ms", "1.5s", "1m30s", "1h0m0s", "250µs" (micro
 * sign), "-2s". Writes into buf (HUMAN_DURATION_MAX bytes are always enough)
 * and returns it. */
const char *human_duration(long long ns, char *buf, size_t bufsz);

#endif
