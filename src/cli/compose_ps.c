/* kiln compose ps: the project's containers as a table, as one JSON object per
 * line in Docker Compose v2's shape (--format json), as ids (-q) or as their
 * services (--services); filtered by service and by status as Docker Compose
 * filters them (--status, --filter status=). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/compose_cmd.h"
#include "cli/format.h"
#include "cli/opt.h"
#include "compose/compose.h"
#include "compose/stack.h"
#include "net/net.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* The states Docker Compose's --status takes (kiln's containers are only ever
 * created, running, restarting or exited). */
static const char *const ps_states[] = {"paused", "restarting", "removing", "running",
                                        "dead",   "created",    "exited"};

/* The pod's published ports whose container port a service listens on;
 * *out allocated. */
static void service_ports(const char *root, const struct compose_project *p, const char *service,
                          struct net_port **out, size_t *n_out)
{
    cleanup_free char *pod = compose_pod_name(p->name);
    json_t *pj = pod_load(root, pod, NULL);
    struct net_port *ports = NULL;
    size_t n = 0, k = 0;
    net_ports_from_json(pj ? json_object_get(pj, "Ports") : NULL, &ports, &n);
    json_decref(pj);
    const json_t *svc = json_object_get(json_object_get(p->model, "services"), service);
    for (size_t i = 0; i < n; i++) {
        size_t j;
        json_t *pt;
        int mine = 0;
        json_array_foreach(json_object_get(svc, "ports"), j, pt)
        {
            long long t = json_get_int(pt, "target", 0);
            mine |= t >= ports[i].ctr_port && t < ports[i].ctr_port + ports[i].count;
        }
        if (mine)
            ports[k++] = ports[i];
    }
    *out = ports;
    *n_out = k;
}

/* Docker Compose's Publishers: one {URL, TargetPort, PublishedPort, Protocol}
 * per port (a range is one per port), by target port; null when none. */
static json_t *publishers(const struct net_port *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < p[i].count; j++) {
            json_t *o =
                json_pack("{s:s,s:I,s:I,s:s}", "URL", p[i].host_ip[0] ? p[i].host_ip : "0.0.0.0",
                          "TargetPort", (json_int_t)(p[i].ctr_port + j), "PublishedPort",
                          (json_int_t)(p[i].host_port + j), "Protocol",
                          p[i].proto == NET_UDP ? "udp" : "tcp");
            size_t at = json_array_size(a);
            while (at > 0 && json_get_int(json_array_get(a, at - 1), "TargetPort", 0) >
                                 (long long)(p[i].ctr_port + j))
                at--;
            json_array_insert_new(a, at, o);
        }
    if (json_array_size(a) == 0) {
        json_decref(a);
        return json_null();
    }
    return a;
}

/* One container as Docker Compose v2 prints it with --format json, keys in
 * its order (sorted; a publisher's in its struct's). Not there: LocalVolumes,
 * Mounts, Networks and Size, which kiln does not record per container. */
static json_t *ps_json(const struct compose_ctx_cli *cc, const struct compose_ctr *c, int whole)
{
    struct net_port *ports;
    size_t n;
    service_ports(cc->root, cc->p, c->service, &ports, &n);
    cleanup_free char *ports_s = net_ports_describe(ports, n);
    cleanup_free char *cmd = cli_docker_command(c->cfg, whole);
    cleanup_free char *labels = cli_docker_labels(c->cfg);
    json_t *health = ctr_load_health(cc->root, c->id);
    struct strbuf status = STRBUF_INIT;
    strbuf_init(&status);
    cli_ctr_status(c->state, health, &status);
    long long created = json_get_int(c->cfg, "Created", 0);
    char at[64], ago[48];
    cli_docker_time(created, at, sizeof(at));
    const char *state = json_get_str(c->state, "Status");
    const char *h = health ? json_get_str(health, "Status") : NULL;
    json_t *o = json_pack(
        "{s:s,s:s,s:I,s:s,s:s#,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s}", "Command", cmd,
        "CreatedAt", at, "ExitCode", (json_int_t)json_get_int(c->state, "ExitCode", 0), "Health",
        h ? h : "", "ID", c->id, (int)(whole ? strlen(c->id) : strnlen(c->id, 12)), "Image",
        json_get_str(c->cfg, "Image") ?: "", "Labels", labels, "Name", c->name, "Names", c->name,
        "Ports", ports_s, "Project", cc->p->name, "Publishers", publishers(ports, n), "RunningFor",
        cli_human_ago(created, ago, sizeof(ago)), "Service", c->service, "State",
        state ? state : "created", "Status", status.buf);
    strbuf_release(&status);
    json_decref(health);
    free(ports);
    return o;
}

