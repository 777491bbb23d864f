/* hg_error helpers: formatting into a caller's record, names for codes. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hg_error_clear(hg_error *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

static int set_v(hg_error *e, int code, const char *file, int line, int col,
                 const char *fmt, va_list ap)
{
    if (!e)
        return code;
    e->code = code;
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->line = line;
    e->col = col;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    return code;
}

int hg_error_set(hg_error *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_v(e, code, NULL, 0, 0, fmt, ap);
    va_end(ap);
    return code;
}

int hg_error_set_at(hg_error *e, int code, const char *file, int line, int col,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_v(e, code, file, line, col, fmt, ap);
    va_end(ap);
    return code;
}

const char *hg_strerror(int code)
{
    switch (code) {
    case HG_OK: return "success";
    case HG_EINVAL: return "invalid argument";
    case HG_ENOMEM: return "out of memory";
    case HG_EIO: return "I/O error";
    case HG_ECONFIG: return "invalid grid description";
    case HG_EMPI: return "MPI error";
    case HG_ECUDA: return "CUDA error";
    case HG_ENCCL: return "NCCL error";
    case HG_EVERIFY: return "verification failed";
    case HG_ETIMEDOUT: return "timed out";
    case HG_ESYS: return "system call failed";
    case HG_EPEER: return "another rank failed";
    default: return "unknown error";
    }
}
