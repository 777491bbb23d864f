/* Each probe is a child in its own process group, its stderr on a pipe (the last line
 * says why it failed), stdin and stdout /dev/null (ssh must not read the launcher's
 * stdin); a probe past its time is killed with its group (ssh's own children too). */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"

#define AGENT_WORDS 16

typedef struct probe {
    pid_t pid;
    int fd;          /* its stderr, -1 when closed */
    int done, status, timed_out;
    char err[HG_PROBE_WHY_MAX];
    size_t errlen;
} probe;

/* Whether prog can be run: a path that is executable, or a name found on PATH. */
static int runnable(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    char buf[4096];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog) < (int)sizeof(buf)
            && access(buf, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* The agent's words as Open MPI picks them: of "ssh : rsh" alternatives, the first whose
 * program can be run; the words split at blanks. Returns the word count, 0 for none. */
static int agent_words(char *spec, char **w)
{
    char *save = NULL;
    for (char *alt = strtok_r(spec, ":", &save); alt; alt = strtok_r(NULL, ":", &save)) {
        int n = 0;
        char *s2 = NULL;
        for (char *t = strtok_r(alt, " \t", &s2); t && n < AGENT_WORDS; t = strtok_r(NULL, " \t", &s2))
            w[n++] = t;
        if (n && runnable(w[0]))
            return n;
    }
    return 0;
}

static pid_t start_probe(char **words, int nw, const char *host, int *errfd)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[AGENT_WORDS + 3];
        int null = open("/dev/null", O_RDWR);
        setpgid(0, 0);
        for (int i = 0; i < nw; i++)
            argv[i] = words[i];
        argv[nw] = (char *)host;
        argv[nw + 1] = "true";
        argv[nw + 2] = NULL;
        dup2(null, 0);
        dup2(null, 1);
        dup2(pfd[1], 2);
        execvp(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -1;
    }
    setpgid(pid, pid);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    *errfd = pfd[0];
    return pid;
}

/* The last non-empty line of what the probe said, trimmed, into why after prefix. */
static void last_line(const probe *pr, char *out, size_t len)
{
    char buf[HG_PROBE_WHY_MAX];
    size_t n = pr->errlen;
    memcpy(buf, pr->err, n);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    char *nl = strrchr(buf, '\n');
    snprintf(out, len, "%s", nl ? nl + 1 : buf);
}

static void read_err(probe *pr)
{
    char buf[512];
    ssize_t got;
    while ((got = read(pr->fd, buf, sizeof(buf))) > 0) {
        /* Keep the tail: the last line is the one that says why. */
        for (ssize_t i = 0; i < got; i++) {
            if (pr->errlen == sizeof(pr->err) - 1) {
                memmove(pr->err, pr->err + 1, pr->errlen - 1);
                pr->errlen--;
            }
            pr->err[pr->errlen++] = buf[i];
        }
    }
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        close(pr->fd);
        pr->fd = -1;
    }
}

int hg_probe_hosts(const char *const *hosts, int n, double timeout_s, int *ok,
                   char (*why)[HG_PROBE_WHY_MAX])
{
    const char *set = getenv("OMPI_MCA_plm_rsh_agent");
    if (!set || !*set)
        set = getenv("OMPI_MCA_orte_rsh_agent");
    char *spec = strdup(set && *set ? set : "ssh : rsh"), *words[AGENT_WORDS];
    probe *pr = calloc((size_t)(n > 0 ? n : 1), sizeof(*pr));
    int nw = spec ? agent_words(spec, words) : 0;
    if (!spec || !pr || nw == 0) {
        snprintf(why[0], HG_PROBE_WHY_MAX, "no rsh agent to reach the hosts with (%s)",
                 set && *set ? set : "ssh : rsh");
        free(spec);
        free(pr);
        return -1;
    }
    double end = hg_now() + timeout_s;
    int left = 0;
    for (int i = 0; i < n; i++) {
        pr[i].fd = -1;
        pr[i].pid = start_probe(words, nw, hosts[i], &pr[i].fd);
        if (pr[i].pid < 0) {
            pr[i].done = 1;
            pr[i].status = -1;
            snprintf(pr[i].err, sizeof(pr[i].err), "fork: %s", strerror(errno));
            pr[i].errlen = strlen(pr[i].err);
        } else {
            left++;
        }
    }
    while (left > 0) {
        double now = hg_now();
        if (now >= end) {
            for (int i = 0; i < n; i++)
                if (!pr[i].done) {
                    kill(-pr[i].pid, SIGKILL);
                    waitpid(pr[i].pid, NULL, 0);
                    pr[i].done = pr[i].timed_out = 1;
                    left--;
                }
            break;
        }
        struct pollfd fds[64];
        int map[64], nf = 0;
        for (int i = 0; i < n && nf < 64; i++)
            if (pr[i].fd >= 0) {
                fds[nf] = (struct pollfd){ .fd = pr[i].fd, .events = POLLIN };
                map[nf++] = i;
            }
        /* Children exit after closing stderr (or their own children hold it): poll the
         * pipes, and look for exits every 50 ms. */
        int wait_ms = (int)((end - now) * 1000) + 1;
        poll(fds, (nfds_t)nf, wait_ms < 50 ? wait_ms : 50);
        for (int k = 0; k < nf; k++)
            if (fds[k].revents)
                read_err(&pr[map[k]]);
        for (int i = 0; i < n; i++) {
            int st;
            if (!pr[i].done && waitpid(pr[i].pid, &st, WNOHANG) == pr[i].pid) {
                if (pr[i].fd >= 0)
                    read_err(&pr[i]);
                pr[i].done = 1;
                pr[i].status = st;
                kill(-pr[i].pid, SIGKILL); /* what it left behind */
                left--;
            }
        }
    }
    const char *name = strrchr(words[0], '/') ? strrchr(words[0], '/') + 1 : words[0];
    for (int i = 0; i < n; i++) {
        char line[HG_PROBE_WHY_MAX];
        if (pr[i].fd >= 0)
            close(pr[i].fd);
        last_line(&pr[i], line, sizeof(line));
        ok[i] = !pr[i].timed_out && pr[i].status == 0;
        if (ok[i])
            why[i][0] = '\0';
        else if (pr[i].timed_out)
            snprintf(why[i], HG_PROBE_WHY_MAX, "no answer from %.20s in %g s", name, timeout_s);
        else if (pr[i].status < 0)
            snprintf(why[i], HG_PROBE_WHY_MAX, "%s", line);
        else if (WIFSIGNALED(pr[i].status))
            snprintf(why[i], HG_PROBE_WHY_MAX, "%.20s killed by signal %d%s%.150s", name,
                     WTERMSIG(pr[i].status), *line ? ": " : "", line);
        else
            snprintf(why[i], HG_PROBE_WHY_MAX, "%.20s exit %d%s%.150s", name,
                     WEXITSTATUS(pr[i].status), *line ? ": " : "", line);
    }
    free(spec);
    free(pr);
    return 0;
}

