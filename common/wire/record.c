/* Record framing. The parser keeps one buffer: records are returned in place, and the
 * consumed head is dropped when the next bytes arrive, so a record's data stays valid
 * until the next feed or next call. */
#include "wire/record.h"

#include <stdlib.h>
#include <string.h>

struct hg_record_parser {
    unsigned char *buf;
    size_t off, len, cap;
};

void hg_record_header(unsigned char hdr[HG_RECORD_HEADER], int type, int stream, unsigned flags,
                      size_t len)
{
    hdr[0] = (unsigned char)type;
    hdr[1] = (unsigned char)stream;
    hdr[2] = (unsigned char)flags;
    hdr[3] = 0;
    hdr[4] = (unsigned char)(len >> 24);
    hdr[5] = (unsigned char)(len >> 16);
    hdr[6] = (unsigned char)(len >> 8);
    hdr[7] = (unsigned char)len;
}

hg_record_parser *hg_record_parser_new(void)
{
    return calloc(1, sizeof(hg_record_parser));
}

void hg_record_parser_free(hg_record_parser *p)
{
    if (p)
        free(p->buf);
    free(p);
}

int hg_record_parser_feed(hg_record_parser *p, const void *data, size_t n)
{
    if (p->off > 0) {
        memmove(p->buf, p->buf + p->off, p->len - p->off);
        p->len -= p->off;
        p->off = 0;
    }
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 65536;
        while (cap < p->len + n)
            cap *= 2;
        unsigned char *b = realloc(p->buf, cap);
        if (!b)
            return -1;
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, n);
    p->len += n;
    return 0;
}

int hg_record_parser_next(hg_record_parser *p, hg_record *r)
{
    const unsigned char *h = p->buf + p->off;
    size_t have = p->len - p->off;
    if (have < HG_RECORD_HEADER)
        return 0;
    size_t len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    if (h[3] != 0 || len > HG_RECORD_PAYLOAD_MAX)
        return -1;
    if (have < HG_RECORD_HEADER + len)
        return 0;
    r->type = h[0];
    r->stream = h[1];
    r->flags = h[2];
    r->data = (const char *)h + HG_RECORD_HEADER;
    r->len = len;
    p->off += HG_RECORD_HEADER + len;
    return 1;
}

size_t hg_record_parser_pending(const hg_record_parser *p)
{
    return p->len - p->off;
}
