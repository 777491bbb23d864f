/* Launch modes after the command line is parsed: standalone (start mpirun and
 * supervise it) or inside a job (become this rank's agent). The config is validated
 * first either way: a bad config never launches. */
#ifndef HG_LAUNCH_H
#define HG_LAUNCH_H

#include "cli.h"

/* Returns the exit status (HG_EXIT_* of common/wire/protocol.h). In a job it only returns
 * on error: on success the process has become the agent. */
int hg_launch(const hg_cli *cli);

#endif
