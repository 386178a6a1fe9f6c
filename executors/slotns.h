/*
 * slotns.h - one set of namespaces per slot, made once when the executor starts.
 *
 * Each slot gets its own network namespace (only a loopback, no route anywhere: no egress, no
 * host, no other container, no executor port), its own SysV IPC / POSIX mqueue namespace, and
 * its own mount namespace in which /tmp, /var/tmp, /dev/shm and /dev/mqueue are fresh, private
 * instances. The launcher enters the slot's set with setns() before it forks the program, so a
 * run shares none of those places with a run in another slot, even one running at the same
 * time, and never sees the host's or the container's own. Runs of one slot follow each other;
 * the launcher empties the slot's places after each run.
 *
 * Why per slot and not per run: creating a network namespace takes the kernel's rtnl lock and
 * destroying one is deferred work, so unshare() per run cost ~2.5 ms and serialised concurrent
 * runs; setns() into a namespace that already exists costs microseconds.
 *
 * Needs CAP_SYS_ADMIN (and CAP_SYS_CHROOT for setns into a mount namespace): root on a host,
 * or a container given those two capabilities (the Docker runtime does; see docs/SECURITY.md).
 */
#ifndef CG_SLOTNS_H
#define CG_SLOTNS_H

#include <stddef.h>

typedef struct {
    int net, ipc, mnt; /* O_RDONLY | O_CLOEXEC descriptors of /proc/<pid>/ns/{net,ipc,mnt} */
} slotns_t;

/* The places that get a private instance per slot (NULL-terminated). */
extern const char *const slotns_private_dirs[];

/*
 * Makes n sets. work_root is where the run's work dirs live: a place that contains it keeps
 * the shared instance (its files must stay visible), and is named in *note. Returns 0, or -1
 * with a reason in err (then nothing is left open and every descriptor is -1).
 */
int slotns_create(slotns_t *ns, int n, const char *work_root, char *note, size_t notelen,
                  char *err, size_t errlen);
void slotns_close(slotns_t *ns, int n);

#endif
