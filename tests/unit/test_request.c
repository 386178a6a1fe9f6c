/*
 * test_request.c - validation of POST /api/code/execute bodies: defaults, language aliases,
 * limits at and just over the edge, and a precise error (HTTP status, code, field, reason,
 * message) for every kind of bad input.
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

/* Parses a body written with single quotes for readability; the buffer handed over has no
 * terminating NUL, so a read past the body's length is caught by ASan. */
static int parse(const char *body)
{
    size_t n = strlen(body);
    char *buf = malloc(n ? n : 1);
    int rc;

    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = body[i] == '\'' ? '"' : body[i];
    rc = request_parse(buf, n, &req, &err);
    free(buf);
    return rc;
}

static void expect_error(const char *body, int http, const char *code, const char *field,
                         const char *reason, const char *msg)
{
    memset(&req, 0x5A, sizeof req);
    if (parse(body) != -1)
        fail_msg("accepted: %s", body);
    if (err.http_status != http || strcmp(err.code, code) || strcmp(err.field, field) ||
        (reason && strcmp(err.reason, reason)) || (msg && !strstr(err.message, msg)))
        fail_msg("body %s\n got %d %s field \"%s\" reason \"%s\": %s\nwant %d %s field \"%s\" "
                 "reason \"%s\": %s",
                 body, err.http_status, err.code, err.field, err.reason, err.message, http, code,
                 field, reason ? reason : "*", msg ? msg : "*");
    assert_true(strlen(err.message) > 5);
    /* The request is left zeroed: nothing to free, nothing dangling. */
    assert_null(req.code);
    assert_null(req.tests);
    assert_null(req.args);
    assert_int_equal(req.ntests, 0);
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse("{'language':'python','code':'print(1)'}"), 0);
    assert_string_equal(req.language, "python");
    assert_string_equal(req.code, "print(1)");
    assert_int_equal(req.code_len, 8);
    assert_null(req.input);
    assert_int_equal(req.input_len, 0);
    assert_int_equal(req.timeout_ms, CG_DEFAULT_TIMEOUT_MS);
    assert_int_equal(req.memory_mb, CG_DEFAULT_MEMORY_MB);
    assert_int_equal(req.ntests, 0);
    assert_null(req.tests);
    assert_int_equal(req.nargs, 0);
    assert_false(req.submit);
    assert_false(req.exact);
    request_free(&req);
    request_free(&req); /* zeroed: a second free is harmless */
    request_free(NULL);

    /* null counts as absent; unknown members are ignored; whitespace around the object. */
    assert_int_equal(parse(" \n{'language':'cpp','code':'','input':null,'args':null,'tests':null,"
                           "'timeoutMs':null,'mode':null,'unknown':{'x':[1]},'v':2}\r\n"),
                     0);
    assert_string_equal(req.language, "cpp");
    assert_string_equal(req.code, "");
    assert_null(req.input);
    assert_int_equal(req.timeout_ms, CG_DEFAULT_TIMEOUT_MS);
    request_free(&req);

    /* An empty tests array is the same as none. */
    assert_int_equal(parse("{'language':'cpp','code':'x','tests':[]}"), 0);
    assert_int_equal(req.ntests, 0);
    assert_null(req.tests);
    request_free(&req);
}

