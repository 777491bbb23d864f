/* The keeper of one rank under a standalone hgrid-launch: PROGRAM runs as its child, in
 * a process group of its own, with stdout and stderr on pipes to the keeper, which cuts
 * them into whole lines and sends them to the launcher as records over the ranks'
 * channel (common/wire/record.h), with PROGRAM's exit status. The keeper is the process
 * mpirun started and waits for: when PROGRAM fails, or the launcher is stopping the
 * job, it holds PROGRAM's status until the launcher releases it, so mpirun's own
 * teardown (SIGKILL a second after the first failure) never cuts short the grace
 * period the launcher gives every other rank. Without a channel (srun or mpirun started
 * hgrid-agent directly, or the launcher could not be reached) relay.h does the
 * output instead. */
#ifndef HG_KEEPER_H
#define HG_KEEPER_H

#include "util/error.h"
#include "relay.h"

/* Connects to the launcher named by HGRID_IO (protocol.h) and introduces this rank.
 * Returns the connected socket, or -1 with err saying why (no HGRID_IO: err->code 0). */
int hg_keeper_connect(int rank, hg_error *err);

/* Forks. In the child, which is to become PROGRAM, returns 0 with stdout and stderr on
 * the keeper's pipes, HGRID_IO removed from the environment. The parent becomes the
 * keeper and never returns: it exits with PROGRAM's status (a signal's death is passed
 * on as the same signal). Returns HG_ESYS, with nothing changed, when a pipe or the fork
 * fails. sock is hg_keeper_connect's. */
int hg_keeper_start(int sock, int rank, hg_error *err);

/* PROGRAM's output for the handoff: the keeper when HGRID_IO names a launcher that
 * answers (returns 0 in the child only, as hg_keeper_start), else the relay (relay.h;
 * returns 0 with the streams redirected), with a warning when a launcher was named but
 * could not be reached. */
int hg_output_start(const hg_relay_opts *relay, hg_error *err);

#endif
