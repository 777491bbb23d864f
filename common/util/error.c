/* hg_error helpers: formatting into a caller's record, messages for codes. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hg_error_clear(hg_error *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

int hg_error_set(hg_error *e, int code, const char *fmt, ...)
{
    va_list ap;
    if (!e)
        return code;
    e->code = code;
    e->file[0] = '\0';
    e->line = 0;
    e->col = 0;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return code;
}

/* The messages are base.h's HG_ERRORS table. */
const char *hg_strerror(int code)
{
    switch (code) {
#define HG_ERROR_CASE_(name, value, msg) case HG_##name: return msg;
    HG_ERRORS(HG_ERROR_CASE_)
#undef HG_ERROR_CASE_
    default: return "unknown error";
    }
}
