/* The readiness report (--report FILE): one JSON object, "hgrid_ready": 1, written by
 * the coordinator (agent/readiness.c: every rank's record) or, when the job ended
 * before the coordinator could write it, by hgrid-launch (launcher/supervisor.c: what
 * the launcher knows). Both build it here, so the keys they share are spelled,
 * ordered and formatted once; each then adds its own keys, in its order. */
#ifndef HG_REPORT_H
#define HG_REPORT_H

#include <jansson.h>
#include <stdio.h>

/* The head both writers share, in this order: "hgrid_ready", "world_size", "backend",
 * then (when preflight is not NULL: the agents know it) "preflight" and "nccl_roots",
 * then "timeout_s" and "go". */
typedef struct hg_report_head {
    int world_size;
    const char *backend;   /* "?" when unknown */
    const char *preflight; /* NULL: unknown (the launcher); nccl_roots is left out too */
    int nccl_roots;
    int timeout_s;
    int go;
} hg_report_head;

/* A new report object with the head's keys; NULL when out of memory. */
json_t *hg_report_new(const hg_report_head *h);
/* One rank's entry: "rank", "module", "status" ("ready", "failed", ...); the writer
 * adds the rest. NULL when out of memory. */
json_t *hg_report_rank(int rank, const char *module, const char *status);
/* Appends more's keys to obj, in more's order, and frees more (the writers' own keys,
 * after the head). Returns 0, or -1 when either is NULL or memory ran out. */
int hg_report_add(json_t *obj, json_t *more);
/* Writes report (NULL: it could not be built) to path, one key per line, reals with 6
 * significant digits, and frees it. Returns 0, or -1 after a warning on errs. */
int hg_report_write(json_t *report, const char *path, FILE *errs);
/* Sets key to value (freed) in the report already at path, rewritten whole (the
 * launcher's additions after the coordinator wrote it). 0, or -1 when there is no
 * report there or it cannot be rewritten. */
int hg_report_merge(const char *path, const char *key, json_t *value);

#endif
