/* Progress rendering: tty (live region redrawn by a ticker thread), plain,
 * json and quiet. Every write is one write(2) of whole lines, under the lock. */
#include "build/progress.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/human.h"
#include "util/strbuf.h"

#define RING_LINES     20 /* kept per step, shown when it fails */
#define LIVE_LINES     6  /* shown under a running step on a tty */
#define MAX_LINE_BYTES 1024

enum pstate { ST_RUNNING, ST_CACHED, ST_DONE, ST_ERROR };

struct pstep {
    char *name;
    enum pstate state;
    double t0, t1;
    char *ring[RING_LINES];
    unsigned long n_lines;
    struct strbuf partial;
    int last_cr;   /* the previous byte was '\r': a following '\n' ends nothing */
    int finalized; /* tty: printed above the live region for good */
    char *waiting; /* what it waits for, or NULL */
};

struct progress {
    enum progress_mode mode;
    int fd;
    pthread_mutex_t mu;
    struct pstep *steps;
    size_t n, cap;
    int live_n; /* tty: lines of the live region on screen */
    double t_start;
    pthread_t ticker;
    int ticker_on, stopping;
    pthread_cond_t cv;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int term_width(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

static void emit(struct progress *p, struct strbuf *sb)
{
    if (sb->len > 0)
        (void)write_all(p->fd, sb->buf, sb->len);
    strbuf_reset(sb);
}

/* Every event carries "time": seconds since the build started (monotonic), so a
 * reader can lay steps on one time line (which ran at once, the critical path). */
static void json_emit(struct progress *p, json_t *ev)
{
    json_object_set_new(ev, "time", json_real(now_s() - p->t_start));
    char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    if (s == NULL)
        return;
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, s);
    strbuf_addc(&sb, '\n');
    free(s);
    emit(p, &sb);
    strbuf_release(&sb);
}

/* Appends s cut to at most width display columns (counting UTF-8 lead bytes). */
static void add_clipped(struct strbuf *sb, const char *s, int width)
{
    int cols = 0;
    for (const char *c = s; *c != '\0'; c++) {
        if (((unsigned char)*c & 0xC0) != 0x80) {
            if (cols >= width)
                break;
            cols++;
        }
        if ((unsigned char)*c < 0x20 && *c != '\t')
            strbuf_addc(sb, '?');
        else
            strbuf_addc(sb, *c == '\t' ? ' ' : *c);
    }
}

static void step_header(struct strbuf *sb, const struct pstep *s, double now, int width)
{
    const char *mark = s->state == ST_CACHED  ? "CACHED "
                       : s->state == ST_ERROR ? "ERROR "
                       : s->waiting != NULL   ? "WAITING "
                                              : "";
    char t[32] = "";
    if (s->state != ST_CACHED)
        snprintf(t, sizeof(t), "%.1fs", (s->state == ST_RUNNING ? now : s->t1) - s->t0);
    size_t start = sb->len;
    strbuf_addf(sb, "=> %s", mark);
    add_clipped(sb, s->name, width - (int)(sb->len - start) - (int)strlen(t) - 2);
    int used = (int)(sb->len - start);
    int pad = width - used - (int)strlen(t) - 1;
    for (int i = 0; i < (pad > 1 ? pad : 1); i++)
        strbuf_addc(sb, ' ');
    strbuf_addf(sb, "%s\n", t);
}

static const char *ring_line(const struct pstep *s, unsigned long i)
{
    return s->ring[i % RING_LINES];
}

static void tty_render(struct progress *p)
{
    struct strbuf sb = STRBUF_INIT;
    int width = term_width(p->fd);
    double now = now_s();
    if (p->live_n > 0)
        strbuf_addf(&sb, "\r\x1b[%dA\x1b[J", p->live_n);
    p->live_n = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct pstep *s = &p->steps[i];
        if (s->state != ST_RUNNING && !s->finalized) {
            step_header(&sb, s, now, width);
            s->finalized = 1;
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        struct pstep *s = &p->steps[i];
        if (s->state != ST_RUNNING)
            continue;
        step_header(&sb, s, now, width);
        p->live_n++;
        unsigned long first = s->n_lines > LIVE_LINES ? s->n_lines - LIVE_LINES : 0;
        for (unsigned long l = first; l < s->n_lines; l++) {
            strbuf_adds(&sb, "\x1b[2m=> # ");
            add_clipped(&sb, ring_line(s, l), width - 6);
            strbuf_adds(&sb, "\x1b[0m\n");
            p->live_n++;
        }
    }
    emit(p, &sb);
    strbuf_release(&sb);
}

static void *ticker_main(void *arg)
{
    struct progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (!p->stopping)
            tty_render(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct progress *progress_new(enum progress_mode mode, int fd)
{
    struct progress *p = xcalloc(1, sizeof(*p));
    p->mode = mode;
    p->fd = fd;
    p->t_start = now_s();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (mode == PROGRESS_TTY && pthread_create(&p->ticker, NULL, ticker_main, p) == 0)
        p->ticker_on = 1;
    return p;
}

void progress_free(struct progress *p)
{
    if (p == NULL)
        return;
    if (p->ticker_on) {
        pthread_mutex_lock(&p->mu);
        p->stopping = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->ticker, NULL);
        pthread_mutex_lock(&p->mu);
        tty_render(p);
        pthread_mutex_unlock(&p->mu);
    }
    for (size_t i = 0; i < p->n; i++) {
        free(p->steps[i].name);
        free(p->steps[i].waiting);
        for (int l = 0; l < RING_LINES; l++)
            free(p->steps[i].ring[l]);
        strbuf_release(&p->steps[i].partial);
    }
    free(p->steps);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int progress_step_begin(struct progress *p, const char *name)
{
    pthread_mutex_lock(&p->mu);
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->steps = xrealloc(p->steps, p->cap * sizeof(*p->steps));
    }
    int id = (int)p->n++;
    struct pstep *s = &p->steps[id];
    memset(s, 0, sizeof(*s));
    s->name = xstrdup(name);
    s->state = ST_RUNNING;
    s->t0 = now_s();
    strbuf_init(&s->partial);
    struct strbuf sb = STRBUF_INIT;
    if (p->mode == PROGRESS_PLAIN) {
        strbuf_addf(&sb, "#%d %s\n", id + 1, name);
        emit(p, &sb);
    } else if (p->mode == PROGRESS_JSON) {
        json_emit(p, json_pack("{s:s, s:i, s:s, s:s}", "type", "step", "id", id + 1, "name", name,
                               "state", "running"));
    }
    strbuf_release(&sb);
    pthread_mutex_unlock(&p->mu);
    return id;
}

void progress_step_wait(struct progress *p, int id, const char *what)
{
    pthread_mutex_lock(&p->mu);
    struct pstep *s = &p->steps[id];
    free(s->waiting);
    s->waiting = xstrdup(what);
    struct strbuf sb = STRBUF_INIT;
    if (p->mode == PROGRESS_PLAIN) {
        strbuf_addf(&sb, "#%d %s\n", id + 1, what);
        emit(p, &sb);
    } else if (p->mode == PROGRESS_JSON) {
        json_emit(p, json_pack("{s:s, s:i, s:s, s:s, s:s}", "type", "step", "id", id + 1, "name",
                               s->name, "state", "waiting", "for", what));
    }
    strbuf_release(&sb);
    pthread_mutex_unlock(&p->mu);
}

void progress_step_resume(struct progress *p, int id)
{
    pthread_mutex_lock(&p->mu);
    struct pstep *s = &p->steps[id];
    free(s->waiting);
    s->waiting = NULL;
    s->t0 = now_s();
    if (p->mode == PROGRESS_JSON)
        json_emit(p, json_pack("{s:s, s:i, s:s, s:s}", "type", "step", "id", id + 1, "name",
                               s->name, "state", "running"));
    pthread_mutex_unlock(&p->mu);
}

static void add_line(struct progress *p, int id, struct pstep *s, const char *line, size_t len)
{
    if (len > MAX_LINE_BYTES)
        len = MAX_LINE_BYTES;
    unsigned long slot = s->n_lines % RING_LINES;
    free(s->ring[slot]);
    s->ring[slot] = xstrndup(line, len);
    s->n_lines++;
    if (p->mode == PROGRESS_PLAIN) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "#%d %.3f ", id + 1, now_s() - s->t0);
        strbuf_adds(&sb, s->ring[slot]);
        strbuf_addc(&sb, '\n');
        emit(p, &sb);
        strbuf_release(&sb);
    } else if (p->mode == PROGRESS_JSON) {
        json_emit(p, json_pack("{s:s, s:i, s:s%}", "type", "log", "id", id + 1, "line",
                               s->ring[slot], strlen(s->ring[slot])));
    }
}

