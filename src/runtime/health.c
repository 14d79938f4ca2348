/* Health records as Docker's State.Health: RFC 3339 times, the log of the
 * last five probes, Docker's output limit and failing-streak rules. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/health.h"
#include "util/human.h"
#include "util/strbuf.h"

#define SEC 1000000000LL

const char *ctr_rfc3339(const struct timespec *t, char buf[CTR_RFC3339_MAX])
{
    struct tm tm;
    time_t s = t->tv_sec;
    if (gmtime_r(&s, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    size_t n = strftime(buf, CTR_RFC3339_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    long ns = t->tv_nsec;
    if (ns > 0 && ns < SEC) {
        int digits = 9;
        while (ns % 10 == 0) {
            ns /= 10;
            digits--;
        }
        n += (size_t)snprintf(buf + n, CTR_RFC3339_MAX - n, ".%0*ld", digits, ns);
    }
    snprintf(buf + n, CTR_RFC3339_MAX - n, "Z");
    return buf;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : lo; /* no overlong forms */
        hi = c == 0xED ? 0x9F : hi; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi; /* at most U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Output is bytes, JSON strings are UTF-8: each byte that is not part of a
 * valid sequence becomes U+FFFD, as Go's encoder writes it for Docker. */
static void add_utf8(struct strbuf *sb, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (k == 0) {
            strbuf_adds(sb, "\xEF\xBF\xBD");
            i++;
        } else {
            strbuf_add(sb, s + i, k);
            i += k;
        }
    }
}

json_t *ctr_health_result_json(const struct ctr_health_result *r)
{
    struct strbuf out = STRBUF_INIT;
    strbuf_init(&out);
    size_t len = r->output ? r->output_len : 0;
    if (r->timed_out_after > 0) {
        strbuf_adds(&out, "Health check exceeded timeout (");
        char d[HUMAN_DURATION_MAX];
        strbuf_adds(&out, human_duration(r->timed_out_after, d, sizeof(d)));
        strbuf_adds(&out, len > 0 ? "): " : ")");
    }
    if (len > 0)
        add_utf8(&out, r->output, len > CTR_HEALTH_OUTPUT_MAX ? CTR_HEALTH_OUTPUT_MAX : len);
    if (r->truncated || len > CTR_HEALTH_OUTPUT_MAX)
        strbuf_adds(&out, "...");
    char start[CTR_RFC3339_MAX], end[CTR_RFC3339_MAX];
    json_t *j = json_object();
    json_object_set_new(j, "Start", json_string(ctr_rfc3339(&r->start, start)));
    json_object_set_new(j, "End", json_string(ctr_rfc3339(&r->end, end)));
    json_object_set_new(j, "ExitCode", json_integer(r->exit_code));
    json_object_set_new(j, "Output", json_stringn(out.buf, out.len));
    strbuf_release(&out);
    return j;
}

/* A Start or End: a string as it is; seconds since the epoch (what kiln
 * wrote before) as RFC 3339. */
static json_t *time_value(const json_t *v)
{
    if (json_is_string(v))
        return json_copy((json_t *)v);
    if (!json_is_number(v))
        return json_string("0001-01-01T00:00:00Z"); /* Go's zero time */
    double d = json_number_value(v);
    struct timespec t = {.tv_sec = (time_t)floor(d)};
    t.tv_nsec = (long)llround((d - floor(d)) * 1e9);
    if (t.tv_nsec >= SEC) {
        t.tv_sec++;
        t.tv_nsec -= SEC;
    }
    char buf[CTR_RFC3339_MAX];
    return json_string(ctr_rfc3339(&t, buf));
}

static json_t *entry_normalize(const json_t *e)
{
    const json_t *out = json_object_get(e, "Output");
    return json_pack("{s:o,s:o,s:I,s:s}", "Start", time_value(json_object_get(e, "Start")), "End",
                     time_value(json_object_get(e, "End")), "ExitCode",
                     json_integer_value(json_object_get(e, "ExitCode")), "Output",
                     json_is_string(out) ? json_string_value(out) : "");
}

static json_t *log_normalize(const json_t *log)
{
    json_t *l = json_array();
    size_t n = json_array_size(log);
    size_t from = n > CTR_HEALTH_LOG_MAX ? n - CTR_HEALTH_LOG_MAX : 0;
    for (size_t i = from; i < n; i++) {
        const json_t *e = json_array_get(log, i);
        if (json_is_object(e))
            json_array_append_new(l, entry_normalize(e));
    }
    return l;
}

json_t *ctr_health_normalize(const json_t *h)
{
    if (!json_is_object(h))
        return NULL;
    const char *status = json_string_value(json_object_get(h, "Status"));
    return json_pack("{s:s,s:I,s:o}", "Status", status ? status : "starting", "FailingStreak",
                     json_integer_value(json_object_get(h, "FailingStreak")), "Log",
                     log_normalize(json_object_get(h, "Log")));
}

json_t *ctr_health_begin(const json_t *prev)
{
    return json_pack("{s:s,s:i,s:o}", "Status", "starting", "FailingStreak", 0, "Log",
                     log_normalize(json_object_get(prev, "Log")));
}

void ctr_health_add(json_t *health, const struct ctr_health_result *r, int retries,
                    int in_start_period)
{
    json_t *log = json_object_get(health, "Log");
    if (!json_is_array(log)) {
        log = json_array();
        json_object_set_new(health, "Log", log);
    }
    json_array_append_new(log, ctr_health_result_json(r));
    while (json_array_size(log) > CTR_HEALTH_LOG_MAX)
        json_array_remove(log, 0);
    const char *status = json_string_value(json_object_get(health, "Status"));
    json_int_t streak = json_integer_value(json_object_get(health, "FailingStreak"));
    if (r->exit_code == 0) {
        streak = 0;
        status = "healthy";
    } else if (!(in_start_period && status && strcmp(status, "starting") == 0)) {
        if (++streak >= retries)
            status = "unhealthy";
    }
    json_object_set_new(health, "Status", json_string(status ? status : "starting"));
    json_object_set_new(health, "FailingStreak", json_integer(streak));
}
