/* Platforms: "os/arch[/variant]" as --platform, FROM --platform and image
 * indexes give them, normalised once the way containerd does (x86_64 ->
 * amd64, aarch64 -> arm64, arm64/v8 -> arm64, armhf -> arm/v7, armel ->
 * arm/v6, i386 -> 386, a bare "arm" -> arm/v7, an arch alone -> linux/arch),
 * and whether kiln can build for one (linux, an architecture QEMU and Debian
 * cover). Every other module compares platforms through this one. */
#ifndef KILN_UTIL_PLATFORM_H
#define KILN_UTIL_PLATFORM_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

#define PLATFORM_STR_MAX 64

struct platform {
    char os[16];      /* "linux" */
    char arch[16];    /* "amd64", "arm64", "arm", "riscv64" ... */
    char variant[16]; /* "v7", or "" (arm64's v8 is "") */
};

/* Parses and normalises s; an error names s unless it is a well-formed
 * platform of an OS and architecture containerd knows. Does not check that
 * kiln can build it (see platform_check_buildable). */
int platform_parse(const char *s, struct platform *out, struct kiln_error **err);
/* A platform kiln builds and runs images of: linux, and an architecture
 * with a known QEMU user emulator and variant. The error names p. */
int platform_check_buildable(const struct platform *p, struct kiln_error **err);
/* "linux/amd64,linux/arm64": each parsed, checked buildable; empty lists,
 * empty items and duplicates (after normalising) are errors. *out is
 * allocated (free()). */
int platform_parse_list(const char *list, struct platform **out, size_t *n,
                        struct kiln_error **err);
/* The machine kiln runs on. */
void platform_host(struct platform *out);
int platform_is_host(const struct platform *p);
/* "os/arch[/variant]" into buf (PLATFORM_STR_MAX bytes); returns buf. */
char *platform_format(const struct platform *p, char *buf);
int platform_equal(const struct platform *a, const struct platform *b);
/* An OCI platform object ({"os","architecture","variant"}), normalised;
 * -1 when os or architecture is missing. */
int platform_from_json(const json_t *j, struct platform *out);
/* {"architecture","os"[,"variant"]}; new reference. */
json_t *platform_to_json(const struct platform *p);
/* The name QEMU and binfmt_misc use for p's architecture ("aarch64",
 * "arm", "x86_64", "riscv64" ...), NULL when there is none. */
const char *platform_qemu_arch(const struct platform *p);
/* What `uname -m` prints in a container of p ("aarch64", "armv7l"...). */
const char *platform_uname_machine(const struct platform *p);

#endif
