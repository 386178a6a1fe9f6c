/*
 * test_lang.c - the language table (common/lang.c): look-ups by name and alias, the joined
 * list of names, and that every entry is complete and consistent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lang.h"

static void test_index_and_get(void **state)
{
    (void)state;
    assert_int_equal(lang_index("python"), 0);
    assert_int_equal(lang_index("javascript"), 1);
    assert_int_equal(lang_index("cpp"), 2);
    assert_int_equal(lang_index("py"), -1);     /* canonical names only */
    assert_int_equal(lang_index("Python"), -1); /* exact */
    assert_int_equal(lang_index(""), -1);
    assert_int_equal(lang_index(NULL), -1);
    assert_ptr_equal(lang_get("cpp"), &lang_table[2]);
    assert_null(lang_get("c++"));
    assert_null(lang_get(NULL));
    assert_int_equal(lang_index("c"), 3);
    assert_int_equal(lang_index("java"), 4);
}

/* Images: C runs from the C++ image, every other language from its own. */
static void test_images(void **state)
{
    (void)state;
    assert_string_equal(lang_image(lang_get("python")), "python");
    assert_string_equal(lang_image(lang_get("cpp")), "cpp");
    assert_string_equal(lang_image(lang_get("c")), "cpp");
    assert_string_equal(lang_image(lang_get("java")), "java");
    /* Every image has its Dockerfile (the tests run from the repository's root). */
    for (int i = 0; i < LANG_COUNT; i++) {
        char path[128];
        snprintf(path, sizeof path, "docker/Dockerfile.%s", lang_image(&lang_table[i]));
        FILE *f = fopen(path, "r");
        if (!f)
            fail_msg("%s: no %s", lang_table[i].name, path);
        fclose(f);
    }
}

/* Java's helper is complete Java source of the class the run command starts. */
static void test_java_helper(void **state)
{
    (void)state;
    const lang_t *j = lang_get("java");
    assert_ptr_equal(j->preload, lang_java_helper);
    assert_non_null(strstr(lang_java_helper, "package codegate;"));
    assert_non_null(strstr(lang_java_helper, "public final class Codegate"));
    assert_non_null(strstr(lang_java_helper, "\nfinal class Run {"));
    int found = 0;
    for (int i = 0; j->run[i]; i++)
        found |= strcmp(j->run[i], "codegate.Run") == 0;
    assert_true(found);
    for (int i = 0; j->compile[i]; i++)
        assert_null(strstr(j->compile[i], "{dir}")); /* the cache key is the same for all jobs */
    assert_int_equal(j->as_extra_mb, -1);            /* the JVM never runs under RLIMIT_AS */
}

