/* Plan output. The layout JSON can reach tens of megabytes (13 MB at 131,072 ranks),
 * so it is streamed: jansson encodes every string and small object, and the integer
 * group arrays are formatted straight into a buffered writer. Nothing larger than one
 * group is ever held, and the bytes are the same on every run. */
#include "plan.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct writer {
    FILE *out;
    size_t n;
    int failed;
    char buf[1 << 16];
} writer;

static void w_flush(writer *w)
{
    if (w->n && !w->failed && fwrite(w->buf, 1, w->n, w->out) != w->n)
        w->failed = errno ? errno : EIO;
    w->n = 0;
}

static void w_bytes(writer *w, const char *s, size_t len)
{
    if (w->n + len > sizeof(w->buf))
        w_flush(w);
    if (len > sizeof(w->buf)) {
        if (!w->failed && fwrite(s, 1, len, w->out) != len)
            w->failed = errno ? errno : EIO;
        return;
    }
    memcpy(w->buf + w->n, s, len);
    w->n += len;
}

static void w_str(writer *w, const char *s) { w_bytes(w, s, strlen(s)); }

static void w_int(writer *w, long long v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    w_bytes(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Writes one jansson value compactly; keys keep insertion order. */
static int w_json(writer *w, json_t *v)
{
    if (!v)
        return -1;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (!s)
        return -1;
    w_str(w, s);
    free(s);
    return 0;
}

static json_t *module_json(const hg_module *m)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
                     "name", m->name, "role", hg_role_name(m->role), "offset", m->offset,
                     "size", m->size, "tp", m->tp, "cp", m->cp, "dp", m->dp, "pp", m->pp,
                     "ep", m->ep, "expert_tp", m->expert_tp, "expert_dp", m->expert_dp);
}

static int finish(writer *w, hg_error *err, const char *what)
{
    w_flush(w);
    if (!w->failed && fflush(w->out) != 0)
        w->failed = errno ? errno : EIO;
    if (w->failed)
        return hg_error_set(err, HG_EIO, "writing the %s: %s", what, strerror(w->failed));
    return 0;
}

int hg_plan_write_json(const hg_layout *l, FILE *out, hg_error *err)
{
    writer *w = calloc(1, sizeof(*w));
    int *members = NULL;
    int rc = 0;
    size_t nmod = hg_layout_module_count(l);
    if (!w)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    w->out = out;

    /* The largest group of any kind is a whole module. */
    int maxsize = 1;
    for (size_t i = 0; i < nmod; i++)
        if (hg_layout_module(l, i)->size > maxsize)
            maxsize = hg_layout_module(l, i)->size;
    members = malloc((size_t)maxsize * sizeof(int));
    if (!members) {
        rc = hg_error_set(err, HG_ENOMEM, "out of memory");
        goto out;
    }

    w_str(w, "{\"hgrid_plan\":1,\"world_size\":");
    w_int(w, hg_layout_world_size(l));
    w_str(w, ",\"modules\":[");
    for (size_t i = 0; i < nmod; i++) {
        if (i)
            w_str(w, ",");
        if (w_json(w, module_json(hg_layout_module(l, i))) != 0)
            goto nomem;
    }
    w_str(w, "],\"groups\":{");
    for (size_t i = 0; i < nmod; i++) {
        const hg_module *m = hg_layout_module(l, i);
        if (i)
            w_str(w, ",");
        if (w_json(w, json_string(m->name)) != 0)
            goto nomem;
        w_str(w, ":{");
        int first_kind = 1;
        for (int k = 0; k < HG_KIND_COUNT; k++) {
            if (!hg_kind_applies(m, (hg_kind)k))
                continue;
            if (!first_kind)
                w_str(w, ",");
            first_kind = 0;
            w_str(w, "\"");
            w_str(w, hg_kind_name((hg_kind)k));
            w_str(w, "\":[");
            int count = hg_group_count(m, (hg_kind)k);
            for (int g = 0; g < count; g++) {
                int size = hg_group_size(m, (hg_kind)k, g);
                hg_group_members(m, (hg_kind)k, g, members);
                w_str(w, g ? ",[" : "[");
                for (int j = 0; j < size; j++) {
                    if (j)
                        w_bytes(w, ",", 1);
                    w_int(w, members[j]);
                }
                w_bytes(w, "]", 1);
            }
            w_str(w, "]");
        }
        w_str(w, "}");
    }
    w_str(w, "}}\n");
    rc = finish(w, err, "plan");
    goto out;
nomem:
    rc = hg_error_set(err, HG_ENOMEM, "out of memory encoding the plan");
out:
    free(members);
    free(w);
    return rc;
}

/* Per-rank coordinates are listed up to this many ranks; beyond, a summary. */
#define TABLE_MAX_RANKS 64

