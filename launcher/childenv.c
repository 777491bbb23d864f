/* The children's environment as an array (childenv.h). */
#include "childenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The index of NAME's entry, or -1. */
static long find(const hg_childenv *e, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=')
            return (long)i;
    return -1;
}

void hg_childenv_copy(hg_childenv *e, char *const *from)
{
    *e = (hg_childenv){ 0 };
    for (size_t i = 0; from && from[i]; i++)
        hg_strv_push(e, strdup(from[i]));
    /* The array exists, NULL-terminated, even for an empty environment. */
    if (!e->v && !e->failed && !(e->v = calloc(1, sizeof(*e->v))))
        e->failed = 1;
}

void hg_childenv_set(hg_childenv *e, const char *name, const char *value, int overwrite)
{
    long i = find(e, name);
    if (i >= 0 && !overwrite)
        return;
    char *s = NULL;
    if (asprintf(&s, "%s=%s", name, value) < 0)
        s = NULL;
    if (i < 0) {
        hg_strv_push(e, s);
    } else if (s) {
        free(e->v[i]);
        e->v[i] = s;
    } else {
        e->failed = 1;
    }
}

const char *hg_childenv_get(const hg_childenv *e, const char *name)
{
    long i = find(e, name);
    return i < 0 ? NULL : e->v[i] + strlen(name) + 1;
}
