/* libcurl, loaded on first use (see util/dynload.h): one trampoline per
 * function kiln calls, with curl.h's own prototype so the compiler checks it.
 * The variadic setters forward their one argument with the type libcurl will
 * read it as (the option number says which). */
#include <curl/curl.h>
#include <stdarg.h>

#include "util/dynload.h"

/* curl.h wraps these in type-checking macros; here they are defined. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt

/* ABI 4 of libcurl, the soname since 2006. */
static struct dynlib curl_lib = {.soname = "libcurl.so.4"};
#define SYM(name)            DYNLOAD_SYM(curl_lib, name)
#define TRAMPOLINE(...)      DYNLOAD_TRAMPOLINE(curl_lib, __VA_ARGS__)
#define TRAMPOLINE_VOID(...) DYNLOAD_TRAMPOLINE_VOID(curl_lib, __VA_ARGS__)

TRAMPOLINE(CURLcode, curl_global_init, (long flags), (flags))
TRAMPOLINE(curl_version_info_data *, curl_version_info, (CURLversion v), (v))
TRAMPOLINE(CURL *, curl_easy_init, (void), ())
TRAMPOLINE_VOID(curl_easy_cleanup, (CURL * h), (h))
TRAMPOLINE(CURLcode, curl_easy_perform, (CURL * h), (h))
TRAMPOLINE(const char *, curl_easy_strerror, (CURLcode c), (c))
TRAMPOLINE(char *, curl_easy_escape, (CURL * h, const char *s, int n), (h, s, n))
TRAMPOLINE_VOID(curl_free, (void *p), (p))
TRAMPOLINE(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s))
TRAMPOLINE_VOID(curl_slist_free_all, (struct curl_slist * l), (l))
TRAMPOLINE(CURLM *, curl_multi_init, (void), ())
TRAMPOLINE(CURLMcode, curl_multi_cleanup, (CURLM * m), (m))
TRAMPOLINE(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL *h), (m, h))
TRAMPOLINE(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL *h), (m, h))
TRAMPOLINE(CURLMcode, curl_multi_perform, (CURLM * m, int *running), (m, running))
TRAMPOLINE(CURLMsg *, curl_multi_info_read, (CURLM * m, int *left), (m, left))
TRAMPOLINE(CURLMcode, curl_multi_poll,
           (CURLM * m, struct curl_waitfd extra[], unsigned int n, int timeout_ms, int *ret),
           (m, extra, n, timeout_ms, ret))
TRAMPOLINE(CURLSH *, curl_share_init, (void), ())
TRAMPOLINE(CURLSHcode, curl_share_cleanup, (CURLSH * sh), (sh))
TRAMPOLINE(CURLU *, curl_url, (void), ())
TRAMPOLINE_VOID(curl_url_cleanup, (CURLU * u), (u))
TRAMPOLINE(CURLUcode, curl_url_get, (CURLU * u, CURLUPart what, char **part, unsigned int fl),
           (u, what, part, fl))
TRAMPOLINE(CURLUcode, curl_url_set, (CURLU * u, CURLUPart what, const char *part, unsigned int fl),
           (u, what, part, fl))

/* The option's number encodes the argument's type (CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
    SYM(curl_easy_setopt);
    va_list ap;
    va_start(ap, opt);
    CURLcode r;
    if (opt < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        r = real_curl_easy_setopt(h, opt, v);
    } else if (opt < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);
        r = real_curl_easy_setopt(h, opt, v);
    } else if (opt < CURLOPTTYPE_OFF_T) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        r = real_curl_easy_setopt(h, opt, v);
    } else if (opt < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);
        r = real_curl_easy_setopt(h, opt, v);
    } else {
        void *v = va_arg(ap, void *);
        r = real_curl_easy_setopt(h, opt, v);
    }
    va_end(ap);
    return r;
}

/* Every CURLINFO_* argument is a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    SYM(curl_easy_getinfo);
    va_list ap;
    va_start(ap, info);
    void *out = va_arg(ap, void *);
    va_end(ap);
    return real_curl_easy_getinfo(h, info, out);
}

/* SHARE/UNSHARE take an int (a CURL_LOCK_DATA_*), the others a pointer. */
CURLSHcode curl_share_setopt(CURLSH *sh, CURLSHoption opt, ...)
{
    SYM(curl_share_setopt);
    va_list ap;
    va_start(ap, opt);
    CURLSHcode r;
    if (opt == CURLSHOPT_SHARE || opt == CURLSHOPT_UNSHARE) {
        int v = va_arg(ap, int);
        r = real_curl_share_setopt(sh, opt, v);
    } else if (opt == CURLSHOPT_LOCKFUNC || opt == CURLSHOPT_UNLOCKFUNC) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        r = real_curl_share_setopt(sh, opt, v);
    } else {
        void *v = va_arg(ap, void *);
        r = real_curl_share_setopt(sh, opt, v);
    }
    va_end(ap);
    return r;
}
