/* Config loading: YAML (libyaml's document API) -> hg_config.
 *
 * The schema is small and fixed, so the walker descends only into keys it knows;
 * aliases that point back into the tree are therefore harmless, and a module list
 * blown up by aliases is stopped by HG_MAX_MODULES. Every problem is reported with
 * libyaml's mark of the offending node and the walk goes on, so one run shows them all.
 * Relations between values (divisibility, tiling) are checked in validate.c. */
#include "grid/config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "util/error.h"
#include "util/intparse.h"

#define HG_MAX_MODULES 4096

typedef struct walker {
    yaml_document_t *doc;
    hg_diags *diags;
} walker;

static hg_mark mark_of(const yaml_node_t *n)
{
    hg_mark m = { (int)n->start_mark.line + 1, (int)n->start_mark.column + 1 };
    return m;
}

#define ERR_AT(w, node, ...) \
    hg_diags_add((w)->diags, HG_DIAG_ERROR, mark_of(node).line, mark_of(node).col, __VA_ARGS__)

static const char *node_kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return n->data.scalar.length ? "a scalar" : "nothing";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static const char *scalar_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* Byte length of a scalar; YAML scalars may hold NULs ("\0" escapes). */
static int scalar_is_cstr(const yaml_node_t *n)
{
    return strlen(scalar_text(n)) == n->data.scalar.length;
}

size_t hg_name_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return SIZE_MAX;
    size_t row[33];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* keys is NULL-terminated. */
static void unknown_key(walker *w, const yaml_node_t *key, const char *where,
                        const char *const *keys)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; keys[i]; i++) {
        size_t d = hg_name_distance(scalar_text(key), keys[i]);
        if (d < best_d) {
            best_d = d;
            best = keys[i];
        }
    }
    size_t len = strlen(scalar_text(key));
    if (best && best_d <= 2 && best_d < len)
        ERR_AT(w, key, "unknown key '%.64s' in %s (did you mean '%s'?)", scalar_text(key),
               where, best);
    else
        ERR_AT(w, key, "unknown key '%.64s' in %s", scalar_text(key), where);
}

/* Parses a plain decimal integer into *v; reports and returns -1 otherwise. */
static int parse_int(walker *w, const yaml_node_t *n, const char *what, long long lo,
                     long long hi, hg_num *out)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0) {
        ERR_AT(w, n, "%s: expected an integer, got %s", what, node_kind_name(n));
        return -1;
    }
    const char *s = scalar_text(n);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        ERR_AT(w, n, "%s: expected an integer, got the quoted string \"%.32s\"", what, s);
        return -1;
    }
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!*p || strspn(p, "0123456789") != strlen(p) || !scalar_is_cstr(n)) {
        ERR_AT(w, n, "%s: expected an integer, got '%.32s'", what, s);
        return -1;
    }
    if (p[0] == '0' && p[1] != '\0') {
        /* YAML 1.1 readers (PyYAML, so Megatron's own scripts) take 010 as octal 8. */
        ERR_AT(w, n, "%s: '%.32s' has a leading zero, which YAML readers disagree on "
               "(octal or decimal); write it without", what, s);
        return -1;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) {
        ERR_AT(w, n, "%s: %.32s overflows a 64-bit integer", what, s);
        return -1;
    }
    if (v < lo) {
        if (lo == 1)
            ERR_AT(w, n, "%s must be a positive integer, got %lld", what, v);
        else
            ERR_AT(w, n, "%s must be at least %lld, got %lld", what, lo, v);
        return -1;
    }
    if (v > hi) {
        ERR_AT(w, n, "%s: %lld is too large (at most %lld)", what, v, hi);
        return -1;
    }
    out->v = v;
    out->at = mark_of(n);
    return 0;
}

static int parse_bool(walker *w, const yaml_node_t *n, const char *what, int *out)
{
    static const char *const yes[] = { "true", "True", "TRUE", NULL };
    static const char *const no[] = { "false", "False", "FALSE", NULL };
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        for (size_t i = 0; yes[i]; i++)
            if (strcmp(scalar_text(n), yes[i]) == 0)
                return *out = 1, 0;
        for (size_t i = 0; no[i]; i++)
            if (strcmp(scalar_text(n), no[i]) == 0)
                return *out = 0, 0;
    }
    if (n->type == YAML_SCALAR_NODE)
        ERR_AT(w, n, "%s: expected true or false, got '%.32s'", what, scalar_text(n));
    else
        ERR_AT(w, n, "%s: expected true or false, got %s", what, node_kind_name(n));
    return -1;
}

