/* Check suite for common/grid/settings.{h,c}: every launch setting declared once and
 * completely; the range errors the command line and the config give come from that
 * declaration; the one merge puts the command line over the config over the default;
 * hgrid-launch's parser, its --help and the table name the same options. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "grid/config.h"
#include "grid/settings.h"
#include "testutil.h"
#include "wire/protocol.h"

#define ARGV(...) ((char *[]){ "hgrid-launch", __VA_ARGS__, NULL })
static int ARGC(char **v)
{
    int n = 0;
    while (v[n])
        n++;
    return n;
}

static const char *const kind_names[] = { "int", "enum", "flag", "path" };

START_TEST(every_entry_is_complete)
{
    for (int i = 0; i < HG_NSETTINGS; i++) {
        const hg_setting *s = hg_setting_get((hg_setting_id)i);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(hg_setting_id_of(s), i);
        ck_assert_msg(s->name && *s->name, "setting %d has no name", i);
        ck_assert_msg(s->doc && *s->doc, "%s has no doc line", s->name);
        ck_assert_msg(s->option || s->key || s->env, "%s can be set nowhere", s->name);
        ck_assert_msg(!s->option || strncmp(s->option, "--", 2) == 0, "%s: option %s", s->name,
                      s->option);
        ck_assert_msg(!s->env || strncmp(s->env, HG_ENV_PREFIX, strlen(HG_ENV_PREFIX)) == 0,
                      "%s: env %s", s->name, s->env);
        ck_assert_msg((unsigned)s->kind < 4, "%s: kind %d", s->name, s->kind);
        const char *kind = kind_names[s->kind];
        switch (s->kind) {
        case HG_SETTING_INT:
        case HG_SETTING_ENUM:
            ck_assert_msg(s->expected && *s->expected, "%s (%s): no range words", s->name, kind);
            ck_assert_msg(s->min <= s->def && s->def <= s->max, "%s: default %d not in %d..%d",
                          s->name, s->def, s->min, s->max);
            break;
        case HG_SETTING_FLAG:
            ck_assert_msg(s->min == 0 && s->max == 1 && (s->def == 0 || s->def == 1),
                          "%s (%s): %d..%d default %d", s->name, kind, s->min, s->max, s->def);
            break;
        case HG_SETTING_PATH:
            ck_assert_msg(s->option && s->expected, "%s (%s): a path is an option's", s->name,
                          kind);
            ck_assert_msg(!s->key, "%s (%s): no config key holds a path", s->name, kind);
            break;
        }
        for (int j = 0; j < i; j++) {
            const hg_setting *t = hg_setting_get((hg_setting_id)j);
            ck_assert_str_ne(s->name, t->name);
            ck_assert_msg(!s->option || !t->option || strcmp(s->option, t->option) != 0,
                          "option %s twice", s->option);
            ck_assert_msg(!s->key || !t->key || strcmp(s->key, t->key) != 0, "key %s twice",
                          s->key);
            ck_assert_msg(!s->env || !t->env || strcmp(s->env, t->env) != 0, "env %s twice",
                          s->env);
        }
        if (s->option)
            ck_assert_ptr_eq(hg_setting_by_option(s->option), s);
        if (s->key)
            ck_assert_ptr_eq(hg_setting_by_key(s->key), s);
    }
    ck_assert_ptr_null(hg_setting_get(HG_NSETTINGS));
    ck_assert_ptr_null(hg_setting_by_option("--frobnicate"));
    ck_assert_ptr_null(hg_setting_by_option(NULL));
    ck_assert_ptr_null(hg_setting_by_key("init_timeout"));
}
END_TEST

/* The values other modules and messages name are the table's. */
START_TEST(the_table_holds_the_documented_values)
{
    const hg_setting *t = hg_setting_get(HG_SET_TIMEOUT);
    ck_assert_str_eq(t->option, "--timeout");
    ck_assert_str_eq(t->key, "init_timeout_s");
    ck_assert_str_eq(t->env, "HGRID_TIMEOUT");
    ck_assert_int_eq(t->min, 1);
    ck_assert_int_eq(t->max, 86400);
    ck_assert_int_eq(t->def, 120);
    ck_assert_int_eq(hg_setting_get(HG_SET_GRACE)->def, 30);
    ck_assert_int_eq(hg_setting_get(HG_SET_HOST_TIMEOUT)->def, 10);
    ck_assert_int_eq(hg_setting_get(HG_SET_MAX_RESTARTS)->max, 1000);
    ck_assert_int_eq(hg_setting_get(HG_SET_RANKS_PER_ROOT)->def, 128);
    ck_assert_int_eq(hg_setting_get(HG_SET_RANKS_PER_ROOT)->max, HG_MAX_WORLD);
    ck_assert_str_eq(hg_setting_get(HG_SET_RANKS_PER_ROOT)->env, "HGRID_NCCL_RANKS_PER_ROOT");
    ck_assert_int_eq(hg_setting_get(HG_SET_BACKEND)->def, HG_BACKEND_NCCL);
    ck_assert_int_eq(hg_setting_get(HG_SET_PREFLIGHT)->def, HG_PREFLIGHT_FULL);
    ck_assert_int_eq(hg_setting_get(HG_SET_VERIFY)->def, 1);
    ck_assert_int_eq(hg_setting_get(HG_SET_STALL_TIMEOUT)->def, 0);
    ck_assert_int_eq(hg_setting_get(HG_SET_FIRST_BEAT_TIMEOUT)->def, 0);
}
END_TEST