static int ps_all, ps_quiet, ps_services, ps_no_trunc;
static const char *ps_format = "table";
static struct cli_strv ps_status, ps_filter;
static const struct cli_opt ps_opts[] = {
    {'a', "all", CLI_OPT_FLAG, &ps_all, NULL, "also stopped containers", NULL},
    {'q', "quiet", CLI_OPT_FLAG, &ps_quiet, NULL, "only the ids", NULL},
    {0, "services", CLI_OPT_FLAG, &ps_services, NULL, "only the services, one per line", NULL},
    {0, "format", CLI_OPT_STRING, &ps_format, "FORMAT",
     "table (the default), json (one object per line, as Docker Compose v2 prints) or a Go "
     "template over those fields ('{{.Name}} {{.Health}}', 'table {{.Name}}\\t{{.Status}}')",
     NULL},
    {0, "status", CLI_OPT_LIST, &ps_status, "STATUS",
     "only containers in STATUS (repeatable; created, running, restarting, exited, ...); implies "
     "-a",
     NULL},
    {0, "filter", CLI_OPT_LIST, &ps_filter, "KEY=VALUE",
     "status=STATUS as --status, service=SERVICE (repeatable)", NULL},
    {0, "no-trunc", CLI_OPT_FLAG, &ps_no_trunc, NULL,
     "json, template: the whole ID and Command (else 12 and 20 characters, as Docker)", NULL},
    CLI_OPT_END,
};
const struct cli_spec ps_spec = {
    .name = "compose ps",
    .args = "[SERVICE...]",
    .summary = "list the project's containers (--format json, --services, --status)",
    .text = "Lists the project's running containers (-a: all) with service, status, restarts and\n"
            "ports. --format json prints one object per line as Docker Compose v2 does (Command,\n"
            "CreatedAt, ExitCode, Health, ID, Image, Labels, Name, Names, Ports, Project,\n"
            "Publishers [{URL, TargetPort, PublishedPort, Protocol}], RunningFor, Service,\n"
            "State, Status); Health is the health check's status, \"\" without one. A Go\n"
            "template reads the same fields (see docs/run.md, \"--format templates\").\n"
            "  kiln compose ps --services --status running\n"
            "  kiln compose ps -a --format json | jq -r 'select(.ExitCode != 0) | .Name'\n"
            "  kiln compose ps --format 'table {{.Name}}\\t{{.Health}}'\n",
    .opts = ps_opts,
    .max_args = -1,
};

/* As CLI_OPT_LIST appends. */
static void strv_add(struct cli_strv *s, const char *v)
{
    s->v = xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
    s->v[s->n++] = v;
    s->v[s->n] = NULL;
}

/* Folds --filter into the status and service lists; a usage error for a key
 * or a status kiln does not know. */
static int ps_check_filters(struct compose_ctx_cli *cc, struct cli_strv *services)
{
    for (size_t i = 0; i < ps_filter.n; i++) {
        const char *f = ps_filter.v[i], *eq = strchr(f, '=');
        if (eq && strncmp(f, "status=", 7) == 0) {
            strv_add(&ps_status, eq + 1);
        } else if (eq && strncmp(f, "service=", 8) == 0) {
            char *name = (char *)(eq + 1);
            if (compose_check_services(cc->p, "compose ps", &name, 1))
                return EXIT_USAGE;
            strv_add(services, name);
        } else {
            return cli_usage_error("compose ps",
                                   "--filter %s: kiln filters by status= and service=", f);
        }
    }
    for (size_t i = 0; i < ps_status.n; i++) {
        size_t k = 0;
        while (k < sizeof(ps_states) / sizeof(ps_states[0]) && strcmp(ps_states[k], ps_status.v[i]))
            k++;
        if (k == sizeof(ps_states) / sizeof(ps_states[0]))
            return cli_usage_error("compose ps",
                                   "invalid status \"%s\": give created, running, restarting, "
                                   "exited, paused, removing or dead",
                                   ps_status.v[i]);
    }
    return 0;
}

static int ps_shown(const struct compose_ctr *c, const char *const *operands, size_t n_operands,
                    const struct cli_strv *services)
{
    const char *s = json_get_str(c->state, "Status");
    if (!compose_wanted(operands, n_operands, c->service) ||
        !compose_wanted(services->v, services->n, c->service))
        return 0;
    if (ps_status.n > 0)
        return compose_wanted(ps_status.v, ps_status.n, s ? s : "created");
    return ps_all || (s && (strcmp(s, "running") == 0 || strcmp(s, "restarting") == 0));
}