int hg_plan_write_table(const hg_layout *l, FILE *out, hg_error *err)
{
    size_t nmod = hg_layout_module_count(l);
    int world = hg_layout_world_size(l);
    fprintf(out, "hgrid plan: %d rank%s, %zu module%s\n\n", world, world == 1 ? "" : "s", nmod,
            nmod == 1 ? "" : "s");
    fprintf(out, "%-20s %-8s %-17s %5s %4s %4s %5s %4s  %4s %9s %9s\n", "module", "role",
            "ranks", "size", "tp", "cp", "dp", "pp", "ep", "expert_tp", "expert_dp");
    for (size_t i = 0; i < nmod; i++) {
        const hg_module *m = hg_layout_module(l, i);
        char span[32];
        snprintf(span, sizeof(span), "%d-%d", m->offset, m->offset + m->size - 1);
        fprintf(out, "%-20s %-8s %-17s %5d %4d %4d %5d %4d  %4d %9d %9d\n", m->name,
                hg_role_name(m->role), span, m->size, m->tp, m->cp, m->dp, m->pp, m->ep,
                m->expert_tp, m->expert_dp);
    }
    fprintf(out, "\ngroups per module (count x size):\n");
    for (size_t i = 0; i < nmod; i++) {
        const hg_module *m = hg_layout_module(l, i);
        fprintf(out, "  %s:", m->name);
        for (int k = 0; k < HG_KIND_COUNT; k++)
            if (hg_kind_applies(m, (hg_kind)k))
                fprintf(out, " %s %dx%d", hg_kind_name((hg_kind)k), hg_group_count(m, (hg_kind)k),
                        hg_group_size(m, (hg_kind)k, 0));
        fprintf(out, "\n");
    }
    if (world > TABLE_MAX_RANKS) {
        fprintf(out, "\n%d ranks: per-rank coordinates not listed (use --rank N for one "
                "rank's view)\n", world);
    } else {
        fprintf(out, "\n%-5s %-20s %4s %4s %4s %4s  %4s %7s %7s\n", "rank", "module", "tp", "cp",
                "dp", "pp", "ep", "expt_tp", "expt_dp");
        for (int r = 0; r < world; r++) {
            hg_rank_plan p;
            int rc = hg_rank_plan_build(l, r, &p, err);
            if (rc != 0)
                return rc;
            fprintf(out, "%-5d %-20s %4d %4d %4d %4d  %4d %7d %7d\n", r, p.module.name,
                    p.coords.tp, p.coords.cp, p.coords.dp, p.coords.pp, p.coords.ep,
                    p.coords.expt_tp, p.coords.expt_dp);
            hg_rank_plan_free(&p);
        }
    }
    if (fflush(out) != 0 || ferror(out))
        return hg_error_set(err, HG_EIO, "writing the plan: %s", strerror(errno));
    return 0;
}

static json_t *int_array(const int *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

int hg_plan_write_rank_json(const hg_rank_plan *p, FILE *out, hg_error *err)
{
    const hg_coords *c = &p->coords;
    json_t *groups = json_object();
    json_t *root = json_pack(
        "{s:i, s:i, s:i, s:o, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}}", "hgrid_rank_plan", 1,
        "world_size", p->world_size, "rank", p->rank, "module", module_json(&p->module),
        "module_rank", p->module_rank, "coords", "tp", c->tp, "cp", c->cp, "dp", c->dp, "pp",
        c->pp, "ep", c->ep, "expt_tp", c->expt_tp, "expt_dp", c->expt_dp);
    if (!root || !groups)
        goto nomem;
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &p->groups[k];
        if (!hg_kind_applies(&p->module, (hg_kind)k))
            continue;
        json_t *v = g->index < 0 ? json_null()
                                 : json_pack("{s:i, s:i, s:o}", "index", g->index, "rank",
                                             g->pos, "members", int_array(g->members, g->size));
        if (json_object_set_new(groups, hg_kind_name((hg_kind)k), v) != 0)
            goto nomem;
    }
    if (json_object_set(root, "groups", groups) != 0)
        goto nomem;
    json_decref(groups);
    if (json_dumpf(root, out, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 || fputc('\n', out) == EOF
        || fflush(out) != 0) {
        json_decref(root);
        return hg_error_set(err, HG_EIO, "writing the rank plan: %s", strerror(errno));
    }
    json_decref(root);
    return 0;
nomem:
    json_decref(root);
    json_decref(groups);
    return hg_error_set(err, HG_ENOMEM, "out of memory encoding the rank plan");
}

int hg_plan_write_rank_table(const hg_rank_plan *p, FILE *out, hg_error *err)
{
    const hg_module *m = &p->module;
    const hg_coords *c = &p->coords;
    fprintf(out, "rank %d of %d: module %s (%s), module rank %d of %d\n", p->rank, p->world_size,
            m->name, hg_role_name(m->role), p->module_rank, m->size);
    fprintf(out, "dense:  tp %d/%d  cp %d/%d  dp %d/%d  pp %d/%d\n", c->tp, m->tp, c->cp, m->cp,
            c->dp, m->dp, c->pp, m->pp);
    fprintf(out, "expert: expt_tp %d/%d  ep %d/%d  expt_dp %d/%d  pp %d/%d\n", c->expt_tp,
            m->expert_tp, c->ep, m->ep, c->expt_dp, m->expert_dp, c->pp, m->pp);
    fprintf(out, "\n%-12s %6s %5s  %s\n", "kind", "group", "rank", "members");
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &p->groups[k];
        if (!hg_kind_applies(m, (hg_kind)k))
            continue;
        if (g->index < 0) {
            fprintf(out, "%-12s %6s %5s  (not a member)\n", hg_kind_name((hg_kind)k), "-", "-");
            continue;
        }
        fprintf(out, "%-12s %6d %5d  [", hg_kind_name((hg_kind)k), g->index, g->pos);
        /* A whole-module group at scale would flood a terminal: show its ends. */
        for (int i = 0; i < g->size; i++) {
            if (g->size > 32 && i == 16) {
                fprintf(out, ", ... (%d more)", g->size - 32);
                i = g->size - 16;
            }
            fprintf(out, i ? ", %d" : "%d", g->members[i]);
        }
        fprintf(out, "]\n");
    }
    if (fflush(out) != 0 || ferror(out))
        return hg_error_set(err, HG_EIO, "writing the rank plan: %s", strerror(errno));
    return 0;
}
