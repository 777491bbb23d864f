/* The command lines a launch runs, as argv arrays (nothing goes through a shell): the
 * agent's, written from its own option table (common/wire/agent_argv.h), and mpirun's or
 * srun's around it; the agent installed beside hgrid-launch; the line --verbose shows. */
#ifndef HG_LAUNCH_ARGV_H
#define HG_LAUNCH_ARGV_H

#include <stddef.h>

#include "childenv.h"
#include "cli.h"
#include "strv.h"

/* A NULL-terminated argv being built (strv.h). */
typedef hg_strv hg_argv;

static inline void hg_argv_free(hg_argv *a)
{
    hg_strv_free(a);
}

/* The agent's argv for this launch (agent path, its options from cli, config, "--",
 * PROGRAM...), as in_job execs it and mpirun gets it: NULL-terminated, or NULL when out
 * of memory. Free it with hg_launch_argv_free. */
char **hg_launch_agent_argv(const hg_cli *cli, const char *agent, const char *config);
void hg_launch_argv_free(char **argv);

/* `srun --mpi=pmix -n WORLD ... AGENT-ARGV` into a, leaving out the hosts of `exclude`
 * (srun --exclude's list; NULL or "" for none). */
void hg_launch_srun_argv(hg_argv *a, const hg_cli *cli, int world, const char *agent,
                         const char *config, const char *exclude);
/* `mpirun -np WORLD ... AGENT-ARGV` into a, with -x for each name of env (mpirun's
 * environment, childenv.h) that is forwarded to every host. */
void hg_launch_mpirun_argv(hg_argv *a, const hg_cli *cli, int world, const char *agent,
                           const char *config, const hg_childenv *env);

/* The agent to run: HGRID_AGENT, else hgrid-agent beside this executable, into out.
 * Returns 0 when it can be executed, else -1 (out names what was tried). */
int hg_launch_find_agent(char *out, size_t len);

/* "hgrid: running: ARGV" on stderr, each word quoted as a POSIX shell reads it back. */
void hg_launch_print_argv(char *const *v);

#endif
