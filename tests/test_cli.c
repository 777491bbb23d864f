/* Check suite for launcher/cli.c: hgrid-launch's command line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "testutil.h"

#define ARGV(...) ((char *[]){ "hgrid-launch", __VA_ARGS__, NULL })
static int ARGC(char **v)
{
    int n = 0;
    while (v[n])
        n++;
    return n;
}

static int parse(int argc, char **argv, hg_cli *c, hg_error *e)
{
    hg_error_clear(e);
    return hg_cli_parse(argc, argv, c, e);
}

START_TEST(launch_with_every_option)
{
    char **v = ARGV("--backend", "mpi", "--timeout=30", "--report", "r.json", "--hostfile", "h",
                    "--gpus-per-node", "8", "--mpirun", "/opt/ompi/bin/mpirun", "--mpi-arg",
                    "--bind-to", "--mpi-arg=none", "-v", "--strict", "--in-process", "cfg.yaml",
                    "--", "train", "--lr", "0.1");
    int argc = ARGC(v);
    ck_assert_int_eq(argc, 23);
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(argc, v, &c, &e), 0);
    ck_assert_int_eq(c.backend, HG_BACKEND_MPI);
    ck_assert_int_eq(c.timeout_s, 30);
    ck_assert_str_eq(c.report, "r.json");
    ck_assert_str_eq(c.hostfile, "h");
    ck_assert_int_eq(c.gpus_per_node, 8);
    ck_assert_str_eq(c.mpirun, "/opt/ompi/bin/mpirun");
    ck_assert_int_eq(c.nmpi_args, 2);
    ck_assert_str_eq(c.mpi_args[0], "--bind-to");
    ck_assert_str_eq(c.mpi_args[1], "none");
    ck_assert(c.verbose && c.strict && c.in_process && !c.dry_run);
    ck_assert_int_eq(c.nconfigs, 1);
    ck_assert_str_eq(c.configs[0], "cfg.yaml");
    ck_assert_int_eq(c.nprogram, 3);
    ck_assert_str_eq(c.program[0], "train");
    ck_assert_str_eq(c.program[2], "0.1");
    ck_assert_ptr_null(c.program[3]);
    hg_cli_free(&c);
}
END_TEST

START_TEST(defaults)
{
    char **v = ARGV("cfg.yaml", "--", "train");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert_int_eq(c.backend, HG_BACKEND_FROM_CONFIG);
    ck_assert_int_eq(c.timeout_s, 0);
    ck_assert_int_eq(c.rank, -1);
    ck_assert_str_eq(c.mpirun, "mpirun");
    ck_assert_int_eq(c.format, HG_FORMAT_TABLE);
    hg_cli_free(&c);
}
END_TEST

START_TEST(program_arguments_are_not_options)
{
    /* Everything after "--" is the program's, even hgrid's own option names. */
    char **v = ARGV("cfg.yaml", "--", "train", "--dry-run", "--backend", "x");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert(!c.dry_run);
    ck_assert_int_eq(c.backend, HG_BACKEND_FROM_CONFIG);
    ck_assert_int_eq(c.nprogram, 4);
    hg_cli_free(&c);
}
END_TEST

START_TEST(dry_run_several_configs)
{
    char **v = ARGV("--dry-run", "--format", "json", "a.yaml", "b.yaml");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert(c.dry_run);
    ck_assert_int_eq(c.format, HG_FORMAT_JSON);
    ck_assert_int_eq(c.nconfigs, 2);
    hg_cli_free(&c);
}
END_TEST

static void expect_error(int argc, char **argv, const char *msg)
{
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(argc, argv, &c, &e), HG_EINVAL);
    ck_assert_str_eq(e.msg, msg);
    hg_cli_free(&c);
}

