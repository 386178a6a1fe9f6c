/*
 * test_slotcg_run.c - the slot cgroup's per-run side (executors/slotcg_run.c, as the launcher
 * uses it) against plain files standing for a v2 or a v1 slot cgroup's interface files: which
 * file is written with what, what is read back (OOM kills, the peak), joining. The creation side
 * is tested in test_slotcg.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file_fixture.h"

#include "slotcg.h"

static char tmp[PATH_MAX]; /* the test's directory */


static void assert_contains(const char *s, const char *part)
{
    if (!s || !strstr(s, part))
        fail_msg("\"%s\" does not contain \"%s\"", s ? s : "(null)", part);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    alarm(30);
    snprintf(tmp, sizeof tmp, "/tmp/cg-slotcg-run-test-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    alarm(0);
    return 0;
}

static int open_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* A v2 slot: memory.max and memory.swap.max set, pids.max, OOM kills from memory.events, the
 * peak through a reset memory.peak descriptor, joining. */
static void test_run_v2(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/codegate-61000", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    /* Plain files: a write does not truncate, so the files written start empty. */
    put(dir, "memory.max", "");
    put(dir, "memory.swap.max", "");
    put(dir, "pids.max", "");
    put(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
    put(dir, "memory.peak", "0\n");
    put(dir, "cgroup.procs", "");
    int dfd = open_dir(dir);

    assert_true(slotcg_v2(dfd));
    assert_int_equal(slotcg_set_memory(dfd, 48), 0);
    assert_string_equal(get(dir, "memory.max"), "50331648");
    assert_string_equal(get(dir, "memory.swap.max"), "0");
    assert_int_equal(slotcg_set_tasks(dfd, 66), 0);
    assert_string_equal(get(dir, "pids.max"), "66");

    assert_int_equal(slotcg_oom_kills(dfd), 0);
    put(dir, "memory.events", "low 0\nhigh 0\nmax 9\noom 3\noom_kill 2\noom_group_kill 0\n");
    assert_int_equal(slotcg_oom_kills(dfd), 2);

    int peakfd = slotcg_peak_start(dfd);
    assert_true(peakfd >= 0);
    assert_contains(get(dir, "memory.peak"), "reset"); /* a write resets it for this fd */
    put(dir, "memory.peak", "73400320\n");             /* what the kernel shows after the run */
    assert_int_equal(slotcg_peak_kb(dfd, peakfd), 71680);
    close(peakfd);
    /* Without a reset descriptor the lifetime peak is no run's: unknown. */
    assert_int_equal(slotcg_peak_kb(dfd, -1), 0);
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/memory.peak", dir);
    assert_int_equal(unlink(p), 0); /* before Linux 5.19 */
    assert_int_equal(slotcg_peak_start(dfd), -1);

    int jfd = slotcg_join(dir);
    assert_true(jfd >= 20);
    assert_string_equal(get(dir, "cgroup.procs"), "0");
    close(jfd);

    int mfd = -1;
    int pfd = slotcg_prepare(dir, 64, &mfd);
    assert_true(pfd >= 0 && mfd >= 0);
    assert_string_equal(get(dir, "memory.max"), "67108864");
    close(pfd);
    close(mfd);
    close(dfd);
}

/* A v1 slot: limit and memsw in a safe order, OOM kills from memory.oom_control (not confused
 * with oom_kill_disable), the peak from memory.max_usage_in_bytes after a reset. */
static void test_run_v1(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/codegate-61000", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    /* Plain files: a write does not truncate, so the files written start empty. */
    put(dir, "memory.limit_in_bytes", "");
    put(dir, "memory.memsw.limit_in_bytes", "");
    put(dir, "memory.max_usage_in_bytes", "");
    put(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    put(dir, "memory.force_empty", "");
    int dfd = open_dir(dir);

    assert_false(slotcg_v2(dfd));
    assert_int_equal(slotcg_set_memory(dfd, 48), 0);
    assert_string_equal(get(dir, "memory.limit_in_bytes"), "50331648");
    assert_string_equal(get(dir, "memory.memsw.limit_in_bytes"), "50331648");
    assert_int_equal(slotcg_oom_kills(dfd), 3);
    assert_int_equal(slotcg_peak_start(dfd), -1);
    assert_string_equal(get(dir, "memory.max_usage_in_bytes"), "0");
    put(dir, "memory.max_usage_in_bytes", "52428800\n");
    assert_int_equal(slotcg_peak_kb(dfd, -1), 51200);
    assert_int_equal(slotcg_read(dfd, "memory.max_usage_in_bytes", NULL), 52428800);
    assert_int_equal(slotcg_read(dfd, "memory.oom_control", "under_oom"), 0);
    assert_int_equal(slotcg_read(dfd, "memory.oom_control", "oom"), -1);
    assert_int_equal(slotcg_read(dfd, "no.such.file", NULL), -1);
    close(dfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
