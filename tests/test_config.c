/* Config loading (common/grid/config.c): good files parse into the values and marks they
 * hold, with the documented defaults; every error path reports its exact message at
 * its exact line:column, and every problem of a file is reported, not just the first. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "grid/config.h"
#include "util/diag.h"
#include "util/error.h"
#include "testutil.h"

/* ---- helpers ---- */

/* Parses len bytes as "t.yaml"; *d_out receives the diagnostics. */
static int parse_bytes(const char *bytes, size_t len, hg_config **cfg, hg_diags **d_out)
{
    hg_diags *d = hg_diags_new("t.yaml");
    ck_assert_ptr_nonnull(d);
    int rc = hg_config_parse(bytes, len, cfg, d);
    *d_out = d;
    return rc;
}

/* Parses text that must be fine; returns the config (the caller frees it). */
static hg_config *parse_ok(const char *text)
{
    hg_config *cfg = NULL;
    hg_diags *d;
    int rc = parse_bytes(text, strlen(text), &cfg, &d);
    if (rc != 0)
        diags_dump(d);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(hg_diags_size(d), 0);
    hg_diags_free(d);
    return cfg;
}

/* Parses len bytes that must fail and asserts the diagnostics are exactly want[], in
 * order (want is NULL-terminated). */
static void check_errors_n(const char *bytes, size_t len, const char *const *want)
{
    hg_config *cfg = (hg_config *)0x1;
    hg_diags *d;
    int rc = parse_bytes(bytes, len, &cfg, &d);
    size_t n = 0;
    while (want[n])
        n++;
    if (hg_diags_size(d) != n)
        diags_dump(d);
    ck_assert_int_eq(rc, HG_ECONFIG);
    ck_assert_ptr_null(cfg);
    ck_assert_uint_eq(hg_diags_size(d), n);
    ck_assert_uint_eq(hg_diags_errors(d), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(hg_diags_text(d, i), want[i]);
    hg_diags_free(d);
}

#define EXPECT_N(bytes, len, ...) check_errors_n((bytes), (len), (const char *const[]){ __VA_ARGS__, NULL })
#define EXPECT(text, ...) EXPECT_N((text), strlen(text), __VA_ARGS__)

/* A file whose first module's fields start on line 5, column 5. */
#define HEAD "version: 1\nmodules:\n  - name: language\n    role: language\n"

/* ---- good configs ---- */

static const char full[] =
    "version: 1\n"                 /* 1 */
    "world_size: 8\n"              /* 2 */
    "modules:\n"                   /* 3 */
    "  - name: radio_encoder\n"    /* 4 */
    "    role: encoder\n"          /* 5 */
    "    tp: 2\n"                  /* 6 */
    "    dp: 2\n"                  /* 7 */
    "  - name: language\n"         /* 8 */
    "    role: language\n"         /* 9 */
    "    offset: 4\n"              /* 10 */
    "    tp: 2\n"                  /* 11 */
    "    size: 4\n"                /* 12 */
    "    moe:\n"                   /* 13 */
    "      num_experts: 8\n"       /* 14 */
    "      ep: 4\n"                /* 15 */
    "batch:\n"                     /* 16 */
    "  micro_batch_size: 2\n"      /* 17 */
    "  global_batch_size: 16\n"    /* 18 */
    "agent:\n"                     /* 19 */
    "  backend: mpi\n"             /* 20 */
    "  init_timeout_s: 30\n"       /* 21 */
    "  verify: false\n";           /* 22 */

#define ck_assert_mark(mk, l, c)        \
    do {                                \
        ck_assert_int_eq((mk).line, l); \
        ck_assert_int_eq((mk).col, c);  \
    } while (0)

#define ck_assert_num(num, val, l, c)   \
    do {                                \
        ck_assert_int_eq((num).v, val); \
        ck_assert_mark((num).at, l, c); \
    } while (0)

START_TEST(good_full_values_and_marks)
{
    hg_config *cfg = parse_ok(full);
    ck_assert_num(cfg->version, 1, 1, 10);
    ck_assert_num(cfg->world_size, 8, 2, 13);
    ck_assert_mark(cfg->modules_at, 4, 3);
    ck_assert_uint_eq(cfg->nmodules, 2);

    const hg_module_spec *e = &cfg->modules[0];
    ck_assert_str_eq(e->name, "radio_encoder");
    ck_assert_mark(e->at, 4, 5);
    ck_assert_mark(e->name_at, 4, 11);
    ck_assert_int_eq(e->role, HG_ROLE_ENCODER);
    ck_assert_mark(e->role_at, 5, 11);
    ck_assert_num(e->tp, 2, 6, 9);
    ck_assert_num(e->dp, 2, 7, 9);
    ck_assert_num(e->cp, 1, 0, 0);
    ck_assert_num(e->pp, 1, 0, 0);
    ck_assert_num(e->ep, 1, 0, 0);
    ck_assert_num(e->expert_tp, 1, 0, 0);
    ck_assert_num(e->size, 0, 0, 0);
    ck_assert_num(e->offset, 0, 0, 0);
    ck_assert_num(e->num_experts, 0, 0, 0);
    ck_assert_mark(e->moe_at, 0, 0);

    const hg_module_spec *l = &cfg->modules[1];
    ck_assert_str_eq(l->name, "language");
    ck_assert_mark(l->at, 8, 5);
    ck_assert_int_eq(l->role, HG_ROLE_LANGUAGE);
    ck_assert_mark(l->role_at, 9, 11);
    ck_assert_num(l->offset, 4, 10, 13);
    ck_assert_num(l->tp, 2, 11, 9);
    ck_assert_num(l->size, 4, 12, 11);
    ck_assert_num(l->dp, 0, 0, 0);
    ck_assert_mark(l->moe_at, 14, 7);
    ck_assert_num(l->num_experts, 8, 14, 20);
    ck_assert_num(l->ep, 4, 15, 11);
    ck_assert_num(l->expert_tp, 1, 0, 0);

    ck_assert_num(cfg->micro_batch_size, 2, 17, 21);
    ck_assert_num(cfg->global_batch_size, 16, 18, 22);
    ck_assert_int_eq(cfg->backend, HG_BACKEND_MPI);
    ck_assert_mark(cfg->backend_at, 20, 12);
    ck_assert_num(cfg->init_timeout_s, 30, 21, 19);
    ck_assert_int_eq(cfg->verify, 0);
    ck_assert_mark(cfg->verify_at, 22, 11);
    hg_config_free(cfg);
}
END_TEST

START_TEST(good_defaults)
{
    hg_config *cfg = parse_ok("version: 1\nmodules:\n  - name: lm\n    role: language\n    dp: 4\n");
    ck_assert_num(cfg->version, 1, 1, 10);
    ck_assert_num(cfg->world_size, 0, 0, 0);
    ck_assert_uint_eq(cfg->nmodules, 1);
    const hg_module_spec *m = &cfg->modules[0];
    ck_assert_str_eq(m->name, "lm");
    ck_assert_num(m->dp, 4, 5, 9);
    ck_assert_int_eq(m->tp.v, 1);
    ck_assert_int_eq(m->cp.v, 1);
    ck_assert_int_eq(m->pp.v, 1);
    ck_assert_int_eq(m->ep.v, 1);
    ck_assert_int_eq(m->expert_tp.v, 1);
    ck_assert_int_eq(m->num_experts.v, 0);
    ck_assert_num(cfg->micro_batch_size, 0, 0, 0);
    ck_assert_num(cfg->global_batch_size, 0, 0, 0);
    ck_assert_int_eq(cfg->backend, HG_BACKEND_NCCL);
    ck_assert_mark(cfg->backend_at, 0, 0);
    ck_assert_num(cfg->init_timeout_s, 120, 0, 0);
    ck_assert_int_eq(cfg->verify, 1);
    ck_assert_mark(cfg->verify_at, 0, 0);
    ck_assert_int_eq(cfg->preflight, HG_PREFLIGHT_FULL);
    ck_assert_mark(cfg->preflight_at, 0, 0);
    ck_assert_num(cfg->nccl_ranks_per_root, HG_RANKS_PER_ROOT_DEFAULT, 0, 0);
    ck_assert_num(cfg->max_restarts, 0, 0, 0);
    ck_assert_num(cfg->stall_timeout_s, 0, 0, 0);
    hg_config_free(cfg);
}
END_TEST

/* agent.max_restarts and agent.stall_timeout_s (--max-restarts, --stall-timeout). */
START_TEST(good_and_bad_restart_keys)
{
    hg_config *cfg = parse_ok("version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\n"
                              "agent:\n  max_restarts: 3\n  stall_timeout_s: 600\n"
                              "  first_beat_timeout_s: 900\n");
    ck_assert_num(cfg->max_restarts, 3, 5, 17);
    ck_assert_num(cfg->stall_timeout_s, 600, 6, 20);
    ck_assert_num(cfg->first_beat_timeout_s, 900, 7, 25);
    ck_assert_int_eq(cfg->straggler_pct, 5); /* the default: 5 % over 20 steps */
    ck_assert_int_eq(cfg->straggler_steps, 20);
    ck_assert_int_eq(cfg->stragglers_at.line, 0);
    hg_config_free(cfg);
    cfg = parse_ok("version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\n"
                   "agent:\n  stragglers: \"10:50\"\n");
    ck_assert_int_eq(cfg->straggler_pct, 10);
    ck_assert_int_eq(cfg->straggler_steps, 50);
    ck_assert_mark(cfg->stragglers_at, 5, 15);
    hg_config_free(cfg);
    cfg = parse_ok("version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\n"
                   "agent:\n  stragglers: off\n");
    ck_assert_int_eq(cfg->straggler_pct, 0);
    hg_config_free(cfg);
    EXPECT("version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\nagent:\n"
           "  stragglers: 5%\n",
           "t.yaml:5:15: error: agent.stragglers: expected PCT (0..1000), \"PCT:STEPS\" (STEPS "
           "2..100000) or off, got '5%'");
    EXPECT("version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\nagent:\n"
           "  stragglers: [5, 20]\n",
           "t.yaml:5:15: error: agent.stragglers: expected a string, got a list");
    EXPECT("version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\nagent:\n"
           "  max_restarts: 1001\n  stall_timeout_s: -1\n",
           "t.yaml:5:17: error: agent.max_restarts: 1001 is too large (at most 1000)",
           "t.yaml:6:20: error: agent.stall_timeout_s must be at least 0, got -1");
    EXPECT("version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\nagent:\n"
           "  max_restart: 2\n",
           "t.yaml:5:3: error: unknown key 'max_restart' in agent (did you mean 'max_restarts'?)");
}
END_TEST

START_TEST(good_preflight_and_roots)
{
    static const char *const depth[] = { "full", "world", "none" };
    for (int d = 0; d < 3; d++) {
        char text[256];
        snprintf(text, sizeof(text), "version: 1\nmodules:\n  - {name: lm, role: language, dp: 4}\n"
                 "agent:\n  preflight: %s\n  nccl_ranks_per_root: %d\n", depth[d], d);
        hg_config *cfg = parse_ok(text);
        ck_assert_int_eq(cfg->preflight, d);
        ck_assert_mark(cfg->preflight_at, 5, 14);
        ck_assert_num(cfg->nccl_ranks_per_root, d, 6, 24);
        ck_assert_str_eq(hg_preflight_name(cfg->preflight), depth[d]);
        hg_config_free(cfg);
    }
    hg_preflight p = HG_PREFLIGHT_FULL;
    ck_assert_int_eq(hg_preflight_from_name("partial", &p), -1);
    ck_assert_int_eq(hg_preflight_from_name(NULL, &p), -1);
    ck_assert_int_eq(p, HG_PREFLIGHT_FULL);
    ck_assert_str_eq(hg_preflight_name((hg_preflight)7), "?");
}
END_TEST

/* An empty moe mapping is allowed: every key in it is optional. */
START_TEST(good_flow_style_and_empty_moe)
{
    hg_config *cfg = parse_ok("{version: 1, modules: [{name: lm, role: language, size: 8, "
                              "pp: 2, moe: {}}], agent: {backend: nccl, verify: True}}");
    ck_assert_uint_eq(cfg->nmodules, 1);
    ck_assert_mark(cfg->modules[0].at, 1, 24);
    ck_assert_num(cfg->modules[0].size, 8, 1, 57);
    ck_assert_num(cfg->modules[0].pp, 2, 1, 64);
    ck_assert_mark(cfg->modules[0].moe_at, 1, 72);
    ck_assert_int_eq(cfg->modules[0].ep.v, 1);
    ck_assert_int_eq(cfg->backend, HG_BACKEND_NCCL);
    ck_assert_mark(cfg->backend_at, 1, 95);
    ck_assert_int_eq(cfg->verify, 1);
    hg_config_free(cfg);
}
END_TEST

START_TEST(good_bool_spellings)
{
    static const struct { const char *word; int v; } cases[] = {
        { "true", 1 }, { "True", 1 }, { "TRUE", 1 },
        { "false", 0 }, { "False", 0 }, { "FALSE", 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "version: 1\nmodules: []\nagent:\n  verify: %s\n",
                 cases[i].word);
        hg_config *cfg = parse_ok(text);
        ck_assert_int_eq(cfg->verify, cases[i].v);
        ck_assert_mark(cfg->verify_at, 4, 11);
        hg_config_free(cfg);
    }
}
END_TEST

/* An explicit sign is plain decimal; offset may be 0. */
START_TEST(good_number_spellings)
{
    hg_config *cfg = parse_ok(HEAD "    tp: +2\n    dp: 10\n    offset: -0\n    pp: 2\n"
                                   "    cp: 16777216\n");
    ck_assert_num(cfg->modules[0].tp, 2, 5, 9);
    ck_assert_num(cfg->modules[0].dp, 10, 6, 9);
    ck_assert_num(cfg->modules[0].offset, 0, 7, 13);
    ck_assert_num(cfg->modules[0].pp, 2, 8, 9);
    ck_assert_num(cfg->modules[0].cp, 16777216, 9, 9);
    hg_config_free(cfg);
}
END_TEST

START_TEST(good_limits)
{
    hg_config *cfg = parse_ok(HEAD "    dp: 16777216\nbatch:\n  micro_batch_size: 2147483647\n"
                                   "agent:\n  init_timeout_s: 86400\n");
    ck_assert_int_eq(cfg->modules[0].dp.v, 16777216);
    ck_assert_int_eq(cfg->micro_batch_size.v, 2147483647);
    ck_assert_int_eq(cfg->init_timeout_s.v, 86400);
    hg_config_free(cfg);
}
END_TEST

/* Quoted strings are strings: names and enums may be quoted. Names: 63 characters
 * and the punctuation '_', '-', '.' are allowed. */
START_TEST(good_names_and_quoted_strings)
{
    hg_config *cfg = parse_ok(
        "version: 1\nmodules:\n"
        "  - name: \"a23456789012345678901234567890123456789012345678901234567890123\"\n"
        "    role: 'encoder'\n    dp: 1\n"
        "  - name: Vision_v2.1-b\n    role: \"language\"\n    dp: 1\n"
        "agent:\n  backend: \"mpi\"\n");
    ck_assert_uint_eq(strlen(cfg->modules[0].name), 63);
    ck_assert_int_eq(cfg->modules[0].role, HG_ROLE_ENCODER);
    ck_assert_str_eq(cfg->modules[1].name, "Vision_v2.1-b");
    ck_assert_int_eq(cfg->modules[1].role, HG_ROLE_LANGUAGE);
    ck_assert_int_eq(cfg->backend, HG_BACKEND_MPI);
    hg_config_free(cfg);
}
END_TEST

/* Anchors and aliases that stay within the schema are plain YAML and fine. */
START_TEST(good_aliases)
{
    hg_config *cfg = parse_ok("version: 1\nmodules:\n"
                              "  - &enc {name: a, role: encoder, dp: 2}\n"
                              "  - {name: lm, role: language, dp: &two 2, tp: *two}\n");
    ck_assert_uint_eq(cfg->nmodules, 2);
    ck_assert_str_eq(cfg->modules[0].name, "a");
    ck_assert_int_eq(cfg->modules[1].tp.v, 2);
    /* An alias is its anchored node: tp points where dp's value (and anchor) is. */
    ck_assert_mark(cfg->modules[1].tp.at, 4, 36);
    hg_config_free(cfg);
}
END_TEST

START_TEST(good_utf8_bom_is_skipped)
{
    hg_config *cfg = parse_ok("\xEF\xBB\xBFversion: 1\nmodules:\n  - name: lm\n    role: language\n"
                              "    dp: 1\n");
    ck_assert_num(cfg->version, 1, 1, 10);
    ck_assert_num(cfg->modules[0].dp, 1, 5, 9);
    hg_config_free(cfg);
}
END_TEST

START_TEST(good_crlf_and_comments)
{
    hg_config *cfg = parse_ok("# a grid\r\nversion: 1  # always 1\r\nmodules:\r\n"
                              "  - name: lm   # the model\r\n    role: language\r\n    dp: 3\r\n");
    ck_assert_num(cfg->version, 1, 2, 10);
    ck_assert_num(cfg->modules[0].dp, 3, 6, 9);
    hg_config_free(cfg);
}
END_TEST

/* The byte limit is inclusive: exactly HG_CONFIG_MAX_BYTES bytes is accepted. */
START_TEST(good_exactly_max_bytes)
{
    const char *text = "version: 1\nmodules: []\n#";
    size_t len = HG_CONFIG_MAX_BYTES;
    char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    memset(buf, 'x', len);
    memcpy(buf, text, strlen(text));
    buf[len - 1] = '\n';
    hg_config *cfg = NULL;
    hg_diags *d;
    ck_assert_int_eq(parse_bytes(buf, len, &cfg, &d), 0);
    ck_assert_uint_eq(cfg->nmodules, 0);
    hg_config_free(cfg);
    hg_diags_free(d);
    free(buf);
}
END_TEST

/* ---- unknown keys ---- */

START_TEST(err_unknown_key_suggests)
{
    EXPECT(HEAD "    dp: 1\n    tpp: 2\n",
           "t.yaml:6:5: error: unknown key 'tpp' in module 1 (did you mean 'tp'?)");
    EXPECT("version: 1\nmodle: []\n",
           "t.yaml:2:1: error: unknown key 'modle' in the grid description (did you mean 'modules'?)",
           "t.yaml:1:1: error: missing required key 'modules'");
    EXPECT(HEAD "    dp: 1\n    moe:\n      experts: 8\n",
           "t.yaml:7:7: error: unknown key 'experts' in moe");
    EXPECT(HEAD "    dp: 1\n    moe:\n      num_expert: 8\n      expert-tp: 1\n",
           "t.yaml:7:7: error: unknown key 'num_expert' in moe (did you mean 'num_experts'?)",
           "t.yaml:8:7: error: unknown key 'expert-tp' in moe (did you mean 'expert_tp'?)");
    EXPECT("version: 1\nmodules: []\nbatch:\n  micro_batchsize: 1\n",
           "t.yaml:4:3: error: unknown key 'micro_batchsize' in batch (did you mean "
           "'micro_batch_size'?)");
    EXPECT("version: 1\nmodules: []\nagent:\n  timeout: 5\n  Backend: mpi\n",
           "t.yaml:4:3: error: unknown key 'timeout' in agent",
           "t.yaml:5:3: error: unknown key 'Backend' in agent (did you mean 'backend'?)");
}
END_TEST

/* No suggestion when nothing is close, or when the key is as short as the distance. */
START_TEST(err_unknown_key_without_suggestion)
{
    EXPECT(HEAD "    dp: 1\n    xyz: 2\n    p: 2\n",
           "t.yaml:6:5: error: unknown key 'xyz' in module 1",
           "t.yaml:7:5: error: unknown key 'p' in module 1");
    EXPECT("version: 1\nmodules: []\nworld: 8\n",
           "t.yaml:3:1: error: unknown key 'world' in the grid description");
}
END_TEST

/* A long key is cut at 64 characters in the message. */
START_TEST(err_unknown_key_long)
{
    char text[512];
    char key[201];
    memset(key, 'k', 200);
    key[200] = '\0';
    snprintf(text, sizeof(text), "version: 1\nmodules: []\n%s: 1\n", key);
    char want[256];
    snprintf(want, sizeof(want), "t.yaml:3:1: error: unknown key '%.64s' in the grid description",
             key);
    EXPECT(text, want);
}
END_TEST

START_TEST(err_non_string_keys)
{
    EXPECT("version: 1\nmodules: []\n? [a, b]\n: 1\n",
           "t.yaml:3:3: error: keys in the grid description must be plain strings, got a list");
    EXPECT("version: 1\nmodules: []\n\"\": 1\n",
           "t.yaml:3:1: error: keys in the grid description must be plain strings, got nothing");
    EXPECT(HEAD "    dp: 1\n    {a: 1}: 2\n",
           "t.yaml:6:5: error: keys in module 1 must be plain strings, got a mapping");
    EXPECT("version: 1\nmodules: []\n\"a\\0b\": 1\n",
           "t.yaml:3:1: error: keys in the grid description must be plain strings, got a scalar");
}
END_TEST

/* ---- duplicate keys ---- */

START_TEST(err_duplicate_keys)
{
    EXPECT("version: 1\nversion: 1\nmodules: []\n",
           "t.yaml:2:1: error: duplicate key 'version' in the grid description (first given at 1:1)");
    EXPECT(HEAD "    dp: 1\n    tp: 2\n    tp: 4\n",
           "t.yaml:7:5: error: duplicate key 'tp' in module 1 (first given at 6:5)");
    EXPECT(HEAD "    dp: 1\n    moe: {ep: 2, ep: 2}\n",
           "t.yaml:6:18: error: duplicate key 'ep' in moe (first given at 6:11)");
    EXPECT("version: 1\nmodules: []\nagent: {verify: true, backend: mpi, verify: false}\n",
           "t.yaml:3:37: error: duplicate key 'verify' in agent (first given at 3:9)");
    EXPECT("version: 1\nmodules: []\nbatch: {micro_batch_size: 1}\nbatch: {micro_batch_size: 2}\n",
           "t.yaml:4:1: error: duplicate key 'batch' in the grid description (first given at 3:1)");
}
END_TEST

/* A duplicate whose first value was bad is still a duplicate, and reported as one. */
START_TEST(err_duplicate_after_bad_value)
{
    EXPECT(HEAD "    dp: x\n    dp: 2\n",
           "t.yaml:5:9: error: dp: expected an integer, got 'x'",
           "t.yaml:6:5: error: duplicate key 'dp' in module 1 (first given at 5:5)");
}
END_TEST

/* ---- integers ---- */

START_TEST(err_int_wrong_types)
{
    EXPECT(HEAD "    dp: [1]\n", "t.yaml:5:9: error: dp: expected an integer, got a list");
    EXPECT(HEAD "    dp: {a: 1}\n", "t.yaml:5:9: error: dp: expected an integer, got a mapping");
    EXPECT(HEAD "    dp:\n    tp: 1\n", "t.yaml:5:8: error: dp: expected an integer, got nothing");
    EXPECT(HEAD "    dp: abc\n", "t.yaml:5:9: error: dp: expected an integer, got 'abc'");
    EXPECT(HEAD "    dp: ~\n", "t.yaml:5:9: error: dp: expected an integer, got '~'");
    EXPECT(HEAD "    dp: true\n", "t.yaml:5:9: error: dp: expected an integer, got 'true'");
    EXPECT(HEAD "    dp: +\n", "t.yaml:5:9: error: dp: expected an integer, got '+'");
    EXPECT(HEAD "    dp: 1 2\n", "t.yaml:5:9: error: dp: expected an integer, got '1 2'");
    EXPECT("version: [1]\nmodules: []\n",
           "t.yaml:1:10: error: version: expected an integer, got a list");
}
END_TEST

/* 010 is 8 to YAML 1.1 readers and 10 to YAML 1.2 ones: refused, not guessed. */
START_TEST(err_int_leading_zero)
{
    EXPECT(HEAD "    dp: 010\n",
           "t.yaml:5:9: error: dp: '010' has a leading zero, which YAML readers disagree on "
           "(octal or decimal); write it without");
    EXPECT(HEAD "    dp: 2\n    pp: +0002\n",
           "t.yaml:6:9: error: pp: '+0002' has a leading zero, which YAML readers disagree on "
           "(octal or decimal); write it without");
}
END_TEST

START_TEST(err_int_quoted)
{
    EXPECT(HEAD "    dp: \"8\"\n",
           "t.yaml:5:9: error: dp: expected an integer, got the quoted string \"8\"");
    EXPECT(HEAD "    dp: '8'\n",
           "t.yaml:5:9: error: dp: expected an integer, got the quoted string \"8\"");
    EXPECT(HEAD "    dp: |\n      8\n",
           "t.yaml:5:9: error: dp: expected an integer, got the quoted string \"8\n\"");
    EXPECT("version: \"1\"\nmodules: []\n",
           "t.yaml:1:10: error: version: expected an integer, got the quoted string \"1\"");
}
END_TEST

START_TEST(err_int_floats_and_other_bases)
{
    EXPECT(HEAD "    tp: 2.5\n    dp: 0x10\n    cp: 1e3\n    pp: 2.0\n    size: 0o17\n"
                "    offset: .inf\n",
           "t.yaml:5:9: error: tp: expected an integer, got '2.5'",
           "t.yaml:6:9: error: dp: expected an integer, got '0x10'",
           "t.yaml:7:9: error: cp: expected an integer, got '1e3'",
           "t.yaml:8:9: error: pp: expected an integer, got '2.0'",
           "t.yaml:9:11: error: size: expected an integer, got '0o17'",
           "t.yaml:10:13: error: offset: expected an integer, got '.inf'");
    EXPECT("version: 1.0\nmodules: []\n",
           "t.yaml:1:10: error: version: expected an integer, got '1.0'");
    EXPECT(HEAD "    dp: 1_000\n", "t.yaml:5:9: error: dp: expected an integer, got '1_000'");
}
END_TEST

START_TEST(err_int_zero_and_negative)
{
    EXPECT(HEAD "    tp: 0\n    dp: -2\n    offset: -1\n    pp: -0\n",
           "t.yaml:5:9: error: tp must be a positive integer, got 0",
           "t.yaml:6:9: error: dp must be a positive integer, got -2",
           "t.yaml:7:13: error: offset must be at least 0, got -1",
           "t.yaml:8:9: error: pp must be a positive integer, got 0");
    EXPECT(HEAD "    dp: 1\n    moe: {num_experts: 0, ep: -4, expert_tp: 0}\n",
           "t.yaml:6:24: error: moe.num_experts must be a positive integer, got 0",
           "t.yaml:6:31: error: moe.ep must be a positive integer, got -4",
           "t.yaml:6:46: error: moe.expert_tp must be a positive integer, got 0");
    EXPECT("version: 0\nworld_size: 0\nmodules: []\nbatch:\n  micro_batch_size: 0\n"
           "  global_batch_size: -8\nagent:\n  init_timeout_s: 0\n",
           "t.yaml:1:10: error: version must be a positive integer, got 0",
           "t.yaml:2:13: error: world_size must be a positive integer, got 0",
           "t.yaml:5:21: error: batch.micro_batch_size must be a positive integer, got 0",
           "t.yaml:6:22: error: batch.global_batch_size must be a positive integer, got -8",
           "t.yaml:8:19: error: agent.init_timeout_s must be a positive integer, got 0");
}
END_TEST

START_TEST(err_int_overflow)
{
    EXPECT(HEAD "    dp: 9223372036854775808\n",
           "t.yaml:5:9: error: dp: 9223372036854775808 overflows a 64-bit integer");
    EXPECT(HEAD "    dp: -9223372036854775809\n",
           "t.yaml:5:9: error: dp: -9223372036854775809 overflows a 64-bit integer");
    /* The number is cut at 32 characters in the message. */
    EXPECT("version: 1\nworld_size: 99999999999999999999999999999999999999999999\nmodules: []\n",
           "t.yaml:2:13: error: world_size: 99999999999999999999999999999999 overflows a 64-bit "
           "integer");
}
END_TEST

/* Numbers that fit in 64 bits but are beyond what hgrid plans for. */
START_TEST(err_int_too_large)
{
    EXPECT(HEAD "    dp: 9223372036854775807\n",
           "t.yaml:5:9: error: dp: 9223372036854775807 is too large (at most 16777216)");
    EXPECT(HEAD "    tp: 16777217\n    dp: 1\n    moe: {ep: 16777217}\n",
           "t.yaml:5:9: error: tp: 16777217 is too large (at most 16777216)",
           "t.yaml:7:15: error: moe.ep: 16777217 is too large (at most 16777216)");
    EXPECT("version: 1\nworld_size: 16777217\nmodules: []\nbatch:\n  micro_batch_size: 2147483648\n"
           "agent:\n  init_timeout_s: 86401\n",
           "t.yaml:2:13: error: world_size: 16777217 is too large (at most 16777216)",
           "t.yaml:5:21: error: batch.micro_batch_size: 2147483648 is too large (at most 2147483647)",
           "t.yaml:7:19: error: agent.init_timeout_s: 86401 is too large (at most 86400)");
    EXPECT("version: 2147483648\nmodules: []\n",
           "t.yaml:1:10: error: version: 2147483648 is too large (at most 2147483647)");
}
END_TEST

/* ---- strings and enums ---- */

START_TEST(err_missing_name_and_role)
{
    EXPECT("version: 1\nmodules:\n  - dp: 1\n  - name: lm\n    dp: 1\n  - role: encoder\n    dp: 1\n",
           "t.yaml:3:5: error: module 1: missing required key 'name'",
           "t.yaml:3:5: error: module 1: missing required key 'role'",
           "t.yaml:4:5: error: module 2: missing required key 'role'",
           "t.yaml:6:5: error: module 3: missing required key 'name'");
}
END_TEST

/* A key given with a bad value is reported once, not also as missing. */
START_TEST(err_bad_value_not_also_missing)
{
    EXPECT("version: 1\nmodules:\n  - name: [a]\n    role: foo\n    dp: 1\n",
           "t.yaml:3:11: error: name: expected a string, got a list",
           "t.yaml:4:11: error: role: unknown role 'foo' (expected encoder or language)");
    EXPECT("version: x\nmodules: 3\n",
           "t.yaml:1:10: error: version: expected an integer, got 'x'",
           "t.yaml:2:10: error: modules: expected a list of modules, got a scalar");
}
END_TEST

START_TEST(err_bad_role_and_backend)
{
    EXPECT(HEAD "    dp: 1\n  - name: e\n    role: Encoder\n    dp: 1\n",
           "t.yaml:7:11: error: role: unknown role 'Encoder' (expected encoder or language)");
    EXPECT(HEAD "    dp: 1\n  - name: e\n    role:\n    dp: 1\n",
           "t.yaml:7:10: error: role: expected a string, got nothing");
    EXPECT("version: 1\nmodules: []\nagent:\n  backend: gloo\n",
           "t.yaml:4:12: error: agent.backend: unknown backend 'gloo' (expected nccl or mpi)");
    EXPECT("version: 1\nmodules: []\nagent:\n  backend: [nccl]\n",
           "t.yaml:4:12: error: agent.backend: expected a string, got a list");
    EXPECT("version: 1\nmodules: []\nagent:\n  backend: \"nc\\0cl\"\n",
           "t.yaml:4:12: error: agent.backend: string holds a NUL character");
}
END_TEST

START_TEST(err_bad_bool)
{
    EXPECT("version: 1\nmodules: []\nagent:\n  verify: yes\n",
           "t.yaml:4:11: error: agent.verify: expected true or false, got 'yes'");
    EXPECT("version: 1\nmodules: []\nagent:\n  verify: 1\n",
           "t.yaml:4:11: error: agent.verify: expected true or false, got '1'");
    EXPECT("version: 1\nmodules: []\nagent:\n  verify: \"true\"\n",
           "t.yaml:4:11: error: agent.verify: expected true or false, got 'true'");
    EXPECT("version: 1\nmodules: []\nagent:\n  verify: {a: 1}\n",
           "t.yaml:4:11: error: agent.verify: expected true or false, got a mapping");
}
END_TEST

START_TEST(err_name_rules)
{
    EXPECT(HEAD "    dp: 1\n  - name: 1st\n    role: encoder\n    dp: 1\n",
           "t.yaml:6:11: error: name: '1st' must start with a letter and hold only letters, "
           "digits, '_', '-' and '.'");
    EXPECT(HEAD "    dp: 1\n  - name: \"my encoder\"\n    role: encoder\n    dp: 1\n",
           "t.yaml:6:11: error: name: 'my encoder' must start with a letter and hold only "
           "letters, digits, '_', '-' and '.'");
    EXPECT(HEAD "    dp: 1\n  - name: \"vis\xC3\xA9\"\n    role: encoder\n    dp: 1\n",
           "t.yaml:6:11: error: name: 'vis\xC3\xA9' must start with a letter and hold only "
           "letters, digits, '_', '-' and '.'");
    EXPECT(HEAD "    dp: 1\n  - name: _x\n    role: encoder\n    dp: 1\n",
           "t.yaml:6:11: error: name: '_x' must start with a letter and hold only letters, "
           "digits, '_', '-' and '.'");
    EXPECT(HEAD "    dp: 1\n  - name: \"a\\0b\"\n    role: encoder\n    dp: 1\n",
           "t.yaml:6:11: error: name: string holds a NUL character");
    EXPECT(HEAD "    dp: 1\n  - name: ''\n    role: encoder\n    dp: 1\n",
           "t.yaml:6:11: error: name: expected a string, got nothing");
}
END_TEST

START_TEST(err_name_too_long)
{
    EXPECT(HEAD "    dp: 1\n"
                "  - name: a234567890123456789012345678901234567890123456789012345678901234\n"
                "    role: encoder\n    dp: 1\n",
           "t.yaml:6:11: error: name: 'a2345678901234567890123456789012...' is longer than 63 "
           "characters");
}
END_TEST

/* ---- structure ---- */

START_TEST(err_version)
{
    EXPECT("version: 2\nmodules: []\n",
           "t.yaml:1:10: error: version: unsupported version 2 (this hgrid reads version 1)");
    EXPECT("modules: []\n", "t.yaml:1:1: error: missing required key 'version' (add 'version: 1')");
}
END_TEST

START_TEST(err_missing_modules)
{
    EXPECT("# grid\nversion: 1\nworld_size: 8\n",
           "t.yaml:2:1: error: missing required key 'modules'");
    EXPECT("world_size: 8\n",
           "t.yaml:1:1: error: missing required key 'version' (add 'version: 1')",
           "t.yaml:1:1: error: missing required key 'modules'");
}
END_TEST

START_TEST(err_not_a_mapping)
{
    EXPECT("hello\n", "t.yaml:1:1: error: the grid description: expected a mapping, got a scalar");
    EXPECT("- version: 1\n", "t.yaml:1:1: error: the grid description: expected a mapping, got a list");
    EXPECT("---\n", "t.yaml:2:1: error: the grid description: expected a mapping, got nothing");
    EXPECT("~\n", "t.yaml:1:1: error: the grid description: expected a mapping, got a scalar");
    EXPECT("version: 1\nmodules: {name: lm}\n",
           "t.yaml:2:10: error: modules: expected a list of modules, got a mapping");
    EXPECT("version: 1\nmodules:\n",
           "t.yaml:2:9: error: modules: expected a list of modules, got nothing");
    EXPECT("version: 1\nmodules:\n  - lm\n  - [a]\n",
           "t.yaml:3:5: error: module 1: expected a mapping, got a scalar",
           "t.yaml:4:5: error: module 2: expected a mapping, got a list");
    EXPECT(HEAD "    dp: 1\n    moe: 4\n", "t.yaml:6:10: error: moe: expected a mapping, got a scalar");
    EXPECT("version: 1\nmodules: []\nbatch: [1]\nagent: nccl\n",
           "t.yaml:3:8: error: batch: expected a mapping, got a list",
           "t.yaml:4:8: error: agent: expected a mapping, got a scalar");
}
END_TEST

START_TEST(err_empty_and_no_document)
{
    EXPECT_N("", 0, "t.yaml:1:1: error: the file is empty");
    EXPECT("# only\n# comments\n", "t.yaml:1:1: error: the file holds no YAML document");
    EXPECT("\n\n   \n", "t.yaml:1:1: error: the file holds no YAML document");
}
END_TEST

START_TEST(err_multiple_documents)
{
    EXPECT("version: 1\nmodules: []\n---\nversion: 1\nmodules: []\n",
           "t.yaml:3:1: error: more than one YAML document; a grid description is one document");
    EXPECT("---\nversion: 1\n...\n---\n",
           "t.yaml:4:1: error: more than one YAML document; a grid description is one document");
    /* The second document is parsed (to be refused); its syntax error is what shows. */
    EXPECT("version: 1\n---\n[\n",
           "t.yaml:4:1: error: did not find expected node content while parsing a flow node "
           "(started at 4:1)");
}
END_TEST

START_TEST(err_yaml_syntax)
{
    EXPECT("version: 1\nmodules:\n\t- name: x\n",
           "t.yaml:3:1: error: found character that cannot start any token while scanning for "
           "the next token (started at 3:1)");
    EXPECT("version: \"1\nmodules: []\n",
           "t.yaml:3:1: error: found unexpected end of stream while scanning a quoted scalar "
           "(started at 1:10)");
    EXPECT("version: 1\nmodules: [1, 2\n",
           "t.yaml:3:1: error: did not find expected ',' or ']' while parsing a flow sequence "
           "(started at 2:10)");
    EXPECT("version: 1\nmodules: {a: 1\n",
           "t.yaml:3:1: error: did not find expected ',' or '}' while parsing a flow mapping "
           "(started at 2:10)");
    EXPECT("version: 1\n  modules: []\n",
           "t.yaml:2:10: error: mapping values are not allowed in this context");
    EXPECT("version: 1\nmodules: *nope\n", "t.yaml:2:10: error: found undefined alias");
}
END_TEST

/* ---- encoding ---- */

START_TEST(err_not_utf8)
{
    EXPECT("version: 1\nmodules: []\nx: \xff\n",
           "t.yaml:3:4: error: the file is not valid UTF-8 (byte 0xff at offset 26)");
    EXPECT_N("\xff\xfev\0e\0r\0", 8,
             "t.yaml:1:1: error: the file is not valid UTF-8 (byte 0xff at offset 0)");
    EXPECT_N("\xfe\xff\0v\0e\0r", 8,
             "t.yaml:1:1: error: the file is not valid UTF-8 (byte 0xfe at offset 0)");
    EXPECT("version: 1\n\xc3", "t.yaml:2:1: error: the file is not valid UTF-8 (byte 0xc3 at offset 11)");
    EXPECT("\xc0\x80", "t.yaml:1:1: error: the file is not valid UTF-8 (byte 0xc0 at offset 0)");
    EXPECT("# \xed\xa0\x80\n", "t.yaml:1:3: error: the file is not valid UTF-8 (byte 0xed at offset 2)");
    EXPECT("# \xf4\x90\x80\x80\n",
           "t.yaml:1:3: error: the file is not valid UTF-8 (byte 0xf4 at offset 2)");
    EXPECT("# \xe2\x82x\n", "t.yaml:1:3: error: the file is not valid UTF-8 (byte 0xe2 at offset 2)");
    /* Columns count characters: the two-byte e-acute is one column. */
    EXPECT("# \xc3\xa9 \x80\n", "t.yaml:1:5: error: the file is not valid UTF-8 (byte 0x80 at offset 5)");
}
END_TEST

START_TEST(err_control_characters)
{
    static const char nul[] = "version: 1\0\nmodules: []\n";
    EXPECT_N(nul, sizeof(nul) - 1, "t.yaml:1:11: error: control characters are not allowed (U+0000)");
    EXPECT("version: 1\nmodules: []\nx: \"a\x01\"\n",
           "t.yaml:3:6: error: control characters are not allowed (U+0001)");
    EXPECT("version: 1\nmodules: []\n# caf\xc3\xa9 \x1b[0m\n",
           "t.yaml:3:8: error: control characters are not allowed (U+001B)");
    EXPECT("version: 1\x7f\n", "t.yaml:1:11: error: control characters are not allowed (U+007F)");
}
END_TEST

/* ---- size limits ---- */

START_TEST(err_too_large_buffer)
{
    size_t len = HG_CONFIG_MAX_BYTES + 1;
    char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    memset(buf, '#', len);
    EXPECT_N(buf, len, "t.yaml:1:1: error: the file is 1048577 bytes, more than the 1048576 allowed");
    free(buf);
}
END_TEST

static char *module_list(size_t n)
{
    const char *head = "version: 1\nmodules: [&m {name: x, role: encoder, dp: 1}";
    size_t cap = strlen(head) + 4 * n + 8;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    char *p = s + strlen(head);
    strcpy(s, head);
    for (size_t i = 1; i < n; i++, p += 4)
        memcpy(p, ", *m", 4);
    strcpy(p, "]\n");
    return s;
}

START_TEST(too_many_modules_via_aliases)
{
    char *s = module_list(4097);
    EXPECT(s, "t.yaml:2:10: error: modules: 4097 modules is more than the 4096 hgrid supports");
    free(s);
    /* 4096 is the limit and parses (validate then rejects the duplicate names). */
    s = module_list(4096);
    hg_config *cfg = parse_ok(s);
    ck_assert_uint_eq(cfg->nmodules, 4096);
    ck_assert_str_eq(cfg->modules[4095].name, "x");
    hg_config_free(cfg);
    free(s);
}
END_TEST

/* "Billion laughs": nine levels of nine aliases. The walker never expands aliases
 * outside the schema, so this costs nothing and reports what is wrong. */
START_TEST(alias_bomb_is_cheap)
{
    static const char text[] =
        "version: 1\n"
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
        "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
        "modules: *i\n";
    EXPECT(text,
           "t.yaml:2:1: error: unknown key 'a' in the grid description",
           "t.yaml:3:1: error: unknown key 'b' in the grid description",
           "t.yaml:4:1: error: unknown key 'c' in the grid description",
           "t.yaml:5:1: error: unknown key 'd' in the grid description",
           "t.yaml:6:1: error: unknown key 'e' in the grid description",
           "t.yaml:7:1: error: unknown key 'f' in the grid description",
           "t.yaml:8:1: error: unknown key 'g' in the grid description",
           "t.yaml:9:1: error: unknown key 'h' in the grid description",
           "t.yaml:10:1: error: unknown key 'i' in the grid description",
           "t.yaml:9:4: error: module 1: expected a mapping, got a list",
           "t.yaml:9:4: error: module 2: expected a mapping, got a list",
           "t.yaml:9:4: error: module 3: expected a mapping, got a list",
           "t.yaml:9:4: error: module 4: expected a mapping, got a list",
           "t.yaml:9:4: error: module 5: expected a mapping, got a list",
           "t.yaml:9:4: error: module 6: expected a mapping, got a list",
           "t.yaml:9:4: error: module 7: expected a mapping, got a list",
           "t.yaml:9:4: error: module 8: expected a mapping, got a list",
           "t.yaml:9:4: error: module 9: expected a mapping, got a list");
}
END_TEST

/* A list that holds itself: the walker does not descend into module values it does
 * not know, so the cycle is harmless. */
START_TEST(recursive_alias)
{
    EXPECT("version: 1\nmodules: &a [*a]\n",
           "t.yaml:2:10: error: module 1: expected a mapping, got a list");
    EXPECT(HEAD "    dp: 1\n    moe: &m {ep: *m}\n",
           "t.yaml:6:10: error: moe.ep: expected an integer, got a mapping");
}
END_TEST

static char *nested(size_t depth)
{
    const char *head = "version: 1\nmodules: []\nx: ";
    size_t len = strlen(head) + 2 * depth + 1;
    char *s = malloc(len + 1);
    ck_assert_ptr_nonnull(s);
    strcpy(s, head);
    memset(s + strlen(head), '[', depth);
    memset(s + strlen(head) + depth, ']', depth);
    s[len - 1] = '\n';
    s[len] = '\0';
    return s;
}

/* libyaml's scanner is quadratic in flow depth (half a million '[' took minutes), so
 * the loader stops at 64 levels; the schema needs 3. */
START_TEST(deep_nesting)
{
    char *s = nested(64);
    EXPECT(s, "t.yaml:3:1: error: unknown key 'x' in the grid description");
    free(s);
    s = nested(65);
    EXPECT(s, "t.yaml:3:68: error: '[' and '{' are nested more than 64 levels deep");
    free(s);
    s = nested(500000);
    EXPECT(s, "t.yaml:3:68: error: '[' and '{' are nested more than 64 levels deep");
    free(s);
    EXPECT("x: [a, \"]]\", {b: [c, '}}']}, [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
           "t.yaml:1:93: error: '[' and '{' are nested more than 64 levels deep");
}
END_TEST

/* 100,000 distinct unknown keys in a 1 MiB file: stored diagnostics are capped and the
 * count keeps going. (Also a guard against quadratic duplicate-key checks: Check's
 * default 4 s timeout fails the test if it comes back.) */
START_TEST(many_keys_capped)
{
    size_t cap = HG_CONFIG_MAX_BYTES;
    char *s = malloc(cap + 1);
    ck_assert_ptr_nonnull(s);
    size_t n = (size_t)snprintf(s, cap, "version: 1\nmodules: []\n");
    int keys = 0;
    while (n + 16 < cap)
        n += (size_t)snprintf(s + n, cap - n, "k%d: 1\n", keys++);
    hg_config *cfg = NULL;
    hg_diags *d;
    ck_assert_int_eq(parse_bytes(s, n, &cfg, &d), HG_ECONFIG);
    ck_assert_uint_eq(hg_diags_errors(d), (size_t)keys);
    ck_assert_uint_eq(hg_diags_size(d), HG_DIAGS_MAX + 1);
    ck_assert_str_eq(hg_diags_text(d, 0), "t.yaml:3:1: error: unknown key 'k0' in the grid description");
    ck_assert_str_eq(hg_diags_text(d, HG_DIAGS_MAX),
                     "t.yaml: error: too many diagnostics; the rest are not shown");
    hg_diags_free(d);
    free(s);
}
END_TEST

/* ---- every error is reported ---- */

START_TEST(all_errors_reported)
{
    EXPECT("version: 3\n"                  /* 1 */
           "world_size: -1\n"              /* 2 */
           "modules:\n"                    /* 3 */
           "  - name: 9lives\n"            /* 4 */
           "    role: decoder\n"           /* 5 */
           "    tp: two\n"                 /* 6 */
           "    dp: 1\n"                   /* 7 */
           "    dp: 2\n"                   /* 8 */
           "    moe:\n"                    /* 9 */
           "      ep: 0\n"                 /* 10 */
           "      tp: 1\n"                 /* 11 */
           "  - role: language\n"          /* 12 */
           "    size: 1.5\n"               /* 13 */
           "batch:\n"                      /* 14 */
           "  micro_batch_size: \"2\"\n"   /* 15 */
           "agent:\n"                      /* 16 */
           "  backend: tcp\n"              /* 17 */
           "  verify: maybe\n"             /* 18 */
           "  init_timeout: 5\n",          /* 19 */
           "t.yaml:1:10: error: version: unsupported version 3 (this hgrid reads version 1)",
           "t.yaml:2:13: error: world_size must be a positive integer, got -1",
           "t.yaml:4:11: error: name: '9lives' must start with a letter and hold only letters, "
           "digits, '_', '-' and '.'",
           "t.yaml:5:11: error: role: unknown role 'decoder' (expected encoder or language)",
           "t.yaml:6:9: error: tp: expected an integer, got 'two'",
           "t.yaml:8:5: error: duplicate key 'dp' in module 1 (first given at 7:5)",
           "t.yaml:10:11: error: moe.ep must be a positive integer, got 0",
           "t.yaml:11:7: error: unknown key 'tp' in moe (did you mean 'ep'?)",
           "t.yaml:13:11: error: size: expected an integer, got '1.5'",
           "t.yaml:12:5: error: module 2: missing required key 'name'",
           "t.yaml:15:21: error: batch.micro_batch_size: expected an integer, got the quoted "
           "string \"2\"",
           "t.yaml:17:12: error: agent.backend: unknown backend 'tcp' (expected nccl or mpi)",
           "t.yaml:18:11: error: agent.verify: expected true or false, got 'maybe'",
           "t.yaml:19:3: error: unknown key 'init_timeout' in agent (did you mean "
           "'init_timeout_s'?)");
}
END_TEST

/* Diagnostics already in the list (an earlier file, say) do not make a good parse fail. */
START_TEST(earlier_diagnostics_do_not_fail_a_good_parse)
{
    hg_diags *d = hg_diags_new("t.yaml");
    hg_diags_add(d, HG_DIAG_ERROR, 1, 1, "earlier");
    hg_config *cfg = NULL;
    const char *text = "version: 1\nmodules: []\n";
    ck_assert_int_eq(hg_config_parse(text, strlen(text), &cfg, d), 0);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(hg_diags_errors(d), 1);
    hg_config_free(cfg);
    hg_diags_free(d);
}
END_TEST

/* ---- hg_config_read_file ---- */

static char *write_temp(const char *bytes, size_t len)
{
    char *path = strdup("/tmp/hgrid-test-XXXXXX");
    ck_assert_ptr_nonnull(path);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, bytes + off, len - off);
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
    close(fd);
    return path;
}

