/* hg-rank-check GOLDEN.json: what hgrid-agent execs in tests/agent_test.sh. It checks
 * this rank's handoff against a golden layout computed by Megatron's own code:
 *   - HGRID_PLAN (the rank's plan JSON) names this RANK and WORLD_SIZE, and for every
 *     kind holds exactly the golden group that contains this rank (null where the rank
 *     is in none, e.g. embd on middle pipeline stages);
 *   - HGRID_MODULE/ROLE/MODULE_RANK/MODULE_SIZE and HGRID_{TP,...}_RANK/_SIZE agree with
 *     the plan; LOCAL_RANK < LOCAL_WORLD_SIZE; MASTER_ADDR set; MASTER_PORT a port.
 * Prints `rank-check: rank R ok: K kinds match` and the environment as ENV R NAME=VALUE
 * lines (for the script to assert values), or one line per mismatch and exits 1.
 * First it prints the descriptors it inherited as `FDS R: 0 1 2 hb` (the handoff leaves
 * none above stderr but the keeper's heartbeat pipe, shown as `hb` where it is the one
 * HGRID_HEARTBEAT_FD names; the script asserts it).
 * With HG_EXIT_RANK=R and HG_EXIT_CODE=C, rank R then exits C (exit propagation). */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad;

#define FAIL(...)                                  \
    do {                                           \
        printf("rank-check: FAIL: " __VA_ARGS__);  \
        printf("\n");                              \
        bad = 1;                                   \
    } while (0)

static long env_int(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long r;
    if (!v || !*v) {
        FAIL("%s is not set", name);
        return -1;
    }
    r = strtol(v, &end, 10);
    if (*end) {
        FAIL("%s=%s is not a number", name, v);
        return -1;
    }
    return r;
}

static const char *env_str(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        FAIL("%s is not set", name);
        return "";
    }
    return v;
}

static int same_ints(json_t *a, json_t *b)
{
    if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b))
        return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (json_integer_value(json_array_get(a, i)) != json_integer_value(json_array_get(b, i)))
            return 0;
    return 1;
}

static json_t *group_holding(json_t *groups, long rank)
{
    size_t i, j;
    json_t *g, *m;
    json_array_foreach(groups, i, g) {
        json_array_foreach(g, j, m) {
            if (json_integer_value(m) == rank)
                return g;
        }
    }
    return NULL;
}

static void check_env_dim(json_t *plan, const char *env, const char *coord, const char *size)
{
    char name[64];
    snprintf(name, sizeof(name), "HGRID_%s_RANK", env);
    long r = env_int(name);
    if (r != json_integer_value(json_object_get(json_object_get(plan, "coords"), coord)))
        FAIL("%s=%ld, plan coords.%s=%lld", name, r, coord,
             json_integer_value(json_object_get(json_object_get(plan, "coords"), coord)));
    snprintf(name, sizeof(name), "HGRID_%s_SIZE", env);
    long s = env_int(name);
    if (s != json_integer_value(json_object_get(json_object_get(plan, "module"), size)))
        FAIL("%s=%ld, plan module.%s=%lld", name, s, size,
             json_integer_value(json_object_get(json_object_get(plan, "module"), size)));
}

/* The open descriptors, ascending, less the one reading the directory. */
static void print_fds(const char *rank)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char seen[1024] = { 0 };
    if (!d) {
        printf("FDS %s: cannot list /proc/self/fd\n", rank);
        return;
    }
    while ((e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (end != e->d_name && !*end && fd != dirfd(d))
            seen[fd < (long)sizeof(seen) ? fd : (long)sizeof(seen) - 1] = 1;
    }
    closedir(d);
    const char *hb_env = getenv("HGRID_HEARTBEAT_FD");
    long hb = hb_env && *hb_env ? strtol(hb_env, NULL, 10) : -1;
    printf("FDS %s:", rank);
    for (size_t fd = 0; fd < sizeof(seen); fd++)
        if (seen[fd] && (long)fd == hb)
            printf(" hb");
        else if (seen[fd])
            printf(fd + 1 < sizeof(seen) ? " %zu" : " %zu+", fd);
    printf("\n");
}

