/* The build's scheduler. Every stage the target needs runs in its own thread
 * from the start, and a step waits only for what it uses: a stage for the
 * stage its FROM names, a step for the stage a --from names. --jobs bounds
 * the steps running at once (a step waiting holds no job; the platforms of a
 * --platform build draw on one pool). Cache mounts shared by the steps of
 * one build, and of its other platforms, are taken in turn, since apt and others
 * lock their caches and fail rather than wait; a stage other stages depend
 * on has the first turn at a cache it will use. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/internal.h"
#include "dockerfile/mount.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

struct cache_use {
    size_t instr; /* index in the stage's instructions */
    char *id;     /* NULL: not known before expansion, so any */
};

struct sched_stage {
    int prio; /* longest chain of needed stages after it: the target 0 */
    struct cache_use *uses;
    size_t n_uses;
    size_t next_instr; /* the instruction running or next; uses before it are past */
};

/* What the builds running at once share: the platforms of one --platform
 * build (platforms.c) take their jobs from one pool and their turns at the
 * same cache mounts (a cache id is one directory in the store whatever the
 * platform, and two apt runs in it at once fail on apt's lock). */
struct build_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int free_jobs;
    const char **held; /* cache ids in use by running steps */
    size_t n_held, cap_held;
};

struct sched {
    struct build_pool *pool; /* the build's own, or o->pool */
    struct sched_stage *ss;  /* one per df stage */
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
    free(p->held);
    free(p);
}

/* --- what the Dockerfile says before anything runs ------------------------------ */

static void scan_cache_uses(const struct df_stage *ds, struct sched_stage *ss)
{
    for (size_t i = 0; i < ds->n_instrs; i++) {
        if (ds->instrs[i].kind != DF_RUN)
            continue;
        const char **specs = NULL;
        size_t n = df_instr_flag_all(&ds->instrs[i], "mount", &specs);
        for (size_t k = 0; k < n; k++) {
            struct df_mount dm = {0};
            cleanup_error struct kiln_error *e = NULL;
            int unknown = strchr(specs[k], '$') != NULL;
            int parsed = !unknown && df_mount_parse(specs[k], &dm, &e) == 0;
            if (unknown
                    ? strstr(specs[k], "cache") != NULL
                    : parsed && dm.type == DF_MOUNT_CACHE && strcmp(dm.sharing, "shared") == 0) {
                ss->uses = xrealloc(ss->uses, (ss->n_uses + 1) * sizeof(*ss->uses));
                ss->uses[ss->n_uses++] =
                    (struct cache_use){.instr = i, .id = unknown ? NULL : xstrdup(dm.id)};
            }
            df_mount_release(&dm);
        }
        free(specs);
    }
}

static void compute_prio(const struct df_graph *g, struct sched_stage *ss)
{
    /* g->order lists dependencies first: walking it backwards, every stage
     * that depends on s has its priority when s is reached. */
    for (size_t a = g->n_order; a-- > 0;) {
        size_t s = g->order[a];
        for (size_t b2 = a + 1; b2 < g->n_order; b2++) {
            const struct df_graph_stage *t = &g->stages[g->order[b2]];
            for (size_t k = 0; k < t->n_deps; k++)
                if (t->deps[k] == s && ss[t->index].prio + 1 > ss[s].prio)
                    ss[s].prio = ss[t->index].prio + 1;
        }
    }
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
        b->sched->pool->free_jobs++;
        pthread_cond_broadcast(&b->sched->pool->cv);
    }
    return had;
}

static void take_job(struct build_ctx *b, struct stage_state *st)
{
    while (b->sched->pool->free_jobs == 0 && !cancelled(b))
        pthread_cond_wait(&b->sched->pool->cv, &b->sched->pool->mu);
    if (b->sched->pool->free_jobs > 0) {
        b->sched->pool->free_jobs--;
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
            pthread_mutex_unlock(&b->sched->pool->mu);
            show_wait(b, st, what, name);
            pthread_mutex_lock(&b->sched->pool->mu);
            continue;
        }
        pthread_cond_wait(&b->sched->pool->cv, &b->sched->pool->mu);
    }
    return cancelled(b) ? -1 : 0;
}