void progress_step_output(struct progress *p, int id, const char *data, size_t len)
{
    pthread_mutex_lock(&p->mu);
    struct pstep *s = &p->steps[id];
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' || data[i] == '\r') {
            if ((data[i] == '\n' && !s->last_cr) || s->partial.len > 0)
                add_line(p, id, s, s->partial.buf, s->partial.len);
            strbuf_reset(&s->partial);
        } else if (s->partial.len < MAX_LINE_BYTES) {
            strbuf_addc(&s->partial, data[i]);
        }
        s->last_cr = data[i] == '\r';
    }
    pthread_mutex_unlock(&p->mu);
}

static void finish(struct progress *p, int id, enum pstate st, const char *msg)
{
    pthread_mutex_lock(&p->mu);
    struct pstep *s = &p->steps[id];
    if (s->partial.len > 0) {
        add_line(p, id, s, s->partial.buf, s->partial.len);
        strbuf_reset(&s->partial);
    }
    s->state = st;
    free(s->waiting);
    s->waiting = NULL;
    s->t1 = now_s();
    double dt = s->t1 - s->t0;
    struct strbuf sb = STRBUF_INIT;
    static const char *names[] = {"running", "cached", "done", "error"};
    if (p->mode == PROGRESS_PLAIN) {
        if (st == ST_CACHED)
            strbuf_addf(&sb, "#%d CACHED\n", id + 1);
        else if (st == ST_DONE)
            strbuf_addf(&sb, "#%d DONE %.1fs\n", id + 1, dt);
        else
            strbuf_addf(&sb, "#%d ERROR: %s\n", id + 1, msg ? msg : "failed");
    } else if (p->mode == PROGRESS_JSON) {
        json_t *ev = json_pack("{s:s, s:i, s:s, s:s, s:f}", "type", "step", "id", id + 1, "name",
                               s->name, "state", names[st], "seconds", dt);
        if (msg != NULL)
            json_object_set_new(ev, "error", json_string(msg));
        json_emit(p, ev);
    } else if (p->mode == PROGRESS_TTY) {
        tty_render(p);
    }
    if (st == ST_ERROR && (p->mode == PROGRESS_TTY || p->mode == PROGRESS_QUIET)) {
        unsigned long first = s->n_lines > RING_LINES ? s->n_lines - RING_LINES : 0;
        if (s->n_lines > 0)
            strbuf_addf(&sb, "------\n > %s:\n", s->name);
        for (unsigned long l = first; l < s->n_lines; l++)
            strbuf_addf(&sb, "%s\n", ring_line(s, l));
        if (s->n_lines > 0)
            strbuf_adds(&sb, "------\n");
    }
    emit(p, &sb);
    strbuf_release(&sb);
    pthread_mutex_unlock(&p->mu);
}

