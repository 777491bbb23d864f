/* Helpers shared by the Check suites: parse YAML text and collect the diagnostics. */
#ifndef HG_TESTUTIL_H
#define HG_TESTUTIL_H

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "grid/config.h"
#include "util/diag.h"
#include "grid/layout.h"

#define SRCDIR HG_SOURCE_DIR

/* Whether any diagnostic equals want exactly. */
static inline int diags_have(const hg_diags *d, const char *want)
{
    for (size_t i = 0; i < hg_diags_size(d); i++)
        if (strcmp(hg_diags_text(d, i), want) == 0)
            return 1;
    return 0;
}

static inline void diags_dump(const hg_diags *d)
{
    for (size_t i = 0; i < hg_diags_size(d); i++)
        fprintf(stderr, "  diag: %s\n", hg_diags_text(d, i));
}

#define ck_assert_diag(d, want)                                  \
    do {                                                         \
        if (!diags_have((d), (want)))                            \
            diags_dump(d);                                       \
        ck_assert_msg(diags_have((d), (want)), "missing diagnostic: %s", (want)); \
    } while (0)

/* Parses and validates text as file "t.yaml"; returns the layout or NULL. */
static inline hg_layout *layout_of(const char *text, unsigned flags, hg_diags **d_out)
{
    hg_diags *d = hg_diags_new("t.yaml");
    hg_config *cfg = NULL;
    hg_layout *l = NULL;
    if (hg_config_parse(text, strlen(text), &cfg, d) == 0)
        hg_layout_build(cfg, flags, &l, d);
    hg_config_free(cfg);
    *d_out = d;
    return l;
}

/* Every case runs in under HG_TEST_CPU_S seconds of CPU, under the sanitizers too
 * (issue 23: one took minutes under ASan on a 2-core machine and made `make check`
 * fail). A limit on CPU time, not wall time, holds on a loaded machine: each case's
 * process (Check forks one per case) gets SIGXCPU past it, which Check reports as
 * "Received signal 24 (CPU time limit exceeded)". Measured on 2 cores: the slowest case,
 * test_layout's brute_force_shapes, takes 1.5 s under ASan+UBSan. */
#define HG_TEST_CPU_S 5

static inline void limit_case_cpu(void)
{
    struct rlimit cpu = { HG_TEST_CPU_S, HG_TEST_CPU_S + 1 }, core = { 0, 0 };
    setrlimit(RLIMIT_CPU, &cpu);
    setrlimit(RLIMIT_CORE, &core); /* SIGXCPU dumps core by default: no core files */
}

/* Runs a suite and turns its result into main()'s exit status. */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    /* Forking, the limit goes on each case's process (the runner's own time is not
     * counted); CK_FORK=no, for a debugger, runs without it. */
    if (srunner_fork_status(sr) == CK_FORK)
        pthread_atfork(NULL, NULL, limit_case_cpu);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
