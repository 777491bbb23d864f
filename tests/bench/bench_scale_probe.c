/* The MPI start of scripts/bench-scale, measured inside each rank: an LD_PRELOAD
 * library (PMPI interposition) that stamps CLOCK_MONOTONIC (the agent's clock, one
 * clock for every process of a host) around MPI_Init and at MPI_Finalize's entry, and
 * writes them to $HGRID_BENCH_PROBE_DIR/RANK as "init_begin init_end finalize_begin".
 * What lies between init_end and finalize_begin is hgrid's own (pre-flight, readiness,
 * go, plan file, teardown of its communicators); MPI_Init before it is MPI's. Not part
 * of hgrid: built by the benchmark, never linked into a product. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double t_init_begin, t_init_end;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int MPI_Init(int *argc, char ***argv)
{
    int rc;
    t_init_begin = now();
    rc = PMPI_Init(argc, argv);
    t_init_end = now();
    return rc;
}

int MPI_Finalize(void)
{
    double t = now();
    const char *dir = getenv("HGRID_BENCH_PROBE_DIR");
    int rank = -1;
    PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* The program exec'd after the handoff is not MPI's: no probe there. */
    unsetenv("LD_PRELOAD");
    if (dir && rank >= 0) {
        char path[4096];
        FILE *f;
        snprintf(path, sizeof(path), "%s/%d", dir, rank);
        if ((f = fopen(path, "w"))) {
            fprintf(f, "%.6f %.6f %.6f\n", t_init_begin, t_init_end, t);
            fclose(f);
        }
    }
    return PMPI_Finalize();
}