static void test_find(void **state)
{
    (void)state;
    static const char *const names[][2] = {
        {"python", "python"},
        {"PY", "python"},
        {"python3", "python"},
        {"js", "javascript"},
        {"Node", "javascript"},
        {"NODEJS", "javascript"},
        {"c++", "cpp"},
        {"CXX", "cpp"},
        {"Cpp", "cpp"},
        {"c", "c"},
        {"C", "c"},
        {"gcc", "c"},
        {"java", "java"},
        {"Java", "java"},
        {"JDK", "java"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const lang_t *l = lang_find(names[i][0]);
        assert_non_null(l);
        assert_string_equal(l->name, names[i][1]);
    }
    static const char *const bad[] = {"cobol", "",    "python2", "c#",
                                      "javac", " py", "py ",     "node.js"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(lang_find(bad[i]));
    assert_null(lang_find(NULL));
}

static void test_names(void **state)
{
    (void)state;
    char buf[128], small[12];

    assert_string_equal(lang_names(buf, sizeof buf, ", ", " or "),
                        "python, javascript, cpp, c or java");
    assert_string_equal(lang_names(buf, sizeof buf, ", ", ", "),
                        "python, javascript, cpp, c, java");
    /* too small: whole names only, always terminated */
    assert_string_equal(lang_names(small, sizeof small, ", ", " or "), "python");
    assert_string_equal(lang_names(small, 1, ", ", " or "), "");
}

/* Every entry is complete: adding a language is one entry, and a half-filled one fails here. */
static void test_entries_complete(void **state)
{
    (void)state;
    for (int i = 0; i < LANG_COUNT; i++) {
        const lang_t *l = &lang_table[i];
        assert_non_null(l->name);
        assert_non_null(l->display);
        assert_non_null(l->runtime);
        assert_non_null(l->aliases);
        assert_non_null(l->file);
        assert_non_null(l->run);
        assert_non_null(l->version_cmd);
        assert_non_null(l->env);
        assert_non_null(l->oom_markers);
        assert_true(l->pty == LANG_PTY_NONE || l->pty == LANG_PTY_IN || l->pty == LANG_PTY_INOUT);
        /* a compile step has a product and a timeout the executor accepts; no step, neither */
        if (l->compile) {
            assert_non_null(l->binary);
            assert_in_range(l->compile_timeout_ms, 1000, LANG_COMPILE_TIMEOUT_MAX_MS);
        } else {
            assert_null(l->binary);
            assert_int_equal(l->compile_timeout_ms, 0);
        }
        /* every name and alias finds this entry, and no other entry claims it */
        assert_ptr_equal(lang_find(l->name), l);
        for (const char *const *a = l->aliases; *a; a++)
            assert_ptr_equal(lang_find(*a), l);
    }
    assert_int_equal(LANG_COMPILE_TIMEOUT_MS, atoi(LANG_STR(LANG_COMPILE_TIMEOUT_MS)));
}

static int check(const char *lang, const char *const *opts, int n, int *bad, char *msg, size_t len)
{
    return lang_options_check(lang_get(lang), opts, n, bad, msg, len);
}

static void test_options(void **state)
{
    (void)state;
    char msg[160];
    int bad = 99;
    const char *good[] = {"-std=c++20", "-O0", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"};
    assert_int_equal(check("cpp", good, 7, &bad, msg, sizeof msg), 0);
    assert_int_equal(bad, -1);
    assert_int_equal(check("cpp", NULL, 0, &bad, msg, sizeof msg), 0);
    const char *py[] = {"-Werror"};
    assert_int_equal(check("python", py, 1, &bad, msg, sizeof msg), 0);

    /* Hostile or unknown values: never a prefix match. */
    static const char *const refused[] = {"-o",
                                          "/etc/x",
                                          "-B/tmp",
                                          "-wrapper",
                                          "@file",
                                          "-fplugin=x.so",
                                          "-specs=x",
                                          "-I/",
                                          "-L/",
                                          "-include",
                                          "-std=c++20 ",
                                          "-std=c++2a",
                                          "-O2 -o/x",
                                          "-fsanitize=address",
                                          "",
                                          "-Werror=x",
                                          "-Wall\n"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        const char *o[] = {"-Wall", refused[i]};
        assert_int_equal(check("cpp", o, 2, &bad, msg, sizeof msg), -1);
        assert_int_equal(bad, 1);
        assert_non_null(strstr(msg, "is not an option cpp accepts"));
    }
    /* An option of another language. */
    assert_int_equal(check("javascript", py, 1, &bad, msg, sizeof msg), -1);
    assert_int_equal(bad, 0);
    const char *cpp_for_py[] = {"-O2"};
    assert_int_equal(check("python", cpp_for_py, 1, &bad, msg, sizeof msg), -1);

    /* Duplicates and two of a group. */
    const char *dup[] = {"-Wall", "-g", "-Wall"};
    assert_int_equal(check("cpp", dup, 3, &bad, msg, sizeof msg), -1);
    assert_int_equal(bad, 2);
    assert_non_null(strstr(msg, "twice"));
    const char *two_std[] = {"-std=c++17", "-O1", "-std=c++20"};
    assert_int_equal(check("cpp", two_std, 3, &bad, msg, sizeof msg), -1);
    assert_int_equal(bad, 2);
    assert_non_null(strstr(msg, "-std=c++17"));
    const char *two_o[] = {"-O0", "-O3"};
    assert_int_equal(check("cpp", two_o, 2, &bad, msg, sizeof msg), -1);
    const char *two_w[] = {"-Werror", "-Wignore"};
    assert_int_equal(check("python", two_w, 2, &bad, msg, sizeof msg), -1);

    /* A NULL entry and too many. */
    const char *null_entry[] = {"-g", NULL};
    assert_int_equal(check("cpp", null_entry, 2, &bad, msg, sizeof msg), -1);
    assert_int_equal(bad, 1);
    const char *many[LANG_MAX_OPTIONS + 1];
    for (int i = 0; i <= LANG_MAX_OPTIONS; i++)
        many[i] = "-g";
    assert_int_equal(check("cpp", many, LANG_MAX_OPTIONS + 1, &bad, msg, sizeof msg), -1);
    assert_int_equal(bad, -1);

    /* The list for messages. */
    char buf[256];
    assert_non_null(
        strstr(lang_options_allowed(lang_get("cpp"), buf, sizeof buf), "-std=c++20, -std=c++17"));
    const lang_t bare = {.name = "bare"};
    assert_string_equal(lang_options_allowed(&bare, buf, sizeof buf), "none");
    assert_int_equal(lang_options_check(&bare, py, 1, &bad, msg, sizeof msg), -1);
    assert_int_equal(lang_options_check(&bare, NULL, 0, &bad, msg, sizeof msg), 0);
    assert_string_equal(lang_options_allowed(lang_get("cpp"), buf, 12), "-std=c++20");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_and_get), cmocka_unit_test(test_find),
        cmocka_unit_test(test_names),         cmocka_unit_test(test_entries_complete),
        cmocka_unit_test(test_images),        cmocka_unit_test(test_java_helper),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
