/* Compose variables and the project model's pieces that need no container:
 * interpolation (every form of the spec, $$, errors), dotenv files, durations,
 * start order, the one-pod port check and what `compose restart` restarts
 * with a service. The CLI's view is
 * tests/e2e/compose_config.bats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose/compose.h"
#include "compose/internal.h"
#include "compose/stack.h"
#include "tap.h"
#include "util/human.h"

static struct compose_env env;

static void interp_is(const char *in, const char *want)
{
    char *out = NULL, *msg = NULL;
    int rc = compose_interpolate(in, &env, &out, &msg);
    if (rc < 0) {
        ok(0, "interpolate \"%s\": %s", in, msg);
        free(msg);
        return;
    }
    is_str(out, want, "interpolate \"%s\"", in);
    free(out);
}

static void interp_fails(const char *in, const char *want_msg)
{
    char *out = NULL, *msg = NULL;
    int rc = compose_interpolate(in, &env, &out, &msg);
    ok(rc < 0 && msg && strstr(msg, want_msg), "interpolate \"%s\" fails: %s", in,
       msg ? msg : "(no error)");
    free(out);
    free(msg);
}

static void test_interpolation(void)
{
    compose_env_init(&env);
    compose_env_set(&env, "A", "a", 1);
    compose_env_set(&env, "EMPTY", "", 1);
    compose_env_set(&env, "PORT", "8000", 1);
    compose_env_set(&env, "A", "kept", 0);
    is_str(compose_env_get(&env, "A"), "a", "set without replace keeps the first value");

    interp_is("plain", "plain");
    interp_is("$A ${A}", "a a");
    interp_is("${UNSET}", "");
    interp_is("x${A}y$A.z", "xaya.z");
    interp_is("$$A $${A}", "$A ${A}");
    interp_is("cost: 5$", "cost: 5$");
    interp_is("${UNSET:-dflt} ${EMPTY:-dflt} ${A:-dflt}", "dflt dflt a");
    interp_is("${UNSET-dflt} ${EMPTY-dflt}", "dflt ");
    interp_is("${A:+alt} ${EMPTY:+alt} ${EMPTY+alt} ${UNSET+alt}", "alt  alt ");
    interp_is("${UNSET:-${PORT}}", "8000");
    interp_is("${UNSET:-${ALSO:-deep}}", "deep");
    interp_is("${A:?must be set}", "a");
    interp_is("127.0.0.1:${PORT:-80}:80", "127.0.0.1:8000:80");
    interp_fails("${UNSET:?give UNSET a value}",
                 "required variable UNSET is missing a value: give UNSET a value");
    interp_fails("${EMPTY:?}", "required variable EMPTY is missing a value");
    interp_fails("${UNSET?}", "required variable UNSET");
    interp_is("${EMPTY?}", "");
    interp_fails("${A", "unterminated");
    interp_fails("${1A}", "invalid variable name");
    interp_fails("${A*b}", "invalid interpolation format");
}

static void test_dotenv(void)
{
    char path[] = "/tmp/kiln-test-dotenv-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("# a comment\n"
          "\n"
          "PLAIN=value # trailing comment\n"
          "export EXPORTED=yes\n"
          "SINGLE='${A} stays $literal'\n"
          "DOUBLE=\"line1\\nline2 ${A}\"\n"
          "REF=${PLAIN}-x\n"
          "  SPACED = around  \n"
          "EMPTYV=\n"
          "A=from-file\n",
          f);
    fclose(f);
    struct kiln_error *err = NULL;
    ok(compose_env_read_file(&env, path, 0, &err) == 0, "dotenv file reads");
    is_str(compose_env_get(&env, "PLAIN"), "value", "unquoted value, comment cut");
    is_str(compose_env_get(&env, "EXPORTED"), "yes", "export prefix");
    is_str(compose_env_get(&env, "SINGLE"), "${A} stays $literal", "single quotes are literal");
    is_str(compose_env_get(&env, "DOUBLE"), "line1\nline2 a", "double quotes: escapes, ${}");
    is_str(compose_env_get(&env, "REF"), "value-x", "a value refers to an earlier one");
    is_str(compose_env_get(&env, "SPACED"), "around", "spaces around = and value trimmed");
    is_str(compose_env_get(&env, "EMPTYV"), "", "empty value");
    is_str(compose_env_get(&env, "A"), "a", "the environment wins over the file");

    f = fopen(path, "w");
    fputs("OK=1\nBAD-START KEY=2\n", f);
    fclose(f);
    ok(compose_env_read_file(&env, path, 0, &err) < 0 && err && strstr(err->msg, ":2: invalid"),
       "bad name: error names file:line (%s)", err ? err->msg : "");
    kiln_error_free(err);
    err = NULL;
    f = fopen(path, "w");
    fputs("Q=\"open\n", f);
    fclose(f);
    ok(compose_env_read_file(&env, path, 0, &err) < 0 && err &&
           strstr(err->msg, ":1: unterminated"),
       "unterminated quote: error names file:line (%s)", err ? err->msg : "");
    kiln_error_free(err);
    err = NULL;
    unlink(path);
    ok(compose_env_read_file(&env, path, 0, &err) < 0 && err, "a missing file is an error");
    kiln_error_free(err);
}

static void duration_is(const char *in, const char *want)
{
    long long ns = compose_parse_duration_ns(in);
    if (want == NULL) {
        ok(ns < 0, "duration \"%s\" refused", in);
        return;
    }
    char b[HUMAN_DURATION_MAX];
    is_str(ns >= 0 ? human_duration(ns, b, sizeof(b)) : "(refused)", want, "duration \"%s\"", in);
}

static void test_durations(void)
{
    duration_is("30s", "30s");
    duration_is("1m30s", "1m30s");
    duration_is("90s", "1m30s");
    duration_is("500ms", "500ms");
    duration_is("1h", "1h0m0s");
    duration_is("2m", "2m0s");
    duration_is("1h30m", "1h30m0s");
    duration_is("1.001s", "1.001s");
    duration_is("0.000001s", "1µs");
    duration_is("100us", "100µs");
    duration_is("1.5", "1.5s");
    duration_is("10", "10s");
    duration_is("1.5s", "1.5s");
    duration_is("0s", "0s");
    duration_is("", NULL);
    duration_is("5 minutes", NULL);
    duration_is("-1s", NULL);
    duration_is("s", NULL);
}

/* A project from one compose file written here. */
static struct compose_project *load(const char *yaml, struct kiln_error **err)
{
    char dir[] = "/tmp/kiln-test-compose-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return NULL;
    char path[64];
    snprintf(path, sizeof(path), "%s/compose.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs(yaml, f);
    fclose(f);
    const char *files[] = {path};
    struct compose_opts o = {.files = files, .n_files = 1};
    struct compose_project *p = NULL;
    compose_load(&o, &p, err);
    unlink(path);
    rmdir(dir);
    return p;
}

static void test_order_and_ports(void)
{
    struct kiln_error *err = NULL;
    struct compose_project *p =
        load("services:\n"
             "  web: {image: w, depends_on: [api, cache]}\n"
             "  api: {image: a, depends_on: {db: {condition: service_healthy}}}\n"
             "  db: {image: d, ports: ['5432']}\n"
             "  cache: {image: c, ports: ['127.0.0.1:6379:6379']}\n",
             &err);
    ok(p != NULL, "project loads (%s)", err ? err->msg : "");
    if (p == NULL)
        return;
    size_t n;
    const char **order = compose_start_order(p, &n);
    char got[128] = "";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof(got) - len, "%s%s", i ? " " : "", order[i]);
    }
    is_str(got, "cache db api web", "start order: dependencies first, ties by name");
    free(order);
    ok(compose_check_ports(p, &err) == 0, "distinct ports pass");
    compose_project_free(p);

    p = load("services:\n"
             "  a: {image: x, ports: ['8080:80']}\n"
             "  b: {image: y, ports: ['8081:80']}\n",
             &err);
    ok(p && compose_check_ports(p, &err) < 0 && err &&
           strstr(err->msg, "\"a\" and \"b\" both listen on port 80/tcp"),
       "one pod: two services on one container port collide (%s)", err ? err->msg : "");
    kiln_error_free(err);
    err = NULL;
    compose_project_free(p);
    p = load("services:\n"
             "  a: {image: x, ports: ['8080:80']}\n"
             "  b: {image: y, ports: ['8080:81/tcp', '8080:81/udp']}\n",
             &err);
    ok(p && compose_check_ports(p, &err) < 0 && err &&
           strstr(err->msg, "both publish host port 8080/tcp"),
       "two services publishing one host port collide (%s)", err ? err->msg : "");
    kiln_error_free(err);
    compose_project_free(p);
}

