/* --format templates for the listing commands (see format.h). */
#include "cli/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

struct gotmpl *cli_format_parse(const char *cmd, const char *format)
{
    struct kiln_error *err = NULL;
    struct gotmpl *t = gotmpl_parse(format, GOTMPL_ESCAPES | GOTMPL_TABLE | GOTMPL_STRICT, &err);
    if (t == NULL) {
        cli_usage_error(cmd, "%s", err->msg);
        kiln_error_free(err);
    }
    return t;
}

int cli_format_print(const char *cmd, const struct gotmpl *t, const json_t *rows,
                     const struct gotmpl_header *headers)
{
    struct kiln_error *err = NULL;
    struct strbuf out = STRBUF_INIT;
    strbuf_init(&out);
    if (gotmpl_render(t, rows, headers, &out, &err) < 0) {
        strbuf_release(&out);
        int rc = cli_usage_error(cmd, "%s", err->msg);
        kiln_error_free(err);
        return rc;
    }
    fwrite(out.buf, 1, out.len, stdout);
    strbuf_release(&out);
    return EXIT_OK;
}

/* Go's strconv.Quote of s. */
static void go_quote(const char *s, struct strbuf *sb)
{
    static const char esc[] = "\a\b\f\n\r\t\v", name[] = "abfnrtv";
    strbuf_addc(sb, '"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *e = strchr(esc, *c);
        if (*c == '"' || *c == '\\')
            strbuf_addf(sb, "\\%c", *c);
        else if (e != NULL)
            strbuf_addf(sb, "\\%c", name[e - esc]);
        else if (*c < 0x20 || *c == 0x7f)
            strbuf_addf(sb, "\\x%02x", *c);
        else
            strbuf_addc(sb, (char)*c);
    }
    strbuf_addc(sb, '"');
}

char *cli_docker_command(const json_t *cfg, int whole)
{
    struct strbuf cmd = STRBUF_INIT, out = STRBUF_INIT;
    strbuf_init(&cmd);
    strbuf_init(&out);
    size_t i, chars = 0, cut = 0;
    json_t *v;
    json_array_foreach(json_object_get(cfg, "Cmd"), i, v)
    {
        if (i)
            strbuf_addc(&cmd, ' ');
        strbuf_adds(&cmd, json_string_value(v) ? json_string_value(v) : "");
    }
    for (size_t b = 0; b < cmd.len; b++)
        if (((unsigned char)cmd.buf[b] & 0xC0) != 0x80 && ++chars == 20)
            cut = b; /* where the 20th character starts */
    if (!whole && chars > 20) {
        strbuf_setlen(&cmd, cut);
        strbuf_adds(&cmd, "…");
    }
    go_quote(cmd.buf, &out);
    strbuf_release(&cmd);
    return strbuf_detach(&out);
}

char *cli_docker_labels(const json_t *cfg)
{
    const json_t *labels = json_object_get(cfg, "Labels");
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    size_t k;
    cleanup_free const char **keys = json_sorted_keys(labels, &k);
    for (size_t i = 0; i < k; i++)
        strbuf_addf(&sb, "%s%s=%s", i ? "," : "", keys[i],
                    json_string_value(json_object_get(labels, keys[i])) ?: "");
    return strbuf_detach(&sb);
}

void cli_docker_time(long long unix_time, char *buf, unsigned long bufsz)
{
    struct tm tm;
    time_t t = (time_t)unix_time;
    buf[0] = '\0';
    if (localtime_r(&t, &tm))
        strftime(buf, bufsz, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
}