START_TEST(usage_errors)
{
    char **a = ARGV("--frobnicate", "cfg.yaml");
    expect_error(ARGC(a), a, "unknown option '--frobnicate' (see --help)");
    char **b = ARGV("--backend", "gloo", "cfg.yaml", "--", "x");
    expect_error(ARGC(b), b, "--backend: expected nccl or mpi, got 'gloo'");
    char **c = ARGV("--timeout", "0", "cfg.yaml", "--", "x");
    expect_error(ARGC(c), c, "--timeout: expected seconds in 1..86400, got '0'");
    char **c2 = ARGV("--timeout", "100000", "cfg.yaml", "--", "x");
    expect_error(ARGC(c2), c2, "--timeout: expected seconds in 1..86400, got '100000'");
    char **d = ARGV("--timeout", "5s", "cfg.yaml", "--", "x");
    expect_error(ARGC(d), d, "--timeout: expected seconds in 1..86400, got '5s'");
    char **f = ARGV("cfg.yaml", "--timeout");
    expect_error(ARGC(f), f, "--timeout needs a value");
    char **g = ARGV("--format", "yaml", "--dry-run", "cfg.yaml");
    expect_error(ARGC(g), g, "--format: expected table, json, megatron or svg, got 'yaml'");
    char **h = ARGV("--dry-run");
    expect_error(ARGC(h), h, "no config file given (see --help)");
    char **i = ARGV("cfg.yaml");
    expect_error(ARGC(i), i, "no program to launch: hgrid-launch CONFIG -- PROGRAM [ARGS...]");
    char **j = ARGV("a.yaml", "b.yaml", "--", "x");
    expect_error(ARGC(j), j, "one config to launch, got 2 (did you forget '--'?)");
    char **k = ARGV("--dry-run", "a.yaml", "--", "x");
    expect_error(ARGC(k), k, "--dry-run launches nothing; drop '-- x'");
    char **l = ARGV("--dry-run", "--rank", "1", "a.yaml", "b.yaml");
    expect_error(ARGC(l), l, "--rank takes one config, got 2");
    char **m = ARGV("--dry-run", "--rank", "-1", "a.yaml");
    expect_error(ARGC(m), m, "--rank: expected an integer >= 0, got '-1'");
}
END_TEST

/* The resilience options (issue 19): values, defaults, and what goes with what. */
START_TEST(resilience_options)
{
    char **ok = ARGV("--max-restarts", "3", "--restart-delay", "5", "--stall-timeout", "60",
                     "--launcher", "srun", "--exclude-failed-hosts", "cfg.yaml", "--", "x");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(ok), ok, &c, &e), 0);
    ck_assert_int_eq(c.max_restarts, 3);
    ck_assert_int_eq(c.restart_delay_s, 5);
    ck_assert_int_eq(c.stall_timeout_s, 60);
    ck_assert_int_eq(c.use_srun, 1);
    ck_assert_int_eq(c.exclude_failed_hosts, 1);
    hg_cli_free(&c);
    char **dflt = ARGV("cfg.yaml", "--", "x");
    ck_assert_int_eq(parse(ARGC(dflt), dflt, &c, &e), 0);
    ck_assert_int_eq(c.max_restarts, -1); /* the config's agent.max_restarts */
    ck_assert_int_eq(c.stall_timeout_s, -1);
    ck_assert_int_eq(c.restart_delay_s, 0);
    ck_assert_int_eq(c.use_srun, 0);
    hg_cli_free(&c);
    char **a = ARGV("--max-restarts", "1001", "cfg.yaml", "--", "x");
    expect_error(ARGC(a), a, "--max-restarts: expected a count in 0..1000, got '1001'");
    char **b = ARGV("--restart-delay", "-1", "cfg.yaml", "--", "x");
    expect_error(ARGC(b), b, "--restart-delay: expected seconds in 0..86400, got '-1'");
    char **d = ARGV("--stall-timeout", "1m", "cfg.yaml", "--", "x");
    expect_error(ARGC(d), d, "--stall-timeout: expected seconds in 0..86400, got '1m'");
    char **s1 = ARGV("--stragglers", "8:40", "cfg.yaml", "--", "x");
    ck_assert_int_eq(parse(ARGC(s1), s1, &c, &e), 0);
    ck_assert_int_eq(c.straggler_pct, 8);
    ck_assert_int_eq(c.straggler_steps, 40);
    hg_cli_free(&c);
    char **s2 = ARGV("--stragglers", "off", "cfg.yaml", "--", "x");
    ck_assert_int_eq(parse(ARGC(s2), s2, &c, &e), 0);
    ck_assert_int_eq(c.straggler_pct, 0);
    hg_cli_free(&c);
    ck_assert_int_eq(parse(ARGC(dflt), dflt, &c, &e), 0);
    ck_assert_int_eq(c.straggler_pct, -1); /* the config's agent.stragglers */
    hg_cli_free(&c);
    char **s3 = ARGV("--stragglers", "5%", "cfg.yaml", "--", "x");
    expect_error(ARGC(s3), s3, "--stragglers: expected PCT (0..1000), PCT:STEPS (STEPS "
                               "2..100000) or off, got '5%'");
    char **s4 = ARGV("--dry-run", "--stragglers", "5", "cfg.yaml");
    expect_error(ARGC(s4), s4, "--stragglers does not apply to --dry-run (it watches the "
                               "launch's heartbeats)");
    char **f = ARGV("--launcher", "pbs", "cfg.yaml", "--", "x");
    expect_error(ARGC(f), f, "--launcher: expected mpirun or srun, got 'pbs'");
    char **g = ARGV("--launcher", "srun", "--hostfile", "h", "cfg.yaml", "--", "x");
    expect_error(ARGC(g), g, "--hostfile does not go with --launcher srun (the allocation holds "
                             "the hosts)");
    char **h = ARGV("--exclude-failed-hosts", "cfg.yaml", "--", "x");
    expect_error(ARGC(h), h, "--exclude-failed-hosts needs --hostfile (the hosts to choose from), "
                             "or --launcher srun inside a SLURM allocation");
    char **i = ARGV("--dry-run", "--max-restarts", "1", "cfg.yaml");
    expect_error(ARGC(i), i, "--max-restarts does not apply to --dry-run (it restarts a failed "
                             "launch)");
}
END_TEST

