/* dpkg's own answer for version pairs, in one process: reads "A B" lines and
 * prints "A B SIGN" with libdpkg's dpkg_version_compare (the function
 * dpkg --compare-versions runs). Built by scan_versions.bats at test time. */
#define LIBDPKG_VOLATILE_API 1
#include <dpkg/dpkg-db.h>
#include <dpkg/dpkg.h>
#include <dpkg/version.h>
#include <stdio.h>

int main(void)
{
    char a[512], b[512];
    while (scanf("%511s %511s", a, b) == 2) {
        struct dpkg_version va, vb;
        if (parseversion(&va, a, NULL) != 0 || parseversion(&vb, b, NULL) != 0) {
            fprintf(stderr, "dpkg_cmp: invalid version in pair %s %s\n", a, b);
            return 1;
        }
        int c = dpkg_version_compare(&va, &vb);
        printf("%s %s %d\n", a, b, c < 0 ? -1 : c > 0);
    }
    return 0;
}
