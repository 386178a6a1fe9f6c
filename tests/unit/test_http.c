/*
 * test_http.c - the static file rules of the playground (server/http.c): which request paths
 * name a file under the static directory (relative paths of [A-Za-z0-9._-] segments, none empty
 * or starting with '.') and the content types by extension. Includes http.c for its statics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../server/http.c"

static void test_static_names_accepted(void **state)
{
    (void)state;
    const char *ok[] = {"index.html",
                        "app.js",
                        "vendor/codemirror/lib/codemirror.js",
                        "vendor/codemirror/mode/clike/clike.js",
                        "a/b/c/d-e_f.g",
                        "LICENSE",
                        NULL};
    for (const char **n = ok; *n; n++)
        assert_true(static_name_ok(*n));
}

static void test_static_names_refused(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         ".hidden",
                         "../etc/passwd",
                         "vendor/../index.html",
                         "vendor/./x.js",
                         "vendor/.git/config",
                         "/etc/passwd",
                         "vendor//x.js",
                         "vendor/",
                         "a\\b",
                         "a b",
                         "a%2fb",
                         "x?y",
                         NULL};
    for (const char **n = bad; *n; n++) {
        if (static_name_ok(*n))
            fail_msg("accepted %s", *n);
    }
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(static_name_ok(longname));
}

static void test_content_types(void **state)
{
    (void)state;
    assert_string_equal(content_type("vendor/codemirror/lib/codemirror.js"),
                        "text/javascript; charset=utf-8");
    assert_string_equal(content_type("vendor/codemirror/lib/codemirror.css"),
                        "text/css; charset=utf-8");
    assert_string_equal(content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(content_type("vendor/codemirror/LICENSE"), "application/octet-stream");
}

static void test_csp_has_no_inline_code(void **state)
{
    (void)state;
    assert_non_null(strstr(STATIC_CSP, "script-src 'self'"));
    assert_non_null(strstr(STATIC_CSP, "style-src 'self'"));
    assert_null(strstr(STATIC_CSP, "unsafe-inline"));
    assert_null(strstr(STATIC_CSP, "unsafe-eval"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_names_accepted),
        cmocka_unit_test(test_static_names_refused),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_csp_has_no_inline_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
