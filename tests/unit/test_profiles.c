/*
 * test_profiles.c - the language table: lookup, template expansion, version parsing, OOM markers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "profiles.h"

static void test_find(void **state)
{
    (void)state;
    assert_non_null(profile_find("python"));
    assert_non_null(profile_find("javascript"));
    assert_non_null(profile_find("cpp"));
    assert_null(profile_find("py")); /* canonical names only: aliases are the gateway's job */
    assert_null(profile_find(NULL));
    assert_null(profile_find("python")->compile);
    assert_non_null(profile_find("cpp")->compile);
    assert_true(profile_find("javascript")->as_extra_mb < 0); /* node: no RLIMIT_AS */
}

/* Every row is complete and every template expands to something without a placeholder left:
 * adding a language is one row, and a half-filled row is caught here. */
static void test_table_complete(void **state)
{
    (void)state;
    const char *names[] = {"python", "javascript", "cpp"};
    const char *argv[PROFILE_MAX_ARGV];
    char buf[1024];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const profile_t *p = profile_find(names[i]);
        assert_non_null(p);
        assert_string_equal(p->name, names[i]);
        assert_non_null(p->file);
        assert_null(strchr(p->file, '/'));
        assert_non_null(p->run);
        assert_non_null(p->version_cmd);
        assert_non_null(p->env);
        assert_non_null(p->oom_markers);
        assert_non_null(p->oom_markers[0]);
        assert_true((p->compile == NULL) == (p->binary == NULL)); /* compiled: its product named */
        assert_true(p->as_extra_mb >= -1);
        /* a preload is a plain file name in the work dir that the run command loads */
        assert_true((p->preload == NULL) == (p->preload_file == NULL));
        if (p->preload) {
            /* named by the run command, or (a module: its name without ".py") by a variable */
            bool used = false;
            char stem[64];
            assert_null(strchr(p->preload_file, '/'));
            snprintf(stem, sizeof stem, "%s", p->preload_file);
            if (strrchr(stem, '.') && strcmp(strrchr(stem, '.'), ".py") == 0)
                *strrchr(stem, '.') = '\0';
            for (int k = 0; p->run[k]; k++)
                used = used || strstr(p->run[k], p->preload_file) != NULL;
            for (int k = 0; p->env[k]; k++)
                used = used || strstr(p->env[k], stem) != NULL;
            assert_true(used);
        }
        const char *const *tmpls[] = {p->run, p->compile, p->version_cmd};
        for (int t = 0; t < 3; t++) {
            if (!tmpls[t])
                continue;
            int n = profile_expand(tmpls[t], p->file, "/w/0-j", 128, NULL, argv, buf, sizeof buf);
            assert_true(n >= 1);
            for (int k = 0; k < n; k++)
                assert_null(strchr(argv[k], '{'));
        }
        for (int k = 0; p->env[k]; k++)
            assert_non_null(strchr(p->env[k], '='));
    }
}

