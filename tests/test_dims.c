/* The dims as data (common/grid/dims.h): walking HG_DIMS and its table, every dim parses
 * from its key in the mapping the table names (and nowhere else), takes the table's
 * value when absent, lies in exactly one place of each view it is a dim of, is written
 * under its module key and coordinate name in the plans (HG_DIMS order), heads its
 * columns in the tables, and every rank's coordinates along it recompose the rank. A
 * dim added to HG_DIMS without its row, its view or its key fails here. */
#include <check.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid/config.h"
#include "grid/dims.h"
#include "grid/layout.h"
#include "grid/plan.h"
#include "testutil.h"
#include "util/diag.h"

static hg_config *parse(const char *text, hg_diags **d)
{
    hg_config *cfg = NULL;
    *d = hg_diags_new("t.yaml");
    hg_config_parse(text, strlen(text), &cfg, *d);
    return cfg;
}

/* Whether some diagnostic holds needle. */
static int diags_hold(const hg_diags *d, const char *needle)
{
    for (size_t i = 0; i < hg_diags_size(d); i++)
        if (strstr(hg_diags_text(d, i), needle))
            return 1;
    return 0;
}

static const char *given_name(hg_dim_given g)
{
    return g == HG_DIM_GIVEN_MODULE ? "module" : g == HG_DIM_GIVEN_MOE ? "moe" : "resolved";
}

/* One module with `key: 3` in its own mapping (moe = 0) or in its moe mapping. */
static void module_with_key(char *buf, size_t len, const char *key, int moe)
{
    snprintf(buf, len,
             "version: 1\n"
             "modules:\n"
             "  - name: llm\n"
             "    role: language\n"
             "    size: 8\n"
             "%s%s: 3\n",
             moe ? "    moe:\n      " : "    ", key);
}

START_TEST(every_dim_parses_from_its_key)
{
    for (int d = 0; d < HG_DIM_COUNT; d++) {
        const char *key = hg_dim_module_key((hg_dim)d);
        hg_dim_given given = hg_dim_infos[d].given;
        for (int moe = 0; moe <= 1; moe++) {
            char text[256];
            module_with_key(text, sizeof(text), key, moe);
            hg_diags *diags;
            hg_config *cfg = parse(text, &diags);
            int here = given == (moe ? HG_DIM_GIVEN_MOE : HG_DIM_GIVEN_MODULE);
            if (here) {
                if (hg_diags_errors(diags))
                    diags_dump(diags);
                ck_assert_msg(cfg != NULL && hg_diags_errors(diags) == 0,
                              "%s (%s) does not parse from %s%s", key, given_name(given),
                              moe ? "moe." : "", key);
                ck_assert_int_eq(cfg->modules[0].dim[d].v, 3);
                ck_assert_int_eq(cfg->modules[0].dim[d].at.line, moe ? 7 : 6);
                ck_assert_int_eq(cfg->modules[0].dim[d].at.col, moe ? 7 + (int)strlen(key) + 2
                                                                    : 5 + (int)strlen(key) + 2);
                /* No other dim took it. */
                for (int o = 0; o < HG_DIM_COUNT; o++)
                    if (o != d)
                        ck_assert_int_eq(cfg->modules[0].dim[o].at.line, 0);
            } else {
                char want[128];
                snprintf(want, sizeof(want), "unknown key '%s' in %s", key,
                         moe ? "moe" : "module 1");
                ck_assert_msg(cfg == NULL && diags_hold(diags, want),
                              "%s (%s) is accepted as %s%s", key, given_name(given),
                              moe ? "moe." : "", key);
            }
            hg_config_free(cfg);
            hg_diags_free(diags);
        }
    }
}
END_TEST

START_TEST(absent_dims_take_the_table_value)
{
    hg_diags *diags;
    hg_config *cfg = parse("version: 1\nmodules:\n  - {name: llm, role: language, size: 8}\n",
                           &diags);
    ck_assert_ptr_nonnull(cfg);
    for (int d = 0; d < HG_DIM_COUNT; d++) {
        ck_assert_int_eq(cfg->modules[0].dim[d].at.line, 0);
        ck_assert_int_eq(cfg->modules[0].dim[d].v, hg_dim_infos[d].absent);
    }
    /* Resolved dims have no default; every given dim but dp has 1. */
    ck_assert_int_eq(hg_dim_infos[HG_DIM_DP].absent, 0);
    ck_assert_int_eq(hg_dim_infos[HG_DIM_EXPT_DP].given, HG_DIM_RESOLVED);
    hg_config_free(cfg);
    hg_diags_free(diags);
}
END_TEST

