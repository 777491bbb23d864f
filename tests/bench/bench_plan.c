/* Benchmark driver for scripts/bench-plan; prints measurements, asserts nothing.
 *
 *   bench_plan exec RUNS SIZEFILE -- PROGRAM ARGS...
 *       Runs PROGRAM (fork/execvp, an argv array) RUNS times with stdout on /dev/null
 *       and prints "best_seconds max_rss_kib", then once more with stdout on SIZEFILE
 *       (to count the output's bytes) and prints "bytes" on the same line.
 *   bench_plan rank CONFIG SAMPLES
 *       Builds the layout, then times hg_rank_view_build + hg_rank_view_free for every
 *       rank (world <= SAMPLES) or SAMPLES ranks drawn at random (fixed seed), and
 *       prints "avg_us max_us ranks_timed".
 * Timing uses CLOCK_MONOTONIC; memory is the child's ru_maxrss from wait4. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "grid/config.h"
#include "util/diag.h"
#include "util/error.h"
#include "grid/layout.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs argv with stdout on path; returns the exit status (-1 on failure to run). */
static int run_once(char **argv, const char *path, double *secs, long *maxrss_kib)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "bench_plan: %s: %s\n", path, strerror(errno));
        return -1;
    }
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        fprintf(stderr, "bench_plan: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
        execvp(argv[0], argv);
        fprintf(stderr, "bench_plan: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "bench_plan: wait4: %s\n", strerror(errno));
            return -1;
        }
    }
    *secs = now() - t0;
    *maxrss_kib = ru.ru_maxrss;
    if (!WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int cmd_exec(int runs, const char *sizefile, char **argv)
{
    double best = 1e30;
    long rss = 0;
    for (int i = 0; i < runs; i++) {
        double s;
        long r;
        int st = run_once(argv, "/dev/null", &s, &r);
        if (st != 0) {
            fprintf(stderr, "bench_plan: %s exited with status %d\n", argv[0], st);
            return 1;
        }
        if (s < best)
            best = s;
        if (r > rss)
            rss = r;
    }
    double s;
    long r;
    if (run_once(argv, sizefile, &s, &r) != 0)
        return 1;
    struct stat st;
    if (stat(sizefile, &st) != 0) {
        fprintf(stderr, "bench_plan: %s: %s\n", sizefile, strerror(errno));
        return 1;
    }
    printf("%.6f %ld %lld\n", best, rss, (long long)st.st_size);
    return 0;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmd_rank(const char *path, long samples)
{
    hg_diags *d = hg_diags_new(path);
    char *bytes = NULL;
    size_t len = 0;
    hg_config *cfg = NULL;
    hg_layout *l = NULL;
    int rc = 1;

    if (!d)
        return 1;
    if (hg_config_read_file(path, &bytes, &len, d) != 0 || hg_config_parse(bytes, len, &cfg, d) != 0
        || hg_layout_build(cfg, 0, &l, d) != 0) {
        hg_diags_print(d, stderr);
        goto out;
    }
    int world = hg_layout_world_size(l);
    long n = world <= samples ? world : samples;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    double total = 0, worst = 0;
    for (long i = 0; i < n; i++) {
        int rank = world <= samples ? (int)i : (int)(xorshift(&seed) % (uint64_t)world);
        hg_rank_view p;
        hg_error err;
        double t0 = now();
        if (hg_rank_view_build(l, rank, &p, &err) != 0) {
            fprintf(stderr, "bench_plan: rank %d: %s\n", rank, err.msg);
            goto out;
        }
        hg_rank_view_free(&p);
        double dt = now() - t0;
        total += dt;
        if (dt > worst)
            worst = dt;
    }
    printf("%.3f %.3f %ld\n", total / (double)n * 1e6, worst * 1e6, n);
    rc = 0;
out:
    hg_layout_free(l);
    hg_config_free(cfg);
    free(bytes);
    hg_diags_free(d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "exec") == 0 && strcmp(argv[4], "--") == 0)
        return cmd_exec(atoi(argv[2]), argv[3], argv + 5);
    if (argc == 4 && strcmp(argv[1], "rank") == 0)
        return cmd_rank(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: bench_plan exec RUNS SIZEFILE -- PROGRAM ARGS...\n"
                    "       bench_plan rank CONFIG SAMPLES\n");
    return 2;
}
