/* hg_diags: an append-only list of formatted diagnostics for one file, each kept with
 * its position so a checker that finds problems out of file order can sort its own. */
#include "util/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *text;
    int line, col;
} entry;

struct hg_diags {
    char *file;
    entry *e;
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
        free(d->e[i].text);
    free(d->e);
    free(d->file);
    free(d);
}


static int push(hg_diags *d, char *s, int line, int col)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        entry *t = realloc(d->e, cap * sizeof(*t));
        if (!t)
            return -1;
        d->e = t;
        d->cap = cap;
    }
    d->e[d->n++] = (entry){ s, line, col };
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
            if (s && push(d, s, 0, 0) == 0)
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
    if (s && push(d, s, line, col) != 0)
        free(s);
}

/* Insertion sort: stable, in place, and the lists are short (at most HG_DIAGS_MAX). */
void hg_diags_sort_from(hg_diags *d, size_t first)
{
    /* The "too many" line stands for what was dropped, so it stays last. */
    size_t end = d->n - (d->overflowed ? 1 : 0);
    for (size_t i = first + 1; i < end; i++) {
        entry x = d->e[i];
        size_t j = i;
        while (j > first && (d->e[j - 1].line > x.line
                             || (d->e[j - 1].line == x.line && d->e[j - 1].col > x.col))) {
            d->e[j] = d->e[j - 1];
            j--;
        }
        d->e[j] = x;
    }
}

size_t hg_diags_errors(const hg_diags *d) { return d->errors; }
size_t hg_diags_warnings(const hg_diags *d) { return d->warnings; }
size_t hg_diags_size(const hg_diags *d) { return d->n; }
const char *hg_diags_text(const hg_diags *d, size_t i) { return i < d->n ? d->e[i].text : NULL; }

void hg_diags_print(const hg_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(out, "%s\n", d->e[i].text);
}
