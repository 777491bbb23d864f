/* Layout (common/grid/layout.c) and plan output (common/grid/plan.c): every golden layout of
 * tests/golden (groups computed by Megatron's own code) is reproduced exactly by the
 * JSON plan; every rank's view agrees with the whole-layout groups; and the group
 * arithmetic agrees with a brute-force reading of HyperCommGrid's definition on many
 * shapes the goldens do not cover. */
#include <check.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid/config.h"
#include "util/diag.h"
#include "util/error.h"
#include "grid/layout.h"
#include "grid/plan.h"
#include "testutil.h"
#include "grid/validate.h"

/* The "kinds" of every plan, whole or one rank's: each kind's view and the dims its
 * groups span (layout.c's table, written by plan.c), as python/hgrid reads them. */
#define KINDS_JSON \
    "\"kinds\":{\"tp\":{\"view\":\"dense\",\"dims\":[\"tp\"],\"fields\":[\"tp\"]}," \
    "\"cp\":{\"view\":\"dense\",\"dims\":[\"cp\"],\"fields\":[\"cp\"]}," \
    "\"pp\":{\"view\":\"dense\",\"dims\":[\"pp\"],\"fields\":[\"pp\"]}," \
    "\"dp\":{\"view\":\"dense\",\"dims\":[\"dp\"],\"fields\":[\"dp\"]}," \
    "\"dp_cp\":{\"view\":\"dense\",\"dims\":[\"cp\",\"dp\"],\"fields\":[\"dp_cp\",\"intra_dp_cp\"]}," \
    "\"tp_cp\":{\"view\":\"dense\",\"dims\":[\"tp\",\"cp\"],\"fields\":[\"tp_cp\"]}," \
    "\"mp\":{\"view\":\"dense\",\"dims\":[\"tp\",\"gtp_remat\",\"pp\"],\"fields\":[\"mp\"]}," \
    "\"tp_dp\":{\"view\":\"dense\",\"dims\":[\"tp\",\"gtp_remat\",\"dp\"],\"fields\":[\"tp_dp\"]}," \
    "\"tp_dp_cp\":{\"view\":\"dense\",\"dims\":[\"tp\",\"gtp_remat\",\"cp\",\"dp\"],\"fields\":[\"tp_dp_cp\"]}," \
    "\"tp_cp_dp_pp\":{\"view\":\"dense\",\"dims\":[\"tp\",\"gtp_remat\",\"cp\",\"dp\",\"pp\"],\"fields\":[\"tp_cp_dp_pp\",\"intra_dist_opt\"]}," \
    "\"ep\":{\"view\":\"expert\",\"dims\":[\"ep\"],\"fields\":[\"ep\"]}," \
    "\"expt_tp\":{\"view\":\"expert\",\"dims\":[\"expt_tp\"],\"fields\":[\"expt_tp\"]}," \
    "\"expt_dp\":{\"view\":\"expert\",\"dims\":[\"expt_dp\"],\"fields\":[\"expt_dp\",\"intra_expt_dp\"]}," \
    "\"tp_ep\":{\"view\":\"expert\",\"dims\":[\"expt_tp\",\"ep\"],\"fields\":[\"tp_ep\"]}," \
    "\"tp_ep_pp\":{\"view\":\"expert\",\"dims\":[\"expt_tp\",\"ep\",\"pp\"],\"fields\":[\"tp_ep_pp\"]}," \
    "\"embd\":{\"view\":\"dense\",\"dims\":[\"pp\"],\"members\":\"first and last\",\"roles\":[\"language\"],\"fields\":[\"embd\"]}," \
    "\"pos_embd\":{\"view\":\"dense\",\"dims\":[\"pp\"],\"members\":\"first\",\"roles\":[\"language\"],\"fields\":[\"pos_embd\"]}," \
    "\"gtp_remat\":{\"view\":\"dense\",\"dims\":[\"gtp_remat\"],\"fields\":[\"gtp_remat\"]}," \
    "\"gtp_remat_dp_cp\":{\"view\":\"dense\",\"dims\":[\"gtp_remat\",\"cp\",\"dp\"],\"fields\":[\"dp_cp_gtp_remat\"]}," \
    "\"expt_gtp_remat\":{\"view\":\"expert\",\"dims\":[\"expt_gtp_remat\"],\"fields\":[\"expt_gtp_remat\"]}," \
    "\"tp_ep_gtp_remat_pp\":{\"view\":\"expert\",\"dims\":[\"expt_tp\",\"ep\",\"expt_gtp_remat\",\"pp\"],\"fields\":[\"tp_ep_pp_with_egtp_remat\"]}," \
    "\"ep_gtp_remat_dp\":{\"view\":\"expert\",\"dims\":[\"expt_gtp_remat\",\"expt_dp\"],\"fields\":[\"expt_dp_gtp_remat\"]}}"

/* The golden YAML files, found when the suite is built. */
static glob_t goldens;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Builds the layout of a YAML file; it must validate without errors. */
static hg_layout *layout_of_file(const char *path)
{
    size_t len;
    char *text = slurp(path, &len);
    hg_diags *d = hg_diags_new(path);
    hg_config *cfg = NULL;
    hg_layout *l = NULL;
    if (hg_config_parse(text, len, &cfg, d) == 0)
        hg_layout_build(cfg, 0, &l, d);
    if (!l)
        diags_dump(d);
    ck_assert_msg(l != NULL, "%s does not validate", path);
    ck_assert_uint_eq(hg_diags_errors(d), 0);
    hg_config_free(cfg);
    hg_diags_free(d);
    free(text);
    return l;
}

static hg_layout *layout_of_text(const char *text)
{
    hg_diags *d;
    hg_layout *l = layout_of(text, 0, &d);
    if (!l)
        diags_dump(d);
    ck_assert_ptr_nonnull(l);
    hg_diags_free(d);
    return l;
}

static char *plan_json(const hg_layout *l, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_ptr_nonnull(f);
    hg_error err;
    hg_error_clear(&err);
    int rc = hg_plan_write_json_named(l, NULL, f, &err);
    ck_assert_msg(rc == 0, "hg_plan_write_json_named: %s", err.msg);
    fclose(f);
    if (len)
        *len = n;
    return buf;
}

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    ck_assert_msg(j != NULL, "%s:%d: %s", path, jerr.line, jerr.text);
    return j;
}

static char *golden_json_path(const char *yaml)
{
    char *p = strdup(yaml);
    ck_assert_ptr_nonnull(p);
    strcpy(p + strlen(p) - strlen("yaml"), "json");
    return p;
}

/* Names the first difference between two group objects, for a readable failure. */
static void explain_groups(const char *file, json_t *want, json_t *got)
{
    const char *mod;
    json_t *wk;
    json_object_foreach(want, mod, wk) {
        json_t *gk = json_object_get(got, mod);
        ck_assert_msg(gk != NULL, "%s: module %s has no groups in the plan", file, mod);
        const char *kind;
        json_t *wg;
        json_object_foreach(wk, kind, wg) {
            json_t *gg = json_object_get(gk, kind);
            ck_assert_msg(gg != NULL, "%s: %s has no %s groups in the plan", file, mod, kind);
            if (!json_equal(wg, gg)) {
                char *a = json_dumps(wg, JSON_COMPACT), *b = json_dumps(gg, JSON_COMPACT);
                ck_abort_msg("%s: %s %s groups differ:\n  golden %.400s\n  plan   %.400s", file,
                             mod, kind, a, b);
            }
        }
        ck_assert_msg(json_object_size(wk) == json_object_size(gk),
                      "%s: %s has %zu group kinds in the plan, %zu in the golden file", file, mod,
                      json_object_size(gk), json_object_size(wk));
    }
    ck_assert_msg(json_object_size(want) == json_object_size(got), "%s: module count differs",
                  file);
}

/* ---- golden layouts ---- */

START_TEST(golden_count)
{
    /* The six layouts of ../shared/golden, each turned into a YAML beside its JSON. */
    ck_assert_uint_ge(goldens.gl_pathc, 6);
}
END_TEST