/* Each dim has its row, and one place in each view it is a dim of, in at least one view;
 * pp is the last of both; the named fields alias dim[] (the field named by a dim's key
 * or name). */
START_TEST(every_dim_in_a_view)
{
    int seen[HG_DIM_COUNT] = { 0 };
    for (int v = 0; v < HG_VIEW_COUNT; v++) {
        int here[HG_DIM_COUNT] = { 0 };
        for (int i = 0; i < HG_VIEW_DIMS; i++) {
            hg_dim d = hg_view_dim[v][i];
            ck_assert_int_lt((int)d, HG_DIM_COUNT);
            ck_assert_int_eq(here[d]++, 0);
            seen[d]++;
        }
        ck_assert_int_eq(hg_view_dim[v][HG_VIEW_DIMS - 1], HG_DIM_PP);
    }
    for (int d = 0; d < HG_DIM_COUNT; d++) {
        ck_assert_msg(seen[d] >= 1, "%s is a dim of no view", hg_dim_name((hg_dim)d));
        /* A dim without its row in hg_dim_infos reads as zeros. */
        ck_assert_msg(hg_dim_infos[d].module_width > 0 && hg_dim_infos[d].rank_width > 0
                          && hg_dim_infos[d].gap > 0,
                      "%s has no row in hg_dim_infos", hg_dim_name((hg_dim)d));
    }

    hg_module m;
    hg_coords c;
    for (int d = 0; d < HG_DIM_COUNT; d++) {
        m.dim[d] = 100 + d;
        c.dim[d] = 200 + d;
    }
#define ALIAS_(NAME, name, module_key)                                                         \
    ck_assert_int_eq(m.module_key, 100 + HG_DIM_##NAME);                                       \
    ck_assert_int_eq(c.name, 200 + HG_DIM_##NAME);
    HG_DIMS(ALIAS_)
#undef ALIAS_
}
END_TEST

static glob_t layouts;

static hg_layout *layout_of_path(const char *path)
{
    hg_config *cfg = NULL;
    hg_layout *l = NULL;
    hg_diags *d = hg_diags_new(path);
    int rc = hg_layout_load(path, 0, &cfg, &l, d);
    if (rc != 0)
        diags_dump(d);
    ck_assert_int_eq(rc, 0);
    hg_config_free(cfg);
    hg_diags_free(d);
    return l;
}

static char *written(int (*fn)(const void *, FILE *), const void *arg)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fn(arg, f), 0);
    fclose(f);
    return buf;
}

static int layout_json(const void *l, FILE *f)
{
    return hg_plan_write_json_named(l, "t.yaml", f, NULL);
}

static int layout_table(const void *l, FILE *f) { return hg_plan_write_table(l, f, NULL); }
static int rank_json(const void *p, FILE *f) { return hg_plan_write_rank_json(p, f, NULL); }

/* obj's keys from `first` on are names(0 .. HG_DIM_COUNT) in order, with the values
 * vals; returns the key after them (NULL at the end). */
static const char *dims_in_order(json_t *obj, const char *first,
                                 const char *(*names)(hg_dim), const int *vals)
{
    void *it = json_object_iter_at(obj, first);
    for (int d = 0; d < HG_DIM_COUNT; d++, it = json_object_iter_next(obj, it)) {
        ck_assert_msg(it != NULL, "%s is missing", names((hg_dim)d));
        ck_assert_str_eq(json_object_iter_key(it), names((hg_dim)d));
        ck_assert_int_eq(json_integer_value(json_object_iter_value(it)), vals[d]);
    }
    return it ? json_object_iter_key(it) : NULL;
}

/* Every golden layout's plans name every dim: a module's sizes after its size under
 * the module keys, a rank's coordinates under the coordinate names, HG_DIMS order. */
START_TEST(every_dim_in_the_plans)
{
    for (size_t f = 0; f < layouts.gl_pathc; f++) {
        hg_layout *l = layout_of_path(layouts.gl_pathv[f]);
        char *text = written(layout_json, l);
        json_t *plan = json_loads(text, 0, NULL);
        ck_assert_ptr_nonnull(plan);
        for (size_t i = 0; i < hg_layout_module_count(l); i++) {
            const hg_module *m = hg_layout_module(l, i);
            json_t *jm = json_array_get(json_object_get(plan, "modules"), i);
            void *size = json_object_iter_at(jm, "size");
            const char *after = dims_in_order(
                jm, json_object_iter_key(json_object_iter_next(jm, size)), hg_dim_module_key,
                m->dim);
            ck_assert(after == NULL || strcmp(after, "feeds") == 0);
        }
        json_decref(plan);
        free(text);
        for (int r = 0; r < hg_layout_world_size(l); r += 3) {
            hg_rank_view v;
            ck_assert_int_eq(hg_rank_view_build(l, r, &v, NULL), 0);
            text = written(rank_json, &v);
            json_t *rp = json_loads(text, 0, NULL);
            ck_assert_ptr_nonnull(rp);
            json_t *coords = json_object_get(rp, "coords");
            ck_assert_ptr_null(dims_in_order(coords, "tp", hg_dim_name, v.coords.dim));
            ck_assert_int_eq(json_object_size(coords), HG_DIM_COUNT);
            json_decref(rp);
            free(text);
            hg_rank_view_free(&v);
        }
        hg_layout_free(l);
    }
}
END_TEST

