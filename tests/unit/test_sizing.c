/*
 * test_sizing.c - the defaults that follow the machine (server/sizing.c): a table of machines
 * and what they get, the classroom arithmetic behind it, the probe of /proc and the cgroup files
 * (a fake tree in a temporary directory, cgroup v1 and v2, on the host and in a container), and
 * that an explicit option always wins.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "file_fixture.h"
#include "protocol.h"
#include "sizing.h"

/* ---- sizing_compute: machines -> results ---- */

static void test_table_of_machines(void **state)
{
    (void)state;
    static const struct {
        int cpu_milli, memory_mb, languages;
        int executors, slots, queue_max, queue_wait_ms, cpus;
    } t[] = {
        /* a small VM: 1 core, 2 GiB */
        {1000, 2048, 3, 1, 4, 64, 120000, 1000},
        /* the classroom machine of issue 15: 2 cores, 4 GiB */
        {2000, 4096, 3, 1, 8, 64, 80000, 2000},
        /* 2 cores, plenty of memory: the same (cores decide) */
        {2000, 24105, 3, 1, 8, 64, 80000, 2000},
        /* 2 cores, 1 GiB: memory decides ((1024 - 512) / (3 x 128) = 1 slot) */
        {2000, 1024, 3, 1, 1, 64, 120000, 2000},
        /* 2 cores, 1.5 GiB: 2 slots */
        {2000, 1536, 3, 1, 2, 64, 120000, 2000},
        /* a quota of 1.5 CPUs rounds up to 2 cores of slots; containers get 1.5 CPUs */
        {1500, 8192, 3, 1, 8, 64, 80000, 1500},
        /* 4 cores, 8 GiB: 16 slots, a class passes in two rounds */
        {4000, 8192, 3, 1, 16, 128, 40000, 4000},
        /* 16 cores, 64 GiB: 64 slots in two executors of 32 */
        {16000, 65536, 3, 2, 32, 512, 20000, 16000},
        /* 64 cores, 256 GiB: 256 slots, 8 executors */
        {64000, 262144, 3, 8, 32, 2048, 20000, 64000},
        /* 128 cores, 1 TiB: at most 256 slots per language */
        {128000, 1048576, 3, 8, 32, 2048, 20000, 64000},
        /* 5 languages on 2 cores and 2 GiB: (2048 - 512) / (5 x 128) = 2 slots */
        {2000, 2048, 5, 1, 2, 64, 120000, 2000},
        /* nothing known: still one slot */
        {0, 0, 0, 1, 1, 64, 120000, 100},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        sizing_machine_t m = {t[i].cpu_milli, t[i].memory_mb, t[i].languages};
        sizing_t s;
        sizing_compute(&m, &s);
        print_message(
            "machine %zu: %d mCPU %d MiB %d langs -> %d x %d, queue %d, wait %d, cpus %d\n", i,
            m.cpu_milli, m.memory_mb, m.languages, s.executors, s.slots, s.queue_max,
            s.queue_wait_ms, s.container_cpus_milli);
        assert_int_equal(s.executors, t[i].executors);
        assert_int_equal(s.slots, t[i].slots);
        assert_int_equal(s.queue_max, t[i].queue_max);
        assert_int_equal(s.queue_wait_ms, t[i].queue_wait_ms);
        assert_int_equal(s.container_cpus_milli, t[i].cpus);
    }
}

/*
 * The two classroom bursts of issue 15 on every machine with at least one core and 2 GiB: the
 * class fits in the queue; a class of sleeping 2-second programs passes through the slots within
 * the queue wait; a 0.5 s CPU-bound program sharing the cores with every other slot of its
 * language still ends within the default wall limit; and 30 such programs end within the wait.
 */
static void test_classroom_bursts_fit(void **state)
{
    (void)state;
    for (int cores = 1; cores <= 64; cores *= 2)
        for (int gib = 2; gib <= 256; gib *= 2) {
            sizing_machine_t m = {cores * 1000, gib * 1024, 3};
            sizing_t s;
            sizing_compute(&m, &s);
            int total = s.executors * s.slots;
            int rounds = (SIZING_CLASS + total - 1) / total;
            assert_true(s.queue_max >= SIZING_CLASS);
            /* sleepers: the last of the class starts after rounds-1 runs of 2 s */
            assert_true((rounds - 1) * 2000 < s.queue_wait_ms);
            /* CPU-bound 0.5 s with every slot busy: wall = 0.5 s x slots / cores */
            int share = total < cores ? 1 : (total + cores - 1) / cores;
            assert_true(500 * share < CG_DEFAULT_TIMEOUT_MS);
            /* 30 x 0.5 s CPU seconds over the cores: the last waits less than all of it */
            assert_true(SIZING_CLASS * 500 / cores < s.queue_wait_ms);
            assert_true(s.slots >= 1 && s.slots <= 64 && s.executors >= 1 && s.executors <= 16);
        }
}

