/* kiln ps: containers with their image, command, age, status (and health). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
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
        json_pack("{s:s,s:O,s:O,s:O,s:O,s:s}", "Id", id, "Names", json_object_get(cfg, "Name"),
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

static int all, quiet, json;

static int ps_format(void *ctx, const struct cli_opt *opt, const char *arg)
{
    if (strcmp(arg, "json") != 0)
        return cli_opt_error(opt, "%s: kiln knows json", arg);
    *(int *)ctx = 1;
    return 0;
}

static const struct cli_opt ps_opts[] = {
    {'a', "all", CLI_OPT_FLAG, &all, NULL, "all containers, not only running ones", NULL},
    {'q', "quiet", CLI_OPT_FLAG, &quiet, NULL, "print short ids only", NULL},
    {'f', "format", CLI_OPT_FUNC, &json, "json", "one JSON object per container", ps_format},
    CLI_OPT_END,
};

static const struct cli_spec ps_spec = {
    .name = "ps",
    .summary = "list containers",
    .text = "Lists running containers (-a: all) with image, command, age, status (with\n"
            "health when the image has a HEALTHCHECK), published ports and name. -q prints\n"
            "short ids only; --format json one object per container (Id, Names, Image,\n"
            "Command, State, Ports, PublishedPorts, NetworkMode, Pod, Created, Pid, and\n"
            "Health with Status, FailingStreak and Log for one with a health check).\n",
    .opts = ps_opts,
    .max_args = 0,
};

static int cmd_ps(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&ps_spec, argc, argv);
    if (first <= 0)
        return -first;
    json_t *list = json ? json_array() : NULL;
    cleanup_free char *root = cli_store_root(g);
    char **ids;
    size_t n;
    struct kiln_error *err = NULL;
    if (ctr_list(root, &ids, &n, &err) < 0)
        return cli_fail(err);
    if (!quiet && !json)
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
        if (json) {
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
