/*
 * test_jsonrd.c - the typed JSON readers (common/jsonrd.c): each type's bounds, the error shape
 * (status, index, item, len), absent values leaving defaults alone, and the NUL-escape scan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jsonrd.h"

static cJSON *doc;

static const cJSON *get(const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(doc, name);
}

static int setup(void **state)
{
    (void)state;
    doc =
        cJSON_Parse("{\"s\":\"hello\",\"e\":\"\",\"n\":42,\"f\":1.5,\"big\":1e300,\"neg\":-3,"
                    "\"t\":true,\"no\":false,\"z\":null,\"a\":[\"x\",\"yy\"],\"ae\":[],"
                    "\"an\":[\"x\",null],\"al\":[\"x\",\"toolong\"],\"o\":{},\"Mode\":\"Exact\"}");
    return doc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(doc);
    return 0;
}

static void test_member(void **state)
{
    (void)state;
    assert_non_null(jsonrd_member(doc, "z", 0)); /* null is a value */
    assert_null(jsonrd_member(doc, "z", JSONRD_NULL_ABSENT));
    assert_null(jsonrd_member(doc, "mode", 0)); /* case-sensitive by default */
    assert_ptr_equal(jsonrd_member(doc, "mode", JSONRD_ANY_CASE), get("Mode"));
    assert_null(jsonrd_member(doc, "missing", JSONRD_ANY_CASE));
}

static void test_string(void **state)
{
    (void)state;
    const char *s = "default";
    size_t len = 99;
    jsonrd_err_t e;

    assert_int_equal(jsonrd_string(NULL, 10, &s, &len, &e), JSONRD_ABSENT);
    assert_string_equal(s, "default");
    assert_int_equal(jsonrd_string(get("s"), 5, &s, &len, &e), JSONRD_OK);
    assert_string_equal(s, "hello");
    assert_int_equal(len, 5);
    assert_int_equal(jsonrd_string(get("e"), 0, &s, &len, NULL), JSONRD_OK); /* err optional */
    assert_int_equal(len, 0);
    assert_int_equal(jsonrd_string(get("s"), 4, &s, &len, &e), JSONRD_TOO_LARGE);
    assert_int_equal(e.len, 5);
    assert_ptr_equal(e.item, get("s"));
    assert_int_equal(jsonrd_string(get("n"), 10, &s, NULL, &e), JSONRD_TYPE);
    assert_string_equal(jsonrd_kind(e.item), "a number");
    assert_int_equal(jsonrd_string(get("z"), 10, &s, NULL, &e), JSONRD_TYPE);
    assert_string_equal(jsonrd_kind(e.item), "null");
}

static void test_int(void **state)
{
    (void)state;
    int64_t v = 7;
    jsonrd_err_t e;

    assert_int_equal(jsonrd_int(NULL, 0, 10, &v, &e), JSONRD_ABSENT);
    assert_int_equal(v, 7);
    assert_int_equal(jsonrd_int(get("n"), 42, 42, &v, &e), JSONRD_OK);
    assert_int_equal(v, 42);
    assert_int_equal(jsonrd_int(get("neg"), -3, 0, &v, &e), JSONRD_OK);
    assert_int_equal(v, -3);
    v = 7;
    assert_int_equal(jsonrd_int(get("n"), 0, 41, &v, &e), JSONRD_RANGE);
    assert_int_equal(jsonrd_int(get("n"), 43, 50, &v, &e), JSONRD_RANGE);
    assert_int_equal(jsonrd_int(get("f"), 0, 10, &v, &e), JSONRD_RANGE); /* not whole */
    assert_int_equal(jsonrd_int(get("big"), INT64_MIN, INT64_MAX, &v, &e), JSONRD_RANGE);
    assert_int_equal(v, 7); /* untouched on errors */
    assert_int_equal(jsonrd_int(get("s"), 0, 10, &v, &e), JSONRD_TYPE);
    assert_string_equal(jsonrd_kind(e.item), "a string");
    assert_int_equal(jsonrd_int(get("t"), 0, 10, &v, &e), JSONRD_TYPE);
}

static void test_bool(void **state)
{
    (void)state;
    bool b = true;
    jsonrd_err_t e;

    assert_int_equal(jsonrd_bool(NULL, &b, &e), JSONRD_ABSENT);
    assert_true(b);
    assert_int_equal(jsonrd_bool(get("no"), &b, &e), JSONRD_OK);
    assert_false(b);
    assert_int_equal(jsonrd_bool(get("t"), &b, &e), JSONRD_OK);
    assert_true(b);
    assert_int_equal(jsonrd_bool(get("n"), &b, &e), JSONRD_TYPE);
    assert_int_equal(jsonrd_bool(get("z"), &b, NULL), JSONRD_TYPE);
}

