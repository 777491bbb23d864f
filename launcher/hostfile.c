/* Hostfile lines are kept as written (options included) and written back whole; only
 * the host name and slots are read. */
#include "hostfile.h"

#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct host_line {
    char *text;   /* the line as written */
    char name[256];
    int slots;
    int out;      /* left out */
    int down;     /* unreachable at this attempt's probe: out of this attempt only */
    int probed;   /* probed for this attempt */
    char why[HG_PROBE_WHY_MAX];
} host_line;

struct hg_hostfile {
    host_line *v;
    int n;
};

void hg_hostfile_free(hg_hostfile *h)
{
    for (int i = 0; h && i < h->n; i++)
        free(h->v[i].text);
    if (h)
        free(h->v);
    free(h);
}

/* One line: 1 and *hl filled, 0 for a blank or comment line, -1 when malformed. */
static int parse_host_line(char *line, host_line *hl)
{
    char *hash = strchr(line, '#'), *save = NULL;
    if (hash)
        *hash = '\0';
    char *tok = strtok_r(line, " \t\r\n", &save);
    if (!tok)
        return 0;
    if (strlen(tok) >= sizeof(hl->name))
        return -1;
    snprintf(hl->name, sizeof(hl->name), "%s", tok);
    hl->slots = 1;
    while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
        char *end;
        if (strncmp(tok, "slots=", 6) != 0)
            continue;
        long v = strtol(tok + 6, &end, 10);
        if (*end || v < 1 || v > 1 << 24)
            return -1;
        hl->slots = (int)v;
    }
    return 1;
}

int hg_hostfile_read(const char *path, hg_hostfile **out, hg_error *err)
{
    FILE *f = fopen(path, "r");
    hg_hostfile *h = calloc(1, sizeof(*h));
    char line[4096];
    int lineno = 0, rc = 0;
    *out = NULL;
    if (!f || !h) {
        rc = hg_error_set(err, HG_EIO, "cannot read the hostfile %s: %s", path, strerror(errno));
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        host_line hl = { 0 };
        char *copy = strdup(line);
        lineno++;
        copy[strcspn(copy, "\n")] = '\0';
        int k = parse_host_line(line, &hl);
        if (k <= 0) {
            free(copy);
            if (k < 0) {
                rc = hg_error_set(err, HG_EINVAL, "%s:%d: not a hostfile line", path, lineno);
                goto out;
            }
            continue;
        }
        host_line *v = realloc(h->v, (size_t)(h->n + 1) * sizeof(*v));
        if (!v) {
            free(copy);
            rc = hg_error_set(err, HG_ENOMEM, "out of memory");
            goto out;
        }
        h->v = v;
        hl.text = copy;
        h->v[h->n++] = hl;
    }
out:
    if (f)
        fclose(f);
    if (rc == 0)
        *out = h;
    else
        hg_hostfile_free(h);
    return rc;
}

int hg_hostfile_slots(const hg_hostfile *h)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        n += h->v[i].out || h->v[i].down ? 0 : h->v[i].slots;
    return n;
}

int hg_hostfile_hosts_in(const hg_hostfile *h)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        n += !h->v[i].out && !h->v[i].down;
    return n;
}

/* The same name, written short or fully qualified ("node3" and "Node3.cluster"): host
 * names are case-blind, a rank reports gethostname(), SLURM and hostfiles may use
 * either. */
static int same_name(const char *a, const char *b)
{
    size_t la = strcspn(a, "."), lb = strcspn(b, ".");
    if (strcasecmp(a, b) == 0)
        return 1;
    return (a[la] == '\0' || b[lb] == '\0') && la == lb && strncasecmp(a, b, la) == 0;
}

/* Whether addr (IPv4, network order) is one of this machine's: loopback or an
 * interface's. */
static int local_addr(struct in_addr addr)
{
    struct ifaddrs *ifs = NULL;
    int found = (ntohl(addr.s_addr) >> 24) == 127;
    if (!found && getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
            found = i->ifa_addr && i->ifa_addr->sa_family == AF_INET
                    && ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr.s_addr;
        freeifaddrs(ifs);
    }
    return found;
}

/* Up to cap IPv4 addresses of name (a name or a dotted address); returns how many. A
 * name that is this machine's own counts as local (*local). */
static int resolve(const char *name, struct in_addr *out, int cap, int *local)
{
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    char self[256];
    int n = 0;
    *local = gethostname(self, sizeof(self)) == 0 && (self[sizeof(self) - 1] = '\0', 1)
             && same_name(self, name);
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return 0;
    for (struct addrinfo *r = res; r && n < cap; r = r->ai_next) {
        out[n] = ((struct sockaddr_in *)r->ai_addr)->sin_addr;
        *local |= local_addr(out[n]);
        n++;
    }
    freeaddrinfo(res);
    return n;
}

/* The same host, however written: the same name (case, short or long), an address of
 * the other's, or both this machine ("127.0.0.1" and the launcher's own name). */
