/*
 * test_judge.c - output comparison: "trim" ignores trailing blanks of each line, CR before LF
 * and trailing newlines, on both sides, and nothing else; "exact" compares bytes. Lengths are
 * honoured (no reliance on NUL termination).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "judge.h"

static bool eq(const char *a, const char *e, judge_mode_t m)
{
    return judge_equal(a, strlen(a), e, strlen(e), m);
}

/* Trim equality must be symmetric: check both orders. */
static void same(const char *a, const char *e)
{
    if (!eq(a, e, JUDGE_TRIM) || !eq(e, a, JUDGE_TRIM))
        fail_msg("trim: \"%s\" should equal \"%s\"", a, e);
}

static void differ(const char *a, const char *e)
{
    if (eq(a, e, JUDGE_TRIM) || eq(e, a, JUDGE_TRIM))
        fail_msg("trim: \"%s\" should differ from \"%s\"", a, e);
}

static void test_trim_equal(void **state)
{
    (void)state;
    same("10", "10");
    same("10\n", "10");
    same("10", "10\n\n\n");
    same("a  \nb\t\n", "a\nb");
    same("a \t \nb", "a\nb \t");
    same("a\r\nb\r\n", "a\nb\n");
    same("a\r\nb", "a\nb\r\n\r\n");
    same("", "\n");
    same("", "");
    same("", " \n\t\n\r\n");
    same("1 2 3\n4 5 6\n", "1 2 3   \n4 5 6");
    same("x\n \n", "x");       /* a blank last line is a trailing newline */
    same("a\n \nb", "a\n\nb"); /* a line of blanks is an empty line */
}

static void test_trim_differ(void **state)
{
    (void)state;
    differ("10\n", "11");
    differ(" 10", "10"); /* leading spaces count */
    differ("\t10", "10");
    differ("a\n\nb", "a\nb"); /* inner empty lines count */
    differ("\na", "a");       /* leading empty lines count */
    differ("a b", "a  b");    /* inner spaces count */
    differ("a b", "ab");
    differ("1\n2\n", "1\n");
    differ("1\n", "1\n2");
    differ("", "x");
    differ("ab", "a");
    differ("a\rb", "a\nb");   /* a lone CR is not a line break */
    differ("A", "a");         /* case counts */
    differ("a\xC2\xA0", "a"); /* only ASCII space and tab are blanks */
}

static void test_exact(void **state)
{
    (void)state;
    assert_true(eq("10\n", "10\n", JUDGE_EXACT));
    assert_true(eq("", "", JUDGE_EXACT));
    assert_false(eq("10\n", "10", JUDGE_EXACT));
    assert_false(eq("10", "10\n", JUDGE_EXACT));
    assert_false(eq("a \n", "a\n", JUDGE_EXACT));
    assert_false(eq("a\r\n", "a\n", JUDGE_EXACT));
    assert_true(judge_equal("a\0b", 3, "a\0b", 3, JUDGE_EXACT));
    assert_false(judge_equal("a\0b", 3, "a\0c", 3, JUDGE_EXACT));
}

static void test_lengths_and_nul(void **state)
{
    (void)state;
    /* Only the given lengths count, whatever follows in memory. */
    assert_true(judge_equal("abcXYZ", 3, "abc\n", 3, JUDGE_EXACT));
    assert_true(judge_equal("abc   junk", 6, "abc", 3, JUDGE_TRIM));
    assert_false(judge_equal("abc", 2, "abc", 3, JUDGE_TRIM));
    /* NUL bytes are ordinary bytes in trim mode too. */
    assert_true(judge_equal("a\0b\n", 4, "a\0b", 3, JUDGE_TRIM));
    assert_false(judge_equal("a\0b", 3, "a\0c", 3, JUDGE_TRIM));
    assert_false(judge_equal("a\0", 2, "a", 1, JUDGE_TRIM));
    /* Exact-size heap buffers: ASan catches a read past either end. */
    char *a = malloc(4), *e = malloc(2);
    memcpy(a, "x \n\n", 4);
    memcpy(e, "x\n", 2);
    assert_true(judge_equal(a, 4, e, 2, JUDGE_TRIM));
    assert_false(judge_equal(a, 4, e, 2, JUDGE_EXACT));
    free(a);
    free(e);
}

static void test_null_is_empty(void **state)
{
    (void)state;
    assert_true(judge_equal(NULL, 0, "", 0, JUDGE_EXACT));
    assert_true(judge_equal("", 0, NULL, 0, JUDGE_EXACT));
    assert_true(judge_equal("\n", 1, NULL, 0, JUDGE_TRIM));
    assert_false(judge_equal(NULL, 0, "x", 1, JUDGE_TRIM));
    assert_false(judge_equal("x", 1, NULL, 0, JUDGE_EXACT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim_equal),    cmocka_unit_test(test_trim_differ),
        cmocka_unit_test(test_exact),         cmocka_unit_test(test_lengths_and_nul),
        cmocka_unit_test(test_null_is_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
