/* What a rank learns from its launcher's environment before MPI exists: its rank
 * (mpirun, PMIx, PMI or srun set it) and the status channel's token (a standalone
 * hgrid-launch sets it, common/wire/protocol.h). The agent's start-up and its watchdog both
 * need them before MPI_Init has told the rank anything. */
#ifndef HG_LAUNCHENV_H
#define HG_LAUNCHENV_H

/* This process's rank as mpirun, PMIx, PMI or srun tell it before MPI_Init
 * (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, SLURM_PROCID, first found); -1: none. */
int hg_launcher_rank(void);

/* HGRID_STATUS_TOKEN, or NULL when it is unset, empty, or could break a status line
 * (a blank, a colon, a control character): such a value cannot come from hgrid-launch. */
const char *hg_status_token(void);

#endif