START_TEST(golden_plan_json)
{
    const char *yaml = goldens.gl_pathv[_i];
    char *jpath = golden_json_path(yaml);
    json_t *want = load_json(jpath);
    hg_layout *l = layout_of_file(yaml);

    size_t len;
    char *out = plan_json(l, &len);
    json_error_t jerr;
    json_t *got = json_loads(out, 0, &jerr);
    ck_assert_msg(got != NULL, "%s: plan is not JSON: %s", yaml, jerr.text);

    ck_assert_int_eq(json_integer_value(json_object_get(got, "hgrid_plan")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(got, "world_size")),
                     json_integer_value(json_object_get(want, "world_size")));
    ck_assert_int_eq(hg_layout_world_size(l), json_integer_value(json_object_get(want, "world_size")));
    ck_assert_msg(json_equal(json_object_get(got, "modules"), json_object_get(want, "modules")),
                  "%s: modules differ", yaml);
    explain_groups(yaml, json_object_get(want, "groups"), json_object_get(got, "groups"));
    ck_assert(json_equal(json_object_get(got, "groups"), json_object_get(want, "groups")));
    ck_assert_str_eq(json_string_value(json_object_get(got, "layout")),
                     json_string_value(json_object_get(want, "layout")));
    ck_assert_str_eq(hg_layout_kind_name(hg_layout_mode(l)),
                     json_string_value(json_object_get(want, "layout")));
    if (!json_equal(json_object_get(got, "bridges"), json_object_get(want, "bridges"))) {
        char *a = json_dumps(json_object_get(want, "bridges"), JSON_COMPACT);
        char *b = json_dumps(json_object_get(got, "bridges"), JSON_COMPACT);
        ck_abort_msg("%s: bridges differ:\n  golden %.600s\n  plan   %.600s", yaml, a, b);
    }
    ck_assert_uint_eq(hg_layout_bridge_count(l), json_array_size(json_object_get(want, "bridges")));
    ck_assert_msg(json_equal(json_object_get(got, "kinds"), json_object_get(want, "kinds")),
                  "%s: kinds differ", yaml);
    /* The plan has exactly these keys. */
    ck_assert_uint_eq(json_object_size(got), 7);

    /* Byte for byte: the golden files are compact JSON in the plan's key order, so from
     * "world_size" on they are the plan's bytes (the plan ends with a newline). */
    size_t glen;
    char *gbytes = slurp(jpath, &glen);
    const char *g = strstr(gbytes, "\"world_size\"");
    const char *o = strstr(out, "\"world_size\"");
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_nonnull(o);
    char head[96];
    snprintf(head, sizeof(head), "{\"hgrid_plan\":1,\"layout\":\"%s\",\"world_size\":",
             json_string_value(json_object_get(want, "layout")));
    ck_assert_int_eq(strncmp(out, head, strlen(head)), 0);
    size_t gl = strlen(g);
    while (gl && g[gl - 1] == '\n') /* a golden file may end its line */
        gl--;
    ck_assert_uint_eq(strlen(o), gl + 1);
    ck_assert_int_eq(memcmp(o, g, gl), 0);
    ck_assert_int_eq(out[len - 1], '\n');

    /* The same bytes on a second run. */
    size_t len2;
    char *out2 = plan_json(l, &len2);
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(memcmp(out, out2, len), 0);

    free(out2);
    free(gbytes);
    free(out);
    json_decref(got);
    json_decref(want);
    hg_layout_free(l);
    free(jpath);
}
END_TEST

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Megatron's bridge_ranks from a golden bridge's leaders: sorted(src | dest leaders). */
static json_t *golden_bridge_group(json_t *b)
{
    int v[256], n = 0;
    static const char *const keys[2] = { "src_leaders", "dest_leaders" };
    for (int k = 0; k < 2; k++) {
        json_t *x;
        size_t i;
        json_array_foreach(json_object_get(b, keys[k]), i, x) {
            ck_assert_int_lt(n, 256);
            v[n++] = (int)json_integer_value(x);
        }
    }
    qsort(v, (size_t)n, sizeof(int), cmp_int);
    json_t *out = json_array();
    for (int i = 0; i < n; i++)
        if (i == 0 || v[i] != v[i - 1])
            json_array_append_new(out, json_integer(v[i]));
    return out;
}

/* The GTP goldens (tests/golden-gtp, Megatron's HyperCommGrid with [tp, gtp_remat, cp,
 * dp, pp] and BridgeCommunicator's lanes): modules (gtp keys included, "feeds" too),
 * every kind's groups and the bridges equal the file, key order aside. */
START_TEST(golden_gtp_plan_json)
{
    static const char *const names[] = { "gtp_llm_only16", "gtp_vlm12", "gtp_fanin20",
                                         "gtp_colocated8" };
    char yaml[512], jpath[512];
    snprintf(yaml, sizeof(yaml), "%s/tests/golden-gtp/%s.yaml", SRCDIR, names[_i]);
    snprintf(jpath, sizeof(jpath), "%s/tests/golden-gtp/%s.json", SRCDIR, names[_i]);
    json_t *want = load_json(jpath);
    hg_layout *l = layout_of_file(yaml);
    size_t len;
    char *out = plan_json(l, &len);
    json_error_t jerr;
    json_t *got = json_loads(out, 0, &jerr);
    ck_assert_msg(got != NULL, "%s: plan is not JSON: %s", yaml, jerr.text);
    ck_assert_msg(json_equal(json_object_get(got, "modules"), json_object_get(want, "modules")),
                  "%s: modules differ", yaml);
    explain_groups(yaml, json_object_get(want, "groups"), json_object_get(got, "groups"));
    ck_assert(json_equal(json_object_get(got, "groups"), json_object_get(want, "groups")));
    /* Each bridge's own group is Megatron's bridge_ranks of the golden's leaders; the
     * golden files predate it, so it is compared there and left out of the rest. */
    json_t *gb;
    size_t bi;
    json_array_foreach(json_object_get(got, "bridges"), bi, gb) {
        json_t *wg = golden_bridge_group(json_array_get(json_object_get(want, "bridges"), bi));
        ck_assert_msg(json_equal(json_object_get(gb, "group"), wg), "%s: bridge %zu group", yaml,
                      bi);
        json_decref(wg);
        json_object_del(gb, "group");
    }
    ck_assert_msg(json_equal(json_object_get(got, "bridges"), json_object_get(want, "bridges")),
                  "%s: bridges differ", yaml);
    ck_assert_str_eq(json_string_value(json_object_get(got, "layout")),
                     json_string_value(json_object_get(want, "layout")));
    json_decref(got);
    json_decref(want);
    free(out);
    hg_layout_free(l);
}
END_TEST

/* Index of rank in a JSON list of ints, or -1. */
static int index_in(json_t *list, int rank)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
        if (json_integer_value(v) == rank)
            return (int)i;
    return -1;
}

/* One module's view of rank r against the golden groups of that module (mg): for each
 * kind the rank's group is the golden group holding it, index = that group's place in
 * the list and pos = the rank's place in the group; a rank in no group (a middle
 * pipeline stage for embd) has index -1; kinds a module lacks are absent from the file. */
static void check_view_groups(const char *yaml, json_t *mg, const hg_rank_view *p, int r)
{
    const hg_module *m = &p->module;
    const hg_coords *c = &p->coords;
    const char *name = m->name;
    /* Coordinates: the rank's number in both views, tp (expert_tp) fastest. */
    ck_assert_int_eq(p->module_rank, c->tp + m->tp * (c->cp + m->cp * (c->dp + m->dp * c->pp)));
    ck_assert_int_eq(p->module_rank,
                     c->expt_tp + m->expert_tp * (c->ep + m->ep * (c->expt_dp + m->expert_dp * c->pp)));
    ck_assert(c->tp < m->tp && c->cp < m->cp && c->dp < m->dp && c->pp < m->pp);
    ck_assert(c->expt_tp < m->expert_tp && c->ep < m->ep && c->expt_dp < m->expert_dp);
    ck_assert_ptr_nonnull(mg);
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &p->groups[k];
        json_t *list = json_object_get(mg, hg_kind_name((hg_kind)k));
        if (!list) {
            ck_assert_msg(!hg_kind_applies(m, (hg_kind)k), "%s: %s has %s", yaml, name,
                          hg_kind_name((hg_kind)k));
            ck_assert_int_eq(g->index, -1);
            continue;
        }
        ck_assert(hg_kind_applies(m, (hg_kind)k));
        int gi = -1, pos = -1;
        size_t i;
        json_t *grp;
        json_array_foreach(list, i, grp) {
            int at = index_in(grp, r);
            if (at >= 0) {
                ck_assert_msg(gi < 0, "%s: rank %d in two %s groups", yaml, r,
                              hg_kind_name((hg_kind)k));
                gi = (int)i;
                pos = at;
            }
        }
        ck_assert_msg(g->index == gi, "%s: rank %d %s %s: index %d, golden %d", yaml, r, name,
                      hg_kind_name((hg_kind)k), g->index, gi);
        if (gi < 0) {
            ck_assert(k == HG_KIND_EMBD || k == HG_KIND_POS_EMBD);
            continue;
        }
        json_t *members = json_array_get(list, (size_t)gi);
        ck_assert_int_eq(g->pos, pos);
        ck_assert_int_eq(g->size, (int)json_array_size(members));
        for (int j = 0; j < g->size; j++)
            ck_assert_int_eq(g->members[j], json_integer_value(json_array_get(members, (size_t)j)));
    }
}

/* The golden file's bridges as rank r must see them: one entry per bridge whose
 * boundary broadcast group holds r, in bridge order, {src, dest, side, role, peers,
 * leader, broadcast} as the rank plan writes them. A leader's peers are the other ends
 * of its links, ascending. */
static json_t *golden_rank_bridges(json_t *bridges, int r)
{
    json_t *out = json_array(), *b;
    size_t bi;
    json_array_foreach(bridges, bi, b) {
        static const char *const sides[2] = { "src", "dest" };
        for (int side = 0; side < 2; side++) {
            char key[32];
            snprintf(key, sizeof(key), "%s_broadcast", sides[side]);
            json_t *groups = json_object_get(b, key), *grp;
            snprintf(key, sizeof(key), "%s_leaders", sides[side]);
            json_t *leaders = json_object_get(b, key);
            size_t gi;
            json_array_foreach(groups, gi, grp) {
                if (index_in(grp, r) < 0)
                    continue;
                int leader = (int)json_integer_value(json_array_get(leaders, gi));
                json_t *peers = json_array(), *link;
                size_t li;
                if (leader == r)
                    json_array_foreach(json_object_get(b, "links"), li, link)
                        if (json_integer_value(json_array_get(link, (size_t)side)) == r)
                            json_array_append(peers, json_array_get(link, (size_t)!side));
                const char *role = leader != r ? "member" : side == 0 ? "sender" : "receiver";
                json_array_append_new(
                    out, json_pack("{s:O, s:O, s:s, s:s, s:o, s:i, s:O, s:o}", "src",
                                   json_object_get(b, "src"), "dest", json_object_get(b, "dest"),
                                   "side", sides[side], "role", role, "peers", peers, "leader",
                                   leader, "broadcast", grp, "group", golden_bridge_group(b)));
            }
        }
    }
    return out;
}

/* The rank plan (JSON) of a view, parsed. */
static json_t *rank_plan(const hg_rank_view *p)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hg_plan_write_rank_json(p, f, NULL), 0);
    fclose(f);
    json_error_t jerr;
    json_t *j = json_loads(buf, 0, &jerr);
    ck_assert_msg(j != NULL, "rank plan is not JSON: %s", jerr.text);
    free(buf);
    return j;
}

