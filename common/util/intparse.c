/* strtoll with the edges closed: strtoll alone skips leading blanks, takes "12abc" as
 * 12 and an empty string as 0, which would make a typo in an option a silent value. */
#include "util/intparse.h"

#include <errno.h>
#include <stdlib.h>

int hg_int_parse(const char *s, int min, int max, int *out)
{
    const char *digits = s;
    char *end;
    long long v;
    if (!s)
        return -1;
    if (*digits == '+' || *digits == '-')
        digits++;
    if (*digits < '0' || *digits > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int hg_int_env(const char *name, int max)
{
    int v;
    return hg_int_parse(getenv(name), 0, max, &v) == 0 ? v : -1;
}
