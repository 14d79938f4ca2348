/* kiln login / kiln logout: registry credentials in ~/.docker/config.json. */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
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

static struct registry_opts login_ro, logout_ro;
static const char *user, *pass_arg;
static int pass_stdin;

static const struct cli_opt login_opts[] = {
    {'u', "username", CLI_OPT_STRING, &user, "USER", "user name (asked for on a terminal)", NULL},
    {0, "password-stdin", CLI_OPT_FLAG, &pass_stdin, NULL, "read the password from stdin", NULL},
    {'p', "password", CLI_OPT_STRING, &pass_arg, "PASS",
     "password on the command line (discouraged)", NULL},
    CLI_REGISTRY_OPTS(&login_ro),
    CLI_OPT_END,
};

static const struct cli_spec login_spec = {
    .name = "login",
    .args = "REGISTRY",
    .summary = "log in to a registry (credentials kept in ~/.docker/config.json)",
    .text = "Checks the credentials against REGISTRY (host[:port], docker.io for Docker Hub)\n"
            "and stores them in $DOCKER_CONFIG/config.json (else ~/.docker/config.json),\n"
            "file mode 0600, where docker, podman and skopeo find them too.\n",
    .opts = login_opts,
    .min_args = 1,
    .max_args = 1,
};

static int cmd_login(struct cli_global *g, int argc, char **argv)
{
    (void)g;
    int first = cli_parse(&login_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *registry = argv[first];
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
    int r = registry_login(registry, user, pass, &login_ro, &err);
    explicit_bzero(pass, strlen(pass));
    if (r < 0)
        return cli_fail(err);
    printf("Login Succeeded\n");
    return EXIT_OK;
}

static const struct cli_opt logout_opts[] = {
    {0, "authfile", CLI_OPT_STRING, &logout_ro.auth_file, "FILE",
     "credentials file (default ~/.docker/config.json)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec logout_spec = {
    .name = "logout",
    .args = "REGISTRY",
    .summary = "forget the credentials of a registry",
    .text = "Removes REGISTRY's entry from the credentials file.\n",
    .opts = logout_opts,
    .min_args = 1,
    .max_args = 1,
};

static int cmd_logout(struct cli_global *g, int argc, char **argv)
{
    (void)g;
    int first = cli_parse(&logout_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct kiln_error *err = NULL;
    if (registry_logout(argv[first], &logout_ro, &err) < 0)
        return cli_fail(err);
    printf("Removed login credentials for %s\n", argv[first]);
    return EXIT_OK;
}

const struct cli_command cli_cmd_login = {
    .name = "login",
    .run = cmd_login,
    .spec = &login_spec,
};

const struct cli_command cli_cmd_logout = {
    .name = "logout",
    .run = cmd_logout,
    .spec = &logout_spec,
};