/* Every rank's view, checked against the golden whole-layout groups and bridges. In a
 * colocated layout the view is the language module's and per_module holds every
 * module's, each checked the same way. */
START_TEST(golden_rank_views)
{
    const char *yaml = goldens.gl_pathv[_i];
    char *jpath = golden_json_path(yaml);
    json_t *want = load_json(jpath);
    hg_layout *l = layout_of_file(yaml);
    json_t *mods = json_object_get(want, "modules");
    json_t *groups = json_object_get(want, "groups");
    json_t *bridges = json_object_get(want, "bridges");
    int world = hg_layout_world_size(l);
    int colocated = strcmp(json_string_value(json_object_get(want, "layout")), "colocated") == 0;
    size_t nbridge_roles = 0;

    for (int r = 0; r < world; r++) {
        hg_rank_view p;
        hg_error err;
        hg_error_clear(&err);
        ck_assert_int_eq(hg_rank_view_build(l, r, &p, &err), 0);
        ck_assert_int_eq(p.rank, r);
        ck_assert_int_eq(p.world_size, world);
        ck_assert_int_eq(p.layout, colocated ? HG_LAYOUT_COLOCATED : HG_LAYOUT_DISJOINT);

        /* The golden module holding r: colocated, the language module. */
        size_t mi;
        json_t *jm, *found = NULL;
        json_array_foreach(mods, mi, jm) {
            int off = (int)json_integer_value(json_object_get(jm, "offset"));
            int size = (int)json_integer_value(json_object_get(jm, "size"));
            const char *role = json_string_value(json_object_get(jm, "role"));
            if (colocated ? strcmp(role, "language") == 0 : r >= off && r < off + size) {
                found = jm;
                break;
            }
        }
        ck_assert_ptr_nonnull(found);
        ck_assert_int_eq(p.module_index, (int)mi);
        ck_assert_int_eq(hg_layout_module_of(l, r), (int)mi);
        const char *name = json_string_value(json_object_get(found, "name"));
        ck_assert_str_eq(p.module.name, name);
        ck_assert_int_eq(p.module_rank, r - (int)json_integer_value(json_object_get(found, "offset")));
        check_view_groups(yaml, json_object_get(groups, name), &p, r);

        if (colocated) {
            ck_assert_int_eq(p.nmodules_here, (int)json_array_size(mods));
            ck_assert_int_eq(p.nbridges, 0);
            json_array_foreach(mods, mi, jm) {
                const hg_rank_view *v = &p.per_module[mi];
                const char *mname = json_string_value(json_object_get(jm, "name"));
                ck_assert_str_eq(v->module.name, mname);
                ck_assert_int_eq(v->module_index, (int)mi);
                ck_assert_int_eq(v->module.offset, 0);
                ck_assert_int_eq(v->module_rank, r);
                ck_assert_int_eq(v->nbridges, 0);
                check_view_groups(yaml, json_object_get(groups, mname), v, r);
                /* hg_rank_view_build_module gives the same view */
                hg_rank_view one;
                ck_assert_int_eq(hg_rank_view_build_module(l, r, (int)mi, &one, NULL), 0);
                ck_assert_int_eq(one.coords.dp, v->coords.dp);
                check_view_groups(yaml, json_object_get(groups, mname), &one, r);
                hg_rank_view_free(&one);
            }
        } else {
            ck_assert_int_eq(p.nmodules_here, 0);
            ck_assert_ptr_null(p.per_module);
        }

        /* Bridges: the view's roles and the rank plan's "bridges" both equal what the
         * golden file's bridges say about r. */
        json_t *want_b = golden_rank_bridges(bridges, r);
        json_t *plan = rank_plan(&p);
        json_t *got_b = json_object_get(plan, "bridges");
        if (!json_equal(want_b, got_b)) {
            char *a = json_dumps(want_b, JSON_COMPACT), *b = json_dumps(got_b, JSON_COMPACT);
            ck_abort_msg("%s: rank %d bridges differ:\n  golden %.600s\n  plan   %.600s", yaml, r,
                         a, b);
        }
        ck_assert_int_eq(p.nbridges, (int)json_array_size(want_b));
        nbridge_roles += (size_t)p.nbridges;
        for (int i = 0; i < p.nbridges; i++) {
            const hg_rank_bridge *rb = &p.bridges[i];
            const hg_bridge *b = hg_layout_bridge(l, (size_t)rb->bridge);
            ck_assert_ptr_nonnull(b);
            ck_assert_int_eq(rb->src, b->src);
            ck_assert_int_eq(rb->dest, b->dest);
            ck_assert_int_eq(rb->mode, b->mode);
            ck_assert_str_eq(rb->src_name, hg_layout_module(l, (size_t)b->src)->name);
            ck_assert_int_eq(rb->side == HG_BRIDGE_SRC ? b->src : b->dest, p.module_index);
            /* the broadcast group is this view's tp_cp group */
            ck_assert_int_eq(rb->group_kind, HG_KIND_TP_CP);
            ck_assert_int_eq(rb->group_index, p.groups[HG_KIND_TP_CP].index);
            ck_assert_int_eq(rb->group_index, hg_bridge_broadcast_group(l, b, rb->side, rb->replica));
            ck_assert_ptr_eq(rb->broadcast, p.groups[HG_KIND_TP_CP].members);
            ck_assert_int_eq(rb->broadcast[rb->pos], r);
            ck_assert_int_eq(rb->leader, hg_bridge_leader(l, b, rb->side, rb->replica));
            if (i)
                ck_assert_int_gt(rb->bridge, p.bridges[i - 1].bridge);
        }
        json_t *jmods = json_object_get(plan, "modules");
        ck_assert_int_eq(jmods != NULL, colocated);
        if (colocated) {
            ck_assert_uint_eq(json_array_size(jmods), json_array_size(mods));
            json_t *e;
            json_array_foreach(jmods, mi, e) {
                ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "module"), "name")),
                                 json_string_value(json_object_get(json_array_get(mods, mi), "name")));
                ck_assert_int_eq(json_integer_value(json_object_get(e, "module_rank")), r);
                ck_assert_ptr_nonnull(json_object_get(e, "coords"));
                ck_assert_ptr_nonnull(json_object_get(e, "groups"));
            }
        }
        json_decref(plan);
        json_decref(want_b);
        hg_rank_view_free(&p);
        ck_assert_ptr_null(p.storage);
        ck_assert_ptr_null(p.bridges);
        ck_assert_ptr_null(p.per_module);
    }
    /* Every link's two ends and every boundary group member was seen. */
    size_t want_roles = 0, bi;
    json_t *b;
    json_array_foreach(bridges, bi, b) {
        json_t *g;
        size_t gi;
        json_array_foreach(json_object_get(b, "src_broadcast"), gi, g)
            want_roles += json_array_size(g);
        json_array_foreach(json_object_get(b, "dest_broadcast"), gi, g)
            want_roles += json_array_size(g);
    }
    ck_assert_uint_eq(nbridge_roles, want_roles);
    json_decref(want);
    hg_layout_free(l);
    free(jpath);
}
END_TEST

/* ---- brute force on shapes the goldens do not cover ---- */

/* A group holds the ranks that agree on every dim outside the kind; members ascend;
 * groups are ordered by their lowest member. Embedding groups: the first (embd: and
 * last) rank of each pp group, pp groups in order. Compares with hg_group_*.
 *
 * The reference is O(size) per kind: every rank's key (its coordinates outside the
 * kind, as one number), each key's group numbered in the order of its lowest rank, and
 * the groups' members laid out one after another by a counting sort over ascending
 * ranks. It runs on thousands of shapes, so it compares silently: each ck_assert that
 * passes still sends its file and line to Check's parent (_mark_point), which with the
 * earlier O(size^2) reference made this case take minutes under ASan. */
typedef struct ref_groups {
    hg_kind kind;
    int groups;
    int *start; /* group g's members: all[start[g] .. start[g + 1]) */
    int *all;
} ref_groups;

/* Reference group g of the kind into out; returns its size. */
static int ref_group(const ref_groups *ref, int g, int *out)
{
    int size = ref->start[g + 1] - ref->start[g];
    memcpy(out, ref->all + ref->start[g], (size_t)size * sizeof(int));
    if (ref->kind == HG_KIND_EMBD) {
        if (size > 1) {
            out[1] = out[size - 1];
            size = 2;
        }
    } else if (ref->kind == HG_KIND_POS_EMBD) {
        size = 1;
    }
    return size;
}

typedef struct walk_check {
    const ref_groups *ref;
    const char *shape;
    int next;    /* the group hg_group_walk should give next */
    int *scratch;
} walk_check;

#define SAME(got, want, shape, kind)                                                    \
    do {                                                                                \
        long long got_ = (got), want_ = (want);                                         \
        if (got_ != want_)                                                              \
            ck_abort_msg("%s: %s: %s is %lld, want %lld", shape, hg_kind_name(kind), #got, \
                         got_, want_);                                                  \
    } while (0)

static void walk_one(void *ctx, const int *members, int size)
{
    walk_check *wc = ctx;
    hg_kind k = wc->ref->kind;
    if (wc->next >= wc->ref->groups)
        ck_abort_msg("%s: %s: hg_group_walk gives more than %d groups", wc->shape,
                     hg_kind_name(k), wc->ref->groups);
    SAME(size, ref_group(wc->ref, wc->next, wc->scratch), wc->shape, k);
    for (int j = 0; j < size; j++)
        if (members[j] != wc->scratch[j])
            ck_abort_msg("%s: %s: hg_group_walk's group %d member %d is %d, want %d", wc->shape,
                         hg_kind_name(k), wc->next, j, members[j], wc->scratch[j]);
    wc->next++;
}

