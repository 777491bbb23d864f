/* The GPU choice rules of gpu_choice.h and their messages. Messages name the host,
 * the local rank, the visible count and CUDA_VISIBLE_DEVICES, the four facts a user
 * needs to see which launcher setting is wrong. */
#include "util/gpu_choice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ranklist.h"

int hg_gpu_choose(const hg_gpu_view *v, int *device, hg_error *err)
{
    const char *vis = v->visible_env ? v->visible_env : "unset";
    *device = -1;
    if (v->visible <= 0 && v->driver_too_old)
        return hg_error_set(err, HG_ECUDA,
                            "rank %d on %s: no usable GPU: the NVIDIA driver is older than this "
                            "CUDA runtime (cudaGetDeviceCount: %s); update the driver, or run on "
                            "CPUs with --backend mpi (or agent.backend: mpi)",
                            v->rank, v->host, v->cuda_error ? v->cuda_error : "?");
    if (v->visible <= 0)
        return hg_error_set(err, HG_ECUDA,
                            "rank %d on %s: no GPU found (%s%s; CUDA_VISIBLE_DEVICES=%s): the nccl "
                            "backend needs one GPU per rank; run on CPUs with --backend mpi (or "
                            "agent.backend: mpi)",
                            v->rank, v->host, v->cuda_error ? "cudaGetDeviceCount: " : "",
                            v->cuda_error ? v->cuda_error : "CUDA sees 0 devices", vis);
    if (v->visible >= v->local_size) {
        /* Every rank sees the host's GPUs: the usual mpirun or srun setup. */
        *device = v->local_rank;
        return 0;
    }
    if (v->visible == 1) {
        /* Each rank sees one GPU of its own (srun --gpus-per-task=1); whether it is
         * really its own is for hg_gpu_check_shared to say. */
        *device = 0;
        return 0;
    }
    return hg_error_set(err, HG_ECUDA,
                        "rank %d on %s: local rank %d of %d ranks on this host sees %d GPUs "
                        "(CUDA_VISIBLE_DEVICES=%s): give every rank all of the host's GPUs (at "
                        "least %d), or each rank exactly one (srun --gpus-per-task=1), or start "
                        "at most %d ranks on this host",
                        v->rank, v->host, v->local_rank, v->local_size, v->visible, vis,
                        v->local_size, v->visible);
}

char *hg_gpu_uuid_format(const unsigned char u[16], char *buf, size_t len)
{
    snprintf(buf, len,
             "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
             u[13], u[14], u[15]);
    return buf;
}

int hg_gpu_check_shared(const hg_gpu_id *ids, int n, int me, const hg_gpu_view *v,
                        hg_error *err)
{
    int *on = NULL, count = 0, rc = 0;
    char list[256], uuid[48], pci[24];
    if (me < 0 || me >= n || !ids[me].bound)
        return 0;
    if (!(on = malloc((size_t)n * sizeof(*on))))
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", v->rank);
    for (int i = 0; i < n; i++)
        if (ids[i].bound && memcmp(ids[i].uuid, ids[me].uuid, sizeof(ids[me].uuid)) == 0)
            on[count++] = i;
    if (count > 1) {
        hg_ranklist_format(on, (size_t)count, list, sizeof(list));
        snprintf(pci, sizeof(pci), "%.*s", (int)strnlen(ids[me].pci, sizeof(ids[me].pci)),
                 ids[me].pci);
        rc = hg_error_set(err, HG_ECUDA,
                          "rank %d on %s: local ranks %s would share one GPU (%s, PCI %s; "
                          "CUDA_VISIBLE_DEVICES=%s): each rank needs a GPU of its own: start at "
                          "most one rank per GPU, and give every rank all of the host's GPUs or "
                          "each rank a different one",
                          v->rank, v->host, list, hg_gpu_uuid_format(ids[me].uuid, uuid, sizeof(uuid)),
                          pci[0] ? pci : "?", v->visible_env ? v->visible_env : "unset");
    }
    free(on);
    return rc;
}
