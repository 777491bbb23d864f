/* The hosts of a launch with --hostfile and --exclude-failed-hosts: the hostfile's
 * lines in order, the hosts left out after failed attempts (and why), the hostfile each
 * attempt gives mpirun (the original lines of the hosts still in, so spare hosts further
 * down take the place of those left out, in hostfile order), and the failures of an
 * attempt that leave a host out: a rank whose GPU or link failed pre-flight (the
 * readiness report's records), or one that died by a signal. */
#ifndef HG_HOSTFILE_H
#define HG_HOSTFILE_H

#include <stdio.h>

#include "util/error.h"
#include "supervisor.h"

typedef struct hg_hostfile hg_hostfile;

/* Open MPI's format: "HOST [slots=N] [max_slots=M]", '#' comments; a host without slots
 * counts one. Returns 0, or HG_EIO / HG_EINVAL with err naming the file and line. */
int hg_hostfile_read(const char *path, hg_hostfile **out, hg_error *err);
void hg_hostfile_free(hg_hostfile *h);
/* The hosts of a SLURM allocation: nodelist in SLURM's compact form ("n1,n2",
 * "node[01-04,7]", "gpu[1-2],cpu3"), slots each. Returns 0, or HG_EINVAL naming what
 * could not be expanded. */
int hg_hostfile_from_nodelist(const char *nodelist, int slots, hg_hostfile **out, hg_error *err);
/* "a,b" of the hosts left out (srun --exclude), into buf; "" when none. */
void hg_hostfile_excluded(const hg_hostfile *h, char *buf, size_t len);
/* Slots of the hosts still in. */
int hg_hostfile_slots(const hg_hostfile *h);
/* Hosts not left out, for good or for this attempt (down at its probe). */
int hg_hostfile_hosts_in(const hg_hostfile *h);
/* Leaves host out with why ("rank 5 failed pre-flight in phase gpu"); returns 1 when it
 * was in and is now out, 0 otherwise (unknown, or out already). */
int hg_hostfile_exclude(hg_hostfile *h, const char *host, const char *why);
/* Writes the lines of the hosts still in to path, in order, only as many as world ranks
 * need (world <= 0: all): mpirun contacts every host of its hostfile, so a spare it
 * need not use must not be in it. 0 or -1 (errno). */
int hg_hostfile_write(const hg_hostfile *h, int world, const char *path);
/* 1 when the hostfile as read is what this attempt uses: every host in and needed. */
int hg_hostfile_uses_all(const hg_hostfile *h, int world);
/* Before an attempt: probes (probe.h) the hosts it would use for world ranks, all at
 * once, timeout_s each, this machine's own excepted (mpirun needs no agent for it); an
 * unreachable one is left out of this attempt only, with a line on out ("hgrid: host
 * nsc2 unreachable (ssh exit 255: ...); left out of attempt 1"), and the next spares in
 * hostfile order are probed in its place. Returns how many were left out. */
int hg_hostfile_probe(hg_hostfile *h, int world, double timeout_s, int attempt, FILE *out);
/* Under SLURM, before an attempt: the allocation's nodes not up (probe.h,
 * hg_probe_slurm_nodes) are left out of this attempt (srun --exclude), a line each
 * ("hgrid: node nsc2 is not up in the allocation (sinfo: down*); left out of attempt
 * 1"). Returns how many. */
int hg_hostfile_probe_slurm(hg_hostfile *h, double timeout_s, int attempt, FILE *out);
/* "a, b, c" of the hosts still in, and "x (why), y (why)" of those left out. */
void hg_hostfile_describe(const hg_hostfile *h, FILE *out);

/* Leaves out the hosts an attempt's failures point at: report (the readiness report of
 * the attempt, may be NULL or missing) for pre-flight failures in phases gpu, world,
 * groups, verify and bridges; a for a rank killed by a signal. Returns how many hosts
 * were newly left out. */
int hg_hostfile_exclude_failures(hg_hostfile *h, const char *report, const hg_attempt *a);

#endif