static void test_aliases(void **state)
{
    (void)state;
    static const char *const names[][2] = {
        {"python", "python"},
        {"py", "python"},
        {"Python3", "python"},
        {"PY", "python"},
        {"javascript", "javascript"},
        {"JS", "javascript"},
        {"node", "javascript"},
        {"NodeJS", "javascript"},
        {"c++", "cpp"},
        {"CXX", "cpp"},
        {"CPP", "cpp"},
        {"C++", "cpp"},
    };
    char body[128];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(body, sizeof body, "{'language':'%s','code':'x'}", names[i][0]);
        assert_int_equal(parse(body), 0);
        assert_string_equal(req.language, names[i][1]);
        assert_ptr_equal(req.language, lang_find(names[i][1])->name); /* the table's string */
        request_free(&req);
    }
    static const char *const bad[] = {"cobol", "",    "python2", "c#",
                                      "javac", " py", "py ",     "node.js"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, "{'language':'%s','code':'x'}", bad[i]);
        expect_error(body, 400, "unsupported_language", "language", "value", NULL);
    }

    /* "stdin" is the alias of "input", also inside tests; expectedStdout of expectedOutput. */
    assert_int_equal(parse("{'language':'js','code':'x','stdin':'in','tests':[{'stdin':'a',"
                           "'expectedStdout':'b'}]}"),
                     0);
    assert_string_equal(req.input, "in");
    assert_int_equal(req.input_len, 2);
    assert_string_equal(req.tests[0].input, "a");
    assert_string_equal(req.tests[0].expected, "b");
    request_free(&req);
}

static void test_full(void **state)
{
    (void)state;
    assert_int_equal(parse("{'language':'cpp','code':'int main(){}','args':['a','b c',''],"
                           "'input':'5\\n','timeoutMs':1000,'memoryMb':64,'mode':'submit',"
                           "'compare':'exact','tests':[{'input':'1','expectedOutput':'2'},"
                           "{'stdin':'3','expectedStdout':'4','timeoutMs':50},{}]}"),
                     0);
    assert_int_equal(req.nargs, 3);
    assert_string_equal(req.args[0], "a");
    assert_string_equal(req.args[1], "b c");
    assert_string_equal(req.args[2], "");
    assert_string_equal(req.input, "5\n");
    assert_int_equal(req.input_len, 2);
    assert_int_equal(req.timeout_ms, 1000);
    assert_int_equal(req.memory_mb, 64);
    assert_int_equal(req.ntests, 3);
    assert_string_equal(req.tests[0].input, "1");
    assert_string_equal(req.tests[0].expected, "2");
    assert_int_equal(req.tests[0].expected_len, 1);
    assert_int_equal(req.tests[0].timeout_ms, 1000); /* inherits the request's */
    assert_string_equal(req.tests[1].input, "3");
    assert_int_equal(req.tests[1].timeout_ms, 50);
    assert_null(req.tests[2].input);
    assert_null(req.tests[2].expected);
    assert_int_equal(req.tests[2].timeout_ms, 1000);
    assert_true(req.submit);
    assert_true(req.exact);
    request_free(&req);

    /* Bounds are inclusive; choices are case-insensitive. */
    assert_int_equal(parse("{'language':'py','code':'x','timeoutMs':30000,'memoryMb':16,"
                           "'mode':'RUN','compare':'Trim'}"),
                     0);
    assert_int_equal(req.timeout_ms, 30000);
    assert_int_equal(req.memory_mb, 16);
    assert_false(req.submit);
    assert_false(req.exact);
    request_free(&req);
    assert_int_equal(parse("{'language':'py','code':'x','timeoutMs':1,'memoryMb':1024,"
                           "'timeoutMs_':'ignored','tests':[{'timeoutMs':30000}]}"),
                     0);
    assert_int_equal(req.timeout_ms, 1);
    assert_int_equal(req.memory_mb, 1024);
    assert_int_equal(req.tests[0].timeout_ms, 30000);
    request_free(&req);
    /* 2.0 is an integer in JSON terms. */
    assert_int_equal(parse("{'language':'py','code':'x','timeoutMs':2.0}"), 0);
    assert_int_equal(req.timeout_ms, 2);
    request_free(&req);
}

