/* Decimal integers from command lines and the environment, read one way by every
 * program: an optional sign and digits, nothing before or after them (no blanks, no
 * "0x", no unit), within a range. Config files have their own, stricter reader with
 * diagnostics (config.c). */
#ifndef HG_INTPARSE_H
#define HG_INTPARSE_H

/* 0, with the value in *out, when s is such an integer in [min, max]; otherwise -1 and
 * *out is untouched. */
int hg_int_parse(const char *s, int min, int max, int *out);

/* The value of the environment variable name as an integer in [0, max]; -1 when it is
 * unset, empty or anything else. For ranks and counts that launchers set (and the test
 * hooks' rank numbers). */
int hg_int_env(const char *name, int max);

#endif
