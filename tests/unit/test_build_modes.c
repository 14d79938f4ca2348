/* build/chmod and build/pathglob: --chmod values (octal and symbolic, as
 * BuildKit's setmode port takes them) and COPY source patterns with "**". */
#include <sys/stat.h>

#include "build/chmod.h"
#include "build/pathglob.h"
#include "tap.h"

static long app(const char *spec, mode_t mode)
{
    struct chmod_spec s;
    if (chmod_parse(spec, &s) < 0)
        return -1;
    return (long)chmod_apply(&s, mode);
}

#define F(m) (S_IFREG | (m))
#define D(m) (S_IFDIR | (m))

int main(void)
{
    /* octal */
    is_int(app("755", F(0600)), 0755, "octal replaces");
    is_int(app("0644", D(0777)), 0644, "leading zero");
    is_int(app("4755", F(0)), 04755, "set-uid in octal");
    is_int(app("7777", F(0)), 07777, "every bit");
    is_int(app("17777", F(0)), -1, "beyond 07777 is refused");
    is_int(app("0o755", F(0)), -1, "0o prefix is refused");
    is_int(app("8", F(0)), -1, "non-octal digit is refused");
    is_int(app("", F(0)), -1, "empty is refused");

    /* symbolic */
    is_int(app("u=rwx,go=rx", F(0600)), 0755, "u=rwx,go=rx");
    is_int(app("u=rw,g=r,o=", F(0777)), 0640, "o= clears others");
    is_int(app("+x", F(0644)), 0755, "+x");
    is_int(app("+w", F(0444)), 0644, "+w without who is limited by the umask");
    is_int(app("a+w", F(0444)), 0666, "a+w is not");
    is_int(app("a-w", F(0666)), 0444, "a-w");
    is_int(app("-w", F(0666)), 0466, "-w without who: the umask limits what is cleared too");
    is_int(app("go-rwx", F(0777)), 0700, "go-rwx");
    is_int(app("=rw", F(0777)), 0644, "=rw without who: clears all, sets per umask");
    is_int(app("ug=rw,o=r", F(0)), 0664, "ug=rw,o=r");
    is_int(app("u+x,g+x", F(0644)), 0754, "two clauses");
    is_int(app("u=rwx,go=u-w", F(0)), 0755, "copy u into go, then clear w");
    is_int(app("g=u", F(0640)), 0660, "g=u copies the user's bits");
    is_int(app("o+g", F(0750)), 0755, "o+g");
    is_int(app("u-g", F(0770)), 0070, "u-g clears what g has");
    is_int(app("a+X", F(0644)), 0644, "X leaves a plain file alone");
    is_int(app("a+X", F(0744)), 0755, "X on a file someone can execute");
    is_int(app("a+X", D(0700)), 0711, "X on a directory");
    is_int(app("a=rX", D(0700)), 0444, "=rX: X only counts with +");
    is_int(app("u+s", F(0755)), 04755, "u+s");
    is_int(app("g+s", F(0755)), 02755, "g+s");
    is_int(app("o+s", F(0755)), 0755, "o+s does nothing");
    is_int(app("+t", D(0777)), 01777, "+t");
    is_int(app("o+t", D(0777)), 0777, "o+t does nothing");
    is_int(app("u=rw+x", F(0)), 0700, "several ops in one clause");
    is_int(app("a=", F(0777)), 0, "a= clears everything");
    is_int(app("u", F(0)), -1, "who without an op is refused");
    is_int(app("u=rwq", F(0)), -1, "unknown permission letter is refused");
    is_int(app("u+x,", F(0)), -1, "trailing comma is refused");
    is_int(app("z+x", F(0)), -1, "unknown class is refused");

    /* patterns */
    ok(pathglob_match("a/b.txt", "a/b.txt"), "literal");
    ok(!pathglob_match("a/b.txt", "a/b.txt/c"), "no prefix match");
    ok(pathglob_match("a/*.txt", "a/b.txt"), "* in a component");
    ok(!pathglob_match("a/*.txt", "a/x/b.txt"), "* stays in its component");
    ok(pathglob_match("**/*.txt", "b.txt"), "** matches zero components");
    ok(pathglob_match("**/*.txt", "a/x/y/b.txt"), "** matches several");
    ok(pathglob_match("a/**/c", "a/c"), "a/**/c matches a/c");
    ok(pathglob_match("a/**/c", "a/b/b/c"), "a/**/c matches a/b/b/c");
    ok(!pathglob_match("a/**/c", "b/c"), "a/**/c needs a");
    ok(pathglob_match("a/**", "a/b/c"), "trailing **");
    ok(pathglob_match("?/[bc]", "x/c"), "? and brackets");
    ok(!pathglob_match("*", ".hidden"), "* does not match a leading dot");
    return done_testing();
}
