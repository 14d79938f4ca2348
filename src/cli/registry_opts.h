/* The options pull, push, login and build share (--tls-verify, --cert-dir,
 * --authfile), as entries of their option tables (cli/opt.h) filling a
 * struct registry_opts of static storage:
 *   static struct registry_opts ro;
 *   static const struct cli_opt opts[] = {..., CLI_REGISTRY_OPTS(&ro), CLI_OPT_END}; */
#ifndef KILN_CLI_REGISTRY_OPTS_H
#define KILN_CLI_REGISTRY_OPTS_H

#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "registry/registry.h"

/* --tls-verify[=true|false] into ctx, a struct registry_opts. */
static inline int cli_registry_tls_verify(void *ctx, const struct cli_opt *opt, const char *arg)
{
    struct registry_opts *o = ctx;
    if (arg == NULL || strcmp(arg, "true") == 0)
        o->tls_no_verify = 0;
    else if (strcmp(arg, "false") == 0)
        o->tls_no_verify = 1;
    else
        return cli_opt_error(opt, "give true or false, not \"%s\"", arg);
    return 0;
}

#define CLI_REGISTRY_OPTS(ro)                                                                      \
    {0,                                                                                            \
     "tls-verify",                                                                                 \
     CLI_OPT_FUNC_OPTARG,                                                                          \
     (ro),                                                                                         \
     "false",                                                                                      \
     "skip TLS certificate checks and allow plain HTTP",                                           \
     cli_registry_tls_verify},                                                                     \
        {0,                                                                                        \
         "cert-dir",                                                                               \
         CLI_OPT_STRING,                                                                           \
         &(ro)->cert_dir,                                                                          \
         "DIR",                                                                                    \
         "trust the CA certificates (*.crt) in DIR; DIR/*.cert+*.key\nis a client certificate",    \
         NULL},                                                                                    \
    {                                                                                              \
        0, "authfile", CLI_OPT_STRING, &(ro)->auth_file, "FILE",                                   \
            "credentials file (default ~/.docker/config.json)", NULL                               \
    }

#endif
