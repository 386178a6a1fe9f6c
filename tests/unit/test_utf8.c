/*
 * test_utf8.c - the output sanitizing rule: valid UTF-8 unchanged, each maximal ill-formed
 * subpart and each NUL replaced by U+FFFD, same result when fed in chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

#define R "\xEF\xBF\xBD"

static void check(const char *in, size_t len, const char *want)
{
    char *out = malloc(CG_UTF8_MAX_OUT(len));
    size_t n;

    assert_non_null(out);
    n = cg_utf8_sanitize(NULL, (const unsigned char *)in, len, out, true);
    assert_int_equal(n, strlen(want));
    assert_string_equal(out, want);
    assert_true(cg_utf8_valid((const unsigned char *)out, n));
    /* Fed one byte at a time: identical. */
    cg_utf8_state_t st = {{0}, 0};
    char *acc = calloc(1, CG_UTF8_MAX_OUT(len) + 16), *tmp = malloc(CG_UTF8_MAX_OUT(1));
    size_t alen = 0;
    for (size_t i = 0; i < len; i++) {
        size_t k = cg_utf8_sanitize(&st, (const unsigned char *)in + i, 1, tmp, false);
        memcpy(acc + alen, tmp, k);
        alen += k;
    }
    alen += cg_utf8_sanitize(&st, NULL, 0, acc + alen, true);
    acc[alen] = '\0';
    assert_string_equal(acc, want);
    free(acc);
    free(tmp);
    free(out);
}

#define CHECK(lit, want) check(lit, sizeof(lit) - 1, want)

static void test_valid_unchanged(void **state)
{
    (void)state;
    CHECK("hello", "hello");
    CHECK("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80", "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80");
    CHECK("\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"); /* U+10FFFF */
    CHECK("", "");
}

static void test_replacements(void **state)
{
    (void)state;
    CHECK("a\xFF" "b", "a" R "b");
    CHECK("a\0b", "a" R "b");
    CHECK("\xC0\xAF", R R);                 /* overlong: C0 never valid, AF lone continuation */
    CHECK("\xE0\x80\xAF", R R R);           /* overlong 3-byte: E0 then 80 out of range */
    CHECK("\xED\xA0\x80", R R R);           /* surrogate */
    CHECK("\xF4\x90\x80\x80", R R R R);     /* above U+10FFFF */
    CHECK("\x80", R);                       /* lone continuation */
    CHECK("\xE2\x82", R);                   /* truncated at the end: one replacement */
    CHECK("\xE2\x82x", R "x");              /* maximal subpart then resume */
    CHECK("\xF0\x9F\x98", R);
    CHECK("\xF5\x80", R R);
}

static void test_valid_check(void **state)
{
    (void)state;
    assert_true(cg_utf8_valid((const unsigned char *)"ok \xE2\x9C\x93", 6));
    assert_false(cg_utf8_valid((const unsigned char *)"a\0", 2));
    assert_false(cg_utf8_valid((const unsigned char *)"\xE2\x9C", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_unchanged),
        cmocka_unit_test(test_replacements),
        cmocka_unit_test(test_valid_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
