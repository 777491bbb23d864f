/* A NULL-terminated array of owned strings being built: an argv (launch_argv.h) or an
 * environment (childenv.h). An allocation that fails sets `failed` and later additions
 * do nothing, so a builder checks once, at the end. Zero it to start; v stays NULL
 * until the first addition. */
#ifndef HG_STRV_H
#define HG_STRV_H

#include <stddef.h>

typedef struct hg_strv {
    char **v;
    size_t n, cap;
    int failed;
} hg_strv;

/* Appends s, which the array then owns (freed here when the array has failed); s NULL
 * (a failed strdup or asprintf) fails the array. */
void hg_strv_push(hg_strv *a, char *s);
void hg_strv_free(hg_strv *a);

#endif