/* A string scalar: plain or quoted, no NULs. */
static const char *string_value(walker *w, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0) {
        ERR_AT(w, n, "%s: expected a string, got %s", what, node_kind_name(n));
        return NULL;
    }
    if (!scalar_is_cstr(n)) {
        ERR_AT(w, n, "%s: string holds a NUL character", what);
        return NULL;
    }
    return scalar_text(n);
}

typedef void (*field_fn)(walker *w, const char *key, const yaml_node_t *value, void *ctx);

/* The most keys any mapping of the schema has (a module: 9). */
#define HG_MAX_KEYS 16

/* Visits each key of a mapping once: rejects non-string keys, duplicate keys and
 * keys not in `keys`, and calls fn for the rest. Duplicates are looked for among the
 * schema's keys only (every unknown key is an error anyway), so a hostile mapping of
 * 100,000 distinct keys costs O(n * HG_MAX_KEYS), not O(n^2). */
static void walk_mapping(walker *w, const yaml_node_t *map, const char *where,
                         const char *const *keys, field_fn fn, void *ctx)
{
    hg_mark seen[HG_MAX_KEYS] = { { 0, 0 } };
    const yaml_node_pair_t *start = map->data.mapping.pairs.start;
    const yaml_node_pair_t *top = map->data.mapping.pairs.top;
    for (const yaml_node_pair_t *p = start; p < top; p++) {
        const yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        if (!k || !v)
            continue;
        if (k->type != YAML_SCALAR_NODE || !scalar_is_cstr(k) || k->data.scalar.length == 0) {
            ERR_AT(w, k, "keys in %s must be plain strings, got %s", where, node_kind_name(k));
            continue;
        }
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], scalar_text(k)) != 0)
            i++;
        if (!keys[i] || i >= HG_MAX_KEYS) {
            unknown_key(w, k, where, keys);
            continue;
        }
        if (seen[i].line) {
            ERR_AT(w, k, "duplicate key '%.64s' in %s (first given at %d:%d)", scalar_text(k),
                   where, seen[i].line, seen[i].col);
            continue;
        }
        seen[i] = mark_of(k);
        fn(w, keys[i], v, ctx);
    }
}

static int expect_mapping(walker *w, const yaml_node_t *n, const char *what)
{
    if (n->type == YAML_MAPPING_NODE)
        return 0;
    ERR_AT(w, n, "%s: expected a mapping, got %s", what, node_kind_name(n));
    return -1;
}

/* ---- modules ---- */

typedef struct module_ctx {
    hg_module_spec *m;
    char where[96];
    int has_name, has_role; /* the key was given, even with a bad value */
    const char *const *moe_keys;
} module_ctx;

/* The keys of a module's mapping and of its moe mapping as the first release had them,
 * in the order "did you mean" has always broken ties between equally near keys ('pdp':
 * 'pp'); keys_with_dims appends every other dim given there (dims.h). */
static const char *const module_keys_first[] = { "name", "role", "tp", "cp", "pp", "dp",
                                                 "size", "offset", "moe", "feeds", NULL };
static const char *const moe_keys_first[] = { "num_experts", "ep", "expert_tp", NULL };

/* out (room for HG_MAX_KEYS + 1): base, then the module key of each dim a config gives
 * as `given` that base lacks, in HG_DIMS order; NULL-terminated. */
static void keys_with_dims(const char *const *base, hg_dim_given given, const char **out)
{
    size_t n = 0;
    for (; base[n]; n++)
        out[n] = base[n];
    for (int d = 0; d < HG_DIM_COUNT; d++) {
        if (hg_dim_infos[d].given != given)
            continue;
        const char *key = hg_dim_module_key((hg_dim)d);
        size_t i = 0;
        while (i < n && strcmp(out[i], key) != 0)
            i++;
        if (i == n && n < HG_MAX_KEYS)
            out[n++] = key;
    }
    out[n] = NULL;
}

/* The dim a config gives as `key` in a mapping of kind `given`, or -1. */
static int dim_of_key(const char *key, hg_dim_given given)
{
    for (int d = 0; d < HG_DIM_COUNT; d++)
        if (hg_dim_infos[d].given == given && strcmp(key, hg_dim_module_key((hg_dim)d)) == 0)
            return d;
    return -1;
}