/* compose_restart_set's names, sorted, space-separated. */
static void restart_set_is(const struct compose_project *p, const char *service, const char *want)
{
    json_t *set = compose_restart_set(p, &service, 1);
    size_t n;
    const char **order = compose_start_order(p, &n);
    char got[128] = "";
    for (size_t i = 0; i < n; i++) {
        if (!json_object_get(set, order[i]))
            continue;
        size_t len = strlen(got);
        snprintf(got + len, sizeof(got) - len, "%s%s", len ? " " : "", order[i]);
    }
    is_str(got, want, "restart %s restarts (in start order)", service);
    free(order);
    json_decref(set);
}

static void test_restart_set(void)
{
    struct kiln_error *err = NULL;
    struct compose_project *p = load(
        "services:\n"
        "  db: {image: d}\n"
        "  api: {image: a, depends_on: {db: {condition: service_started, restart: true}}}\n"
        "  worker: {image: w, depends_on: {api: {condition: service_started, restart: true}}}\n"
        "  plain: {image: p, depends_on: [db]}\n"
        "  off: {image: o, depends_on: {db: {condition: service_started, restart: false}}}\n"
        "  late: {image: l, depends_on: {plain: {condition: service_started, restart: "
        "true}}}\n",
        &err);
    ok(p != NULL, "project loads (%s)", err ? err->msg : "");
    if (p == NULL)
        return;
    restart_set_is(p, "db", "db api worker");
    restart_set_is(p, "api", "api worker");
    restart_set_is(p, "worker", "worker");
    restart_set_is(p, "plain", "plain late");
    compose_project_free(p);
}

int main(void)
{
    test_interpolation();
    test_dotenv();
    test_durations();
    test_order_and_ports();
    test_restart_set();
    compose_env_release(&env);
    return done_testing();
}
