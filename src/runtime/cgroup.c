/* --memory and --cpus through cgroup v2. Where cgroup2 does not offer the
 * controller (this machine's hybrid setup keeps memory and cpu on v1), the
 * check fails with a message that says so before anything starts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

/* Where cgroup2 is mounted, and the caller's own cgroup dir in it. */
static char *own_cgroup_dir(const char **mnt)
{
    *mnt = path_exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup"
                                                            : "/sys/fs/cgroup/unified";
    char *text = NULL;
    if (read_file("/proc/self/cgroup", 1 << 16, &text, NULL, NULL) < 0)
        return NULL;
    char *rel = NULL;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, "0::", 3) == 0)
            rel = xstrdup(line + 3);
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    if (rel == NULL)
        return NULL;
    char *dir = xasprintf("%s%s", *mnt, strcmp(rel, "/") == 0 ? "" : rel);
    free(rel);
    return dir;
}

static int has_controller(const char *dir, const char *name, char **avail)
{
    cleanup_free char *p = xasprintf("%s/cgroup.controllers", dir);
    *avail = NULL;
    if (read_file(p, 4096, avail, NULL, NULL) < 0)
        return 0;
    strbuf_rtrim(&(struct strbuf){*avail, strlen(*avail), strlen(*avail) + 1});
    for (char *c = *avail; *c; c++)
        if (*c == '\n')
            *c = '\0';
    size_t n = strlen(name);
    for (const char *w = *avail; (w = strstr(w, name)) != NULL; w += n)
        if ((w == *avail || w[-1] == ' ') && (w[n] == ' ' || w[n] == '\0'))
            return 1;
    return 0;
}

int rt_cgroup_check(const struct rt_spec *s, struct kiln_error **err)
{
    const char *mnt;
    cleanup_free char *dir = own_cgroup_dir(&mnt);
    if (dir == NULL)
        return kiln_error_set(err, KILN_E_FAIL, "--memory/--cpus: no cgroup v2 hierarchy found");
    const char *need[2] = {s->memory_bytes > 0 ? "memory" : NULL, s->cpus > 0 ? "cpu" : NULL};
    for (int i = 0; i < 2; i++) {
        if (need[i] == NULL)
            continue;
        cleanup_free char *avail = NULL;
        if (!has_controller(dir, need[i], &avail))
            return kiln_error_set(err, KILN_E_FAIL,
                                  "--%s needs the cgroup v2 \"%s\" controller, which %s does not "
                                  "delegate (it offers: %s); this machine keeps it on cgroup v1. "
                                  "Run without --%s",
                                  i == 0 ? "memory" : "cpus", need[i], dir,
                                  avail && avail[0] ? avail : "nothing",
                                  i == 0 ? "memory" : "cpus");
    }
    return 0;
}

static char *leaf_dir(const struct rt_spec *s, pid_t pid)
{
    const char *mnt;
    cleanup_free char *dir = own_cgroup_dir(&mnt);
    if (dir == NULL)
        return NULL;
    if (s->cgroup_name)
        return xasprintf("%s/kiln-%s", dir, s->cgroup_name);
    return xasprintf("%s/kiln-%d", dir, (int)pid);
}

static int write_str(const char *dir, const char *file, const char *val, struct kiln_error **err)
{
    cleanup_free char *p = xasprintf("%s/%s", dir, file);
    FILE *f = fopen(p, "we");
    if (f == NULL)
        return kiln_error_errno(err, errno, "%s", p);
    int r = fputs(val, f) < 0;
    r |= fclose(f) != 0;
    if (r)
        return kiln_error_errno(err, errno, "writing %s to %s", val, p);
    return 0;
}

int rt_cgroup_enter(const struct rt_spec *s, pid_t pid, struct kiln_error **err)
{
    const char *mnt;
    cleanup_free char *parent = own_cgroup_dir(&mnt);
    cleanup_free char *leaf = leaf_dir(s, pid);
    if (parent == NULL || leaf == NULL)
        return kiln_error_set(err, KILN_E_FAIL, "no cgroup v2 hierarchy found");
    write_str(parent, "cgroup.subtree_control",
              s->memory_bytes > 0 && s->cpus > 0 ? "+memory +cpu"
              : s->memory_bytes > 0              ? "+memory"
                                                 : "+cpu",
              NULL);
    if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
        return kiln_error_errno(err, errno, "creating cgroup %s", leaf);
    char val[64];
    if (s->memory_bytes > 0) {
        snprintf(val, sizeof(val), "%lld", s->memory_bytes);
        if (write_str(leaf, "memory.max", val, err) < 0)
            return -1;
        write_str(leaf, "memory.swap.max", "0", NULL);
    }
    if (s->cpus > 0) {
        snprintf(val, sizeof(val), "%lld 100000", (long long)(s->cpus * 100000));
        if (write_str(leaf, "cpu.max", val, err) < 0)
            return -1;
    }
    snprintf(val, sizeof(val), "%d", (int)pid);
    return write_str(leaf, "cgroup.procs", val, err);
}

void rt_cgroup_remove(const struct rt_spec *s, pid_t pid)
{
    cleanup_free char *leaf = leaf_dir(s, pid);
    if (leaf != NULL)
        rmdir(leaf);
}

int runtime_limits_check(long long memory_bytes, double cpus, struct kiln_error **err)
{
    struct rt_spec s;
    rt_spec_init(&s);
    s.memory_bytes = memory_bytes;
    s.cpus = cpus;
    return rt_cgroup_check(&s, err);
}
