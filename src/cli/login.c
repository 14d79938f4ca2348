/* kiln login / kiln logout: registry credentials in ~/.docker/config.json. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/registry_opts.h"
#include "registry/registry.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* One line from f without its newline; NULL at EOF. */
static char *read_line(FILE *f, int echo_off)
{
    struct termios old, quiet;
    int restore = 0;
    if (echo_off && isatty(fileno(f)) && tcgetattr(fileno(f), &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        restore = tcsetattr(fileno(f), TCSAFLUSH, &quiet) == 0;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (restore) {
        tcsetattr(fileno(f), TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static int cmd_login(struct cli_global *g, int argc, char **argv)
{
    (void)g;
    static const struct option opts[] = {
        {"username", required_argument, NULL, 'u'}, {"password", required_argument, NULL, 'p'},
        {"password-stdin", no_argument, NULL, 'P'}, CLI_REGISTRY_LONGOPTS,
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    struct registry_opts ro = {0};
    const char *user = NULL, *pass_arg = NULL;
    int pass_stdin = 0, c;
    while ((c = getopt_long(argc, argv, "u:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            user = optarg;
            break;
        case 'p':
            pass_arg = optarg;
            break;
        case 'P':
            pass_stdin = 1;
            break;
        case 'h':
            return cli_print_help("login");
        default:
            if (cli_registry_opt(c, optarg, &ro) == 0)
                break;
            return cli_usage_error("login", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("login", "expects exactly one REGISTRY");
    const char *registry = argv[optind];
    cleanup_free char *user_buf = NULL, *pass = NULL;
    if (user == NULL) {
        if (pass_stdin || !isatty(STDIN_FILENO))
            return cli_usage_error("login", "give the user name with -u");
        fprintf(stderr, "Username: ");
        user = user_buf = read_line(stdin, 0);
        if (user == NULL || user[0] == '\0')
            return cli_usage_error("login", "no user name given");
    }
    if (pass_arg != NULL) {
        if (pass_stdin)
            return cli_usage_error("login", "--password and --password-stdin exclude each other");
        cli_warn("--password on the command line is visible to other users; use "
                 "--password-stdin");
        pass = xstrdup(pass_arg);
    } else if (pass_stdin) {
        pass = read_line(stdin, 0);
    } else if (isatty(STDIN_FILENO)) {
        fprintf(stderr, "Password: ");
        pass = read_line(stdin, 1);
    } else {
        return cli_usage_error("login", "no password: use --password-stdin");
    }
    if (pass == NULL || pass[0] == '\0')
        return cli_usage_error("login", "empty password");
    struct kiln_error *err = NULL;
    int r = registry_login(registry, user, pass, &ro, &err);
    explicit_bzero(pass, strlen(pass));
    if (r < 0)
        return cli_fail(err);
    printf("Login Succeeded\n");
    return EXIT_OK;
}

static int cmd_logout(struct cli_global *g, int argc, char **argv)
{
    (void)g;
    static const struct option opts[] = {
        {"authfile", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct registry_opts ro = {0};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'A':
            ro.auth_file = optarg;
            break;
        case 'h':
            return cli_print_help("logout");
        default:
            return cli_usage_error("logout", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("logout", "expects exactly one REGISTRY");
    struct kiln_error *err = NULL;
    if (registry_logout(argv[optind], &ro, &err) < 0)
        return cli_fail(err);
    printf("Removed login credentials for %s\n", argv[optind]);
    return EXIT_OK;
}

const struct cli_command cli_cmd_login = {
    .name = "login",
    .run = cmd_login,
    .summary = "log in to a registry (credentials kept in ~/.docker/config.json)",
    .usage =
        "Usage: kiln login [-u USER] [--password-stdin] [OPTIONS] REGISTRY\n\n"
        "Checks the credentials against REGISTRY (host[:port], docker.io for Docker Hub)\n"
        "and stores them in $DOCKER_CONFIG/config.json (else ~/.docker/config.json),\n"
        "file mode 0600, where docker, podman and skopeo find them too.\n\n"
        "Options:\n"
        "  -u, --username USER   user name (asked for on a terminal)\n"
        "  --password-stdin      read the password from stdin\n"
        "  -p, --password PASS   password on the command line (discouraged)\n" CLI_REGISTRY_HELP,
};

const struct cli_command cli_cmd_logout = {
    .name = "logout",
    .run = cmd_logout,
    .summary = "forget the credentials of a registry",
    .usage = "Usage: kiln logout [--authfile FILE] REGISTRY\n\n"
             "Removes REGISTRY's entry from the credentials file.\n",
};