/* Runs argv, its stdout into buf (len bytes at most, NUL-ended), within timeout_s;
 * returns its exit status, -1 when it could not run or ran out of time. */
static int run_capture(char *const *argv, double timeout_s, char *buf, size_t len)
{
    int pfd[2], st = -1;
    size_t used = 0;
    buf[0] = '\0';
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        setpgid(0, 0);
        dup2(null, 0);
        dup2(pfd[1], 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -1;
    }
    double end = hg_now() + timeout_s;
    for (;;) {
        struct pollfd fd = { .fd = pfd[0], .events = POLLIN };
        double left = end - hg_now();
        if (left <= 0 || poll(&fd, 1, (int)(left * 1000) + 1) == 0) {
            kill(-pid, SIGKILL);
            break;
        }
        ssize_t got = read(pfd[0], buf + used, len - 1 - used);
        if (got > 0) {
            used += (size_t)got;
            buf[used] = '\0';
            if (used < len - 1)
                continue;
        } else if (got < 0 && errno == EINTR) {
            continue;
        }
        break;
    }
    close(pfd[0]);
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int hg_probe_slurm_nodes(const char *const *nodes, int n, double timeout_s, int *ok,
                         char (*why)[HG_PROBE_WHY_MAX])
{
    size_t need = 1;
    for (int i = 0; i < n; i++)
        need += strlen(nodes[i]) + 1;
    char *list = calloc(need, 1), *out = malloc(65536);
    int rc = -1;
    if (!list || !out)
        goto done;
    for (int i = 0; i < n; i++) {
        strcat(list, i ? "," : "");
        strcat(list, nodes[i]);
    }
    char *argv[] = { "sinfo", "-h", "-N", "-n", list, "-o", "%N %t", NULL };
    if (run_capture(argv, timeout_s, out, 65536) != 0)
        goto done;
    for (int i = 0; i < n; i++) {
        ok[i] = 0;
        snprintf(why[i], HG_PROBE_WHY_MAX, "not listed by sinfo");
    }
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[256], state[64];
        if (sscanf(line, "%255s %63s", name, state) != 2)
            continue;
        size_t sl = strlen(state);
        /* A trailing '*' is "not responding"; down, drained, failing or in maintenance
         * cannot run a step. */
        int bad = state[sl - 1] == '*' || strncmp(state, "down", 4) == 0
                  || strncmp(state, "drain", 5) == 0 || strncmp(state, "fail", 4) == 0
                  || strncmp(state, "maint", 5) == 0 || strncmp(state, "unk", 3) == 0
                  || strncmp(state, "no_resp", 7) == 0;
        for (int i = 0; i < n; i++)
            if (strcmp(nodes[i], name) == 0) {
                ok[i] = !bad;
                if (bad)
                    snprintf(why[i], HG_PROBE_WHY_MAX, "sinfo: %s", state);
                else
                    why[i][0] = '\0';
            }
    }
    rc = 0;
done:
    free(list);
    free(out);
    return rc;
}
