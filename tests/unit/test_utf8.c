/*
 * test_utf8.c - the output sanitizing rule of utf8.h: valid UTF-8 is unchanged, each maximal
 * ill-formed subpart and each NUL becomes one U+FFFD, and feeding the same bytes in chunks of
 * any size gives exactly the one-shot result. Output buffers are allocated at exactly
 * CG_UTF8_MAX_OUT(len), so under ASan an overrun of the documented bound fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

#define R "\xEF\xBF\xBD"

/* One-shot conversion into an exact-size buffer; returns a malloc'ed string. */
static char *oneshot(const unsigned char *in, size_t len, size_t *outlen)
{
    char *out = malloc(CG_UTF8_MAX_OUT(len));

    assert_non_null(out);
    *outlen = cg_utf8_sanitize(NULL, in, len, out, true);
    assert_int_equal(out[*outlen], '\0');
    return out;
}

/* Conversion in chunks of `step` bytes (step 0 = every chunk size in turn 1,2,3,...). */
static char *chunked(const unsigned char *in, size_t len, size_t step, size_t *outlen)
{
    cg_utf8_state_t st = {{0}, 0};
    char *acc = malloc(CG_UTF8_MAX_OUT(len)), *tmp;
    size_t alen = 0, i = 0, k = 1;

    assert_non_null(acc);
    while (i < len) {
        size_t n = step ? step : k++;
        if (n > len - i)
            n = len - i;
        tmp = malloc(CG_UTF8_MAX_OUT(n));
        assert_non_null(tmp);
        size_t got = cg_utf8_sanitize(&st, in + i, n, tmp, false);
        assert_true(st.npend <= 3);
        memcpy(acc + alen, tmp, got);
        alen += got;
        free(tmp);
        i += n;
    }
    tmp = malloc(CG_UTF8_MAX_OUT(0));
    size_t got = cg_utf8_sanitize(&st, NULL, 0, tmp, true);
    assert_int_equal(st.npend, 0);
    memcpy(acc + alen, tmp, got);
    alen += got;
    free(tmp);
    assert_true(alen < CG_UTF8_MAX_OUT(len));
    acc[alen] = '\0';
    *outlen = alen;
    return acc;
}

static void check(const char *in, size_t len, const char *want)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t n, wl = strlen(want);
    char *out = oneshot(u, len, &n);

    assert_int_equal(n, wl);
    assert_memory_equal(out, want, wl);
    assert_true(cg_utf8_valid((const unsigned char *)out, n));
    free(out);
    for (size_t step = 0; step <= 5; step++) {
        out = chunked(u, len, step, &n);
        assert_int_equal(n, wl);
        assert_memory_equal(out, want, wl);
        free(out);
    }
    /* Valid input must be recognised as such exactly when it is returned unchanged. */
    assert_int_equal(cg_utf8_valid(u, len), len == wl && memcmp(in, want, len) == 0);
}

#define CHECK(lit, want) check(lit, sizeof(lit) - 1, want)

static void test_valid_unchanged(void **state)
{
    (void)state;
    CHECK("", "");
    CHECK("hello, world\n\t\x7F", "hello, world\n\t\x7F");
    CHECK("\xC2\x80 \xDF\xBF", "\xC2\x80 \xDF\xBF");                 /* 2-byte bounds */
    CHECK("\xE0\xA0\x80 \xEF\xBF\xBF", "\xE0\xA0\x80 \xEF\xBF\xBF"); /* 3-byte bounds */
    CHECK("\xED\x9F\xBF \xEE\x80\x80", "\xED\x9F\xBF \xEE\x80\x80"); /* around surrogates */
    CHECK("\xF0\x90\x80\x80 \xF4\x8F\xBF\xBF", "\xF0\x90\x80\x80 \xF4\x8F\xBF\xBF");
    CHECK("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80!",
          "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80!");
    CHECK(R, R); /* U+FFFD itself */
}

