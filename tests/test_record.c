/* Check suite for common/wire/record.h: the ranks' channel framing. Records come back whole
 * whatever the chunking of the bytes, in order, and a stream that is not records is
 * refused rather than read as one. */
#include <check.h>

#include <stdlib.h>
#include <string.h>

#include "wire/record.h"
#include "testutil.h"

static size_t frame(unsigned char *buf, int type, int stream, unsigned flags, const char *data,
                    size_t n)
{
    hg_record_header(buf, type, stream, flags, n);
    memcpy(buf + HG_RECORD_HEADER, data, n);
    return HG_RECORD_HEADER + n;
}

START_TEST(header_is_type_stream_flags_zero_and_big_endian_length)
{
    unsigned char h[HG_RECORD_HEADER];
    hg_record_header(h, HG_REC_OUT, 2, HG_REC_PARTIAL, 0x01020304);
    const unsigned char want[HG_RECORD_HEADER] = { 2, 2, 1, 0, 1, 2, 3, 4 };
    ck_assert_mem_eq(h, want, sizeof(want));
}
END_TEST

START_TEST(records_come_back_whole_byte_by_byte)
{
    unsigned char buf[256];
    size_t n = frame(buf, HG_REC_OUT, 1, 0, "hello\n", 6);
    n += frame(buf + n, HG_REC_EXIT, 0, 0, "256", 3);
    n += frame(buf + n, HG_REC_CLOSED, 0, 0, "", 0);
    hg_record_parser *p = hg_record_parser_new();
    hg_record r;
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(hg_record_parser_feed(p, buf + i, 1), 0);
        while (hg_record_parser_next(p, &r) == 1) {
            if (got == 0) {
                ck_assert_int_eq(r.type, HG_REC_OUT);
                ck_assert_int_eq(r.stream, 1);
                ck_assert_uint_eq(r.flags, 0);
                ck_assert_uint_eq(r.len, 6);
                ck_assert_mem_eq(r.data, "hello\n", 6);
            } else if (got == 1) {
                ck_assert_int_eq(r.type, HG_REC_EXIT);
                ck_assert_mem_eq(r.data, "256", 3);
            } else {
                ck_assert_int_eq(r.type, HG_REC_CLOSED);
                ck_assert_uint_eq(r.len, 0);
            }
            got++;
        }
    }
    ck_assert_int_eq(got, 3);
    ck_assert_uint_eq(hg_record_parser_pending(p), 0);
    hg_record_parser_free(p);
}
END_TEST

START_TEST(a_one_mib_line_is_one_record)
{
    size_t len = HG_RECORD_PAYLOAD_MAX;
    unsigned char *buf = malloc(HG_RECORD_HEADER + len);
    char *line = malloc(len);
    memset(line, 'x', len);
    size_t n = frame(buf, HG_REC_OUT, 1, HG_REC_CUT, line, len);
    hg_record_parser *p = hg_record_parser_new();
    hg_record r;
    ck_assert_int_eq(hg_record_parser_feed(p, buf, n - 1), 0);
    ck_assert_int_eq(hg_record_parser_next(p, &r), 0);
    ck_assert_int_eq(hg_record_parser_feed(p, buf + n - 1, 1), 0);
    ck_assert_int_eq(hg_record_parser_next(p, &r), 1);
    ck_assert_uint_eq(r.len, len);
    ck_assert_uint_eq(r.flags, HG_REC_CUT);
    ck_assert_mem_eq(r.data, line, len);
    hg_record_parser_free(p);
    free(line);
    free(buf);
}
END_TEST

START_TEST(not_records_is_refused)
{
    unsigned char too_long[HG_RECORD_HEADER];
    hg_record_header(too_long, HG_REC_OUT, 1, 0, HG_RECORD_PAYLOAD_MAX + 1);
    hg_record_parser *p = hg_record_parser_new();
    hg_record r;
    hg_record_parser_feed(p, too_long, sizeof(too_long));
    ck_assert_int_eq(hg_record_parser_next(p, &r), -1);
    hg_record_parser_free(p);
    /* Text (an HTTP probe, say) has a nonzero fourth byte. */
    p = hg_record_parser_new();
    hg_record_parser_feed(p, "GET / HTTP/1.0\r\n", 16);
    ck_assert_int_eq(hg_record_parser_next(p, &r), -1);
    hg_record_parser_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, header_is_type_stream_flags_zero_and_big_endian_length);
    tcase_add_test(tc, records_come_back_whole_byte_by_byte);
    tcase_add_test(tc, a_one_mib_line_is_one_record);
    tcase_add_test(tc, not_records_is_refused);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
