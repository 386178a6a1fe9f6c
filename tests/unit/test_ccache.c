/*
 * test_ccache.c - the compiled-program cache: keys, store and fetch, bounds and eviction, and
 * refusal of anything but a regular file in the work dir.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "ccache.h"
#include "profiles.h"

static char base[PATH_MAX], cdir[PATH_MAX + 16], wdir[PATH_MAX + 16];

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/cg-ccache-test-%d", (int)getpid());
    snprintf(cdir, sizeof cdir, "%s/cache", base);
    snprintf(wdir, sizeof wdir, "%s/work", base);
    mkdir(base, 0700);
    mkdir(wdir, 0700);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    (void)!system(cmd);
    return 0;
}

static void test_keys(void **state)
{
    (void)state;
    const char *a1[] = {"g++", "-O2", "main.cpp", NULL}, *a2[] = {"g++", "-O0", "main.cpp", NULL};
    char k1[65], k2[65], k3[65], k4[65];
    ccache_key("12.2.0", a1, "int main(){}", 12, k1);
    ccache_key("12.2.0", a2, "int main(){}", 12, k2);
    ccache_key("13.1.0", a1, "int main(){}", 12, k3);
    ccache_key("12.2.0", a1, "int main(){ }", 13, k4);
    assert_int_equal(strlen(k1), 64);
    assert_string_not_equal(k1, k2); /* flags */
    assert_string_not_equal(k1, k3); /* compiler */
    assert_string_not_equal(k1, k4); /* source */
    char again[65];
    ccache_key("12.2.0", a1, "int main(){}", 12, again);
    assert_string_equal(k1, again);

    /* A request's options are part of the compile command, so of the key: each set its own. */
    const char *none[] = {NULL}, *o0[] = {"-O0", NULL}, *o0w[] = {"-O0", "-Wall", NULL},
               *wo0[] = {"-Wall", "-O0", NULL};
    const char *const *sets[] = {none, o0, o0w, wo0};
    char keys[4][65];
    for (int i = 0; i < 4; i++) {
        const char *argv[PROFILE_MAX_ARGV];
        char buf[512];
        assert_true(profile_expand(profile_find("cpp")->compile, "main.cpp", "/w/0-j", 256, sets[i],
                                   argv, buf, sizeof buf) > 0);
        assert_int_equal(ccache_key("12.2.0", argv, "int main(){}", 12, keys[i]), 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(keys[i], keys[j]);
    }
}

static void test_store_fetch_evict(void **state)
{
    (void)state;
    ccache_t *c = ccache_new(cdir, 2, 1 << 20);
    ccache_stats_t st;
    char p[2 * PATH_MAX], buf[64] = "";
    const char *k[3] = {
        "1111111111111111111111111111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "3333333333333333333333333333333333333333333333333333333333333333",
    };
    assert_non_null(c);
    struct stat sb;
    assert_int_equal(stat(cdir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(ccache_fetch(c, k[0], wdir, "out", 0, 0, false), -ENOENT);
    write_file(wdir, "main", "binary-one");
    assert_int_equal(ccache_store(c, k[0], wdir, "main"), 0);
    assert_int_equal(ccache_fetch(c, k[0], wdir, "out", 0, 0, false), 0);
    snprintf(p, sizeof p, "%s/out", wdir);
    FILE *f = fopen(p, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "binary-one");
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    unlink(p);
    usleep(2000);
    assert_int_equal(ccache_store(c, k[1], wdir, "main"), 0);
    usleep(2000);
    assert_int_equal(ccache_fetch(c, k[0], wdir, "out", 0, 0, false), 0); /* k0 now recent */
    unlink(p);
    usleep(2000);
    assert_int_equal(ccache_store(c, k[2], wdir, "main"), 0); /* evicts k1, the oldest */
    assert_int_equal(ccache_fetch(c, k[1], wdir, "out", 0, 0, false), -ENOENT);
    assert_int_equal(ccache_fetch(c, k[0], wdir, "out", 0, 0, false), 0);
    ccache_stats(c, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.stores, 3);
    ccache_free(c);
    /* a new cache object finds the entries on disk */
    c = ccache_new(cdir, 4, 1 << 20);
    unlink(p);
    assert_int_equal(ccache_fetch(c, k[2], wdir, "out", 0, 0, false), 0);
    ccache_free(c);
}

static void test_refuses_links_and_fifos(void **state)
{
    (void)state;
    ccache_t *c = ccache_new(cdir, 4, 1 << 20);
    char p[2 * PATH_MAX];
    const char *k = "4444444444444444444444444444444444444444444444444444444444444444";
    snprintf(p, sizeof p, "%s/main", wdir);
    unlink(p);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    assert_int_not_equal(ccache_store(c, k, wdir, "main"), 0);
    unlink(p);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_not_equal(ccache_store(c, k, wdir, "main"), 0); /* and does not block */
    unlink(p);
    assert_int_equal(ccache_fetch(c, k, wdir, "out", 0, 0, false), -ENOENT);
    assert_int_equal(ccache_store(c, "../escape", wdir, "main"), 0); /* bad key: ignored */
    ccache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup_teardown(test_store_fetch_evict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_links_and_fifos, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