/* Under mu: takes the job back and releases mu. */
static void wait_end(struct build_ctx *b, struct stage_state *st, const struct waiter *w)
{
    if (w->had_job)
        take_job(b, st);
    pthread_mutex_unlock(&b->sched->pool->mu);
    if (w->waited)
        show_resume(b, st);
}

static int job_free(struct build_ctx *b, struct stage_state *st, const void *arg)
{
    (void)st, (void)arg;
    return b->sched->pool->free_jobs > 0;
}

void build_job_begin(struct build_ctx *b, struct stage_state *st)
{
    pthread_mutex_lock(&b->sched->pool->mu);
    struct waiter w = {0};
    wait_until(b, st, job_free, NULL, "a job (--jobs)", "", &w);
    take_job(b, st); /* none when cancelled: the step stops at its next wait */
    wait_end(b, st, &w);
}

void build_job_end(struct build_ctx *b, struct stage_state *st)
{
    pthread_mutex_lock(&b->sched->pool->mu);
    give_job(b, st);
    pthread_mutex_unlock(&b->sched->pool->mu);
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
    struct sched *s = b->sched;
    struct stage_state *dep = &b->stages[stage];
    /* Only what the plan knows this stage needs (an ONBUILD trigger may name
     * others): waiting for anything else could wait for ever. */
    if (s == NULL)
        return 0;
    if (stage == st->index || !depends_on(b->g, st->index, stage, 0)) {
        pthread_mutex_lock(&s->pool->mu);
        int done = dep->done;
        pthread_mutex_unlock(&s->pool->mu);
        if (done)
            return 0;
        return kiln_error_set(err, KILN_E_FAIL,
                              "stage %s needs stage %s, which the build plan does not order "
                              "before it (an ONBUILD trigger naming a stage?)",
                              st->label, dep->label);
    }
    pthread_mutex_lock(&s->pool->mu);
    struct waiter w = {0};
    wait_until(b, st, stage_ended, dep, "stage ", dep->label, &w);
    int ok = dep->done;
    wait_end(b, st, &w);
    if (!ok)
        return kiln_error_set(err, KILN_E_FAIL, "stage %s: cancelled", st->label);
    return 0;
}

/* Under mu: whether a stage that goes before st at a shared cache (a higher
 * priority) still has a step to run that mounts one of ids. */
static int owed_to_others(struct build_ctx *b, struct stage_state *st, const char *const *ids,
                          size_t n)
{
    struct sched *s = b->sched;
    for (size_t a = 0; a < b->g->n_order; a++) {
        size_t p = b->g->order[a];
        struct stage_state *ps = &b->stages[p];
        if (p == st->index || ps->done || ps->failed || s->ss[p].prio <= s->ss[st->index].prio)
            continue;
        for (size_t u = 0; u < s->ss[p].n_uses; u++) {
            const struct cache_use *cu = &s->ss[p].uses[u];
            if (cu->instr < s->ss[p].next_instr)
                continue;
            for (size_t k = 0; k < n; k++)
                if (cu->id == NULL || strcmp(cu->id, ids[k]) == 0)
                    return 1;
        }
    }
    return 0;
}

static int in_use(const struct build_pool *p, const char *const *ids, size_t n)
{
    for (size_t h = 0; h < p->n_held; h++)
        for (size_t k = 0; k < n; k++)
            if (strcmp(p->held[h], ids[k]) == 0)
                return 1;
    return 0;
}

struct turn_want {
    const char *const *ids;
    size_t n;
};

static int turn_free(struct build_ctx *b, struct stage_state *st, const void *arg)
{
    const struct turn_want *t = arg;
    return !in_use(b->sched->pool, t->ids, t->n) && !owed_to_others(b, st, t->ids, t->n);
}