static void test_ill_formed(void **state)
{
    (void)state;
    /* NUL and bytes that never occur in UTF-8. */
    CHECK("a\0b", "a" R "b");
    CHECK("\0\0", R R);
    CHECK("a\xFF"
          "b",
          "a" R "b");
    CHECK("\xFE\xFF", R R);
    CHECK("\xF5\x80", R R);
    CHECK("\xF8\x88\x80\x80\x80", R R R R R); /* old 5-byte form */
    /* Lone continuation bytes. */
    CHECK("\x80", R);
    CHECK("\xBF\x80x", R R "x");
    /* Overlongs: C0/C1 never valid; E0 and F0 need a high enough second byte. */
    CHECK("\xC0\xAF", R R);
    CHECK("\xC1\xBF", R R);
    CHECK("\xE0\x80\xAF", R R R);
    CHECK("\xE0\x9F\xBF", R R R);
    CHECK("\xF0\x80\x80\xAF", R R R R);
    CHECK("\xF0\x8F\xBF\xBF", R R R R);
    /* Surrogates U+D800..U+DFFF. */
    CHECK("\xED\xA0\x80", R R R);
    CHECK("\xED\xBF\xBF", R R R);
    CHECK("\xED\xA0\x80\xED\xB0\x80", R R R R R R); /* a CESU-8 pair */
    /* Above U+10FFFF. */
    CHECK("\xF4\x90\x80\x80", R R R R);
    CHECK("\xF7\xBF\xBF\xBF", R R R R);
    /* Truncated sequences: the maximal subpart is one replacement, then decoding resumes. */
    CHECK("\xE2\x82", R);
    CHECK("\xE2\x82x", R "x");
    CHECK("\xF0\x9F\x98", R);
    CHECK("\xF0\x9F\x98"
          "a",
          R "a");
    CHECK("\xF0\x9F", R);
    CHECK("\xC3", R);
    CHECK("\xC3\xC3\xA9", R "\xC3\xA9"); /* a new lead byte ends the subpart */
    CHECK("\xE2\x82\xE2\x82\xAC", R "\xE2\x82\xAC");
    CHECK("\xF0\x9F\x98\xF0\x9F\x98\x80", R "\xF0\x9F\x98\x80");
    /* The example of Unicode 15, section 3.9, table 3-8 (U+FFFD for maximal subparts). */
    CHECK("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a" R R R "b" R "c" R R "d");
}

static void test_split_characters(void **state)
{
    (void)state;
    /* A 4-byte character cut at every possible point across two and three chunks. */
    static const unsigned char s[] = "x\xF0\x9F\x98\x80y\xE2\x9C\x93z";
    const size_t len = sizeof s - 1;
    char whole[64];
    size_t wl = cg_utf8_sanitize(NULL, s, len, whole, true);

    assert_int_equal(wl, len); /* valid: unchanged */
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            cg_utf8_state_t st = {{0}, 0};
            char out[3][CG_UTF8_MAX_OUT(16)];
            size_t n0 = cg_utf8_sanitize(&st, s, a, out[0], false);
            size_t n1 = cg_utf8_sanitize(&st, s + a, b - a, out[1], false);
            size_t n2 = cg_utf8_sanitize(&st, s + b, len - b, out[2], true);
            char acc[64];
            memcpy(acc, out[0], n0);
            memcpy(acc + n0, out[1], n1);
            memcpy(acc + n0 + n1, out[2], n2);
            assert_int_equal(n0 + n1 + n2, wl);
            assert_memory_equal(acc, whole, wl);
            /* Nothing of a character is emitted before the character is complete. */
            assert_true(cg_utf8_valid((unsigned char *)out[0], n0));
            assert_true(cg_utf8_valid((unsigned char *)out[1], n1));
        }
    }
    /* A stream that ends inside a character: the held bytes become one U+FFFD at the end. */
    cg_utf8_state_t st = {{0}, 0};
    char o[CG_UTF8_MAX_OUT(3)];
    assert_int_equal(cg_utf8_sanitize(&st, (const unsigned char *)"\xF0\x9F\x98", 3, o, false), 0);
    assert_int_equal(st.npend, 3);
    assert_int_equal(cg_utf8_sanitize(&st, NULL, 0, o, true), 3);
    assert_string_equal(o, R);
    assert_int_equal(st.npend, 0);
    /* Held bytes followed by a byte that cannot continue them. */
    assert_int_equal(cg_utf8_sanitize(&st, (const unsigned char *)"\xE2\x82", 2, o, false), 0);
    assert_int_equal(cg_utf8_sanitize(&st, (const unsigned char *)"\xFF", 1, o, false), 6);
    assert_string_equal(o, R R);
}

