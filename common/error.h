/* Errors shared by every hgrid module: negative HG_E* codes, and a caller-owned
 * record of what failed and where. Functions that can fail return 0 or a code and
 * fill an hg_error; only main() prints and picks the exit status. */
#ifndef HG_ERROR_H
#define HG_ERROR_H

enum {
    HG_OK = 0,
    HG_EINVAL = -1,    /* bad argument or usage */
    HG_ENOMEM = -2,
    HG_EIO = -3,       /* a file could not be read or written */
    HG_ECONFIG = -4,   /* the grid description is invalid */
    HG_EMPI = -5,
    HG_ECUDA = -6,
    HG_ENCCL = -7,
    HG_EVERIFY = -8,   /* a communicator did not match the plan */
    HG_ETIMEDOUT = -9,
    HG_ESYS = -10,     /* a system call failed (fork, exec, ...) */
    HG_EPEER = -11     /* another rank failed */
};

typedef struct hg_error {
    int code;
    char file[256]; /* where: config file, or "" */
    int line;       /* 1-based; 0 when unknown */
    int col;
    char msg[1024];
} hg_error;

void hg_error_clear(hg_error *e);
/* Sets e (when not NULL) and returns code, so callers can `return hg_error_set(...)`. */
int hg_error_set(hg_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int hg_error_set_at(hg_error *e, int code, const char *file, int line, int col,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
const char *hg_strerror(int code);

#endif
