/* hg_diags: an append-only list of formatted diagnostics for one file. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct hg_diags {
    char *file;
    char **text;
    size_t n, cap;
    size_t errors, warnings;
    int overflowed;
};

hg_diags *hg_diags_new(const char *file)
{
    hg_diags *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->file = strdup(file ? file : "<input>");
    if (!d->file) {
        free(d);
        return NULL;
    }
    return d;
}

void hg_diags_free(hg_diags *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->text[i]);
    free(d->text);
    free(d->file);
    free(d);
}

const char *hg_diags_file(const hg_diags *d) { return d->file; }

static int push(hg_diags *d, char *s)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **t = realloc(d->text, cap * sizeof(*t));
        if (!t)
            return -1;
        d->text = t;
        d->cap = cap;
    }
    d->text[d->n++] = s;
    return 0;
}

static char *format_line(const char *file, int line, int col, const char *what,
                         const char *msg)
{
    char *s = NULL;
    int r;
    if (line > 0 && col > 0)
        r = asprintf(&s, "%s:%d:%d: %s: %s", file, line, col, what, msg);
    else if (line > 0)
        r = asprintf(&s, "%s:%d: %s: %s", file, line, what, msg);
    else
        r = asprintf(&s, "%s: %s: %s", file, what, msg);
    return r < 0 ? NULL : s;
}

void hg_diags_add(hg_diags *d, hg_diag_level level, int line, int col, const char *fmt, ...)
{
    if (!d)
        return;
    if (level == HG_DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
    if (d->n >= HG_DIAGS_MAX) {
        if (!d->overflowed) {
            char *s = format_line(d->file, 0, 0, "error",
                                  "too many diagnostics; the rest are not shown");
            if (s && push(d, s) == 0)
                d->overflowed = 1;
            else
                free(s);
        }
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *s = format_line(d->file, line, col, level == HG_DIAG_ERROR ? "error" : "warning", msg);
    if (s && push(d, s) != 0)
        free(s);
}

size_t hg_diags_errors(const hg_diags *d) { return d->errors; }
size_t hg_diags_warnings(const hg_diags *d) { return d->warnings; }
size_t hg_diags_size(const hg_diags *d) { return d->n; }
const char *hg_diags_text(const hg_diags *d, size_t i) { return i < d->n ? d->text[i] : NULL; }

void hg_diags_print(const hg_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(out, "%s\n", d->text[i]);
}