static void test_choice(void **state)
{
    (void)state;
    static const char *const modes[] = {"trim", "exact", NULL};
    int i = -1;
    jsonrd_err_t e;

    assert_int_equal(jsonrd_choice(NULL, modes, &i, &e), JSONRD_ABSENT);
    assert_int_equal(i, -1);
    assert_int_equal(jsonrd_choice(get("Mode"), modes, &i, &e), JSONRD_OK); /* "Exact" */
    assert_int_equal(i, 1);
    assert_int_equal(jsonrd_choice(get("s"), modes, &i, &e), JSONRD_RANGE);
    assert_string_equal(e.item->valuestring, "hello");
    assert_int_equal(jsonrd_choice(get("n"), modes, &i, &e), JSONRD_TYPE);
}

static void test_strings(void **state)
{
    (void)state;
    const char *out[4];
    int n = -1;
    jsonrd_err_t e;

    assert_int_equal(jsonrd_strings(NULL, 3, 5, out, &n, &e), JSONRD_ABSENT);
    assert_int_equal(n, 0);
    assert_null(out[0]);
    assert_int_equal(jsonrd_strings(get("a"), 3, 5, out, &n, &e), JSONRD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0], "x");
    assert_string_equal(out[1], "yy");
    assert_null(out[2]);
    assert_int_equal(jsonrd_strings(get("ae"), 3, 5, out, &n, &e), JSONRD_OK);
    assert_int_equal(n, 0);
    /* too many entries: the array itself is at fault, len is the count */
    assert_int_equal(jsonrd_strings(get("a"), 1, 5, out, &n, &e), JSONRD_RANGE);
    assert_int_equal(e.index, -1);
    assert_int_equal(e.len, 2);
    /* not an array */
    assert_int_equal(jsonrd_strings(get("o"), 3, 5, out, &n, &e), JSONRD_TYPE);
    assert_int_equal(e.index, -1);
    assert_string_equal(jsonrd_kind(e.item), "an object");
    /* an entry of the wrong type or too long: its index, the entries before it kept */
    assert_int_equal(jsonrd_strings(get("an"), 3, 5, out, &n, &e), JSONRD_TYPE);
    assert_int_equal(e.index, 1);
    assert_string_equal(jsonrd_kind(e.item), "null");
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "x");
    assert_null(out[1]);
    assert_int_equal(jsonrd_strings(get("al"), 3, 5, out, &n, &e), JSONRD_TOO_LARGE);
    assert_int_equal(e.index, 1);
    assert_int_equal(e.len, 7);
}

static void test_kind(void **state)
{
    (void)state;
    assert_string_equal(jsonrd_kind(get("t")), "a boolean");
    assert_string_equal(jsonrd_kind(get("a")), "an array");
    assert_string_equal(jsonrd_kind(get("o")), "an object");
}

static void test_nul_escape(void **state)
{
    (void)state;
    char field[48];
    const char *a = "{\"code\":\"print(1)\\u0000x\"}";
    const char *b = "{\"tests\":[{\"input\":\"\\u0000\"}]}";
    const char *c = "{\"code\":\"\\\\u0000 is text\",\"x\":\"\\u00001\"}";
    const char *d = "{\"code\":\"\\u0001 \\\"u0000\\\"\"}";

    assert_true(jsonrd_nul_escape(a, strlen(a), field, sizeof field));
    assert_string_equal(field, "code");
    assert_true(jsonrd_nul_escape(b, strlen(b), field, sizeof field));
    assert_string_equal(field, ""); /* nested: no top-level member */
    assert_true(jsonrd_nul_escape(c, strlen(c), field, sizeof field));
    assert_string_equal(field, "x"); /* an escaped backslash is not an escape */
    assert_false(jsonrd_nul_escape(d, strlen(d), field, sizeof field));
    assert_false(jsonrd_nul_escape(a, 12, field, sizeof field)); /* only within len */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member), cmocka_unit_test(test_string),
        cmocka_unit_test(test_int),    cmocka_unit_test(test_bool),
        cmocka_unit_test(test_choice), cmocka_unit_test(test_strings),
        cmocka_unit_test(test_kind),   cmocka_unit_test(test_nul_escape),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
