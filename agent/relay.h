/* Per-rank labels and logs for the workload's output (hgrid-launch --label, --log-dir),
 * what srun --label and torchrun --log-dir/--tee give. Just before the handoff exec, a
 * small relay process is forked; PROGRAM then runs in the agent's own process (so
 * mpirun and srun still see its pid and status) with stdout and stderr on pipes to the
 * relay, which copies every byte to the agent's original streams, "[RANK MODULE] "
 * before each line when labelling, and byte for byte to its log files. */
#ifndef HG_RELAY_H
#define HG_RELAY_H

#include <stddef.h>

#include "error.h"

typedef struct hg_relay_opts {
    int label;            /* prefix lines with "[RANK MODULE] " */
    const char *log_dir;  /* NULL: no files; else DIR/rankR-MODULE.stdout and .stderr */
    int rank;
    const char *module;
} hg_relay_opts;

/* The log file of one rank's stream ("stdout" or "stderr"), into buf. */
void hg_relay_log_path(const char *dir, int rank, const char *module, const char *stream,
                       char *buf, size_t len);

/* Starts the relay and points this process's descriptors 1 and 2 at it. Nothing is
 * done when neither label nor log_dir is asked for. Returns 0, or HG_EIO (a log file
 * could not be created) or HG_ESYS with err saying why; the streams are then unchanged. */
int hg_relay_start(const hg_relay_opts *o, hg_error *err);

#endif
