/* build/gitsrc: which ADD sources are git repositories, and their ref,
 * subdir, keep-git-dir and checksum (BuildKit's URL forms). */
#include <stdlib.h>

#include "build/gitsrc.h"
#include "tap.h"

static int parse(const char *src, struct git_ref *r)
{
    struct kiln_error *err = NULL;
    int rc = git_ref_parse(src, r, &err);
    kiln_error_free(err);
    return rc;
}

int main(void)
{
    struct git_ref r;
    is_int(parse("https://example.com/a/repo.git", &r), 1, "https .git URL is git");
    is_str(r.remote, "https://example.com/a/repo.git", "remote");
    ok(r.ref == NULL && r.subdir == NULL && r.keep_git_dir == -1, "no ref, subdir, keep");
    git_ref_release(&r);

    is_int(parse("http://127.0.0.1:8080/repo.git#v1.2:docs/api", &r), 1, "fragment");
    is_str(r.remote, "http://127.0.0.1:8080/repo.git", "remote without fragment");
    is_str(r.ref, "v1.2", "ref from the fragment");
    is_str(r.subdir, "docs/api", "subdir from the fragment");
    git_ref_release(&r);

    is_int(parse("https://h/r.git#:sub", &r), 1, "fragment with only a subdir");
    ok(r.ref == NULL, "no ref");
    is_str(r.subdir, "sub", "subdir");
    git_ref_release(&r);

    is_int(parse("https://h/r.git?branch=dev&subdir=x&keep-git-dir=true", &r), 1, "query form");
    is_str(r.ref, "refs/heads/dev", "branch= is a full ref");
    is_str(r.subdir, "x", "subdir=");
    is_int(r.keep_git_dir, 1, "keep-git-dir=true");
    git_ref_release(&r);

    is_int(parse("https://h/r.git?tag=v1", &r), 1, "tag=");
    is_str(r.ref, "refs/tags/v1", "tag= is a full ref");
    git_ref_release(&r);

    is_int(parse("https://h/r.git?checksum=abc1234", &r), 1, "checksum=");
    is_str(r.ref, "abc1234", "checksum alone is the ref");
    is_str(r.checksum, "abc1234", "and the checksum");
    git_ref_release(&r);

    is_int(parse("git://127.0.0.1/r#main", &r), 1, "git:// is git even without .git");
    is_str(r.ref, "main", "ref");
    git_ref_release(&r);
    is_int(parse("ssh://git@h/r", &r), 1, "ssh:// is git");
    git_ref_release(&r);
    is_int(parse("git@github.com:org/repo.git#main", &r), 1, "user@host:path is git");
    is_str(r.remote, "git@github.com:org/repo.git", "scp-like remote");
    git_ref_release(&r);

    is_int(parse("https://example.com/file.tar.gz", &r), 0, "other https URLs are not git");
    is_int(parse("https://example.com/x.git.tar", &r), 0, ".git must end the path");
    is_int(parse("local/dir", &r), 0, "a context path is not git");
    is_int(parse("a@b", &r), 0, "no colon: not git");
    is_int(parse("https://h/r.git?tag=a&branch=b", &r), -1, "tag and branch conflict");
    is_int(parse("https://h/r.git?ref=a#b", &r), -1, "two different refs conflict");
    is_int(parse("https://h/r.git?bogus=1", &r), -1, "unknown query key");
    is_int(parse("https://h/r.git#main:../../etc", &r), -1, "subdir cannot leave the repo");
    is_int(parse("https://h/r.git#-upload-pack=x", &r), -1, "a ref cannot look like an option");
    is_int(parse("https://h/r.git?submodules=true", &r), 1, "submodules=true parses");
    is_int(r.submodules, 1, "submodules=true: checked out");
    git_ref_release(&r);
    is_int(parse("https://h/r.git#main", &r), 1, "no submodules= query");
    is_int(r.submodules, 1, "submodules are checked out by default (BuildKit)");
    git_ref_release(&r);
    is_int(parse("https://h/r.git?submodules=false", &r), 1, "submodules=false parses");
    is_int(r.submodules, 0, "submodules=false: left out");
    git_ref_release(&r);
    is_int(parse("https://h/r.git?submodules=maybe", &r), -1, "submodules= takes a boolean");
    return done_testing();
}
