/* The job hgrid-launch finds itself in: standalone (no launcher around it), one task
 * of an srun step, or one rank under mpirun. Read from the environment only. */
#ifndef HG_JOB_H
#define HG_JOB_H

typedef enum { HG_JOB_NONE, HG_JOB_SLURM, HG_JOB_MPIRUN } hg_job_kind;

typedef struct hg_job {
    hg_job_kind kind;
    int rank;   /* this task's rank in the job, -1 when unknown */
    int size;   /* the job's task count, -1 when unknown */
    int has_pmi; /* whether MPI can bootstrap here (PMIx or Open MPI's own vars) */
} hg_job;

/* envp-style lookups go through getenv; the result is plain data. */
void hg_job_detect(hg_job *job);
const char *hg_job_name(hg_job_kind kind);

#endif
