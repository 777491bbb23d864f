/* The wait rounds its timeout up to the next millisecond, so a wait never ends just
 * before what it waits for (which would spin until the millisecond passed). */
#include "stream/evloop.h"

#include <errno.h>
#include <stdlib.h>

#include "util/clock.h"

struct hg_evloop {
    hg_evsource *src;
    int nsrc;
    struct pollfd *fds;
    int cap;
    int *n_of;          /* per source: how many descriptors it filled this wait */
    unsigned long wakeups, timeouts;
};

hg_evloop *hg_evloop_new(void)
{
    return calloc(1, sizeof(hg_evloop));
}

void hg_evloop_free(hg_evloop *l)
{
    if (!l)
        return;
    free(l->src);
    free(l->fds);
    free(l->n_of);
    free(l);
}

int hg_evloop_add(hg_evloop *l, const hg_evsource *src)
{
    hg_evsource *v = realloc(l->src, (size_t)(l->nsrc + 1) * sizeof(*v));
    int *n = v ? realloc(l->n_of, (size_t)(l->nsrc + 1) * sizeof(*n)) : NULL;
    if (v)
        l->src = v;
    if (!n)
        return -1;
    l->n_of = n;
    l->src[l->nsrc++] = *src;
    return 0;
}

int hg_evloop_once(hg_evloop *l, double until)
{
    int need = 0, nf = 0, timeout = -1;
    for (int i = 0; i < l->nsrc; i++)
        need += l->src[i].count(l->src[i].arg);
    if (need > l->cap) {
        struct pollfd *f = realloc(l->fds, (size_t)need * sizeof(*f));
        if (!f) {
            errno = ENOMEM;
            return -1;
        }
        l->fds = f;
        l->cap = need;
    }
    for (int i = 0; i < l->nsrc; i++) {
        l->n_of[i] = l->src[i].fill(l->src[i].arg, l->fds + nf);
        nf += l->n_of[i];
    }
    if (until >= 0) {
        double left = until - hg_now();
        double ms = left * 1000.0;
        timeout = left <= 0 ? 0 : left > 86400.0 ? 86400000 : (int)ms + ((double)(int)ms < ms);
    }
    int n = poll(l->fds, (nfds_t)nf, timeout);
    if (n < 0 && errno != EINTR)
        return -1;
    l->wakeups++;
    l->timeouts += n == 0;
    double now = hg_now();
    for (int i = 0, at = 0; i < l->nsrc; at += l->n_of[i], i++)
        l->src[i].serve(l->src[i].arg, l->fds + at, l->n_of[i], now);
    return 0;
}

unsigned long hg_evloop_wakeups(const hg_evloop *l)
{
    return l->wakeups;
}

unsigned long hg_evloop_timeouts(const hg_evloop *l)
{
    return l->timeouts;
}
