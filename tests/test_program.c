/* PROGRAM resolution (common/util/program.c), against files made in a scratch directory:
 * found on PATH (skipping entries it may not run, as execvp does), an empty entry as
 * the current directory, the default PATH, and every refusal with its exact message:
 * not found, not executable (on PATH and by path), a directory, a missing "#!"
 * interpreter and one with a Windows line end. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/program.h"
#include "testutil.h"

static char dir[256];

static void make_file(const char *name, const char *text, mode_t mode)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void setup(void)
{
    char path[512];
    snprintf(dir, sizeof(dir), "%s/hg-program-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/b", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    make_file("a/tool", "#!/bin/sh\nexit 0\n", 0644);     /* not executable */
    make_file("b/tool", "#!/bin/sh\nexit 0\n", 0755);
    make_file("a/plain", "\x7f" "ELF not really\n", 0755); /* no "#!": no interpreter to check */
    make_file("a/badinterp", "#!/no/such/interp -x\n", 0755);
    make_file("a/crlf", "#!/bin/sh\r\necho hi\r\n", 0755);
}

static void teardown(void)
{
    const char *names[] = { "a/tool", "b/tool", "a/plain", "a/badinterp", "a/crlf", "a", "b", "" };
    char path[512];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        remove(path);
    }
}

/* Resolves program with PATH path; returns err.msg, or "" with the found path in found. */
static const char *resolve(const char *program, const char *path, char *found)
{
    static hg_error err;
    hg_error_clear(&err);
    found[0] = '\0';
    if (hg_program_resolve(program, path, found, 512, &err) == 0)
        return "";
    ck_assert_int_eq(err.code, HG_EINVAL);
    return err.msg;
}

/* dir/SUB, in a rotating buffer so a test can hold a few. */
static const char *in(const char *sub)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s%s%s", dir, *sub ? "/" : "", sub);
    return buf[k];
}

START_TEST(found_past_an_entry_it_may_not_run)
{
    char path[2048], found[512];
    /* a/tool is not executable; execvp goes on to b/tool, and so do we. */
    snprintf(path, sizeof(path), "%s:%s:%s", in("missing"), in("a"), in("b"));
    ck_assert_str_eq(resolve("tool", path, found), "");
    ck_assert_str_eq(found, in("b/tool"));
}
END_TEST

START_TEST(only_a_non_executable_one_on_path)
{
    char path[2048], found[512], want[2048];
    snprintf(path, sizeof(path), "%s:%s", in("missing"), in("a"));
    snprintf(want, sizeof(want), "cannot run PROGRAM 'tool': %s: Permission denied", in("a/tool"));
    ck_assert_str_eq(resolve("tool", path, found), want);
}
END_TEST

START_TEST(not_found_on_path)
{
    char found[512];
    ck_assert_str_eq(resolve("hg-no-such-program", in("a"), found),
                     "cannot run PROGRAM 'hg-no-such-program': not found on PATH");
    ck_assert_str_eq(resolve("", in("a"), found), "cannot run PROGRAM '': No such file or directory");
}
END_TEST

START_TEST(unset_path_is_bin_and_usr_bin)
{
    char found[512];
    ck_assert_str_eq(resolve("sh", NULL, found), "");
    ck_assert_str_eq(found, "/bin/sh");
    ck_assert_str_eq(resolve("tool", NULL, found), "cannot run PROGRAM 'tool': not found on PATH");
}
END_TEST

START_TEST(empty_entry_is_the_current_directory)
{
    char found[512];
    ck_assert_int_eq(chdir(in("b")), 0);
    ck_assert_str_eq(resolve("tool", "/nonexistent:", found), "");
    ck_assert_str_eq(found, "tool");
    ck_assert_str_eq(resolve("tool", "/nonexistent", found), "cannot run PROGRAM 'tool': not found on PATH");
}
END_TEST

START_TEST(a_path_is_taken_as_is)
{
    char found[512], want[2048];
    ck_assert_str_eq(resolve(in("b/tool"), "", found), "");
    ck_assert_str_eq(found, in("b/tool"));
    ck_assert_str_eq(resolve(in("a/plain"), "", found), "");
    snprintf(want, sizeof(want), "cannot run PROGRAM '%s': Permission denied", in("a/tool"));
    ck_assert_str_eq(resolve(in("a/tool"), in("b"), found), want);
    snprintf(want, sizeof(want), "cannot run PROGRAM '%s': No such file or directory", in("b/nope"));
    ck_assert_str_eq(resolve(in("b/nope"), in("b"), found), want);
    snprintf(want, sizeof(want), "cannot run PROGRAM '%s': is a directory", in("a"));
    ck_assert_str_eq(resolve(in("a"), in("b"), found), want);
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_str_eq(resolve("./a/tool", in("b"), found), "cannot run PROGRAM './a/tool': Permission denied");
}
END_TEST

START_TEST(a_script_needs_its_interpreter)
{
    char found[512], want[2048];
    snprintf(want, sizeof(want), "cannot run PROGRAM '%s': its interpreter '/no/such/interp': "
             "No such file or directory", in("a/badinterp"));
    ck_assert_str_eq(resolve(in("a/badinterp"), NULL, found), want);
    ck_assert_str_eq(resolve("badinterp", in("a"), found),
                     "cannot run PROGRAM 'badinterp': its interpreter '/no/such/interp': No such "
                     "file or directory");
    /* Written on Windows: the kernel looks for "/bin/sh\r". Shown escaped. */
    ck_assert_str_eq(resolve("crlf", in("a"), found),
                     "cannot run PROGRAM 'crlf': its interpreter '/bin/sh\\r': No such file or "
                     "directory");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("program");
    TCase *tc = tcase_create("resolve");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, found_past_an_entry_it_may_not_run);
    tcase_add_test(tc, only_a_non_executable_one_on_path);
    tcase_add_test(tc, not_found_on_path);
    tcase_add_test(tc, unset_path_is_bin_and_usr_bin);
    tcase_add_test(tc, empty_entry_is_the_current_directory);
    tcase_add_test(tc, a_path_is_taken_as_is);
    tcase_add_test(tc, a_script_needs_its_interpreter);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