void progress_step_cached(struct progress *p, int id)
{
    finish(p, id, ST_CACHED, NULL);
}

void progress_step_done(struct progress *p, int id)
{
    finish(p, id, ST_DONE, NULL);
}

void progress_step_error(struct progress *p, int id, const char *msg)
{
    finish(p, id, ST_ERROR, msg);
}

void progress_message(struct progress *p, const char *fmt, ...)
{
    struct strbuf msg = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->mu);
    struct strbuf sb = STRBUF_INIT;
    if (p->mode == PROGRESS_JSON) {
        json_emit(p, json_pack("{s:s, s:s}", "type", "message", "text", msg.buf));
    } else {
        if (p->mode == PROGRESS_TTY && p->live_n > 0) {
            strbuf_addf(&sb, "\r\x1b[%dA\x1b[J", p->live_n);
            p->live_n = 0;
        }
        strbuf_addf(&sb, "%s\n", msg.buf);
        emit(p, &sb);
        if (p->mode == PROGRESS_TTY)
            tty_render(p);
    }
    strbuf_release(&sb);
    pthread_mutex_unlock(&p->mu);
    strbuf_release(&msg);
}

void progress_counts(struct progress *p, unsigned *run, unsigned *cached)
{
    pthread_mutex_lock(&p->mu);
    *run = *cached = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->steps[i].state == ST_CACHED)
            (*cached)++;
        else
            (*run)++;
    }
    pthread_mutex_unlock(&p->mu);
}

void progress_summary(struct progress *p, const struct progress_summary *s)
{
    pthread_mutex_lock(&p->mu);
    struct strbuf sb = STRBUF_INIT;
    if (p->mode == PROGRESS_JSON) {
        json_t *tags = json_array();
        for (size_t i = 0; i < s->n_tags; i++)
            json_array_append_new(tags, json_string(s->tags[i]));
        json_emit(p, json_pack("{s:s, s:s, s:o, s:I, s:i, s:i, s:f}", "type", "summary", "image",
                               s->image_id, "tags", tags, "size", (json_int_t)s->size, "steps_run",
                               (int)s->steps_run, "steps_cached", (int)s->steps_cached, "seconds",
                               s->wall_seconds));
    } else if (p->mode != PROGRESS_QUIET) {
        if (p->mode == PROGRESS_TTY)
            tty_render(p);
        char size[32];
        human_size(s->size, size, sizeof(size));
        strbuf_addf(&sb, "=> image %s\n", s->image_id);
        for (size_t i = 0; i < s->n_tags; i++)
            strbuf_addf(&sb, "=> naming to %s\n", s->tags[i]);
        strbuf_addf(&sb, "Built %.19s in %.1fs: %u step%s run, %u cached, %s\n", s->image_id,
                    s->wall_seconds, s->steps_run, s->steps_run == 1 ? "" : "s", s->steps_cached,
                    size);
        emit(p, &sb);
    }
    strbuf_release(&sb);
    pthread_mutex_unlock(&p->mu);
}
