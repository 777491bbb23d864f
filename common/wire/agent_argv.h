/* hgrid-agent's command line, one table for both ends: the agent reads it
 * (hg_agent_args_parse) and hgrid-launch writes it (hg_agent_args_write), so an option
 * renamed, added or given a value here changes both, and a unit test proves that what
 * the launcher writes the agent reads back. No MPI here: both programs link it. */
#ifndef HG_AGENT_ARGV_H
#define HG_AGENT_ARGV_H

#include <stdio.h>

#include "util/error.h"

/* The agent's options, in the order --help lists them and the launcher writes them. */
typedef enum hg_agent_opt {
    HG_AGENT_OPT_BACKEND,
    HG_AGENT_OPT_TIMEOUT,
    HG_AGENT_OPT_PREFLIGHT,
    HG_AGENT_OPT_REPORT,
    HG_AGENT_OPT_VERBOSE,
    HG_AGENT_OPT_STRICT,
    HG_AGENT_OPT_IN_PROCESS,
    HG_AGENT_OPT_LABEL,
    HG_AGENT_OPT_LOG_DIR,
    HG_AGENT_OPT_HELP,
    HG_AGENT_OPT_VERSION,
    HG_AGENT_OPT_COUNT
} hg_agent_opt;

typedef struct hg_agent_opt_spec {
    const char *name;  /* "--backend" */
    const char *value; /* what its value is called in --help; NULL: it takes none */
    const char *help;  /* --help's text, lines after the first indented by the caller */
} hg_agent_opt_spec;

const hg_agent_opt_spec *hg_agent_opt_spec_of(hg_agent_opt opt);

/* What an agent's command line says. */
typedef struct hg_agent_args {
    int backend;           /* hg_backend; HG_BACKEND_FROM_CONFIG when not given */
    int timeout_s;         /* 0: not given (agent.init_timeout_s) */
    int preflight;         /* hg_preflight; -1: not given (agent.preflight) */
    const char *report;    /* NULL: not given */
    int verbose, strict, label, in_process;
    const char *log_dir;   /* NULL: not given */
    int help, version;
    const char *config;
    char *const *program;  /* PROGRAM [ARGS...], NULL-terminated; NULL with help/version */
} hg_agent_args;

/* Nothing given. */
void hg_agent_args_init(hg_agent_args *a);

/* Reads argv[1..argc): options (--name VALUE or --name=VALUE), CONFIG, "--", PROGRAM
 * [ARGS...]. Options end at CONFIG, so PROGRAM's own are never taken for the agent's;
 * --help and --version end the reading. Strings point into argv. Returns 0, or
 * HG_EINVAL with err->msg saying what is wrong. */
int hg_agent_args_parse(int argc, char *const *argv, hg_agent_args *out, hg_error *err);

/* 0, or HG_EINVAL with the message when --preflight (hg_preflight; -1: not given)
 * cannot go with --in-process: that program uses hgrid's communicators, which only the
 * full pre-flight builds. Both command lines, the launcher's and the agent's, check it. */
int hg_agent_check_preflight(int in_process, int preflight, hg_error *err);

/* Calls emit(ctx, word) for each word of a's command line after argv[0]: the options
 * given, CONFIG, "--", PROGRAM [ARGS...] (help and version are not written). word is
 * valid during the call only. */
void hg_agent_args_write(const hg_agent_args *a, void (*emit)(void *ctx, const char *word),
                         void *ctx);

/* The options part of --help, one option a line (or two), from the table. */
void hg_agent_args_usage(FILE *out);

#endif
