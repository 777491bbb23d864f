/* Which GPU a rank takes, decided from what CUDA shows it, with no CUDA or MPI here
 * (backend_nccl.c asks CUDA and gathers; these functions decide and word the refusal).
 * The setups people use: every rank of a host sees all of its GPUs (mpirun, plain srun:
 * the index is the local rank), or each rank sees exactly one (srun --gpus-per-task=1,
 * a per-rank CUDA_VISIBLE_DEVICES: that one). Anything between is refused, and so is
 * any choice that puts two ranks of one host on the same GPU. */
#ifndef HG_GPU_CHOICE_H
#define HG_GPU_CHOICE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* What one rank knows when it picks. */
typedef struct hg_gpu_view {
    int rank;                 /* for messages */
    const char *host;
    int local_rank, local_size; /* this rank among the ranks of its host */
    int visible;              /* devices cudaGetDeviceCount counted; 0: none */
    const char *visible_env;  /* CUDA_VISIBLE_DEVICES; NULL when unset */
    const char *cuda_error;   /* why cudaGetDeviceCount found none (its error text), or NULL */
    int driver_too_old;       /* CUDA said the driver is insufficient, yet an NVIDIA driver
                               * is loaded: there are GPUs, the driver is older than CUDA */
} hg_gpu_view;

/* The device index this rank uses (0 <= *device < visible), or HG_ECUDA with a message
 * "rank R on HOST: ..." that says what is wrong and what to do. */
int hg_gpu_choose(const hg_gpu_view *v, int *device, hg_error *err);

/* One rank's GPU, as its host's ranks exchange it (plain bytes, one build per job). */
typedef struct hg_gpu_id {
    int32_t bound;           /* 0: this rank has no GPU (its binding failed) */
    int32_t device;          /* the index in that rank's own process */
    unsigned char uuid[16];  /* cudaDeviceProp.uuid: the same GPU has the same on every rank */
    char pci[20];            /* "0000:1b:00.0" */
} hg_gpu_id;

/* ids[0..n): the GPU of each local rank. HG_ECUDA when another local rank has this
 * rank's (local rank `me`) GPU; the message lists every local rank on it, so each of
 * them reports the same reason. Ranks not bound are ignored. */
int hg_gpu_check_shared(const hg_gpu_id *ids, int n, int me, const hg_gpu_view *v,
                        hg_error *err);

/* "GPU-8f2c1a3e-...", as nvidia-smi -L prints a UUID. */
char *hg_gpu_uuid_format(const unsigned char uuid[16], char *buf, size_t len);

#endif
