/*
 * sizing.h - the defaults that follow the machine: executors, slots, queue length, queue wait and
 * container CPUs derived from the cores and memory the gateway may use, for every one of those
 * options left at 0 ("sized from the machine"). An explicit value always wins.
 *
 * Theory of operation. A classroom burst is the case to size for: a class of SIZING_CLASS
 * students clicking Run at once. Programs that sleep or wait for input need slots, not cores;
 * CPU-bound programs share the cores, and a program's wall-clock limit (CG_DEFAULT_TIMEOUT_MS)
 * must not be hit only because it shares them. So each language gets SIZING_SLOTS_PER_CORE slots
 * per core (a CPU-bound run then gets at least 1/SIZING_SLOTS_PER_CORE of a core: a program of
 * t CPU seconds ends within SIZING_SLOTS_PER_CORE x t of wall time when every slot of its
 * language is busy; and the launcher credits the time a program waited for a CPU to its wall
 * limit, up to CG_WALL_CREDIT_PCT more: sharing alone does not time it out), capped by memory
 * (SIZING_SLOT_MB per slot of every language, after SIZING_RESERVE_MB for the system), spread over
 * executors of at most SIZING_SLOTS_PER_EXECUTOR slots. The rest of a class waits in the queue: the
 * queue holds the class several times over and the longest wait lets the whole class through the
 * slots, one default-timeout run after another, each with its whole wait credit (ceil(class /
 * slots) rounds of 5 s x (100 + CG_WALL_CREDIT_PCT)%, at least 10 s, at most 120 s): on a busy
 * machine runs take longer, and the class is still served, later, rather than refused. Docker
 * containers get every core the gateway may use.
 *
 * The machine is read once at start (sizing_probe): the CPUs of the process's affinity mask, the
 * cgroup CPU quota (v1 cpu.cfs_quota_us/cpu.cfs_period_us, v2 cpu.max), MemTotal of
 * /proc/meminfo and the cgroup memory limit (v1 memory.limit_in_bytes, v2 memory.max) of the
 * gateway's own cgroup, so that a gateway in a container sizes for the container.
 *
 * Ownership: plain values; no allocation. sizing_compute is pure; sizing_probe reads files;
 * sizing_apply writes the config before any thread starts (the config is read-only afterwards).
 */
#ifndef CG_SIZING_H
#define CG_SIZING_H

#include "config.h"

#define SIZING_CLASS 30         /* students clicking Run at once */
#define SIZING_SLOTS_PER_CORE 4 /* slots per language per core */
#define SIZING_SLOT_MB 128      /* memory planned per busy slot (a typical run + runtime) */
#define SIZING_RESERVE_MB 512   /* the system, the gateway, the executors themselves */
#define SIZING_SLOTS_PER_EXECUTOR 32
#define SIZING_MAX_SLOTS 256 /* per language (64 cores) */
#define SIZING_MIN_QUEUE 64
#define SIZING_MIN_WAIT_MS 10000
#define SIZING_MAX_WAIT_MS 120000

/* Which options sizing_apply filled in (config_t.sized). */
enum {
    SIZED_EXECUTORS = 1 << 0,
    SIZED_SLOTS = 1 << 1,
    SIZED_QUEUE_MAX = 1 << 2,
    SIZED_QUEUE_WAIT = 1 << 3,
    SIZED_CONTAINER_CPUS = 1 << 4,
};

/* What the gateway may use. */
typedef struct {
    int cpu_milli; /* CPU the gateway may use, in millicores (affinity and quota) */
    int memory_mb; /* memory it may use, in MiB (MemTotal and cgroup limit) */
    int languages; /* languages served (each has its own executors) */
} sizing_machine_t;

/* The derived values. */
typedef struct {
    int executors, slots, queue_max, queue_wait_ms, container_cpus_milli;
} sizing_t;

/* The sizing for machine m (every field positive). */
void sizing_compute(const sizing_machine_t *m, sizing_t *out);

/*
 * Reads the machine below root ("" for the real one: /proc and /sys/fs/cgroup are read as
 * root/proc/... and root/sys/fs/cgroup/...); affinity_cpus is the number of CPUs the process may
 * run on. Files that are missing or unreadable are skipped (no limit); a missing MemTotal reads
 * as 1024 MiB. Always fills m.
 */
void sizing_probe_at(const char *root, int affinity_cpus, int languages, sizing_machine_t *m);

/* sizing_probe_at for this process (sched_getaffinity, the real /proc and /sys). */
void sizing_probe(int languages, sizing_machine_t *m);

/*
 * Fills every sized option of cfg left at 0 from sizing_compute(m), records m and which options
 * were filled in cfg (sized_cpu_milli, sized_memory_mb, sized), and logs one line with the inputs
 * and the result. The sized queue length and wait follow the slots in use (explicit or sized).
 * The external runtime's slots are the executors' own (EXECUTOR_SLOTS, 4 unless set), not this
 * machine's: there 0 slots means 4 and 0 executors means 1.
 */
void sizing_apply(config_t *cfg, const sizing_machine_t *m);

#endif