static void moe_field(walker *w, const char *key, const yaml_node_t *v, void *ctx)
{
    hg_module_spec *m = ((module_ctx *)ctx)->m;
    int d = dim_of_key(key, HG_DIM_GIVEN_MOE);
    char what[48];
    snprintf(what, sizeof(what), "moe.%s", key);
    parse_int(w, v, what, 1, HG_MAX_WORLD, d < 0 ? &m->num_experts : &m->dim[d]);
}

static int valid_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
           == strlen(s);
}

/* `feeds: [names]`. Names are only stored here (with their positions); whether they
 * name modules, and what the graph they make is, is validate's job. */
static void parse_feeds(walker *w, const yaml_node_t *v, hg_module_spec *m)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        if (v->type == YAML_SCALAR_NODE && v->data.scalar.length && scalar_is_cstr(v))
            ERR_AT(w, v, "feeds: expected a list of module names, got '%.64s' (write "
                   "feeds: [%.64s])", scalar_text(v), scalar_text(v));
        else
            ERR_AT(w, v, "feeds: expected a list of module names, got %s", node_kind_name(v));
        return;
    }
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n > HG_MAX_MODULES) {
        ERR_AT(w, v, "feeds: %zu names is more than the %d modules hgrid supports", n,
               HG_MAX_MODULES);
        return;
    }
    m->feeds_at = mark_of(v);
    if (n == 0)
        return;
    m->feeds = calloc(n, sizeof(*m->feeds));
    m->feed_at = calloc(n, sizeof(*m->feed_at));
    if (!m->feeds || !m->feed_at) {
        ERR_AT(w, v, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = yaml_document_get_node(w->doc, v->data.sequence.items.start[i]);
        if (!e)
            continue;
        const char *s = string_value(w, e, "feeds");
        if (!s)
            continue;
        if (strlen(s) > HG_NAME_MAX) {
            ERR_AT(w, e, "feeds: '%.32s...' is longer than %d characters, so it names no "
                   "module", s, HG_NAME_MAX);
            continue;
        }
        snprintf(m->feeds[m->nfeeds], sizeof(m->feeds[0]), "%s", s);
        m->feed_at[m->nfeeds++] = mark_of(e);
    }
}

static void module_field(walker *w, const char *key, const yaml_node_t *v, void *vctx)
{
    module_ctx *ctx = vctx;
    hg_module_spec *m = ctx->m;
    if (strcmp(key, "name") == 0) {
        ctx->has_name = 1;
        const char *s = string_value(w, v, "name");
        if (!s)
            return;
        if (strlen(s) > HG_NAME_MAX)
            ERR_AT(w, v, "name: '%.32s...' is longer than %d characters", s, HG_NAME_MAX);
        else if (!valid_name(s))
            ERR_AT(w, v, "name: '%.64s' must start with a letter and hold only letters, "
                   "digits, '_', '-' and '.'", s);
        else {
            snprintf(m->name, sizeof(m->name), "%s", s);
            m->name_at = mark_of(v);
        }
    } else if (strcmp(key, "role") == 0) {
        ctx->has_role = 1;
        const char *s = string_value(w, v, "role");
        if (!s)
            return;
        if (strcmp(s, "encoder") == 0)
            m->role = HG_ROLE_ENCODER;
        else if (strcmp(s, "language") == 0)
            m->role = HG_ROLE_LANGUAGE;
        else {
            ERR_AT(w, v, "role: unknown role '%.32s' (expected encoder or language)", s);
            return;
        }
        m->role_at = mark_of(v);
    } else if (strcmp(key, "feeds") == 0) {
        parse_feeds(w, v, m);
    } else if (strcmp(key, "moe") == 0) {
        if (expect_mapping(w, v, "moe") == 0) {
            m->moe_at = mark_of(v);
            walk_mapping(w, v, "moe", ctx->moe_keys, moe_field, ctx);
        }
    } else if (strcmp(key, "size") == 0) {
        parse_int(w, v, key, 1, HG_MAX_WORLD, &m->size);
    } else if (strcmp(key, "offset") == 0) {
        parse_int(w, v, key, 0, HG_MAX_WORLD, &m->offset);
    } else {
        int d = dim_of_key(key, HG_DIM_GIVEN_MODULE);
        if (d >= 0) /* walk_mapping passes only the keys it was given */
            parse_int(w, v, key, 1, HG_MAX_WORLD, &m->dim[d]);
    }
}

