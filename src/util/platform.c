/* Platform strings: parsing, containerd's normalisation, what kiln can build. */
#include "util/platform.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

/* Go's (and containerd's) lists of operating systems and architectures. */
static const char *const known_os[] = {
    "aix",   "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
    "linux", "nacl",    "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos", NULL,
};
static const char *const known_arch[] = {
    "386",       "amd64",       "amd64p32", "arm",   "armbe",   "arm64",  "arm64be",
    "ppc64",     "ppc64le",     "loong64",  "mips",  "mipsle",  "mips64", "mips64le",
    "mips64p32", "mips64p32le", "ppc",      "riscv", "riscv64", "s390",   "s390x",
    "sparc",     "sparc64",     "wasm",     NULL,
};

/* What kiln builds for: the architecture, the variants it takes ("" first
 * when none is fine), QEMU's name for it and uname -m inside. */
static const struct arch_info {
    const char *arch;
    const char *variants[5];
    const char *qemu;
    const char *machine;
} buildable[] = {
    {"amd64", {"", "v2", "v3", "v4", NULL}, "x86_64", "x86_64"},
    {"arm64", {"", NULL}, "aarch64", "aarch64"},
    {"arm", {"v7", "v6", "v5", NULL}, "arm", "armv7l"},
    {"386", {"", NULL}, "i386", "i686"},
    {"ppc64le", {"", NULL}, "ppc64le", "ppc64le"},
    {"s390x", {"", NULL}, "s390x", "s390x"},
    {"riscv64", {"", NULL}, "riscv64", "riscv64"},
    {"mips64le", {"", NULL}, "mips64el", "mips64"},
};

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static void set(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void normalise(struct platform *p)
{
    lower(p->os);
    lower(p->arch);
    lower(p->variant);
    if (strcmp(p->os, "macos") == 0)
        set(p->os, sizeof(p->os), "darwin");
    char *a = p->arch, *v = p->variant;
    if (strcmp(a, "i386") == 0 || strcmp(a, "i686") == 0) {
        set(a, sizeof(p->arch), "386");
        v[0] = '\0';
    } else if (strcmp(a, "x86_64") == 0 || strcmp(a, "x86-64") == 0 || strcmp(a, "amd64") == 0) {
        set(a, sizeof(p->arch), "amd64");
        if (strcmp(v, "v1") == 0)
            v[0] = '\0';
    } else if (strcmp(a, "aarch64") == 0 || strcmp(a, "arm64") == 0) {
        set(a, sizeof(p->arch), "arm64");
        if (strcmp(v, "8") == 0 || strcmp(v, "v8") == 0 || strcmp(v, "v8.0") == 0)
            v[0] = '\0';
        else if (strcmp(v, "9") == 0 || strcmp(v, "9.0") == 0 || strcmp(v, "v9.0") == 0)
            set(v, sizeof(p->variant), "v9");
    } else if (strcmp(a, "armhf") == 0) {
        set(a, sizeof(p->arch), "arm");
        set(v, sizeof(p->variant), "v7");
    } else if (strcmp(a, "armel") == 0) {
        set(a, sizeof(p->arch), "arm");
        set(v, sizeof(p->variant), "v6");
    } else if (strcmp(a, "arm") == 0) {
        if (v[0] == '\0' || strcmp(v, "7") == 0)
            set(v, sizeof(p->variant), "v7");
        else if (strcmp(v, "5") == 0 || strcmp(v, "6") == 0 || strcmp(v, "8") == 0) {
            char d = v[0];
            v[0] = 'v';
            v[1] = d;
            v[2] = '\0';
        }
    }
}

static int bad(const char *s, const char *why, struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_INVALID,
                          "invalid platform \"%s\": %s (want os/arch[/variant], e.g. "
                          "linux/arm64)",
                          s, why);
}

int platform_parse(const char *s, struct platform *out, struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || s[0] == '\0')
        return bad("", "empty", err);
    char parts[3][16] = {{0}};
    size_t np = 0, len = 0;
    for (const char *c = s;; c++) {
        if (*c == '/' || *c == '\0') {
            if (len == 0)
                return bad(s, "empty component", err);
            if (++np == 3 && *c == '/')
                return bad(s, "too many components", err);
            if (*c == '\0')
                break;
            len = 0;
            continue;
        }
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
            return bad(s, "invalid character", err);
        if (len + 1 >= sizeof(parts[0]))
            return bad(s, "component too long", err);
        parts[np][len++] = *c;
    }
    if (np == 1) {
        /* "linux" (the host's architecture) or "arm64" (linux) */
        struct platform t;
        memset(&t, 0, sizeof(t));
        set(t.os, sizeof(t.os), parts[0]);
        normalise(&t);
        if (in_list(known_os, t.os)) {
            platform_host(out);
            set(out->os, sizeof(out->os), t.os);
            return 0;
        }
        set(out->os, sizeof(out->os), "linux");
        set(out->arch, sizeof(out->arch), parts[0]);
    } else {
        set(out->os, sizeof(out->os), parts[0]);
        set(out->arch, sizeof(out->arch), parts[1]);
        set(out->variant, sizeof(out->variant), np == 3 ? parts[2] : "");
    }
    normalise(out);
    if (!in_list(known_os, out->os))
        return bad(s, "unknown operating system", err);
    if (!in_list(known_arch, out->arch))
        return bad(s, "unknown architecture", err);
    return 0;
}

static const struct arch_info *arch_info(const char *arch)
{
    for (size_t i = 0; i < sizeof(buildable) / sizeof(buildable[0]); i++)
        if (strcmp(buildable[i].arch, arch) == 0)
            return &buildable[i];
    return NULL;
}

