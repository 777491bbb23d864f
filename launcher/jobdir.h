/* What a standalone launch makes for one attempt and removes after it: the plan
 * directory the ranks write their plans into (stale ones of launchers that died are
 * removed), the config copy when CONFIG was a pipe, the status token, the paths the
 * agents open made absolute, the ranks' channel. Also the job's run id and the checks
 * of --report and --log-dir that run before anything starts. */
#ifndef HG_JOBDIR_H
#define HG_JOBDIR_H

#include <stddef.h>

#include "childenv.h"
#include "cli.h"
#include "stream/iochan.h"
#include "wire/protocol.h"

/* What a standalone launch owns until the job has ended. */
typedef struct hg_jobdir {
    char *plan_dir;  /* the ranks' plan files; removed with its files */
    char *config;    /* the path the agents read (a copy in plan_dir for a pipe) */
    char *report;    /* --report, absolute */
    char *log_dir;   /* --log-dir, absolute */
    hg_iochan *io;   /* the ranks' channel */
    char token[HG_STATUS_TOKEN_LEN + 1]; /* the status token (protocol.h) */
} hg_jobdir;

/* Makes a fresh status token, the plan directory, the config copy (config_path NULL:
 * bytes), absolute --report/--log-dir and the channel for world ranks. Returns 0 or the
 * exit status, having said why on stderr; f is then partly filled, and hg_jobdir_free
 * frees it either way. */
int hg_jobdir_prepare(const hg_cli *cli, int world, const char *config_path, const char *bytes,
                      size_t len, hg_jobdir *f);
/* The attempt's names in the ranks' environment: HGRID_STATUS_TOKEN, HGRID_PLAN_DIR,
 * HGRID_IO. */
void hg_jobdir_env(const hg_jobdir *f, hg_childenv *env);
/* Closes the channel and removes the plan directory with its files. */
void hg_jobdir_free(hg_jobdir *f);

/* TMPDIR, else /tmp. */
const char *hg_jobdir_tmp(void);
/* mkdir -p DIR, then checks that files can be made there. Returns 0 or an errno. */
int hg_jobdir_make_log_dir(const char *dir);
/* Whether FILE can be written: an existing non-directory we may write, or a new name in
 * a directory we may write. Returns 0 or an errno. */
int hg_jobdir_check_writable(const char *path);
/* HGRID_RUN_ID's value for every attempt: the user's, else a random UUID. */
void hg_jobdir_run_id(char *id, size_t len);

#endif