static void parse_modules(walker *w, const yaml_node_t *seq, hg_config *cfg)
{
    if (seq->type != YAML_SEQUENCE_NODE) {
        ERR_AT(w, seq, "modules: expected a list of modules, got %s", node_kind_name(seq));
        return;
    }
    cfg->modules_at = mark_of(seq);
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n > HG_MAX_MODULES) {
        ERR_AT(w, seq, "modules: %zu modules is more than the %d hgrid supports", n,
               HG_MAX_MODULES);
        return;
    }
    if (n == 0)
        return; /* validate reports "no modules" */
    cfg->modules = calloc(n, sizeof(*cfg->modules));
    if (!cfg->modules) {
        ERR_AT(w, seq, "out of memory");
        return;
    }
    cfg->nmodules = n;
    const char *module_keys[HG_MAX_KEYS + 1], *moe_keys[HG_MAX_KEYS + 1];
    keys_with_dims(module_keys_first, HG_DIM_GIVEN_MODULE, module_keys);
    keys_with_dims(moe_keys_first, HG_DIM_GIVEN_MOE, moe_keys);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *mn = yaml_document_get_node(w->doc, seq->data.sequence.items.start[i]);
        hg_module_spec *m = &cfg->modules[i];
        module_ctx ctx = { .m = m, .moe_keys = moe_keys };
        snprintf(ctx.where, sizeof(ctx.where), "module %zu", i + 1);
        if (!mn)
            continue;
        m->at = mark_of(mn);
        if (expect_mapping(w, mn, ctx.where) != 0)
            continue;
        walk_mapping(w, mn, ctx.where, module_keys, module_field, &ctx);
        if (!ctx.has_name)
            ERR_AT(w, mn, "%s: missing required key 'name'", ctx.where);
        if (!ctx.has_role)
            ERR_AT(w, mn, "%s: missing required key 'role'", ctx.where);
    }
}

/* ---- batch, agent, root ---- */

static const char *const batch_keys[] = { "micro_batch_size", "global_batch_size", NULL };

static void batch_field(walker *w, const char *key, const yaml_node_t *v, void *ctx)
{
    hg_config *cfg = ctx;
    if (strcmp(key, "micro_batch_size") == 0)
        parse_int(w, v, "batch.micro_batch_size", 1, INT_MAX, &cfg->micro_batch_size);
    else
        parse_int(w, v, "batch.global_batch_size", 1, INT_MAX, &cfg->global_batch_size);
}


static const char *const agent_keys[] = { "backend", "init_timeout_s", "verify", "preflight",
                                          "nccl_ranks_per_root", "max_restarts",
                                          "stall_timeout_s", "first_beat_timeout_s", "stragglers",
                                          NULL };

/* An integer launch setting under `agent:`, its range the settings table's. */
static void setting_int(walker *w, const yaml_node_t *v, hg_setting_id id, hg_num *out)
{
    const hg_setting *s = hg_setting_get(id);
    char what[64];
    snprintf(what, sizeof(what), "agent.%s", s->key);
    parse_int(w, v, what, s->min, s->max, out);
}

static void agent_field(walker *w, const char *key, const yaml_node_t *v, void *ctx)
{
    hg_config *cfg = ctx;
    if (strcmp(key, "backend") == 0) {
        const char *s = string_value(w, v, "agent.backend");
        if (!s)
            return;
        if (hg_backend_from_name(s, &cfg->backend) != 0) {
            ERR_AT(w, v, "agent.backend: unknown backend '%.32s' (expected nccl or mpi)", s);
            return;
        }
        cfg->backend_at = mark_of(v);
    } else if (strcmp(key, "init_timeout_s") == 0) {
        setting_int(w, v, HG_SET_TIMEOUT, &cfg->init_timeout_s);
    } else if (strcmp(key, "preflight") == 0) {
        const char *s = string_value(w, v, "agent.preflight");
        if (!s)
            return;
        if (hg_preflight_from_name(s, &cfg->preflight) != 0) {
            ERR_AT(w, v, "agent.preflight: unknown depth '%.32s' (expected full, world or none)", s);
            return;
        }
        cfg->preflight_at = mark_of(v);
    } else if (strcmp(key, "nccl_ranks_per_root") == 0) {
        setting_int(w, v, HG_SET_RANKS_PER_ROOT, &cfg->nccl_ranks_per_root);
    } else if (strcmp(key, "max_restarts") == 0) {
        setting_int(w, v, HG_SET_MAX_RESTARTS, &cfg->max_restarts);
    } else if (strcmp(key, "stall_timeout_s") == 0) {
        setting_int(w, v, HG_SET_STALL_TIMEOUT, &cfg->stall_timeout_s);
    } else if (strcmp(key, "first_beat_timeout_s") == 0) {
        setting_int(w, v, HG_SET_FIRST_BEAT_TIMEOUT, &cfg->first_beat_timeout_s);
    } else if (strcmp(key, "stragglers") == 0) {
        const char *s = string_value(w, v, "agent.stragglers");
        if (!s)
            return;
        if (hg_stragglers_parse(s, &cfg->straggler_pct, &cfg->straggler_steps) != 0) {
            ERR_AT(w, v, "agent.stragglers: expected PCT (0..1000), \"PCT:STEPS\" (STEPS 2..%d) "
                   "or off, got '%.32s'", HG_STRAGGLER_STEPS_MAX, s);
            return;
        }
        cfg->stragglers_at = mark_of(v);
    } else if (parse_bool(w, v, "agent.verify", &cfg->verify) == 0) {
        cfg->verify_at = mark_of(v);
    }
}

