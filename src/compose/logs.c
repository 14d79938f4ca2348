/* compose logs: the project's containers' output, each line prefixed with
 * "SERVICE-1  | " (padded to the longest), optionally the last N lines of
 * each, optionally following until every container has exited. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compose/stack.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

struct stream {
    const struct compose_ctr *c;
    int fd;
    char *prefix;
    struct strbuf partial;
};

/* Prints the complete lines of data (after what was left over). */
static void emit(struct stream *s, const char *data, size_t len, int flush)
{
    strbuf_add(&s->partial, data, len);
    char *start = s->partial.buf, *nl;
    while ((nl = memchr(start, '\n', s->partial.len - (size_t)(start - s->partial.buf))) != NULL) {
        printf("%s%.*s\n", s->prefix, (int)(nl - start), start);
        start = nl + 1;
    }
    size_t rest = s->partial.len - (size_t)(start - s->partial.buf);
    if (flush && rest > 0) {
        printf("%s%.*s\n", s->prefix, (int)rest, start);
        rest = 0;
    }
    memmove(s->partial.buf, start, rest);
    strbuf_setlen(&s->partial, rest);
}

static void drain(struct stream *s, int flush)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(s->fd, buf, sizeof(buf))) > 0)
        emit(s, buf, (size_t)n, 0);
    if (flush)
        emit(s, "", 0, 1);
    fflush(stdout);
}

/* Positions fd at the start of its last `tail` lines. */
static void seek_tail(int fd, long tail)
{
    off_t end = lseek(fd, 0, SEEK_END);
    if (end <= 0) {
        lseek(fd, 0, SEEK_SET);
        return;
    }
    long lines = 0;
    off_t pos = end;
    char buf[4096];
    /* a final newline ends the last line, it does not start one */
    int first = 1;
    while (pos > 0) {
        size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
        pos -= (off_t)chunk;
        if (pread(fd, buf, chunk, pos) != (ssize_t)chunk)
            break;
        for (size_t i = chunk; i-- > 0;) {
            if (buf[i] != '\n')
                continue;
            if (first && pos + (off_t)i == end - 1) {
                first = 0;
                continue;
            }
            if (++lines == tail) {
                lseek(fd, pos + (off_t)i + 1, SEEK_SET);
                return;
            }
        }
    }
    lseek(fd, 0, SEEK_SET);
}

int compose_logs(const char *root, const char *project, const char *const *services,
                 size_t n_services, int follow, long tail, volatile sig_atomic_t *stop,
                 struct kiln_error **err)
{
    struct compose_ctr *cs;
    size_t n;
    if (compose_list(root, project, &cs, &n, err) < 0)
        return -1;
    struct stream *ss = xcalloc(n + 1, sizeof(*ss));
    size_t ns = 0, width = 0;
    for (size_t i = 0; i < n; i++) {
        int want = n_services == 0;
        for (size_t k = 0; k < n_services; k++)
            want |= strcmp(services[k], cs[i].service) == 0;
        if (!want)
            continue;
        cleanup_free char *dir = ctr_dir(root, cs[i].id);
        cleanup_free char *logp = xasprintf("%s/ctr.log", dir);
        int fd = open(logp, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stream *s = &ss[ns++];
        s->c = &cs[i];
        s->fd = fd;
        strbuf_init(&s->partial);
        size_t plen = strlen(cs[i].name) > strlen(project) + 1
                          ? strlen(cs[i].name) - strlen(project) - 1
                          : strlen(cs[i].name);
        width = plen > width ? plen : width;
        if (tail >= 0)
            seek_tail(fd, tail);
    }
    for (size_t i = 0; i < ns; i++) {
        const char *nm = ss[i].c->name;
        if (strncmp(nm, project, strlen(project)) == 0 && nm[strlen(project)] == '-')
            nm += strlen(project) + 1;
        ss[i].prefix = xasprintf("%-*s  | ", (int)width, nm);
        if (tail == 0)
            lseek(ss[i].fd, 0, SEEK_END);
        drain(&ss[i], !follow);
    }
    while (follow && !(stop && *stop)) {
        int alive = 0;
        for (size_t i = 0; i < ns; i++)
            alive |= ctr_supervisor_alive(root, ss[i].c->id);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
        for (size_t i = 0; i < ns; i++)
            drain(&ss[i], !alive);
        if (!alive)
            break;
    }
    for (size_t i = 0; i < ns; i++) {
        if (follow)
            drain(&ss[i], 1);
        close(ss[i].fd);
        free(ss[i].prefix);
        strbuf_release(&ss[i].partial);
    }
    free(ss);
    compose_list_free(cs, n);
    return 0;
}
