/* Job detection. An sbatch script's batch step also carries SLURM_PROCID, so SLURM
 * counts only inside a step (SLURM_STEP_ID): `hgrid-launch` typed in a batch script
 * stays standalone and starts mpirun, while `srun hgrid-launch` becomes the agent. */
#include "job.h"

#include <limits.h>
#include <stdlib.h>

#include "util/intparse.h"

/* A rank or a task count from the launcher's environment; -1: none. */
static int env_int(const char *name)
{
    return hg_int_env(name, INT_MAX);
}

void hg_job_detect(hg_job *job)
{
    job->kind = HG_JOB_NONE;
    job->rank = -1;
    job->size = -1;
    job->has_pmi = env_int("PMIX_RANK") >= 0 || env_int("OMPI_COMM_WORLD_RANK") >= 0;
    if (env_int("OMPI_COMM_WORLD_RANK") >= 0) {
        job->kind = HG_JOB_MPIRUN;
        job->rank = env_int("OMPI_COMM_WORLD_RANK");
        job->size = env_int("OMPI_COMM_WORLD_SIZE");
    } else if (env_int("SLURM_PROCID") >= 0 && getenv("SLURM_STEP_ID")) {
        job->kind = HG_JOB_SLURM;
        job->rank = env_int("SLURM_PROCID");
        job->size = env_int("SLURM_STEP_NUM_TASKS");
        if (job->size < 0)
            job->size = env_int("SLURM_NTASKS");
    } else if (env_int("PMIX_RANK") >= 0) {
        job->kind = HG_JOB_MPIRUN;
        job->rank = env_int("PMIX_RANK");
    }
}

const char *hg_job_name(hg_job_kind kind)
{
    switch (kind) {
    case HG_JOB_SLURM: return "SLURM step";
    case HG_JOB_MPIRUN: return "mpirun job";
    default: return "standalone";
    }
}
