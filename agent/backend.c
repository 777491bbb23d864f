/* The helpers of the backend contract (backend.h): which ops a backend name stands
 * for in this build, and MPI errors as hgrid errors. Used by both backends and the
 * agent; knows nothing of either. */
#include "backend.h"

#include <stdio.h>

const hg_backend_ops *hg_backend_ops_of(int backend)
{
    switch (backend) {
    case HG_BACKEND_MPI:
        return &hg_backend_mpi_ops;
#ifdef HG_HAVE_NCCL
    case HG_BACKEND_NCCL:
        return &hg_backend_nccl_ops;
#endif
    default:
        return NULL;
    }
}

int hg_mpi_fail(hg_error *err, int mrc, int rank, const char *call)
{
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(mrc, text, &n) != MPI_SUCCESS)
        snprintf(text, sizeof(text), "MPI error %d", mrc);
    return hg_error_set(err, HG_EMPI, "rank %d: %s: %s", rank, call, text);
}