static void brute_force_check(const hg_module *m)
{
    /* { view (0 dense, 1 expert), dims mask }: dense [tp, gtp_remat, cp, dp, pp],
     * expert [expert_tp, ep, expert_gtp_remat, expert_dp, pp]. */
    enum { T = 1, G = 2, C = 4, D = 8, P = 16, ET = 1, EP = 2, EG = 4, ED = 8 };
    static const unsigned masks[HG_KIND_COUNT][2] = {
        [HG_KIND_TP] = { 0, T }, [HG_KIND_CP] = { 0, C }, [HG_KIND_PP] = { 0, P },
        [HG_KIND_DP] = { 0, D }, [HG_KIND_DP_CP] = { 0, C | D }, [HG_KIND_TP_CP] = { 0, T | C },
        [HG_KIND_MP] = { 0, T | G | P }, [HG_KIND_TP_DP] = { 0, T | G | D },
        [HG_KIND_TP_DP_CP] = { 0, T | G | C | D }, [HG_KIND_TP_CP_DP_PP] = { 0, 31 },
        [HG_KIND_EP] = { 1, EP }, [HG_KIND_EXPT_TP] = { 1, ET }, [HG_KIND_EXPT_DP] = { 1, ED },
        [HG_KIND_TP_EP] = { 1, ET | EP }, [HG_KIND_TP_EP_PP] = { 1, ET | EP | P },
        [HG_KIND_EMBD] = { 0, P }, [HG_KIND_POS_EMBD] = { 0, P },
        [HG_KIND_GTP_REMAT] = { 0, G }, [HG_KIND_GTP_REMAT_DP_CP] = { 0, G | C | D },
        [HG_KIND_EXPT_GTP_REMAT] = { 1, EG }, [HG_KIND_TP_EP_GTP_REMAT_PP] = { 1, ET | EP | EG | P },
        [HG_KIND_EP_GTP_REMAT_DP] = { 1, EG | ED },
    };
    int n = m->size;
    const int vdims[2][5] = { { m->tp, m->gtp_remat, m->cp, m->dp, m->pp },
                              { m->expert_tp, m->ep, m->expert_gtp_remat, m->expert_dp, m->pp } };
    int *coords = malloc((size_t)n * 10 * sizeof(int)); /* rank r, view v: coords[(r*2+v)*5+i] */
    int *key = malloc((size_t)n * sizeof(int));
    int *gid = malloc((size_t)n * sizeof(int));   /* by key: its group, or -1 */
    int *start = malloc(((size_t)n + 1) * sizeof(int));
    int *fill = malloc((size_t)n * sizeof(int));
    int *all = malloc((size_t)n * sizeof(int));
    int *want = malloc((size_t)n * sizeof(int));
    int *got = malloc((size_t)n * sizeof(int));
    ck_assert(coords && key && gid && start && fill && all && want && got);
    char shape[160];
    snprintf(shape, sizeof shape, "shape tp%d g%d cp%d dp%d pp%d etp%d ep%d eg%d edp%d", m->tp,
             m->gtp_remat, m->cp, m->dp, m->pp, m->expert_tp, m->ep, m->expert_gtp_remat,
             m->expert_dp);
    for (int r = 0; r < n; r++)
        for (int v = 0; v < 2; v++) {
            int rest = r;
            for (int i = 0; i < 5; i++) {
                coords[(r * 2 + v) * 5 + i] = rest % vdims[v][i];
                rest /= vdims[v][i];
            }
        }
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        int view = (int)masks[k][0];
        unsigned mask = masks[k][1];
        const int *dims = vdims[view];
        /* key: the coordinates outside the kind, as one number (below n) */
        for (int r = 0; r < n; r++) {
            const int *c = &coords[(r * 2 + view) * 5];
            int kv = 0, mul = 1;
            for (int i = 0; i < 5; i++)
                if (!(mask & (1u << i))) {
                    kv += c[i] * mul;
                    mul *= dims[i];
                }
            if (kv >= n)
                ck_abort_msg("%s: key %d of rank %d is not below %d", shape, kv, r, n);
            key[r] = kv;
            gid[r] = -1;
        }
        memset(start, 0, ((size_t)n + 1) * sizeof(int));
        int groups = 0;
        for (int r = 0; r < n; r++) {
            if (gid[key[r]] < 0)
                gid[key[r]] = groups++;
            start[gid[key[r]] + 1]++;
        }
        for (int g = 0; g < groups; g++) {
            start[g + 1] += start[g];
            fill[g] = start[g];
        }
        for (int r = 0; r < n; r++)
            all[fill[gid[key[r]]]++] = r + m->offset;
        ref_groups ref = { (hg_kind)k, groups, start, all };
        SAME(hg_group_count(m, (hg_kind)k), groups, shape, (hg_kind)k);
        for (int g = 0; g < groups; g++) {
            int size = ref_group(&ref, g, want);
            SAME(hg_group_size(m, (hg_kind)k, g), size, shape, (hg_kind)k);
            hg_group_members(m, (hg_kind)k, g, got);
            for (int j = 0; j < size; j++)
                if (got[j] != want[j])
                    ck_abort_msg("%s: %s group %d member %d is %d, want %d", shape,
                                 hg_kind_name((hg_kind)k), g, j, got[j], want[j]);
        }
        /* hg_group_walk gives the same groups, in the same order. */
        walk_check wc = { &ref, shape, 0, want };
        hg_group_walk(m, (hg_kind)k, got, walk_one, &wc);
        SAME(wc.next, groups, shape, (hg_kind)k);
    }
    free(coords);
    free(key);
    free(gid);
    free(start);
    free(fill);
    free(all);
    free(want);
    free(got);
}

START_TEST(brute_force_shapes)
{
    static const int vals[] = { 1, 2, 3, 4 };
    int shapes = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int e = 0; e < 4; e++)
                    for (int g = 1; g <= 2; g++) {
                        /* gtp_remat 2 on the smaller shapes only: all of them would be 4.6
                         * times the ranks, past the 5 s a case may take under ASan */
                        if (g == 2 && (vals[b] > 2 || vals[e] > 2))
                            continue;
                        hg_module m = { .role = HG_ROLE_LANGUAGE, .offset = 7 };
                        m.tp = vals[a], m.cp = vals[b], m.dp = vals[c], m.pp = vals[e];
                        m.gtp_remat = g;
                        m.size = m.tp * m.gtp_remat * m.cp * m.dp * m.pp;
                        /* every expert factorization of size/pp, expert_gtp_remat 1 or 2 */
                        int per_stage = m.size / m.pp;
                        for (int eg = 1; eg <= (g == 2 ? 2 : 1); eg++)
                            for (int etp = 1; etp <= per_stage; etp++) {
                                if (per_stage % (etp * eg))
                                    continue;
                                for (int ep = 1; ep <= per_stage / (etp * eg); ep++) {
                                    if ((per_stage / (etp * eg)) % ep)
                                        continue;
                                    m.expert_tp = etp;
                                    m.ep = ep;
                                    m.expert_gtp_remat = eg;
                                    m.expert_dp = per_stage / (etp * ep * eg);
                                    brute_force_check(&m);
                                    shapes++;
                                }
                            }
                    }
    ck_assert_int_gt(shapes, 1000);
}
END_TEST

/* Rank views against the whole-layout groups on a layout with three modules, odd
 * sizes and pp > 2 (embd holds the first and last stage; middle stages none). */
START_TEST(rank_views_match_groups)
{
    hg_layout *l = layout_of_text("version: 1\nmodules:\n"
                                  "  - {name: a, role: encoder, tp: 3, dp: 1}\n"
                                  "  - {name: b, role: encoder, dp: 5, feeds: []}\n"
                                  "  - {name: lm, role: language, tp: 2, cp: 1, dp: 3, pp: 3, "
                                  "moe: {ep: 3, expert_tp: 2}}\n");
    ck_assert_int_eq(hg_layout_world_size(l), 3 + 5 + 18);
    int members[64];
    for (int r = 0; r < hg_layout_world_size(l); r++) {
        hg_rank_view p;
        ck_assert_int_eq(hg_rank_view_build(l, r, &p, NULL), 0);
        const hg_module *m = hg_layout_module(l, (size_t)p.module_index);
        for (int k = 0; k < HG_KIND_COUNT; k++) {
            const hg_rank_group *g = &p.groups[k];
            if (!hg_kind_applies(m, (hg_kind)k)) {
                ck_assert_int_eq(g->index, -1);
                continue;
            }
            int holder = -1, at = -1;
            for (int gi = 0; gi < hg_group_count(m, (hg_kind)k); gi++) {
                int size = hg_group_size(m, (hg_kind)k, gi);
                hg_group_members(m, (hg_kind)k, gi, members);
                for (int j = 0; j < size; j++)
                    if (members[j] == r)
                        holder = gi, at = j;
            }
            ck_assert_int_eq(g->index, holder);
            if (holder < 0)
                continue;
            ck_assert_int_eq(g->pos, at);
            ck_assert_int_eq(g->members[g->pos], r);
        }
        /* lm's middle stage (pp coordinate 1) holds no embedding; the ends do */
        if (p.module_index == 2) {
            int stage = p.coords.pp;
            ck_assert_int_eq(p.groups[HG_KIND_EMBD].index >= 0, stage != 1);
            ck_assert_int_eq(p.groups[HG_KIND_POS_EMBD].index >= 0, stage == 0);
            if (stage == 2)
                ck_assert_int_eq(p.groups[HG_KIND_EMBD].pos, 1);
        }
        hg_rank_view_free(&p);
    }
    hg_layout_free(l);
}
END_TEST

/* ---- module_of, rank view errors, kinds ---- */

