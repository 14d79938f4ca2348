/* Health records (runtime/health.h) against Docker's State.Health: RFC 3339
 * times as Go writes them, the last five probes oldest first, output cut at
 * 4096 bytes with "...", Docker's failing-streak rules, and health.json files
 * of an older kiln (epoch seconds) read in the same shape. */
#include <stdlib.h>
#include <sys/stat.h>

#include "runtime/container.h"
#include "runtime/health.h"
#include "tap.h"
#include "util/strbuf.h"

#define T0 1796544000 /* 2026-12-06T08:00:00Z */

static void rfc3339_cases(void)
{
    char buf[CTR_RFC3339_MAX];
    struct timespec t = {T0, 123456789};
    is_str(ctr_rfc3339(&t, buf), "2026-12-06T08:00:00.123456789Z", "nanoseconds, UTC");
    t.tv_nsec = 100000000;
    is_str(ctr_rfc3339(&t, buf), "2026-12-06T08:00:00.1Z", "trailing zeros dropped as Go does");
    t.tv_nsec = 120;
    is_str(ctr_rfc3339(&t, buf), "2026-12-06T08:00:00.00000012Z", "leading zeros of the fraction");
    t.tv_nsec = 0;
    is_str(ctr_rfc3339(&t, buf), "2026-12-06T08:00:00Z", "no fraction when it is zero");
}

/* The result's JSON as text (keys in the order written). */
static char *dumped(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static const char *output_of(const json_t *e)
{
    return json_string_value(json_object_get(e, "Output"));
}

static void result_cases(void)
{
    struct ctr_health_result r = {
        .start = {T0, 5}, .end = {T0 + 1, 250000000}, .exit_code = 3, .output = "no\n"};
    r.output_len = 3;
    json_t *j = ctr_health_result_json(&r);
    char *s = dumped(j);
    is_str(s,
           "{\"Start\":\"2026-12-06T08:00:00.000000005Z\",\"End\":\"2026-12-06T08:00:01.25Z\","
           "\"ExitCode\":3,\"Output\":\"no\\n\"}",
           "HealthcheckResult: Start, End (RFC 3339 strings), ExitCode, Output");
    free(s);
    json_decref(j);

    char *big = malloc(5000);
    memset(big, 'x', 5000);
    r.output = big;
    r.output_len = 5000;
    j = ctr_health_result_json(&r);
    is_int(strlen(output_of(j)), 4096 + 3, "output over 4096 bytes: 4096 kept");
    ok(strcmp(output_of(j) + 4096, "...") == 0, "and \"...\" added, as Docker's limitedBuffer");
    json_decref(j);
    r.output_len = 4096;
    j = ctr_health_result_json(&r);
    is_int(strlen(output_of(j)), 4096, "exactly 4096 bytes: kept whole, no \"...\"");
    json_decref(j);
    r.truncated = 1;
    j = ctr_health_result_json(&r);
    ok(strlen(output_of(j)) == 4099 && strcmp(output_of(j) + 4096, "...") == 0,
       "4096 bytes kept of more the probe wrote: \"...\"");
    json_decref(j);
    free(big);

    r.truncated = 0;
    r.output = "a\xff"
               "b\xe2\x82";
    r.output_len = 5;
    j = ctr_health_result_json(&r);
    is_str(output_of(j),
           "a\xef\xbf\xbd"
           "b\xef\xbf\xbd\xef\xbf\xbd",
           "bytes that are not UTF-8 become U+FFFD (the entry is not lost)");
    json_decref(j);

    r.exit_code = -1;
    r.output = NULL;
    r.output_len = 0;
    r.timed_out_after = 30000000000LL;
    j = ctr_health_result_json(&r);
    is_str(output_of(j), "Health check exceeded timeout (30s)", "timeout: Docker's message");
    is_int(json_integer_value(json_object_get(j, "ExitCode")), -1, "timeout: exit code -1");
    json_decref(j);
    static const struct {
        long long ns;
        const char *want;
    } durs[] = {{90000000000LL, "1m30s"},
                {3600000000000LL, "1h0m0s"},
                {1500000000LL, "1.5s"},
                {500000000LL, "500ms"},
                {2500000LL, "2.5ms"}};
    for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
        r.timed_out_after = durs[i].ns;
        r.output = "partial";
        r.output_len = 7;
        j = ctr_health_result_json(&r);
        char *want = xasprintf("Health check exceeded timeout (%s): partial", durs[i].want);
        is_str(output_of(j), want, "timeout after %s, with what it wrote", durs[i].want);
        free(want);
        json_decref(j);
    }
}

static void add(json_t *h, int code, int retries, int in_start_period, const char *out)
{
    struct ctr_health_result r = {.start = {T0, 0}, .end = {T0, 1}, .exit_code = code};
    r.output = out;
    r.output_len = strlen(out);
    ctr_health_add(h, &r, retries, in_start_period);
}

static const char *status(const json_t *h)
{
    return json_string_value(json_object_get(h, "Status"));
}