static void expect_parse_error(hg_setting_id id, const char *text, const char *want)
{
    const hg_setting *s = hg_setting_get(id);
    hg_error e;
    int v = -7;
    hg_error_clear(&e);
    ck_assert_int_eq(hg_setting_parse(s, s->option, text, &v, &e), HG_EINVAL);
    ck_assert_str_eq(e.msg, want);
    ck_assert_int_eq(v, -7);
}

START_TEST(range_errors_name_the_range)
{
    expect_parse_error(HG_SET_TIMEOUT, "0", "--timeout: expected seconds in 1..86400, got '0'");
    expect_parse_error(HG_SET_TIMEOUT, "86401",
                       "--timeout: expected seconds in 1..86400, got '86401'");
    expect_parse_error(HG_SET_GRACE, "-1", "--grace: expected seconds in 0..86400, got '-1'");
    expect_parse_error(HG_SET_MAX_RESTARTS, "1001",
                       "--max-restarts: expected a count in 0..1000, got '1001'");
    expect_parse_error(HG_SET_STALL_TIMEOUT, "x",
                       "--stall-timeout: expected seconds in 0..86400, got 'x'");
    expect_parse_error(HG_SET_BACKEND, "gloo", "--backend: expected nccl or mpi, got 'gloo'");
    expect_parse_error(HG_SET_PREFLIGHT, "some",
                       "--preflight: expected full, world or none, got 'some'");
    hg_error e;
    int v = -1;
    ck_assert_int_eq(hg_setting_parse(hg_setting_get(HG_SET_TIMEOUT), "--timeout", "86400", &v,
                                      &e), 0);
    ck_assert_int_eq(v, 86400);
    ck_assert_int_eq(hg_setting_parse(hg_setting_get(HG_SET_BACKEND), "--backend", "mpi", &v, &e),
                     0);
    ck_assert_int_eq(v, HG_BACKEND_MPI);
    /* The environment's name as the source. */
    ck_assert_int_eq(hg_setting_parse(hg_setting_get(HG_SET_RANKS_PER_ROOT), "HGRID_X", "-1", &v,
                                      &e), HG_EINVAL);
    ck_assert_str_eq(e.msg, "HGRID_X: expected a number of ranks in 0..16777216, got '-1'");
}
END_TEST

