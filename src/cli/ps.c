/* kiln ps: containers with their image, command, age, status (and health). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/opt.h"
#include "net/net.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

void cli_ctr_status(const json_t *st, const json_t *health, struct strbuf *sb)
{
    const char *s = json_get_str(st, "Status");
    char ago[48];
    if (s && strcmp(s, "running") == 0) {
        cli_human_ago(json_get_int(st, "Started", time(NULL)), ago, sizeof(ago));
        /* "N units ago" -> "Up N units" */
        char *p = strstr(ago, " ago");
        if (p)
            *p = '\0';
        strbuf_addf(sb, "Up %s",
                    strcmp(ago, "Less than a second") == 0 ? "Less than a second" : ago);
        const char *h = health ? json_get_str(health, "Status") : NULL;
        if (h)
            strbuf_addf(sb, " (%s)", h);
    } else if (s && (strcmp(s, "exited") == 0 || strcmp(s, "restarting") == 0)) {
        cli_human_ago(json_get_int(st, "Finished", time(NULL)), ago, sizeof(ago));
        strbuf_addf(sb, "%s (%lld) %s", s[0] == 'e' ? "Exited" : "Restarting",
                    (long long)json_get_int(st, "ExitCode", 0), ago);
    } else {
        strbuf_adds(sb, "Created");
    }
}

static void command_text(const json_t *cfg, struct strbuf *sb)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(cfg, "Cmd"), i, v)
    {
        if (i)
            strbuf_addc(sb, ' ');
        strbuf_adds(sb, json_string_value(v) ? json_string_value(v) : "");
    }
    if (sb->len > 20) {
        strbuf_setlen(sb, 19);
        strbuf_adds(sb, "…");
    }
}

/* "127.0.0.1:18080->8000/tcp, ..." from config.json's Ports. */
static char *ports_text(const json_t *cfg)
{
    struct net_port *p;
    size_t n;
    net_ports_from_json(json_object_get(cfg, "Ports"), &p, &n);
    char *s = net_ports_describe(p, n);
    free(p);
    return s;
}

/* One object per container for ps --format json; Health (Status,
 * FailingStreak, Log as Docker's State.Health) for one with a health check. */
static json_t *ps_json(const char *id, const json_t *cfg, const json_t *st, const char *ports,
                       json_t *health)
{
    json_t *mode = json_object_get(cfg, "NetworkMode");
    json_t *o =
        json_pack("{s:s,s:O?,s:O?,s:O?,s:O?,s:s?}", "Id", id, "Names", json_object_get(cfg, "Name"),
                  "Image", json_object_get(cfg, "Image"), "Command", json_object_get(cfg, "Cmd"),
                  "State", json_object_get(st, "Status"), "Ports", ports);
    json_object_set_new(o, "NetworkMode", mode ? json_incref(mode) : json_string("host"));
    json_t *pj = json_object_get(cfg, "Ports");
    json_object_set_new(o, "PublishedPorts", pj ? json_incref(pj) : json_array());
    json_t *pod = json_object_get(cfg, "Pod");
    json_object_set_new(o, "Pod", pod ? json_incref(pod) : json_string(""));
    json_object_set_new(o, "Created", json_integer(json_get_int(cfg, "Created", 0)));
    if (json_object_get(st, "Pid"))
        json_object_set(o, "Pid", json_object_get(st, "Pid"));
    if (health)
        json_object_set_new(o, "Health", health);
    return o;
}

/* The row a --format template reads: the --format json object, plus Docker's
 * placeholders (ID, Command quoted, CreatedAt, RunningFor, Status, Size,
 * Labels, Label, Mounts, Networks, LocalVolumes) in Docker's spelling. */
static json_t *ps_template_row(const char *id, const json_t *cfg, const json_t *st, json_t *health)
{
    cleanup_free char *ports = ports_text(cfg);
    json_t *o = ps_json(id, cfg, st, ports, json_incref(health));
    cleanup_free char *cmd = cli_docker_command(cfg, 0);
    cleanup_free char *labels = cli_docker_labels(cfg);
    struct strbuf status = STRBUF_INIT;
    strbuf_init(&status);
    cli_ctr_status(st, health, &status);
    char at[64], ago[48];
    long long created = json_get_int(cfg, "Created", 0);
    cli_docker_time(created, at, sizeof(at));
    const json_t *lab = json_object_get(cfg, "Labels");
    json_t *mode = json_object_get(o, "NetworkMode");
    json_object_set_new(o, "ID", json_stringn(id, strnlen(id, 12)));
    json_object_set_new(o, "Command", json_string(cmd));
    json_object_set_new(o, "CreatedAt", json_string(at));
    json_object_set_new(o, "RunningFor", json_string(cli_human_ago(created, ago, sizeof(ago))));
    json_object_set_new(o, "Status", json_string(status.buf));
    json_object_set_new(o, "Size", json_string("0B"));
    json_object_set_new(o, "Labels", json_string(labels));
    json_object_set_new(o, "Label", json_is_object(lab) ? json_deep_copy(lab) : json_object());
    json_object_set_new(o, "Mounts", json_string(""));
    json_object_set(o, "Networks", mode);
    json_object_set_new(o, "LocalVolumes", json_string("0"));
    /* the fields a container may lack are there for every template */
    if (!json_object_get(o, "Health"))
        json_object_set_new(o, "Health", json_null());
    if (!json_object_get(o, "Pid"))
        json_object_set_new(o, "Pid", json_null());
    if (!json_object_get(o, "State"))
        json_object_set_new(o, "State", json_string("created"));
    strbuf_release(&status);
    return o;
}

