/*
 * slotcg.h - one memory cgroup per slot, so that a run's memory is capped as a whole.
 *
 * RLIMIT_AS caps each process on its own: a program that forks twelve children, or a Node
 * program that fills Buffers outside the V8 heap, could use many times its memoryMb. With a
 * cgroup per slot the launcher sets the run's limit before each run, puts the program in the
 * cgroup before exec (every process it starts stays there), and afterwards reads whether the
 * kernel's OOM killer struck inside it (then the run's status is memory_limit) and the run's
 * peak memory.
 *
 * Made once at executor start, under the executor's own memory cgroup: cgroup v1 (a "memory"
 * hierarchy, as on this project's CI machines, also inside Docker containers once the
 * container's cgroup mount is made writable) and cgroup v2 when the executor's cgroup may
 * have children with the memory controller (a delegated subtree, or the root). Elsewhere the
 * executor says so at start and the per-process limits remain.
 */
#ifndef CG_SLOTCG_H
#define CG_SLOTCG_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    char dir[PATH_MAX]; /* the slot's cgroup directory ("" = none) */
} slotcg_t;

/* Makes (or reuses) one cgroup per slot, named codegate-<uid>. With remount set, first makes
 * a read-only cgroup mount writable (inside a container, with CAP_SYS_ADMIN). Returns 0, or -1
 * with a reason in err (then every dir is ""). *version is 1 or 2 on success. */
int slotcg_create(slotcg_t *cg, int n, uid_t uid_base, int *version, char *err, size_t errlen);
/* Removes the cgroups (they must be empty). */
void slotcg_remove(slotcg_t *cg, int n);

#endif
