/* Internal to src/kube/: typed reading of kube_node trees with errors that name
 * the file, line, column, object and field path. */
#ifndef KILN_KUBE_READ_H
#define KILN_KUBE_READ_H

#include "kube/kube.h"

struct kube_rd {
    const char *file;
    char obj[256]; /* "Kind/name" */
    struct kiln_error **err;
};

/* "FILE:L:C: Kind/name: path: msg"; returns -1. */
int kube_bad(struct kube_rd *rd, const struct kube_node *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* path + "." + key, or path + "[i]"; allocated. */
char *kube_path(const char *path, const char *key);
char *kube_path_index(const char *path, size_t i);

/* Each reads map[key] into *out; absent or null leaves *out alone and returns 0;
 * a value of another type is an error. */
int kube_rd_str(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                char **out);
int kube_rd_int(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                long long min, long long max, long long *out);
int kube_rd_int32(struct kube_rd *rd, const struct kube_node *map, const char *key,
                  const char *path, int min, int *out);
int kube_rd_bool(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                 int *out);
/* A map or list value (NULL when absent). */
int kube_rd_node(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                 enum kube_type type, const struct kube_node **out);
int kube_rd_strs(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                 char ***out, size_t *n);
/* A map of strings to strings (labels, selectors, data). */
int kube_rd_kv(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
               struct kube_kv **out, size_t *n);
/* An int-or-string port: a number 1..65535 into *num, or a name into *name. */
int kube_rd_port(struct kube_rd *rd, const struct kube_node *map, const char *key, const char *path,
                 int *num, char **name);

void kube_kv_free(struct kube_kv *kv, size_t n);
void kube_strs_free(char **v, size_t n);

/* The pod spec at node (a map) into *ps. */
int kube_read_pod_spec(struct kube_rd *rd, const struct kube_node *spec, const char *path,
                       struct kube_pod_spec *ps);
void kube_pod_spec_release(struct kube_pod_spec *ps);

#endif