/* The command line gives the same errors through the table. */
START_TEST(command_line_errors_come_from_the_table)
{
    char **v = ARGV("--first-beat-timeout", "86401", "c.yaml", "--", "p");
    hg_cli c;
    hg_error e;
    hg_error_clear(&e);
    ck_assert_int_eq(hg_cli_parse(ARGC(v), v, &c, &e), HG_EINVAL);
    ck_assert_str_eq(e.msg, "--first-beat-timeout: expected seconds in 0..86400, got '86401'");
    hg_cli_free(&c);
    char **w = ARGV("--report=", "c.yaml", "--", "p");
    hg_error_clear(&e);
    ck_assert_int_eq(hg_cli_parse(ARGC(w), w, &c, &e), HG_EINVAL);
    ck_assert_str_eq(e.msg, "--report: expected a file name, got ''");
    hg_cli_free(&c);
}
END_TEST

static hg_config *config_of(const char *agent)
{
    char text[512];
    snprintf(text, sizeof(text),
             "version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\n%s", agent);
    hg_diags *d = hg_diags_new("t.yaml");
    hg_config *cfg = NULL;
    int rc = hg_config_parse(text, strlen(text), &cfg, d);
    if (rc != 0)
        diags_dump(d);
    ck_assert_int_eq(rc, 0);
    hg_diags_free(d);
    return cfg;
}

/* A config that sets nothing holds the table's defaults; every table key is a key of
 * the config's agent: section. */
START_TEST(config_takes_keys_and_defaults_from_the_table)
{
    hg_config *cfg = config_of("");
    hg_setting_values set;
    hg_settings_merge(NULL, cfg, &set);
    for (int i = 0; i < HG_NSETTINGS; i++) {
        const hg_setting *s = hg_setting_get((hg_setting_id)i);
        ck_assert_msg(s->kind == HG_SETTING_PATH ? set.v[i] == 0 : set.v[i] == s->def,
                      "%s: %d, default %d", s->name, set.v[i], s->def);
        ck_assert_int_eq(set.from[i], s->key ? HG_FROM_CONFIG : HG_FROM_DEFAULT);
    }
    hg_config_free(cfg);
    char agent[512] = "agent:\n";
    for (int i = 0; i < HG_NSETTINGS; i++) {
        const hg_setting *s = hg_setting_get((hg_setting_id)i);
        if (!s->key)
            continue;
        const char *val = s->kind == HG_SETTING_FLAG ? "true"
                          : i == HG_SET_BACKEND ? "nccl" : i == HG_SET_PREFLIGHT ? "full" : "1";
        size_t n = strlen(agent);
        snprintf(agent + n, sizeof(agent) - n, "  %s: %s\n", s->key, val);
    }
    cfg = config_of(agent); /* an unknown key would fail */
    hg_config_free(cfg);
}
END_TEST

START_TEST(config_range_errors_come_from_the_table)
{
    hg_diags *d = hg_diags_new("t.yaml");
    hg_config *cfg = NULL;
    const char *text = "version: 1\nmodules:\n  - {name: lm, role: language, dp: 2}\n"
                       "agent:\n  init_timeout_s: 86401\n  nccl_ranks_per_root: -1\n";
    ck_assert_int_ne(hg_config_parse(text, strlen(text), &cfg, d), 0);
    ck_assert_diag(d, "t.yaml:5:19: error: agent.init_timeout_s: 86401 is too large (at most "
                      "86400)");
    ck_assert_diag(d, "t.yaml:6:24: error: agent.nccl_ranks_per_root must be at least 0, got -1");
    hg_diags_free(d);
}
END_TEST