static long long streak(const json_t *h)
{
    return json_integer_value(json_object_get(h, "FailingStreak"));
}

static void record_cases(void)
{
    json_t *h = ctr_health_begin(NULL);
    char *s = dumped(h);
    is_str(s, "{\"Status\":\"starting\",\"FailingStreak\":0,\"Log\":[]}", "a fresh record");
    free(s);
    add(h, 1, 2, 1, "f");
    ok(strcmp(status(h), "starting") == 0 && streak(h) == 0,
       "a failure within the start period while starting: not counted");
    add(h, 1, 2, 0, "f");
    ok(strcmp(status(h), "starting") == 0 && streak(h) == 1,
       "after the start period: counted, still starting below retries");
    add(h, 0, 2, 0, "ok");
    ok(strcmp(status(h), "healthy") == 0 && streak(h) == 0, "a pass: healthy, streak reset");
    add(h, 1, 2, 1, "f");
    ok(strcmp(status(h), "healthy") == 0 && streak(h) == 1,
       "once it passed, a failure counts even within the start period");
    add(h, 2, 2, 0, "f");
    ok(strcmp(status(h), "unhealthy") == 0 && streak(h) == 2, "retries failures: unhealthy");
    add(h, 0, 2, 0, "ok");
    ok(strcmp(status(h), "healthy") == 0 && streak(h) == 0, "a pass again: healthy, streak 0");
    json_decref(h);

    h = ctr_health_begin(NULL);
    char out[8];
    for (int i = 1; i <= 7; i++) {
        snprintf(out, sizeof(out), "%d", i);
        add(h, 0, 3, 0, out);
    }
    json_t *log = json_object_get(h, "Log");
    is_int(json_array_size(log), 5, "five entries kept");
    ok(strcmp(output_of(json_array_get(log, 0)), "3") == 0 &&
           strcmp(output_of(json_array_get(log, 4)), "7") == 0,
       "the last five, oldest first");

    add(h, 1, 1, 0, "down");
    json_t *again = ctr_health_begin(h);
    ok(strcmp(status(again), "starting") == 0 && streak(again) == 0,
       "a restart: starting, streak 0");
    is_int(json_array_size(json_object_get(again, "Log")), 5, "a restart keeps the log");
    is_str(output_of(json_array_get(json_object_get(again, "Log"), 4)), "down",
           "a restart keeps the log's order");
    json_decref(again);
    json_decref(h);
}

static void old_file_cases(void)
{
    json_t *old = json_loads("{\"Status\":\"healthy\",\"FailingStreak\":0,\"Log\":[{\"Start\":"
                             "1796544000,\"End\":1796544001,\"ExitCode\":0,\"Output\":\"fine\"}]}",
                             0, NULL);
    json_t *h = ctr_health_normalize(old);
    char *s = dumped(h);
    is_str(
        s,
        "{\"Status\":\"healthy\",\"FailingStreak\":0,\"Log\":[{\"Start\":\"2026-12-06T08:00:00Z\","
        "\"End\":\"2026-12-06T08:00:01Z\",\"ExitCode\":0,\"Output\":\"fine\"}]}",
        "an older kiln's epoch seconds read as RFC 3339");
    free(s);
    json_t *again = ctr_health_normalize(h);
    ok(json_equal(again, h), "a record in the new shape reads back as it is");
    json_decref(again);
    json_decref(h);
    json_decref(old);
    ok(ctr_health_normalize(NULL) == NULL, "no record: NULL");

    /* Through the reader kiln inspect and ps use, from a container directory. */
    char root[] = "/tmp/kiln-test-health-XXXXXX";
    if (mkdtemp(root) == NULL) {
        ok(0, "mkdtemp");
        return;
    }
    char *dir = ctr_dir(root, "abc");
    tap_sh("mkdir -p %s && printf '%%s' '{\"Status\":\"unhealthy\",\"FailingStreak\":3,\"Log\":["
           "{\"Start\":1796544002,\"End\":1796544003,\"ExitCode\":1,\"Output\":\"a\"},"
           "{\"Start\":1796544004,\"End\":1796544005,\"ExitCode\":1,\"Output\":\"b\"}]}' "
           "> %s/health.json",
           dir, dir);
    h = ctr_load_health(root, "abc");
    json_t *log = json_object_get(h, "Log");
    is_str(status(h), "unhealthy", "old health.json: status");
    is_int(streak(h), 3, "old health.json: failing streak");
    is_str(json_string_value(json_object_get(json_array_get(log, 1), "End")),
           "2026-12-06T08:00:05Z", "old health.json: End as RFC 3339");
    is_str(output_of(json_array_get(log, 0)), "a", "old health.json: the log's order");
    json_decref(h);
    tap_sh("rm -rf %s", root);
    free(dir);
}

/* hc's probe as one line: its argv joined by "|" */
static char *argv_line(const struct ctr_healthcheck *hc)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    for (size_t i = 0; hc->argv && hc->argv[i]; i++)
        strbuf_addf(&sb, "%s%s", i ? "|" : "", hc->argv[i]);
    return strbuf_detach(&sb);
}