/* Pseudo-random byte strings (biased towards UTF-8 structure): chunked == one-shot, the
 * result is valid, valid inputs are unchanged, and sanitizing is idempotent. */
static void test_random_streams(void **state)
{
    (void)state;
    static const unsigned char alphabet[] = {0x00, 'a',  0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                             0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
                                             0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
    unsigned seed = 12345;

    for (int iter = 0; iter < 3000; iter++) {
        unsigned char in[40];
        size_t len = (size_t)(iter % 40), n1, n2, n3;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = alphabet[(seed >> 16) % sizeof alphabet];
        }
        char *a = oneshot(in, len, &n1);
        char *b = chunked(in, len, (size_t)(iter % 4), &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        assert_true(cg_utf8_valid((unsigned char *)a, n1));
        if (cg_utf8_valid(in, len)) {
            assert_int_equal(n1, len);
            assert_memory_equal(a, in, len);
        }
        char *c = oneshot((unsigned char *)a, n1, &n3);
        assert_int_equal(n3, n1);
        assert_memory_equal(c, a, n1);
        free(a);
        free(b);
        free(c);
    }
}

/* The documented worst case is reached and respected: every byte invalid, with 3 held bytes. */
static void test_worst_case_size(void **state)
{
    (void)state;
    unsigned char ff[100];
    size_t n;

    memset(ff, 0xFF, sizeof ff);
    char *o = oneshot(ff, sizeof ff, &n);
    assert_int_equal(n, 3 * sizeof ff);
    free(o);
    cg_utf8_state_t st = {{0}, 0};
    char small[CG_UTF8_MAX_OUT(3)];
    cg_utf8_sanitize(&st, (const unsigned char *)"\xF0\x9F\x98", 3, small, false);
    char *out = malloc(CG_UTF8_MAX_OUT(1));
    n = cg_utf8_sanitize(&st, (const unsigned char *)"\0", 1, out, true);
    assert_int_equal(n, 6);
    assert_string_equal(out, R R);
    free(out);
}

static void test_valid_check(void **state)
{
    (void)state;
    assert_true(cg_utf8_valid((const unsigned char *)"", 0));
    assert_true(cg_utf8_valid((const unsigned char *)"ok \xE2\x9C\x93", 6));
    assert_false(cg_utf8_valid((const unsigned char *)"a\0", 2));
    assert_false(cg_utf8_valid((const unsigned char *)"\xE2\x9C", 2));
    assert_false(cg_utf8_valid((const unsigned char *)"\xED\xA0\x80", 3));
    assert_false(cg_utf8_valid((const unsigned char *)"\xC0\x80", 2));
    assert_false(cg_utf8_valid((const unsigned char *)"\xF4\x90\x80\x80", 4));
    assert_false(cg_utf8_valid((const unsigned char *)"\xE2\x28\xA1", 3));
    /* Only len bytes are looked at. */
    assert_true(cg_utf8_valid((const unsigned char *)"ab\xFF", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_unchanged),  cmocka_unit_test(test_ill_formed),
        cmocka_unit_test(test_split_characters), cmocka_unit_test(test_random_streams),
        cmocka_unit_test(test_worst_case_size),  cmocka_unit_test(test_valid_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