START_TEST(module_of_boundaries)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/vlm8_moe.yaml");
    ck_assert_int_eq(hg_layout_module_of(l, -1), -1);
    ck_assert_int_eq(hg_layout_module_of(l, 0), 0);
    ck_assert_int_eq(hg_layout_module_of(l, 3), 0);
    ck_assert_int_eq(hg_layout_module_of(l, 4), 1);
    ck_assert_int_eq(hg_layout_module_of(l, 7), 1);
    ck_assert_int_eq(hg_layout_module_of(l, 8), -1);
    ck_assert_int_eq(hg_layout_module_of(l, 1 << 30), -1);
    hg_layout_free(l);

    /* Five modules of sizes 1, 2, 1, 3, 4: every rank against a linear scan. */
    l = layout_of_text("version: 1\nmodules:\n"
                       "  - {name: m0, role: encoder, dp: 1}\n"
                       "  - {name: m1, role: encoder, dp: 2}\n"
                       "  - {name: m2, role: encoder, dp: 1}\n"
                       "  - {name: m3, role: encoder, dp: 3, feeds: []}\n"
                       "  - {name: m4, role: language, tp: 2, dp: 2}\n");
    static const int owner[] = { 0, 1, 1, 2, 3, 3, 3, 4, 4, 4, 4 };
    ck_assert_int_eq(hg_layout_world_size(l), 11);
    for (int r = 0; r < 11; r++)
        ck_assert_int_eq(hg_layout_module_of(l, r), owner[r]);
    ck_assert_int_eq(hg_layout_module_of(l, 11), -1);
    ck_assert_int_eq(hg_layout_module(l, 4)->offset, 7);
    hg_layout_free(l);

    /* One module, one rank. */
    l = layout_of_text("version: 1\nmodules:\n  - {name: lm, role: language, dp: 1}\n");
    ck_assert_int_eq(hg_layout_module_of(l, 0), 0);
    ck_assert_int_eq(hg_layout_module_of(l, 1), -1);
    hg_layout_free(l);
}
END_TEST

START_TEST(rank_view_out_of_range)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/vlm8_moe.yaml");
    hg_rank_view p;
    hg_error err;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_rank_view_build(l, 8, &p, &err), HG_EINVAL);
    ck_assert_int_eq(err.code, HG_EINVAL);
    ck_assert_str_eq(err.msg, "rank 8 is outside the world [0, 8)");
    ck_assert_ptr_null(p.storage);
    hg_rank_view_free(&p); /* harmless on a failed build */
    ck_assert_int_eq(hg_rank_view_build(l, -1, &p, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "rank -1 is outside the world [0, 8)");
    hg_rank_view_free(NULL);
    hg_layout_free(l);
}
END_TEST

/* The kind of a name, -1 for none: names are unique, and only kinds have them. */
static int kind_from_name(const char *name)
{
    for (int k = 0; k < HG_KIND_COUNT; k++)
        if (strcmp(hg_kind_name((hg_kind)k), name) == 0)
            return k;
    return -1;
}

START_TEST(kind_names_round_trip)
{
    static const char *const names[HG_KIND_COUNT] = {
        "tp", "cp", "pp", "dp", "dp_cp", "tp_cp", "mp", "tp_dp", "tp_dp_cp", "tp_cp_dp_pp",
        "ep", "expt_tp", "expt_dp", "tp_ep", "tp_ep_pp", "embd", "pos_embd",
        /* issue 20, appended: the values above keep their numbers */
        "gtp_remat", "gtp_remat_dp_cp", "expt_gtp_remat", "tp_ep_gtp_remat_pp",
        "ep_gtp_remat_dp",
    };
    ck_assert_int_eq(HG_KIND_POS_EMBD, 16);
    ck_assert_int_eq(HG_KIND_GTP_REMAT, 17);
    ck_assert_int_eq(HG_KIND_EP_GTP_REMAT_DP, 21);
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        ck_assert_str_eq(hg_kind_name((hg_kind)k), names[k]);
        ck_assert_int_eq(kind_from_name(names[k]), k);
    }
    ck_assert_int_eq(kind_from_name("intra_dp_cp"), -1);
    ck_assert_int_eq(kind_from_name("TP"), -1);
    ck_assert_int_eq(kind_from_name(""), -1);
    ck_assert_int_eq(kind_from_name("tp "), -1);
    ck_assert_str_eq(hg_kind_name(HG_KIND_COUNT), "?");
    ck_assert_str_eq(hg_kind_name((hg_kind)-1), "?");
}
END_TEST

/* base.h's HG_DIMS: names in the plan's coords, module keys, environment names, and
 * the accessors in hg_dim order (the public hg_dim values). */
START_TEST(dims_table)
{
    static const char *const name[] = { "tp", "cp", "dp", "pp", "ep", "expt_tp", "expt_dp",
                                        "gtp_remat", "expt_gtp_remat" };
    static const char *const key[] = { "tp", "cp", "dp", "pp", "ep", "expert_tp", "expert_dp",
                                       "gtp_remat", "expert_gtp_remat" };
    static const char *const env[] = { "TP", "CP", "DP", "PP", "EP", "EXPT_TP", "EXPT_DP",
                                       "GTP_REMAT", "EXPT_GTP_REMAT" };
    hg_coords c = { .tp = 1, .cp = 2, .dp = 3, .pp = 4, .expt_tp = 6, .ep = 5, .expt_dp = 7,
                    .gtp_remat = 8, .expt_gtp_remat = 9 };
    hg_module m = { .tp = 11, .cp = 12, .dp = 13, .pp = 14, .ep = 15, .expert_tp = 16,
                    .expert_dp = 17, .gtp_remat = 18, .expert_gtp_remat = 19 };
    ck_assert_int_eq(HG_DIM_COUNT, 9);
    ck_assert_int_eq(HG_DIM_TP, 0);
    ck_assert_int_eq(HG_DIM_EXPT_DP, 6);
    for (int d = 0; d < HG_DIM_COUNT; d++) {
        ck_assert_str_eq(hg_dim_name((hg_dim)d), name[d]);
        ck_assert_str_eq(hg_dim_module_key((hg_dim)d), key[d]);
        ck_assert_str_eq(hg_dim_env_name((hg_dim)d), env[d]);
        ck_assert_int_eq(hg_coords_dim(&c, (hg_dim)d), d + 1);
        ck_assert_int_eq(hg_module_dim(&m, (hg_dim)d), d + 11);
    }
    ck_assert_int_eq(HG_DIM_EXPT_DP, 6); /* the old dims keep their values */
    ck_assert_int_eq(HG_DIM_GTP_REMAT, 7);
    ck_assert_int_eq(HG_DIM_EXPT_GTP_REMAT, 8);
    ck_assert_int_eq(hg_coords_dim(&c, (hg_dim)9), -1);
    ck_assert_int_eq(hg_module_dim(&m, (hg_dim)-1), -1);
    ck_assert_str_eq(hg_dim_name((hg_dim)9), "?");
}
END_TEST

START_TEST(kind_applies)
{
    hg_module enc = { .role = HG_ROLE_ENCODER }, lm = { .role = HG_ROLE_LANGUAGE };
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        int embd = k == HG_KIND_EMBD || k == HG_KIND_POS_EMBD;
        ck_assert_int_eq(hg_kind_applies(&enc, (hg_kind)k), !embd);
        ck_assert_int_eq(hg_kind_applies(&lm, (hg_kind)k), 1);
    }
}
END_TEST

/* ---- plan output ---- */

START_TEST(rank_json_vlm8_rank5)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/vlm8_moe.yaml");
    hg_rank_view p;
    ck_assert_int_eq(hg_rank_view_build(l, 5, &p, NULL), 0);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_int_eq(hg_plan_write_rank_json(&p, f, NULL), 0);
    fclose(f);
    ck_assert_str_eq(buf,
        "{\"hgrid_rank_plan\":1," KINDS_JSON ",\"world_size\":8,\"rank\":5,"
        "\"module\":{\"name\":\"language\",\"role\":\"language\",\"offset\":4,\"size\":4,\"tp\":2,"
        "\"cp\":1,\"dp\":2,\"pp\":1,\"ep\":4,\"expert_tp\":1,\"expert_dp\":1,\"gtp_remat\":1,"
        "\"expert_gtp_remat\":1},\"module_rank\":1,"
        "\"coords\":{\"tp\":1,\"cp\":0,\"dp\":0,\"pp\":0,\"ep\":1,\"expt_tp\":0,\"expt_dp\":0,"
        "\"gtp_remat\":0,\"expt_gtp_remat\":0},"
        "\"groups\":{\"tp\":{\"index\":0,\"rank\":1,\"members\":[4,5]},"
        "\"cp\":{\"index\":1,\"rank\":0,\"members\":[5]},"
        "\"pp\":{\"index\":1,\"rank\":0,\"members\":[5]},"
        "\"dp\":{\"index\":1,\"rank\":0,\"members\":[5,7]},"
        "\"dp_cp\":{\"index\":1,\"rank\":0,\"members\":[5,7]},"
        "\"tp_cp\":{\"index\":0,\"rank\":1,\"members\":[4,5]},"
        "\"mp\":{\"index\":0,\"rank\":1,\"members\":[4,5]},"
        "\"tp_dp\":{\"index\":0,\"rank\":1,\"members\":[4,5,6,7]},"
        "\"tp_dp_cp\":{\"index\":0,\"rank\":1,\"members\":[4,5,6,7]},"
        "\"tp_cp_dp_pp\":{\"index\":0,\"rank\":1,\"members\":[4,5,6,7]},"
        "\"ep\":{\"index\":0,\"rank\":1,\"members\":[4,5,6,7]},"
        "\"expt_tp\":{\"index\":1,\"rank\":0,\"members\":[5]},"
        "\"expt_dp\":{\"index\":1,\"rank\":0,\"members\":[5]},"
        "\"tp_ep\":{\"index\":0,\"rank\":1,\"members\":[4,5,6,7]},"
        "\"tp_ep_pp\":{\"index\":0,\"rank\":1,\"members\":[4,5,6,7]},"
        "\"embd\":{\"index\":1,\"rank\":0,\"members\":[5]},"
        "\"pos_embd\":{\"index\":1,\"rank\":0,\"members\":[5]},"
        "\"gtp_remat\":{\"index\":1,\"rank\":0,\"members\":[5]},"
        "\"gtp_remat_dp_cp\":{\"index\":1,\"rank\":0,\"members\":[5,7]},"
        "\"expt_gtp_remat\":{\"index\":1,\"rank\":0,\"members\":[5]},"
        "\"tp_ep_gtp_remat_pp\":{\"index\":0,\"rank\":1,\"members\":[4,5,6,7]},"
        "\"ep_gtp_remat_dp\":{\"index\":1,\"rank\":0,\"members\":[5]}},"
        "\"bridges\":[{\"src\":\"radio_encoder\",\"dest\":\"language\",\"side\":\"dest\","
        "\"role\":\"member\",\"peers\":[],\"leader\":4,\"broadcast\":[4,5],\"group\":[1,3,4,6]}],"
        "\"bridge_groups\":[{\"src\":\"radio_encoder\",\"dest\":\"language\",\"group\":[1,3,4,6],"
        "\"src_broadcast\":[[0,1],[2,3]],\"dest_broadcast\":[[4,5],[6,7]]}]}\n");
    free(buf);
    hg_rank_view_free(&p);
    hg_layout_free(l);
}
END_TEST

