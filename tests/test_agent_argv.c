/* Check suite for common/wire/agent_argv.c: hgrid-agent's command line, as the agent reads
 * it and as hgrid-launch writes it (launcher/launch_argv.c's hg_launch_agent_argv), from
 * one table. The round trips start from a launcher command line and end in the agent's
 * parsed options, so an option renamed or re-shaped on one side fails here. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/agent_argv.h"
#include "cli.h"
#include "launch_argv.h"
#include "wire/protocol.h"
#include "testutil.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
static int ARGC(char *const *v)
{
    int n = 0;
    while (v[n])
        n++;
    return n;
}

/* The agent's reading of what the launcher writes for launcher_argv (CONFIG given as
 * config, the agent as /opt/hgrid/bin/hgrid-agent). *argv is the caller's. */
static void launch_to_agent(char **launcher_argv, const char *config, char ***argv,
                            hg_agent_args *out)
{
    hg_cli cli;
    hg_error err;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_cli_parse(ARGC(launcher_argv), launcher_argv, &cli, &err), 0);
    *argv = hg_launch_agent_argv(&cli, "/opt/hgrid/bin/hgrid-agent", config);
    ck_assert_ptr_nonnull(*argv);
    ck_assert_str_eq((*argv)[0], "/opt/hgrid/bin/hgrid-agent");
    ck_assert_msg(hg_agent_args_parse(ARGC(*argv), *argv, out, &err) == 0, "%s", err.msg);
    hg_cli_free(&cli);
}

START_TEST(every_launch_option_reaches_the_agent)
{
    char **v = ARGV("hgrid-launch", "--backend", "mpi", "--timeout=30", "--report",
                    "/tmp/r.json", "--verbose", "--strict", "--in-process", "--label",
                    "--log-dir", "/nonexistent/logs", "--grace", "5", "--hostfile", "h",
                    "cfg.yaml", "--", "train", "--backend", "x", "--");
    char **argv;
    hg_agent_args a;
    launch_to_agent(v, "/abs/cfg.yaml", &argv, &a);
    ck_assert_int_eq(a.backend, HG_BACKEND_MPI);
    ck_assert_int_eq(a.timeout_s, 30);
    ck_assert_str_eq(a.report, "/tmp/r.json");
    ck_assert(a.verbose && a.strict && a.in_process && a.label);
    ck_assert_str_eq(a.log_dir, "/nonexistent/logs");
    ck_assert(!a.help && !a.version);
    ck_assert_str_eq(a.config, "/abs/cfg.yaml");
    /* PROGRAM's own options and "--" stay PROGRAM's. */
    ck_assert_str_eq(a.program[0], "train");
    ck_assert_str_eq(a.program[1], "--backend");
    ck_assert_str_eq(a.program[2], "x");
    ck_assert_str_eq(a.program[3], "--");
    ck_assert_ptr_null(a.program[4]);
    hg_launch_argv_free(argv);
}
END_TEST

START_TEST(nothing_given_writes_only_config_and_program)
{
    char **v = ARGV("hgrid-launch", "cfg.yaml", "--", "train");
    char **argv;
    hg_agent_args a;
    launch_to_agent(v, "/abs/cfg.yaml", &argv, &a);
    ck_assert_int_eq(ARGC(argv), 4);
    ck_assert_str_eq(argv[1], "/abs/cfg.yaml");
    ck_assert_str_eq(argv[2], "--");
    ck_assert_str_eq(argv[3], "train");
    ck_assert_int_eq(a.backend, HG_BACKEND_FROM_CONFIG);
    ck_assert_int_eq(a.timeout_s, 0);
    ck_assert_int_eq(a.preflight, -1);
    ck_assert_ptr_null(a.report);
    ck_assert_ptr_null(a.log_dir);
    ck_assert(!a.verbose && !a.strict && !a.in_process && !a.label);
    hg_launch_argv_free(argv);
}
END_TEST

