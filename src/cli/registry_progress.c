/* Pull/push progress rendering; see registry_progress.h. */
#include "cli/registry_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/strbuf.h"

struct row {
    char id[20]; /* short digest */
    unsigned long long done, total;
    double start;
    const char *state;
};

struct cli_progress {
    const char *verb;
    int quiet, tty;
    struct row *rows;
    size_t n;
    size_t drawn; /* rows on screen from the last redraw */
    double last_draw;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct cli_progress *cli_progress_new(const char *verb, int quiet)
{
    struct cli_progress *p = xcalloc(1, sizeof(*p));
    p->verb = verb;
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    return p;
}

void cli_progress_free(struct cli_progress *p)
{
    if (p == NULL)
        return;
    free(p->rows);
    free(p);
}

static struct row *row_for(struct cli_progress *p, const char *digest)
{
    char id[20];
    const char *hex = strchr(digest, ':');
    snprintf(id, sizeof(id), "%.12s", hex ? hex + 1 : digest);
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->rows[i].id, id) == 0)
            return &p->rows[i];
    p->rows = xrealloc(p->rows, (p->n + 1) * sizeof(*p->rows));
    struct row *r = &p->rows[p->n++];
    memset(r, 0, sizeof(*r));
    memcpy(r->id, id, sizeof(id));
    r->start = now();
    r->state = "Waiting";
    return r;
}

static void redraw(struct cli_progress *p, int force)
{
    double t = now();
    if (!force && t - p->last_draw < 0.1)
        return;
    p->last_draw = t;
    if (p->drawn > 0)
        fprintf(stderr, "\033[%zuA", p->drawn);
    for (size_t i = 0; i < p->n; i++) {
        struct row *r = &p->rows[i];
        char a[16], b[16], rate[16] = "";
        double dt = t - r->start;
        if (strcmp(r->state, "Downloading") == 0 || strcmp(r->state, "Uploading") == 0) {
            if (dt > 0.2)
                snprintf(rate, sizeof(rate), "%s/s",
                         cli_human_size((unsigned long long)((double)r->done / dt), b, sizeof(b)));
            fprintf(stderr, "\033[2K%s: %s %s/", r->id, r->state,
                    cli_human_size(r->done, a, sizeof(a)));
            fprintf(stderr, "%s %s\n", cli_human_size(r->total, b, sizeof(b)), rate);
        } else {
            fprintf(stderr, "\033[2K%s: %s\n", r->id, r->state);
        }
    }
    p->drawn = p->n;
    fflush(stderr);
}

void cli_progress_cb(void *ctx, const struct registry_progress *ev)
{
    struct cli_progress *p = ctx;
    if (ev->event == REGISTRY_EV_WARNING || ev->event == REGISTRY_EV_RETRY) {
        if (p->tty && p->drawn > 0) {
            p->drawn = 0; /* the warning scrolls; redraw below it */
        }
        cli_warn("%s", ev->message ? ev->message : "");
        return;
    }
    if (p->quiet || ev->digest == NULL)
        return;
    if (ev->event == REGISTRY_EV_RESOLVED) {
        fprintf(stderr, "%s %s\n", p->verb, ev->digest);
        return;
    }
    struct row *r = row_for(p, ev->digest);
    int pulling = strcmp(p->verb, "Pulling") == 0;
    const char *line = NULL;
    switch (ev->event) {
    case REGISTRY_EV_BLOB_START:
        r->state = pulling ? "Downloading" : "Uploading";
        r->total = ev->total;
        r->start = now();
        line = r->state;
        break;
    case REGISTRY_EV_BLOB_BYTES:
        r->done = ev->done;
        r->total = ev->total;
        break;
    case REGISTRY_EV_BLOB_DONE:
        r->done = r->total = ev->total;
        r->state = pulling ? "Pull complete" : "Pushed";
        line = r->state;
        break;
    case REGISTRY_EV_BLOB_EXISTS:
        r->done = r->total = ev->total;
        r->state = "Already exists";
        line = r->state;
        break;
    case REGISTRY_EV_BLOB_MOUNTED:
        r->done = r->total = ev->total;
        r->state = "Mounted from another repository";
        line = r->state;
        break;
    default:
        break;
    }
    if (p->tty) {
        redraw(p, line != NULL);
    } else if (line != NULL) {
        char sz[16];
        fprintf(stderr, "%s: %s (%s)\n", r->id, line, cli_human_size(r->total, sz, sizeof(sz)));
    }
}