START_TEST(read_file_good)
{
    hg_diags *d = hg_diags_new("f");
    char *bytes;
    size_t len;
    ck_assert_int_eq(hg_config_read_file(SRCDIR "/tests/golden/vlm8_moe.yaml", &bytes, &len, d), 0);
    ck_assert_uint_eq(hg_diags_size(d), 0);
    ck_assert_uint_eq(len, strlen(bytes));
    ck_assert_ptr_nonnull(strstr(bytes, "name: radio_encoder"));
    hg_config *cfg = NULL;
    ck_assert_int_eq(hg_config_parse(bytes, len, &cfg, d), 0);
    ck_assert_uint_eq(cfg->nmodules, 2);
    hg_config_free(cfg);
    free(bytes);
    hg_diags_free(d);
}
END_TEST

START_TEST(read_file_exactly_max)
{
    size_t len = HG_CONFIG_MAX_BYTES;
    char *buf = malloc(len);
    memset(buf, '\n', len);
    char *path = write_temp(buf, len);
    hg_diags *d = hg_diags_new(path);
    char *bytes;
    size_t got;
    ck_assert_int_eq(hg_config_read_file(path, &bytes, &got, d), 0);
    ck_assert_uint_eq(got, len);
    ck_assert_int_eq(bytes[len], '\0');
    free(bytes);
    hg_diags_free(d);
    unlink(path);
    free(path);
    free(buf);
}
END_TEST

