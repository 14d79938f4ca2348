/* kiln login / logout: check credentials against the registry, then keep
 * them in the credentials file (or forget them). */
#include <string.h>

#include "registry/client.h"
#include "registry/creds.h"
#include "registry/registry.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

int registry_login(const char *registry, const char *user, const char *password,
                   const struct registry_opts *opts, struct kiln_error **err)
{
    cleanup_free char *name = creds_registry_name(registry);
    if (name[0] == '\0')
        return kiln_error_set(err, KILN_E_USAGE, "login: no registry given");
    const char *host = strcmp(name, "docker.io") == 0 ? "registry-1.docker.io" : name;
    struct reg_client *c = NULL;
    if (reg_client_new(host, name, opts, &c, err) < 0)
        return -1;
    reg_client_set_credentials(c, user, password);
    int r = reg_client_ping(c, 1, err);
    reg_client_free(c);
    if (r < 0)
        return kiln_error_prefix(err, "login to %s", name);
    cleanup_free char *path = creds_path(opts ? opts->auth_file : NULL);
    return creds_store(path, name, user, password, err);
}

int registry_logout(const char *registry, const struct registry_opts *opts, struct kiln_error **err)
{
    cleanup_free char *name = creds_registry_name(registry);
    cleanup_free char *path = creds_path(opts ? opts->auth_file : NULL);
    return creds_erase(path, name, err);
}
