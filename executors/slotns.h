/*
 * slotns.h - one box per slot, made once when the executor starts.
 *
 * Each slot gets its own network namespace (only a loopback, no route anywhere: no egress, no
 * host, no other container, no executor port), its own SysV IPC / POSIX mqueue namespace, and
 * its own mount namespace whose root is a minimal, read-only view of the system, as isolate's
 * box and nsjail's mount configuration give:
 *
 *   /usr, /bin, /lib...  read-only binds of the system's (merged-/usr links kept as links)
 *   /etc                 a few read-only files (loader cache, alternatives, TLS, fonts, ...)
 *                        and a generated passwd/group/hosts naming only the slot's user
 *   /dev                 null, zero, full, random, urandom, tty; a devpts instance of the
 *                        slot's own with at most 8 terminals; /dev/shm, /dev/mqueue
 *   /tmp, /var/tmp       fresh tmpfs (64 MiB each)
 *   /box                 the slot's work area: a tmpfs of its own (slotns_prepare), where the
 *                        runner makes each job's directory
 *   /proc                empty here; the slot's launcher mounts a procfs of the slot's own pid
 *                        namespace on it (slotns_mount_proc), so a program sees only its run
 *
 * Nothing of the host's or container's files outside these is visible: no home directories,
 * no checkout, no /run, no other slot's area. The launcher enters the slot's set with setns()
 * and runs every program of the slot in it; runs of one slot follow each other and the
 * launcher empties the slot's places after each run.
 *
 * Why per slot and not per run: creating a network namespace takes the kernel's rtnl lock and
 * destroying one is deferred work, so unshare() per run cost ~2.5 ms and serialised concurrent
 * runs; setns() into a namespace that already exists costs microseconds.
 *
 * Needs CAP_SYS_ADMIN (and CAP_SYS_CHROOT for setns into a mount namespace): root on a host,
 * root in a user namespace of the executor's own (unprivileged local runtime), or a container
 * given those two capabilities (the Docker runtime does; see docs/SECURITY.md).
 */
#ifndef CG_SLOTNS_H
#define CG_SLOTNS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int net, ipc, mnt; /* O_RDONLY | O_CLOEXEC descriptors of /proc/<pid>/ns/{net,ipc,mnt} */
} slotns_t;

/* Where a slot's work area appears inside its box. */
#define SLOTNS_BOX "/box"
/* Where the precompiled header's directory (slotns_opts_t.pch_dir) appears inside a box: at a
 * fixed place, since its host path may lie under a place the box makes private (/tmp). */
#define SLOTNS_PCH "/pch"

/* The places that get a private instance per slot (NULL-terminated). */
extern const char *const slotns_private_dirs[];

typedef struct {
    const char *box_dir;         /* an empty directory of ours to build each box on */
    char (*areas)[PATH_MAX];     /* areas[i]: slot i's work area (seen as /box inside) */
    uid_t uid_base;              /* slot i's user, for its passwd */
    const char *const *extra_ro; /* more read-only paths to show (NULL-terminated), or NULL */
    const char *pch_dir;         /* shown read-only at SLOTNS_PCH, or NULL */
} slotns_opts_t;

/*
 * Puts us (the executor) in a mount namespace of our own and mounts one tmpfs of area_mb MiB
 * per slot at work_root/slot-<i> (names in areas), the slots' private, bounded work areas; they
 * vanish with us. box_dir gets the (empty) mount point the boxes are built on. 0, or -1 with a
 * reason in err.
 */
int slotns_prepare(const char *work_root, int n, int area_mb, char (*areas)[PATH_MAX],
                   char *box_dir, size_t box_len, char *err, size_t errlen);
/* Makes n boxes. Returns 0, or -1 with a reason in err (then nothing is left open and every
 * descriptor is -1). */
int slotns_create(slotns_t *ns, int n, const slotns_opts_t *o, char *err, size_t errlen);
void slotns_close(slotns_t *ns, int n);

/* In the slot's launcher, as the first process (pid 1) of the slot's own pid namespace, inside
 * the box: a mount namespace of its own with a procfs of that pid namespace on /proc (hidepid:
 * a program sees its own processes only), the host-revealing files masked, /proc/sys and
 * friends read-only. 0 or -errno. */
int slotns_mount_proc(void);

#endif
