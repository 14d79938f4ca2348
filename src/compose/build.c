/* A service's image: present in the store, built (kiln build with the
 * service's build: context, dockerfile, args, target, platforms), pulled or
 * pushed, each by running kiln itself as the user would. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compose/stack.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

int compose_image_present(const char *root, const char *image)
{
    struct store *s = NULL;
    struct image *img = NULL;
    struct kiln_error *e = NULL;
    int have = store_open_reader(root, &s, &e) == 0 && store_image_load(s, image, &img, &e) == 0;
    kiln_error_free(e);
    if (img)
        image_free(img);
    if (s)
        store_close(s);
    return have;
}

struct argv_b {
    const char **v;
    size_t n;
};

static void arg(struct argv_b *a, const char *s)
{
    a->v = xrealloc(a->v, (a->n + 2) * sizeof(char *));
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static int run_kiln(const char *what, const char *const *argv, struct kiln_error **err)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return kiln_error_errno(err, errno, "fork");
    if (pid == 0) {
        dup2(2, 1); /* progress on stderr: compose's stdout stays the result's */
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return kiln_error_errno(err, errno, "waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return kiln_error_set(err, KILN_E_FAIL, "%s failed (exit status %d)", what,
                              WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}

int compose_build_service(const char *root, const struct compose_project *p, const char *service,
                          const char *kiln, struct kiln_error **err)
{
    const json_t *svc = json_object_get(json_object_get(p->model, "services"), service);
    const json_t *b = json_object_get(svc, "build");
    if (b == NULL)
        return 0;
    cleanup_free char *image = compose_service_image(p, service);
    const char *ctx = json_get_str(b, "context");
    const char *df = json_get_str(b, "dockerfile");
    cleanup_free char *dfpath = NULL;
    if (df != NULL)
        dfpath = df[0] == '/' ? xstrdup(df) : xasprintf("%s/%s", ctx ? ctx : ".", df);
    struct argv_b a = {0};
    struct svc_strs {
        char **v;
        size_t n;
    } keep = {0};
    arg(&a, kiln);
    arg(&a, "--root");
    arg(&a, root);
    arg(&a, "build");
    arg(&a, "-t");
    arg(&a, image);
    if (dfpath) {
        arg(&a, "-f");
        arg(&a, dfpath);
    }
    const char *target = json_get_str(b, "target");
    if (target) {
        arg(&a, "--target");
        arg(&a, target);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(b, "args"), k, v)
    {
        const char *val = json_string_value(v);
        char *s = val ? xasprintf("%s=%s", k, val) : xstrdup(k);
        keep.v = xrealloc(keep.v, (keep.n + 1) * sizeof(char *));
        keep.v[keep.n++] = s;
        arg(&a, "--build-arg");
        arg(&a, s);
    }
    json_t *plats = json_object_get(b, "platforms");
    cleanup_free char *platlist = NULL;
    if (json_array_size(plats) > 0) {
        struct strbuf sb;
        strbuf_init(&sb);
        size_t i;
        json_array_foreach(plats, i, v)
            strbuf_addf(&sb, "%s%s", i ? "," : "", json_string_value(v));
        platlist = strbuf_detach(&sb);
        arg(&a, "--platform");
        arg(&a, platlist);
    }
    arg(&a, ctx ? ctx : ".");
    fprintf(stderr, " Service %s  Building %s\n", service, image);
    cleanup_free char *what = xasprintf("service %s: kiln build", service);
    int r = run_kiln(what, a.v, err);
    free(a.v);
    for (size_t i = 0; i < keep.n; i++)
        free(keep.v[i]);
    free(keep.v);
    return r;
}

int compose_pull_push(const char *root, const char *image, const char *verb, const char *kiln,
                      struct kiln_error **err)
{
    const char *argv[] = {kiln, "--root", root, verb, image, NULL};
    cleanup_free char *what = xasprintf("kiln %s %s", verb, image);
    return run_kiln(what, argv, err);
}
