/* Starting the collector (collector.h), from rank 0's agent while MPI is up: fork, and
 * in the child nothing but descriptor juggling and exec, so no MPI or CUDA state is
 * touched there. The child says its address on a pipe; the agent waits for it at most
 * START_WAIT_MS, as a collector that cannot listen must not hold the go. */
#include "collector.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"

#define START_WAIT_MS 5000
#define REPORT_FD 3

/* In the child: the report pipe at REPORT_FD, every other descriptor above stderr
 * closed (MPI's and the network library's), stdin from /dev/null (mpirun gives rank 0
 * the job's stdin: it is PROGRAM's), then hgrid-agent again. */
static _Noreturn void exec_collector(const hg_collector_opts *o, int report)
{
    char fd[16], world[16], label[4];
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0 && null != STDIN_FILENO) {
        dup2(null, STDIN_FILENO);
        close(null);
    }
    if (report == REPORT_FD)
        fcntl(REPORT_FD, F_SETFD, 0);
    else if (dup2(report, REPORT_FD) != REPORT_FD)
        _exit(127);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)REPORT_FD + 1, ~0U, 0) != 0)
#endif
        for (int i = REPORT_FD + 1; i < 4096; i++)
            close(i);
    snprintf(fd, sizeof(fd), "%d", REPORT_FD);
    snprintf(world, sizeof(world), "%d", o->world);
    snprintf(label, sizeof(label), "%d", o->label ? 1 : 0);
    char *argv[] = { "hgrid-agent", HG_COLLECTOR_ARG, fd, world, label, (char *)o->config,
                     (char *)o->log_dir, NULL };
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv("/proc/self/exe", argv);
    _exit(127);
}

/* "IO\nTOKEN\n" from the child, or -1 when it said nothing in time or ended. */
static int read_report(int fd, char *buf, size_t len)
{
    size_t have = 0;
    double end = hg_now() + START_WAIT_MS / 1000.0;
    while (have + 1 < len) {
        struct pollfd p = { fd, POLLIN, 0 };
        int left = (int)((end - hg_now()) * 1000);
        if (left <= 0)
            return -1;
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(fd, buf + have, len - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    buf[have] = '\0';
    return 0;
}

int hg_collector_start(const hg_collector_opts *o, char *io, size_t io_len, char *token,
                       size_t token_len, hg_error *err)
{
    int p[2];
    char buf[4096];
    if (pipe2(p, O_CLOEXEC) != 0)
        return hg_error_set(err, HG_ESYS, "rank 0: output collector: pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return hg_error_set(err, HG_ESYS, "rank 0: output collector: fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(p[0]);
        exec_collector(o, p[1]);
    }
    close(p[1]);
    int rc = read_report(p[0], buf, sizeof(buf));
    close(p[0]);
    char *nl = rc == 0 ? strchr(buf, '\n') : NULL;
    char *tok_end = nl ? strchr(nl + 1, '\n') : NULL;
    if (!tok_end || (size_t)(nl - buf) >= io_len || (size_t)(tok_end - nl - 1) >= token_len
        || nl == buf || tok_end == nl + 1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return hg_error_set(err, HG_ESYS, "rank 0: the output collector did not start");
    }
    memcpy(io, buf, (size_t)(nl - buf));
    io[nl - buf] = '\0';
    memcpy(token, nl + 1, (size_t)(tok_end - nl - 1));
    token[tok_end - nl - 1] = '\0';
    return 0;
}