static void test_expand(void **state)
{
    (void)state;
    const char *argv[PROFILE_MAX_ARGV];
    char buf[512];
    int n = profile_expand(profile_find("javascript")->run, "main.js", "/w/0-j1", 256, NULL, argv,
                           buf, sizeof buf);
    assert_int_equal(n, 5);
    assert_string_equal(argv[0], "/usr/local/lib/codegate/node/bin/node"); /* the pinned one */
    /* without a memory cgroup (profile_expand): Node's heap is capped by its own flag */
    assert_string_equal(argv[1], "--max-old-space-size=256");
    /* the preload that makes stdout/stderr blocking, from the work dir */
    assert_string_equal(argv[2], "--require");
    assert_string_equal(argv[3],
                        "/w/0-j1/.codegate-stdio.js"); /* absolute: fork() in another dir */
    assert_string_equal(argv[4], "main.js");
    assert_null(argv[5]);
    /* a run the cgroup bounds: no V8 flag at all (it would cost Node its code cache) */
    n = profile_expand_run(profile_find("javascript")->run, "main.js", "/w/0-j1", 256, true, NULL,
                           argv, buf, sizeof buf);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        assert_null(strchr(argv[i], '{'));
        assert_true(strncmp(argv[i], "--", 2) != 0 || strcmp(argv[i], "--require") == 0);
    }
    assert_string_equal(argv[1], "--require");
    n = profile_expand_run(profile_find("javascript")->run, "main.js", "/w/0-j1", 128, false, NULL,
                           argv, buf, sizeof buf);
    assert_int_equal(n, 5);
    assert_string_equal(argv[1], "--max-old-space-size=128");
    {
        const char *opts[] = {"--stack-size=4096", NULL};
        n = profile_expand_run(profile_find("javascript")->run, "main.js", "/w/0-j1", 256, true,
                               opts, argv, buf, sizeof buf);
        assert_int_equal(n, 5);
        assert_string_equal(argv[1], "--stack-size=4096");
        assert_string_equal(argv[4], "main.js");
    }
    n = profile_expand(profile_find("cpp")->compile, "main.cpp", "/w/0-j1", 64, NULL, argv, buf,
                       sizeof buf);
    assert_true(n > 3);
    assert_string_equal(argv[n - 1], "main.cpp");
    /* too small a buffer is an error, not an overflow */
    assert_int_equal(profile_expand(profile_find("javascript")->run, "main.js", "/w/0-j1", 256,
                                    NULL, argv, buf, 8),
                     -1);
    /* every placeholder of an entry, more than once */
    static const char *const tmpl[] = {"{dir}/{file}:{mem}:{file}", "{", "x{y}", NULL};
    n = profile_expand(tmpl, "a.py", "/d", 64, NULL, argv, buf, sizeof buf);
    assert_int_equal(n, 3);
    assert_string_equal(argv[0], "/d/a.py:64:a.py");
    assert_string_equal(argv[1], "{");
    assert_string_equal(argv[2], "x{y}");
    assert_int_equal(profile_expand(tmpl, "a.py", "/d", 64, NULL, argv, buf, 16),
                     -1); /* 15 + NUL + 2 */
}

/* "{sources}": the entry file, then every given file with its extension, in the given order. */
static void test_sources(void **state)
{
    (void)state;
    const cg_file_t files[] = {{"b.cpp", "", 0},
                               {"util.h", "", 0},
                               {"a/c.cpp", "", 0},
                               {"x.cppx", "", 0},
                               {".cpp", "", 0}};
    const char *src[8], *argv[PROFILE_MAX_ARGV];
    char buf[512];
    const profile_t *cpp = profile_find("cpp");
    int n = profile_sources(cpp, files, 5, src, 8);

    assert_int_equal(n, 3);
    assert_string_equal(src[0], "main.cpp");
    assert_string_equal(src[1], "b.cpp");
    assert_string_equal(src[2], "a/c.cpp");
    assert_int_equal(profile_sources(cpp, files, 5, src, 2), -1);
    int k = profile_expand_sources(cpp->compile, cpp->file, "/d", 64, NULL, src, n, argv, buf,
                                   sizeof buf);
    assert_true(k > 3);
    assert_string_equal(argv[k - 3], "main.cpp");
    assert_string_equal(argv[k - 1], "a/c.cpp");
    assert_null(argv[k]);
    /* without a list: the entry file alone */
    k = profile_expand(cpp->compile, cpp->file, "/d", 64, NULL, argv, buf, sizeof buf);
    assert_string_equal(argv[k - 1], "main.cpp");
}

static void test_version(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(profile_version(profile_find("python"), v, sizeof v), 0);
    assert_true(v[0] >= '3' && v[1] == '.');
    assert_int_equal(profile_version(profile_find("javascript"), v, sizeof v), 0);
    assert_true(v[0] >= '1' && v[0] <= '9'); /* no leading 'v' */
    assert_int_equal(profile_version(profile_find("cpp"), v, sizeof v), 0);
    assert_non_null(strchr(v, '.'));
}

static void test_oom(void **state)
{
    (void)state;
    assert_true(profile_is_oom(profile_find("python"), "Traceback...\nMemoryError\n"));
    assert_false(profile_is_oom(profile_find("python"), "ValueError"));
    assert_true(
        profile_is_oom(profile_find("javascript"),
                       "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap "
                       "out of memory"));
    assert_true(profile_is_oom(profile_find("cpp"), "what():  std::bad_alloc"));
    assert_false(profile_is_oom(profile_find("cpp"), NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),   cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_expand), cmocka_unit_test(test_version),
        cmocka_unit_test(test_oom),    cmocka_unit_test(test_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