/* ---- sizing_probe_at: a fake /proc and /sys/fs/cgroup ---- */

static char root[64];

static void mkdirs(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    mkdir(p, 0755);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/cg-sizing-XXXXXX");
    assert_non_null(mkdtemp(root));
    mkdirs("proc/self");
    put(root, "proc/meminfo", "MemTotal:        4030464 kB\nMemFree:  1000 kB\n");
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_probe_no_cgroup_files(void **state)
{
    sizing_machine_t m;
    (void)state;
    sizing_probe_at(root, 2, 3, &m);
    assert_int_equal(m.cpu_milli, 2000);
    assert_int_equal(m.memory_mb, 3936);
    assert_int_equal(m.languages, 3);
}

static void test_probe_v1_host_without_limits(void **state)
{
    sizing_machine_t m;
    (void)state;
    put(root, "proc/self/cgroup", "5:memory:/user.slice\n4:cpu,cpuacct:/user.slice\n");
    mkdirs("sys/fs/cgroup/memory/user.slice");
    mkdirs("sys/fs/cgroup/cpu/user.slice");
    put(root, "sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "sys/fs/cgroup/cpu/user.slice/cpu.cfs_quota_us", "-1\n");
    put(root, "sys/fs/cgroup/cpu/user.slice/cpu.cfs_period_us", "100000\n");
    sizing_probe_at(root, 8, 3, &m);
    assert_int_equal(m.cpu_milli, 8000);
    assert_int_equal(m.memory_mb, 3936);
}

static void test_probe_v1_own_cgroup_limits(void **state)
{
    sizing_machine_t m;
    (void)state;
    put(root, "proc/self/cgroup", "5:memory:/gw\n4:cpu,cpuacct:/gw\n");
    mkdirs("sys/fs/cgroup/memory/gw");
    mkdirs("sys/fs/cgroup/cpu/gw");
    put(root, "sys/fs/cgroup/memory/gw/memory.limit_in_bytes", "2147483648\n");
    put(root, "sys/fs/cgroup/cpu/gw/cpu.cfs_quota_us", "150000\n");
    put(root, "sys/fs/cgroup/cpu/gw/cpu.cfs_period_us", "100000\n");
    sizing_probe_at(root, 8, 3, &m);
    assert_int_equal(m.cpu_milli, 1500);
    assert_int_equal(m.memory_mb, 2048);
}

/* In a v1 container the cgroup namespace shows "/" and the limits sit at the mount's root. */
static void test_probe_v1_container(void **state)
{
    sizing_machine_t m;
    (void)state;
    put(root, "proc/self/cgroup", "5:memory:/\n4:cpu,cpuacct:/\n");
    mkdirs("sys/fs/cgroup/memory");
    mkdirs("sys/fs/cgroup/cpu");
    put(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "1073741824\n");
    put(root, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "400000\n");
    put(root, "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    sizing_probe_at(root, 2, 3, &m); /* the quota is above the affinity: the affinity wins */
    assert_int_equal(m.cpu_milli, 2000);
    assert_int_equal(m.memory_mb, 1024);
}

static void test_probe_v2_limits_and_max(void **state)
{
    sizing_machine_t m;
    (void)state;
    put(root, "proc/self/cgroup", "0::/system.slice/codegate.service\n");
    mkdirs("sys/fs/cgroup/system.slice/codegate.service");
    put(root, "sys/fs/cgroup/system.slice/codegate.service/cpu.max", "100000 100000\n");
    put(root, "sys/fs/cgroup/system.slice/codegate.service/memory.max", "3221225472\n");
    sizing_probe_at(root, 4, 3, &m);
    assert_int_equal(m.cpu_milli, 1000);
    assert_int_equal(m.memory_mb, 3072);

    put(root, "sys/fs/cgroup/system.slice/codegate.service/cpu.max", "max 100000\n");
    put(root, "sys/fs/cgroup/system.slice/codegate.service/memory.max", "max\n");
    sizing_probe_at(root, 4, 3, &m);
    assert_int_equal(m.cpu_milli, 4000);
    assert_int_equal(m.memory_mb, 3936);
}

static void test_probe_without_meminfo(void **state)
{
    sizing_machine_t m;
    char p[PATH_MAX];
    (void)state;
    snprintf(p, sizeof p, "%s/proc/meminfo", root);
    assert_int_equal(unlink(p), 0);
    sizing_probe_at(root, 0, 3, &m);
    assert_int_equal(m.cpu_milli, 1000);
    assert_int_equal(m.memory_mb, 1024);
}

/* The real machine: something sane. */
static void test_probe_this_machine(void **state)
{
    sizing_machine_t m;
    (void)state;
    sizing_probe(3, &m);
    assert_true(m.cpu_milli >= 1);
    assert_true(m.memory_mb >= 1);
}

/* ---- sizing_apply: 0 = sized, anything else wins ---- */

static config_t zero_cfg(const char *runtime)
{
    config_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.runtime, sizeof c.runtime, "%s", runtime);
    return c;
}

static void test_apply_fills_zeros(void **state)
{
    sizing_machine_t m = {2000, 4096, 3};
    config_t c = zero_cfg("local");
    (void)state;
    sizing_apply(&c, &m);
    assert_int_equal(c.executors, 1);
    assert_int_equal(c.slots, 8);
    assert_int_equal(c.queue_max, 64);
    assert_int_equal(c.queue_wait_ms, 80000);
    assert_int_equal(c.container_cpus_milli, 2000);
    assert_int_equal(c.sized, SIZED_EXECUTORS | SIZED_SLOTS | SIZED_QUEUE_MAX | SIZED_QUEUE_WAIT |
                                  SIZED_CONTAINER_CPUS);
    assert_int_equal(c.sized_cpu_milli, 2000);
    assert_int_equal(c.sized_memory_mb, 4096);
}

static void test_apply_explicit_wins(void **state)
{
    sizing_machine_t m = {2000, 4096, 3};
    config_t c = zero_cfg("docker");
    (void)state;
    c.slots = 3;
    c.queue_wait_ms = 500;
    sizing_apply(&c, &m);
    assert_int_equal(c.slots, 3);
    assert_int_equal(c.queue_wait_ms, 500);
    assert_int_equal(c.executors, 1);
    assert_int_equal(c.sized, SIZED_EXECUTORS | SIZED_QUEUE_MAX | SIZED_CONTAINER_CPUS);

    /* The sized queue follows the slots in use: 2 explicit slots -> ceil(30 / 2) rounds. */
    c = zero_cfg("local");
    c.slots = 2;
    sizing_apply(&c, &m);
    assert_int_equal(c.queue_max, 64);
    assert_int_equal(c.queue_wait_ms, SIZING_MAX_WAIT_MS);
    c = zero_cfg("local");
    c.executors = 2;
    c.slots = 16;
    sizing_apply(&c, &m);
    assert_int_equal(c.queue_max, 256);
    assert_int_equal(c.queue_wait_ms, 20000);

    c = zero_cfg("docker");
    c.executors = 2;
    c.slots = 4;
    c.queue_max = 7;
    c.queue_wait_ms = 1000;
    c.container_cpus_milli = 500;
    sizing_apply(&c, &m);
    assert_int_equal(c.executors, 2);
    assert_int_equal(c.slots, 4);
    assert_int_equal(c.queue_max, 7);
    assert_int_equal(c.queue_wait_ms, 1000);
    assert_int_equal(c.container_cpus_milli, 500);
    assert_int_equal(c.sized, 0);
}

/* External executors announce their own slots (EXECUTOR_SLOTS, 4 by default): not this machine's.
 */
static void test_apply_external(void **state)
{
    sizing_machine_t m = {16000, 65536, 3};
    config_t c = zero_cfg("external");
    (void)state;
    sizing_apply(&c, &m);
    assert_int_equal(c.executors, 1);
    assert_int_equal(c.slots, 4);
    assert_int_equal(c.queue_max, 64);
    assert_int_equal(c.queue_wait_ms, 120000); /* ceil(30 / 4) x 20 s, at most 120 s */
    assert_int_equal(c.container_cpus_milli, 16000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_of_machines),
        cmocka_unit_test(test_classroom_bursts_fit),
        cmocka_unit_test_setup_teardown(test_probe_no_cgroup_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_v1_host_without_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_v1_own_cgroup_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_v1_container, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_v2_limits_and_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_without_meminfo, setup, teardown),
        cmocka_unit_test(test_probe_this_machine),
        cmocka_unit_test(test_apply_fills_zeros),
        cmocka_unit_test(test_apply_explicit_wins),
        cmocka_unit_test(test_apply_external),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
