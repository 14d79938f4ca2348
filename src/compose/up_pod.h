/* up_pod.c: which services share the project's pod. compose_ensure_pod,
 * which makes or reuses the pod, is in stack.h. Internal to src/compose/. */
#ifndef KILN_COMPOSE_UP_POD_H
#define KILN_COMPOSE_UP_POD_H

#include <jansson.h>

/* 1 unless the service's network_mode is host or none. */
int compose_service_in_pod(const json_t *svc);

#endif