static void test_body_errors(void **state)
{
    (void)state;
    expect_error("", 400, "invalid_json", "", "missing", "empty");
    expect_error("  \n ", 400, "invalid_json", "", "missing", "empty");
    expect_error("{nope", 400, "invalid_json", "", "", "not valid JSON");
    expect_error("{'language':'py','code':'x'", 400, "invalid_json", "", "", "not valid JSON");
    expect_error("[1,2]", 400, "invalid_json", "", "", "must be a JSON object");
    expect_error("'text'", 400, "invalid_json", "", "", "must be a JSON object");
    expect_error("null", 400, "invalid_json", "", "", "must be a JSON object");
    expect_error("{'language':'py','code':'x'} {}", 400, "invalid_json", "", "",
                 "data after its JSON value");
    expect_error("{'language':'py','code':'x'}x", 400, "invalid_json", "", "", "data after");
    assert_int_equal(request_parse(NULL, 0, &req, &err), -1);
    assert_string_equal(err.code, "invalid_json");
    /* The size check comes before any byte is read. */
    assert_int_equal(request_parse("{}", (size_t)CG_MAX_BODY_BYTES + 1, &req, &err), -1);
    assert_int_equal(err.http_status, 413);
    assert_string_equal(err.code, "payload_too_large");
}

static void test_field_errors(void **state)
{
    (void)state;
    const char *ir = "invalid_request";

    expect_error("{'code':'x'}", 400, ir, "language", "missing",
                 "language is required (python, javascript, cpp, c or java)");
    expect_error("{'language':null,'code':'x'}", 400, ir, "language", "missing", NULL);
    expect_error("{'language':5,'code':'x'}", 400, ir, "language", "type",
                 "language must be a string, not a number");
    expect_error(
        "{'language':'cobol','code':'x'}", 400, "unsupported_language", "language", "value",
        "language \"cobol\" is not supported; supported: python, javascript, cpp, c, java");
    expect_error("{'language':'py'}", 400, ir, "code", "missing", "code is required");
    expect_error("{'language':'py','code':[]}", 400, ir, "code", "type",
                 "code must be a string, not an array");
    expect_error("{'language':'py','code':'x','input':1}", 400, ir, "input", "type",
                 "input must be a string, not a number");
    expect_error("{'language':'py','code':'x','stdin':true}", 400, ir, "stdin", "type",
                 "stdin must be a string, not a boolean");
    expect_error("{'language':'py','code':'x','input':'a','stdin':'b'}", 400, ir, "stdin", "value",
                 "give input or stdin, not both");
    expect_error("{'language':'py','code':'x','timeoutMs':0}", 400, ir, "timeoutMs", "range",
                 "timeoutMs must be an integer between 1 and 30000");
    expect_error("{'language':'py','code':'x','timeoutMs':30001}", 400, ir, "timeoutMs", "range",
                 NULL);
    expect_error("{'language':'py','code':'x','timeoutMs':-5}", 400, ir, "timeoutMs", "range",
                 NULL);
    expect_error("{'language':'py','code':'x','timeoutMs':1.5}", 400, ir, "timeoutMs", "range",
                 NULL);
    expect_error("{'language':'py','code':'x','timeoutMs':1e300}", 400, ir, "timeoutMs", "range",
                 NULL);
    expect_error("{'language':'py','code':'x','timeoutMs':-1e300}", 400, ir, "timeoutMs", "range",
                 NULL);
    expect_error("{'language':'py','code':'x','timeoutMs':'5'}", 400, ir, "timeoutMs", "type",
                 "timeoutMs must be an integer between 1 and 30000, not a string");
    expect_error("{'language':'py','code':'x','timeoutMs':[5]}", 400, ir, "timeoutMs", "type",
                 NULL);
    expect_error("{'language':'py','code':'x','memoryMb':15}", 400, ir, "memoryMb", "range",
                 "memoryMb must be an integer between 16 and 1024");
    expect_error("{'language':'py','code':'x','memoryMb':2048}", 400, ir, "memoryMb", "range",
                 NULL);
    expect_error("{'language':'py','code':'x','memoryMb':{}}", 400, ir, "memoryMb", "type", NULL);
    expect_error("{'language':'py','code':'x','args':'a'}", 400, ir, "args", "type",
                 "args must be an array of strings, not a string");
    expect_error("{'language':'py','code':'x','args':['a',1]}", 400, ir, "args[1]", "type",
                 "args[1] must be a string, not a number");
    expect_error("{'language':'py','code':'x','args':[null]}", 400, ir, "args[0]", "type",
                 "not null");
    expect_error("{'language':'py','code':'x','mode':'fast'}", 400, ir, "mode", "value",
                 "mode must be \"run\" or \"submit\", not \"fast\"");
    expect_error("{'language':'py','code':'x','mode':true}", 400, ir, "mode", "type", NULL);
    expect_error("{'language':'py','code':'x','compare':1}", 400, ir, "compare", "type",
                 "compare must be \"trim\" or \"exact\"");
    expect_error("{'language':'py','code':'x','compare':'fuzzy'}", 400, ir, "compare", "value",
                 NULL);
}