static int same_host(const char *a, const char *b)
{
    struct in_addr va[8], vb[8];
    int la, lb;
    if (same_name(a, b))
        return 1;
    int na = resolve(a, va, 8, &la), nb = resolve(b, vb, 8, &lb);
    if (la && lb)
        return 1;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (va[i].s_addr == vb[j].s_addr)
                return 1;
    return 0;
}

int hg_hostfile_exclude(hg_hostfile *h, const char *host, const char *why)
{
    int newly = 0;
    for (int i = 0; i < h->n; i++)
        if (!h->v[i].out && !h->v[i].down && same_host(h->v[i].name, host)) {
            h->v[i].out = 1;
            snprintf(h->v[i].why, sizeof(h->v[i].why), "%s", why);
            newly = 1;
        }
    return newly;
}

/* Whether host i is in this attempt and needed: slots before it short of world. */
static int needed(const hg_hostfile *h, int i, int world)
{
    int before = 0;
    if (h->v[i].out || h->v[i].down)
        return 0;
    for (int j = 0; j < i; j++)
        before += h->v[j].out || h->v[j].down ? 0 : h->v[j].slots;
    return world <= 0 || before < world;
}

int hg_hostfile_write(const hg_hostfile *h, int world, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (int i = 0; i < h->n; i++)
        if (needed(h, i, world))
            fprintf(f, "%s\n", h->v[i].text);
    return fclose(f) == 0 ? 0 : -1;
}

int hg_hostfile_uses_all(const hg_hostfile *h, int world)
{
    for (int i = 0; i < h->n; i++)
        if (!needed(h, i, world))
            return 0;
    return 1;
}

int hg_hostfile_probe_slurm(hg_hostfile *h, double timeout_s, int attempt, FILE *out)
{
    const char *names[256];
    int idx[256], n = 0, ok[256], gone = 0;
    char why[256][HG_PROBE_WHY_MAX];
    for (int i = 0; i < h->n; i++)
        h->v[i].down = h->v[i].probed = 0;
    for (int i = 0; i < h->n && n < 256; i++)
        if (!h->v[i].out) {
            idx[n] = i;
            names[n++] = h->v[i].name;
        }
    if (n == 0 || hg_probe_slurm_nodes(names, n, timeout_s, ok, why) != 0)
        return 0;
    for (int k = 0; k < n; k++) {
        if (ok[k])
            continue;
        host_line *hl = &h->v[idx[k]];
        hl->down = 1;
        snprintf(hl->why, sizeof(hl->why), "not up: %.180s", why[k]);
        fprintf(out, "hgrid: node %s is not up in the allocation (%s); left out of attempt %d\n",
                hl->name, why[k], attempt);
        gone++;
    }
    return gone;
}

int hg_hostfile_probe(hg_hostfile *h, int world, double timeout_s, int attempt, FILE *out)
{
    int gone = 0;
    for (int i = 0; i < h->n; i++)
        h->v[i].down = h->v[i].probed = 0;
    for (;;) {
        /* The hosts this attempt would use that are not probed yet: a spare is probed
         * only once a host before it is found down. */
        const char *names[256];
        int idx[256], n = 0, ok[256];
        char why[256][HG_PROBE_WHY_MAX];
        for (int i = 0; i < h->n && n < 256; i++) {
            int local = 0;
            struct in_addr a[8];
            if (!needed(h, i, world) || h->v[i].probed)
                continue;
            h->v[i].probed = 1;
            /* mpirun starts this machine's ranks itself, with no agent. */
            resolve(h->v[i].name, a, 8, &local);
            if (local)
                continue;
            idx[n] = i;
            names[n++] = h->v[i].name;
        }
        if (n == 0)
            return gone;
        if (hg_probe_hosts(names, n, timeout_s, ok, why) != 0) {
            fprintf(out, "hgrid: warning: cannot probe the hosts: %s\n", why[0]);
            return gone;
        }
        for (int k = 0; k < n; k++) {
            if (ok[k])
                continue;
            host_line *hl = &h->v[idx[k]];
            hl->down = 1;
            snprintf(hl->why, sizeof(hl->why), "unreachable: %.180s", why[k]);
            fprintf(out, "hgrid: host %s unreachable (%s); left out of attempt %d\n", hl->name,
                    why[k], attempt);
            gone++;
        }
    }
}

void hg_hostfile_describe(const hg_hostfile *h, FILE *out)
{
    int first = 1;
    for (int i = 0; i < h->n; i++)
        if (!h->v[i].out && !h->v[i].down) {
            fprintf(out, "%s%s", first ? "" : ", ", h->v[i].name);
            first = 0;
        }
    if (first)
        fputs("none", out);
    first = 1;
    for (int i = 0; i < h->n; i++)
        if (h->v[i].out || h->v[i].down) {
            fprintf(out, "%s%s (%s)", first ? "; left out: " : ", ", h->v[i].name, h->v[i].why);
            first = 0;
        }
}

/* A pre-flight phase in which a failure says something about the host's GPU or links
 * (not the config, not another rank's failure). */
