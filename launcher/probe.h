/* Whether hosts answer as mpirun will reach them: Open MPI's rsh agent (the
 * OMPI_MCA_plm_rsh_agent setting, else its default "ssh : rsh") run as mpirun runs it,
 * "AGENT HOST true", every host at once, each given timeout_s. A host answers when the
 * agent exits 0 in time; a TCP connect to port 22 would not show that the agent can log
 * in and run a command there (the part mpirun needs), nor follow a custom agent. */
#ifndef HG_PROBE_H
#define HG_PROBE_H

#include <stddef.h>

#define HG_PROBE_WHY_MAX 200

/* ok[i] is 1 when hosts[i] answered, else 0 and why[i] says how it did not ("ssh exit
 * 255: ssh: connect to host nsc2 port 22: No route to host", "no answer from ssh in 5
 * s"). Returns 0, or -1 when no agent can be run at all (why[0] says why; ok untouched). */
int hg_probe_hosts(const char *const *hosts, int n, double timeout_s, int *ok,
                   char (*why)[HG_PROBE_WHY_MAX]);

/* Under SLURM: which nodes of the allocation can run a step now, as `sinfo -h -N -n
 * NODES -o "%N %t"` says (down, drained, failing, in maintenance or not responding, its
 * '*', cannot). ok[i] and why[i] ("sinfo: down*") as hg_probe_hosts. Returns 0, or -1
 * when sinfo could not say (then ok is untouched: the nodes are taken as up). */
int hg_probe_slurm_nodes(const char *const *nodes, int n, double timeout_s, int *ok,
                         char (*why)[HG_PROBE_WHY_MAX]);

#endif