/* Given over config over default, per setting. */
START_TEST(merge_puts_given_over_config_over_default)
{
    hg_config *cfg = config_of("agent:\n  init_timeout_s: 60\n  stall_timeout_s: 7\n"
                               "  backend: mpi\n");
    int given[HG_NSETTINGS];
    hg_settings_none_given(given);
    for (int i = 0; i < HG_NSETTINGS; i++)
        ck_assert_int_eq(given[i], HG_SETTING_UNSET);
    given[HG_SET_TIMEOUT] = 30;
    given[HG_SET_GRACE] = 5;
    given[HG_SET_RANKS_PER_ROOT] = 0; /* 0 is a value, not "not given" */
    hg_setting_values set;
    hg_settings_merge(given, cfg, &set);
    ck_assert_int_eq(set.v[HG_SET_TIMEOUT], 30);
    ck_assert_int_eq(set.from[HG_SET_TIMEOUT], HG_FROM_GIVEN);
    ck_assert_int_eq(set.v[HG_SET_STALL_TIMEOUT], 7);
    ck_assert_int_eq(set.from[HG_SET_STALL_TIMEOUT], HG_FROM_CONFIG);
    ck_assert_int_eq(set.v[HG_SET_BACKEND], HG_BACKEND_MPI);
    ck_assert_int_eq(set.v[HG_SET_FIRST_BEAT_TIMEOUT], 0);
    ck_assert_int_eq(set.v[HG_SET_GRACE], 5);
    ck_assert_int_eq(set.v[HG_SET_RANKS_PER_ROOT], 0);
    ck_assert_int_eq(set.v[HG_SET_HOST_TIMEOUT], 10);
    ck_assert_int_eq(set.from[HG_SET_HOST_TIMEOUT], HG_FROM_DEFAULT);
    /* No config (an agent before rank 0's bytes arrive): given, else default. */
    hg_settings_merge(given, NULL, &set);
    ck_assert_int_eq(set.v[HG_SET_TIMEOUT], 30);
    ck_assert_int_eq(set.v[HG_SET_STALL_TIMEOUT], 0);
    ck_assert_int_eq(set.from[HG_SET_STALL_TIMEOUT], HG_FROM_DEFAULT);
    ck_assert_int_eq(set.v[HG_SET_BACKEND], HG_BACKEND_NCCL);
    hg_config_free(cfg);
}
END_TEST

/* hgrid-launch's command line through the merge: an option given wins over the
 * config, an option not given leaves the config's (or the default). */
START_TEST(command_line_over_config_through_the_merge)
{
    hg_config *cfg = config_of("agent:\n  max_restarts: 4\n  stall_timeout_s: 7\n"
                               "  first_beat_timeout_s: 9\n  preflight: world\n");
    char **v = ARGV("--stall-timeout", "0", "--timeout=15", "--grace", "3", "--label", "c.yaml",
                    "--", "p");
    hg_cli c;
    hg_error e;
    hg_error_clear(&e);
    ck_assert_int_eq(hg_cli_parse(ARGC(v), v, &c, &e), 0);
    int given[HG_NSETTINGS];
    hg_cli_settings(&c, given);
    ck_assert_int_eq(given[HG_SET_MAX_RESTARTS], HG_SETTING_UNSET);
    ck_assert_int_eq(given[HG_SET_BACKEND], HG_SETTING_UNSET);
    hg_setting_values set;
    hg_settings_merge(given, cfg, &set);
    ck_assert_int_eq(set.v[HG_SET_STALL_TIMEOUT], 0); /* --stall-timeout 0 turns it off */
    ck_assert_int_eq(set.v[HG_SET_FIRST_BEAT_TIMEOUT], 9);
    ck_assert_int_eq(set.v[HG_SET_MAX_RESTARTS], 4);
    ck_assert_int_eq(set.v[HG_SET_TIMEOUT], 15);
    ck_assert_int_eq(set.v[HG_SET_PREFLIGHT], HG_PREFLIGHT_WORLD);
    ck_assert_int_eq(set.from[HG_SET_PREFLIGHT], HG_FROM_CONFIG);
    ck_assert_int_eq(set.v[HG_SET_GRACE], 3);
    ck_assert_int_eq(set.v[HG_SET_HOST_TIMEOUT], 10);
    ck_assert_int_eq(set.v[HG_SET_RESTART_DELAY], 0);
    ck_assert_int_eq(set.v[HG_SET_LABEL], 1);
    ck_assert_int_eq(set.v[HG_SET_VERBOSE], 0);
    hg_cli_free(&c);
    hg_config_free(cfg);
}
END_TEST

static int is_cli_option(const char *name, size_t n)
{
    for (size_t i = 0; hg_cli_option(i); i++)
        if (strlen(hg_cli_option(i)) == n && strncmp(hg_cli_option(i), name, n) == 0)
            return 1;
    return 0;
}