START_TEST(read_file_too_large)
{
    size_t len = HG_CONFIG_MAX_BYTES + 100 * 1024;
    char *buf = malloc(len);
    memset(buf, '#', len);
    char *path = write_temp(buf, len);
    hg_diags *d = hg_diags_new("big.yaml");
    char *bytes = (char *)0x1;
    size_t got = 7;
    ck_assert_int_eq(hg_config_read_file(path, &bytes, &got, d), HG_ECONFIG);
    ck_assert_ptr_null(bytes);
    ck_assert_uint_eq(got, 0);
    ck_assert_uint_eq(hg_diags_size(d), 1);
    ck_assert_str_eq(hg_diags_text(d, 0), "big.yaml:1:1: error: the file is larger than 1048576 bytes");
    hg_diags_free(d);
    unlink(path);
    free(path);
    free(buf);
}
END_TEST

START_TEST(read_file_directory)
{
    hg_diags *d = hg_diags_new("tests");
    char *bytes;
    size_t len;
    ck_assert_int_eq(hg_config_read_file(SRCDIR "/tests", &bytes, &len, d), HG_EIO);
    ck_assert_ptr_null(bytes);
    ck_assert_uint_eq(hg_diags_size(d), 1);
    ck_assert_str_eq(hg_diags_text(d, 0), "tests: error: is a directory, not a config file");
    hg_diags_free(d);
}
END_TEST

