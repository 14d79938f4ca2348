/* runtime_run: placeholder until the isolation path lands (next commit). */
#include "runtime/runtime.h"

int runtime_run(const struct rt_spec *s, int *status, struct kiln_error **err)
{
    (void)s;
    *status = RT_EXIT_SETUP;
    return kiln_error_set(err, KILN_E_FAIL, "runtime: not built yet");
}