static void test_tests_errors(void **state)
{
    (void)state;
    const char *ir = "invalid_request";

    expect_error("{'language':'py','code':'x','tests':{}}", 400, ir, "tests", "type",
                 "tests must be an array of objects, not an object");
    expect_error("{'language':'py','code':'x','tests':[1]}", 400, ir, "tests[0]", "type",
                 "tests[0] must be an object, not a number");
    expect_error("{'language':'py','code':'x','tests':[{},null]}", 400, ir, "tests[1]", "type",
                 "not null");
    expect_error("{'language':'py','code':'x','tests':[{},{},{},{'timeoutMs':0}]}", 400, ir,
                 "tests[3].timeoutMs", "range",
                 "tests[3].timeoutMs must be an integer between 1 and 30000");
    expect_error("{'language':'py','code':'x','tests':[{},{'timeoutMs':'1'}]}", 400, ir,
                 "tests[1].timeoutMs", "type", NULL);
    expect_error("{'language':'py','code':'x','tests':[{'expectedOutput':3}]}", 400, ir,
                 "tests[0].expectedOutput", "type", "tests[0].expectedOutput must be a string");
    expect_error("{'language':'py','code':'x','tests':[{'expectedStdout':[]}]}", 400, ir,
                 "tests[0].expectedStdout", "type", NULL);
    expect_error("{'language':'py','code':'x','tests':[{'input':{}}]}", 400, ir, "tests[0].input",
                 "type", NULL);
    expect_error("{'language':'py','code':'x','tests':[{'stdin':1}]}", 400, ir, "tests[0].stdin",
                 "type", NULL);
    expect_error("{'language':'py','code':'x','tests':[{},{'input':'a','stdin':'b'}]}", 400, ir,
                 "tests[1].stdin", "value", "give tests[1].input or tests[1].stdin, not both");
    expect_error("{'language':'py','code':'x','tests':[{'expectedOutput':'a',"
                 "'expectedStdout':'b'}]}",
                 400, ir, "tests[0].expectedStdout", "value", "not both");
}

/* A body with one member holding a string of n 'a's, written by fmt. */
static char *body_big(const char *fmt, size_t n)
{
    char *s = malloc(n + 1), *buf = malloc(n + 256);
    memset(s, 'a', n);
    s[n] = '\0';
    snprintf(buf, n + 256, fmt, s);
    free(s);
    return buf;
}

