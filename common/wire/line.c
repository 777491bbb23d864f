/* What a line is (line.h). */
#include "wire/line.h"

#include <stdio.h>
#include <string.h>

#include "wire/protocol.h"
#include "wire/record.h"

/* snprintf's length when the whole of it fit in buf, else 0 (buf "" where there is room). */
static size_t fitted(int n, char *buf, size_t len)
{
    if (n < 0 || (size_t)n >= len) {
        if (len)
            buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

size_t hg_line_label(char *buf, size_t len, int rank, const char *module)
{
    return fitted(snprintf(buf, len, "[%d %s] ", rank, module), buf, len);
}

size_t hg_line_status_prefix(char *buf, size_t len, const char *token)
{
    if (len)
        buf[0] = '\0';
    if (!token || !*token || strlen(token) > HG_LINE_TOKEN_MAX)
        return 0;
    for (const char *c = token; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == ':' || *c == 0x7f)
            return 0;
    return fitted(snprintf(buf, len, "%s%s: ", HG_STATUS_PREFIX, token), buf, len);
}

int hg_line_is_status(const char *p, size_t n, const char *prefix, size_t prefix_len)
{
    return prefix_len && n > prefix_len && memcmp(p, prefix, prefix_len) == 0;
}

size_t hg_line_piece(const char *buf, size_t len, size_t *scanned, unsigned *flags)
{
    size_t j = *scanned;
    for (; j < len; j++) {
        if (buf[j] == '\n') {
            *flags = 0;
            *scanned = 0;
            return j + 1;
        }
        if (buf[j] == '\r' && j + 1 < len && buf[j + 1] != '\n') {
            *flags = HG_REC_PARTIAL | HG_REC_REDRAW;
            *scanned = 0;
            return j + 1;
        }
        if (buf[j] == '\r' && j + 1 == len)
            break;
    }
    if (len > HG_LINE_MAX) {
        *flags = HG_REC_CUT;
        *scanned = 0;
        return HG_LINE_MAX;
    }
    *scanned = j;
    return 0;
}

unsigned hg_line_partial_flags(const char *p, size_t n)
{
    return HG_REC_PARTIAL | (n && p[n - 1] == '\r' ? HG_REC_REDRAW : 0);
}

size_t hg_line_head(const hg_line_writer *w, int label, int rank, const char *module, char *buf,
                    size_t len)
{
    if (label && w->at_start)
        return hg_line_label(buf, len, rank, module);
    if (!label && w->cut)
        return fitted(snprintf(buf, len, HG_LINE_CONT_TAG, rank), buf, len);
    if (len)
        buf[0] = '\0';
    return 0;
}

size_t hg_line_tail(unsigned flags, int label, int rank, char *buf, size_t len)
{
    if (!(flags & HG_REC_CUT)) {
        if (len)
            buf[0] = '\0';
        return 0;
    }
    if (label)
        return fitted(snprintf(buf, len, "%s", HG_LINE_CUT_MARK), buf, len);
    return fitted(snprintf(buf, len, HG_LINE_CUT_MARK_RANK, rank), buf, len);
}

void hg_line_wrote(hg_line_writer *w, unsigned flags)
{
    /* After a carriage return the terminal redraws the same line: it stays open for the
     * others, and with --label each redraw is labelled. */
    w->at_start = !(flags & HG_REC_PARTIAL) || (flags & HG_REC_REDRAW);
    w->cut = !!(flags & HG_REC_CUT);
}

void hg_line_broken(hg_line_writer *w)
{
    w->at_start = 1;
}

int hg_line_dest_must_break(const hg_line_dest *d, int rank, int stream)
{
    return d->open_rank >= 0 && (d->open_rank != rank || d->open_stream != stream);
}

void hg_line_dest_wrote(hg_line_dest *d, int rank, int stream, unsigned flags)
{
    d->open_rank = (flags & HG_REC_PARTIAL) ? rank : -1;
    d->open_stream = stream;
}
