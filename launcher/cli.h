/* hgrid-launch's command line, parsed into one struct with no side effects, so every
 * mode (dry-run, standalone launch, agent inside a job) starts from the same data. */
#ifndef HG_CLI_H
#define HG_CLI_H

#include "dryrun.h"
#include "grid/settings.h"
#include "util/error.h"

typedef struct hg_cli {
    int help, version, dry_run, verbose, strict;
    int in_process;         /* PROGRAM calls hg_init() itself (hgrid.h) */
    int label;              /* --label: "[R module] " before every line of the ranks */
    const char *log_dir;    /* --log-dir DIR: each rank's stdout/stderr also to files */
    int grace_s;            /* --grace S: stop signal to SIGKILL (default HG_GRACE_DEFAULT_S) */
    int max_restarts;       /* --max-restarts N; -1: the config's agent.max_restarts */
    int restart_delay_s;    /* --restart-delay S */
    int exclude_failed_hosts; /* --exclude-failed-hosts (needs --hostfile) */
    int stall_timeout_s;    /* --stall-timeout S; -1: the config's agent.stall_timeout_s */
    int first_beat_timeout_s; /* --first-beat-timeout S; -1: agent.first_beat_timeout_s */
    int straggler_pct;      /* --stragglers PCT[:STEPS] (0: off); -1: agent.stragglers */
    int straggler_steps;
    int host_timeout_s;     /* --host-timeout S (HG_HOST_TIMEOUT_S); 0: off */
    int srun_nodes;         /* not an option: an attempt's srun -N once nodes were left
                             * out (the allocation's own count would refuse), 0: none */
    hg_format format;
    int rank;               /* --rank N, -1 when absent */
    int backend;            /* --backend: hg_backend; HG_BACKEND_FROM_CONFIG: the config's */
    int timeout_s;          /* --timeout, 0: the config's */
    int preflight;          /* --preflight: hg_preflight; -1: the config's */
    const char *report;     /* --report FILE */
    const char *hostfile;
    int gpus_per_node;      /* 0: not given */
    const char *mpirun;     /* --mpirun PATH, default "mpirun" */
    int use_srun;           /* --launcher srun: each attempt an srun step of the allocation */
    const char *srun;       /* "srun" */
    const char **mpi_args;  /* --mpi-arg, repeatable; owned array, borrowed strings */
    int nmpi_args;
    const char **configs;   /* positional before "--"; owned array */
    int nconfigs;
    char **program;         /* after "--"; points into argv, NULL-terminated */
    int nprogram;
} hg_cli;

/* Returns 0, or HG_EINVAL with err->msg saying what is wrong. */
int hg_cli_parse(int argc, char **argv, hg_cli *cli, hg_error *err);
void hg_cli_free(hg_cli *cli);
/* The settings (grid/settings.h) the command line gave, HG_SETTING_UNSET for the rest:
 * hg_settings_merge's given[]. */
void hg_cli_settings(const hg_cli *cli, int given[HG_NSETTINGS]);
void hg_cli_usage(FILE *out);
/* The i-th option the parser knows ("--timeout"), in --help's order; NULL past the
 * last. tests/test_settings.c holds it, --help and the settings table to each other. */
const char *hg_cli_option(size_t i);

#endif
