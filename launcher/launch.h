/* Launch modes after the command line is parsed: standalone (start mpirun and
 * supervise it) or inside a job (become this rank's agent). The config is validated
 * first either way: a bad config never launches. */
#ifndef HG_LAUNCH_H
#define HG_LAUNCH_H

#include "cli.h"

/* Returns the exit status (HG_EXIT_* of common/protocol.h). In a job it only returns
 * on error: on success the process has become the agent. */
int hg_launch(const hg_cli *cli);

/* The agent's argv for this launch (agent path, its options from cli, config, "--",
 * PROGRAM...), as in_job execs it and mpirun gets it: NULL-terminated, or NULL when out
 * of memory. Free it with hg_launch_argv_free. */
char **hg_launch_agent_argv(const hg_cli *cli, const char *agent, const char *config);
void hg_launch_argv_free(char **argv);

#endif
