/*
 * slotcg.h - one memory and one pids cgroup per slot, so that a run's memory and its number
 * of tasks are capped as a whole, and no slot can use another's process budget (RLIMIT_NPROC
 * counts per uid across the whole host; the pids controller counts per cgroup).
 *
 * RLIMIT_AS caps each process on its own: a program that forks twelve children, or a Node
 * program that fills Buffers outside the V8 heap, could use many times its memoryMb. With a
 * cgroup per slot the launcher sets the run's limit before each run, puts the program in the
 * cgroup before exec (every process it starts stays there), and afterwards reads whether the
 * kernel's OOM killer struck inside it (then the run's status is memory_limit) and the run's
 * peak memory.
 *
 * Made once at executor start (slotcg.c), under the executor's own cgroup:
 * - cgroup v1: a "memory" and a "pids" hierarchy (this project's CI machines; inside a Docker
 *   container once its read-only cgroup mount is remounted writable, with CAP_SYS_ADMIN).
 * - cgroup v2 (Kubernetes nodes, current distributions): one directory per slot with both
 *   controllers. Needs a delegated subtree: memory and pids listed in our cgroup.controllers, a
 *   writable mount, and no process left in our cgroup when it gives controllers to children
 *   (v2's no-internal-processes rule) - at a cgroup namespace's root (a container's) or when the
 *   executor is alone in its cgroup (systemd Delegate=yes) it moves itself, and the others, into
 *   a leaf "executor" first. docs/CGROUP_V2.md says what a node must give.
 * Elsewhere slotcg_create fails with an error naming what is missing, the executor logs it at
 * start, and the per-process limits (RLIMIT_AS, RLIMIT_NPROC) remain.
 *
 * The v2 logic is tested without a v2 host: tests/unit/test_slotcg.c runs slotcg.c against a
 * fake cgroup2 tree (which files are written with what, the leaf move, the delegation checks),
 * tests/unit/test_slotcg_run.c runs slotcg_run.c against fake interface files.
 *
 * Ownership: slotcg_t is plain data (paths) the caller owns; the functions keep no state. The
 * create/remove side runs once at start, before threads; the per-run side runs in the
 * single-threaded launcher.
 */
#ifndef CG_SLOTCG_H
#define CG_SLOTCG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    char dir[PATH_MAX];  /* the slot's memory cgroup directory ("" = none) */
    char pids[PATH_MAX]; /* the slot's pids cgroup directory (v2: the same as dir) */
} slotcg_t;

/* Makes (or reuses) one memory and one pids cgroup per slot, named codegate-<uid>; first makes a
 * read-only cgroup mount writable (inside a container, with CAP_SYS_ADMIN). The slot's launcher
 * joins both once when it starts, so that programs are born in them (no per-run migration:
 * moving a process costs a kernel RCU grace period, ~8 ms after an idle moment). Returns 0, or
 * -1 with a reason in err (then every dir is ""). *version is 1 or 2 on success. */
int slotcg_create(slotcg_t *cg, int n, uid_t uid_base, int *version, char *err, size_t errlen);
/* Removes the slots' cgroups (they must be empty); the v2 leaf "executor", which holds the
 * executor itself, stays. */
void slotcg_remove(slotcg_t *cg, int n);

/*
 * The per-run side (slotcg_run.c, linked into the launcher: libc only). dfd is a directory
 * descriptor of the slot's memory (or pids) cgroup.
 */
/* Reads "<key> N" from a flat-keyed cgroup file, or a single number when key is NULL; -1 when
 * absent. */
int64_t slotcg_read(int dfd, const char *file, const char *key);
/* Is this a cgroup v2 directory? */
bool slotcg_v2(int dfd);
/* The OOM kills the cgroup has seen so far (-1 when unknown). */
int64_t slotcg_oom_kills(int dfd);
/* Sets the run's memory limit (and no swap beyond it). 0 or -errno. */
int slotcg_set_memory(int dfd, long mb);
/* Sets the number of tasks (processes and threads) the pids cgroup allows. 0 or -errno. */
int slotcg_set_tasks(int dfd, int max);
/* Starts measuring the run's peak memory: v1 resets memory.max_usage_in_bytes and returns -1;
 * v2 opens memory.peak and resets it for reads through that descriptor (Linux 6.12 and later)
 * and returns it (the caller's to close after slotcg_peak_kb), or -1 where it cannot be reset. */
int slotcg_peak_start(int dfd);
/* The run's peak memory in KiB since slotcg_peak_start (peakfd: what it returned), or 0 when
 * unknown (v2 without a resettable memory.peak: its lifetime peak would mix earlier runs). */
int64_t slotcg_peak_kb(int dfd, int peakfd);
/* One-shot use: opens dir, sets the limit, and opens cgroup.procs for the child to move itself
 * in. Returns that fd (and *dfd, both the caller's to close), or -1 with errno set. */
int slotcg_prepare(const char *dir, long mb, int *dfd);
/* Joins the cgroup at dir (this process and every child it makes from now on) and returns a
 * directory descriptor of it (the caller's), or -1 with errno set. */
int slotcg_join(const char *dir);

#endif
