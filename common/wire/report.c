/* The readiness report's one writer (report.h). */
#include "wire/report.h"

json_t *hg_report_new(const hg_report_head *h)
{
    json_t *r = json_pack("{s:i, s:i, s:s}", "hgrid_ready", 1, "world_size", h->world_size,
                          "backend", h->backend ? h->backend : "?");
    if (r && h->preflight
        && (json_object_set_new(r, "preflight", json_string(h->preflight)) != 0
            || json_object_set_new(r, "nccl_roots", json_integer(h->nccl_roots)) != 0))
        goto fail;
    if (r && (json_object_set_new(r, "timeout_s", json_integer(h->timeout_s)) != 0
              || json_object_set_new(r, "go", json_boolean(h->go)) != 0))
        goto fail;
    return r;
fail:
    json_decref(r);
    return NULL;
}

json_t *hg_report_rank(int rank, const char *module, const char *status)
{
    return json_pack("{s:i, s:s, s:s}", "rank", rank, "module", module, "status", status);
}

int hg_report_add(json_t *obj, json_t *more)
{
    int rc = !obj || !more || json_object_update(obj, more) != 0 ? -1 : 0;
    json_decref(more);
    return rc;
}

int hg_report_write(json_t *report, const char *path, FILE *errs)
{
    int rc = !report || json_dump_file(report, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER
                                                         | JSON_REAL_PRECISION(6)) != 0;
    if (rc)
        fprintf(errs, "hgrid: warning: cannot write the readiness report %s\n", path);
    json_decref(report);
    return rc ? -1 : 0;
}

int hg_report_merge(const char *path, const char *key, json_t *value)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    int rc = -1;
    if (root && json_is_object(root) && value && json_object_set(root, key, value) == 0)
        rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER
                                            | JSON_REAL_PRECISION(6)) == 0 ? 0 : -1;
    json_decref(root);
    json_decref(value);
    return rc;
}