static const char *const root_keys[] = { "version", "world_size", "modules", "batch", "agent",
                                         "layout", NULL };

typedef struct root_ctx {
    hg_config *cfg;
    int has_version, has_modules; /* the key was given, even with a bad value */
} root_ctx;

static void root_field(walker *w, const char *key, const yaml_node_t *v, void *vctx)
{
    root_ctx *ctx = vctx;
    hg_config *cfg = ctx->cfg;
    if (strcmp(key, "version") == 0) {
        ctx->has_version = 1;
        if (parse_int(w, v, "version", 1, INT_MAX, &cfg->version) == 0 && cfg->version.v != 1)
            ERR_AT(w, v, "version: unsupported version %lld (this hgrid reads version 1)",
                   cfg->version.v);
    } else if (strcmp(key, "world_size") == 0) {
        parse_int(w, v, "world_size", 1, HG_MAX_WORLD, &cfg->world_size);
    } else if (strcmp(key, "modules") == 0) {
        ctx->has_modules = 1;
        parse_modules(w, v, cfg);
    } else if (strcmp(key, "layout") == 0) {
        const char *s = string_value(w, v, "layout");
        if (!s)
            return;
        if (strcmp(s, "disjoint") == 0)
            cfg->layout = HG_LAYOUT_DISJOINT;
        else if (strcmp(s, "colocated") == 0)
            cfg->layout = HG_LAYOUT_COLOCATED;
        else {
            ERR_AT(w, v, "layout: unknown layout '%.32s' (expected disjoint or colocated)", s);
            return;
        }
        cfg->layout_at = mark_of(v);
    } else if (strcmp(key, "batch") == 0) {
        if (expect_mapping(w, v, "batch") == 0)
            walk_mapping(w, v, "batch", batch_keys, batch_field, cfg);
    } else if (expect_mapping(w, v, "agent") == 0) {
        walk_mapping(w, v, "agent", agent_keys, agent_field, cfg);
    }
}

/* Reports the first byte that is not well-formed UTF-8 (overlongs, surrogates and
 * code points past U+10FFFF included); returns 0 when all is well. */
static int check_utf8(const unsigned char *s, size_t len, hg_diags *diags)
{
    int line = 1, col = 1;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            n = 1;
            cp = c;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4;
            cp = c & 0x07;
        } else {
            goto bad;
        }
        if (i + n > len)
            goto bad;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
            || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        if (c == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        i += n;
    }
    return 0;
bad:
    hg_diags_add(diags, HG_DIAG_ERROR, line, col,
                 "the file is not valid UTF-8 (byte 0x%02x at offset %zu)", s[i], i);
    return -1;
}

int hg_stragglers_parse(const char *s, int *pct, int *steps)
{
    if (strcmp(s, "off") == 0) {
        *pct = 0;
        *steps = HG_STRAGGLER_STEPS_DEFAULT;
        return 0;
    }
    char head[16];
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    int p, w = HG_STRAGGLER_STEPS_DEFAULT;
    if (n >= sizeof(head))
        return -1;
    memcpy(head, s, n);
    head[n] = '\0';
    if (hg_int_parse(head, 0, 1000, &p) != 0
        || (colon && hg_int_parse(colon + 1, 2, HG_STRAGGLER_STEPS_MAX, &w) != 0))
        return -1;
    *pct = p;
    *steps = w;
    return 0;
}