START_TEST(relative_report_becomes_absolute)
{
    char cwd[PATH_MAX], want[PATH_MAX + 16];
    char **v = ARGV("hgrid-launch", "--report", "r.json", "--backend=nccl", "cfg.yaml", "--",
                    "train");
    char **argv;
    hg_agent_args a;
    ck_assert_ptr_nonnull(realpath(".", cwd));
    snprintf(want, sizeof(want), "%s/r.json", cwd);
    launch_to_agent(v, "/abs/cfg.yaml", &argv, &a);
    ck_assert_str_eq(a.report, want);
    ck_assert_int_eq(a.backend, HG_BACKEND_NCCL);
    hg_launch_argv_free(argv);
}
END_TEST

START_TEST(preflight_depth_reaches_the_agent)
{
    static const char *const depth[] = { "full", "world", "none" };
    for (int d = 0; d < 3; d++) {
        char **v = ARGV("hgrid-launch", "--preflight", (char *)depth[d], "cfg.yaml", "--", "p");
        char **argv;
        hg_agent_args a;
        launch_to_agent(v, "/abs/cfg.yaml", &argv, &a);
        ck_assert_int_eq(a.preflight, d);
        ck_assert_str_eq(argv[1], "--preflight");
        ck_assert_str_eq(argv[2], depth[d]);
        hg_launch_argv_free(argv);
    }
}
END_TEST

/* The writer spells every option as the table does, and only from the table. */
START_TEST(written_options_are_the_tables)
{
    char **v = ARGV("hgrid-launch", "--backend", "mpi", "--timeout", "7", "--preflight", "full",
                    "--report", "/r", "--verbose", "--strict", "--in-process", "--label",
                    "--log-dir", "/l", "cfg.yaml", "--", "p");
    char **argv;
    hg_agent_args a;
    int seen = 0;
    launch_to_agent(v, "/c", &argv, &a);
    for (int i = 1; argv[i] && strcmp(argv[i], "/c") != 0; i++) {
        int found = 0;
        for (int o = 0; o < HG_AGENT_OPT_COUNT; o++) {
            const hg_agent_opt_spec *s = hg_agent_opt_spec_of((hg_agent_opt)o);
            if (strcmp(argv[i], s->name) == 0) {
                found = 1;
                seen |= 1 << o;
                i += s->value != NULL;
            }
        }
        ck_assert_msg(found, "'%s' is not in the agent's table", argv[i]);
    }
    /* Every option but --help and --version was written. */
    ck_assert_int_eq(seen, (1 << HG_AGENT_OPT_COUNT) - 1 - (1 << HG_AGENT_OPT_HELP)
                               - (1 << HG_AGENT_OPT_VERSION));
    hg_launch_argv_free(argv);
}
END_TEST

static void expect_error(char *const *argv, const char *want)
{
    hg_agent_args a;
    hg_error e;
    hg_error_clear(&e);
    ck_assert_int_eq(hg_agent_args_parse(ARGC(argv), argv, &a, &e), HG_EINVAL);
    ck_assert_str_eq(e.msg, want);
}

