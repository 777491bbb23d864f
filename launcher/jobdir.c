/* The files of one attempt (jobdir.h). Plan directories are named after the launcher
 * that owns them (pid and start time) so the next launch can tell a dead owner's from a
 * live one's and remove only those; everything else made here goes when the attempt
 * ends. */
#include "jobdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/dirs.h"
#include "proc.h"
#include "wire/protocol.h"

/* The bytes the launcher validated, for the agents, when CONFIG was a pipe. */
static char *copy_config(const char *dir, const char *bytes, size_t len)
{
    char *path = NULL;
    if (asprintf(&path, "%s/config.yaml", dir) < 0)
        return NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f)
        ok &= fclose(f) == 0;
    else if (fd >= 0)
        close(fd);
    if (!ok) {
        free(path);
        return NULL;
    }
    return path;
}

/* A process's start time (hg_proc_stat), or 0 when it does not exist. */
static unsigned long long proc_start_time(long pid)
{
    hg_proc_stat st;
    return hg_proc_stat_read(pid, &st) == 0 ? st.start : 0;
}

static void remove_dir_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

#define PLAN_DIR_PREFIX "hgrid-job-"

/* Plan directories are named hgrid-job-PID-START-XXXXXX after the launcher that owns
 * them. One whose launcher is gone (kill -9 leaves no chance to clean up) is removed
 * by the next launch of the same user. */
static void remove_stale_plan_dirs(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        unsigned long long start;
        int used = 0;
        struct stat st;
        if (strncmp(e->d_name, PLAN_DIR_PREFIX, strlen(PLAN_DIR_PREFIX)) != 0
            || sscanf(e->d_name + strlen(PLAN_DIR_PREFIX), "%ld-%llu-%n", &pid, &start, &used) != 2
            || used == 0 || strlen(e->d_name + strlen(PLAN_DIR_PREFIX) + used) != 6
            || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)
            || st.st_uid != geteuid() || proc_start_time(pid) == start)
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", tmp, e->d_name) >= 0) {
            remove_dir_files(path);
            free(path);
        }
    }
    closedir(d);
}

