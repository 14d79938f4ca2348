/* The build's scheduler. Every stage the target needs runs in its own thread
 * from the start, and a step waits only for what it uses: a stage for the
 * stage its FROM names, a step for the stage a --from names. --jobs bounds
 * the steps running at once (a step waiting holds no job; the platforms of a
 * --platform build draw on one pool). Steps sharing a cache mount do not wait for each other: the
 * later ones get views of it (build/cache.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* The jobs: a build's own, or one pool the platforms of a --platform build
 * (platforms.c) share, so that a platform whose steps are done leaves its
 * jobs to the others. */
struct build_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int free_jobs;
};

struct build_pool *build_pool_new(int jobs)
{
    struct build_pool *p = xcalloc(1, sizeof(*p));
    if (jobs <= 0)
        jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    p->free_jobs = jobs < 1 ? 1 : jobs;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return p;
}

void build_pool_free(struct build_pool *p)
{
    if (p == NULL)
        return;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static int depends_on(const struct df_graph *g, size_t a, size_t on, int depth)
{
    if (depth > (int)g->n_stages)
        return 0;
    for (size_t k = 0; k < g->stages[a].n_deps; k++)
        if (g->stages[a].deps[k] == on || depends_on(g, g->stages[a].deps[k], on, depth + 1))
            return 1;
    return 0;
}

/* --- waiting ------------------------------------------------------------------- */

static int cancelled(struct build_ctx *b)
{
    return __atomic_load_n(&b->cancel, __ATOMIC_SEQ_CST);
}

/* Under mu. A step that waits gives its job back while it waits. */
static int give_job(struct build_ctx *b, struct stage_state *st)
{
    int had = st->has_job;
    if (had) {
        st->has_job = 0;
        b->sched->free_jobs++;
        pthread_cond_broadcast(&b->sched->cv);
    }
    return had;
}

static void take_job(struct build_ctx *b, struct stage_state *st)
{
    while (b->sched->free_jobs == 0 && !cancelled(b))
        pthread_cond_wait(&b->sched->cv, &b->sched->mu);
    if (b->sched->free_jobs > 0) {
        b->sched->free_jobs--;
        st->has_job = 1;
    }
}

static void show_wait(struct build_ctx *b, struct stage_state *st, const char *what,
                      const char *name)
{
    if (st->pid < 0)
        return;
    cleanup_free char *msg = xasprintf("waiting for %s%s", what, name);
    progress_step_wait(b->o->progress, st->pid, msg);
}

static void show_resume(struct build_ctx *b, struct stage_state *st)
{
    if (st->pid >= 0)
        progress_step_resume(b->o->progress, st->pid);
}

/* A step's wait for something other steps give: its job is given back
 * while it waits, and the wait is shown. */
struct waiter {
    int waited, had_job;
};

/* Under mu: blocks until ready() says so or the build is cancelled; returns
 * with mu held, -1 if cancelled. wait_end() finishes the wait. */
static int wait_until(struct build_ctx *b, struct stage_state *st,
                      int (*ready)(struct build_ctx *b, struct stage_state *st, const void *arg),
                      const void *arg, const char *what, const char *name, struct waiter *w)
{
    while (!ready(b, st, arg) && !cancelled(b)) {
        if (!w->waited) {
            w->waited = 1;
            w->had_job = give_job(b, st);
            pthread_mutex_unlock(&b->sched->mu);
            show_wait(b, st, what, name);
            pthread_mutex_lock(&b->sched->mu);
            continue;
        }
        pthread_cond_wait(&b->sched->cv, &b->sched->mu);
    }
    return cancelled(b) ? -1 : 0;
}

/* Under mu: takes the job back and releases mu. */
static void wait_end(struct build_ctx *b, struct stage_state *st, const struct waiter *w)
{
    if (w->had_job)
        take_job(b, st);
    pthread_mutex_unlock(&b->sched->mu);
    if (w->waited)
        show_resume(b, st);
}

static int job_free(struct build_ctx *b, struct stage_state *st, const void *arg)
{
    (void)st, (void)arg;
    return b->sched->free_jobs > 0;
}

void build_job_begin(struct build_ctx *b, struct stage_state *st)
{
    pthread_mutex_lock(&b->sched->mu);
    struct waiter w = {0};
    wait_until(b, st, job_free, NULL, "a job (--jobs)", "", &w);
    take_job(b, st); /* none when cancelled: the step stops at its next wait */
    wait_end(b, st, &w);
}

void build_job_end(struct build_ctx *b, struct stage_state *st)
{
    pthread_mutex_lock(&b->sched->mu);
    give_job(b, st);
    pthread_mutex_unlock(&b->sched->mu);
}

static int stage_ended(struct build_ctx *b, struct stage_state *st, const void *arg)
{
    (void)b, (void)st;
    const struct stage_state *dep = arg;
    return dep->done || dep->failed;
}

int build_wait_stage(struct build_ctx *b, struct stage_state *st, size_t stage,
                     struct kiln_error **err)
{
    struct build_pool *s = b->sched;
    struct stage_state *dep = &b->stages[stage];
    /* Only what the plan knows this stage needs (an ONBUILD trigger may name
     * others): waiting for anything else could wait for ever. */
    if (s == NULL)
        return 0;
    if (stage == st->index || !depends_on(b->g, st->index, stage, 0)) {
        pthread_mutex_lock(&s->mu);
        int done = dep->done;
        pthread_mutex_unlock(&s->mu);
        if (done)
            return 0;
        return kiln_error_set(err, KILN_E_FAIL,
                              "stage %s needs stage %s, which the build plan does not order "
                              "before it (an ONBUILD trigger naming a stage?)",
                              st->label, dep->label);
    }
    pthread_mutex_lock(&s->mu);
    struct waiter w = {0};
    wait_until(b, st, stage_ended, dep, "stage ", dep->label, &w);
    int ok = dep->done;
    wait_end(b, st, &w);
    if (!ok)
        return kiln_error_set(err, KILN_E_FAIL, "stage %s: cancelled", st->label);
    return 0;
}

/* --- running ------------------------------------------------------------------- */

struct stage_job {
    struct build_ctx *b;
    struct stage_state *st;
    struct kiln_error *err;
    int rc, started;
    pthread_t th;
};

static void *stage_thread(void *arg)
{
    struct stage_job *j = arg;
    struct build_ctx *b = j->b;
    j->rc = build_run_stage(b, j->st, &j->err);
    pthread_mutex_lock(&b->sched->mu);
    if (j->rc < 0) {
        j->st->failed = 1;
        __atomic_store_n(&b->cancel, 1, __ATOMIC_SEQ_CST);
    } else {
        j->st->done = 1;
    }
    pthread_cond_broadcast(&b->sched->cv);
    pthread_mutex_unlock(&b->sched->mu);
    return NULL;
}

static int is_cancel_error(const struct kiln_error *e)
{
    return e != NULL && strstr(e->msg, ": cancelled") != NULL;
}

int build_sched_run(struct build_ctx *b, struct kiln_error **err)
{
    struct build_pool *own = b->o->pool == NULL ? build_pool_new(b->o->jobs) : NULL;
    struct build_pool *s = own != NULL ? own : b->o->pool;
    b->sched = s;

    size_t n = b->g->n_order;
    struct stage_job *v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = (struct stage_job){.b = b, .st = &b->stages[b->g->order[i]]};
        if (pthread_create(&v[i].th, NULL, stage_thread, &v[i]) == 0) {
            v[i].started = 1;
            continue;
        }
        v[i].rc = kiln_error_set(&v[i].err, KILN_E_FAIL, "stage %s: cannot start a thread",
                                 v[i].st->label);
        pthread_mutex_lock(&s->mu);
        v[i].st->failed = 1;
        __atomic_store_n(&b->cancel, 1, __ATOMIC_SEQ_CST);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    for (size_t i = 0; i < n; i++)
        if (v[i].started)
            pthread_join(v[i].th, NULL);
    /* The first real failure (in plan order), not a stage that stopped
     * because another failed. */
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].rc == 0)
            continue;
        if (rc == 0 || (is_cancel_error(*err) && !is_cancel_error(v[i].err))) {
            kiln_error_free(*err);
            *err = v[i].err;
            v[i].err = NULL;
        }
        rc = -1;
        kiln_error_free(v[i].err);
    }
    free(v);
    b->sched = NULL;
    build_pool_free(own);
    return rc;
}
