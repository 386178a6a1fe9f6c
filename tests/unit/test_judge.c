/*
 * test_judge.c - output comparison in trim and exact modes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "judge.h"

static bool eq(const char *a, const char *e, judge_mode_t m)
{
    return judge_equal(a, strlen(a), e, strlen(e), m);
}

static void test_trim(void **state)
{
    (void)state;
    assert_true(eq("10\n", "10", JUDGE_TRIM));
    assert_true(eq("10", "10\n\n\n", JUDGE_TRIM));
    assert_true(eq("a  \nb\t\n", "a\nb", JUDGE_TRIM));
    assert_true(eq("a\r\nb\r\n", "a\nb\n", JUDGE_TRIM));
    assert_true(eq("", "\n", JUDGE_TRIM));
    assert_true(eq("", "", JUDGE_TRIM));
    assert_false(eq("10\n", "11", JUDGE_TRIM));
    assert_false(eq(" 10", "10", JUDGE_TRIM));          /* leading spaces count */
    assert_false(eq("a\n\nb", "a\nb", JUDGE_TRIM));       /* inner empty lines count */
    assert_false(eq("a b", "a  b", JUDGE_TRIM));          /* inner spaces count */
    assert_false(eq("1\n2\n", "1\n", JUDGE_TRIM));
    assert_false(eq("1\n", "1\n2", JUDGE_TRIM));
    assert_false(eq("", "x", JUDGE_TRIM));
}

static void test_exact(void **state)
{
    (void)state;
    assert_true(eq("10\n", "10\n", JUDGE_EXACT));
    assert_false(eq("10\n", "10", JUDGE_EXACT));
    assert_false(eq("a \n", "a\n", JUDGE_EXACT));
    assert_true(judge_equal("a\0b", 3, "a\0b", 3, JUDGE_EXACT));
    assert_false(judge_equal("a\0b", 3, "a\0c", 3, JUDGE_EXACT));
}

static void test_null_is_empty(void **state)
{
    (void)state;
    assert_true(judge_equal(NULL, 0, "", 0, JUDGE_EXACT));
    assert_true(judge_equal("\n", 1, NULL, 0, JUDGE_TRIM));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_null_is_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
