/* GPU choice (common/util/gpu_choice.c): the device each setup gives (all GPUs visible: the
 * local rank; one visible: 0), the refusals with their exact messages (no GPU, a driver
 * older than CUDA, a count between one and the ranks of the host, two local ranks on
 * one GPU), and the UUID as nvidia-smi prints it. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "util/gpu_choice.h"
#include "testutil.h"

static hg_gpu_view view(int local_rank, int local_size, int visible, const char *env)
{
    hg_gpu_view v = { .rank = 10 + local_rank, .host = "node7", .local_rank = local_rank,
                      .local_size = local_size, .visible = visible, .visible_env = env };
    return v;
}

START_TEST(all_visible_uses_local_rank)
{
    hg_gpu_view v = view(3, 8, 8, NULL);
    hg_error err;
    int dev = -2;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), 0);
    ck_assert_int_eq(dev, 3);
    v = view(1, 2, 8, "0,1,2,3,4,5,6,7"); /* more GPUs than ranks: still by local rank */
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), 0);
    ck_assert_int_eq(dev, 1);
}
END_TEST

START_TEST(one_visible_uses_it)
{
    hg_gpu_view v = view(5, 8, 1, "5"); /* srun --gpus-per-task=1 */
    hg_error err;
    int dev = -2;
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), 0);
    ck_assert_int_eq(dev, 0);
    v = view(0, 1, 1, NULL); /* one rank, one GPU */
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), 0);
    ck_assert_int_eq(dev, 0);
}
END_TEST

START_TEST(between_one_and_local_size_is_refused)
{
    hg_gpu_view v = view(2, 4, 2, "0,1");
    hg_error err;
    int dev = -2;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), HG_ECUDA);
    ck_assert_int_eq(dev, -1);
    ck_assert_str_eq(err.msg, "rank 12 on node7: local rank 2 of 4 ranks on this host sees 2 GPUs "
                              "(CUDA_VISIBLE_DEVICES=0,1): give every rank all of the host's GPUs "
                              "(at least 4), or each rank exactly one (srun --gpus-per-task=1), or "
                              "start at most 2 ranks on this host");
    v = view(0, 4, 3, NULL); /* even local rank 0, which has a GPU: the setup is wrong */
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), HG_ECUDA);
    ck_assert_str_eq(err.msg, "rank 10 on node7: local rank 0 of 4 ranks on this host sees 3 GPUs "
                              "(CUDA_VISIBLE_DEVICES=unset): give every rank all of the host's GPUs "
                              "(at least 4), or each rank exactly one (srun --gpus-per-task=1), or "
                              "start at most 3 ranks on this host");
}
END_TEST

START_TEST(no_gpu_points_at_the_mpi_backend)
{
    hg_gpu_view v = view(1, 2, 0, NULL);
    hg_error err;
    int dev = -2;
    v.cuda_error = "CUDA driver version is insufficient for CUDA runtime version";
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), HG_ECUDA);
    ck_assert_str_eq(err.msg, "rank 11 on node7: no GPU found (cudaGetDeviceCount: CUDA driver "
                              "version is insufficient for CUDA runtime version; "
                              "CUDA_VISIBLE_DEVICES=unset): the nccl backend needs one GPU per "
                              "rank; run on CPUs with --backend mpi (or agent.backend: mpi)");
    v = view(0, 1, 0, ""); /* cudaGetDeviceCount succeeded with 0 */
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), HG_ECUDA);
    ck_assert_str_eq(err.msg, "rank 10 on node7: no GPU found (CUDA sees 0 devices; "
                              "CUDA_VISIBLE_DEVICES=): the nccl backend needs one GPU per rank; run "
                              "on CPUs with --backend mpi (or agent.backend: mpi)");
}
END_TEST

START_TEST(old_driver_is_not_no_gpu)
{
    hg_gpu_view v = view(0, 1, 0, NULL);
    hg_error err;
    int dev;
    v.cuda_error = "CUDA driver version is insufficient for CUDA runtime version";
    v.driver_too_old = 1;
    ck_assert_int_eq(hg_gpu_choose(&v, &dev, &err), HG_ECUDA);
    ck_assert_str_eq(err.msg, "rank 10 on node7: no usable GPU: the NVIDIA driver is older than "
                              "this CUDA runtime (cudaGetDeviceCount: CUDA driver version is "
                              "insufficient for CUDA runtime version); update the driver, or run "
                              "on CPUs with --backend mpi (or agent.backend: mpi)");
}
END_TEST