int platform_check_buildable(const struct platform *p, struct kiln_error **err)
{
    char s[PLATFORM_STR_MAX];
    platform_format(p, s);
    if (strcmp(p->os, "linux") != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "platform %s: kiln builds and runs Linux images only (os %s)", s,
                              p->os);
    const struct arch_info *ai = arch_info(p->arch);
    if (ai == NULL) {
        struct strbuf sb = STRBUF_INIT;
        for (size_t i = 0; i < sizeof(buildable) / sizeof(buildable[0]); i++)
            strbuf_addf(&sb, "%s%s", i ? ", " : "", buildable[i].arch);
        int rc = kiln_error_set(err, KILN_E_INVALID,
                                "platform %s: architecture %s is not supported (kiln builds for "
                                "%s)",
                                s, p->arch, sb.buf);
        strbuf_release(&sb);
        return rc;
    }
    for (size_t i = 0; ai->variants[i] != NULL; i++)
        if (strcmp(ai->variants[i], p->variant) == 0)
            return 0;
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; ai->variants[i] != NULL; i++)
        strbuf_addf(&sb, "%s%s", i ? ", " : "", ai->variants[i][0] ? ai->variants[i] : "none");
    int rc = kiln_error_set(err, KILN_E_INVALID,
                            "platform %s: variant %s of %s is not supported (variants: %s)", s,
                            p->variant, p->arch, sb.buf);
    strbuf_release(&sb);
    return rc;
}

int platform_parse_list(const char *list, struct platform **out, size_t *n, struct kiln_error **err)
{
    *out = NULL;
    *n = 0;
    if (list == NULL || list[strspn(list, " ,")] == '\0')
        return kiln_error_set(err, KILN_E_INVALID,
                              "--platform: empty list (give e.g. linux/amd64,linux/arm64)");
    struct platform *v = NULL;
    size_t cnt = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        char item[PLATFORM_STR_MAX];
        if (len == 0 || len >= sizeof(item)) {
            free(v);
            return kiln_error_set(err, KILN_E_INVALID, "--platform %s: %s item in the list", list,
                                  len == 0 ? "an empty" : "a too long");
        }
        memcpy(item, p, len);
        item[len] = '\0';
        struct platform pl;
        if (platform_parse(item, &pl, err) < 0 || platform_check_buildable(&pl, err) < 0) {
            free(v);
            return -1;
        }
        for (size_t i = 0; i < cnt; i++) {
            if (platform_equal(&v[i], &pl)) {
                char s[PLATFORM_STR_MAX];
                free(v);
                return kiln_error_set(err, KILN_E_INVALID,
                                      "--platform %s: %s is given twice (as \"%s\")", list,
                                      platform_format(&pl, s), item);
            }
        }
        v = xrealloc(v, (cnt + 1) * sizeof(*v));
        v[cnt++] = pl;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

void platform_host(struct platform *out)
{
    memset(out, 0, sizeof(*out));
    set(out->os, sizeof(out->os), "linux");
#if defined(__x86_64__)
    set(out->arch, sizeof(out->arch), "amd64");
#elif defined(__aarch64__)
    set(out->arch, sizeof(out->arch), "arm64");
#elif defined(__arm__)
    set(out->arch, sizeof(out->arch), "arm");
#elif defined(__i386__)
    set(out->arch, sizeof(out->arch), "386");
#elif defined(__powerpc64__)
    set(out->arch, sizeof(out->arch), "ppc64le");
#elif defined(__s390x__)
    set(out->arch, sizeof(out->arch), "s390x");
#elif defined(__riscv)
    set(out->arch, sizeof(out->arch), "riscv64");
#else
    set(out->arch, sizeof(out->arch), "unknown");
#endif
    normalise(out);
}

int platform_is_host(const struct platform *p)
{
    struct platform h;
    platform_host(&h);
    return strcmp(p->os, h.os) == 0 && strcmp(p->arch, h.arch) == 0;
}

char *platform_format(const struct platform *p, char *buf)
{
    if (p->variant[0] != '\0')
        snprintf(buf, PLATFORM_STR_MAX, "%s/%s/%s", p->os, p->arch, p->variant);
    else
        snprintf(buf, PLATFORM_STR_MAX, "%s/%s", p->os, p->arch);
    return buf;
}

int platform_equal(const struct platform *a, const struct platform *b)
{
    return strcmp(a->os, b->os) == 0 && strcmp(a->arch, b->arch) == 0 &&
           strcmp(a->variant, b->variant) == 0;
}

int platform_from_json(const json_t *j, struct platform *out)
{
    memset(out, 0, sizeof(*out));
    const char *os = json_string_value(json_object_get(j, "os"));
    const char *arch = json_string_value(json_object_get(j, "architecture"));
    const char *var = json_string_value(json_object_get(j, "variant"));
    if (os == NULL || arch == NULL)
        return -1;
    set(out->os, sizeof(out->os), os);
    set(out->arch, sizeof(out->arch), arch);
    set(out->variant, sizeof(out->variant), var ? var : "");
    normalise(out);
    return 0;
}

json_t *platform_to_json(const struct platform *p)
{
    json_t *j = json_pack("{s:s, s:s}", "architecture", p->arch, "os", p->os);
    if (p->variant[0] != '\0')
        json_object_set_new(j, "variant", json_string(p->variant));
    return j;
}

const char *platform_qemu_arch(const struct platform *p)
{
    const struct arch_info *ai = arch_info(p->arch);
    return ai ? ai->qemu : NULL;
}

const char *platform_uname_machine(const struct platform *p)
{
    const struct arch_info *ai = arch_info(p->arch);
    return ai ? ai->machine : NULL;
}
