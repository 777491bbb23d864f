/* A user of libhgrid, as an ABI witness: built once against the installed hgrid.h and
 * once against an older header whose hg_init_opts is shorter (tests/abi_test.sh makes
 * it), both linked with the same new libhgrid.so. Each rank prints what the API says
 * about it and one all-reduce over its tp group; both builds must print the same. A
 * canary after the options struct catches a library that writes past what the
 * program allocated. */
#include <hgrid.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    struct {
        hg_init_opts o;
        unsigned canary;
    } box;
    hg_ctx *ctx = NULL;
    hg_error err;
    int size, members[64];

    memset(&box, 0xab, sizeof(box));
    box.canary = 0xC0FFEEu;
    hg_init_opts_from_env(&box.o); /* HGRID_CONFIG, HGRID_BACKEND from the test */
    if (box.canary != 0xC0FFEEu || box.o.size != sizeof(box.o)) {
        fprintf(stderr, "abi: hg_init_opts_from_env wrote past the program's struct\n");
        return 10;
    }
    hg_error_clear(&err);
    int rc = hg_init(&box.o, &ctx, &err);
    if (rc != 0) {
        fprintf(stderr, "abi: hg_init: %s\n", err.msg);
        return hg_exit_status(rc);
    }
    int tp = hg_ctx_coord(ctx, HG_DIM_TP, &size);
    int n = hg_ctx_group(ctx, HG_KIND_TP, members, 64);
    long long mine = hg_ctx_rank(ctx) + 1, sum = 0;
    MPI_Comm c = hg_ctx_mpi_comm(ctx, HG_KIND_TP);
    if (c == MPI_COMM_NULL || MPI_Allreduce(&mine, &sum, 1, MPI_LONG_LONG, MPI_SUM, c) != MPI_SUCCESS)
        sum = -1;
    printf("abi: rank %d/%d %s (%s) module rank %d/%d tp %d/%d group %d [%d..%d] sum %lld lib %s "
           "%s nccl=%d kinds=%d\n",
           hg_ctx_rank(ctx), hg_ctx_world_size(ctx), hg_ctx_module(ctx),
           hg_ctx_role(ctx) == HG_ROLE_LANGUAGE ? "language" : "encoder",
           hg_ctx_module_rank(ctx), hg_ctx_module_size(ctx), tp, size, n, members[0],
           members[n - 1], sum, hg_version_string(), hg_version() >> 16 == HG_VERSION_MAJOR ? "same-major" : "OTHER-MAJOR",
           hg_has_nccl(), hg_kind_count());
    hg_finalize(ctx);
    return 0;
}