static hg_gpu_id gpu(unsigned char tag, int device)
{
    hg_gpu_id id;
    memset(&id, 0, sizeof(id));
    id.bound = 1;
    id.device = device;
    for (int i = 0; i < 16; i++)
        id.uuid[i] = (unsigned char)(tag + i);
    snprintf(id.pci, sizeof(id.pci), "0000:%02x:00.0", tag);
    return id;
}

START_TEST(distinct_gpus_pass)
{
    hg_gpu_id ids[4] = { gpu(0x10, 0), gpu(0x20, 0), gpu(0x30, 0), gpu(0x40, 0) };
    hg_error err;
    for (int me = 0; me < 4; me++) {
        hg_gpu_view v = view(me, 4, 1, NULL);
        ck_assert_int_eq(hg_gpu_check_shared(ids, 4, me, &v, &err), 0);
    }
}
END_TEST

START_TEST(shared_gpu_names_every_rank_on_it)
{
    /* Local ranks 0, 2 and 3 all ended on the GPU with tag 0x1b; rank 1 has its own. */
    hg_gpu_id ids[4] = { gpu(0x1b, 0), gpu(0x20, 1), gpu(0x1b, 0), gpu(0x1b, 0) };
    hg_error err;
    char want[512];
    for (int me = 0; me < 4; me++) {
        hg_gpu_view v = view(me, 4, 1, "0");
        hg_error_clear(&err);
        if (me == 1) {
            ck_assert_int_eq(hg_gpu_check_shared(ids, 4, me, &v, &err), 0);
            continue;
        }
        /* The same words on each of them, so the coordinator prints one line. */
        snprintf(want, sizeof(want),
                 "rank %d on node7: local ranks 0, 2-3 would share one GPU "
                 "(GPU-1b1c1d1e-1f20-2122-2324-25262728292a, PCI 0000:1b:00.0; "
                 "CUDA_VISIBLE_DEVICES=0): each rank needs a GPU of its own: start at most one "
                 "rank per GPU, and give every rank all of the host's GPUs or each rank a "
                 "different one", 10 + me);
        ck_assert_int_eq(hg_gpu_check_shared(ids, 4, me, &v, &err), HG_ECUDA);
        ck_assert_str_eq(err.msg, want);
    }
}
END_TEST

START_TEST(unbound_ranks_are_ignored)
{
    hg_gpu_id ids[2] = { gpu(0x10, 0), gpu(0x10, 0) };
    hg_gpu_view v = view(0, 2, 1, NULL);
    hg_error err;
    ids[1].bound = 0; /* its binding failed: its own error says so */
    ck_assert_int_eq(hg_gpu_check_shared(ids, 2, 0, &v, &err), 0);
    ck_assert_int_eq(hg_gpu_check_shared(ids, 2, 1, &v, &err), 0);
}
END_TEST

START_TEST(uuid_as_nvidia_smi_prints_it)
{
    unsigned char u[16] = { 0x8f, 0x2c, 0x1a, 0x3e, 0x00, 0x01, 0xab, 0xcd,
                            0xef, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70 };
    char buf[48];
    ck_assert_str_eq(hg_gpu_uuid_format(u, buf, sizeof(buf)), "GPU-8f2c1a3e-0001-abcd-ef10-203040506070");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gpu_choice");
    TCase *tc = tcase_create("choose");
    tcase_add_test(tc, all_visible_uses_local_rank);
    tcase_add_test(tc, one_visible_uses_it);
    tcase_add_test(tc, between_one_and_local_size_is_refused);
    tcase_add_test(tc, no_gpu_points_at_the_mpi_backend);
    tcase_add_test(tc, old_driver_is_not_no_gpu);
    suite_add_tcase(s, tc);
    tc = tcase_create("shared");
    tcase_add_test(tc, distinct_gpus_pass);
    tcase_add_test(tc, shared_gpu_names_every_rank_on_it);
    tcase_add_test(tc, unbound_ranks_are_ignored);
    tcase_add_test(tc, uuid_as_nvidia_smi_prints_it);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