/* CMD-SHELL under the container's SHELL (Docker's getShell), else /bin/sh -c;
 * CMD as it is; NONE none. */
static void shell_cases(void)
{
    json_t *hcj = json_pack("{s:[s,s]}", "Test", "CMD-SHELL", "exit 3");
    json_t *shell = json_pack("[s,s,s]", "/bin/bash", "-o", "pipefail");
    json_t *bad = json_pack("[s,i]", "/bin/bash", 1);
    struct ctr_healthcheck hc;
    const struct {
        const json_t *shell;
        const char *want, *name;
    } cases[] = {{shell, "/bin/bash|-o|pipefail|exit 3", "CMD-SHELL: the container's SHELL"},
                 {NULL, "/bin/sh|-c|exit 3", "CMD-SHELL without SHELL: /bin/sh -c"},
                 {bad, "/bin/sh|-c|exit 3", "a SHELL that is not all strings: /bin/sh -c"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(ctr_healthcheck_from_json(hcj, cases[i].shell, &hc, NULL) == 0, "%s: read",
           cases[i].name);
        char *line = argv_line(&hc);
        is_str(line, cases[i].want, "%s", cases[i].name);
        free(line);
        ctr_healthcheck_release(&hc);
    }
    json_decref(hcj);
    hcj = json_pack("{s:[s,s,s]}", "Test", "CMD", "probe", "--x");
    ctr_healthcheck_from_json(hcj, shell, &hc, NULL);
    char *line = argv_line(&hc);
    is_str(line, "probe|--x", "CMD: not under SHELL");
    free(line);
    ctr_healthcheck_release(&hc);
    json_decref(hcj);
    hcj = json_pack("{s:[s]}", "Test", "CMD-SHELL");
    ok(ctr_healthcheck_from_json(hcj, shell, &hc, NULL) == 0 && hc.argv && hc.argv[0] == NULL,
       "CMD-SHELL without a command: probed, with nothing to run");
    ctr_healthcheck_release(&hc);
    json_decref(hcj);
    hcj = json_pack("{s:[s]}", "Test", "NONE");
    ok(ctr_healthcheck_from_json(hcj, shell, &hc, NULL) == 0 && hc.argv == NULL, "NONE: no probe");
    json_decref(hcj);
    json_decref(shell);
    json_decref(bad);
}

static char *merged(const char *user, const char *image)
{
    json_t *u = user ? json_loads(user, 0, NULL) : NULL;
    json_t *i = image ? json_loads(image, 0, NULL) : NULL;
    json_t *m = ctr_healthcheck_merge(u, i);
    char *s = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(u);
    json_decref(i);
    json_decref(m);
    return s;
}

/* docker run's --health-* over the image's HEALTHCHECK (daemon/commit.go merge) */
static void merge_cases(void)
{
    const char *img = "{\"Test\":[\"CMD\",\"probe\"],\"Interval\":5,\"Timeout\":6,"
                      "\"StartPeriod\":7,\"StartInterval\":8,\"Retries\":9}";
    const struct {
        const char *user, *image, *want, *name;
    } cases[] = {
        {NULL, img, img, "no options: the image's"},
        {"{\"Interval\":1}", img,
         "{\"Interval\":1,\"Retries\":9,\"StartInterval\":8,\"StartPeriod\":7,\"Test\":"
         "[\"CMD\",\"probe\"],\"Timeout\":6}",
         "an interval alone: the image's test and the rest"},
        {"{\"Test\":[\"CMD-SHELL\",\"x\"],\"Retries\":2}", img,
         "{\"Interval\":5,\"Retries\":2,\"StartInterval\":8,\"StartPeriod\":7,\"Test\":"
         "[\"CMD-SHELL\",\"x\"],\"Timeout\":6}",
         "--health-cmd replaces the test, unset timings are the image's"},
        {"{\"Test\":[\"NONE\"]}", img,
         "{\"Interval\":5,\"Retries\":9,\"StartInterval\":8,\"StartPeriod\":7,\"Test\":"
         "[\"NONE\"],\"Timeout\":6}",
         "--no-healthcheck: Test NONE (the timings merged as Docker does)"},
        {"{\"Test\":[\"CMD-SHELL\",\"x\"]}", NULL, "{\"Test\":[\"CMD-SHELL\",\"x\"]}",
         "an image without one"},
        {NULL, NULL, NULL, "neither"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = merged(cases[i].user, cases[i].image);
        char *want = NULL;
        if (cases[i].want) {
            json_t *w = json_loads(cases[i].want, 0, NULL);
            want = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(w);
        }
        if (want)
            is_str(got, want, "%s", cases[i].name);
        else
            ok(got == NULL, "%s", cases[i].name);
        free(got);
        free(want);
    }
}

int main(void)
{
    shell_cases();
    merge_cases();
    rfc3339_cases();
    result_cases();
    record_cases();
    old_file_cases();
    return done_testing();
}