START_TEST(read_file_missing)
{
    hg_diags *d = hg_diags_new("nope.yaml");
    char *bytes;
    size_t len;
    ck_assert_int_eq(hg_config_read_file(SRCDIR "/tests/no-such-file.yaml", &bytes, &len, d),
                     HG_EIO);
    ck_assert_ptr_null(bytes);
    ck_assert_uint_eq(hg_diags_size(d), 1);
    ck_assert_str_eq(hg_diags_text(d, 0), "nope.yaml: error: cannot open: No such file or directory");
    hg_diags_free(d);
}
END_TEST

/* An empty file reads fine (0 bytes); the parse then says it is empty. */
START_TEST(read_file_empty)
{
    char *path = write_temp("", 0);
    hg_diags *d = hg_diags_new("e.yaml");
    char *bytes;
    size_t len = 9;
    ck_assert_int_eq(hg_config_read_file(path, &bytes, &len, d), 0);
    ck_assert_uint_eq(len, 0);
    hg_config *cfg = NULL;
    ck_assert_int_eq(hg_config_parse(bytes, len, &cfg, d), HG_ECONFIG);
    ck_assert_str_eq(hg_diags_text(d, 0), "e.yaml:1:1: error: the file is empty");
    free(bytes);
    hg_diags_free(d);
    unlink(path);
    free(path);
}
END_TEST