static void test_limits(void **state)
{
    (void)state;
    const char *cf = "{'language':'py','code':'%s'}";
    char *b = body_big(cf, CG_MAX_CODE_BYTES);
    assert_int_equal(parse(b), 0);
    assert_int_equal(req.code_len, CG_MAX_CODE_BYTES);
    request_free(&req);
    free(b);
    b = body_big(cf, CG_MAX_CODE_BYTES + 1);
    expect_error(b, 413, "payload_too_large", "code", "too_large",
                 "code is 262145 bytes; the limit is 262144 bytes");
    free(b);

    const char *inf = "{'language':'py','code':'x','stdin':'%s'}";
    b = body_big(inf, CG_MAX_INPUT_BYTES);
    assert_int_equal(parse(b), 0);
    assert_int_equal(req.input_len, CG_MAX_INPUT_BYTES);
    request_free(&req);
    free(b);
    b = body_big(inf, CG_MAX_INPUT_BYTES + 1);
    expect_error(b, 413, "payload_too_large", "stdin", "too_large", "stdin is 8388609 bytes");
    free(b);
    b = body_big("{'language':'py','code':'x','tests':[{},{'expectedOutput':'%s'}]}",
                 CG_MAX_INPUT_BYTES + 1);
    expect_error(b, 413, "payload_too_large", "tests[1].expectedOutput", "too_large", NULL);
    free(b);

    const char *af = "{'language':'py','code':'x','args':['','%s']}";
    b = body_big(af, CG_MAX_ARG_BYTES);
    assert_int_equal(parse(b), 0);
    assert_int_equal(strlen(req.args[1]), CG_MAX_ARG_BYTES);
    request_free(&req);
    free(b);
    b = body_big(af, CG_MAX_ARG_BYTES + 1);
    expect_error(b, 400, "invalid_request", "args[1]", "range", "longer than 4096 bytes");
    free(b);

    /* 50 tests and 64 args are allowed, one more is not. */
    char many[8192];
    for (int k = 0; k < 2; k++) {
        int n = snprintf(many, sizeof many, "{'language':'py','code':'x','tests':[");
        for (int i = 0; i < CG_MAX_RUNS + k; i++)
            n += snprintf(many + n, sizeof many - (size_t)n, "%s{'input':'%d'}", i ? "," : "", i);
        snprintf(many + n, sizeof many - (size_t)n, "]}");
        if (k == 0) {
            assert_int_equal(parse(many), 0);
            assert_int_equal(req.ntests, CG_MAX_RUNS);
            assert_string_equal(req.tests[CG_MAX_RUNS - 1].input, "49");
            request_free(&req);
        } else {
            expect_error(many, 400, "invalid_request", "tests", "range",
                         "tests may hold at most 50 cases (got 51)");
        }
        n = snprintf(many, sizeof many, "{'language':'py','code':'x','args':[");
        for (int i = 0; i < CG_MAX_ARGS + k; i++)
            n += snprintf(many + n, sizeof many - (size_t)n, "%s'%d'", i ? "," : "", i);
        snprintf(many + n, sizeof many - (size_t)n, "]}");
        if (k == 0) {
            assert_int_equal(parse(many), 0);
            assert_int_equal(req.nargs, CG_MAX_ARGS);
            assert_string_equal(req.args[CG_MAX_ARGS - 1], "63");
            request_free(&req);
        } else {
            expect_error(many, 400, "invalid_request", "args", "range", "at most 64 entries");
        }
    }
    /* An error in a late test frees the earlier ones (ASan/LSan would report a leak). */
    expect_error("{'language':'py','code':'x','args':['a'],'input':'i','tests':[{'input':'a',"
                 "'expectedOutput':'b'},{'input':'c','timeoutMs':0}]}",
                 400, "invalid_request", "tests[1].timeoutMs", "range", NULL);
}

