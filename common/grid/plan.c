/* Plan output. The layout JSON can reach tens of megabytes (13 MB at 131,072 ranks),
 * so it is streamed: jansson encodes every string and small object, and the integer
 * group arrays are formatted straight into a buffered writer. Nothing larger than one
 * group is ever held, and the bytes are the same on every run. */
#include "grid/plan.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Every byte of plan output goes through one writer, which remembers the first write
 * error (its errno) and then writes nothing more, so a broken pipe or a full disk is
 * reported once, by its cause, and a long plan stops being computed once no one reads. */
typedef struct writer {
    FILE *out;
    size_t n;
    int failed; /* errno of the first failed write, 0 while all went well */
    char buf[1 << 16];
} writer;

static void w_write(writer *w, const char *s, size_t len)
{
    if (w->failed || len == 0)
        return;
    errno = 0;
    if (fwrite(s, 1, len, w->out) != len)
        w->failed = errno ? errno : EIO;
}

static void w_flush(writer *w)
{
    w_write(w, w->buf, w->n);
    w->n = 0;
}

static void w_bytes(writer *w, const char *s, size_t len)
{
    if (w->n + len > sizeof(w->buf))
        w_flush(w);
    if (len > sizeof(w->buf)) {
        w_write(w, s, len);
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

static void w_printf(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_printf(writer *w, const char *fmt, ...)
{
    /* Table lines: a module name (<= 63 bytes) and a few numbers fit easily. */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        w_bytes(w, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
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

static writer *w_new(FILE *out)
{
    writer *w = malloc(sizeof(*w));
    if (w) {
        w->out = out;
        w->n = 0;
        w->failed = 0;
    }
    return w;
}

/* Flushes the writer and the stream: a write error shows at the latest here. */
static int w_finish(writer *w, hg_error *err)
{
    w_flush(w);
    if (!w->failed) {
        errno = 0;
        if (fflush(w->out) != 0 || ferror(w->out))
            w->failed = errno ? errno : EIO;
    }
    if (w->failed)
        return hg_error_set(err, HG_EIO, "cannot write the plan: %s", strerror(w->failed));
    return 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when there is none;
 * the same rules as jansson's (no overlong forms, no surrogates, <= U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], cp, min;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* A JSON string for a file name. Linux names are bytes, JSON strings are UTF-8: each
 * byte that is not part of valid UTF-8 becomes U+FFFD, so the line stays valid JSON. */
static json_t *json_path_string(const char *path)
{
    json_t *j = json_string(path);
    if (j)
        return j;
    size_t n = strlen(path), o = 0;
    char *t = malloc(3 * n + 1);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len((const unsigned char *)path + i, n - i);
        if (k == 0) {
            memcpy(t + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(t + o, path + i, k);
            o += k;
            i += k;
        }
    }
    j = json_stringn(t, o);
    free(t);
    return j;
}

static json_t *module_json(const hg_module *m)
{
    json_t *j = json_pack("{s:s, s:s, s:i, s:i}", "name", m->name, "role",
                          hg_role_name(m->role), "offset", m->offset, "size", m->size);
    for (int d = 0; j && d < HG_DIM_COUNT; d++)
        if (json_object_set_new(j, hg_dim_module_key((hg_dim)d),
                                json_integer(hg_module_dim(m, (hg_dim)d))) != 0) {
            json_decref(j);
            return NULL;
        }
    return j;
}

/* "kinds": every group kind, in hg_kind order, with the view and the dims (grid order)
 * its groups span; embd and pos_embd also say which ranks of each pp group they hold
 * and that only the language module has them; every kind its "fields". Readers (python/hgrid) take kinds from
 * here. */
static json_t *kind_json(hg_kind k)
{
    hg_dim dims[HG_VIEW_DIMS];
    int n = hg_kind_dims(k, dims);
    json_t *d = json_array(), *e;
    for (int i = 0; d && i < n; i++)
        if (json_array_append_new(d, json_string(hg_dim_name(dims[i]))) != 0) {
            json_decref(d);
            return NULL;
        }
    e = json_pack("{s:s, s:o}", "view", hg_kind_view_name(k), "dims", d);
    if (e && hg_kind_members(k)
        && (json_object_set_new(e, "members", json_string(hg_kind_members(k))) != 0
            || json_object_set_new(e, "roles",
                                   json_pack("[s]", hg_role_name(HG_ROLE_LANGUAGE))) != 0)) {
        json_decref(e);
        return NULL;
    }
    /* "fields": Megatron's ProcessGroupCollection fields the kind fills (python/hgrid
     * takes them from here). */
    const char *const *fields;
    int nf = hg_kind_fields(k, &fields);
    json_t *f = json_array();
    for (int i = 0; f && i < nf; i++)
        if (json_array_append_new(f, json_string(fields[i])) != 0) {
            json_decref(f);
            f = NULL;
        }
    if (e && (!f || json_object_set_new(e, "fields", f) != 0)) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static json_t *kinds_json(void)
{
    json_t *kinds = json_object();
    for (int k = 0; kinds && k < HG_KIND_COUNT; k++)
        if (json_object_set_new(kinds, hg_kind_name((hg_kind)k), kind_json((hg_kind)k)) != 0) {
            json_decref(kinds);
            return NULL;
        }
    return kinds;
}

/* A module of the whole plan: module_json plus "feeds", the modules it sends to. */
static json_t *module_feeds_json(const hg_layout *l, size_t i)
{
    json_t *m = module_json(hg_layout_module(l, i)), *feeds = json_array();
    size_t first, n = hg_layout_bridges_from(l, (int)i, &first);
    for (size_t k = 0; m && feeds && k < n; k++) {
        const hg_module *d = hg_layout_module(l, (size_t)hg_layout_bridge(l, first + k)->dest);
        if (json_array_append_new(feeds, json_string(d->name)) != 0)
            goto fail;
    }
    if (m && feeds && json_object_set_new(m, "feeds", feeds) == 0)
        return m;
    feeds = NULL;
fail:
    json_decref(m);
    json_decref(feeds);
    return NULL;
}

static void w_ints(writer *w, const int *v, int n)
{
    w_bytes(w, "[", 1);
    for (int j = 0; j < n; j++) {
        if (j)
            w_bytes(w, ",", 1);
        w_int(w, v[j]);
    }
    w_bytes(w, "]", 1);
}

/* One side's leaders of bridge b: "[r,r,...]". */
static void w_bridge_leaders(writer *w, const hg_layout *l, const hg_bridge *b,
                             hg_bridge_side side)
{
    int n = side == HG_BRIDGE_SRC ? b->nsrc : b->ndest;
    w_str(w, "[");
    for (int r = 0; r < n; r++) {
        if (r)
            w_bytes(w, ",", 1);
        w_int(w, hg_bridge_leader(l, b, side, r));
    }
    w_str(w, "]");
}

/* One side's broadcast groups of bridge b, one per leader: "[[..],[..]]". */
static void w_bridge_broadcasts(writer *w, const hg_layout *l, const hg_bridge *b,
                                hg_bridge_side side, int *members)
{
    int n = side == HG_BRIDGE_SRC ? b->nsrc : b->ndest;
    int size = hg_bridge_broadcast_size(l, b, side);
    w_str(w, "[");
    for (int r = 0; r < n && !w->failed; r++) {
        if (r)
            w_bytes(w, ",", 1);
        hg_bridge_broadcast_members(l, b, side, r, members);
        w_ints(w, members, size);
    }
    w_str(w, "]");
}

/* Bridge b's links, sender and receiver each: "[[s,r],...]". */
static void w_bridge_links(writer *w, const hg_layout *l, const hg_bridge *b)
{
    w_str(w, "[");
    for (int j = 0; j < b->nlinks; j++) {
        int pair[2];
        hg_bridge_link(l, b, j, &pair[0], &pair[1]);
        if (j)
            w_bytes(w, ",", 1);
        w_ints(w, pair, 2);
    }
    w_str(w, "]");
}

/* One entry of "bridges": src, dest, mode, both sides' leaders, the bridge's own group
 * (both sides' leaders, ascending), both sides' broadcast groups, links. */
static int w_bridge(writer *w, const hg_layout *l, const hg_bridge *b, int *members)
{
    w_str(w, "{\"src\":");
    if (w_json(w, json_string(hg_layout_module(l, (size_t)b->src)->name)) != 0)
        return -1;
    w_str(w, ",\"dest\":");
    if (w_json(w, json_string(hg_layout_module(l, (size_t)b->dest)->name)) != 0)
        return -1;
    w_str(w, ",\"mode\":\"");
    w_str(w, hg_bridge_mode_name(b->mode));
    w_str(w, "\",\"src_leaders\":");
    w_bridge_leaders(w, l, b, HG_BRIDGE_SRC);
    w_str(w, ",\"dest_leaders\":");
    w_bridge_leaders(w, l, b, HG_BRIDGE_DEST);
    w_str(w, ",\"group\":");
    hg_bridge_group_members(l, b, members);
    w_ints(w, members, hg_bridge_group_size(b));
    w_str(w, ",\"src_broadcast\":");
    w_bridge_broadcasts(w, l, b, HG_BRIDGE_SRC, members);
    w_str(w, ",\"dest_broadcast\":");
    w_bridge_broadcasts(w, l, b, HG_BRIDGE_DEST, members);
    w_str(w, ",\"links\":");
    w_bridge_links(w, l, b);
    w_str(w, "}");
    return 0;
}

/* "bridges":[...], streamed: O(links + boundary groups), with members (room for a
 * whole module) as scratch. */
static int w_plan_bridges(writer *w, const hg_layout *l, int *members)
{
    size_t nb = hg_layout_bridge_count(l);
    w_str(w, ",\"bridges\":[");
    for (size_t i = 0; i < nb && !w->failed; i++) {
        if (i)
            w_str(w, ",");
        if (w_bridge(w, l, hg_layout_bridge(l, i), members) != 0)
            return -1;
    }
    w_str(w, "]");
    return 0;
}

/* The plan's head: "{"hgrid_plan":V,"config":NAME,"layout":KIND,"world_size":N". */
static int w_plan_head(writer *w, const hg_layout *l, const char *config)
{
    w_str(w, "{\"hgrid_plan\":" HG_STRINGIFY(HG_PLAN_VERSION) ",");
    if (config) {
        w_str(w, "\"config\":");
        if (w_json(w, json_path_string(config)) != 0)
            return -1;
        w_str(w, ",");
    }
    w_str(w, "\"layout\":\"");
    w_str(w, hg_layout_kind_name(hg_layout_mode(l)));
    w_str(w, "\",\"world_size\":");
    w_int(w, hg_layout_world_size(l));
    return 0;
}

/* ,"modules":[...]: each module with the modules it feeds. */
static int w_plan_modules(writer *w, const hg_layout *l)
{
    w_str(w, ",\"modules\":[");
    for (size_t i = 0; i < hg_layout_module_count(l); i++) {
        if (i)
            w_str(w, ",");
        if (w_json(w, module_feeds_json(l, i)) != 0)
            return -1;
    }
    w_str(w, "]");
    return 0;
}

/* "KIND":[[members],...]: every group of one kind of module m, members as scratch. */
typedef struct group_writer {
    writer *w;
    int first;
} group_writer;

/* One group of w_kind_groups' list. Once a write failed no one reads the rest, and the
 * writer drops it. */
static void w_one_group(void *ctx, const int *members, int size)
{
    group_writer *gw = ctx;
    if (gw->w->failed)
        return;
    w_str(gw->w, gw->first ? "" : ",");
    gw->first = 0;
    w_ints(gw->w, members, size);
}

static void w_kind_groups(writer *w, const hg_module *m, hg_kind k, int *members)
{
    w_str(w, "\"");
    w_str(w, hg_kind_name(k));
    w_str(w, "\":[");
    group_writer gw = { w, 1 };
    hg_group_walk(m, k, members, w_one_group, &gw);
    w_str(w, "]");
}

/* ,"groups":{MODULE:{KIND:[...],...},...}: every group of the kinds each module has. */
static int w_plan_groups(writer *w, const hg_layout *l, int *members)
{
    size_t nmod = hg_layout_module_count(l);
    w_str(w, ",\"groups\":{");
    for (size_t i = 0; i < nmod && !w->failed; i++) {
        const hg_module *m = hg_layout_module(l, i);
        if (i)
            w_str(w, ",");
        if (w_json(w, json_string(m->name)) != 0)
            return -1;
        w_str(w, ":{");
        int first_kind = 1;
        for (int k = 0; k < HG_KIND_COUNT && !w->failed; k++) {
            if (!hg_kind_applies(m, (hg_kind)k))
                continue;
            if (!first_kind)
                w_str(w, ",");
            first_kind = 0;
            w_kind_groups(w, m, (hg_kind)k, members);
        }
        w_str(w, "}");
    }
    w_str(w, "}");
    return 0;
}

/* The largest group of any kind: a whole module. */
/* Room for the members of any group the whole plan writes: a module's largest, or a
 * bridge's own group (its two sides' leaders), which can be larger (two modules of one
 * rank each make a bridge group of two). */
static int largest_group_size(const hg_layout *l)
{
    int maxsize = 1;
    for (size_t i = 0; i < hg_layout_module_count(l); i++)
        if (hg_layout_module(l, i)->size > maxsize)
            maxsize = hg_layout_module(l, i)->size;
    for (size_t i = 0; i < hg_layout_bridge_count(l); i++)
        if (hg_bridge_group_size(hg_layout_bridge(l, i)) > maxsize)
            maxsize = hg_bridge_group_size(hg_layout_bridge(l, i));
    return maxsize;
}

int hg_plan_write_json_named(const hg_layout *l, const char *config, FILE *out, hg_error *err)
{
    writer *w = w_new(out);
    int *members = NULL;
    int rc = 0;
    if (!w)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    members = malloc((size_t)largest_group_size(l) * sizeof(int));
    if (!members) {
        rc = hg_error_set(err, HG_ENOMEM, "out of memory");
        goto out;
    }
    if (w_plan_head(w, l, config) != 0 || w_plan_modules(w, l) != 0
        || w_plan_groups(w, l, members) != 0 || w_plan_bridges(w, l, members) != 0)
        goto nomem;
    w_str(w, ",\"kinds\":");
    if (w_json(w, kinds_json()) != 0)
        goto nomem;
    w_str(w, "}\n");
    rc = w_finish(w, err);
    goto out;
nomem:
    rc = hg_error_set(err, HG_ENOMEM, "out of memory encoding the plan");
out:
    free(members);
    free(w);
    return rc;
}

/* A table whose column widths come from the data (at least the given minimum, which
 * keeps small plans as they always looked), so that columns stay aligned from one
 * rank up to HG_MAX_WORLD. */
typedef struct table_col {
    const char *head;
    int min;    /* width */
    int left;   /* left-aligned (text); numbers are right-aligned */
    int gap;    /* spaces before the column (none before the first) */
} table_col;

#define TABLE_MAX_COLS 16
_Static_assert(4 + HG_DIM_COUNT <= TABLE_MAX_COLS, "the module table has a column per dim");
#define CELL_MAX 136 /* two module names (HG_NAME_MAX) joined by " -> ", or a number */

/* Fills row's cells; returns 0 or an HG_E* code with err set. */
typedef int (*table_row_fn)(const void *ctx, int row, char cells[][CELL_MAX], hg_error *err);

static void w_table_line(writer *w, const table_col *cols, int ncols, const int *width,
                         char cells[][CELL_MAX])
{
    for (int c = 0; c < ncols; c++) {
        /* The last column carries no trailing padding. */
        int pad = width[c] - (int)strlen(cells[c]);
        if (c)
            w_printf(w, "%*s", cols[c].gap, "");
        if (!cols[c].left)
            w_printf(w, "%*s", pad, "");
        w_str(w, cells[c]);
        if (cols[c].left && c + 1 < ncols)
            w_printf(w, "%*s", pad, "");
    }
    w_str(w, "\n");
}

static int w_table(writer *w, const table_col *cols, int ncols, int nrows, table_row_fn row,
                   const void *ctx, hg_error *err)
{
    int width[TABLE_MAX_COLS] = { 0 };
    char cells[TABLE_MAX_COLS][CELL_MAX];
    for (int c = 0; c < ncols; c++) {
        int h = (int)strlen(cols[c].head);
        width[c] = cols[c].min > h ? cols[c].min : h;
    }
    /* Two passes over the rows, one to measure and one to print: rows are cheap to
     * recompute and never stored, whatever their number. */
    for (int r = 0; r < nrows; r++) {
        int rc = row(ctx, r, cells, err);
        if (rc != 0)
            return rc;
        for (int c = 0; c < ncols; c++)
            if ((int)strlen(cells[c]) > width[c])
                width[c] = (int)strlen(cells[c]);
    }
    for (int c = 0; c < ncols; c++)
        snprintf(cells[c], CELL_MAX, "%s", cols[c].head);
    w_table_line(w, cols, ncols, width, cells);
    for (int r = 0; r < nrows && !w->failed; r++) {
        int rc = row(ctx, r, cells, err);
        if (rc != 0)
            return rc;
        w_table_line(w, cols, ncols, width, cells);
    }
    return 0;
}

/* The module and rank tables: lead columns, then one per dim shown (HG_DIMS order),
 * headed by the dim's module key (module table) or coordinate name (rank table). The
 * quiet dims (dims.h) are shown only when some module has one of them other than 1, so
 * a layout without them reads as before. */
typedef struct dim_table {
    const hg_layout *l;
    int quiet; /* the quiet dims are shown */
} dim_table;

static int dim_shown(const dim_table *t, int d)
{
    return t->quiet || !hg_dim_infos[d].quiet;
}

static int quiet_dims_shown(const hg_layout *l)
{
    for (size_t i = 0; i < hg_layout_module_count(l); i++)
        for (int d = 0; d < HG_DIM_COUNT; d++)
            if (hg_dim_infos[d].quiet && hg_layout_module(l, i)->dim[d] != 1)
                return 1;
    return 0;
}

/* cols gets lead[0 .. nlead), then the dims' columns; returns how many. */
static int dim_table_cols(const dim_table *t, const table_col *lead, int nlead, int rank_table,
                          table_col cols[TABLE_MAX_COLS])
{
    int n = 0;
    for (; n < nlead; n++)
        cols[n] = lead[n];
    for (int d = 0; d < HG_DIM_COUNT; d++) {
        const hg_dim_info *in = &hg_dim_infos[d];
        if (dim_shown(t, d))
            cols[n++] = (table_col){ rank_table ? hg_dim_name((hg_dim)d)
                                                : hg_dim_module_key((hg_dim)d),
                                     rank_table ? in->rank_width : in->module_width, 0,
                                     in->gap };
    }
    return n;
}

/* cells from `at` on: vals' shown dims. */
static void dim_cells(const dim_table *t, const int *vals, char cells[][CELL_MAX], int at)
{
    for (int d = 0; d < HG_DIM_COUNT; d++)
        if (dim_shown(t, d))
            snprintf(cells[at++], CELL_MAX, "%d", vals[d]);
}

static const table_col module_lead[] = {
    { "module", 20, 1, 0 }, { "role", 8, 1, 1 }, { "ranks", 17, 1, 1 }, { "size", 5, 0, 1 },
};

static int module_row(const void *ctx, int row, char cells[][CELL_MAX], hg_error *err)
{
    const dim_table *t = ctx;
    const hg_module *m = hg_layout_module(t->l, (size_t)row);
    (void)err;
    snprintf(cells[0], CELL_MAX, "%s", m->name);
    snprintf(cells[1], CELL_MAX, "%s", hg_role_name(m->role));
    snprintf(cells[2], CELL_MAX, "%d-%d", m->offset, m->offset + m->size - 1);
    snprintf(cells[3], CELL_MAX, "%d", m->size);
    dim_cells(t, m->dim, cells, 4);
    return 0;
}

static const table_col rank_lead[] = {
    { "rank", 5, 1, 0 }, { "module", 20, 1, 1 },
};

/* Whether some module has Generalized Tensor Parallelism: its bridges' leaders are
 * per dp x gtp_remat lane. */
static int layout_has_gtp(const hg_layout *l)
{
    for (size_t i = 0; i < hg_layout_module_count(l); i++) {
        const hg_module *m = hg_layout_module(l, i);
        if (m->gtp_remat != 1 || m->expert_gtp_remat != 1)
            return 1;
    }
    return 0;
}

static int rank_row(const void *ctx, int row, char cells[][CELL_MAX], hg_error *err)
{
    const dim_table *t = ctx;
    hg_rank_view p;
    int rc = hg_rank_view_build(t->l, row, &p, err);
    if (rc != 0)
        return rc;
    snprintf(cells[0], CELL_MAX, "%d", row);
    snprintf(cells[1], CELL_MAX, "%s", p.module.name);
    dim_cells(t, p.coords.dim, cells, 2);
    hg_rank_view_free(&p);
    return 0;
}

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const table_col bridge_cols[] = {
    { "  bridge", 20, 1, 0 }, { "mode", 10, 1, 1 }, { "leaders", 7, 0, 1 }, { "links", 5, 0, 1 },
    { "group", 5, 1, 2 },
};

/* A bridge's own group in a table cell: every member up to 8, else the first three and
 * the last with the count (a cell is bounded; --rank N lists them all). */
static void bridge_group_cell(const hg_layout *l, const hg_bridge *b, char *cell)
{
    int n = hg_bridge_group_size(b), v[9];
    int *members = n <= 8 ? v : malloc((size_t)n * sizeof(int));
    if (!members) {
        snprintf(cell, CELL_MAX, "(%d ranks)", n);
        return;
    }
    hg_bridge_group_members(l, b, members);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (n > 8 && i == 3) {
            at += (size_t)snprintf(cell + at, CELL_MAX - at, ", ...");
            i = n - 1;
        }
        at += (size_t)snprintf(cell + at, CELL_MAX - at, "%s%d", i ? ", " : "[", members[i]);
    }
    if (n > 8)
        snprintf(cell + at, CELL_MAX - at, "] (%d ranks)", n);
    else
        snprintf(cell + at, CELL_MAX - at, "]");
    if (members != v)
        free(members);
}

static int bridge_row(const void *ctx, int row, char cells[][CELL_MAX], hg_error *err)
{
    const hg_layout *l = ctx;
    const hg_bridge *b = hg_layout_bridge(l, (size_t)row);
    (void)err;
    snprintf(cells[0], CELL_MAX, "  %s -> %s", hg_layout_module(l, (size_t)b->src)->name,
             hg_layout_module(l, (size_t)b->dest)->name);
    snprintf(cells[1], CELL_MAX, "%s", hg_bridge_mode_name(b->mode));
    snprintf(cells[2], CELL_MAX, "%d -> %d", b->nsrc, b->ndest);
    snprintf(cells[3], CELL_MAX, "%d", b->nlinks);
    bridge_group_cell(l, b, cells[4]);
    return 0;
}

/* Per-rank coordinates are listed up to this many ranks; beyond, a summary. */
#define TABLE_MAX_RANKS 64

/* "groups per module (count x size)": a line per module, its kinds' counts and sizes. */
static void w_group_counts(writer *w, const hg_layout *l)
{
    w_str(w, "\ngroups per module (count x size):\n");
    for (size_t i = 0; i < hg_layout_module_count(l) && !w->failed; i++) {
        const hg_module *m = hg_layout_module(l, i);
        w_printf(w, "  %s:", m->name);
        for (int k = 0; k < HG_KIND_COUNT; k++)
            if (hg_kind_applies(m, (hg_kind)k))
                w_printf(w, " %s %dx%d", hg_kind_name((hg_kind)k), hg_group_count(m, (hg_kind)k),
                         hg_group_size(m, (hg_kind)k, 0));
        w_str(w, "\n");
    }
}

int hg_plan_write_table(const hg_layout *l, FILE *out, hg_error *err)
{
    size_t nmod = hg_layout_module_count(l);
    int world = hg_layout_world_size(l);
    writer *w = w_new(out);
    if (!w)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    int rc;
    int colocated = hg_layout_mode(l) == HG_LAYOUT_COLOCATED;
    w_printf(w, "hgrid plan: %d rank%s, %zu module%s%s\n\n", world, world == 1 ? "" : "s", nmod,
             nmod == 1 ? "" : "s",
             colocated ? ", colocated (every module spans every rank)" : "");
    dim_table dt = { .l = l, .quiet = quiet_dims_shown(l) };
    table_col cols[TABLE_MAX_COLS];
    int ncols = dim_table_cols(&dt, module_lead, NCOLS(module_lead), 0, cols);
    if ((rc = w_table(w, cols, ncols, (int)nmod, module_row, &dt, err)) != 0)
        goto out;
    size_t nb = hg_layout_bridge_count(l);
    if (nb) {
        w_printf(w, "\nbridge%s (leaders per side, one per dp %s):\n", nb == 1 ? "" : "s",
                 layout_has_gtp(l) ? "x gtp_remat lane" : "replica");
        if ((rc = w_table(w, bridge_cols, NCOLS(bridge_cols), (int)nb, bridge_row, l, err)) != 0)
            goto out;
    } else if (!colocated && nmod > 1) {
        w_str(w, "\nbridges: none\n");
    }
    w_group_counts(w, l);
    if (world > TABLE_MAX_RANKS) {
        w_printf(w, "\n%d ranks: per-rank coordinates not listed (use --rank N for one "
                 "rank's view)\n", world);
    } else {
        w_str(w, "\n");
        ncols = dim_table_cols(&dt, rank_lead, NCOLS(rank_lead), 1, cols);
        if ((rc = w_table(w, cols, ncols, world, rank_row, &dt, err)) != 0)
            goto out;
    }
    rc = w_finish(w, err);
out:
    free(w);
    return rc;
}

static json_t *int_array_json(const int *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static int w_dump(const char *buf, size_t size, void *data)
{
    writer *w = data;
    w_bytes(w, buf, size);
    return w->failed ? -1 : 0;
}

/* "groups" of one rank's view: kind -> {index, rank, members} or null. */
static json_t *rank_groups_json(const hg_rank_view *p)
{
    json_t *groups = json_object();
    for (int k = 0; groups && k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &p->groups[k];
        if (!hg_kind_applies(&p->module, (hg_kind)k))
            continue;
        json_t *v = g->index < 0 ? json_null()
                                 : json_pack("{s:i, s:i, s:o}", "index", g->index, "rank",
                                             g->pos, "members",
                                             int_array_json(g->members, g->size));
        if (json_object_set_new(groups, hg_kind_name((hg_kind)k), v) != 0) {
            json_decref(groups);
            return NULL;
        }
    }
    return groups;
}

static json_t *coords_json(const hg_coords *c)
{
    json_t *j = json_object();
    for (int d = 0; j && d < HG_DIM_COUNT; d++)
        if (json_object_set_new(j, hg_dim_name((hg_dim)d),
                                json_integer(hg_coords_dim(c, (hg_dim)d))) != 0) {
            json_decref(j);
            return NULL;
        }
    return j;
}

/* "bridges": this rank's roles (docs/DESIGN.md, "Module graph and bridges"). */
static json_t *rank_bridges_json(const hg_rank_view *p)
{
    json_t *a = json_array();
    for (int i = 0; a && i < p->nbridges; i++) {
        const hg_rank_bridge *b = &p->bridges[i];
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:o, s:o}", "src", b->src_name,
                              "dest", b->dest_name, "side", hg_bridge_side_name(b->side), "role",
                              hg_bridge_role_name(b->role), "peers",
                              int_array_json(b->peers, b->npeers), "leader", b->leader, "broadcast",
                              int_array_json(b->broadcast, b->nbroadcast), "group",
                              int_array_json(b->group, b->ngroup));
        if (json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* One side's boundary broadcast groups of bridge b, one per leader, as JSON. */
static json_t *broadcasts_json(const hg_layout *l, const hg_bridge *b, hg_bridge_side side,
                               int *members)
{
    json_t *a = json_array();
    int n = side == HG_BRIDGE_SRC ? b->nsrc : b->ndest;
    int size = hg_bridge_broadcast_size(l, b, side);
    for (int r = 0; a && r < n; r++) {
        hg_bridge_broadcast_members(l, b, side, r, members);
        if (json_array_append_new(a, int_array_json(members, size)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* "bridge_groups": every bridge of the layout, the rank's or not, in plan order: src,
 * dest, the bridge's own group and both sides' broadcast groups. A torch program
 * constructs every bridge on every rank (Megatron's MultiModulePipelineCommunicator), so
 * hgrid.torch needs each one's groups to hand them over (docs/DESIGN.md, "The bridge's
 * own group"). O(every bridge's boundary ranks). */
static json_t *bridge_groups_json(const hg_layout *l)
{
    json_t *a = json_array();
    size_t nb = hg_layout_bridge_count(l);
    int most = 1;
    for (size_t i = 0; i < nb; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        int sizes[3] = { hg_bridge_group_size(b), hg_bridge_broadcast_size(l, b, HG_BRIDGE_SRC),
                         hg_bridge_broadcast_size(l, b, HG_BRIDGE_DEST) };
        for (int k = 0; k < 3; k++)
            most = sizes[k] > most ? sizes[k] : most;
    }
    int *members = malloc((size_t)most * sizeof(int));
    for (size_t i = 0; a && members && i < nb; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        hg_bridge_group_members(l, b, members);
        json_t *group = int_array_json(members, hg_bridge_group_size(b));
        json_t *e = json_pack("{s:s, s:s, s:o, s:o, s:o}", "src",
                              hg_layout_module(l, (size_t)b->src)->name, "dest",
                              hg_layout_module(l, (size_t)b->dest)->name, "group", group,
                              "src_broadcast", broadcasts_json(l, b, HG_BRIDGE_SRC, members),
                              "dest_broadcast", broadcasts_json(l, b, HG_BRIDGE_DEST, members));
        if (json_array_append_new(a, e) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    free(members);
    if (!members) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* Colocated: "modules", one {module, module_rank, coords, groups} per module. */
static json_t *rank_modules_json(const hg_rank_view *p)
{
    json_t *a = json_array();
    for (int i = 0; a && i < p->nmodules_here; i++) {
        const hg_rank_view *v = &p->per_module[i];
        json_t *e = json_pack("{s:o, s:i, s:o, s:o}", "module", module_json(&v->module),
                              "module_rank", v->module_rank, "coords", coords_json(&v->coords),
                              "groups", rank_groups_json(v));
        if (json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int hg_plan_write_rank_json(const hg_rank_view *p, FILE *out, hg_error *err)
{
    writer *w = w_new(out);
    json_t *root = json_pack("{s:i, s:o, s:i, s:i, s:o, s:i, s:o, s:o, s:o}", "hgrid_rank_plan",
                             HG_PLAN_VERSION, "kinds", kinds_json(), "world_size", p->world_size, "rank", p->rank, "module",
                             module_json(&p->module), "module_rank", p->module_rank, "coords",
                             coords_json(&p->coords), "groups", rank_groups_json(p),
                             "bridges", rank_bridges_json(p));
    int rc;
    if (!w || !root)
        goto nomem;
    if (p->layout == HG_LAYOUT_COLOCATED
        && json_object_set_new(root, "modules", rank_modules_json(p)) != 0)
        goto nomem;
    if (p->layout != HG_LAYOUT_COLOCATED && p->source
        && json_object_set_new(root, "bridge_groups", bridge_groups_json(p->source)) != 0)
        goto nomem;
    /* Streamed through the writer, which keeps a write error's cause (jansson does not). */
    if (json_dump_callback(root, w_dump, w, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0
        && !w->failed)
        goto nomem;
    w_str(w, "\n");
    rc = w_finish(w, err);
    goto out;
nomem:
    rc = hg_error_set(err, HG_ENOMEM, "out of memory encoding the rank plan");
out:
    json_decref(root);
    free(w);
    return rc;
}

/* A list of ranks, its ends only past 32 (a whole-module group at scale would flood a
 * terminal). */
static void w_rank_list(writer *w, const int *v, int n)
{
    w_str(w, "[");
    for (int i = 0; i < n; i++) {
        if (n > 32 && i == 16) {
            w_printf(w, ", ... (%d more)", n - 32);
            i = n - 16;
        }
        w_printf(w, i ? ", %d" : "%d", v[i]);
    }
    w_str(w, "]");
}

/* One module's part of a rank's table: coordinates and groups. */
static void w_rank_module(writer *w, const hg_rank_view *p)
{
    const hg_module *m = &p->module;
    const hg_coords *c = &p->coords;
    /* Each view's dims in grid order; a quiet dim (dims.h) only where it is not 1, so a
     * layout without it reads as before. */
    for (int view = 0; view < HG_VIEW_COUNT; view++) {
        w_printf(w, "%-8s", view == HG_VIEW_DENSE ? "dense:" : "expert:");
        for (int i = 0, n = 0; i < HG_VIEW_DIMS; i++) {
            hg_dim d = hg_view_dim[view][i];
            if (hg_dim_infos[d].quiet && m->dim[d] == 1)
                continue;
            w_printf(w, "%s%s %d/%d", n++ ? "  " : "", hg_dim_name(d), c->dim[d], m->dim[d]);
        }
        w_str(w, "\n");
    }
    /* Group indexes and ranks reach 2^24: widths from the data keep the columns aligned. */
    int gw = 6, rw = 5, kw = 12;
    char num[16];
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        int n = (int)strlen(hg_kind_name((hg_kind)k));
        kw = n > kw ? n : kw;
    }
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &p->groups[k];
        if (!hg_kind_applies(m, (hg_kind)k) || g->index < 0)
            continue;
        int n = snprintf(num, sizeof(num), "%d", g->index);
        gw = n > gw ? n : gw;
        n = snprintf(num, sizeof(num), "%d", g->pos);
        rw = n > rw ? n : rw;
    }
    w_printf(w, "\n%-*s %*s %*s  %s\n", kw, "kind", gw, "group", rw, "rank", "members");
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &p->groups[k];
        if (!hg_kind_applies(m, (hg_kind)k))
            continue;
        if (g->index < 0) {
            w_printf(w, "%-*s %*s %*s  (not a member)\n", kw, hg_kind_name((hg_kind)k), gw, "-",
                     rw, "-");
            continue;
        }
        w_printf(w, "%-*s %*d %*d  ", kw, hg_kind_name((hg_kind)k), gw, g->index, rw, g->pos);
        w_rank_list(w, g->members, g->size);
        w_str(w, "\n");
    }
}

int hg_plan_write_rank_table(const hg_rank_view *p, FILE *out, hg_error *err)
{
    writer *w = w_new(out);
    if (!w)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    if (p->layout == HG_LAYOUT_COLOCATED && p->nmodules_here > 0) {
        w_printf(w, "rank %d of %d: colocated, in all %d modules\n", p->rank, p->world_size,
                 p->nmodules_here);
        for (int i = 0; i < p->nmodules_here; i++) {
            const hg_rank_view *v = &p->per_module[i];
            w_printf(w, "\nmodule %s (%s), module rank %d of %d\n", v->module.name,
                     hg_role_name(v->module.role), v->module_rank, v->module.size);
            w_rank_module(w, v);
        }
    } else {
        w_printf(w, "rank %d of %d: module %s (%s), module rank %d of %d\n", p->rank,
                 p->world_size, p->module.name, hg_role_name(p->module.role), p->module_rank,
                 p->module.size);
        w_rank_module(w, p);
    }
    if (p->nbridges)
        w_str(w, "\nbridges:\n");
    for (int i = 0; i < p->nbridges; i++) {
        const hg_rank_bridge *b = &p->bridges[i];
        w_printf(w, "  %s -> %s (%s): %s side, %s, leader %d", b->src_name, b->dest_name,
                 hg_bridge_mode_name(b->mode), hg_bridge_side_name(b->side),
                 hg_bridge_role_name(b->role), b->leader);
        if (b->role != HG_BRIDGE_MEMBER) {
            w_str(w, b->role == HG_BRIDGE_SENDER ? ", sends to " : ", receives from ");
            w_rank_list(w, b->peers, b->npeers);
        }
        w_printf(w, "\n    broadcast: %s group %d, ", hg_kind_name(b->group_kind), b->group_index);
        w_rank_list(w, b->broadcast, b->nbroadcast);
        w_str(w, "\n    bridge group: ");
        w_rank_list(w, b->group, b->ngroup);
        if (b->group_pos < 0)
            w_str(w, " (not a member)\n");
        else
            w_printf(w, " (rank %d of %d)\n", b->group_pos, b->ngroup);
    }
    int rc = w_finish(w, err);
    free(w);
    return rc;
}

/* ---- Megatron MIMO example arguments ---- */

#define MEG "--format megatron: "

/* Whether the layout's single encoder feeds the language module (a bridge). */
static int encoder_feeds_language(const hg_layout *l, int enc, int lang)
{
    size_t first, n = hg_layout_bridges_from(l, enc, &first);
    for (size_t i = 0; i < n; i++)
        if (hg_layout_bridge(l, first + i)->dest == lang)
            return 1;
    return 0;
}

/* The language module's index (-1: none) and the first encoder's (-1: none), and how
 * many encoders there are. */
static int find_megatron_modules(const hg_layout *l, int *enc, int *lang)
{
    int nenc = 0;
    *enc = *lang = -1;
    for (size_t i = 0; i < hg_layout_module_count(l); i++) {
        const hg_module *m = hg_layout_module(l, i);
        if (m->role == HG_ROLE_LANGUAGE) {
            *lang = (int)i;
        } else {
            if (*enc < 0)
                *enc = (int)i;
            nenc++;
        }
    }
    return nenc;
}

/* The example's encoder has only tp and dp. */
static int check_megatron_encoder_shape(const hg_module *em, hg_error *err)
{
    if (em->cp > 1 || em->pp > 1) {
        char what[64];
        if (em->cp > 1 && em->pp > 1)
            snprintf(what, sizeof(what), "cp = %d and pp = %d", em->cp, em->pp);
        else if (em->cp > 1)
            snprintf(what, sizeof(what), "cp = %d", em->cp);
        else
            snprintf(what, sizeof(what), "pp = %d", em->pp);
        return hg_error_set(err, HG_EINVAL,
                            MEG "encoder '%s' has %s; the Megatron MIMO example's encoder "
                            "has cp = 1 and pp = 1 (tp and dp only)", em->name, what);
    }
    if (em->ep > 1 || em->expert_tp > 1 || em->num_experts > 0)
        return hg_error_set(err, HG_EINVAL,
                            MEG "encoder '%s' has experts (moe); the Megatron MIMO "
                            "example's encoder has none", em->name);
    /* Its Generalized Tensor Parallelism size is the language module's alone: the
     * encoder's model provider resets its weight shards to its tp (no GTP). */
    if (em->gtp_remat > 1)
        return hg_error_set(err, HG_EINVAL,
                            MEG "encoder '%s' has gtp_remat %d; the Megatron MIMO example "
                            "takes a Generalized Tensor Parallelism size for the language "
                            "module only (--tensor-parallel-num-weight-shards), its encoder "
                            "has none", em->name, em->gtp_remat);
    return 0;
}

/* Whether the example can express a layout with an encoder: disjoint, one encoder of
 * tp and dp only, at rank 0, feeding the language module right after it. */
static int check_megatron_layout(const hg_layout *l, int enc, int lang, int nenc, hg_error *err)
{
    const hg_module *em = hg_layout_module(l, (size_t)enc);
    const hg_module *lm = hg_layout_module(l, (size_t)lang);
    if (hg_layout_mode(l) == HG_LAYOUT_COLOCATED)
        return hg_error_set(err, HG_EINVAL,
                            MEG "a colocated layout; the Megatron MIMO example places its "
                            "encoder and language module on disjoint ranks");
    if (nenc > 1)
        return hg_error_set(err, HG_EINVAL,
                            MEG "%d encoders; the Megatron MIMO example has one", nenc);
    int rc = check_megatron_encoder_shape(em, err);
    if (rc != 0)
        return rc;
    if (!encoder_feeds_language(l, enc, lang))
        return hg_error_set(err, HG_EINVAL,
                            MEG "encoder '%s' does not feed language module '%s' (feeds: []); "
                            "the Megatron MIMO example bridges its encoder to the "
                            "language module", em->name, lm->name);
    if (lm->offset != em->size)
        return hg_error_set(err, HG_EINVAL,
                            MEG "language module '%s' starts at rank %d, not at rank %d "
                            "right after encoder '%s'; the Megatron MIMO example places "
                            "its encoder at rank 0 and the language module right after it",
                            lm->name, lm->offset, em->size, em->name);
    return 0;
}

/* The arguments line: encoder em (or NULL: --llm-only), language module lm. The
 * example reads the language module's Generalized Tensor Parallelism sizes from
 * Megatron's own weight-shard arguments (args.py, resolve_hetero_gtp_degrees): each
 * is the tensor-parallel size times the GTP size, and its --llm-dp leaves GTP out
 * (the span is tp*gtp_remat*cp*pp*dp), as hgrid's dp does. Written only above 1. */
static int w_megatron_args(const hg_module *em, const hg_module *lm, FILE *out, hg_error *err)
{
    writer *w = w_new(out);
    if (!w)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    if (em)
        w_printf(w, "--encoder-tp %d --encoder-dp %d ", em->tp, em->dp);
    else
        w_str(w, "--llm-only ");
    w_printf(w, "--llm-offset %d --llm-tp %d --llm-cp %d --llm-pp %d --llm-dp %d --llm-ep %d "
             "--llm-expt-tp %d", lm->offset, lm->tp, lm->cp, lm->pp, lm->dp, lm->ep,
             lm->expert_tp);
    if (lm->num_experts > 0)
        w_printf(w, " --num-experts %d", lm->num_experts);
    if (lm->gtp_remat > 1)
        w_printf(w, " --tensor-parallel-num-weight-shards %d", lm->tp * lm->gtp_remat);
    if (lm->expert_gtp_remat > 1)
        w_printf(w, " --expert-tensor-parallel-num-weight-shards %d",
                 lm->expert_tp * lm->expert_gtp_remat);
    w_str(w, "\n");
    int rc = w_finish(w, err);
    free(w);
    return rc;
}

int hg_plan_write_megatron(const hg_layout *l, FILE *out, hg_error *err)
{
    int enc, lang, nenc = find_megatron_modules(l, &enc, &lang);
    if (lang < 0) /* validation requires one; never here */
        return hg_error_set(err, HG_EINVAL, MEG "the layout has no language module");
    if (enc >= 0) {
        int rc = check_megatron_layout(l, enc, lang, nenc, err);
        if (rc != 0)
            return rc;
    }
    return w_megatron_args(enc >= 0 ? hg_layout_module(l, (size_t)enc) : NULL,
                           hg_layout_module(l, (size_t)lang), out, err);
}
