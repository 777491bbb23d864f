/* The collector: the one writer of every rank's output in relay mode (srun or mpirun
 * started the agents; no standalone hgrid-launch to send lines to). Open MPI and srun
 * forward each rank's stdout and stderr on their own, reading them in pieces and
 * writing the pieces of all ranks to one output as they come, so lines written by
 * eight processes get cut and interleaved whatever each writes. Instead, rank 0's agent
 * starts the collector before the go is broadcast; the go carries its address, every
 * rank runs PROGRAM under a keeper connected to it (keeper.h, as under a standalone
 * launcher), and the collector alone writes to rank 0's stdout and stderr: each record
 * whole, labelled with --label, and byte for byte to the --log-dir files, by the
 * launcher's own channel code (launcher/iochan.c, launcher/outq.c).
 *
 * It is hgrid-agent itself, run again with HG_COLLECTOR_ARG: a fresh process, with
 * nothing of MPI's. It holds rank 0's streams, so mpirun (or srun) keeps reading them
 * until it ends: when every rank's keeper has connected and disconnected, or, once
 * rank 0's own process is gone, when no keeper is connected any more and none has come
 * for HG_COLLECTOR_LATE_S (a rank that could not reach it relays its own output). */
#ifndef HG_COLLECTOR_H
#define HG_COLLECTOR_H

#include <stddef.h>

#include "util/error.h"

#define HG_COLLECTOR_ARG "--hgrid-collector"
#define HG_COLLECTOR_LATE_S 10.0

typedef struct hg_collector_opts {
    int world;
    int label;             /* --label */
    const char *log_dir;   /* --log-dir, or NULL */
    const char *config;    /* module names for labels and log files */
} hg_collector_opts;

/* Rank 0, before the go: starts the collector (fork and exec of /proc/self/exe) and
 * fills io with its HGRID_IO address and token with the status token its keepers must
 * say in their HELLO. Returns 0, or HG_ESYS with err saying why (nothing left running). */
int hg_collector_start(const hg_collector_opts *o, char *io, size_t io_len, char *token,
                       size_t token_len, hg_error *err);

/* hgrid-agent HG_COLLECTOR_ARG FD WORLD LABEL CONFIG [LOG_DIR]: the collector's own
 * process (FD: where to say "IO\nTOKEN\n"); returns its exit status. Linked into
 * hgrid-agent only (it uses the launcher's channel), not into libhgrid. */
int hg_collector_main(int argc, char **argv);

#endif