START_TEST(help_and_version_need_nothing_else)
{
    char **v = ARGV("--help");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert(c.help);
    hg_cli_free(&c);
    char **w = ARGV("-V");
    ck_assert_int_eq(parse(ARGC(w), w, &c, &e), 0);
    ck_assert(c.version);
    hg_cli_free(&c);
}
END_TEST

/* Every launch option, with --dry-run, is an error naming it and what it is for. */
START_TEST(dry_run_refuses_launch_options)
{
    static const struct {
        const char *opt, *val, *msg;
    } cases[] = {
        { "--backend", "mpi",
          "--backend does not apply to --dry-run (it picks the launch's communicator backend)" },
        { "--timeout", "5",
          "--timeout does not apply to --dry-run (it sets the launch's readiness deadline)" },
        { "--report", "r.json",
          "--report does not apply to --dry-run (it names the launch's readiness report)" },
        { "--hostfile", "hosts", "--hostfile does not apply to --dry-run (it is passed to mpirun)" },
        { "--mpirun", "/usr/bin/mpirun",
          "--mpirun does not apply to --dry-run (it picks the mpirun that starts the launch)" },
        { "--mpi-arg", "--oversubscribe",
          "--mpi-arg does not apply to --dry-run (it is passed to mpirun)" },
        { "--in-process", NULL,
          "--in-process does not apply to --dry-run (it says how PROGRAM joins the launch)" },
        { "--label", NULL, "--label does not apply to --dry-run (it labels the ranks' output)" },
        { "--log-dir", "logs", "--log-dir does not apply to --dry-run (it keeps the ranks' output)" },
        { "--grace", "10", "--grace does not apply to --dry-run (it times the workload's shutdown)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *opt = (char *)cases[i].opt, *val = (char *)cases[i].val;
        /* Before and after --dry-run, as "--opt value" and as "--opt=value". */
        char **a = val ? ARGV(opt, val, "--dry-run", "cfg.yaml") : ARGV(opt, "--dry-run", "cfg.yaml");
        expect_error(ARGC(a), a, cases[i].msg);
        char joined[64];
        snprintf(joined, sizeof(joined), "%s=%s", opt, val ? val : "");
        char **b = ARGV("--dry-run", "cfg.yaml", val ? joined : opt);
        expect_error(ARGC(b), b, cases[i].msg);
    }
}
END_TEST

/* --gpus-per-node applies to both modes: the dry-run's placement check reads it. */
START_TEST(dry_run_takes_gpus_per_node)
{
    char **v = ARGV("--dry-run", "--gpus-per-node", "4", "cfg.yaml");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert(c.dry_run);
    ck_assert_int_eq(c.gpus_per_node, 4);
    hg_cli_free(&c);
    char **z = ARGV("--dry-run", "--gpus-per-node=0", "cfg.yaml");
    expect_error(ARGC(z), z, "--gpus-per-node: expected an integer >= 1, got '0'");
}
END_TEST

START_TEST(launch_refuses_dry_run_options)
{
    char **a = ARGV("--format", "json", "cfg.yaml", "--", "train");
    expect_error(ARGC(a), a, "--format applies only to --dry-run");
    char **b = ARGV("--rank=3", "cfg.yaml", "--", "train");
    expect_error(ARGC(b), b, "--rank applies only to --dry-run");
    /* Without a program either: the misplaced option is the first thing to fix. */
    char **c = ARGV("--format", "table", "cfg.yaml");
    expect_error(ARGC(c), c, "--format applies only to --dry-run");
}
END_TEST

/* With several misplaced options, the first one on the command line is named. */
START_TEST(first_misplaced_option_is_named)
{
    char **a = ARGV("--dry-run", "--grace", "5", "--timeout", "9", "cfg.yaml");
    expect_error(ARGC(a), a, "--grace does not apply to --dry-run (it times the workload's shutdown)");
    /* --strict and -v belong to both modes. */
    char **b = ARGV("--dry-run", "--strict", "-v", "cfg.yaml");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(b), b, &c, &e), 0);
    ck_assert(c.dry_run && c.strict && c.verbose);
    hg_cli_free(&c);
    /* --help wins over everything else. */
    char **h = ARGV("--dry-run", "--timeout", "5", "--help");
    ck_assert_int_eq(parse(ARGC(h), h, &c, &e), 0);
    ck_assert(c.help);
    hg_cli_free(&c);
}
END_TEST

