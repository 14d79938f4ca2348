/* bench/parse_bench: parse and expand a Dockerfile N times and report the
 * time of one parse + expand (min and median), for bench/parse.sh.
 * "Expand" is what a build does before running anything: global ARGs, the
 * stage graph for the last stage, and every step of every needed stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/eval.h"
#include "dockerfile/graph.h"
#include "util/fs.h"

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One parse + expand; returns the number of steps expanded, -1 on error. */
static long once(const char *data, size_t len)
{
    struct dockerfile *df = NULL;
    struct df_eval *ev = NULL;
    struct df_graph *g = NULL;
    struct kiln_error *err = NULL;
    static const char *const args[] = {"VERSION=2.0"};
    struct df_eval_opts o = {.build_args = args, .n_build_args = 1};
    long steps = 0;
    if (df_parse(data, len, "Dockerfile", &df, &err) < 0 || df_eval_new(df, &o, &ev, &err) < 0 ||
        df_graph_build(ev, NULL, &g, &err) < 0) {
        fprintf(stderr, "parse_bench: %s\n", err ? err->msg : "failed");
        return -1;
    }
    for (size_t k = 0; k < g->n_order && steps >= 0; k++) {
        const struct df_stage *st = &df->stages[g->order[k]];
        struct df_scope *sc = NULL;
        if (df_scope_new(ev, st->index, NULL, 0, &sc, &err) < 0)
            return -1;
        for (size_t i = 0; i < st->n_instrs; i++) {
            struct df_step *step;
            if (df_scope_step(sc, &st->instrs[i], &step, &err) < 0) {
                fprintf(stderr, "parse_bench: %s\n", err->msg);
                steps = -1;
                break;
            }
            df_step_free(step);
            steps++;
        }
        df_scope_free(sc);
    }
    df_graph_free(g);
    df_eval_free(ev);
    df_free(df);
    return steps;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: parse_bench DOCKERFILE ITERATIONS [TIMES_FILE]\n");
        return 2;
    }
    char *data;
    size_t len;
    struct kiln_error *err = NULL;
    if (read_file(argv[1], 64u << 20, &data, &len, &err) < 0) {
        fprintf(stderr, "parse_bench: %s\n", err->msg);
        return 1;
    }
    int n = atoi(argv[2]);
    if (n < 1)
        n = 1;
    /* wall clock, and the thread's CPU time (what is left when the machine is
     * shared and the thread waits for a core) */
    double *t = calloc((size_t)n, sizeof(double)), *cpu = calloc((size_t)n, sizeof(double));
    long steps = once(data, len); /* warm-up */
    for (int i = 0; i < n && steps >= 0; i++) {
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
        steps = once(data, len);
        t[i] = now_ms(CLOCK_MONOTONIC) - t0;
        cpu[i] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    if (steps < 0)
        return 1;
    if (argc == 4) { /* every run's wall time, for bench_record */
        FILE *f = fopen(argv[3], "we");
        for (int i = 0; f != NULL && i < n; i++)
            fprintf(f, "%.3f%c", t[i], i + 1 < n ? ' ' : '\n');
        if (f != NULL)
            fclose(f);
    }
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    qsort(cpu, (size_t)n, sizeof(double), cmp_double);
    printf("parse+expand: %zu bytes, %ld steps expanded, %d runs: min %.3f ms, median %.3f ms "
           "(cpu: min %.3f ms, median %.3f ms)\n",
           len, steps, n, t[0], t[n / 2], cpu[0], cpu[n / 2]);
    free(t);
    free(cpu);
    free(data);
    return 0;
}
