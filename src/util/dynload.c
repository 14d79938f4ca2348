/* dynload_sym: dlopen on first use (see dynload.h). The handle and each cached
 * symbol are published with atomics, so threads (registry push) may race to
 * load: dlopen is reference-counted and returns the same handle. */
#include "util/dynload.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static __attribute__((noreturn)) void load_failed(const char *what)
{
    const char *why = dlerror();
    /* The words ld.so uses when a library is missing at start-up. */
    fprintf(stderr, "kiln: error while loading shared libraries: %s: %s\n", what,
            why ? why : "unknown error");
    exit(127);
}

void *dynload_sym(struct dynlib *lib, const char *name, void **cache)
{
    void *p = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (p != NULL)
        return p;
    void *h = __atomic_load_n(&lib->handle, __ATOMIC_ACQUIRE);
    if (h == NULL) {
        h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL)
            load_failed(lib->soname);
        void *expected = NULL;
        if (!__atomic_compare_exchange_n(&lib->handle, &expected, h, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            dlclose(h); /* another thread won; same library, one reference less */
            h = expected;
        }
    }
    p = dlsym(h, name);
    if (p == NULL)
        load_failed(name);
    __atomic_store_n(cache, p, __ATOMIC_RELEASE);
    return p;
}
