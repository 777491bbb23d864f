/* hg_ranklist_format: consecutive ranks collapse into "a-b" runs. */
#include "util/ranklist.h"

#include <stdio.h>

char *hg_ranklist_format(const int *ranks, size_t n, char *buf, size_t len)
{
    size_t used = 0, runs = 0;
    if (!len)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        size_t j = i;
        int w;
        while (j + 1 < n && ranks[j + 1] == ranks[j] + 1)
            j++;
        if (++runs > HG_RANKLIST_MAX_RUNS) {
            snprintf(buf + used, len - used, ", ...");
            return buf;
        }
        if (i == j)
            w = snprintf(buf + used, len - used, "%s%d", used ? ", " : "", ranks[i]);
        else
            w = snprintf(buf + used, len - used, "%s%d-%d", used ? ", " : "", ranks[i], ranks[j]);
        if (w < 0)
            break;
        used += (size_t)w; /* may pass len: snprintf has truncated, the loop ends */
        i = j;
    }
    return buf;
}
