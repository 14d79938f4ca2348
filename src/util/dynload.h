/* Shared libraries kiln loads on first use instead of at start-up. libcurl and
 * libarchive pull in ~37 libraries (Kerberos, LDAP, GnuTLS, ICU, libstdc++...)
 * whose mapping and relocation cost every kiln process ~12 ms of CPU, while
 * only pull/push/login and layer unpacking use them. Each such library has a
 * file of trampolines (registry/curl_dl.c, store/archive_dl.c) defining the
 * functions kiln calls, with the header's own prototypes; the first call loads
 * the library, as the dynamic linker would have done at start-up. */
#ifndef KILN_UTIL_DYNLOAD_H
#define KILN_UTIL_DYNLOAD_H

struct dynlib {
    const char *soname; /* e.g. "libcurl.so.4" */
    void *handle;       /* dlopen handle once loaded (atomic) */
};

/* The address of symbol name in lib, loading lib on first use; *cache keeps
 * it for the next call. A library or symbol that cannot be loaded is fatal,
 * exactly like a missing DT_NEEDED library: a message on stderr, exit 127. */
void *dynload_sym(struct dynlib *lib, const char *name, void **cache);

/* For the trampoline files. DYNLOAD_SYM(lib, name) declares real_<name>, a
 * pointer of name's own type into lib; DYNLOAD_TRAMPOLINE(lib, ret, name,
 * (params), (args)) defines name as a call through it (ret void: use
 * DYNLOAD_TRAMPOLINE_VOID). Hand-written trampolines (variadic functions)
 * use DYNLOAD_SYM directly. */
#define DYNLOAD_SYM(lib, name)                                                                     \
    static void *sym_##name;                                                                       \
    __typeof__(name) *real_##name = (__typeof__(name) *)dynload_sym(&(lib), #name, &sym_##name)

#define DYNLOAD_TRAMPOLINE(lib, ret, name, params, args)                                           \
    ret name params                                                                                \
    {                                                                                              \
        DYNLOAD_SYM(lib, name);                                                                    \
        return real_##name args;                                                                   \
    }

#define DYNLOAD_TRAMPOLINE_VOID(lib, name, params, args)                                           \
    void name params                                                                               \
    {                                                                                              \
        DYNLOAD_SYM(lib, name);                                                                    \
        real_##name args;                                                                          \
    }

#endif
