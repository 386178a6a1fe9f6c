/*
 * test_uidrange.c - slot uid ranges: stable per instance, disjoint between live instances, freed
 * when the holder goes; container memory sized from the slots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "protocol.h"
#include "runtime.h"
#include "uidrange.h"

static char g_dir[] = "/tmp/cg-uidrange-XXXXXX";

static void test_candidates(void **state)
{
    (void)state;
    unsigned a = uidrange_candidate("class-a", 0), b = uidrange_candidate("class-a", 1);
    assert_int_equal(a, uidrange_candidate("class-a", 0)); /* stable across restarts */
    assert_int_not_equal(a, b);
    assert_true(a >= UIDRANGE_FIRST && (a - UIDRANGE_FIRST) % UIDRANGE_SPAN == 0);
    /* never wraps past the last range */
    for (unsigned i = 0; i < 10000; i += 97)
        assert_true(uidrange_candidate("x", i) <=
                    UIDRANGE_FIRST + (UIDRANGE_COUNT - 1) * UIDRANGE_SPAN);
}

/* Two live holders of the same instance name (or two names whose first candidate collides) get
 * disjoint ranges; a released range is free again. */
static void test_claims_are_disjoint(void **state)
{
    (void)state;
    uidrange_t a, b, c;
    assert_int_equal(uidrange_claim("same", g_dir, &a), 0);
    assert_int_equal(a.base, uidrange_candidate("same", 0));
    assert_true(a.lock_fd >= 0);
    /* another process holds "same" now: a child asks for it */
    pid_t p = fork();
    if (p == 0) {
        uidrange_t x;
        _exit(uidrange_claim("same", g_dir, &x) == 0 && x.base != a.base ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* flock is per open file: a second claim in this process is refused the same range too */
    assert_int_equal(uidrange_claim("same", g_dir, &b), 0);
    assert_int_not_equal(a.base, b.base);
    uidrange_release(&a);
    assert_int_equal(a.lock_fd, -1);
    assert_int_equal(uidrange_claim("same", g_dir, &c), 0);
    assert_int_equal(c.base, uidrange_candidate("same", 0));
    uidrange_release(&b);
    uidrange_release(&c);
    uidrange_release(NULL);
}

/* Every slot can hold the largest run at once; a smaller configured value is refused. */
static void test_container_memory(void **state)
{
    (void)state;
    config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.slots = 4;
    int need = 4 * (CG_MAX_MEMORY_MB + CG_RUN_MEMORY_EXTRA_MB) + CG_EXECUTOR_BASE_MB;
    assert_int_equal(runtime_container_memory_mb(&cfg), need);
    cfg.container_memory_mb = need + 100;
    assert_int_equal(runtime_container_memory_mb(&cfg), need + 100);
    cfg.container_memory_mb = 2048;
    assert_int_equal(runtime_container_memory_mb(&cfg), -need);
}

int main(void)
{
    if (!mkdtemp(g_dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_claims_are_disjoint),
        cmocka_unit_test(test_container_memory),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    (void)!system(cmd);
    return rc;
}
