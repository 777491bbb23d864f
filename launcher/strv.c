/* Owned, NULL-terminated string arrays (strv.h). */
#include "strv.h"

#include <stdlib.h>

void hg_strv_push(hg_strv *a, char *s)
{
    if (!s || a->failed) {
        free(s);
        a->failed = 1;
        return;
    }
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **v = realloc(a->v, cap * sizeof(*v));
        if (!v) {
            free(s);
            a->failed = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

void hg_strv_free(hg_strv *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    *a = (hg_strv){ 0 };
}
