/* Attempts: a growing array; the report is read back, extended and rewritten whole
 * (it is small: one record per rank). */
#include "attempts.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    hg_attempt a;
    double start, end;
} entry;

struct hg_attempts {
    entry *v;
    int n, cap;
};

hg_attempts *hg_attempts_new(void)
{
    return calloc(1, sizeof(hg_attempts));
}

void hg_attempts_free(hg_attempts *l)
{
    if (l)
        free(l->v);
    free(l);
}

int hg_attempts_add(hg_attempts *l, const hg_attempt *a, double start, double end)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        entry *v = realloc(l->v, (size_t)cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (entry){ *a, start, end };
    return 0;
}

int hg_attempts_count(const hg_attempts *l)
{
    return l ? l->n : 0;
}

/* Seconds from attempt i-1's end (its failure stopped) to attempt i's go; -1 unknown. */
static double recovery_s(const hg_attempts *l, int i)
{
    if (i == 0 || l->v[i].a.go_s < 0)
        return -1;
    return l->v[i].start - l->v[i - 1].end + l->v[i].a.go_s;
}

void hg_attempts_summary(const hg_attempts *l, FILE *out)
{
    if (!l || l->n < 2)
        return;
    fprintf(out, "hgrid: %d attempts:\n", l->n);
    for (int i = 0; i < l->n; i++) {
        const hg_attempt *a = &l->v[i].a;
        fprintf(out, "hgrid:   attempt %d: %s after %.1f s", i,
                a->stop == HG_STOP_NONE ? "succeeded" : "failed", a->duration_s);
        if (a->stop != HG_STOP_NONE)
            fprintf(out, " (%s%s%s), exit status %d", a->why, a->failed_host[0] ? " on " : "",
                    a->failed_host, a->status);
        if (recovery_s(l, i) >= 0)
            fprintf(out, "; go %.1f s after attempt %d ended", recovery_s(l, i), i - 1);
        fputc('\n', out);
    }
}

static json_t *attempt_json(const hg_attempts *l, int i)
{
    const hg_attempt *a = &l->v[i].a;
    json_t *o = json_pack("{s:i, s:i, s:f, s:s}", "attempt", i, "exit_status", a->status,
                          "duration_s", a->duration_s, "result",
                          a->stop == HG_STOP_NONE ? "succeeded"
                          : a->stop == HG_STOP_OPERATOR ? "stopped" : "failed");
    if (!o)
        return NULL;
    if (a->stop != HG_STOP_NONE)
        json_object_set_new(o, "cause", json_string(a->why));
    if (a->failed_rank >= 0) {
        json_object_set_new(o, "failed_rank", json_integer(a->failed_rank));
        if (a->failed_host[0])
            json_object_set_new(o, "failed_host", json_string(a->failed_host));
        if (a->failed_signal)
            json_object_set_new(o, "failed_signal", json_integer(a->failed_signal));
    }
    if (a->go_s >= 0)
        json_object_set_new(o, "go_s", json_real(a->go_s));
    json_object_set_new(o, "launcher_messages", json_integer(a->launcher_messages));
    if (recovery_s(l, i) >= 0)
        json_object_set_new(o, "from_last_failure_to_go_s", json_real(recovery_s(l, i)));
    return o;
}

int hg_attempts_add_to_report(const hg_attempts *l, const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr), *list = json_array();
    int rc = -1;
    json_int_t noise = 0;
    if (!root || !json_is_object(root) || !list)
        goto out;
    for (int i = 0; i < l->n; i++)
        noise += l->v[i].a.launcher_messages;
    json_object_set_new(root, "launcher_messages", json_integer(noise));
    for (int i = 0; l->n > 1 && i < l->n; i++)
        json_array_append_new(list, attempt_json(l, i));
    if (l->n > 1) {
        json_object_set_new(root, "restarts", json_integer(l->n - 1));
        json_object_set(root, "attempts", list);
    }
    rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) == 0 ? 0 : -1;
out:
    json_decref(list);
    json_decref(root);
    return rc;
}