static void set_config_defaults(hg_config *cfg)
{
    /* The settings table's defaults, so that a config read alone (the dry-run's plan)
     * says what a launch without options would use. */
    cfg->backend = (hg_backend)hg_setting_get(HG_SET_BACKEND)->def;
    cfg->init_timeout_s.v = hg_setting_get(HG_SET_TIMEOUT)->def;
    cfg->verify = hg_setting_get(HG_SET_VERIFY)->def;
    cfg->preflight = (hg_preflight)hg_setting_get(HG_SET_PREFLIGHT)->def;
    cfg->nccl_ranks_per_root.v = hg_setting_get(HG_SET_RANKS_PER_ROOT)->def;
    cfg->max_restarts.v = hg_setting_get(HG_SET_MAX_RESTARTS)->def;
    cfg->stall_timeout_s.v = hg_setting_get(HG_SET_STALL_TIMEOUT)->def;
    cfg->first_beat_timeout_s.v = hg_setting_get(HG_SET_FIRST_BEAT_TIMEOUT)->def;
    cfg->straggler_pct = HG_STRAGGLER_PCT_DEFAULT;
    cfg->straggler_steps = HG_STRAGGLER_STEPS_DEFAULT;
}

static void set_module_defaults(hg_config *cfg)
{
    for (size_t i = 0; i < cfg->nmodules; i++) {
        hg_module_spec *m = &cfg->modules[i];
        for (int d = 0; d < HG_DIM_COUNT; d++)
            if (!m->dim[d].at.line)
                m->dim[d].v = hg_dim_infos[d].absent;
    }
}

/* Line and column (1-based, counted in characters as libyaml's marks are) of byte
 * offset off in valid UTF-8 text. */
static hg_mark mark_at_offset(const unsigned char *s, size_t len, size_t off)
{
    hg_mark m = { 1, 1 };
    for (size_t i = 0; i < off && i < len; i++) {
        if (s[i] == '\n') {
            m.line++;
            m.col = 1;
        } else if ((s[i] & 0xC0) != 0x80) {
            m.col++;
        }
    }
    return m;
}