static void ps_table_row(struct compose_ctx_cli *cc, const struct compose_ctr *c)
{
    struct strbuf st;
    strbuf_init(&st);
    const char *s = json_get_str(c->state, "Status");
    if (s && strcmp(s, "exited") == 0) {
        strbuf_addf(&st, "exited (%lld)", (long long)json_get_int(c->state, "ExitCode", 0));
    } else {
        strbuf_adds(&st, s ? s : "unknown");
        json_t *h = ctr_load_health(cc->root, c->id);
        if (h && s && strcmp(s, "running") == 0)
            strbuf_addf(&st, " (%s)", json_get_str(h, "Status"));
        json_decref(h);
    }
    struct net_port *ports;
    size_t n;
    service_ports(cc->root, cc->p, c->service, &ports, &n);
    cleanup_free char *ports_s = net_ports_describe(ports, n);
    printf("%-28s %-16s %-24s %-8lld %s\n", c->name, c->service, st.buf,
           (long long)json_get_int(c->state, "RestartCount", 0), ports_s);
    free(ports);
    strbuf_release(&st);
}

static void ps_print(struct compose_ctx_cli *cc, const struct compose_ctr *cs, const size_t *shown,
                     size_t n)
{
    int json = strcmp(ps_format, "json") == 0;
    if (!ps_quiet && !ps_services && !json)
        printf("%-28s %-16s %-24s %-8s %s\n", "NAME", "SERVICE", "STATUS", "RESTARTS", "PORTS");
    for (size_t k = 0; k < n; k++) {
        const struct compose_ctr *c = &cs[shown[k]];
        if (ps_quiet) {
            printf("%s\n", c->id);
        } else if (ps_services) {
            /* cs is sorted by service: each one once */
            if (k == 0 || strcmp(cs[shown[k - 1]].service, c->service) != 0)
                printf("%s\n", c->service);
        } else if (json) {
            json_t *o = ps_json(cc, c, ps_no_trunc);
            cleanup_free char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
            if (line)
                printf("%s\n", line);
            json_decref(o);
        } else {
            ps_table_row(cc, c);
        }
    }
}

/* Docker Compose's column headers where they are not the field's name in
 * upper case. */
static const struct gotmpl_header ps_headers[] = {
    {"ID", "CONTAINER ID"},    {"CreatedAt", "CREATED AT"}, {"RunningFor", "CREATED"},
    {"ExitCode", "EXIT CODE"}, {"Publishers", "PORTS"},     {NULL, NULL},
};

/* --format TEMPLATE: each container's --format json object through it. */
static int ps_print_template(struct compose_ctx_cli *cc, const struct gotmpl *t,
                             const struct compose_ctr *cs, const size_t *shown, size_t n)
{
    cleanup_json json_t *rows = json_array();
    for (size_t k = 0; k < n; k++) {
        json_t *o = ps_json(cc, &cs[shown[k]], ps_no_trunc);
        if (o)
            json_array_append_new(rows, o);
    }
    return cli_format_print("compose ps", t, rows, ps_headers);
}

int compose_ps_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&ps_spec, argc, argv);
    if (first <= 0)
        return -first;
    cleanup_strv struct cli_strv services = {0};
    cleanup_gotmpl struct gotmpl *tmpl = NULL;
    if (strcmp(ps_format, "table") != 0 && strcmp(ps_format, "json") != 0 &&
        (tmpl = cli_format_parse("compose ps", ps_format)) == NULL)
        return EXIT_USAGE;
    if (compose_check_services(cc->p, "compose ps", argv + first, argc - first) ||
        ps_check_filters(cc, &services))
        return EXIT_USAGE;
    struct compose_ctr *cs;
    size_t n, n_shown = 0;
    struct kiln_error *err = NULL;
    if (compose_list(cc->root, cc->p->name, &cs, &n, &err) < 0)
        return cli_fail(err);
    cleanup_free size_t *shown = xcalloc(n + 1, sizeof(*shown));
    for (size_t i = 0; i < n; i++)
        if (ps_shown(&cs[i], (const char *const *)argv + first, (size_t)(argc - first), &services))
            shown[n_shown++] = i;
    int rc = EXIT_OK;
    if (tmpl != NULL && !ps_quiet && !ps_services)
        rc = ps_print_template(cc, tmpl, cs, shown, n_shown);
    else
        ps_print(cc, cs, shown, n_shown);
    compose_list_free(cs, n);
    cli_strv_free(&ps_status);
    cli_strv_free(&ps_filter);
    return rc;
}
