/*
 * test_util.h — what the C tests (tests/unit/, tests/system/) share below
 * their fixtures: files written into a test's private directory, and the
 * directory removed again in-process (a unit test starts no shell).
 * Each test file is its own program, so everything here is static.
 */
#ifndef FIELDSYNC_TEST_UTIL_H
#define FIELDSYNC_TEST_UTIL_H

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#define TU_FN static __attribute__((unused))

static int tu_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything under it (never following a link); 0, or -1
 * when something could not be removed. */
TU_FN int tu_rmtree(const char *dir)
{
    return nftw(dir, tu_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to dir/name with the given mode; returns the path, in a
 * static buffer that the next call reuses.  Fails the test on error. */
TU_FN const char *tu_write_file(const char *dir, const char *name, const char *text,
                                mode_t mode)
{
    static char path[512];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

#endif /* FIELDSYNC_TEST_UTIL_H */
