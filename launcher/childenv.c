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

static void push(hg_childenv *e, char *s)
{
    if (!s || !e->v) {
        free(s);
        e->failed = 1;
        return;
    }
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **v = realloc(e->v, cap * sizeof(*v));
        if (!v) {
            free(s);
            e->failed = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
}

void hg_childenv_copy(hg_childenv *e, char *const *from)
{
    *e = (hg_childenv){ 0 };
    /* The array exists, NULL-terminated, even for an empty environment. */
    if (!(e->v = calloc(64, sizeof(*e->v)))) {
        e->failed = 1;
        return;
    }
    e->cap = 64;
    for (size_t i = 0; from && from[i]; i++)
        push(e, strdup(from[i]));
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
        push(e, s);
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

void hg_childenv_free(hg_childenv *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    *e = (hg_childenv){ 0 };
}
