/* The options pull, push and login share: --tls-verify, --cert-dir,
 * --authfile, --platform; parsed into struct registry_opts. */
#ifndef KILN_CLI_REGISTRY_OPTS_H
#define KILN_CLI_REGISTRY_OPTS_H

#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"

enum { CLI_OPT_TLS_VERIFY = 0x1001, CLI_OPT_CERT_DIR, CLI_OPT_AUTHFILE, CLI_OPT_PLATFORM };

#define CLI_REGISTRY_LONGOPTS                                                                      \
    {"tls-verify", optional_argument, NULL, CLI_OPT_TLS_VERIFY},                                   \
        {"cert-dir", required_argument, NULL, CLI_OPT_CERT_DIR},                                   \
        {"authfile", required_argument, NULL, CLI_OPT_AUTHFILE},                                   \
    {                                                                                              \
        "platform", required_argument, NULL, CLI_OPT_PLATFORM                                      \
    }

#define CLI_REGISTRY_HELP                                                                          \
    "  --tls-verify=false    skip TLS certificate checks and allow plain HTTP\n"                   \
    "  --cert-dir DIR        trust the CA certificates (*.crt) in DIR; DIR/*.cert+*.key\n"         \
    "                        is a client certificate\n"                                            \
    "  --authfile FILE       credentials file (default ~/.docker/config.json)\n"

/* Returns 0 if c was one of the shared options (stored into o), -1 if not or
 * if its value is invalid. */
static inline int cli_registry_opt(int c, const char *arg, struct registry_opts *o)
{
    switch (c) {
    case CLI_OPT_TLS_VERIFY:
        if (arg == NULL || strcmp(arg, "true") == 0)
            o->tls_no_verify = 0;
        else if (strcmp(arg, "false") == 0)
            o->tls_no_verify = 1;
        else
            return -1;
        return 0;
    case CLI_OPT_CERT_DIR:
        o->cert_dir = arg;
        return 0;
    case CLI_OPT_AUTHFILE:
        o->auth_file = arg;
        return 0;
    case CLI_OPT_PLATFORM:
        o->platform = arg;
        return 0;
    default:
        return -1;
    }
}

#endif