START_TEST(agent_usage_errors)
{
    expect_error(ARGV("hgrid-agent", "--frobnicate", "c", "--", "p"),
                 "unknown option '--frobnicate'");
    expect_error(ARGV("hgrid-agent", "--verbose=1", "c", "--", "p"),
                 "unknown option '--verbose=1'");
    expect_error(ARGV("hgrid-agent", "--timeout"), "--timeout needs a value (S)");
    expect_error(ARGV("hgrid-agent", "--backend", "gloo", "c", "--", "p"),
                 "--backend must be nccl or mpi, not 'gloo'");
    expect_error(ARGV("hgrid-agent", "--timeout", "0", "c", "--", "p"),
                 "--timeout must be a whole number of seconds in 1..86400, not '0'");
    expect_error(ARGV("hgrid-agent", "--timeout=86401", "c", "--", "p"),
                 "--timeout must be a whole number of seconds in 1..86400, not '86401'");
    expect_error(ARGV("hgrid-agent", "--timeout", "12s", "c", "--", "p"),
                 "--timeout must be a whole number of seconds in 1..86400, not '12s'");
    expect_error(ARGV("hgrid-agent", "--verbose"), "missing CONFIG");
    expect_error(ARGV("hgrid-agent", "c", "p"), "expected '--' and a PROGRAM after CONFIG");
    expect_error(ARGV("hgrid-agent", "c", "--"), "missing PROGRAM after '--'");
    expect_error(ARGV("hgrid-agent", "--preflight", "most", "c", "--", "p"),
                 "--preflight must be full, world or none, not 'most'");
    expect_error(ARGV("hgrid-agent", "--preflight=world", "--in-process", "c", "--", "p"),
                 "--preflight world does not apply to --in-process (the program uses hgrid's "
                 "communicators, which only the full pre-flight builds)");
}
END_TEST

START_TEST(agent_reads_both_value_forms_and_stops_at_config)
{
    char **v = ARGV("hgrid-agent", "--timeout=86400", "--backend", "nccl", "c.yaml",
                    "--verbose", "--", "p");
    hg_agent_args a;
    hg_error e;
    /* Options end at CONFIG: "--verbose" after it is not '--'. */
    ck_assert_int_eq(hg_agent_args_parse(ARGC(v), v, &a, &e), HG_EINVAL);
    char **w = ARGV("hgrid-agent", "--timeout=86400", "--backend", "nccl", "--", "c.yaml", "--",
                    "p");
    ck_assert_int_eq(hg_agent_args_parse(ARGC(w), w, &a, &e), 0);
    ck_assert_int_eq(a.timeout_s, HG_TIMEOUT_MAX_S);
    ck_assert_int_eq(a.backend, HG_BACKEND_NCCL);
    ck_assert_str_eq(a.config, "c.yaml");
    ck_assert_str_eq(a.program[0], "p");
}
END_TEST

START_TEST(help_and_version_end_the_reading)
{
    hg_agent_args a;
    hg_error e;
    char **h = ARGV("hgrid-agent", "--help");
    ck_assert_int_eq(hg_agent_args_parse(ARGC(h), h, &a, &e), 0);
    ck_assert(a.help);
    char **v = ARGV("hgrid-agent", "--backend", "mpi", "--version", "--frobnicate");
    ck_assert_int_eq(hg_agent_args_parse(ARGC(v), v, &a, &e), 0);
    ck_assert(a.version);
}
END_TEST

START_TEST(usage_lists_every_option)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    hg_agent_args_usage(f);
    fclose(f);
    for (int o = 0; o < HG_AGENT_OPT_COUNT; o++) {
        const hg_agent_opt_spec *s = hg_agent_opt_spec_of((hg_agent_opt)o);
        char line[64];
        snprintf(line, sizeof(line), "  %s%s%s ", s->name, s->value ? " " : "",
                 s->value ? s->value : "");
        ck_assert_msg(strstr(text, line), "--help lacks '%s'", line);
    }
    ck_assert_ptr_nonnull(
        strstr(text, "  --backend B     nccl (GPUs) or mpi (CPU groups); default: agent.backend\n"));
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("agent_argv");
    TCase *tc = tcase_create("argv");
    tcase_add_test(tc, every_launch_option_reaches_the_agent);
    tcase_add_test(tc, nothing_given_writes_only_config_and_program);
    tcase_add_test(tc, relative_report_becomes_absolute);
    tcase_add_test(tc, preflight_depth_reaches_the_agent);
    tcase_add_test(tc, written_options_are_the_tables);
    tcase_add_test(tc, agent_usage_errors);
    tcase_add_test(tc, agent_reads_both_value_forms_and_stops_at_config);
    tcase_add_test(tc, help_and_version_end_the_reading);
    tcase_add_test(tc, usage_lists_every_option);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