/* A middle pipeline stage is in no embedding group: null in the rank JSON. An
 * encoder has no embedding kinds at all. */
START_TEST(rank_json_embd_null_and_absent)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/enc4_llm_pp4_20.yaml");
    hg_rank_view p;
    /* language: offset 4, tp2 dp2 pp4: rank 4 + 4*1 = 8 is stage 1 */
    ck_assert_int_eq(hg_rank_view_build(l, 8, &p, NULL), 0);
    ck_assert_int_eq(p.coords.pp, 1);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_int_eq(hg_plan_write_rank_json(&p, f, NULL), 0);
    fclose(f);
    json_t *j = json_loads(buf, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *g = json_object_get(j, "groups");
    ck_assert(json_is_null(json_object_get(g, "embd")));
    ck_assert(json_is_null(json_object_get(g, "pos_embd")));
    ck_assert_uint_eq(json_object_size(g), HG_KIND_COUNT);
    json_decref(j);
    free(buf);
    hg_rank_view_free(&p);

    ck_assert_int_eq(hg_rank_view_build(l, 0, &p, NULL), 0);
    buf = NULL;
    f = open_memstream(&buf, &n);
    ck_assert_int_eq(hg_plan_write_rank_json(&p, f, NULL), 0);
    fclose(f);
    j = json_loads(buf, 0, NULL);
    g = json_object_get(j, "groups");
    ck_assert_ptr_null(json_object_get(g, "embd"));
    ck_assert_uint_eq(json_object_size(g), HG_KIND_COUNT - 2);
    json_decref(j);
    free(buf);
    hg_rank_view_free(&p);
    hg_layout_free(l);
}
END_TEST

START_TEST(rank_table_vlm8_rank0)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/vlm8_moe.yaml");
    hg_rank_view p;
    ck_assert_int_eq(hg_rank_view_build(l, 0, &p, NULL), 0);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_int_eq(hg_plan_write_rank_table(&p, f, NULL), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "rank 0 of 8: module radio_encoder (encoder), module rank 0 of 4\n"));
    ck_assert_ptr_nonnull(strstr(buf, "dense:  tp 0/2  cp 0/1  dp 0/2  pp 0/1\n"));
    ck_assert_ptr_nonnull(strstr(buf, "expert: expt_tp 0/1  ep 0/1  expt_dp 0/4  pp 0/1\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\ndp                      0     0  [0, 2]\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\nexpt_dp                 0     0  [0, 1, 2, 3]\n"));
    ck_assert_ptr_null(strstr(buf, "embd"));
    free(buf);
    hg_rank_view_free(&p);
    hg_layout_free(l);
}
END_TEST

START_TEST(table_small_and_large)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/vlm8_moe.yaml");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_int_eq(hg_plan_write_table(l, f, NULL), 0);
    fclose(f);
    ck_assert_int_eq(strncmp(buf, "hgrid plan: 8 ranks, 2 modules\n", 31), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\nlanguage             language 4-7                   4    2    1"
                                      "     2    1     4         1         1\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\n7     language                1    0    1    0     3       0       0\n"));
    free(buf);
    hg_layout_free(l);

    /* Over 64 ranks the per-rank list is summarised. */
    l = layout_of_file(SRCDIR "/tests/golden/big128.yaml");
    buf = NULL;
    f = open_memstream(&buf, &n);
    ck_assert_int_eq(hg_plan_write_table(l, f, NULL), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "\n128 ranks: per-rank coordinates not listed (use --rank N for "
                                      "one rank's view)\n"));
    ck_assert_ptr_null(strstr(buf, "\n127 "));
    free(buf);
    hg_layout_free(l);
}
END_TEST

/* Writing to a stream that fails is an I/O error, not a silent success. */
START_TEST(plan_write_error)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/big128.yaml");
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        return; /* no /dev/full here */
    hg_error err;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_plan_write_json_named(l, NULL, f, &err), HG_EIO);
    ck_assert_str_eq(err.msg, "cannot write the plan: No space left on device");
    fclose(f);
    hg_layout_free(l);
}
END_TEST

/* The output of one writer call into a string, with its status. */
typedef int (*layout_writer)(const hg_layout *l, FILE *out, hg_error *err);
static char *write_to_string(const hg_layout *l, layout_writer fn)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_ptr_nonnull(f);
    hg_error err;
    hg_error_clear(&err);
    ck_assert_msg(fn(l, f, &err) == 0, "%s", err.msg);
    fclose(f);
    return buf;
}

/* Every writer reports a failing stream the same way, with its cause. */
START_TEST(plan_write_error_every_writer)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/vlm8_moe.yaml");
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        hg_layout_free(l);
        return;
    }
    hg_error err;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_plan_write_table(l, f, &err), HG_EIO);
    ck_assert_str_eq(err.msg, "cannot write the plan: No space left on device");
    clearerr(f);
    ck_assert_int_eq(hg_plan_write_json_named(l, "x.yaml", f, &err), HG_EIO);
    ck_assert_str_eq(err.msg, "cannot write the plan: No space left on device");
    clearerr(f);
    hg_rank_view p;
    ck_assert_int_eq(hg_rank_view_build(l, 5, &p, &err), 0);
    hg_error_clear(&err);
    ck_assert_int_eq(hg_plan_write_rank_json(&p, f, &err), HG_EIO);
    ck_assert_str_eq(err.msg, "cannot write the plan: No space left on device");
    clearerr(f);
    hg_error_clear(&err);
    ck_assert_int_eq(hg_plan_write_rank_table(&p, f, &err), HG_EIO);
    ck_assert_str_eq(err.msg, "cannot write the plan: No space left on device");
    hg_rank_view_free(&p);
    fclose(f);
    hg_layout_free(l);
}
END_TEST

static int write_json_named_a(const hg_layout *l, FILE *out, hg_error *err)
{
    return hg_plan_write_json_named(l, "configs/a \"b\".yaml", out, err);
}

static int write_json_named_bytes(const hg_layout *l, FILE *out, hg_error *err)
{
    /* Latin-1 e-acute, a truncated 3-byte sequence, an overlong '/', then valid UTF-8. */
    return hg_plan_write_json_named(l, "caf\xe9-\xe2\x82-\xc0\xaf-\xc3\xa9.yaml", out, err);
}

static int write_json_plain(const hg_layout *l, FILE *out, hg_error *err)
{
    return hg_plan_write_json_named(l, NULL, out, err);
}

/* "config" comes right after "hgrid_plan"; the rest is the unnamed plan's bytes. */
START_TEST(plan_json_named)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/vlm8_moe.yaml");
    char *plain = write_to_string(l, write_json_plain);
    char *named = write_to_string(l, write_json_named_a);
    const char *head = "{\"hgrid_plan\":1,\"config\":\"configs/a \\\"b\\\".yaml\",\"layout\":"
                       "\"disjoint\",\"world_size\":8,";
    ck_assert_int_eq(strncmp(named, head, strlen(head)), 0);
    ck_assert_str_eq(strstr(named, "\"layout\":"), strstr(plain, "\"layout\":"));
    ck_assert_int_eq(strncmp(plain, "{\"hgrid_plan\":1,\"layout\":\"disjoint\",\"world_size\":8,", 51), 0);
    json_error_t jerr;
    json_t *j = json_loads(named, 0, &jerr);
    ck_assert_msg(j != NULL, "%s", jerr.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "config")), "configs/a \"b\".yaml");
    json_decref(j);
    free(named);

    /* Bytes that are not UTF-8 become U+FFFD, one per byte; valid UTF-8 stays. */
    named = write_to_string(l, write_json_named_bytes);
    head = "{\"hgrid_plan\":1,\"config\":\"caf\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd"
           "\xef\xbf\xbd-\xc3\xa9.yaml\",\"layout\":\"disjoint\",\"world_size\":8,";
    ck_assert_int_eq(strncmp(named, head, strlen(head)), 0);
    j = json_loads(named, 0, &jerr);
    ck_assert_msg(j != NULL, "%s", jerr.text);
    json_decref(j);
    free(named);
    free(plain);
    hg_layout_free(l);
}
END_TEST

/* At HG_MAX_WORLD ranks (2^24) the numbers are 7 and 8 digits wide: the columns
 * widen with them, and a long module name widens its own. */
