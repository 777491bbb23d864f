/* Validation of a parsed config against the rules of Megatron's MIMO example
 * (docs/DESIGN.md, "Validation rules" 1-8). Every rule is checked and every failure
 * reported at the most specific position available: the value that breaks it, else its
 * module. Sizes are multiplied in 64 bits and bounded by HG_MAX_WORLD before narrowing. */
#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

const char *hg_role_name(hg_role role)
{
    return role == HG_ROLE_LANGUAGE ? "language" : "encoder";
}

/* The first mark that was given, so a message points at the most specific place. */
static hg_mark pick(hg_mark a, hg_mark b, hg_mark c)
{
    if (a.line)
        return a;
    return b.line ? b : c;
}

#define ERR(d, mk, ...) hg_diags_add((d), HG_DIAG_ERROR, (mk).line, (mk).col, __VA_ARGS__)

/* Rule 2 and 3 for one module; fills out and returns 0 when its shape is sound. */
static int resolve_module(const hg_module_spec *s, hg_module *out, hg_diags *d)
{
    const char *n = s->name;
    long long size;
    int ok = 1;

    /* Each factor is at most HG_MAX_WORLD = 2^24, so two multiply safely in 64 bits
     * but three may not: a product past HG_MAX_WORLD stops before the third factor. */
    long long dense = s->tp.v * s->cp.v;
    if (dense > HG_MAX_WORLD || dense * s->pp.v > HG_MAX_WORLD) {
        ERR(d, pick(s->pp.at, s->cp.at, pick(s->tp.at, s->at, s->at)),
            "%s: tp*cp*pp = %lld*%lld*%lld is more than %d ranks", n, s->tp.v, s->cp.v,
            s->pp.v, HG_MAX_WORLD);
        return -1;
    }
    dense *= s->pp.v;

    if (!s->dp.at.line && !s->size.at.line) {
        ERR(d, s->at, "%s: give dp or size (the other is derived from tp*cp*pp)", n);
        return -1;
    }
    if (s->size.at.line) {
        size = s->size.v;
        if (size % dense != 0) {
            ERR(d, s->size.at, "%s: size %lld is not divisible by tp*cp*pp = %lld", n, size,
                dense);
            return -1;
        }
        if (s->dp.at.line && size != dense * s->dp.v) {
            ERR(d, s->size.at, "%s: size %lld does not equal tp*cp*pp*dp = %lld", n, size,
                dense * s->dp.v);
            return -1;
        }
    } else {
        if (dense > HG_MAX_WORLD || dense * s->dp.v > HG_MAX_WORLD) {
            ERR(d, s->dp.at, "%s: tp*cp*pp*dp = %lld*%lld*%lld*%lld is more than %d ranks", n,
                s->tp.v, s->cp.v, s->pp.v, s->dp.v, HG_MAX_WORLD);
            return -1;
        }
        size = dense * s->dp.v;
    }

    long long expert = s->expert_tp.v * s->ep.v;
    if (expert > HG_MAX_WORLD || expert * s->pp.v > HG_MAX_WORLD) {
        ERR(d, pick(s->ep.at, s->expert_tp.at, pick(s->moe_at, s->pp.at, s->at)),
            "%s: expert_tp*ep*pp = %lld*%lld*%lld is more than %d ranks", n, s->expert_tp.v,
            s->ep.v, s->pp.v, HG_MAX_WORLD);
        ok = 0;
    } else if ((expert *= s->pp.v) > size || size % expert != 0) {
        ERR(d, pick(s->ep.at, s->expert_tp.at, pick(s->moe_at, s->pp.at, s->at)),
            "%s: size %lld is not divisible by expert_tp*ep*pp = %lld", n, size, expert);
        ok = 0;
    }
    if (s->num_experts.at.line && s->num_experts.v % s->ep.v != 0) {
        ERR(d, s->num_experts.at, "%s: num_experts %lld is not divisible by ep = %lld", n,
            s->num_experts.v, s->ep.v);
        ok = 0;
    }
    if (!ok)
        return -1;

    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    out->role = s->role;
    out->size = (int)size;
    out->tp = (int)s->tp.v;
    out->cp = (int)s->cp.v;
    out->pp = (int)s->pp.v;
    out->dp = (int)(size / dense);
    out->ep = (int)s->ep.v;
    out->expert_tp = (int)s->expert_tp.v;
    out->expert_dp = (int)(size / expert);
    out->num_experts = (int)s->num_experts.v;
    return 0;
}

/* Rule 8: what Megatron's MIMO runtime accepts today. Only a layout with an encoder
 * is a MIMO layout; a language model alone may use any cp. */
