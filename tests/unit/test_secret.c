/*
 * test_secret.c - the one set of rules for shared secrets (common/secret.c): line ends, blanks,
 * control and non-ASCII characters, lengths (refused, never cut), files that are missing, and
 * that nothing of a refused secret is kept or repeated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_util.h"
#include "secret.h"

#define MAX 32

static char g_dir[64];
static char g_path[96];
static char g_err[512];

static const char *file_with(const char *content, size_t len)
{
    FILE *f = fopen(g_path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
    return g_path;
}

/* Reads a file holding s; returns 0/-1 and the secret in out. */
static int read_s(const char *s, char *out, size_t cap, size_t *len)
{
    return cg_secret_read(file_with(s, strlen(s)), CG_SECRET_MIN, MAX, out, cap, len, g_err,
                          sizeof g_err);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/cg-secret-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/secret", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_path);
    rmdir(g_dir);
    return 0;
}

static void test_line_ends(void **state)
{
    (void)state;
    char out[MAX + 4];
    size_t len = 99;

    assert_int_equal(read_s("0123456789abcdef", out, sizeof out, &len), 0);
    assert_string_equal(out, "0123456789abcdef");
    assert_int_equal(len, 16);
    assert_int_equal(read_s("0123456789abcdef\n", out, sizeof out, &len), 0);
    assert_string_equal(out, "0123456789abcdef");
    assert_int_equal(read_s("0123456789abcdef\r\n", out, sizeof out, &len), 0);
    assert_string_equal(out, "0123456789abcdef");
    /* only one line end: a second line (even an empty one) is not a secret */
    assert_int_equal(read_s("0123456789abcdef\n\n", out, sizeof out, &len), -1);
    assert_non_null(strstr(g_err, "at offset 16"));
    assert_int_equal(read_s("0123456789abcdef\nsecond\n", out, sizeof out, &len), -1);
    assert_non_null(strstr(g_err, "at offset 16"));
    /* a lone CR is a control character, not a line end */
    assert_int_equal(read_s("0123456789abcdef\r", out, sizeof out, &len), -1);
}

static void test_characters(void **state)
{
    (void)state;
    char out[MAX + 4];
    size_t len;
    static const char *const bad[] = {"0123456789 abcdef",
                                      "0123456789\tabcdef",
                                      "\x01"
                                      "0123456789abcdef",
                                      "0123456789abcdef\x7f",
                                      "0123456789abcd\xc3\xa9",
                                      NULL};
    static const size_t at[] = {10, 10, 0, 16, 14};

    for (int i = 0; bad[i]; i++) {
        char want[32];
        assert_int_equal(read_s(bad[i], out, sizeof out, &len), -1);
        snprintf(want, sizeof want, "at offset %zu", at[i]);
        assert_non_null(strstr(g_err, want));
        assert_non_null(strstr(g_err, g_path));   /* names the file */
        assert_null(strstr(g_err, "0123456789")); /* never the secret */
        for (size_t k = 0; k < sizeof out; k++)
            assert_int_equal(out[k], 0); /* nothing kept */
    }
    /* every printable character is allowed */
    assert_int_equal(read_s("!\"#$%&'()*+,-./~{}|", out, sizeof out, &len), 0);
    assert_int_equal(len, 19);
}

static void test_lengths(void **state)
{
    (void)state;
    char out[MAX + 4], big[MAX + 8];
    size_t len;

    assert_int_equal(read_s("0123456789abcde", out, sizeof out, &len), -1);
    assert_non_null(strstr(g_err, "has 15 characters; at least 16 are required"));
    assert_int_equal(read_s("", out, sizeof out, &len), -1);
    assert_non_null(strstr(g_err, "has 0 characters"));
    assert_int_equal(read_s("\n", out, sizeof out, &len), -1);
    assert_non_null(strstr(g_err, "has 0 characters"));
    memset(big, 'x', MAX);
    big[MAX] = '\0';
    assert_int_equal(read_s(big, out, sizeof out, &len), 0); /* exactly MAX */
    assert_int_equal(len, MAX);
    big[MAX] = 'x';
    big[MAX + 1] = '\0';
    assert_int_equal(read_s(big, out, sizeof out, &len), -1); /* refused, not cut */
    assert_non_null(strstr(g_err, "longer than 32 characters"));
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(read_s(big, out, sizeof out, &len), -1);
    assert_non_null(strstr(g_err, "longer than 32"));
    /* a buffer that cannot hold the rules' worst case is refused up front */
    assert_int_equal(read_s("0123456789abcdef", out, MAX + 1, &len), -1);
}

static void test_missing_file_and_check(void **state)
{
    (void)state;
    char out[MAX + 4], buf[40];
    size_t len;

    assert_int_equal(cg_secret_read("/nonexistent/cg-secret", CG_SECRET_MIN, MAX, out, sizeof out,
                                    &len, g_err, sizeof g_err),
                     -1);
    assert_non_null(strstr(g_err, "cannot open /nonexistent/cg-secret"));
    /* cg_secret_check on a buffer (an environment variable's copy) names what it was given */
    memcpy(buf, "abcdefghijklmnop\r\n", 18);
    assert_int_equal(cg_secret_check("the token (X)", buf, 18, 16, MAX, &len, g_err, sizeof g_err),
                     0);
    assert_int_equal(len, 16);
    assert_string_equal(buf, "abcdefghijklmnop");
    memcpy(buf, "abc def", 7);
    assert_int_equal(cg_secret_check("the token (X)", buf, 7, 1, MAX, &len, g_err, sizeof g_err),
                     -1);
    assert_non_null(strstr(g_err, "the token (X) holds a blank"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_characters),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_missing_file_and_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
