/* Heartbeat lines. Strict about the step (it is what stall detection counts on),
 * lenient after it: a pair this hgrid does not know is skipped, so a newer Python
 * package still beats through an older keeper. */
#include "beat.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/protocol.h"

static int digits(const char *p, const char **end, long long *v)
{
    if (*p < '0' || *p > '9')
        return -1;
    char *e;
    errno = 0;
    *v = strtoll(p, &e, 10);
    if (errno)
        return -1;
    *end = e;
    return 0;
}

int hg_beat_parse(const char *line, hg_beat *out)
{
    long long step;
    const char *p;
    if (digits(line, &p, &step) != 0 || step > LONG_MAX || (*p && *p != ' '))
        return -1;
    *out = (hg_beat){ .step = (long)step, .compute_us = -1 };
    while (*p == ' ') {
        char key[16];
        size_t n = 0;
        while (*++p == ' ')
            ;
        while (n < sizeof(key) - 1 && *p >= 'a' && *p <= 'z')
            key[n++] = *p++;
        key[n] = '\0';
        long long v;
        if (!n || *p != ' ' || digits(p + 1, &p, &v) != 0 || (*p && *p != ' '))
            break;
        if (strcmp(key, HG_BEAT_STACKS) == 0)
            out->stacks_pid = v > 0 && v <= INT_MAX ? (long)v : 0;
        else if (strcmp(key, HG_BEAT_COMPUTE) == 0)
            out->compute_us = v;
    }
    return 0;
}

int hg_beat_format(const hg_beat *b, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%ld", b->step);
    if (b->stacks_pid > 0 && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " stacks %ld", b->stacks_pid);
    if (b->compute_us >= 0 && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " " HG_BEAT_COMPUTE " %lld", b->compute_us);
    return n;
}