static void report_parser(const yaml_parser_t *p, const char *bytes, size_t len,
                          hg_diags *diags)
{
    const yaml_mark_t *mk = &p->problem_mark;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR) {
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "out of memory while parsing YAML");
    } else if (p->error == YAML_READER_ERROR) {
        /* The reader sets no mark, only the byte offset of the character it refused. */
        hg_mark at = mark_at_offset((const unsigned char *)bytes, len, p->problem_offset);
        if (p->problem_value >= 0)
            hg_diags_add(diags, HG_DIAG_ERROR, at.line, at.col, "%s (U+%04X)", problem,
                         (unsigned)p->problem_value);
        else
            hg_diags_add(diags, HG_DIAG_ERROR, at.line, at.col, "%s", problem);
    } else if (p->context) {
        hg_diags_add(diags, HG_DIAG_ERROR, (int)mk->line + 1, (int)mk->column + 1,
                     "%s %s (started at %d:%d)", problem, p->context,
                     (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    } else {
        hg_diags_add(diags, HG_DIAG_ERROR, (int)mk->line + 1, (int)mk->column + 1, "%s", problem);
    }
}

/* libyaml's scanner revisits every open flow level on every token, so n nested '['
 * or '{' cost O(n^2): a 1 MiB file of them takes minutes. A first pass over the
 * tokens stops at HG_MAX_FLOW_DEPTH (the schema itself needs 3) long before that;
 * the scanner looks ahead at most 1024 characters, so that pass stays cheap too.
 * Syntax errors are left to the load, which reports them. */
#define HG_MAX_FLOW_DEPTH 64

static int check_flow_depth(const char *bytes, size_t len, hg_diags *diags)
{
    yaml_parser_t p;
    yaml_token_t tok;
    int depth = 0, rc = 0;
    if (!yaml_parser_initialize(&p)) {
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "out of memory");
        return -1;
    }
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&p, (const unsigned char *)bytes, len);
    while (yaml_parser_scan(&p, &tok)) {
        yaml_token_type_t type = tok.type;
        if (type == YAML_FLOW_SEQUENCE_START_TOKEN || type == YAML_FLOW_MAPPING_START_TOKEN) {
            if (++depth > HG_MAX_FLOW_DEPTH) {
                hg_diags_add(diags, HG_DIAG_ERROR, (int)tok.start_mark.line + 1,
                             (int)tok.start_mark.column + 1,
                             "'[' and '{' are nested more than %d levels deep", HG_MAX_FLOW_DEPTH);
                rc = -1;
            }
        } else if (type == YAML_FLOW_SEQUENCE_END_TOKEN || type == YAML_FLOW_MAPPING_END_TOKEN) {
            depth--;
        }
        yaml_token_delete(&tok);
        if (rc != 0 || type == YAML_STREAM_END_TOKEN)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

/* What libyaml is not given: an empty or oversized file, bytes that are not UTF-8, '['
 * and '{' nested past HG_MAX_FLOW_DEPTH. Skips a UTF-8 byte order mark, which is
 * allowed: with the encoding set, libyaml would read it as an indenting character and
 * misplace every later key of the first line. Returns 0, or -1 with the problem
 * reported. */
static int check_config_bytes(const char **bytes, size_t *len, hg_diags *diags)
{
    if (*len == 0) {
        hg_diags_add(diags, HG_DIAG_ERROR, 1, 1, "the file is empty");
        return -1;
    }
    if (*len > HG_CONFIG_MAX_BYTES) {
        hg_diags_add(diags, HG_DIAG_ERROR, 1, 1, "the file is %zu bytes, more than the %d allowed",
                     *len, HG_CONFIG_MAX_BYTES);
        return -1;
    }
    if (check_utf8((const unsigned char *)*bytes, *len, diags) != 0)
        return -1;
    if (*len >= 3 && memcmp(*bytes, "\xEF\xBB\xBF", 3) == 0) {
        *bytes += 3;
        *len -= 3;
    }
    return check_flow_depth(*bytes, *len, diags);
}

/* Loads the one YAML document of bytes into *doc (the caller's to delete on success).
 * Refuses a syntax error, a file without a document and a second document, which a
 * plain load would silently ignore. Returns 0, HG_ECONFIG or HG_ENOMEM, the problem
 * reported. */
static int load_one_document(const char *bytes, size_t len, yaml_document_t *doc,
                             hg_diags *diags)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    int have_doc = 0, rc = HG_ECONFIG;
    if (!yaml_parser_initialize(&parser)) {
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "out of memory");
        return HG_ENOMEM;
    }
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser, (const unsigned char *)bytes, len);
    if (!yaml_parser_load(&parser, doc)) {
        report_parser(&parser, bytes, len, diags);
        goto out;
    }
    have_doc = 1;
    if (!yaml_document_get_root_node(doc)) {
        hg_diags_add(diags, HG_DIAG_ERROR, 1, 1, "the file holds no YAML document");
        goto out;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        report_parser(&parser, bytes, len, diags);
        goto out;
    }
    if (yaml_document_get_root_node(&extra)) {
        hg_diags_add(diags, HG_DIAG_ERROR, (int)extra.start_mark.line + 1,
                     (int)extra.start_mark.column + 1,
                     "more than one YAML document; a grid description is one document");
        yaml_document_delete(&extra);
        goto out;
    }
    yaml_document_delete(&extra);
    rc = 0;
out:
    if (rc != 0 && have_doc)
        yaml_document_delete(doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* Walks the document into cfg, defaults filled in, every problem reported. Returns -1
 * when the root is not a mapping (nothing else is then said), else 0: the caller
 * counts the errors. */
static int config_from_document(yaml_document_t *doc, hg_config *cfg, hg_diags *diags)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    walker w = { doc, diags };
    set_config_defaults(cfg);
    if (expect_mapping(&w, root, "the grid description") != 0)
        return -1;
    root_ctx rctx = { .cfg = cfg };
    walk_mapping(&w, root, "the grid description", root_keys, root_field, &rctx);
    if (!rctx.has_version)
        ERR_AT(&w, root, "missing required key 'version' (add 'version: 1')");
    if (!rctx.has_modules)
        ERR_AT(&w, root, "missing required key 'modules'");
    set_module_defaults(cfg);
    return 0;
}

