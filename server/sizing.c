/*
 * sizing.c - defaults that follow the machine (see sizing.h for the rules and their reasons).
 */
#include "sizing.h"

#include "cg_util.h"

#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "protocol.h"

static int clamp(long v, long lo, long hi)
{
    return (int)(v < lo ? lo : v > hi ? hi : v);
}

/* The queue for total slots per language: 8 per slot, and the longest wait that lets a class
 * through them. A round of the class: every slot runs a default-timeout program to its limit,
 * with the whole credit for waiting for a CPU (a busy machine). */
static void size_queue(long total, int *queue_max, int *queue_wait_ms)
{
    long round_ms = (long)CG_DEFAULT_TIMEOUT_MS * (100 + CG_WALL_CREDIT_PCT) / 100;

    *queue_max = clamp(total * 8, SIZING_MIN_QUEUE, 100000);
    *queue_wait_ms = clamp((SIZING_CLASS + total - 1) / total * round_ms, SIZING_MIN_WAIT_MS,
                           SIZING_MAX_WAIT_MS);
}

void sizing_compute(const sizing_machine_t *m, sizing_t *out)
{
    int cores = (m->cpu_milli + 999) / 1000;
    int langs = m->languages > 0 ? m->languages : 1;
    long total, by_mem;

    if (cores < 1)
        cores = 1;
    total = (long)cores * SIZING_SLOTS_PER_CORE;
    by_mem = ((long)m->memory_mb - SIZING_RESERVE_MB) / ((long)langs * SIZING_SLOT_MB);
    if (by_mem < total)
        total = by_mem;
    total = clamp(total, 1, SIZING_MAX_SLOTS); /* slot uids: UIDRANGE_SPAN covers them all */
    out->executors =
        clamp((total + SIZING_SLOTS_PER_EXECUTOR - 1) / SIZING_SLOTS_PER_EXECUTOR, 1, 16);
    out->slots = clamp((total + out->executors - 1) / out->executors, 1, 64);
    size_queue((long)out->executors * out->slots, &out->queue_max, &out->queue_wait_ms);
    out->container_cpus_milli = clamp(m->cpu_milli, 100, 64000);
}

