/* USER resolution in an image's passwd/group, as runc and Docker do it. */
#include "runtime/user.h"
#include "tap.h"

static const char *passwd = "root:x:0:0:root:/root:/bin/sh\n"
                            "# comment\n"
                            "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                            "app:x:1000:1000:App:/home/app:/bin/sh\n"
                            "broken:x:notanumber:1\n"
                            "nohome:x:1001:1001::\n";
static const char *group = "root:x:0:\n"
                           "wheel:x:10:root,app\n"
                           "app:x:1000:\n"
                           "data:x:2000:other,app\n"
                           "staff:x:50:\n";

int main(void)
{
    struct rt_user u;
    struct kiln_error *err = NULL;

    ok(rt_user_resolve(NULL, passwd, group, &u, &err) == 0, "empty spec is root");
    is_int(u.uid, 0, "root uid");
    is_int(u.gid, 0, "root gid");
    is_str(u.home, "/root", "root home");
    is_int(u.n_groups, 1, "root is in wheel");
    rt_user_free(&u);

    ok(rt_user_resolve("app", passwd, group, &u, &err) == 0, "by name");
    is_int(u.uid, 1000, "uid");
    is_int(u.gid, 1000, "primary gid from passwd");
    is_int(u.n_groups, 2, "two supplementary groups");
    ok(u.n_groups == 2 && u.groups[0] == 10 && u.groups[1] == 2000, "wheel and data");
    is_str(u.home, "/home/app", "home");
    rt_user_free(&u);

    ok(rt_user_resolve("1000:50", passwd, group, &u, &err) == 0, "uid:gid");
    is_int(u.uid, 1000, "uid");
    is_int(u.gid, 50, "gid given");
    is_int(u.n_groups, 2, "memberships of the uid's name still apply");
    rt_user_free(&u);

    ok(rt_user_resolve("app:staff", passwd, group, &u, &err) == 0, "name:group");
    is_int(u.gid, 50, "group by name");
    rt_user_free(&u);

    ok(rt_user_resolve("4242", passwd, group, &u, &err) == 0, "unknown numeric uid is fine");
    is_int(u.uid, 4242, "uid");
    is_int(u.gid, 0, "gid 0");
    is_str(u.home, "/", "home /");
    rt_user_free(&u);

    ok(rt_user_resolve("1001", passwd, group, &u, &err) == 0, "empty home field");
    is_str(u.home, "/", "home / when empty");
    rt_user_free(&u);

    ok(rt_user_resolve("nobody", passwd, group, &u, &err) < 0, "missing name fails");
    ok(err && err->code == KILN_E_NOTFOUND, "not found");
    is_str(err ? err->msg : NULL, "unable to find user nobody: no matching entries in passwd file",
           "Docker's message");
    kiln_error_free(err);
    err = NULL;

    ok(rt_user_resolve("app:nogroup", passwd, group, &u, &err) < 0, "missing group fails");
    kiln_error_free(err);
    err = NULL;
    ok(rt_user_resolve("broken", passwd, group, &u, &err) < 0, "malformed entry ignored");
    kiln_error_free(err);
    err = NULL;
    ok(rt_user_resolve("app:", passwd, group, &u, &err) < 0, "empty group refused");
    kiln_error_free(err);
    err = NULL;
    ok(rt_user_resolve("0", NULL, NULL, &u, &err) == 0, "no passwd file: numeric works");
    rt_user_free(&u);
    return done_testing();
}
