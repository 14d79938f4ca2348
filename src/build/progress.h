/* Build progress for people and programs. The executor reports steps and
 * their output here; the reporter renders them to the fd the CLI gives it:
 *   tty   a live view like BuildKit's: finished steps scroll up, running steps
 *         stay at the bottom with their time and last output lines;
 *   plain "#N [stage i/n] TEXT", every output line as "#N 1.234 line", "#N DONE 1.2s";
 *   json  one JSON object per line (type step|log|message|summary);
 *   quiet nothing, except the last output lines of a failing step.
 * Thread-safe: parallel stages report at once and their lines stay whole. */
#ifndef KILN_BUILD_PROGRESS_H
#define KILN_BUILD_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

enum progress_mode { PROGRESS_QUIET, PROGRESS_PLAIN, PROGRESS_TTY, PROGRESS_JSON };

struct progress;

/* fd is not closed by progress_free. */
struct progress *progress_new(enum progress_mode mode, int fd);
void progress_free(struct progress *p);

/* A step line such as "[build 2/5] RUN make". Returns the step's id. */
int progress_step_begin(struct progress *p, const char *name);
void progress_step_output(struct progress *p, int id, const char *data, size_t len);
/* The step waits (for a stage, a cache, a job) before its work: shown as
 * such; resume starts its clock again, so its time is its own work. */
void progress_step_wait(struct progress *p, int id, const char *what);
void progress_step_resume(struct progress *p, int id);
void progress_step_cached(struct progress *p, int id);
void progress_step_done(struct progress *p, int id);
/* Marks the step failed and shows its last output lines (in every mode). */
void progress_step_error(struct progress *p, int id, const char *msg);
/* A line not tied to a step (warnings, "pulling ..."). */
void progress_message(struct progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct progress_summary {
    const char *image_id; /* "sha256:..." */
    const char *const *tags;
    size_t n_tags;
    uint64_t size; /* image size: config + layers */
    unsigned steps_run, steps_cached;
    double wall_seconds;
};
void progress_summary(struct progress *p, const struct progress_summary *s);

/* Steps begun, run and cached so far (for the summary). */
void progress_counts(struct progress *p, unsigned *run, unsigned *cached);

#endif