START_TEST(empty_values_are_refused)
{
    char **a = ARGV("--mpi-arg=", "cfg.yaml", "--", "x");
    expect_error(ARGC(a), a, "--mpi-arg: expected an mpirun argument, got ''");
    char **b = ARGV("--mpi-arg", "", "cfg.yaml", "--", "x");
    expect_error(ARGC(b), b, "--mpi-arg: expected an mpirun argument, got ''");
    char **c = ARGV("--report=", "cfg.yaml", "--", "x");
    expect_error(ARGC(c), c, "--report: expected a file name, got ''");
    char **d = ARGV("--hostfile", "", "cfg.yaml", "--", "x");
    expect_error(ARGC(d), d, "--hostfile: expected a file name, got ''");
    char **f = ARGV("--mpirun=", "cfg.yaml", "--", "x");
    expect_error(ARGC(f), f, "--mpirun: expected a program, got ''");
    char **g = ARGV("--log-dir=", "cfg.yaml", "--", "x");
    expect_error(ARGC(g), g, "--log-dir: expected a directory, got ''");
    char **h = ARGV("--dry-run", "--format=", "cfg.yaml");
    expect_error(ARGC(h), h, "--format: expected table, json, megatron or svg, got ''");
    /* A flag takes no value. */
    char **i = ARGV("--dry-run=yes", "cfg.yaml");
    expect_error(ARGC(i), i, "unknown option '--dry-run=yes' (see --help)");
}
END_TEST