/* Docker's column headers (formatter/container.go). */
static const struct gotmpl_header ps_headers[] = {
    {"ID", "CONTAINER ID"},
    {"Id", "CONTAINER ID"},
    {"CreatedAt", "CREATED AT"},
    {"RunningFor", "CREATED"},
    {"LocalVolumes", "LOCAL VOLUMES"},
    {"Label", "LABEL"},
    {NULL, NULL},
};

static int all, quiet;
static const char *format = "table";

static const struct cli_opt ps_opts[] = {
    {'a', "all", CLI_OPT_FLAG, &all, NULL, "all containers, not only running ones", NULL},
    {'q', "quiet", CLI_OPT_FLAG, &quiet, NULL, "print short ids only", NULL},
    {'f', "format", CLI_OPT_STRING, &format, "FORMAT",
     "table (the default), json (an array of objects) or a Go\n"
     "template: '{{.Names}}\\t{{.Status}}',\n"
     "'table {{.ID}}\\t{{.Image}}'",
     NULL},
    CLI_OPT_END,
};

static const struct cli_spec ps_spec = {
    .name = "ps",
    .summary = "list containers",
    .text = "Lists running containers (-a: all) with image, command, age, status (with\n"
            "health when the image has a HEALTHCHECK), published ports and name. -q prints\n"
            "short ids only; --format json one object per container (Id, Names, Image,\n"
            "Command, State, Ports, PublishedPorts, NetworkMode, Pod, Created, Pid, and\n"
            "Health with Status, FailingStreak and Log for one with a health check).\n"
            "A template (Go's text/template: fields, json, join, upper, lower, index, if,\n"
            "range, with; Docker's \\t, \\n and table prefix) reads those and Docker's\n"
            "placeholders: .ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status\n"
            ".Size .Names .Labels .Label \"KEY\" .Mounts .Networks; see docs/run.md.\n"
            "  kiln ps -a --format 'table {{.Names}}\\t{{.Status}}'\n",
    .opts = ps_opts,
    .max_args = 0,
};

static int cmd_ps(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&ps_spec, argc, argv);
    if (first <= 0)
        return -first;
    int json = strcmp(format, "json") == 0;
    cleanup_gotmpl struct gotmpl *tmpl = NULL;
    if (!json && strcmp(format, "table") != 0 && !quiet &&
        (tmpl = cli_format_parse("ps", format)) == NULL)
        return EXIT_USAGE;
    json_t *list = json || tmpl ? json_array() : NULL;
    cleanup_free char *root = cli_store_root(g);
    char **ids;
    size_t n;
    struct kiln_error *err = NULL;
    if (ctr_list(root, &ids, &n, &err) < 0)
        return cli_fail(err);
    if (!quiet && !json && !tmpl)
        printf("%-12s  %-20s  %-22s  %-16s  %-30s  %-30s  %s\n", "CONTAINER ID", "IMAGE", "COMMAND",
               "CREATED", "STATUS", "PORTS", "NAMES");
    for (size_t i = 0; i < n; i++) {
        json_t *cfg = ctr_load_config(root, ids[i], NULL);
        json_t *st = ctr_load_state(root, ids[i], NULL);
        if (cfg == NULL || st == NULL) {
            json_decref(cfg);
            json_decref(st);
            continue;
        }
        const char *s = json_get_str(st, "Status");
        if (!all && !(s && strcmp(s, "running") == 0)) {
            json_decref(cfg);
            json_decref(st);
            continue;
        }
        if (tmpl) {
            json_t *health = ctr_load_health(root, ids[i]);
            json_array_append_new(list, ps_template_row(ids[i], cfg, st, health));
            json_decref(health);
        } else if (json) {
            cleanup_free char *ports = ports_text(cfg);
            json_array_append_new(list,
                                  ps_json(ids[i], cfg, st, ports, ctr_load_health(root, ids[i])));
        } else if (quiet) {
            printf("%.12s\n", ids[i]);
        } else {
            json_t *health = ctr_load_health(root, ids[i]);
            struct strbuf status = STRBUF_INIT, cmd = STRBUF_INIT;
            strbuf_init(&status);
            strbuf_init(&cmd);
            cli_ctr_status(st, health, &status);
            command_text(cfg, &cmd);
            char created[48];
            cli_human_ago(json_get_int(cfg, "Created", 0), created, sizeof(created));
            cleanup_free char *ports = ports_text(cfg);
            printf("%.12s  %-20s  %-22s  %-16s  %-30s  %-30s  %s\n", ids[i],
                   json_get_str(cfg, "Image") ? json_get_str(cfg, "Image") : "", cmd.buf, created,
                   status.buf, ports, json_get_str(cfg, "Name") ? json_get_str(cfg, "Name") : "");
            strbuf_release(&status);
            strbuf_release(&cmd);
            json_decref(health);
        }
        json_decref(cfg);
        json_decref(st);
    }
    ctr_list_free(ids, n);
    if (tmpl) {
        int rc = cli_format_print("ps", tmpl, list, ps_headers);
        json_decref(list);
        return rc;
    }
    if (json) {
        cleanup_free char *out = json_dumps(list, JSON_INDENT(2));
        printf("%s\n", out);
        json_decref(list);
    }
    return EXIT_OK;
}

const struct cli_command cli_cmd_ps = {
    .name = "ps",
    .run = cmd_ps,
    .spec = &ps_spec,
};