int build_cache_turn_take(struct build_ctx *b, struct stage_state *st, const char *const *ids,
                          size_t n, struct kiln_error **err)
{
    struct sched *s = b->sched;
    if (s == NULL || n == 0)
        return 0;
    pthread_mutex_lock(&s->pool->mu);
    struct waiter w = {0};
    struct turn_want want = {ids, n};
    int ok = wait_until(b, st, turn_free, &want, "its turn at cache ", ids[0], &w) == 0;
    if (ok) {
        if (s->pool->n_held + n > s->pool->cap_held) {
            s->pool->cap_held = s->pool->n_held + n + 8;
            s->pool->held = xrealloc(s->pool->held, s->pool->cap_held * sizeof(*s->pool->held));
        }
        for (size_t k = 0; k < n; k++)
            s->pool->held[s->pool->n_held++] = ids[k];
    }
    wait_end(b, st, &w);
    if (!ok)
        return kiln_error_set(err, KILN_E_FAIL, "stage %s: cancelled", st->label);
    return 0;
}

void build_cache_turn_give(struct build_ctx *b, const char *const *ids, size_t n)
{
    struct sched *s = b->sched;
    if (s == NULL || n == 0)
        return;
    pthread_mutex_lock(&s->pool->mu);
    for (size_t k = 0; k < n; k++) {
        for (size_t h = 0; h < s->pool->n_held; h++) {
            if (s->pool->held[h] == ids[k]) {
                s->pool->held[h] = s->pool->held[--s->pool->n_held];
                break;
            }
        }
    }
    pthread_cond_broadcast(&s->pool->cv);
    pthread_mutex_unlock(&s->pool->mu);
}

void build_stage_at(struct build_ctx *b, struct stage_state *st, size_t instr)
{
    pthread_mutex_lock(&b->sched->pool->mu);
    b->sched->ss[st->index].next_instr = instr;
    pthread_cond_broadcast(&b->sched->pool->cv);
    pthread_mutex_unlock(&b->sched->pool->mu);
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
    pthread_mutex_lock(&b->sched->pool->mu);
    if (j->rc < 0) {
        j->st->failed = 1;
        __atomic_store_n(&b->cancel, 1, __ATOMIC_SEQ_CST);
    } else {
        j->st->done = 1;
    }
    pthread_cond_broadcast(&b->sched->pool->cv);
    pthread_mutex_unlock(&b->sched->pool->mu);
    return NULL;
}

static int is_cancel_error(const struct kiln_error *e)
{
    return e != NULL && strstr(e->msg, ": cancelled") != NULL;
}

int build_sched_run(struct build_ctx *b, struct kiln_error **err)
{
    struct sched s = {0};
    struct build_pool *own = b->o->pool == NULL ? build_pool_new(b->o->jobs) : NULL;
    s.pool = own != NULL ? own : b->o->pool;
    s.ss = xcalloc(b->df->n_stages + 1, sizeof(*s.ss));
    for (size_t a = 0; a < b->g->n_order; a++)
        scan_cache_uses(&b->df->stages[b->g->order[a]], &s.ss[b->g->order[a]]);
    compute_prio(b->g, s.ss);
    b->sched = &s;

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
        pthread_mutex_lock(&s.pool->mu);
        v[i].st->failed = 1;
        __atomic_store_n(&b->cancel, 1, __ATOMIC_SEQ_CST);
        pthread_cond_broadcast(&s.pool->cv);
        pthread_mutex_unlock(&s.pool->mu);
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
    for (size_t i = 0; i < b->df->n_stages; i++) {
        for (size_t u = 0; u < s.ss[i].n_uses; u++)
            free(s.ss[i].uses[u].id);
        free(s.ss[i].uses);
    }
    free(s.ss);
    build_pool_free(own);
    return rc;
}
