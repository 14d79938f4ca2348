#include "util/userns.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/fs.h"

bool userns_map_is_identity(const char *text)
{
    unsigned long inner, outer, count;
    int used = 0;
    if (text == NULL || sscanf(text, " %lu %lu %lu %n", &inner, &outer, &count, &used) != 3)
        return false;
    return inner == 0 && outer == 0 && count == 4294967295UL && text[used] == '\0';
}

bool userns_is_initial(void)
{
    static int known = -1; /* the namespace does not change under kiln */
    if (known < 0) {
        char *map = NULL;
        if (read_file("/proc/self/uid_map", 1 << 16, &map, NULL, NULL) < 0)
            known = 1;
        else
            known = userns_map_is_identity(map);
        free(map);
    }
    return known == 1;
}

bool userns_unprivileged(void)
{
    return geteuid() != 0 || !userns_is_initial();
}

unsigned long id_map_inner(const struct id_range *r, size_t n, unsigned long outer)
{
    for (size_t i = 0; i < n; i++)
        if (outer >= r[i].outer && outer - r[i].outer < r[i].count)
            return r[i].inner + (outer - r[i].outer);
    return 65534;
}
