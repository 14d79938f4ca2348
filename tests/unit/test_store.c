/* The store core: layout creation, blob ingest (digest and size checks,
 * nothing kept on mismatch), stale ingest cleanup, tags in index.json,
 * image write/load and lookups, prune, fsck, and two writers at once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/digest_set.h"
#include "store/reference.h"
#include "store/store.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

static char *tmp_root(void)
{
    char *t = xstrdup("/tmp/kiln-test-store-XXXXXX");
    if (mkdtemp(t) == NULL)
        abort();
    char *root = path_join(t, "store");
    free(t);
    return root;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int count_in(const char *root, const char *sub)
{
    cleanup_free char *p = path_join(root, sub);
    return count_entries(p);
}

/* Moves every blob's and snapshot's mtime far into the past so prune does
 * not take them for someone's unfinished work. */
static void age_all(const char *root)
{
    const char *subs[] = {"blobs/sha256", "snapshots"};
    for (int i = 0; i < 2; i++) {
        cleanup_free char *dir = path_join(root, subs[i]);
        DIR *d = opendir(dir);
        struct dirent *de;
        struct timespec old[2] = {{1000, 0}, {1000, 0}};
        while (d && (de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                utimensat(dirfd(d), de->d_name, old, AT_SYMLINK_NOFOLLOW);
        if (d)
            closedir(d);
    }
}

static void test_layout(const char *root)
{
    struct store *s = NULL;
    struct kiln_error *err = NULL;
    ok(store_open(root, &s, &err) == 0, "store_open creates %s", root);
    const char *want[] = {"oci-layout", "index.json", "blobs/sha256", "snapshots",
                          "cache",      "ingest",     "lock"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cleanup_free char *p = path_join(root, want[i]);
        ok(path_exists(p), "layout has %s", want[i]);
    }
    cleanup_free char *layout = NULL;
    cleanup_free char *lp = path_join(root, "oci-layout");
    read_file(lp, 1000, &layout, NULL, NULL);
    is_str(layout, "{\"imageLayoutVersion\":\"1.0.0\"}", "oci-layout content");
    cleanup_free char *index = NULL;
    cleanup_free char *ip = path_join(root, "index.json");
    read_file(ip, 1000, &index, NULL, NULL);
    is_str(index,
           "{\"manifests\":[],\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
           "\"schemaVersion\":2}",
           "empty index.json is canonical");
    ok(store_scratch_dir(s) && strstr(store_scratch_dir(s), "/ingest/") != NULL,
       "session scratch dir is under ingest/");
    ok(path_exists(store_scratch_dir(s)), "scratch dir exists while open");
    cleanup_free char *scratch = xstrdup(store_scratch_dir(s));
    store_close(s);
    ok(!path_exists(scratch), "scratch dir removed on close");
}

static void test_blobs(const char *root)
{
    cleanup_store struct store *s = NULL;
    struct kiln_error *err = NULL;
    store_open(root, &s, &err);
    struct digest d, want;
    digest_bytes("hello", 5, &want);
    ok(store_blob_put(s, "hello", 5, NULL, &d, &err) == 0, "put a blob");
    ok(digest_equal(&d, &want), "put returns its sha256");
    ok(store_blob_has(s, &d), "blob is there");
    cleanup_free char *p = store_blob_path(s, &d);
    struct stat st;
    ok(stat(p, &st) == 0 && st.st_size == 5 && (st.st_mode & 0777) == 0444,
       "blobs/sha256/<hex> is 5 bytes, read-only");
    cleanup_free char *data = NULL;
    size_t len = 0;
    ok(store_blob_read(s, &d, 100, &data, &len, &err) == 0 && len == 5 &&
           memcmp(data, "hello", 5) == 0,
       "read it back");
    uint64_t size = 0;
    ok(store_blob_size(s, &d, &size, &err) == 0 && size == 5, "blob size");
    ok(store_blob_put(s, "hello", 5, &want, NULL, &err) == 0, "same blob again is fine");

    /* Streaming writer with an expected digest that does not match. */
    int before = count_in(root, "blobs/sha256");
    struct blob_writer *w = NULL;
    ok(blob_writer_new(s, &w, &err) == 0, "new writer");
    blob_writer_write(w, "hel", 3, &err);
    blob_writer_write(w, "lo!", 3, &err);
    is_int(blob_writer_size(w), 6, "writer counts bytes");
    int rc = blob_writer_commit(w, &want, -1, NULL, &err);
    ok(rc < 0 && err && err->code == KILN_E_DIGEST, "digest mismatch is KILN_E_DIGEST");
    ok(err && strstr(err->msg, want.hex) != NULL, "error names the expected digest: %s",
       err ? err->msg : "");
    struct digest got;
    digest_bytes("hello!", 6, &got);
    ok(err && strstr(err->msg, got.hex) != NULL, "error names the actual digest");
    kiln_error_free(err);
    err = NULL;
    blob_writer_free(w);
    is_int(count_in(root, "blobs/sha256"), before, "nothing kept after a mismatch");
    is_int(count_entries(store_scratch_dir(s)), 0, "no partial file left in ingest");
    ok(!store_blob_has(s, &got), "the wrong content is not stored");

    /* Size mismatch. */
    rc = store_blob_put_fd(s, open("/dev/null", O_RDONLY | O_CLOEXEC), NULL, 3, NULL, &err);
    ok(rc < 0 && err && err->code == KILN_E_DIGEST && strstr(err->msg, "size"),
       "size mismatch refused: %s", err ? err->msg : "");
    kiln_error_free(err);
    err = NULL;

    /* An abandoned writer leaves nothing behind. */
    blob_writer_new(s, &w, &err);
    blob_writer_write(w, "partial", 7, &err);
    blob_writer_free(w);
    is_int(count_entries(store_scratch_dir(s)), 0, "aborted writer removes its file");

    /* Missing blob errors name the digest. */
    int fd = store_blob_open(s, &got, &err);
    ok(fd < 0 && err && err->code == KILN_E_NOTFOUND && strstr(err->msg, got.hex),
       "opening a missing blob names it");
    kiln_error_free(err);
}

static void test_stale_ingest(const char *root)
{
    struct kiln_error *err = NULL;
    /* A dead writer's session: a directory nobody holds a lock on. */
    cleanup_free char *dead = path_join(root, "ingest/s-1.000000000-99999-AAAAAA");
    mkdir(dead, 0700);
    cleanup_free char *dead_file = path_join(dead, "blob-123");
    write_file_atomic(dead_file, "x", 1, 0600, NULL);
    /* A live writer's session: held by a child process. */
    cleanup_free char *live = path_join(root, "ingest/s-2.000000000-99998-BBBBBB");
    mkdir(live, 0700);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(live, O_RDONLY | O_DIRECTORY);
        flock(fd, LOCK_EX);
        write(pipefd[1], "k", 1);
        pause();
        _exit(0);
    }
    char c;
    read(pipefd[0], &c, 1);
    struct store *s = NULL;
    ok(store_open(root, &s, &err) == 0, "open with stale ingest");
    ok(!path_exists(dead), "a dead writer's ingest entry is removed");
    ok(path_exists(live), "a live writer's ingest entry is kept");
    store_close(s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    s = NULL;
    ok(store_open(root, &s, &err) == 0, "open after the writer died");
    ok(!path_exists(live), "its ingest entry is removed once it is dead");
    store_close(s);
}

/* A one-layer image whose layer is `content`. */
static int make_image(struct store *s, const char *content, const char *created,
                      struct descriptor *manifest, struct kiln_error **err)
{
    struct image_layer layer = {0};
    if (store_blob_put(s, content, strlen(content), NULL, &layer.blob.digest, err) < 0)
        return -1;
    layer.blob.size = strlen(content);
    layer.blob.media_type = MT_OCI_LAYER;
    layer.diffid = layer.blob.digest;
    cleanup_json json_t *config =
        json_pack("{s:s, s:{s:[s]}, s:[{s:s, s:s}]}", "created", created, "config", "Cmd",
                  "/bin/sh", "history", "created", created, "created_by", "test");
    return store_image_write(s, config, &layer, 1, NULL, manifest, err);
}

static void test_tags_and_images(const char *root)
{
    cleanup_store struct store *s = NULL;
    struct kiln_error *err = NULL;
    store_open(root, &s, &err);

    /* A tag cannot point at something that is not there. */
    struct descriptor ghost = {.media_type = MT_OCI_MANIFEST, .size = 10};
    digest_bytes("ghost", 5, &ghost.digest);
    ok(store_tag(s, "ghost", &ghost, &err) < 0 && err->code == KILN_E_NOTFOUND,
       "tag to a missing manifest refused: %s", err ? err->msg : "");
    kiln_error_free(err);
    err = NULL;

    /* A manifest whose layer is missing cannot be tagged either. */
    cleanup_free char *broken = xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":"
        "\"sha256:%s\",\"size\":5},\"layers\":[]}",
        MT_OCI_MANIFEST, MT_OCI_CONFIG, ghost.digest.hex);
    struct descriptor bd = {.media_type = MT_OCI_MANIFEST, .size = strlen(broken)};
    store_blob_put(s, broken, strlen(broken), NULL, &bd.digest, &err);
    ok(store_tag(s, "broken", &bd, &err) < 0 && err && strstr(err->msg, ghost.digest.hex),
       "tag to a manifest with a missing config refused, naming it: %s", err ? err->msg : "");
    kiln_error_free(err);
    err = NULL;

    struct descriptor m1, m2;
    ok(make_image(s, "layer one", "2023-11-14T22:13:20Z", &m1, &err) == 0, "write image 1: %s",
       err ? err->msg : "");
    ok(make_image(s, "layer two", "2023-11-14T22:13:21Z", &m2, &err) == 0, "write image 2");
    ok(store_tag(s, "debian", &m1, &err) == 0, "tag debian");
    ok(store_tag(s, "team/app:1.2", &m2, &err) == 0, "tag team/app:1.2");
    ok(store_tag(s, "127.0.0.1:5000/x:1", &m2, &err) == 0, "tag 127.0.0.1:5000/x:1");

    struct store_tag_entry *e = NULL;
    size_t n = 0;
    ok(store_list_tags(s, &e, &n, &err) == 0 && n == 3, "three entries");
    if (n == 3) {
        is_str(e[0].name, "debian:latest", "familiar form with :latest");
        is_str(e[1].name, "team/app:1.2", "familiar form team/app:1.2");
        is_str(e[2].name, "127.0.0.1:5000/x:1", "familiar form with registry");
    }
    store_tag_entries_free(e, n);

    struct descriptor r;
    ok(store_resolve_tag(s, "docker.io/library/debian:latest", &r, &err) == 0 &&
           digest_equal(&r.digest, &m1.digest),
       "normalized lookup finds debian:latest");
    descriptor_release(&r);

    /* Moving a tag replaces the entry. */
    ok(store_tag(s, "library/debian:latest", &m2, &err) == 0, "move debian to image 2");
    store_list_tags(s, &e, &n, &err);
    is_int(n, 3, "still three entries after the move");
    ok(n > 0 && digest_equal(&e[0].manifest.digest, &m2.digest), "debian now points at image 2");
    store_tag_entries_free(e, n);
    store_tag(s, "debian", &m1, &err);

    /* Images load by name, id, id prefix and manifest digest. */
    struct image *img = NULL;
    ok(store_image_load(s, "debian:latest", &img, &err) == 0, "load debian:latest");
    if (img == NULL)
        return;
    ok(digest_equal(&img->manifest.digest, &m1.digest), "right manifest");
    is_int(img->n_layers, 1, "one layer");
    struct digest want_layer;
    digest_bytes("layer one", 9, &want_layer);
    ok(digest_equal(&img->layers[0].diffid, &want_layer), "diffid from rootfs.diff_ids");
    is_str(json_string_value(json_object_get(img->config_json, "os")), "linux", "os filled in");
    is_str(json_string_value(json_object_get(json_object_get(img->config_json, "rootfs"), "type")),
           "layers", "rootfs.type");
    struct digest id = img->config.digest;
    image_free(img);

    char idbuf[80];
    const char *forms[] = {id.hex, NULL, NULL, NULL};
    snprintf(idbuf, sizeof(idbuf), "sha256:%s", id.hex);
    forms[1] = idbuf;
    char prefix[13];
    memcpy(prefix, id.hex, 12);
    prefix[12] = '\0';
    forms[2] = prefix;
    forms[3] = m1.digest.hex;
    for (int i = 0; i < 4; i++) {
        img = NULL;
        ok(store_image_load(s, forms[i], &img, &err) == 0 && digest_equal(&img->config.digest, &id),
           "load by %s", forms[i]);
        image_free(img);
        kiln_error_freep(&err);
    }
    img = NULL;
    ok(store_image_load(s, "nope:1", &img, &err) < 0 && err->code == KILN_E_NOTFOUND &&
           strstr(err->msg, "nope:1"),
       "unknown image: %s", err ? err->msg : "");
    kiln_error_freep(&err);
    ok(store_image_load(s, "Bad Name", &img, &err) < 0 && err->code == KILN_E_INVALID,
       "bad name: %s", err ? err->msg : "");
    kiln_error_freep(&err);

    /* Manifest and config bytes are canonical JSON with OCI media types. */
    cleanup_json json_t *mj = store_blob_read_json(s, &m1.digest, &err);
    is_str(json_string_value(json_object_get(mj, "mediaType")), MT_OCI_MANIFEST,
           "manifest mediaType");
    is_str(json_string_value(json_object_get(json_object_get(mj, "config"), "mediaType")),
           MT_OCI_CONFIG, "config mediaType");
    cleanup_free char *raw = NULL;
    size_t rawlen = 0;
    store_blob_read(s, &m1.digest, 1 << 20, &raw, &rawlen, &err);
    cleanup_free char *canon = json_dump_canonical(mj);
    is_str(raw, canon, "manifest bytes are canonical");
    descriptor_release(&m1);
    descriptor_release(&m2);
}

static int add_roots(void *c, struct store *st, struct digest_set *roots, struct kiln_error **e)
{
    (void)st;
    (void)e;
    digest_set_add(roots, (const struct digest *)c);
    return 0;
}

static void test_untag_prune_fsck(const char *root)
{
    cleanup_store struct store *s = NULL;
    struct kiln_error *err = NULL;
    store_open(root, &s, &err);
    struct descriptor m3;
    make_image(s, "layer three", "2023-11-14T22:13:22Z", &m3, &err);
    store_tag(s, "three", &m3, &err);
    struct image *img = NULL;
    store_image_load(s, "three", &img, &err);
    struct digest config = img->config.digest, layer = img->layers[0].blob.digest;
    image_free(img);

    ok(store_untag(s, "three:latest", &err) == 0, "untag three");
    ok(store_untag(s, "three", &err) < 0 && err->code == KILN_E_NOTFOUND, "untag again: %s",
       err ? err->msg : "");
    kiln_error_freep(&err);

    /* Just written by this process: prune keeps it (it might be about to be tagged). */
    struct store_prune_report rep;
    ok(store_prune(s, NULL, &rep, &err) == 0, "prune runs");
    ok(store_blob_has(s, &m3.digest), "recent unreferenced blobs are kept");

    /* Roots from someone else (the build cache) survive. */
    struct digest keep;
    store_blob_put(s, "hello", 5, NULL, &keep, &err);
    age_all(root);
    struct ctx {
        struct digest d;
    } ctx = {keep};
    struct store_prune_opts opts = {.add_roots = add_roots, .add_roots_ctx = &ctx};
    ok(store_prune(s, &opts, &rep, &err) == 0, "prune aged content");
    ok(!store_blob_has(s, &m3.digest), "untagged manifest removed");
    ok(!store_blob_has(s, &config), "its config removed");
    ok(!store_blob_has(s, &layer), "its layer removed");
    ok(store_blob_has(s, &keep), "a root added by the callback is kept");
    ok(rep.blobs_removed >= 3 && rep.blob_bytes > 0, "report counts blobs (%llu, %llu bytes)",
       (unsigned long long)rep.blobs_removed, (unsigned long long)rep.blob_bytes);
    struct image *dimg = NULL;
    ok(store_image_load(s, "debian", &dimg, &err) == 0, "tagged images survive prune");
    image_free(dimg);

    /* fsck: clean, then corrupt a blob and remove a layer. */
    struct store_fsck_opts fo = {0};
    struct store_fsck_result fr;
    ok(store_fsck(s, &fo, &fr, &err) == 0 && fr.problems == 0, "fsck clean (%llu blobs)",
       (unsigned long long)fr.blobs_checked);
    store_image_load(s, "team/app:1.2", &dimg, &err);
    cleanup_free char *lp = store_blob_path(s, &dimg->layers[0].blob.digest);
    image_free(dimg);
    chmod(lp, 0644);
    write_file_atomic(lp, "tampered!", 9, 0444, NULL);
    ok(store_fsck(s, &fo, &fr, &err) == 0 && fr.problems == 3 && fr.unfixed == 3,
       "fsck finds the corrupt blob and the tags using it (%llu)", (unsigned long long)fr.problems);
    fo.repair = 1;
    ok(store_fsck(s, &fo, &fr, &err) == 0 && fr.problems >= 1 && fr.unfixed == 0,
       "fsck --repair fixes them");
    fo.repair = 0;
    ok(store_fsck(s, &fo, &fr, &err) == 0 && fr.problems == 0, "fsck clean after repair");
    ok(store_image_load(s, "debian", &dimg, &err) == 0, "the healthy image is untouched");
    image_free(dimg);
    ok(store_image_load(s, "team/app:1.2", &dimg, &err) < 0, "the broken tag is gone");
    kiln_error_freep(&err);
    descriptor_release(&m3);
}

/* 1 if another process finds the lock file locked. */
static int probe(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        _exit(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The store lock nests in one process and excludes other processes. */
static void test_lock(const char *root)
{
    cleanup_store struct store *s = NULL;
    struct kiln_error *err = NULL;
    store_open(root, &s, &err);
    ok(store_lock(s, &err) == 0 && store_lock(s, &err) == 0, "lock nests");
    struct descriptor m;
    ok(make_image(s, "under lock", "2023-11-14T22:13:20Z", &m, &err) == 0 &&
           store_tag(s, "locked:1", &m, &err) == 0,
       "store calls work while holding the lock");
    descriptor_release(&m);
    cleanup_free char *lock = path_join(root, "lock");
    ok(probe(lock) == 1, "another process cannot take it");
    store_unlock(s);
    ok(probe(lock) == 1, "still held after one unlock");
    store_unlock(s);
    ok(probe(lock) == 0, "free after the last unlock");
}

/* A partial index (one platform pulled) can be tagged and loaded; one whose
 * host entry is missing cannot. */
static void test_index(const char *root)
{
    cleanup_store struct store *s = NULL;
    struct kiln_error *err = NULL;
    store_open(root, &s, &err);
    struct descriptor amd;
    make_image(s, "amd64 layer", "2023-11-14T22:13:20Z", &amd, &err);
    struct digest absent;
    digest_bytes("arm64 manifest that was never pulled", 36, &absent);
    char a[DIGEST_STR_LEN + 1], b[DIGEST_STR_LEN + 1];
    cleanup_json json_t *index = json_pack(
        "{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s, s:s}}, {s:s, s:s, s:I, s:{s:s, s:s}}]}",
        "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", "mediaType", MT_OCI_MANIFEST,
        "digest", digest_str(&absent, b), "size", (json_int_t)500, "platform", "architecture",
        "arm64", "os", "linux", "mediaType", MT_OCI_MANIFEST, "digest", digest_str(&amd.digest, a),
        "size", (json_int_t)amd.size, "platform", "architecture", "amd64", "os", "linux");
    cleanup_free char *data = json_dump_canonical(index);
    struct descriptor id = {.media_type = MT_OCI_INDEX, .size = strlen(data)};
    store_blob_put(s, data, strlen(data), NULL, &id.digest, &err);
    ok(store_tag(s, "multi:1", &id, &err) == 0, "a partial index is tagged: %s",
       err ? err->msg : "ok");
    kiln_error_freep(&err);
    struct image *img = NULL;
    ok(store_image_load(s, "multi:1", &img, &err) == 0 &&
           digest_equal(&img->manifest.digest, &amd.digest),
       "loading it picks linux/amd64");
    image_free(img);

    /* The same index without the host's manifest present. */
    cleanup_json json_t *index2 = json_deep_copy(index);
    json_object_set_new(json_array_get(json_object_get(index2, "manifests"), 1), "digest",
                        json_string(digest_str(&absent, b)));
    cleanup_free char *data2 = json_dump_canonical(index2);
    struct descriptor id2 = {.media_type = MT_OCI_INDEX, .size = strlen(data2)};
    store_blob_put(s, data2, strlen(data2), NULL, &id2.digest, &err);
    ok(store_tag(s, "multi:2", &id2, &err) < 0 && err && strstr(err->msg, absent.hex),
       "an index without the host's manifest is refused: %s", err ? err->msg : "");
    kiln_error_freep(&err);
    descriptor_release(&amd);
}

/* Two processes writing and tagging on one store at once both succeed. */
static void test_concurrency(const char *root)
{
    enum { WRITERS = 2, ROUNDS = 25 };
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            for (int i = 0; i < ROUNDS; i++) {
                struct store *s = NULL;
                struct kiln_error *err = NULL;
                char content[64], tag[64];
                snprintf(content, sizeof(content), "writer %d round %d", w, i);
                snprintf(tag, sizeof(tag), "w%d:r%d", w, i);
                struct descriptor m;
                if (store_open(root, &s, &err) < 0 ||
                    make_image(s, content, "2023-11-14T22:13:20Z", &m, &err) < 0 ||
                    store_tag(s, tag, &m, &err) < 0) {
                    fprintf(stderr, "writer %d: %s\n", w, err ? err->msg : "?");
                    _exit(1);
                }
                descriptor_release(&m);
                store_close(s);
            }
            _exit(0);
        }
    }
    int all_ok = 1;
    for (int w = 0; w < WRITERS; w++) {
        int st = 0;
        waitpid(pids[w], &st, 0);
        all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    ok(all_ok, "two concurrent writers both succeed");
    cleanup_store struct store *s = NULL;
    struct kiln_error *err = NULL;
    store_open(root, &s, &err);
    int found = 0;
    for (int w = 0; w < WRITERS; w++)
        for (int i = 0; i < ROUNDS; i++) {
            char tag[64];
            snprintf(tag, sizeof(tag), "w%d:r%d", w, i);
            struct descriptor d;
            if (store_resolve_tag(s, tag, &d, NULL) == 0) {
                found++;
                descriptor_release(&d);
            }
        }
    is_int(found, WRITERS * ROUNDS, "every tag of both writers is listed");
    is_int(count_in(root, "ingest"), 1, "only our own ingest session remains");
}

/* Every JSON document the store wrote validates against the OCI schemas. */
static void test_schemas(const char *root)
{
    if (access("tests/tools/oci-validate", X_OK) != 0) {
        ok(0, "tests/tools/oci-validate is missing (run from the repository root)");
        return;
    }
    cleanup_free char *cmd = xasprintf("tests/tools/oci-validate '%s'", root);
    ok(system(cmd) == 0, "index.json, oci-layout, manifests and configs match the OCI schemas");
    /* The validator itself must be able to fail. */
    cleanup_free char *bad = xasprintf("%s/../bad-manifest.json", root);
    const char *doc = "{\"schemaVersion\":3,\"config\":{},\"layers\":[]}";
    write_file_atomic(bad, doc, strlen(doc), 0644, NULL);
    cleanup_free char *cmd2 = xasprintf("tests/tools/oci-validate manifest '%s' >/dev/null", bad);
    ok(system(cmd2) != 0, "the validator rejects an invalid manifest");
}

int main(void)
{
    cleanup_free char *root = tmp_root();
    test_layout(root);
    test_blobs(root);
    test_stale_ingest(root);
    test_tags_and_images(root);
    test_untag_prune_fsck(root);
    test_index(root);
    test_lock(root);
    test_schemas(root);
    cleanup_free char *root2 = tmp_root();
    test_concurrency(root2);
    test_schemas(root2);
    char *parent = xstrdup(root);
    *strrchr(parent, '/') = '\0';
    rm_rf(parent, NULL);
    free(parent);
    parent = xstrdup(root2);
    *strrchr(parent, '/') = '\0';
    rm_rf(parent, NULL);
    free(parent);
    return done_testing();
}