static void test_details(void **state)
{
    (void)state;
    assert_int_equal(parse("{'language':'cobol','code':'x'}"), -1);
    cJSON *d = request_error_details(&err);
    assert_non_null(d);
    cJSON *sup = cJSON_GetObjectItem(d, "supported");
    assert_int_equal(cJSON_GetArraySize(sup), LANG_COUNT);
    for (int i = 0; i < LANG_COUNT; i++)
        assert_string_equal(cJSON_GetArrayItem(sup, i)->valuestring, lang_table[i].name);
    assert_string_equal(cJSON_GetObjectItem(d, "field")->valuestring, "language");
    assert_string_equal(cJSON_GetObjectItem(d, "reason")->valuestring, "value");
    cJSON_Delete(d);

    assert_int_equal(parse("{'language':'py','code':'x','tests':[{'timeoutMs':0}]}"), -1);
    d = request_error_details(&err);
    assert_string_equal(cJSON_GetObjectItem(d, "field")->valuestring, "tests[0].timeoutMs");
    assert_string_equal(cJSON_GetObjectItem(d, "reason")->valuestring, "range");
    assert_null(cJSON_GetObjectItem(d, "supported"));
    cJSON_Delete(d);

    /* Nothing to say about the whole body: no details object at all. */
    assert_int_equal(parse("{nope"), -1);
    assert_null(request_error_details(&err));
}

static void test_options(void **state)
{
    (void)state;
    assert_int_equal(parse("{'language':'c++','code':'x','options':['-std=c++20','-O0','-Wall']}"),
                     0);
    assert_int_equal(req.noptions, 3);
    assert_string_equal(req.options[0], "-std=c++20");
    assert_string_equal(req.options[2], "-Wall");
    assert_null(req.options[3]);
    request_free(&req);
    assert_int_equal(parse("{'language':'py','code':'x','options':[],'args':['-O2']}"), 0);
    assert_int_equal(req.noptions, 0);
    assert_null(req.options);
    request_free(&req);
    assert_int_equal(parse("{'language':'py','code':'x','options':null}"), 0);
    request_free(&req);

    expect_error("{'language':'cpp','code':'x','options':['-O2','-o','/etc/x']}", 400,
                 "invalid_request", "options[1]", "value", "\"-o\" is not an option cpp accepts");
    expect_error("{'language':'cpp','code':'x','options':['-O2','-O0']}", 400, "invalid_request",
                 "options[1]", "value", "allowed: -std=c++20");
    expect_error("{'language':'cpp','code':'x','options':['-g','-g']}", 400, "invalid_request",
                 "options[1]", "value", "twice");
    expect_error("{'language':'cpp','code':'x','options':'-O2'}", 400, "invalid_request", "options",
                 "type", "array of strings");
    expect_error("{'language':'cpp','code':'x','options':['-O2',2]}", 400, "invalid_request",
                 "options[1]", "type", "must be a string");
    expect_error("{'language':'cpp','code':'x','options':[['-O2']]}", 400, "invalid_request",
                 "options[0]", "type", NULL);
    expect_error("{'language':'js','code':'x','options':['-O2']}", 400, "invalid_request",
                 "options[0]", "value", "allowed: --stack-size=4096, --throw-deprecation");
    char body[4096];
    snprintf(body, sizeof body, "{'language':'cpp','code':'x','options':['-O2','%0200d']}", 7);
    expect_error(body, 400, "invalid_request", "options[1]", "value", "not an option");
    strcpy(body, "{'language':'cpp','code':'x','options':[");
    for (int i = 0; i <= CG_MAX_OPTIONS; i++)
        strcat(body, i ? ",'-g'" : "'-g'");
    strcat(body, "]}");
    expect_error(body, 400, "invalid_request", "options", "range", "at most 16");

    /* details list the allowed values of the language. */
    assert_int_equal(parse("{'language':'python','code':'x','options':['-B']}"), -1);
    cJSON *d = request_error_details(&err);
    cJSON *allowed = cJSON_GetObjectItem(d, "allowed");
    assert_true(cJSON_GetArraySize(allowed) >= 2);
    assert_string_equal(cJSON_GetArrayItem(allowed, 0)->valuestring, "-Werror");
    cJSON_Delete(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_full),         cmocka_unit_test(test_body_errors),
        cmocka_unit_test(test_field_errors), cmocka_unit_test(test_tests_errors),
        cmocka_unit_test(test_limits),       cmocka_unit_test(test_details),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