/* Every rank's coordinates along every dim lie in [0, size) and, in each view's grid
 * order, recompose its rank in the module (first dim fastest). */
START_TEST(every_dim_in_the_coords)
{
    for (size_t f = 0; f < layouts.gl_pathc; f++) {
        hg_layout *l = layout_of_path(layouts.gl_pathv[f]);
        for (size_t i = 0; i < hg_layout_module_count(l); i++) {
            const hg_module *m = hg_layout_module(l, i);
            for (int r = m->offset; r < m->offset + m->size; r++) {
                hg_coords c;
                hg_module_coords(m, r, &c);
                for (int d = 0; d < HG_DIM_COUNT; d++) {
                    ck_assert_int_ge(hg_coords_dim(&c, (hg_dim)d), 0);
                    ck_assert_int_lt(hg_coords_dim(&c, (hg_dim)d), hg_module_dim(m, (hg_dim)d));
                }
                for (int v = 0; v < HG_VIEW_COUNT; v++) {
                    int local = 0, stride = 1;
                    for (int k = 0; k < HG_VIEW_DIMS; k++) {
                        hg_dim d = hg_view_dim[v][k];
                        local += c.dim[d] * stride;
                        stride *= m->dim[d];
                    }
                    ck_assert_int_eq(stride, m->size);
                    ck_assert_int_eq(local, r - m->offset);
                }
            }
        }
        hg_layout_free(l);
    }
}
END_TEST

/* Whether line (up to its newline) has word between spaces or its ends. */
static int has_word(const char *line, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = line; *p && *p != '\n'; p++)
        if ((p == line || p[-1] == ' ') && strncmp(p, word, n) == 0
            && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

/* The table heads a column with every dim's module key (module table) and coordinate
 * name (rank table); the quiet dims only in a layout that has them. */
START_TEST(every_dim_in_the_table)
{
    static const char *const files[] = { SRCDIR "/tests/golden-gtp/gtp_vlm12.yaml",
                                         SRCDIR "/tests/golden/vlm8_moe.yaml" };
    for (int f = 0; f < 2; f++) {
        hg_layout *l = layout_of_path(files[f]);
        char *text = written(layout_table, l);
        const char *module_head = strstr(text, "\nmodule ");
        const char *rank_head = strstr(text, "\nrank ");
        ck_assert_ptr_nonnull(module_head);
        ck_assert_ptr_nonnull(rank_head);
        for (int d = 0; d < HG_DIM_COUNT; d++) {
            int shown = f == 0 || !hg_dim_infos[d].quiet;
            const char *key = hg_dim_module_key((hg_dim)d), *name = hg_dim_name((hg_dim)d);
            ck_assert_msg(has_word(module_head + 1, key) == shown, "module table: %s %s", key,
                          shown ? "missing" : "shown");
            ck_assert_msg(has_word(rank_head + 1, name) == shown, "rank table: %s %s", name,
                          shown ? "missing" : "shown");
        }
        free(text);
        hg_layout_free(l);
    }
}
END_TEST

int main(void)
{
    if (glob(SRCDIR "/tests/golden/*.yaml", 0, NULL, &layouts) != 0
        || glob(SRCDIR "/tests/golden-gtp/*.yaml", GLOB_APPEND, NULL, &layouts) != 0) {
        fprintf(stderr, "no golden layouts under %s/tests\n", SRCDIR);
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("dims");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_dim_parses_from_its_key);
    tcase_add_test(tc, absent_dims_take_the_table_value);
    tcase_add_test(tc, every_dim_in_a_view);
    tcase_add_test(tc, every_dim_in_the_plans);
    tcase_add_test(tc, every_dim_in_the_coords);
    tcase_add_test(tc, every_dim_in_the_table);
    suite_add_tcase(s, tc);
    int status = run_suite(s);
    globfree(&layouts);
    return status;
}