START_TEST(last_value_counts)
{
    char **v = ARGV("--timeout", "5", "--backend=nccl", "--timeout=10", "--backend", "mpi",
                    "--mpi-arg", "a", "--mpi-arg", "b", "cfg.yaml", "--", "x");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert_int_eq(c.timeout_s, 10);
    ck_assert_int_eq(c.backend, HG_BACKEND_MPI);
    ck_assert_int_eq(c.nmpi_args, 2);
    ck_assert_str_eq(c.mpi_args[1], "b");
    hg_cli_free(&c);
    char **w = ARGV("--dry-run", "--format", "json", "--format", "table", "cfg.yaml");
    ck_assert_int_eq(parse(ARGC(w), w, &c, &e), 0);
    ck_assert_int_eq(c.format, HG_FORMAT_TABLE);
    hg_cli_free(&c);
}
END_TEST

START_TEST(stdin_config)
{
    char **v = ARGV("--dry-run", "-", "b.yaml");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert_int_eq(c.nconfigs, 2);
    ck_assert_str_eq(c.configs[0], "-");
    hg_cli_free(&c);
    char **w = ARGV("-", "--", "train");
    ck_assert_int_eq(parse(ARGC(w), w, &c, &e), 0);
    ck_assert_str_eq(c.configs[0], "-");
    hg_cli_free(&c);
    /* The second read would find it empty. */
    char **x = ARGV("--dry-run", "-", "a.yaml", "-");
    expect_error(ARGC(x), x, "'-' (standard input) can be read only once");
}
END_TEST

START_TEST(format_megatron)
{
    char **v = ARGV("--dry-run", "--format", "megatron", "cfg.yaml");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert_int_eq(c.format, HG_FORMAT_MEGATRON);
    ck_assert_int_eq(c.nconfigs, 1);
    hg_cli_free(&c);
    /* The arguments describe the whole layout of one config. */
    char **a = ARGV("--dry-run", "--format=megatron", "--rank", "0", "cfg.yaml");
    expect_error(ARGC(a), a,
                 "--rank does not apply to --format megatron (its arguments describe the "
                 "whole layout)");
    char **b = ARGV("--dry-run", "--format", "megatron", "a.yaml", "b.yaml");
    expect_error(ARGC(b), b, "--format megatron takes one config, got 2");
    char **d = ARGV("--format", "megatron", "cfg.yaml", "--", "train");
    expect_error(ARGC(d), d, "--format applies only to --dry-run");
    /* The last --format counts: megatron then json takes several configs again. */
    char **w = ARGV("--dry-run", "--format", "megatron", "--format", "json", "a.yaml", "b.yaml");
    ck_assert_int_eq(parse(ARGC(w), w, &c, &e), 0);
    ck_assert_int_eq(c.format, HG_FORMAT_JSON);
    hg_cli_free(&c);
}
END_TEST

START_TEST(format_svg)
{
    /* One config; --rank highlights a rank and --gpus-per-node draws nodes. */
    char **v = ARGV("--dry-run", "--format=svg", "--rank", "3", "--gpus-per-node", "4", "cfg.yaml");
    hg_cli c;
    hg_error e;
    ck_assert_int_eq(parse(ARGC(v), v, &c, &e), 0);
    ck_assert_int_eq(c.format, HG_FORMAT_SVG);
    ck_assert_int_eq(c.rank, 3);
    ck_assert_int_eq(c.gpus_per_node, 4);
    hg_cli_free(&c);
    char **b = ARGV("--dry-run", "--format", "svg", "a.yaml", "b.yaml");
    expect_error(ARGC(b), b, "--format svg takes one config, got 2");
    char **d = ARGV("--format", "svg", "cfg.yaml", "--", "train");
    expect_error(ARGC(d), d, "--format applies only to --dry-run");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, launch_with_every_option);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, resilience_options);
    tcase_add_test(tc, program_arguments_are_not_options);
    tcase_add_test(tc, dry_run_several_configs);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, help_and_version_need_nothing_else);
    tcase_add_test(tc, dry_run_refuses_launch_options);
    tcase_add_test(tc, dry_run_takes_gpus_per_node);
    tcase_add_test(tc, launch_refuses_dry_run_options);
    tcase_add_test(tc, first_misplaced_option_is_named);
    tcase_add_test(tc, empty_values_are_refused);
    tcase_add_test(tc, last_value_counts);
    tcase_add_test(tc, stdin_config);
    tcase_add_test(tc, format_megatron);
    tcase_add_test(tc, format_svg);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