/* The options --help describes: a line "  --name" or "  -x, --name". */
static int help_describes(const char *help, const char *name)
{
    for (const char *l = help; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *p = l;
        if (strncmp(p, "  -", 3) != 0)
            continue;
        p += 2;
        if (p[1] != '-' && strncmp(p + 2, ", ", 2) == 0)
            p += 4;
        size_t n = strspn(p, "-abcdefghijklmnopqrstuvwxyz");
        if (strlen(name) == n && strncmp(p, name, n) == 0)
            return 1;
    }
    return 0;
}

START_TEST(help_parser_and_table_name_the_same_options)
{
    char *help = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&help, &len);
    ck_assert_ptr_nonnull(out);
    hg_cli_usage(out);
    fclose(out);
    /* Every option the parser knows is described, and every option described is known. */
    size_t nopts = 0;
    for (size_t i = 0; hg_cli_option(i); i++, nopts++)
        ck_assert_msg(help_describes(help, hg_cli_option(i)), "--help lacks %s",
                      hg_cli_option(i));
    size_t described = 0;
    for (const char *l = help; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, "  -", 3) != 0)
            continue;
        const char *p = l + 2;
        if (p[1] != '-' && strncmp(p + 2, ", ", 2) == 0)
            p += 4;
        size_t n = strspn(p, "-abcdefghijklmnopqrstuvwxyz");
        ck_assert_msg(is_cli_option(p, n), "--help describes %.*s, which the parser does not know",
                      (int)n, p);
        described++;
    }
    ck_assert_uint_eq(described, nopts);
    /* Every setting with an option is one the parser knows. */
    for (int i = 0; i < HG_NSETTINGS; i++) {
        const hg_setting *s = hg_setting_get((hg_setting_id)i);
        if (s->option)
            ck_assert_msg(is_cli_option(s->option, strlen(s->option)), "%s is not parsed",
                          s->option);
    }
    free(help);
}
END_TEST

/* An option of the table that is given sets what the table says: its default stands
 * until then, and the value parsed lands in the setting (not in another's field). */
START_TEST(every_option_of_the_table_reaches_its_setting)
{
    for (int i = 0; i < HG_NSETTINGS; i++) {
        const hg_setting *s = hg_setting_get((hg_setting_id)i);
        if (!s->option || s->kind == HG_SETTING_PATH)
            continue;
        char arg[128];
        int want = s->kind == HG_SETTING_FLAG ? 1 : s->max;
        if (s->kind == HG_SETTING_FLAG)
            snprintf(arg, sizeof(arg), "%s", s->option);
        else if (i == HG_SET_BACKEND)
            snprintf(arg, sizeof(arg), "%s=mpi", s->option);
        else if (i == HG_SET_PREFLIGHT)
            snprintf(arg, sizeof(arg), "%s=none", s->option);
        else
            snprintf(arg, sizeof(arg), "%s=%d", s->option, s->max);
        char **v = ARGV(arg, "c.yaml", "--", "p");
        hg_cli c;
        hg_error e;
        hg_error_clear(&e);
        /* --preflight none alone is refused for --in-process only; fine here. */
        ck_assert_msg(hg_cli_parse(ARGC(v), v, &c, &e) == 0, "%s: %s", arg, e.msg);
        int given[HG_NSETTINGS];
        hg_cli_settings(&c, given);
        ck_assert_msg(given[i] == want, "%s: given %d, want %d", arg, given[i], want);
        hg_cli_free(&c);
    }
}
END_TEST

static Suite *settings_suite(void)
{
    Suite *s = suite_create("settings");
    TCase *t = tcase_create("core");
    tcase_add_test(t, every_entry_is_complete);
    tcase_add_test(t, the_table_holds_the_documented_values);
    tcase_add_test(t, range_errors_name_the_range);
    tcase_add_test(t, command_line_errors_come_from_the_table);
    tcase_add_test(t, config_takes_keys_and_defaults_from_the_table);
    tcase_add_test(t, config_range_errors_come_from_the_table);
    tcase_add_test(t, merge_puts_given_over_config_over_default);
    tcase_add_test(t, command_line_over_config_through_the_merge);
    tcase_add_test(t, help_parser_and_table_name_the_same_options);
    tcase_add_test(t, every_option_of_the_table_reaches_its_setting);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return run_suite(settings_suite());
}