/* ---- standard input ("-") ---- */

START_TEST(config_name_of_stdin)
{
    ck_assert_str_eq(hg_config_name("-"), "<stdin>");
    ck_assert_str_eq(hg_config_name("a.yaml"), "a.yaml");
    ck_assert_str_eq(hg_config_name("/dev/stdin"), "/dev/stdin");
    ck_assert_str_eq(hg_config_name("-x"), "-x");
}
END_TEST

/* Runs hg_config_read_file("-") with fd as standard input, then puts stdin back. */
static int read_stdin_from(int fd, char **bytes, size_t *len, hg_diags *d)
{
    int saved = dup(0);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fd, 0), 0);
    close(fd);
    int rc = hg_config_read_file("-", bytes, len, d);
    ck_assert_int_eq(dup2(saved, 0), 0);
    close(saved);
    clearerr(stdin);
    return rc;
}

/* A child writes n bytes of c into a pipe (more than a pipe holds); returns its read end. */
static int pipe_of(size_t n, char c, pid_t *child)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    *child = fork();
    ck_assert_int_ge(*child, 0);
    if (*child == 0) {
        char buf[4096];
        memset(buf, c, sizeof(buf));
        close(p[0]);
        while (n > 0) {
            ssize_t w = write(p[1], buf, n < sizeof(buf) ? n : sizeof(buf));
            if (w <= 0)
                _exit(1);
            n -= (size_t)w;
        }
        _exit(0);
    }
    close(p[1]);
    return p[0];
}