static void check_mimo_runtime(const hg_config *cfg, const hg_module *mods, unsigned flags,
                               hg_diags *d)
{
    hg_diag_level lvl = (flags & HG_VALIDATE_STRICT) ? HG_DIAG_ERROR : HG_DIAG_WARNING;
    int has_encoder = 0;
    for (size_t i = 0; i < cfg->nmodules; i++)
        has_encoder |= mods[i].role == HG_ROLE_ENCODER;
    if (!has_encoder)
        return;
    for (size_t i = 0; i < cfg->nmodules; i++) {
        const hg_module_spec *s = &cfg->modules[i];
        const hg_module *m = &mods[i];
        if (m->role == HG_ROLE_LANGUAGE && m->cp != 1) {
            hg_mark at = pick(s->cp.at, s->at, s->at);
            hg_diags_add(d, lvl, at.line, at.col,
                         "%s: cp=%d is beyond what the MIMO example runtime supports "
                         "(language cp must be 1)", m->name, m->cp);
        }
        if (m->role == HG_ROLE_ENCODER && (m->cp != 1 || m->pp != 1)) {
            hg_mark at = pick(m->cp != 1 ? s->cp.at : s->pp.at, s->at, s->at);
            hg_diags_add(d, lvl, at.line, at.col,
                         "%s: cp=%d pp=%d is beyond what the MIMO example runtime supports "
                         "(encoder cp and pp must be 1)", m->name, m->cp, m->pp);
        }
    }
}

int hg_validate(const hg_config *cfg, unsigned flags, hg_module *out, int *world,
                hg_diags *d)
{
    size_t errors_before = hg_diags_errors(d);
    int resolved_all = 1;
    long long next = 0;
    const hg_module_spec *language = NULL;
    size_t language_i = 0;

    if (cfg->nmodules == 0) {
        ERR(d, cfg->modules_at, "modules: at least one module is required");
        return HG_ECONFIG;
    }
    for (size_t i = 0; i < cfg->nmodules; i++) {
        const hg_module_spec *s = &cfg->modules[i];
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->modules[j].name, s->name) != 0)
                continue;
            /* An alias repeats the very same node, so both carry one position. */
            if (s->name_at.line == cfg->modules[j].name_at.line
                && s->name_at.col == cfg->modules[j].name_at.col)
                ERR(d, cfg->modules_at,
                    "modules: entry %zu repeats entry %zu through an alias, so the name '%s' "
                    "is used twice", i + 1, j + 1, s->name);
            else
                ERR(d, pick(s->name_at, s->at, s->at),
                    "duplicate module name '%s' (first used at %d:%d)", s->name,
                    cfg->modules[j].name_at.line, cfg->modules[j].name_at.col);
            break;
        }
        if (s->role == HG_ROLE_LANGUAGE) {
            if (language)
                ERR(d, pick(s->role_at, s->at, s->at),
                    "%s: a second language module (the first is '%s'); exactly one is allowed",
                    s->name, language->name);
            else {
                language = s;
                language_i = i;
            }
        }
        if (resolve_module(s, &out[i], d) != 0) {
            resolved_all = 0;
            continue;
        }
        /* Rule 5: modules tile [0, world) in order. */
        if (resolved_all) {
            if (s->offset.at.line && s->offset.v != next)
                ERR(d, s->offset.at,
                    "%s: offset %lld does not match the tiling: modules are placed in order "
                    "with no gap, so it starts at rank %lld", s->name, s->offset.v, next);
            out[i].offset = (int)next;
            next += out[i].size;
            if (next > HG_MAX_WORLD) {
                ERR(d, s->at, "%s: the modules so far need %lld ranks, more than %d", s->name,
                    next, HG_MAX_WORLD);
                resolved_all = 0;
            }
        }
    }
    if (!language)
        ERR(d, cfg->modules_at, "modules: no module has role: language (exactly one is required)");

    if (resolved_all && cfg->world_size.at.line && cfg->world_size.v != next)
        ERR(d, cfg->world_size.at,
            "world_size %lld does not equal the sum of module sizes, %lld", cfg->world_size.v,
            next);

    /* Rules 6 and 7 need the batch; they bind only when one is given. */
    int has_batch = cfg->micro_batch_size.at.line || cfg->global_batch_size.at.line;
    if (resolved_all && language && has_batch) {
        long long mbs = cfg->micro_batch_size.at.line ? cfg->micro_batch_size.v : 1;
        const hg_module *lm = &out[language_i];
        long long per_step = mbs * lm->dp;
        for (size_t i = 0; i < cfg->nmodules; i++) {
            const hg_module *m = &out[i];
            if (m->role != HG_ROLE_ENCODER || per_step % m->dp == 0)
                continue;
            ERR(d, pick(cfg->modules[i].dp.at, cfg->modules[i].at, cfg->modules[i].at),
                "%s: micro_batch_size*language dp = %lld*%d = %lld is not divisible by encoder "
                "dp = %d (the encoder bridge fans out evenly)", m->name, mbs, lm->dp, per_step,
                m->dp);
        }
        if (cfg->global_batch_size.at.line && cfg->global_batch_size.v % per_step != 0)
            ERR(d, cfg->global_batch_size.at,
                "batch.global_batch_size %lld is not divisible by micro_batch_size*language dp "
                "= %lld*%d = %lld", cfg->global_batch_size.v, mbs, lm->dp, per_step);
    }
    if (resolved_all && language)
        check_mimo_runtime(cfg, out, flags, d);

    if (hg_diags_errors(d) != errors_before)
        return HG_ECONFIG;
    *world = (int)next;
    return 0;
}
