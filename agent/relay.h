/* PROGRAM's output where no standalone hgrid-launch takes it (keeper.h): agents that
 * srun or mpirun started directly, or a launcher that could not be reached. Just before
 * the handoff exec, a small relay process is forked; PROGRAM then runs in the agent's
 * own process (so mpirun and srun still see its pid and status) with stdout and stderr
 * on pipes to the relay (PROGRAM's stdout is a pipe in every mode), which copies every
 * byte to the agent's original streams, a whole line per write, "[RANK MODULE] " before
 * each line when labelling (--label), and byte for byte to log files (--log-dir). */
#ifndef HG_RELAY_H
#define HG_RELAY_H

#include <stddef.h>

#include "util/error.h"

typedef struct hg_relay_opts {
    int label;            /* prefix lines with "[RANK MODULE] " */
    const char *log_dir;  /* NULL: no files; else DIR/rankR-MODULE.stdout and .stderr */
    int rank;
    const char *module;
} hg_relay_opts;

/* The log file of one rank's stream ("stdout" or "stderr"), into buf. */
void hg_relay_log_path(const char *dir, int rank, const char *module, const char *stream,
                       char *buf, size_t len);

/* Starts the relay and points this process's descriptors 1 and 2 at it, first making
 * the log directory and its parents where missing (mkdir -p). Returns 0, or HG_EIO (the
 * directory or a log file could not be created) or HG_ESYS with err saying why; the
 * streams are then unchanged. */
int hg_relay_start(const hg_relay_opts *o, hg_error *err);

#endif
