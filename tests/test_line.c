/* Check suite for common/wire/line.h: what a line of PROGRAM's output is. The exact
 * bytes of the label, the status prefix, the cut marks and the continuation tag; the
 * keeper's cutting of a stream into pieces (lines, redraws, CUT pieces, a CR that may
 * be a CRLF's); and the partial-line bookkeeping of one terminal shared by many ranks. */
#include <check.h>

#include <stdlib.h>
#include <string.h>

#include "wire/line.h"
#include "wire/protocol.h"
#include "wire/record.h"
#include "testutil.h"

START_TEST(label_is_rank_and_module_in_brackets)
{
    char b[HG_LINE_LABEL_MAX];
    ck_assert_uint_eq(hg_line_label(b, sizeof(b), 12, "vision"), 12);
    ck_assert_str_eq(b, "[12 vision] ");
    /* One that does not fit is none, never a part of one. */
    ck_assert_uint_eq(hg_line_label(b, 8, 12, "vision"), 0);
    ck_assert_str_eq(b, "");
}
END_TEST

START_TEST(status_prefix_is_the_word_and_the_token)
{
    char b[HG_LINE_PREFIX_MAX];
    ck_assert_uint_eq(hg_line_status_prefix(b, sizeof(b), "0123abcd0123abcd"), 31);
    ck_assert_str_eq(b, "hgrid-status 0123abcd0123abcd: ");
    ck_assert_uint_eq(hg_line_status_prefix(b, sizeof(b), NULL), 0);
    ck_assert_str_eq(b, "");
    ck_assert_uint_eq(hg_line_status_prefix(b, sizeof(b), ""), 0);
    /* A token that could break the line or the prefix: none. */
    ck_assert_uint_eq(hg_line_status_prefix(b, sizeof(b), "ab cd"), 0);
    ck_assert_uint_eq(hg_line_status_prefix(b, sizeof(b), "ab:cd"), 0);
    ck_assert_uint_eq(hg_line_status_prefix(b, sizeof(b), "ab\ncd"), 0);
    char longest[HG_LINE_TOKEN_MAX + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    ck_assert_uint_eq(hg_line_status_prefix(b, sizeof(b), longest), 0);
    longest[HG_LINE_TOKEN_MAX] = '\0';
    ck_assert_uint_eq(hg_line_status_prefix(b, sizeof(b), longest),
                      strlen(HG_STATUS_PREFIX) + HG_LINE_TOKEN_MAX + 2);
}
END_TEST

START_TEST(a_status_line_is_the_prefix_and_more)
{
    const char *pre = "hgrid-status t: ";
    size_t pl = strlen(pre);
    ck_assert(hg_line_is_status("hgrid-status t: ready\n", 22, pre, pl));
    ck_assert(!hg_line_is_status("hgrid-status t: ", pl, pre, pl));
    ck_assert(!hg_line_is_status("hgrid-status u: ready\n", 22, pre, pl));
    ck_assert(!hg_line_is_status("[0 m] hgrid-status t: x\n", 24, pre, pl));
    ck_assert(!hg_line_is_status("anything\n", 9, "", 0));
}
END_TEST

/* The pieces of buf as the keeper sends them: "FLAGS:BYTES|" each; the rest in *rest. */
static char *pieces(const char *buf, size_t len, size_t *rest)
{
    static char out[256];
    size_t o = 0, start = 0, scanned = 0, n;
    unsigned flags;
    while ((n = hg_line_piece(buf + start, len - start, &scanned, &flags)) > 0) {
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%u:%.*s|", flags, (int)n, buf + start);
        start += n;
    }
    out[o] = '\0';
    *rest = len - start;
    return out;
}

START_TEST(pieces_are_lines_and_redraws)
{
    size_t rest;
    ck_assert_str_eq(pieces("a\nbc\n", 5, &rest), "0:a\n|0:bc\n|");
    ck_assert_uint_eq(rest, 0);
    ck_assert_str_eq(pieces("10%\r20%\rdone\n", 13, &rest), "5:10%\r|5:20%\r|0:done\n|");
    ck_assert_uint_eq(rest, 0);
    /* A CRLF ends one line; a CR at the end waits for its next byte. */
    ck_assert_str_eq(pieces("dos\r\nx\r", 7, &rest), "0:dos\r\n|");
    ck_assert_uint_eq(rest, 2);
    ck_assert_str_eq(pieces("no end", 6, &rest), "");
    ck_assert_uint_eq(rest, 6);
}
END_TEST

START_TEST(scanning_goes_on_where_it_stopped)
{
    size_t scanned = 0;
    unsigned flags = 99;
    ck_assert_uint_eq(hg_line_piece("abc\r", 4, &scanned, &flags), 0);
    ck_assert_uint_eq(scanned, 3); /* the CR: the next byte decides */
    ck_assert_uint_eq(hg_line_piece("abc\rd", 5, &scanned, &flags), 4);
    ck_assert_uint_eq(flags, HG_REC_PARTIAL | HG_REC_REDRAW);
    ck_assert_uint_eq(scanned, 0);
    /* Bytes before scanned are not looked at again. */
    scanned = 2;
    ck_assert_uint_eq(hg_line_piece("a\nbc", 4, &scanned, &flags), 0);
    ck_assert_uint_eq(scanned, 4);
}
END_TEST

START_TEST(a_line_over_the_max_is_cut_at_the_max)
{
    size_t len = HG_LINE_MAX + 1, scanned = 0;
    char *b = malloc(len + 1);
    unsigned flags;
    memset(b, 'x', len);
    ck_assert_uint_eq(hg_line_piece(b, len, &scanned, &flags), HG_LINE_MAX);
    ck_assert_uint_eq(flags, HG_REC_CUT);
    ck_assert_uint_eq(scanned, 0);
    /* Exactly the max without its newline yet: it waits for the next byte. */
    ck_assert_uint_eq(hg_line_piece(b, HG_LINE_MAX, &scanned, &flags), 0);
    ck_assert_uint_eq(scanned, HG_LINE_MAX);
    scanned = 0;
    /* Exactly the max and its newline: one whole line (the keeper's buffer is max + 1). */
    b[HG_LINE_MAX] = '\n';
    ck_assert_uint_eq(hg_line_piece(b, len, &scanned, &flags), HG_LINE_MAX + 1);
    ck_assert_uint_eq(flags, 0);
    /* A line within it ends first. */
    b[5] = '\n';
    b[HG_LINE_MAX] = 'x';
    ck_assert_uint_eq(hg_line_piece(b, len, &scanned, &flags), 6);
    ck_assert_uint_eq(flags, 0);
    free(b);
}
END_TEST

START_TEST(a_partial_piece_is_a_redraw_when_it_ends_in_cr)
{
    ck_assert_uint_eq(hg_line_partial_flags("> ", 2), HG_REC_PARTIAL);
    ck_assert_uint_eq(hg_line_partial_flags("50%\r", 4), HG_REC_PARTIAL | HG_REC_REDRAW);
}
END_TEST

/* One piece as the launcher frames it: head, bytes, tail. */
static const char *framed(hg_line_writer *w, int label, int rank, const char *data, unsigned flags)
{
    static char out[512];
    char head[HG_LINE_HEAD_MAX], tail[HG_LINE_TAIL_MAX];
    size_t hl = hg_line_head(w, label, rank, "text", head, sizeof(head));
    size_t tl = hg_line_tail(flags, label, rank, tail, sizeof(tail));
    snprintf(out, sizeof(out), "%.*s%s%.*s", (int)hl, head, data, (int)tl, tail);
    hg_line_wrote(w, flags);
    return out;
}

START_TEST(labels_go_at_each_line_and_redraw_start)
{
    hg_line_writer w = HG_LINE_WRITER_INIT;
    ck_assert_str_eq(framed(&w, 1, 3, "loss 1\n", 0), "[3 text] loss 1\n");
    ck_assert_str_eq(framed(&w, 1, 3, "> ", HG_REC_PARTIAL), "[3 text] > ");
    ck_assert_str_eq(framed(&w, 1, 3, "yes\n", 0), "yes\n");
    ck_assert_str_eq(framed(&w, 1, 3, "10%\r", HG_REC_PARTIAL | HG_REC_REDRAW), "[3 text] 10%\r");
    ck_assert_str_eq(framed(&w, 1, 3, "20%\r", HG_REC_PARTIAL | HG_REC_REDRAW), "[3 text] 20%\r");
    /* Without --label: the bytes alone. */
    hg_line_writer u = HG_LINE_WRITER_INIT;
    ck_assert_str_eq(framed(&u, 0, 3, "loss 1\n", 0), "loss 1\n");
}
END_TEST

START_TEST(cut_pieces_carry_marks_that_name_the_rank_without_labels)
{
    hg_line_writer w = HG_LINE_WRITER_INIT;
    ck_assert_str_eq(framed(&w, 0, 7, "aaa", HG_REC_CUT), "aaa [hgrid: line of rank 7 continues]\n");
    ck_assert_str_eq(framed(&w, 0, 7, "bbb", HG_REC_CUT),
                     "[hgrid: rank 7 continues] bbb [hgrid: line of rank 7 continues]\n");
    ck_assert_str_eq(framed(&w, 0, 7, "c\n", 0), "[hgrid: rank 7 continues] c\n");
    ck_assert_str_eq(framed(&w, 0, 7, "next\n", 0), "next\n");
    /* With --label the label names the rank. */
    hg_line_writer l = HG_LINE_WRITER_INIT;
    ck_assert_str_eq(framed(&l, 1, 7, "aaa", HG_REC_CUT), "[7 text] aaa [hgrid: line continues]\n");
    ck_assert_str_eq(framed(&l, 1, 7, "c\n", 0), "[7 text] c\n");
}
END_TEST

START_TEST(an_open_partial_line_is_broken_by_another_writer)
{
    hg_line_dest d = HG_LINE_DEST_INIT;
    hg_line_writer w = HG_LINE_WRITER_INIT;
    ck_assert(!hg_line_dest_must_break(&d, 0, 0));
    ck_assert_str_eq(framed(&w, 1, 0, "> ", HG_REC_PARTIAL), "[0 text] > ");
    hg_line_dest_wrote(&d, 0, 0, HG_REC_PARTIAL);
    /* Its own next piece goes on the line; another rank's, or its other stream's
     * sharing the destination, first ends it. */
    ck_assert(!hg_line_dest_must_break(&d, 0, 0));
    ck_assert(hg_line_dest_must_break(&d, 1, 0));
    ck_assert(hg_line_dest_must_break(&d, 0, 1));
    hg_line_broken(&w);
    ck_assert_str_eq(framed(&w, 1, 0, "yes\n", 0), "[0 text] yes\n");
    hg_line_dest_wrote(&d, 0, 0, 0);
    ck_assert(!hg_line_dest_must_break(&d, 1, 0));
    ck_assert_int_eq(d.open_rank, -1);
    /* A redraw keeps the line open for the others. */
    hg_line_dest_wrote(&d, 2, 1, HG_REC_PARTIAL | HG_REC_REDRAW);
    ck_assert(hg_line_dest_must_break(&d, 0, 0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("line");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, label_is_rank_and_module_in_brackets);
    tcase_add_test(tc, status_prefix_is_the_word_and_the_token);
    tcase_add_test(tc, a_status_line_is_the_prefix_and_more);
    tcase_add_test(tc, pieces_are_lines_and_redraws);
    tcase_add_test(tc, scanning_goes_on_where_it_stopped);
    tcase_add_test(tc, a_line_over_the_max_is_cut_at_the_max);
    tcase_add_test(tc, a_partial_piece_is_a_redraw_when_it_ends_in_cr);
    tcase_add_test(tc, labels_go_at_each_line_and_redraw_start);
    tcase_add_test(tc, cut_pieces_carry_marks_that_name_the_rank_without_labels);
    tcase_add_test(tc, an_open_partial_line_is_broken_by_another_writer);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