int hg_config_parse(const char *bytes, size_t len, hg_config **out, hg_diags *diags)
{
    yaml_document_t doc;
    size_t errors_before = hg_diags_errors(diags);

    *out = NULL;
    if (check_config_bytes(&bytes, &len, diags) != 0)
        return HG_ECONFIG;
    int rc = load_one_document(bytes, len, &doc, diags);
    if (rc != 0)
        return rc;
    hg_config *cfg = calloc(1, sizeof(*cfg));
    rc = cfg ? HG_ECONFIG : HG_ENOMEM;
    if (cfg && config_from_document(&doc, cfg, diags) == 0
        && hg_diags_errors(diags) == errors_before) {
        *out = cfg;
        cfg = NULL;
        rc = 0;
    }
    hg_config_free(cfg);
    yaml_document_delete(&doc);
    return rc;
}

const char *hg_config_name(const char *path)
{
    return strcmp(path, HG_CONFIG_STDIN) == 0 ? HG_CONFIG_STDIN_NAME : path;
}

int hg_config_read_file(const char *path, char **bytes, size_t *len, hg_diags *diags)
{
    *bytes = NULL;
    *len = 0;
    /* Standard input is read as it is, never reopened: it may be a pipe, a socket or a
     * terminal, and it belongs to the caller, so it is not closed either. */
    int is_stdin = strcmp(path, HG_CONFIG_STDIN) == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "cannot open: %s", strerror(errno));
        return HG_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!is_stdin)
            fclose(f);
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "is a directory, not a config file");
        return HG_EIO;
    }
    /* st_size is not trusted (a pipe, /dev/stdin or <(...) has none, a device may
     * never end): read one byte past the limit and refuse what reached it. */
    size_t cap = HG_CONFIG_MAX_BYTES + 1;
    char *buf = malloc(cap + 1);
    if (!buf) {
        if (!is_stdin)
            fclose(f);
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "out of memory");
        return HG_ENOMEM;
    }
    errno = 0;
    size_t n = fread(buf, 1, cap, f);
    int failed = ferror(f) ? (errno ? errno : EIO) : 0;
    if (is_stdin)
        clearerr(f);
    else
        fclose(f);
    if (failed) {
        free(buf);
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "cannot read: %s", strerror(failed));
        return HG_EIO;
    }
    if (n > HG_CONFIG_MAX_BYTES) {
        free(buf);
        hg_diags_add(diags, HG_DIAG_ERROR, 1, 1, "the file is larger than %d bytes",
                     HG_CONFIG_MAX_BYTES);
        return HG_ECONFIG;
    }
    buf[n] = '\0';
    *bytes = buf;
    *len = n;
    return 0;
}

const char *hg_layout_kind_name(hg_layout_kind kind)
{
    return kind == HG_LAYOUT_DISJOINT ? "disjoint" : kind == HG_LAYOUT_COLOCATED ? "colocated" : "?";
}

void hg_config_free(hg_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nmodules; i++) {
        free(cfg->modules[i].feeds);
        free(cfg->modules[i].feed_at);
    }
    free(cfg->modules);
    free(cfg);
}

/* The config's value of a setting that has a key (the default where the file did not
 * set it: config.c takes the defaults from the table). */
static int config_value(const hg_config *cfg, hg_setting_id id)
{
    switch (id) {
    case HG_SET_BACKEND: return (int)cfg->backend;
    case HG_SET_TIMEOUT: return (int)cfg->init_timeout_s.v;
    case HG_SET_PREFLIGHT: return (int)cfg->preflight;
    case HG_SET_VERIFY: return cfg->verify;
    case HG_SET_RANKS_PER_ROOT: return (int)cfg->nccl_ranks_per_root.v;
    case HG_SET_MAX_RESTARTS: return (int)cfg->max_restarts.v;
    case HG_SET_STALL_TIMEOUT: return (int)cfg->stall_timeout_s.v;
    case HG_SET_FIRST_BEAT_TIMEOUT: return (int)cfg->first_beat_timeout_s.v;
    default: return hg_setting_get(id)->def; /* no key: unreachable for a complete table */
    }
}

void hg_settings_merge(const int *given, const hg_config *cfg, hg_setting_values *out)
{
    for (int i = 0; i < HG_NSETTINGS; i++) {
        if (given && given[i] != HG_SETTING_UNSET) {
            out->v[i] = given[i];
            out->from[i] = HG_FROM_GIVEN;
        } else if (cfg && hg_setting_get((hg_setting_id)i)->key) {
            out->v[i] = config_value(cfg, (hg_setting_id)i);
            out->from[i] = HG_FROM_CONFIG;
        } else {
            out->v[i] = hg_setting_get((hg_setting_id)i)->def;
            out->from[i] = HG_FROM_DEFAULT;
        }
    }
}
