/* Temporary: the frontend's API compiles against these until the real
 * implementation lands; every entry point fails with "not implemented". */
#include <stdlib.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/eval.h"
#include "dockerfile/expand.h"
#include "dockerfile/graph.h"
#include "dockerfile/plan.h"

#define NOTYET(err) kiln_error_set(err, KILN_E_FAIL, "dockerfile frontend: not implemented yet")