START_TEST(table_aligned_at_max_world)
{
    hg_layout *l = layout_of_text("version: 1\nmodules:\n"
                                  "  - name: vision_encoder_with_a_long_name\n    role: encoder\n"
                                  "    tp: 2\n    dp: 4194304\n"
                                  "  - name: language\n    role: language\n    tp: 8\n    pp: 4\n"
                                  "    dp: 262144\n    moe:\n      ep: 8\n");
    ck_assert_int_eq(hg_layout_world_size(l), HG_MAX_WORLD);
    char *buf = write_to_string(l, hg_plan_write_table);
    const char *want =
        "hgrid plan: 16777216 ranks, 2 modules\n\n"
        "module                          role     ranks                size   tp   cp      dp"
        "   pp    ep expert_tp expert_dp\n"
        "vision_encoder_with_a_long_name encoder  0-8388607         8388608    2    1 4194304"
        "    1     1         1   8388608\n"
        "language                        language 8388608-16777215  8388608    8    1  262144"
        "    4     8         1    262144\n\n";
    ck_assert_int_eq(strncmp(buf, want, strlen(want)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\n16777216 ranks: per-rank coordinates not listed"));
    free(buf);

    hg_rank_view p;
    hg_error err;
    ck_assert_int_eq(hg_rank_view_build(l, HG_MAX_WORLD - 1, &p, &err), 0);
    char *rt = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&rt, &n);
    ck_assert_int_eq(hg_plan_write_rank_table(&p, f, NULL), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(rt, "\nkind                 group    rank  members\n"
                                     "tp                 1048575       7  [16777208, "));
    ck_assert_ptr_nonnull(strstr(rt, "\ntp_cp_dp_pp              0 8388607  [8388608, "));
    ck_assert_ptr_nonnull(strstr(rt, "\npos_embd                 -       -  (not a member)\n"));
    free(rt);
    hg_rank_view_free(&p);
    hg_layout_free(l);
}
END_TEST

/* The table lists each bridge with its mode, leaders per side and link count; a layout
 * of several modules with none says so; a colocated one says it is. */
START_TEST(table_bridges_and_colocated)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/two_encoders14.yaml");
    char *buf = write_to_string(l, hg_plan_write_table);
    ck_assert_int_eq(strncmp(buf, "hgrid plan: 14 ranks, 3 modules\n", 32), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\nbridges (leaders per side, one per dp replica):\n"
                                      "  bridge             mode       leaders links  group\n"
                                      "  audio -> language  fan-out     2 -> 4     4  [0, 1, 6, 8, 10, 12]\n"
                                      "  vision -> language fan-out     2 -> 4     4  [3, 5, 6, 8, 10, 12]\n\n"));
    free(buf);
    hg_layout_free(l);

    l = layout_of_file(SRCDIR "/tests/golden/bridge_fanin_pp16.yaml");
    buf = write_to_string(l, hg_plan_write_table);
    ck_assert_ptr_nonnull(strstr(buf, "\nbridge (leaders per side, one per dp replica):\n"));
    ck_assert_ptr_nonnull(strstr(buf, "  vision -> language fan-in      4 -> 2     4  [4, 5, 6, 7, 8, 10]\n"));
    free(buf);
    hg_layout_free(l);

    /* Past 8 members, the group's cell has its first three, its last and the count. */
    l = layout_of_text("version: 1\nmodules:\n  - {name: enc, role: encoder, dp: 8}\n"
                       "  - {name: lm, role: language, tp: 2, dp: 4}\n");
    buf = write_to_string(l, hg_plan_write_table);
    ck_assert_ptr_nonnull(strstr(buf, "  enc -> lm          fan-in      8 -> 4     8  "
                                      "[0, 1, 2, ..., 14] (12 ranks)\n"));
    free(buf);
    hg_layout_free(l);

    l = layout_of_file(SRCDIR "/tests/golden/big128.yaml");
    buf = write_to_string(l, hg_plan_write_table);
    ck_assert_ptr_nonnull(strstr(buf, "\nbridges: none\n"));
    free(buf);
    hg_layout_free(l);

    l = layout_of_file(SRCDIR "/tests/golden/llm_only8.yaml");
    buf = write_to_string(l, hg_plan_write_table);
    ck_assert_ptr_null(strstr(buf, "bridge"));
    free(buf);
    hg_layout_free(l);

    l = layout_of_file(SRCDIR "/tests/golden/colocated8.yaml");
    buf = write_to_string(l, hg_plan_write_table);
    ck_assert_int_eq(strncmp(buf, "hgrid plan: 8 ranks, 2 modules, colocated (every module spans "
                                  "every rank)\n", 72), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\nvision               encoder  0-7 "));
    ck_assert_ptr_nonnull(strstr(buf, "\nlanguage             language 0-7 "));
    ck_assert_ptr_null(strstr(buf, "bridge"));
    free(buf);
    hg_layout_free(l);
}
END_TEST

static char *rank_table(const hg_layout *l, int rank)
{
    hg_rank_view p;
    hg_error err;
    hg_error_clear(&err);
    ck_assert_msg(hg_rank_view_build(l, rank, &p, &err) == 0, "%s", err.msg);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_int_eq(hg_plan_write_rank_table(&p, f, NULL), 0);
    fclose(f);
    hg_rank_view_free(&p);
    return buf;
}

/* A rank's table names its bridge roles: side, role, leader, peers and its boundary
 * group; colocated, every module's coordinates and groups. */
START_TEST(rank_table_bridges_and_colocated)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/two_encoders14.yaml");
    char *buf = rank_table(l, 8);
    ck_assert_ptr_nonnull(strstr(buf, "\nbridges:\n"
        "  audio -> language (fan-out): dest side, receiver, leader 8, receives from [0]\n"
        "    broadcast: tp_cp group 1, [8, 9]\n"
        "    bridge group: [0, 1, 6, 8, 10, 12] (rank 3 of 6)\n"
        "  vision -> language (fan-out): dest side, receiver, leader 8, receives from [3]\n"
        "    broadcast: tp_cp group 1, [8, 9]\n"
        "    bridge group: [3, 5, 6, 8, 10, 12] (rank 3 of 6)\n"));
    free(buf);
    buf = rank_table(l, 3);
    ck_assert_ptr_nonnull(strstr(buf, "\nbridges:\n"
        "  vision -> language (fan-out): src side, sender, leader 3, sends to [6, 8]\n"
        "    broadcast: tp_cp group 0, [2, 3]\n"
        "    bridge group: [3, 5, 6, 8, 10, 12] (rank 0 of 6)\n"));
    free(buf);
    buf = rank_table(l, 2);
    ck_assert_ptr_nonnull(strstr(buf, "  vision -> language (fan-out): src side, member, leader 3\n"
                                      "    broadcast: tp_cp group 0, [2, 3]\n"
                                      "    bridge group: [3, 5, 6, 8, 10, 12] (not a member)\n"));
    free(buf);
    hg_layout_free(l);

    /* A middle pipeline stage is at no bridge's boundary. */
    l = layout_of_file(SRCDIR "/tests/golden/enc4_llm_pp4_20.yaml");
    buf = rank_table(l, 8);
    ck_assert_ptr_null(strstr(buf, "bridges"));
    free(buf);
    hg_layout_free(l);

    l = layout_of_file(SRCDIR "/tests/golden/colocated8.yaml");
    buf = rank_table(l, 3);
    ck_assert_int_eq(strncmp(buf, "rank 3 of 8: colocated, in all 2 modules\n\n"
                                  "module vision (encoder), module rank 3 of 8\n"
                                  "dense:  tp 0/1  cp 0/1  dp 3/8  pp 0/1\n", 113), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\n\nmodule language (language), module rank 3 of 8\n"
                                      "dense:  tp 1/2  cp 0/1  dp 1/2  pp 0/2\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\npos_embd                3     0  [3]\n"));
    ck_assert_ptr_null(strstr(buf, "bridges"));
    free(buf);
    hg_layout_free(l);
}
END_TEST

/* hg_rank_view_build_module: any module of a colocated layout; in a disjoint one only
 * the module holding the rank. */
