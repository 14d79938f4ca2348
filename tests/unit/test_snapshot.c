/* Snapshots: a layer unpacked once into snapshots/<diffid>/ in overlay form
 * (OCI whiteouts become char 0/0 devices and trusted.overlay.opaque), digest
 * checked, reused, held against prune, adopted from a directory, and built
 * by two processes at once. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/store.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

struct buf {
    struct strbuf sb;
};

static la_ssize_t sb_write(struct archive *a, void *ctx, const void *data, size_t len)
{
    (void)a;
    strbuf_add(&((struct buf *)ctx)->sb, data, len);
    return (la_ssize_t)len;
}

static void add(struct archive *a, const char *path, mode_t type, const char *data)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
    archive_write_header(a, e);
    if (data)
        archive_write_data(a, data, strlen(data));
    archive_entry_free(e);
}

/* A layer with a file, a whiteout and an opaque directory. */
static char *make_tar(size_t *len, const char *extra)
{
    struct buf b = {STRBUF_INIT};
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &b, NULL, sb_write, NULL);
    add(a, "a/", AE_IFDIR, NULL);
    add(a, "a/.wh.gone", AE_IFREG, "");
    add(a, "a/file", AE_IFREG, extra);
    add(a, "b/", AE_IFDIR, NULL);
    add(a, "b/.wh..wh..opq", AE_IFREG, "");
    add(a, "b/kept", AE_IFREG, "kept\n");
    archive_write_close(a);
    archive_write_free(a);
    *len = b.sb.len;
    return strbuf_detach(&b.sb);
}

static void put_layer(struct store *s, const char *extra, struct image_layer *l)
{
    size_t len = 0;
    cleanup_free char *tar = make_tar(&len, extra);
    memset(l, 0, sizeof(*l));
    store_blob_put(s, tar, len, NULL, &l->blob.digest, NULL);
    l->blob.size = len;
    l->blob.media_type = MT_OCI_LAYER;
    l->diffid = l->blob.digest;
}

static void age(const char *path)
{
    struct timespec old[2] = {{1000, 0}, {1000, 0}};
    utimensat(AT_FDCWD, path, old, AT_SYMLINK_NOFOLLOW);
}

int main(void)
{
    char tmpl[] = "/tmp/kiln-test-snap-XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        return 1;
    cleanup_free char *root = path_join(tmpl, "store");
    struct store *s = NULL;
    struct kiln_error *err = NULL;
    ok(store_open(root, &s, &err) == 0, "open store");
    struct image_layer l;
    put_layer(s, "hello\n", &l);

    ok(!store_snapshot_has(s, &l.diffid), "no snapshot yet");
    cleanup_free char *path = NULL;
    int rc = store_snapshot_ensure(s, &l, &path, &err);
    ok(rc == 0, "unpack the layer: %s", err ? err->msg : "ok");
    cleanup_free char *want = store_snapshot_path(s, &l.diffid);
    is_str(path, want, "snapshot path is snapshots/<diffid>");
    ok(store_snapshot_has(s, &l.diffid), "snapshot exists");

    struct stat st;
    cleanup_free char *file = path_join(path ? path : "", "a/file");
    cleanup_free char *gone = path_join(path ? path : "", "a/gone");
    cleanup_free char *wh = path_join(path ? path : "", "a/.wh.gone");
    cleanup_free char *b = path_join(path ? path : "", "b");
    ok(stat(file, &st) == 0 && st.st_size == 6, "regular file unpacked");
    ok(lstat(gone, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
       "whiteout became a char 0/0 device");
    ok(lstat(wh, &st) < 0, "no .wh. file left");
    char val[8] = {0};
    ok(lgetxattr(b, "trusted.overlay.opaque", val, sizeof(val)) == 1 && val[0] == 'y',
       "opaque dir has trusted.overlay.opaque=y");

    /* Second ensure reuses it: a marker we drop in survives. */
    cleanup_free char *marker = path_join(path ? path : "", "marker");
    write_file_atomic(marker, "m", 1, 0644, NULL);
    cleanup_free char *path2 = NULL;
    ok(store_snapshot_ensure(s, &l, &path2, &err) == 0 && path_exists(marker),
       "second ensure does not unpack again");

    /* A layer whose tar does not match the diffid is refused and not kept. */
    struct image_layer bad;
    put_layer(s, "other\n", &bad);
    digest_bytes("not the tar", 11, &bad.diffid);
    cleanup_free char *p3 = NULL;
    rc = store_snapshot_ensure(s, &bad, &p3, &err);
    ok(rc < 0 && err && err->code == KILN_E_DIGEST, "diffid mismatch refused: %s",
       err ? err->msg : "");
    kiln_error_freep(&err);
    ok(!store_snapshot_has(s, &bad.diffid), "no snapshot for the bad layer");
    DIR *d = opendir(store_scratch_dir(s));
    int leftovers = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        leftovers += de->d_name[0] != '.';
    if (d)
        closedir(d);
    is_int(leftovers, 0, "nothing left in the ingest session");

    /* Prune: held snapshots stay, released ones go (nothing tags this layer). */
    age(path);
    int hold = store_snapshot_hold(s, &l.diffid, &err);
    ok(hold >= 0, "hold the snapshot");
    store_close(s);
    s = NULL;
    store_open(root, &s, &err);
    struct store_prune_report rep;
    store_prune(s, NULL, &rep, &err);
    ok(path_exists(path), "prune skips a held snapshot");
    close(hold);
    store_prune(s, NULL, &rep, &err);
    ok(!path_exists(path), "prune removes it once released");
    is_int(rep.snapshots_removed, 1, "one snapshot reported");
    ok(rep.snapshot_bytes >= 6, "its bytes counted (%llu)", (unsigned long long)rep.snapshot_bytes);

    /* Adopt: a prepared directory moves into place; a second copy is left
     * to the caller (who removes it in the background). */
    struct digest fake;
    digest_bytes("adopted", 7, &fake);
    cleanup_free char *dir1 = path_join(store_scratch_dir(s), "up1");
    cleanup_free char *dir2 = path_join(store_scratch_dir(s), "up2");
    mkdir(dir1, 0755);
    mkdir(dir2, 0755);
    ok(store_snapshot_adopt(s, dir1, &fake, &err) == 1 && store_snapshot_has(s, &fake) &&
           !path_exists(dir1),
       "adopt moves the directory in");
    ok(store_snapshot_adopt(s, dir2, &fake, &err) == 0 && path_exists(dir2),
       "adopting an existing snapshot leaves the copy to the caller");
    rm_rf(dir2, &err);

    /* Two processes unpacking the same layer at once both succeed. */
    struct image_layer l2;
    put_layer(s, "concurrent\n", &l2);
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct store *cs = NULL;
            struct kiln_error *cerr = NULL;
            char *p = NULL;
            int r =
                store_open(root, &cs, &cerr) == 0 && store_snapshot_ensure(cs, &l2, &p, &cerr) == 0;
            _exit(r ? 0 : 1);
        }
    }
    int both = 1;
    for (int i = 0; i < 2; i++) {
        int stt = 0;
        waitpid(pids[i], &stt, 0);
        both &= WIFEXITED(stt) && WEXITSTATUS(stt) == 0;
    }
    ok(both, "two concurrent unpacks of one layer both succeed");
    ok(store_snapshot_has(s, &l2.diffid), "and leave one snapshot");

    store_close(s);
    rm_rf(tmpl, NULL);
    return done_testing();
}