const char *hg_jobdir_tmp(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

/* The agents write each rank's plan (HGRID_PLAN) into one directory that the
 * launcher owns and removes after the job, so repeated runs leave nothing in /tmp.
 * Ranks on other hosts create the same path there (mpirun -x); those are not removed. */
static char *make_plan_dir(void)
{
    const char *tmp = hg_jobdir_tmp();
    char *dir = NULL;
    remove_stale_plan_dirs(tmp);
    if (asprintf(&dir, "%s/" PLAN_DIR_PREFIX "%ld-%llu-XXXXXX", tmp, (long)getpid(),
                 proc_start_time((long)getpid())) < 0)
        return NULL;
    if (!mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    return dir;
}

static void remove_plan_dir(char *dir)
{
    if (!dir)
        return;
    remove_dir_files(dir);
    free(dir);
}

/* A writable place for FILE: an existing non-directory we may write, or a new name
 * in a directory we may write. Returns 0 or an errno. */
int hg_jobdir_check_writable(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? EISDIR : access(path, W_OK) == 0 ? 0 : errno;
    if (errno != ENOENT)
        return errno;
    char *copy = strdup(path);
    if (!copy)
        return ENOMEM;
    char *slash = strrchr(copy, '/');
    const char *dir = !slash ? "." : slash == copy ? "/" : (*slash = '\0', copy);
    int e = stat(dir, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR
            : access(dir, W_OK | X_OK) != 0 ? errno : 0;
    free(copy);
    return e;
}

/* mkdir -p, then checks that files can be made there. Returns 0 or an errno. */
int hg_jobdir_make_log_dir(const char *dir)
{
    struct stat st;
    int e = hg_dirs_make(dir);
    if (e)
        return e;
    if (stat(dir, &st) != 0)
        return errno;
    if (!S_ISDIR(st.st_mode))
        return ENOTDIR;
    return access(dir, W_OK | X_OK) == 0 ? 0 : errno;
}

/* A fresh random token per job for the status channel (protocol.h). */
static void make_status_token(char hex[HG_STATUS_TOKEN_LEN + 1])
{
    unsigned char r[HG_STATUS_TOKEN_LEN / 2];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 32)
                               ^ (unsigned long long)ts.tv_sec;
        memcpy(r, &x, sizeof(r) < sizeof(x) ? sizeof(r) : sizeof(x));
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
}

/* The job's id for TORCHELASTIC_RUN_ID (protocol.h), the same in every attempt: the
 * user's HGRID_RUN_ID, else a random UUID, as torchrun --standalone makes. */
void hg_jobdir_run_id(char *id, size_t len)
{
    unsigned char r[16];
    const char *have = getenv(HG_ENV_RUN_ID);
    if (have && *have) {
        snprintf(id, len, "%s", have);
        return;
    }
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 32);
        unsigned long long y = (unsigned long long)ts.tv_sec;
        memcpy(r, &x, sizeof(x));
        memcpy(r + 8, &y, sizeof(y));
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(id, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
}

void hg_jobdir_env(const hg_jobdir *f, hg_childenv *env)
{
    hg_childenv_set(env, HG_ENV_STATUS_TOKEN, f->token, 1);
    hg_childenv_set(env, HG_ENV_PLAN_DIR, f->plan_dir, 1);
    hg_childenv_set(env, HG_ENV_IO, hg_iochan_address(f->io), 1);
}

void hg_jobdir_free(hg_jobdir *f)
{
    hg_iochan_free(f->io);
    free(f->log_dir);
    free(f->report);
    free(f->config);
    remove_plan_dir(f->plan_dir);
}

/* An absolute version of a path the agents may open from another directory. */
static char *absolute(const char *path)
{
    char *cwd, *abs = NULL;
    if (path[0] == '/')
        return strdup(path);
    if (!(cwd = realpath(".", NULL)))
        return NULL;
    if (asprintf(&abs, "%s/%s", cwd, path) < 0)
        abs = NULL;
    free(cwd);
    return abs;
}

/* Token, plan directory, config, paths and the ranks' channel, before mpirun's command
 * line (hg_jobdir_env puts HGRID_IO, the token and the plan directory in mpirun's
 * environment, whence they travel with every HGRID_* name). Returns 0 or the exit
 * status, having said why. */
int hg_jobdir_prepare(const hg_cli *cli, int world, const char *config_path, const char *bytes,
                       size_t len, hg_jobdir *f)
{
    hg_error err;
    make_status_token(f->token);
    if (!(f->plan_dir = make_plan_dir())) {
        fprintf(stderr, "hgrid-launch: the job could not be started: cannot create a plan "
                "directory in %s: %s\n", hg_jobdir_tmp(), strerror(errno));
        return HG_EXIT_NOT_STARTED;
    }
    f->config = config_path ? strdup(config_path) : copy_config(f->plan_dir, bytes, len);
    if (!f->config) {
        fprintf(stderr, "hgrid-launch: the job could not be started: cannot copy the config "
                "into %s: %s\n", f->plan_dir, strerror(errno));
        return HG_EXIT_NOT_STARTED;
    }
    if ((cli->report && !(f->report = absolute(cli->report)))
        || (cli->log_dir && !(f->log_dir = realpath(cli->log_dir, NULL)))) {
        fprintf(stderr, "hgrid-launch: the job could not be started: %s\n", strerror(errno));
        return HG_EXIT_NOT_STARTED;
    }
    if (hg_iochan_listen(&f->io, world, &err) != 0) {
        fprintf(stderr, "hgrid-launch: the job could not be started: %s\n", err.msg);
        return HG_EXIT_NOT_STARTED;
    }
    return 0;
}