/* The first line of root/path, or an empty string; false when it cannot be read. */
static bool read_line(const char *root, const char *path, char *buf, size_t len)
{
    char p[PATH_MAX];
    FILE *f;
    bool ok;

    buf[0] = '\0';
    if (snprintf(p, sizeof p, "%s%s", root, path) >= (int)sizeof p || !(f = fopen(p, "re")))
        return false;
    ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

/* This process's cgroup for controller ctrl (v1) or its v2 cgroup (ctrl NULL), from
 * root/proc/self/cgroup; "" when not found or at a cgroup namespace's root ("/": a container). */
static void own_cgroup(const char *root, const char *ctrl, char *out, size_t len)
{
    char p[PATH_MAX];

    snprintf(p, sizeof p, "%s/proc/self/cgroup", root);
    if (cg_own_cgroup(p, ctrl, out, len) != 0 || !strcmp(out, "/"))
        out[0] = '\0';
}

/*
 * Reads file of the cgroup dir (below /sys/fs/cgroup/<sub>) of this process, falling back to
 * the hierarchy's root (a container's own cgroup is its namespace's root).
 */
static bool read_cg(const char *root, const char *sub, const char *ctrl, const char *file,
                    char *buf, size_t len)
{
    char cg[PATH_MAX / 2], p[PATH_MAX];

    own_cgroup(root, ctrl, cg, sizeof cg);
    if (cg[0]) {
        snprintf(p, sizeof p, "/sys/fs/cgroup%s%s/%s", sub, cg, file);
        if (read_line(root, p, buf, len))
            return true;
    }
    snprintf(p, sizeof p, "/sys/fs/cgroup%s/%s", sub, file);
    return read_line(root, p, buf, len);
}

/* The cgroup CPU quota in millicores, or 0 when there is none. */
static int cpu_quota_milli(const char *root)
{
    char buf[128];
    long long quota, period;

    if (read_cg(root, "", NULL, "cpu.max", buf, sizeof buf)) {
        if (sscanf(buf, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0)
            return clamp(quota * 1000 / period, 1, INT_MAX);
        return 0; /* "max 100000" */
    }
    if (read_cg(root, "/cpu", "cpu", "cpu.cfs_quota_us", buf, sizeof buf) &&
        sscanf(buf, "%lld", &quota) == 1 && quota > 0 &&
        read_cg(root, "/cpu", "cpu", "cpu.cfs_period_us", buf, sizeof buf) &&
        sscanf(buf, "%lld", &period) == 1 && period > 0)
        return clamp(quota * 1000 / period, 1, INT_MAX);
    return 0;
}

/* The cgroup memory limit in MiB, or 0 when there is none. */
static long long memory_limit_mb(const char *root)
{
    char buf[128];
    unsigned long long b;

    if (!read_cg(root, "", NULL, "memory.max", buf, sizeof buf) &&
        !read_cg(root, "/memory", "memory", "memory.limit_in_bytes", buf, sizeof buf))
        return 0;
    if (sscanf(buf, "%llu", &b) != 1 || b >= (1ULL << 50)) /* "max", or v1's "no limit" */
        return 0;
    return (long long)(b >> 20);
}

static long long mem_total_mb(const char *root)
{
    char p[PATH_MAX], line[256];
    long long kb = 0;
    FILE *f;

    snprintf(p, sizeof p, "%s/proc/meminfo", root);
    if (!(f = fopen(p, "re")))
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb / 1024;
}

void sizing_probe_at(const char *root, int affinity_cpus, int languages, sizing_machine_t *m)
{
    long long milli = (long long)(affinity_cpus > 0 ? affinity_cpus : 1) * 1000;
    long long q = cpu_quota_milli(root), mem = mem_total_mb(root), lim = memory_limit_mb(root);

    if (q > 0 && q < milli)
        milli = q;
    if (mem <= 0)
        mem = 1024;
    if (lim > 0 && lim < mem)
        mem = lim;
    m->cpu_milli = clamp(milli, 1, INT_MAX);
    m->memory_mb = clamp(mem, 1, INT_MAX);
    m->languages = languages;
}

void sizing_probe(int languages, sizing_machine_t *m)
{
    cpu_set_t set;
    int n = 0;

    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    sizing_probe_at("", n, languages, m);
}

void sizing_apply(config_t *cfg, const sizing_machine_t *m)
{
    sizing_t s;
    bool external = strcmp(cfg->runtime, "external") == 0;

    sizing_compute(m, &s);
    if (external) {
        s.executors = 1; /* found through --executor-addrs, not started here */
        s.slots = 4;     /* the executors' EXECUTOR_SLOTS default */
    }
    cfg->sized = 0;
#define FILL(field, val, bit)                                                                      \
    do {                                                                                           \
        if (cfg->field == 0) {                                                                     \
            cfg->field = (val);                                                                    \
            cfg->sized |= (bit);                                                                   \
        }                                                                                          \
    } while (0)
    FILL(executors, s.executors, SIZED_EXECUTORS);
    FILL(slots, s.slots, SIZED_SLOTS);
    /* The queue follows the slots in use (set explicitly or sized; external: one executor's,
     * the number of executors is found later). */
    size_queue(external ? cfg->slots : (long)cfg->executors * cfg->slots, &s.queue_max,
               &s.queue_wait_ms);
    FILL(queue_max, s.queue_max, SIZED_QUEUE_MAX);
    FILL(queue_wait_ms, s.queue_wait_ms, SIZED_QUEUE_WAIT);
    FILL(container_cpus_milli, s.container_cpus_milli, SIZED_CONTAINER_CPUS);
#undef FILL
    cfg->sized_cpu_milli = m->cpu_milli;
    cfg->sized_memory_mb = m->memory_mb;
    char which[128] = "";
    static const char *const names[] = {"executors", "slots", "queue-max", "queue-wait-ms",
                                        "container-cpus"};
    for (int i = 0; i < 5; i++)
        if (cfg->sized & (1u << i))
            snprintf(which + strlen(which), sizeof which - strlen(which), "%s%s",
                     which[0] ? "," : "", names[i]);
    log_msg(LOG_INFO,
            "sizing: %.2f CPUs, %d MiB, %d languages -> %d executor(s) x %d slots per language, "
            "queue %d, queue wait %d ms, container CPUs %.1f (from the machine: %s)",
            m->cpu_milli / 1000.0, m->memory_mb, m->languages, cfg->executors, cfg->slots,
            cfg->queue_max, cfg->queue_wait_ms, cfg->container_cpus_milli / 1000.0,
            which[0] ? which : "none, all set explicitly");
}
