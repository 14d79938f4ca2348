/* A container's health record (its health.json) in the shape of Docker's
 * State.Health (Engine API schemas Health and HealthcheckResult):
 *   {"Status": "starting"|"healthy"|"unhealthy", "FailingStreak": N,
 *    "Log": [{"Start": RFC3339, "End": RFC3339, "ExitCode": N, "Output": S}, ...]}
 * with the log oldest first and Docker's rules for what a probe's result does
 * to it (daemon/health.go: handleProbeResult, initHealthMonitor, limitedBuffer). */
#ifndef KILN_RUNTIME_HEALTH_H
#define KILN_RUNTIME_HEALTH_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#define CTR_HEALTH_LOG_MAX    5    /* Docker's maxLogEntries */
#define CTR_HEALTH_OUTPUT_MAX 4096 /* Docker's maxOutputLen: bytes of output kept */
#define CTR_RFC3339_MAX       40

/* t (CLOCK_REALTIME) as Go writes a time.Time in JSON (RFC3339Nano) in UTC:
 * "2026-12-06T08:00:00.123456789Z", the fraction's trailing zeros dropped
 * (".1Z"), none when it is zero ("08:00:00Z"). Returns buf. */
const char *ctr_rfc3339(const struct timespec *t, char buf[CTR_RFC3339_MAX]);

/* One run of a probe, as the checker saw it. */
struct ctr_health_result {
    struct timespec start, end; /* CLOCK_REALTIME */
    int exit_code;              /* 0 healthy; -1 it could not run or timed out */
    const char *output;         /* what it wrote, or why it could not run */
    size_t output_len;
    int truncated;             /* it wrote more than output_len bytes */
    long long timed_out_after; /* > 0: killed after that many nanoseconds */
};

/* r as a HealthcheckResult: Output cut to CTR_HEALTH_OUTPUT_MAX bytes and
 * "..." added when anything was dropped; a probe that timed out says "Health
 * check exceeded timeout (30s)" (": " and its output when it wrote any). */
json_t *ctr_health_result_json(const struct ctr_health_result *r);

/* The record of a container that (re)starts: Status starting, FailingStreak
 * 0, and the log of the previous record (prev, may be NULL) kept, as Docker
 * keeps it across restarts. */
json_t *ctr_health_begin(const json_t *prev);

/* Records r in health: appended to Log (the oldest dropped beyond
 * CTR_HEALTH_LOG_MAX); exit code 0 makes it healthy with FailingStreak 0;
 * a failure adds to FailingStreak, unless the container is still starting
 * and r started within its start period (in_start_period), and makes it
 * unhealthy once FailingStreak reaches retries. */
void ctr_health_add(json_t *health, const struct ctr_health_result *r, int retries,
                    int in_start_period);

/* A health.json as read, in the shape above whichever kiln wrote it: Start
 * and End that an older kiln wrote as seconds since the epoch become RFC 3339
 * strings. NULL when h is not an object. */
json_t *ctr_health_normalize(const json_t *h);

#endif