START_TEST(rank_view_build_module_errors)
{
    hg_layout *l = layout_of_file(SRCDIR "/tests/golden/vlm8_moe.yaml");
    hg_rank_view p;
    hg_error err;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_rank_view_build_module(l, 5, 1, &p, &err), 0);
    ck_assert_int_eq(p.module_rank, 1);
    ck_assert_int_eq(p.nbridges, 0); /* the module's view alone */
    ck_assert_ptr_null(p.per_module);
    hg_rank_view_free(&p);
    ck_assert_int_eq(hg_rank_view_build_module(l, 5, 0, &p, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "rank 5 is not in module radio_encoder (ranks 0-3)");
    ck_assert_ptr_null(p.storage);
    ck_assert_int_eq(hg_rank_view_build_module(l, 5, 2, &p, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "module 2 does not exist (the layout has 2)");
    ck_assert_int_eq(hg_rank_view_build_module(l, 8, 1, &p, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "rank 8 is outside the world [0, 8)");
    hg_rank_view_free(&p);
    hg_layout_free(l);

    l = layout_of_file(SRCDIR "/tests/golden/colocated8.yaml");
    for (int mi = 0; mi < 2; mi++) {
        ck_assert_int_eq(hg_rank_view_build_module(l, 7, mi, &p, &err), 0);
        ck_assert_int_eq(p.module_index, mi);
        ck_assert_int_eq(p.module_rank, 7);
        ck_assert_int_eq(p.layout, HG_LAYOUT_COLOCATED);
        hg_rank_view_free(&p);
    }
    hg_layout_free(l);
}
END_TEST

/* Bridge arithmetic on shapes the goldens do not cover: every link joins a source
 * leader to a destination leader, each leader of the larger side has exactly one link,
 * each of the smaller side max/min; a rank's peers are exactly its links' other ends. */
START_TEST(bridge_links_brute_force)
{
    static const int dps[] = { 1, 2, 3, 4, 6, 8, 12 };
    int checked = 0;
    for (size_t a = 0; a < 7; a++)
        for (size_t c = 0; c < 7; c++) {
            int S = dps[a], D = dps[c];
            if (S % D && D % S)
                continue;
            char text[512];
            snprintf(text, sizeof(text),
                     "version: 1\nmodules:\n"
                     "  - {name: enc, role: encoder, tp: 2, pp: 2, dp: %d}\n"
                     "  - {name: lm, role: language, tp: 3, pp: 2, dp: %d}\n", S, D);
            hg_layout *l = layout_of_text(text);
            const hg_bridge *b = hg_layout_bridge(l, 0);
            ck_assert_ptr_nonnull(b);
            int world = hg_layout_world_size(l);
            int *sent = calloc((size_t)world, sizeof(int)), *recv = calloc((size_t)world, sizeof(int));
            ck_assert(sent && recv);
            for (int j = 0; j < b->nlinks; j++) {
                int s, r;
                hg_bridge_link(l, b, j, &s, &r);
                sent[s]++;
                recv[r]++;
                /* the sender lists r, the receiver lists s */
                hg_rank_view v;
                ck_assert_int_eq(hg_rank_view_build(l, s, &v, NULL), 0);
                ck_assert_int_eq(v.nbridges, 1);
                ck_assert_int_eq(v.bridges[0].role, HG_BRIDGE_SENDER);
                int found = 0;
                for (int k = 0; k < v.bridges[0].npeers; k++)
                    found += v.bridges[0].peers[k] == r;
                ck_assert_int_eq(found, 1);
                hg_rank_view_free(&v);
                ck_assert_int_eq(hg_rank_view_build(l, r, &v, NULL), 0);
                ck_assert_int_eq(v.bridges[0].role, HG_BRIDGE_RECEIVER);
                found = 0;
                for (int k = 0; k < v.bridges[0].npeers; k++)
                    found += v.bridges[0].peers[k] == s;
                ck_assert_int_eq(found, 1);
                hg_rank_view_free(&v);
            }
            int big = S > D ? S : D, small = S > D ? D : S;
            for (int r = 0; r < S; r++) {
                int lead = hg_bridge_leader(l, b, HG_BRIDGE_SRC, r);
                /* the last tp rank of the last stage of replica r */
                ck_assert_int_eq(lead, 1 + 2 * (r + S * 1));
                ck_assert_int_eq(sent[lead], S == big ? 1 : big / small);
            }
            for (int r = 0; r < D; r++) {
                int lead = hg_bridge_leader(l, b, HG_BRIDGE_DEST, r);
                ck_assert_int_eq(lead, 4 * S + 3 * r);
                ck_assert_int_eq(recv[lead], D == big ? 1 : big / small);
            }
            free(sent);
            free(recv);
            hg_layout_free(l);
            checked++;
        }
    ck_assert_int_gt(checked, 20);
}
END_TEST

/* The bridge's own group is Megatron's bridge_ranks, sorted(src leaders | dest leaders),
 * whichever module comes first; each leader holds it at its position and a member (not a
 * leader) only knows it (group_pos -1). */
static void check_bridge_group(const char *yaml, const int *want, int n)
{
    hg_layout *l = layout_of_text(yaml);
    const hg_bridge *b = hg_layout_bridge(l, 0);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(hg_bridge_group_size(b), n);
    int got[16];
    hg_bridge_group_members(l, b, got);
    for (int i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "member %d: %d, want %d", i, got[i], want[i]);
    for (int r = 0; r < hg_layout_world_size(l); r++) {
        hg_rank_view v;
        ck_assert_int_eq(hg_rank_view_build(l, r, &v, NULL), 0);
        ck_assert_ptr_eq(v.source, l);
        for (int k = 0; k < v.nbridges; k++) {
            const hg_rank_bridge *rb = &v.bridges[k];
            ck_assert_int_eq(rb->ngroup, n);
            ck_assert_int_eq(memcmp(rb->group, want, (size_t)n * sizeof(int)), 0);
            int pos = -1;
            for (int i = 0; i < n; i++)
                pos = want[i] == r ? i : pos;
            ck_assert_int_eq(rb->group_pos, pos);
            ck_assert_int_eq(pos >= 0, rb->role != HG_BRIDGE_MEMBER);
        }
        hg_rank_view_free(&v);
    }
    hg_layout_free(l);
}

START_TEST(bridge_group_members)
{
    /* enc tp2 pp2 dp2 (ranks 0-7, leaders 5 and 7 on the last stage) feeds lm tp3 dp1
     * (8-10, leader 8): fan-in. */
    static const int fan_in[] = { 5, 7, 8 };
    check_bridge_group("version: 1\nmodules:\n"
                       "  - {name: enc, role: encoder, tp: 2, pp: 2, dp: 2}\n"
                       "  - {name: lm, role: language, tp: 3, dp: 1}\n", fan_in, 3);
    /* The language module first (ranks 0-3, tp2 dp2: leaders 0 and 2), the encoder after
     * (4-5, tp1 dp2: leaders 4 and 5): the destination's leaders come first. */
    static const int dest_first[] = { 0, 2, 4, 5 };
    check_bridge_group("version: 1\nmodules:\n"
                       "  - {name: lm, role: language, tp: 2, dp: 2}\n"
                       "  - {name: enc, role: encoder, dp: 2, feeds: [lm]}\n", dest_first, 4);
    /* gtp_remat: one leader per dp x gtp_remat lane (lm tp2 gtp_remat2 dp2: 8 ranks,
     * leaders at tp 0 of each lane: 2, 4, 6, 8). */
    static const int gtp[] = { 0, 1, 2, 4, 6, 8 };
    check_bridge_group("version: 1\nmodules:\n"
                       "  - {name: enc, role: encoder, dp: 2}\n"
                       "  - {name: lm, role: language, tp: 2, gtp_remat: 2, dp: 2}\n", gtp, 6);
}
END_TEST

/* hg_layout_load_bytes: the bytes a launcher read once (from a pipe) are checked with
 * diagnostics naming the diags' file, and both outputs are set or NULL. */
START_TEST(load_bytes)
{
    const char *good = "version: 1\nmodules:\n  - name: lm\n    role: language\n    dp: 4\n";
    hg_diags *d = hg_diags_new("<stdin>");
    hg_config *cfg = (hg_config *)0x1;
    hg_layout *l = (hg_layout *)0x1;
    ck_assert_int_eq(hg_layout_load_bytes(good, strlen(good), 0, &cfg, &l, d), 0);
    ck_assert_int_eq(hg_layout_world_size(l), 4);
    ck_assert_uint_eq(cfg->nmodules, 1);
    hg_layout_free(l);
    hg_config_free(cfg);

    const char *bad = "version: 1\nmodules:\n  - name: lm\n    role: language\n    dp: 2.5\n";
    ck_assert_int_eq(hg_layout_load_bytes(bad, strlen(bad), 0, &cfg, &l, d), HG_ECONFIG);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_null(l);
    ck_assert_uint_eq(hg_diags_size(d), 1);
    ck_assert_str_eq(hg_diags_text(d, 0), "<stdin>:5:9: error: dp: expected an integer, got '2.5'");

    /* Parsed but invalid: the config is returned to free, the layout is not. */
    const char *invalid = "version: 1\nworld_size: 3\nmodules:\n  - name: lm\n    role: language\n"
                          "    dp: 4\n";
    ck_assert_int_eq(hg_layout_load_bytes(invalid, strlen(invalid), 0, &cfg, &l, d), HG_ECONFIG);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_null(l);
    hg_config_free(cfg);
    hg_diags_free(d);
}
END_TEST

static Suite *layout_suite(void)
{
    Suite *s = suite_create("layout");
    TCase *golden = tcase_create("golden");
    tcase_set_timeout(golden, 60);
    tcase_add_test(golden, golden_count);
    tcase_add_loop_test(golden, golden_plan_json, 0, (int)goldens.gl_pathc);
    tcase_add_loop_test(golden, golden_gtp_plan_json, 0, 4);
    tcase_add_loop_test(golden, golden_rank_views, 0, (int)goldens.gl_pathc);
    suite_add_tcase(s, golden);

    TCase *groups = tcase_create("groups");
    tcase_set_timeout(groups, 60);
    tcase_add_test(groups, brute_force_shapes);
    tcase_add_test(groups, rank_views_match_groups);
    tcase_add_test(groups, dims_table);
    tcase_add_test(groups, module_of_boundaries);
    tcase_add_test(groups, rank_view_out_of_range);
    tcase_add_test(groups, kind_names_round_trip);
    tcase_add_test(groups, kind_applies);
    suite_add_tcase(s, groups);

    TCase *plan = tcase_create("plan");
    tcase_add_test(plan, rank_json_vlm8_rank5);
    tcase_add_test(plan, rank_json_embd_null_and_absent);
    tcase_add_test(plan, rank_table_vlm8_rank0);
    tcase_add_test(plan, table_small_and_large);
    tcase_add_test(plan, plan_write_error);
    tcase_add_test(plan, plan_write_error_every_writer);
    tcase_add_test(plan, plan_json_named);
    tcase_add_test(plan, table_aligned_at_max_world);
    tcase_add_test(plan, load_bytes);
    tcase_add_test(plan, table_bridges_and_colocated);
    tcase_add_test(plan, rank_table_bridges_and_colocated);
    tcase_add_test(plan, rank_view_build_module_errors);
    tcase_add_test(plan, bridge_links_brute_force);
    tcase_add_test(plan, bridge_group_members);
    suite_add_tcase(s, plan);
    return s;
}

int main(void)
{
    if (glob(SRCDIR "/tests/golden/*.yaml", 0, NULL, &goldens) != 0) {
        fprintf(stderr, "no golden layouts under %s/tests/golden\n", SRCDIR);
        return EXIT_FAILURE;
    }
    int status = run_suite(layout_suite());
    globfree(&goldens);
    return status;
}
