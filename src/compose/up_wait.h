/* up_wait.c: waiting until a project's containers reach a state, for up's
 * depends_on conditions and --wait. Internal to src/compose/. */
#ifndef KILN_COMPOSE_UP_WAIT_H
#define KILN_COMPOSE_UP_WAIT_H

#include <jansson.h>

#include "compose/compose.h"
#include "util/error.h"

/* Waits until container name (of service) reaches cond: service_started
 * (running or already done), service_healthy, service_completed_successfully,
 * or "running" (--wait: running, and healthy when it has a check). Fails at
 * once on a state that cannot become cond (an exit, unhealthy, restarted
 * three times while waiting), else after timeout_s. */
int compose_wait_condition(const char *root, const char *service, const char *name,
                           const char *cond, long timeout_s, struct kiln_error **err);
/* Replicas up runs of a service: counts ({SERVICE: N}) as compose_up made it, else 1. */
long compose_replica_count(const json_t *counts, const char *service);
/* Waits for every replica of each of svc's dependencies to meet its
 * depends_on condition, announcing each on stderr. */
int compose_wait_deps(const char *root, const struct compose_project *p, const json_t *svc,
                      const json_t *counts, long timeout, struct kiln_error **err);

#endif