static int host_phase(const char *phase)
{
    static const char *const phases[] = { "gpu", "world", "groups", "verify", "bridges", NULL };
    for (int i = 0; phases[i]; i++)
        if (strcmp(phase, phases[i]) == 0)
            return 1;
    return 0;
}

int hg_hostfile_exclude_failures(hg_hostfile *h, const char *report, const hg_attempt *a)
{
    int newly = 0;
    char why[160];
    json_t *root = report ? json_load_file(report, 0, NULL) : NULL;
    json_t *ranks = root ? json_object_get(root, "ranks") : NULL;
    size_t i;
    json_t *r;
    json_array_foreach(ranks, i, r) {
        const char *status = json_string_value(json_object_get(r, "status"));
        const char *phase = json_string_value(json_object_get(r, "phase"));
        const char *host = json_string_value(json_object_get(r, "host"));
        if (!status || !phase || !host || strcmp(status, "failed") != 0 || !host_phase(phase))
            continue;
        snprintf(why, sizeof(why), "rank %d failed pre-flight in phase %s",
                 (int)json_integer_value(json_object_get(r, "rank")), phase);
        newly += hg_hostfile_exclude(h, host, why);
    }
    json_decref(root);
    if (a->stop == HG_STOP_HOST_LOST && a->failed_host[0]) {
        snprintf(why, sizeof(why), "host lost");
        newly += hg_hostfile_exclude(h, a->failed_host, why);
    } else if (a->failed_rank >= 0 && a->failed_signal && a->failed_host[0]) {
        snprintf(why, sizeof(why), "rank %d killed by signal %d", a->failed_rank,
                 a->failed_signal);
        newly += hg_hostfile_exclude(h, a->failed_host, why);
    }
    return newly;
}

static int add_host(hg_hostfile *h, const char *name, size_t n, int slots)
{
    host_line *v = realloc(h->v, (size_t)(h->n + 1) * sizeof(*v));
    if (!v || n == 0 || n >= sizeof(v->name))
        return v ? (h->v = v, -1) : -1;
    h->v = v;
    host_line *hl = &h->v[h->n];
    *hl = (host_line){ 0 };
    memcpy(hl->name, name, n);
    hl->name[n] = '\0';
    hl->slots = slots;
    if (asprintf(&hl->text, "%s slots=%d", hl->name, slots) < 0)
        return -1;
    h->n++;
    return 0;
}

/* "prefix[1-3,07]suffix": each number of the ranges, zero-padded as written. */
static int expand_bracket(hg_hostfile *h, const char *item, int slots)
{
    const char *open = strchr(item, '['), *close = open ? strchr(open, ']') : NULL;
    char name[256];
    if (!close || strchr(close + 1, '['))
        return -1;
    int plen = (int)(open - item);
    const char *p = open + 1;
    while (p < close) {
        char *end;
        const char *start = p;
        long lo = strtol(p, &end, 10), hi = lo;
        int width = (int)(end - start);
        if (end == start)
            return -1;
        p = end;
        if (*p == '-') {
            hi = strtol(p + 1, &end, 10);
            if (end == p + 1 || hi < lo || hi - lo > 100000)
                return -1;
            p = end;
        }
        for (long v = lo; v <= hi; v++) {
            int n = snprintf(name, sizeof(name), "%.*s%0*ld%s", plen, item, width, v, close + 1);
            if (n < 0 || (size_t)n >= sizeof(name) || add_host(h, name, (size_t)n, slots) != 0)
                return -1;
        }
        if (*p == ',')
            p++;
        else if (p != close)
            return -1;
    }
    return 0;
}

int hg_hostfile_from_nodelist(const char *nodelist, int slots, hg_hostfile **out, hg_error *err)
{
    hg_hostfile *h = calloc(1, sizeof(*h));
    char *copy = strdup(nodelist ? nodelist : "");
    int rc = h && copy ? 0 : hg_error_set(err, HG_ENOMEM, "out of memory");
    int depth = 0;
    /* Split at commas outside brackets. */
    for (char *p = copy, *item = copy; rc == 0 && p && *item; p++) {
        if (*p == '[')
            depth++;
        else if (*p == ']')
            depth--;
        if (*p != '\0' && (*p != ',' || depth > 0))
            continue;
        char c = *p;
        *p = '\0';
        int bad = strchr(item, '[') ? expand_bracket(h, item, slots)
                                    : add_host(h, item, strlen(item), slots);
        if (bad)
            rc = hg_error_set(err, HG_EINVAL, "cannot read the SLURM node list '%s' (at '%s')",
                              nodelist, item);
        item = p + 1;
        if (!c)
            break;
    }
    free(copy);
    if (rc == 0 && h->n == 0)
        rc = hg_error_set(err, HG_EINVAL, "the SLURM node list is empty");
    if (rc != 0) {
        hg_hostfile_free(h);
        h = NULL;
    }
    *out = h;
    return rc;
}

void hg_hostfile_excluded(const hg_hostfile *h, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < h->n; i++)
        if ((h->v[i].out || h->v[i].down) && used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "," : "", h->v[i].name);
}
