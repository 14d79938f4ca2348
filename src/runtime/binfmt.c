/* binfmt_misc handlers for QEMU user emulation (see binfmt.h). */
#include "runtime/binfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define BINFMT_DIR  "/proc/sys/fs/binfmt_misc"
#define BINFMT_CONF "/usr/lib/binfmt.d"

static pthread_mutex_t binfmt_mu = PTHREAD_MUTEX_INITIALIZER;

static int native(const struct platform *p)
{
    struct platform h;
    platform_host(&h);
    if (strcmp(p->arch, h.arch) == 0)
        return 1;
    return strcmp(h.arch, "amd64") == 0 && strcmp(p->arch, "386") == 0;
}

/* 1 enabled with F, 0 absent, -1 present but unusable (why in *why). */
static int handler_state(const char *name, const char **why)
{
    char path[128];
    snprintf(path, sizeof(path), BINFMT_DIR "/%s", name);
    cleanup_free char *data = NULL;
    size_t len = 0;
    struct kiln_error *e = NULL;
    if (read_file_at(AT_FDCWD, path, 4096, &data, &len, &e) < 0) {
        kiln_error_free(e);
        return 0;
    }
    if (strncmp(data, "enabled", 7) != 0) {
        *why = "is disabled";
        return -1;
    }
    const char *fl = strstr(data, "\nflags: ");
    if (fl == NULL || strchr(fl + 8, 'F') == NULL || strchr(fl + 8, 'F') > strchr(fl + 8, '\n')) {
        *why = "lacks the F flag (its emulator is not found inside a container)";
        return -1;
    }
    return 1;
}

static int advice(const struct platform *p, const char *name, const char *problem,
                  struct kiln_error **err)
{
    char ps[PLATFORM_STR_MAX];
    return kiln_error_set(err, KILN_E_FAIL,
                          "platform %s needs QEMU user emulation: binfmt_misc handler %s %s; "
                          "install it with `apt-get install qemu-user-static binfmt-support` "
                          "and run `update-binfmts --enable %s` as root (handlers need the F "
                          "flag)",
                          platform_format(p, ps), name, problem, name);
}

/* Mounts binfmt_misc where it is not (root only). */
static int mount_binfmt(void)
{
    if (access(BINFMT_DIR "/register", F_OK) == 0)
        return 0;
    if (mount("binfmt_misc", BINFMT_DIR, "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return -1;
    return access(BINFMT_DIR "/register", F_OK);
}

/* Registers the handler Debian's package describes; -1 when it cannot. */
static int register_handler(const char *name)
{
    char conf[128];
    snprintf(conf, sizeof(conf), BINFMT_CONF "/%s.conf", name);
    cleanup_free char *line = NULL;
    size_t len = 0;
    struct kiln_error *e = NULL;
    if (read_file_at(AT_FDCWD, conf, 4096, &line, &len, &e) < 0) {
        kiln_error_free(e);
        return -1;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
        line[--len] = '\0';
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, line);
    /* the flags are the last field: F is what makes it work in a container */
    const char *flags = strrchr(sb.buf, ':');
    if (flags == NULL) {
        strbuf_release(&sb);
        return -1;
    }
    if (strchr(flags, 'F') == NULL)
        strbuf_addc(&sb, 'F');
    int fd = open(BINFMT_DIR "/register", O_WRONLY | O_CLOEXEC);
    int rc = -1;
    if (fd >= 0) {
        rc = write(fd, sb.buf, sb.len) == (ssize_t)sb.len ? 0 : -1;
        close(fd);
    }
    strbuf_release(&sb);
    return rc;
}

int binfmt_ensure(const struct platform *p, struct kiln_error **err)
{
    if (native(p))
        return 0;
    const char *qa = platform_qemu_arch(p);
    if (qa == NULL) {
        char ps[PLATFORM_STR_MAX];
        return kiln_error_set(err, KILN_E_FAIL, "platform %s: no QEMU emulator is known",
                              platform_format(p, ps));
    }
    char name[64];
    snprintf(name, sizeof(name), "qemu-%s", qa);
    pthread_mutex_lock(&binfmt_mu);
    const char *why = NULL;
    int st = handler_state(name, &why);
    if (st == 0 && geteuid() == 0 && mount_binfmt() == 0) {
        st = handler_state(name, &why);
        if (st == 0 && register_handler(name) == 0)
            st = handler_state(name, &why);
    }
    pthread_mutex_unlock(&binfmt_mu);
    if (st == 1)
        return 0;
    return advice(p, name, st < 0 ? why : "is not registered", err);
}
