/* libFuzzer target for compose files: the input is read as a compose.yaml
 * (libyaml, interpolation, normalisation, checks), printed back as YAML, and
 * also interpolated as one string and read as a dotenv file. Nothing may
 * crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/compose.h"

static char dir[64];

static void write_file(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    fwrite(data, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "/tmp/kiln-fuzz-compose-%d", (int)getpid());
        if (mkdir(dir, 0700) < 0 && access(dir, F_OK) != 0)
            abort();
    }
    char path[96], envpath[96];
    snprintf(path, sizeof(path), "%s/compose.yaml", dir);
    snprintf(envpath, sizeof(envpath), "%s/.env", dir);
    write_file(path, data, n);

    const char *files[] = {path};
    struct compose_opts o = {.files = files, .n_files = 1};
    struct compose_project *p = NULL;
    struct kiln_error *err = NULL;
    if (compose_load(&o, &p, &err) == 0) {
        char *yaml = compose_to_yaml(p->model, &err);
        free(yaml);
        size_t count;
        free(compose_start_order(p, &count));
        compose_check_ports(p, &err);
        compose_project_free(p);
    }
    kiln_error_free(err);
    err = NULL;

    char *s = malloc(n + 1);
    memcpy(s, data, n);
    s[n] = '\0';
    struct compose_env env;
    compose_env_init(&env);
    compose_env_set(&env, "A", "a", 1);
    compose_env_set(&env, "EMPTY", "", 1);
    char *out = NULL, *msg = NULL;
    compose_interpolate(s, &env, &out, &msg);
    free(out);
    free(msg);
    free(s);
    write_file(envpath, data, n);
    compose_env_read_file(&env, envpath, 0, &err);
    kiln_error_free(err);
    compose_env_release(&env);
    return 0;
}
