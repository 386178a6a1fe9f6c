/*
 * test_gate.c - the pure checks of a request head: Host allow-list, Content-Type,
 * Content-Length (smuggling), CORS origins, loopback addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "gate.h"

static void test_host_loopback_only(void **state)
{
    (void)state;
    const char *ok[] = {
        "localhost",      "localhost:5000", "LOCALHOST:1", "app.localhost", "127.0.0.1",
        "127.0.0.1:5000", "127.1.2.3",      "[::1]",       "[::1]:5000",    NULL};
    const char *bad[] = {"evil.example",
                         "evil.example:5000",
                         "127.0.0.1.evil.example",
                         "localhost.evil.example",
                         "10.0.0.1",
                         "[::2]:5000",
                         "localhost:abc",
                         "localhost:5000:1",
                         "",
                         "127.0.0.1:",
                         NULL};
    for (int i = 0; ok[i]; i++)
        if (!gate_host_allowed(ok[i], "", true))
            fail_msg("%s refused", ok[i]);
    for (int i = 0; bad[i]; i++)
        if (gate_host_allowed(bad[i], "", true))
            fail_msg("%s allowed", bad[i]);
    /* No Host header (HTTP/1.0) is let in: browsers always send one. */
    assert_true(gate_host_allowed(NULL, "", true));
}

static void test_host_configured(void **state)
{
    (void)state;
    assert_true(gate_host_allowed("code.school.example", "code.school.example", true));
    assert_true(
        gate_host_allowed("Code.School.Example:8443", " other , code.school.example ", true));
    assert_false(gate_host_allowed("evil.example", "code.school.example", true));
    assert_true(gate_host_allowed("localhost:1", "code.school.example", true));
    assert_true(gate_host_allowed("anything.example", "*", true));
    /* Bound elsewhere with no list: any name; with a list: only the list (and loopback). */
    assert_true(gate_host_allowed("anything.example", "", false));
    assert_false(gate_host_allowed("anything.example", "a.example", false));
}

static void test_json_type(void **state)
{
    (void)state;
    assert_true(gate_is_json("application/json"));
    assert_true(gate_is_json("Application/JSON; charset=utf-8"));
    assert_true(gate_is_json(" application/json ;charset=utf-8"));
    assert_false(gate_is_json(NULL));
    assert_false(gate_is_json("text/plain"));
    assert_false(gate_is_json("application/jsonp"));
    assert_false(gate_is_json("application/x-www-form-urlencoded"));
    assert_false(gate_is_json("multipart/form-data; boundary=x"));
}

static void test_content_length(void **state)
{
    (void)state;
    uint64_t n;
    const char *one[] = {"42"}, *two_same[] = {"5", "5"}, *two[] = {"5", "6"};
    const char *bad[] = {"-1", "+5", "5 5", "0x10", "", "99999999999999999999999"};

    assert_int_equal(gate_content_length(NULL, 0, false, &n), 0);
    assert_true(n == UINT64_MAX);
    assert_int_equal(gate_content_length(NULL, 0, true, &n), 0);
    assert_int_equal(gate_content_length(one, 1, false, &n), 0);
    assert_true(n == 42);
    assert_int_equal(gate_content_length(one, 1, true, &n), -1);
    assert_int_equal(gate_content_length(two, 2, false, &n), -1);
    assert_int_equal(gate_content_length(two_same, 2, false, &n), -1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (gate_content_length(&bad[i], 1, false, &n) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
}

static void test_cors(void **state)
{
    (void)state;
    /* No Origin: not a browser request, nothing to allow (but "*" is "*"). */
    assert_null(gate_cors_origin("", NULL, "localhost", true));
    assert_null(gate_cors_origin("https://a.example", NULL, "localhost", false));
    assert_string_equal(gate_cors_origin("*", NULL, "localhost", true), "*");
    assert_string_equal(gate_cors_origin("*", "https://any.example", NULL, true), "*");
    assert_string_equal(
        gate_cors_origin("https://a.example, https://b.example", "https://b.example", NULL, false),
        "https://b.example");
    assert_null(gate_cors_origin("https://a.example", "https://a.example.evil", NULL, false));
    assert_null(gate_cors_origin("https://a.example", "https://A.example", NULL, false));
    /* Automatic, bound to loopback: loopback origins only. */
    assert_string_equal(gate_cors_origin("", "http://localhost:3000", NULL, true),
                        "http://localhost:3000");
    assert_string_equal(gate_cors_origin("", "https://127.0.0.1", NULL, true), "https://127.0.0.1");
    assert_string_equal(gate_cors_origin("", "http://[::1]:8080", NULL, true), "http://[::1]:8080");
    assert_null(gate_cors_origin("", "https://evil.example", NULL, true));
    assert_null(gate_cors_origin("", "http://localhost.evil.example", NULL, true));
    assert_null(gate_cors_origin("", "null", NULL, true));
    assert_null(gate_cors_origin("", "file://localhost", NULL, true));
    /* Automatic, bound elsewhere: any. */
    assert_string_equal(gate_cors_origin("", "https://evil.example", NULL, false), "*");
    /* The gateway's own pages, whatever the list. */
    assert_string_equal(
        gate_cors_origin("https://a.example", "http://school:5000", "school:5000", false),
        "http://school:5000");
    assert_null(gate_cors_origin("https://a.example", "http://school:5000", "other:5000", false));
}

static void test_loopback_addr(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct sockaddr_in6 b = {.sin6_family = AF_INET6};

    inet_pton(AF_INET, "127.9.9.9", &a.sin_addr);
    assert_true(gate_addr_is_loopback((struct sockaddr *)&a));
    inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
    assert_false(gate_addr_is_loopback((struct sockaddr *)&a));
    inet_pton(AF_INET6, "::1", &b.sin6_addr);
    assert_true(gate_addr_is_loopback((struct sockaddr *)&b));
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &b.sin6_addr);
    assert_true(gate_addr_is_loopback((struct sockaddr *)&b));
    inet_pton(AF_INET6, "2001:db8::1", &b.sin6_addr);
    assert_false(gate_addr_is_loopback((struct sockaddr *)&b));
    assert_true(gate_bind_is_loopback("127.0.0.1"));
    assert_false(gate_bind_is_loopback("0.0.0.0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_loopback_only),
        cmocka_unit_test(test_host_configured),
        cmocka_unit_test(test_json_type),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_loopback_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