START_TEST(read_stdin_file)
{
    FILE *f = fopen(SRCDIR "/tests/golden/vlm8_moe.yaml", "rb");
    ck_assert_ptr_nonnull(f);
    hg_diags *d = hg_diags_new(hg_config_name("-"));
    char *bytes;
    size_t len;
    ck_assert_int_eq(read_stdin_from(dup(fileno(f)), &bytes, &len, d), 0);
    fclose(f);
    ck_assert_uint_eq(hg_diags_size(d), 0);
    ck_assert_ptr_nonnull(strstr(bytes, "name: radio_encoder"));
    ck_assert_uint_eq(len, strlen(bytes));
    free(bytes);
    hg_diags_free(d);
}
END_TEST

/* A pipe's size is known only at its end: exactly the limit passes, one byte more not. */
START_TEST(read_stdin_pipe_limits)
{
    pid_t child;
    hg_diags *d = hg_diags_new("<stdin>");
    char *bytes;
    size_t len;
    ck_assert_int_eq(read_stdin_from(pipe_of(HG_CONFIG_MAX_BYTES, '\n', &child), &bytes, &len, d), 0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    ck_assert_uint_eq(len, HG_CONFIG_MAX_BYTES);
    ck_assert_int_eq(bytes[len], '\0');
    free(bytes);

    int fd = pipe_of(HG_CONFIG_MAX_BYTES + 1, '#', &child);
    ck_assert_int_eq(read_stdin_from(fd, &bytes, &len, d), HG_ECONFIG);
    /* The reader stopped at the limit: the child may be blocked on, or failed at, the
     * rest. */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ck_assert_ptr_null(bytes);
    ck_assert_uint_eq(hg_diags_size(d), 1);
    ck_assert_str_eq(hg_diags_text(d, 0), "<stdin>:1:1: error: the file is larger than 1048576 bytes");
    hg_diags_free(d);
}
END_TEST

START_TEST(read_stdin_closed)
{
    int saved = dup(0);
    ck_assert_int_ge(saved, 0);
    close(0);
    hg_diags *d = hg_diags_new("<stdin>");
    char *bytes;
    size_t len;
    int rc = hg_config_read_file("-", &bytes, &len, d);
    ck_assert_int_eq(dup2(saved, 0), 0);
    close(saved);
    clearerr(stdin);
    ck_assert_int_eq(rc, HG_EIO);
    ck_assert_ptr_null(bytes);
    ck_assert_str_eq(hg_diags_text(d, 0), "<stdin>: error: cannot read: Bad file descriptor");
    hg_diags_free(d);
}
END_TEST

/* ---- feeds and layout ---- */

START_TEST(good_feeds_and_layout)
{
    hg_config *cfg = parse_ok("version: 1\n"                              /* 1 */
                              "layout: colocated\n"                       /* 2 */
                              "modules:\n"                                /* 3 */
                              "  - name: vision\n"                        /* 4 */
                              "    role: encoder\n"                       /* 5 */
                              "    feeds: [language, 'audio']\n"          /* 6 */
                              "  - name: audio\n"                         /* 7 */
                              "    role: encoder\n"                       /* 8 */
                              "    feeds: []\n"                           /* 9 */
                              "  - name: language\n"                      /* 10 */
                              "    role: language\n"                      /* 11 */
                              "    feeds:\n      - vision\n");            /* 12, 13 */
    ck_assert_int_eq(cfg->layout, HG_LAYOUT_COLOCATED);
    ck_assert_mark(cfg->layout_at, 2, 9);
    const hg_module_spec *v = &cfg->modules[0], *a = &cfg->modules[1], *l = &cfg->modules[2];
    ck_assert_mark(v->feeds_at, 6, 12);
    ck_assert_uint_eq(v->nfeeds, 2);
    ck_assert_str_eq(v->feeds[0], "language");
    ck_assert_mark(v->feed_at[0], 6, 13);
    ck_assert_str_eq(v->feeds[1], "audio");
    ck_assert_mark(v->feed_at[1], 6, 23);
    ck_assert_mark(a->feeds_at, 9, 12);
    ck_assert_uint_eq(a->nfeeds, 0);
    ck_assert_uint_eq(l->nfeeds, 1);
    ck_assert_mark(l->feed_at[0], 13, 9);
    hg_config_free(cfg);

    /* Not given: disjoint, and no feeds (line 0). */
    cfg = parse_ok(HEAD "    dp: 2\n");
    ck_assert_int_eq(cfg->layout, HG_LAYOUT_DISJOINT);
    ck_assert_mark(cfg->layout_at, 0, 0);
    ck_assert_mark(cfg->modules[0].feeds_at, 0, 0);
    ck_assert_uint_eq(cfg->modules[0].nfeeds, 0);
    hg_config_free(cfg);
    cfg = parse_ok("version: 1\nlayout: \"disjoint\"\nmodules:\n  - {name: lm, role: language, "
                   "dp: 1}\n");
    ck_assert_int_eq(cfg->layout, HG_LAYOUT_DISJOINT);
    ck_assert_mark(cfg->layout_at, 2, 9);
    hg_config_free(cfg);
}
END_TEST

START_TEST(err_feeds_and_layout)
{
    EXPECT("version: 1\nlayout: mixed\nmodules:\n  - {name: lm, role: language, dp: 1}\n",
           "t.yaml:2:9: error: layout: unknown layout 'mixed' (expected disjoint or colocated)");
    EXPECT("version: 1\nlayout: [colocated]\nmodules:\n  - {name: lm, role: language, dp: 1}\n",
           "t.yaml:2:9: error: layout: expected a string, got a list");
    EXPECT("version: 1\nlayout: Colocated\nmodules:\n  - {name: lm, role: language, dp: 1}\n",
           "t.yaml:2:9: error: layout: unknown layout 'Colocated' (expected disjoint or colocated)");
    EXPECT(HEAD "    feeds: vision\n",
           "t.yaml:5:12: error: feeds: expected a list of module names, got 'vision' (write "
           "feeds: [vision])");
    EXPECT(HEAD "    feeds: {a: b}\n",
           "t.yaml:5:12: error: feeds: expected a list of module names, got a mapping");
    EXPECT(HEAD "    feeds:\n",
           "t.yaml:5:11: error: feeds: expected a list of module names, got nothing");
    EXPECT(HEAD "    feeds: [a, [b], 3, {c: d}, '']\n",
           "t.yaml:5:16: error: feeds: expected a string, got a list",
           "t.yaml:5:24: error: feeds: expected a string, got a mapping",
           "t.yaml:5:32: error: feeds: expected a string, got nothing");
    EXPECT(HEAD "    feeds: [\"a\\0b\"]\n", "t.yaml:5:13: error: feeds: string holds a NUL character");
    EXPECT(HEAD "    feeds: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
           "t.yaml:5:13: error: feeds: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is longer than 63 "
           "characters, so it names no module");
    EXPECT(HEAD "    feeds: []\n    feeds: [x]\n",
           "t.yaml:6:5: error: duplicate key 'feeds' in module 1 (first given at 5:5)");
    EXPECT(HEAD "    feed: [x]\n", "t.yaml:5:5: error: unknown key 'feed' in module 1 (did you "
                                  "mean 'feeds'?)");
    EXPECT("version: 1\nlayuot: colocated\nmodules:\n  - {name: lm, role: language, dp: 1}\n",
           "t.yaml:2:1: error: unknown key 'layuot' in the grid description (did you mean "
           "'layout'?)");
}
END_TEST

/* A feeds list longer than any module list is refused by its length, before any
 * name is looked at. */
START_TEST(feeds_too_long)
{
    size_t n = 5000;
    char *big = malloc(n * 3 + 256);
    ck_assert_ptr_nonnull(big);
    int o = sprintf(big, HEAD "    feeds: [");
    for (size_t i = 0; i < n; i++)
        o += sprintf(big + o, i ? ",x" : "x");
    sprintf(big + o, "]\n");
    EXPECT(big, "t.yaml:5:12: error: feeds: 5000 names is more than the 4096 modules hgrid "
                "supports");
    free(big);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *good = tcase_create("good");
    tcase_add_test(good, good_full_values_and_marks);
    tcase_add_test(good, good_defaults);
    tcase_add_test(good, good_preflight_and_roots);
    tcase_add_test(good, good_and_bad_restart_keys);
    tcase_add_test(good, good_flow_style_and_empty_moe);
    tcase_add_test(good, good_bool_spellings);
    tcase_add_test(good, good_number_spellings);
    tcase_add_test(good, good_limits);
    tcase_add_test(good, good_names_and_quoted_strings);
    tcase_add_test(good, good_aliases);
    tcase_add_test(good, good_utf8_bom_is_skipped);
    tcase_add_test(good, good_crlf_and_comments);
    tcase_add_test(good, good_exactly_max_bytes);
    tcase_add_test(good, good_feeds_and_layout);
    suite_add_tcase(s, good);

    TCase *errs = tcase_create("errors");
    tcase_set_timeout(errs, 30);
    tcase_add_test(errs, err_unknown_key_suggests);
    tcase_add_test(errs, err_feeds_and_layout);
    tcase_add_test(errs, feeds_too_long);
    tcase_add_test(errs, err_unknown_key_without_suggestion);
    tcase_add_test(errs, err_unknown_key_long);
    tcase_add_test(errs, err_non_string_keys);
    tcase_add_test(errs, err_duplicate_keys);
    tcase_add_test(errs, err_duplicate_after_bad_value);
    tcase_add_test(errs, err_int_wrong_types);
    tcase_add_test(errs, err_int_leading_zero);
    tcase_add_test(errs, err_int_quoted);
    tcase_add_test(errs, err_int_floats_and_other_bases);
    tcase_add_test(errs, err_int_zero_and_negative);
    tcase_add_test(errs, err_int_overflow);
    tcase_add_test(errs, err_int_too_large);
    tcase_add_test(errs, err_missing_name_and_role);
    tcase_add_test(errs, err_bad_value_not_also_missing);
    tcase_add_test(errs, err_bad_role_and_backend);
    tcase_add_test(errs, err_bad_bool);
    tcase_add_test(errs, err_name_rules);
    tcase_add_test(errs, err_name_too_long);
    tcase_add_test(errs, err_version);
    tcase_add_test(errs, err_missing_modules);
    tcase_add_test(errs, err_not_a_mapping);
    tcase_add_test(errs, err_empty_and_no_document);
    tcase_add_test(errs, err_multiple_documents);
    tcase_add_test(errs, err_yaml_syntax);
    tcase_add_test(errs, err_not_utf8);
    tcase_add_test(errs, err_control_characters);
    tcase_add_test(errs, err_too_large_buffer);
    tcase_add_test(errs, all_errors_reported);
    tcase_add_test(errs, earlier_diagnostics_do_not_fail_a_good_parse);
    suite_add_tcase(s, errs);

    TCase *hostile = tcase_create("hostile");
    tcase_set_timeout(hostile, 30);
    tcase_add_test(hostile, too_many_modules_via_aliases);
    tcase_add_test(hostile, alias_bomb_is_cheap);
    tcase_add_test(hostile, recursive_alias);
    tcase_add_test(hostile, deep_nesting);
    suite_add_tcase(s, hostile);

    /* Quadratic work on this input took a minute; linear work takes milliseconds. */
    TCase *big = tcase_create("many_keys");
    tcase_set_timeout(big, 10);
    tcase_add_test(big, many_keys_capped);
    suite_add_tcase(s, big);

    TCase *files = tcase_create("files");
    tcase_add_test(files, read_file_good);
    tcase_add_test(files, read_file_exactly_max);
    tcase_add_test(files, read_file_too_large);
    tcase_add_test(files, read_file_directory);
    tcase_add_test(files, read_file_missing);
    tcase_add_test(files, read_file_empty);
    tcase_add_test(files, config_name_of_stdin);
    tcase_add_test(files, read_stdin_file);
    tcase_add_test(files, read_stdin_pipe_limits);
    tcase_add_test(files, read_stdin_closed);
    suite_add_tcase(s, files);
    return s;
}

int main(void)
{
    return run_suite(config_suite());
}
