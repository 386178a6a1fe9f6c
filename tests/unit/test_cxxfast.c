/*
 * test_cxxfast.c - the C++ compile's precompiled header: which sources may get the forced
 * include (only headers of the set, nothing before the last include but includes), the variant
 * a compile's options need, what one compile's options become, and what init reads from a
 * PCH directory (a fake one: the files are not real .gch).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cxxfast.h"
#include "lang.h"

static const char set[][48] = {"iostream", "vector", "string", "algorithm", "cstdio"};
#define NSET 5

static bool fits(const char *src)
{
    return cxxfast_source_fits(set, NSET, src, strlen(src));
}

static void test_source_fits(void **state)
{
    (void)state;
    assert_true(fits("#include <iostream>\nint main(){}\n"));
    assert_true(fits("  #  include<vector>\n#include <iostream> // io\nusing namespace std;\n"));
    assert_true(fits("#include <vector>\n#define N 10\n#pragma GCC optimize(\"O3\")\nint a[N];"));
    assert_true(fits("#include <cstdio>\n#include \"x.h\" is fine only after\n") == false);
    /* Something defined first could change what a header means. */
    assert_false(fits("#define _GLIBCXX_DEBUG\n#include <vector>\n"));
    assert_false(fits("#pragma once\n#include <vector>\n"));
    assert_false(fits("#ifdef X\n#include <vector>\n#endif\n"));
    /* A header outside the set, a quoted or computed include, none at all. */
    assert_false(fits("#include <iostream>\n#include <regex>\n"));
    assert_false(fits("#include <bits/stdc++.h>\n"));
    assert_false(fits("#include \"vector\"\n"));
    assert_false(fits("#define H <vector>\n#include H\n"));
    assert_false(fits("#include <vector>\n#include H\n"));
    assert_false(fits("int main(){ return 0; }\n"));
    assert_false(fits(""));
    /* Not NUL-terminated: only len bytes count. */
    const char src[] = "#include <vector>\n#include <regex>\n";
    assert_true(cxxfast_source_fits(set, NSET, src, 18));
    assert_false(cxxfast_source_fits(set, NSET, src, sizeof src - 1));
}

static void test_variant(void **state)
{
    (void)state;
    const char *tmpl[] = {"g++", "-std=c++17", "-O2", "-pipe", "{options}", "-o", "main", NULL};
    char v[64];
    cxxfast_variant(tmpl, NULL, v, sizeof v);
    assert_string_equal(v, "c++17-O2");
    const char *o1[] = {"-O3", "-Wall", "-g", NULL};
    cxxfast_variant(tmpl, o1, v, sizeof v);
    assert_string_equal(v, "c++17-O2"); /* any optimization is the same PCH */
    const char *o2[] = {"-std=c++20", "-O0", NULL};
    cxxfast_variant(tmpl, o2, v, sizeof v);
    assert_string_equal(v, "c++20-O0");
    const char *o3[] = {"-pedantic", "-std=c++11", NULL};
    cxxfast_variant(tmpl, o3, v, sizeof v);
    assert_string_equal(v, "c++11-O2-pedantic");
}

static char dir[PATH_MAX];

static void put(const char *name, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    char p[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "/tmp/cg-cxxfast-test-%d", (int)getpid());
    mkdir(dir, 0700);
    put(CXXFAST_HEADER, "/* the set */\n#include <iostream>\n#include <vector>\n");
    snprintf(p, sizeof p, "%s/%s.gch", dir, CXXFAST_HEADER);
    mkdir(p, 0700);
    put(CXXFAST_HEADER ".gch/c++17-O2.gch", "x");
    put(CXXFAST_HEADER ".gch/c++20-O0.gch", "x");
    put(CXXFAST_HEADER ".gch/README", "not a variant");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    return 0;
}

static void test_init_and_options(void **state)
{
    (void)state;
    const char *tmpl[] = {"g++", "-std=c++17", "-O2", "{options}", "main.cpp", NULL};
    const char *out[LANG_MAX_OPTIONS + CXXFAST_MAX_EXTRA + 1];
    char why[PATH_MAX + 64], hdr[PATH_MAX + 64];
    cxxfast_t f;
    bool pch;
    int n;

    cxxfast_init(&f, tmpl, dir, why, sizeof why);
    assert_string_equal(why, "");
    snprintf(hdr, sizeof hdr, "%s/%s", dir, CXXFAST_HEADER);
    assert_string_equal(f.header, hdr);
    assert_int_equal(f.nheaders, 2);
    assert_string_equal(f.headers[1], "vector");
    assert_int_equal(f.nvariants, 2);

    const char *src = "#include <vector>\nint main(){}\n";
    n = cxxfast_options(&f, tmpl, NULL, src, strlen(src), false, out, &pch);
    assert_true(pch);
    assert_string_equal(out[n - 2], "-include");
    assert_string_equal(out[n - 1], hdr);
    assert_null(out[n]);
    assert_int_equal(n, f.mold ? 3 : 2);
    /* Inside a box the directory is shown elsewhere: -include names it there. */
    cxxfast_t boxed = f;
    cxxfast_set_run_dir(&boxed, "/pch");
    n = cxxfast_options(&boxed, tmpl, NULL, src, strlen(src), false, out, &pch);
    assert_true(pch);
    assert_string_equal(out[n - 1], "/pch/" CXXFAST_HEADER);

    /* The request's options come first; a variant that is there, one that is not. */
    const char *o20[] = {"-std=c++20", "-O0", "-Wall", NULL}, *o14[] = {"-std=c++14", NULL};
    n = cxxfast_options(&f, tmpl, o20, src, strlen(src), false, out, &pch);
    assert_true(pch);
    assert_string_equal(out[0], "-std=c++20");
    assert_string_equal(out[2], "-Wall");
    n = cxxfast_options(&f, tmpl, o14, src, strlen(src), false, out, &pch);
    assert_false(pch);
    assert_string_equal(out[0], "-std=c++14");
    assert_int_equal(n, f.mold ? 2 : 1);
    /* A source outside the set, and the retry without. */
    const char *other = "#include <map>\nint main(){}\n";
    cxxfast_options(&f, tmpl, NULL, other, strlen(other), false, out, &pch);
    assert_false(pch);
    cxxfast_options(&f, tmpl, NULL, src, strlen(src), true, out, &pch);
    assert_false(pch);
    /* No cxxfast at all: the request's options only. */
    n = cxxfast_options(NULL, tmpl, o20, src, strlen(src), false, out, &pch);
    assert_int_equal(n, 3);
    assert_false(pch);

    /* Another compiler gets no PCH; a directory without .gch files gives none, and says why. */
    const char *gcc[] = {"gcc", "{options}", "main.c", NULL};
    cxxfast_init(&f, gcc, dir, why, sizeof why);
    assert_string_equal(f.header, "");
    char empty[PATH_MAX + 16];
    snprintf(empty, sizeof empty, "%s/none", dir);
    cxxfast_init(&f, tmpl, empty, why, sizeof why);
    assert_string_equal(f.header, "");
    assert_int_equal(f.nheaders, 0);
    assert_non_null(strstr(why, "cannot read"));
    cxxfast_init(&f, tmpl, NULL, why, sizeof why);
    assert_string_equal(f.header, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_fits),
        cmocka_unit_test(test_variant),
        cmocka_unit_test_setup_teardown(test_init_and_options, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
