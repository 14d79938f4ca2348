/* Foreign architectures run under QEMU user emulation through the kernel's
 * binfmt_misc: kiln never execs qemu itself. A handler must carry the F
 * flag (the kernel opens the emulator when it is registered), so it works
 * inside a container's mount namespace where /usr/libexec/qemu-binfmt is
 * not. */
#ifndef KILN_RUNTIME_BINFMT_H
#define KILN_RUNTIME_BINFMT_H

#include "util/error.h"
#include "util/platform.h"

/* 0 when binaries of p run on this machine: p is the host's (or 386 on
 * amd64), or a binfmt_misc handler for p's QEMU emulator is enabled with
 * the F flag. Where none is registered and kiln runs as root, mounts
 * binfmt_misc if needed and registers the handler Debian's qemu-user-static
 * describes (/usr/lib/binfmt.d/qemu-ARCH.conf). Otherwise one error naming
 * the platform, the package and the command to run. Thread-safe. */
int binfmt_ensure(const struct platform *p, struct kiln_error **err);

#endif
