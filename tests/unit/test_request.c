/*
 * test_request.c - validation of POST /api/code/execute bodies: defaults, aliases, and a precise
 * error for every kind of bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "request.h"

static request_t req;
static request_error_t err;

static int parse(const char *body) { return request_parse(body, strlen(body), &req, &err); }

static void expect_error(const char *body, int http, const char *code, const char *field,
                         const char *reason)
{
    assert_int_equal(parse(body), -1);
    assert_int_equal(err.http_status, http);
    assert_string_equal(err.code, code);
    assert_string_equal(err.field, field);
    if (reason)
        assert_string_equal(err.reason, reason);
    assert_true(strlen(err.message) > 5);
    assert_null(req.code); /* freed */
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"language\":\"python\",\"code\":\"print(1)\"}"), 0);
    assert_string_equal(req.language, "python");
    assert_string_equal(req.code, "print(1)");
    assert_int_equal(req.code_len, 8);
    assert_null(req.input);
    assert_int_equal(req.timeout_ms, 5000);
    assert_int_equal(req.memory_mb, 256);
    assert_int_equal(req.ntests, 0);
    assert_int_equal(req.nargs, 0);
    assert_false(req.submit);
    assert_false(req.exact);
    request_free(&req);
}

static void test_aliases(void **state)
{
    (void)state;
    static const char *const names[][2] = {
        {"py", "python"},    {"Python3", "python"}, {"JS", "javascript"}, {"node", "javascript"},
        {"NodeJS", "javascript"}, {"c++", "cpp"},   {"CXX", "cpp"},      {"CPP", "cpp"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(request_language(names[i][0]), names[i][1]);
    assert_null(request_language("cobol"));
    assert_null(request_language(""));
    assert_int_equal(parse("{\"language\":\"js\",\"code\":\"x\",\"stdin\":\"in\"}"), 0);
    assert_string_equal(req.language, "javascript");
    assert_string_equal(req.input, "in");
    request_free(&req);
    const char *const *al = request_language_aliases("cpp");
    assert_non_null(al);
    assert_string_equal(al[0], "c++");
}

static void test_full(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"language\":\"cpp\",\"code\":\"x\",\"args\":[\"a\",\"b c\"],"
                           "\"timeoutMs\":1000,\"memoryMb\":64,\"mode\":\"submit\","
                           "\"compare\":\"exact\",\"tests\":[{\"input\":\"1\",\"expectedOutput\":"
                           "\"2\"},{\"stdin\":\"3\",\"expectedStdout\":\"4\",\"timeoutMs\":50},{}]}"),
                     0);
    assert_int_equal(req.nargs, 2);
    assert_string_equal(req.args[1], "b c");
    assert_int_equal(req.ntests, 3);
    assert_string_equal(req.tests[0].expected, "2");
    assert_int_equal(req.tests[0].timeout_ms, 1000); /* inherits the request's */
    assert_string_equal(req.tests[1].input, "3");
    assert_int_equal(req.tests[1].timeout_ms, 50);
    assert_null(req.tests[2].input);
    assert_null(req.tests[2].expected);
    assert_true(req.submit);
    assert_true(req.exact);
    request_free(&req);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", 400, "invalid_json", "", NULL);
    expect_error("{nope", 400, "invalid_json", "", NULL);
    expect_error("[1,2]", 400, "invalid_json", "", NULL);
    expect_error("{\"code\":\"x\"}", 400, "invalid_request", "language", "missing");
    expect_error("{\"language\":5,\"code\":\"x\"}", 400, "invalid_request", "language", "type");
    expect_error("{\"language\":\"cobol\",\"code\":\"x\"}", 400, "unsupported_language", "language",
                 "value");
    expect_error("{\"language\":\"py\"}", 400, "invalid_request", "code", "missing");
    expect_error("{\"language\":\"py\",\"code\":[]}", 400, "invalid_request", "code", "type");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"input\":1}", 400, "invalid_request",
                 "input", "type");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"input\":\"a\",\"stdin\":\"b\"}", 400,
                 "invalid_request", "stdin", "value");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"timeoutMs\":0}", 400, "invalid_request",
                 "timeoutMs", "range");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"timeoutMs\":30001}", 400,
                 "invalid_request", "timeoutMs", "range");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"timeoutMs\":1.5}", 400, "invalid_request",
                 "timeoutMs", "range");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"timeoutMs\":\"5\"}", 400,
                 "invalid_request", "timeoutMs", "type");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"memoryMb\":2048}", 400, "invalid_request",
                 "memoryMb", "range");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"args\":\"a\"}", 400, "invalid_request",
                 "args", "type");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"args\":[1]}", 400, "invalid_request",
                 "args[0]", "type");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"mode\":\"fast\"}", 400, "invalid_request",
                 "mode", "value");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"compare\":1}", 400, "invalid_request",
                 "compare", "type");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"tests\":{}}", 400, "invalid_request",
                 "tests", "type");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"tests\":[1]}", 400, "invalid_request",
                 "tests[0]", "type");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"tests\":[{},{\"timeoutMs\":-1}]}", 400,
                 "invalid_request", "tests[1].timeoutMs", "range");
    expect_error("{\"language\":\"py\",\"code\":\"x\",\"tests\":[{\"expectedOutput\":3}]}", 400,
                 "invalid_request", "tests[0].expectedOutput", "type");
}

static void test_limits(void **state)
{
    (void)state;
    size_t n = CG_MAX_CODE_BYTES + 1;
    char *body = malloc(n + 64);
    int len = sprintf(body, "{\"language\":\"py\",\"code\":\"");
    memset(body + len, 'a', n);
    strcpy(body + len + n, "\"}");
    expect_error(body, 413, "payload_too_large", "code", "too_large");
    body[len + n - 1] = '"';
    strcpy(body + len + n - 1, "\"}"); /* exactly the limit: fine */
    assert_int_equal(parse(body), 0);
    assert_int_equal(req.code_len, CG_MAX_CODE_BYTES);
    request_free(&req);
    free(body);

    char tests[4096] = "{\"language\":\"py\",\"code\":\"x\",\"tests\":[";
    for (int i = 0; i < 51; i++)
        strcat(tests, i ? ",{}" : "{}");
    strcat(tests, "]}");
    expect_error(tests, 400, "invalid_request", "tests", "range");
    /* 50 is allowed */
    char *cut = strstr(tests, ",{}]");
    strcpy(cut, "]}");
    assert_int_equal(parse(tests), 0);
    assert_int_equal(req.ntests, 50);
    request_free(&req);
}

static void test_details(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"language\":\"cobol\",\"code\":\"x\"}"), -1);
    cJSON *d = request_error_details(&err);
    assert_non_null(d);
    cJSON *sup = cJSON_GetObjectItem(d, "supported");
    assert_int_equal(cJSON_GetArraySize(sup), 3);
    assert_string_equal(cJSON_GetObjectItem(d, "field")->valuestring, "language");
    cJSON_Delete(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_full),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),   cmocka_unit_test(test_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