int main(int argc, char **argv)
{
    static const char *const shown[] = {
        "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
        "HGRID_MODULE", "HGRID_ROLE", "HGRID_MODULE_RANK", "HGRID_MODULE_SIZE", "HGRID_TP_RANK",
        "HGRID_TP_SIZE", "HGRID_CP_RANK", "HGRID_CP_SIZE", "HGRID_DP_RANK", "HGRID_DP_SIZE",
        "HGRID_PP_RANK", "HGRID_PP_SIZE", "HGRID_EP_RANK", "HGRID_EP_SIZE", "HGRID_EXPT_TP_RANK",
        "HGRID_EXPT_TP_SIZE", "HGRID_EXPT_DP_RANK", "HGRID_EXPT_DP_SIZE", NULL,
    };
    json_error_t jerr;
    json_t *golden, *plan, *ggroups, *pgroups, *module;
    const char *kind;
    json_t *gkind;
    int kinds = 0;

    print_fds(getenv("RANK") ? getenv("RANK") : "?");
    if (argc != 2) {
        fprintf(stderr, "usage: hg-rank-check GOLDEN.json\n");
        return 2;
    }
    long rank = env_int("RANK"), world = env_int("WORLD_SIZE");
    const char *plan_path = env_str("HGRID_PLAN");
    if (!(golden = json_load_file(argv[1], 0, &jerr))) {
        FAIL("%s: %s", argv[1], jerr.text);
        return 1;
    }
    if (!(plan = json_load_file(plan_path, 0, &jerr))) {
        FAIL("HGRID_PLAN %s: %s", plan_path, jerr.text);
        return 1;
    }
    for (int i = 0; shown[i]; i++)
        printf("ENV %ld %s=%s\n", rank, shown[i], getenv(shown[i]) ? getenv(shown[i]) : "(unset)");

    if (json_integer_value(json_object_get(plan, "rank")) != rank)
        FAIL("plan rank %lld, RANK %ld", json_integer_value(json_object_get(plan, "rank")), rank);
    if (json_integer_value(json_object_get(plan, "world_size")) != world
        || json_integer_value(json_object_get(golden, "world_size")) != world)
        FAIL("WORLD_SIZE %ld differs from the plan's or the golden's", world);
    module = json_object_get(plan, "module");
    const char *mname = json_string_value(json_object_get(module, "name"));
    if (!mname || strcmp(mname, env_str("HGRID_MODULE")) != 0)
        FAIL("HGRID_MODULE=%s, plan module %s", env_str("HGRID_MODULE"), mname ? mname : "?");
    if (!json_string_value(json_object_get(module, "role"))
        || strcmp(json_string_value(json_object_get(module, "role")), env_str("HGRID_ROLE")) != 0)
        FAIL("HGRID_ROLE=%s differs from the plan", env_str("HGRID_ROLE"));
    if (env_int("HGRID_MODULE_RANK") != json_integer_value(json_object_get(plan, "module_rank"))
        || env_int("HGRID_MODULE_SIZE") != json_integer_value(json_object_get(module, "size"))
        || env_int("HGRID_MODULE_RANK") != rank - json_integer_value(json_object_get(module, "offset")))
        FAIL("HGRID_MODULE_RANK/SIZE differ from the plan");
    check_env_dim(plan, "TP", "tp", "tp");
    check_env_dim(plan, "CP", "cp", "cp");
    check_env_dim(plan, "DP", "dp", "dp");
    check_env_dim(plan, "PP", "pp", "pp");
    check_env_dim(plan, "EP", "ep", "ep");
    check_env_dim(plan, "EXPT_TP", "expt_tp", "expert_tp");
    check_env_dim(plan, "EXPT_DP", "expt_dp", "expert_dp");
    check_env_dim(plan, "GTP_REMAT", "gtp_remat", "gtp_remat");
    check_env_dim(plan, "EXPT_GTP_REMAT", "expt_gtp_remat", "expert_gtp_remat");
    long lr = env_int("LOCAL_RANK"), ls = env_int("LOCAL_WORLD_SIZE"), port = env_int("MASTER_PORT");
    if (lr < 0 || lr >= ls)
        FAIL("LOCAL_RANK %ld not in [0, LOCAL_WORLD_SIZE %ld)", lr, ls);
    if (port < 1 || port > 65535)
        FAIL("MASTER_PORT %ld is not a port", port);
    (void)env_str("MASTER_ADDR");

    ggroups = json_object_get(json_object_get(golden, "groups"), mname ? mname : "");
    pgroups = json_object_get(plan, "groups");
    if (!json_is_object(ggroups) || !json_is_object(pgroups)) {
        FAIL("no groups for module %s in the golden or the plan", mname ? mname : "?");
    } else {
        if (json_object_size(ggroups) != json_object_size(pgroups))
            FAIL("the plan has %zu kinds, the golden %zu", json_object_size(pgroups),
                 json_object_size(ggroups));
        json_object_foreach(ggroups, kind, gkind) {
            json_t *want = group_holding(gkind, rank);
            json_t *got = json_object_get(pgroups, kind);
            if (!want && !json_is_null(got))
                FAIL("kind %s: the golden puts rank %ld in no group, the plan in one", kind, rank);
            else if (want && !same_ints(want, json_object_get(got, "members")))
                FAIL("kind %s: plan members differ from the golden group", kind);
            else
                kinds++;
        }
    }
    json_decref(golden);
    json_decref(plan);
    if (!bad)
        printf("rank-check: rank %ld ok: %d kinds match\n", rank, kinds);
    fflush(stdout);
    if (bad)
        return 1;
    if (getenv("HG_EXIT_RANK") && env_int("HG_EXIT_RANK") == rank)
        return (int)env_int("HG_EXIT_CODE");
    return 0;
}
