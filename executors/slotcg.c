/*
 * slotcg.c - one memory and one pids cgroup per slot, made once at executor start (see slotcg.h).
 *
 * Theory of operation
 *
 * 1. Where our cgroup is. /proc/self/cgroup names our path in each hierarchy ("N:memory:/path"
 *    on v1, "0::/path" on v2), /proc/self/mountinfo where, and from which root of the hierarchy,
 *    it is mounted here. Inside a container with a cgroup namespace both show the container's
 *    cgroup as "/"; in general our directory is the mount point plus what follows the mount's
 *    root in our path.
 * 2. Which version. A v1 "memory" hierarchy first (this project's CI hosts; systemd's hybrid
 *    mode mounts an empty cgroup2 beside it, which has no controllers to give), else cgroup2.
 * 3. v1: our memory and pids cgroups may have children as they are; a read-only mount (Docker
 *    mounts the container's cgroups read-only) is remounted writable (needs CAP_SYS_ADMIN).
 * 4. v2, the delegation checks in order: memory and pids must be listed in our
 *    cgroup.controllers (our parent enables them in its cgroup.subtree_control, which is not
 *    ours to change); a read-only mount is remounted as on v1; then "+memory +pids" goes into
 *    our cgroup.subtree_control. v2's no-internal-processes rule refuses that (EBUSY) while a
 *    process lives in our cgroup (except in the root): when every process in it is ours - at a
 *    cgroup namespace's root (inside a container: its init and us), or this executor alone (a
 *    systemd unit with Delegate=yes) - we move them into a leaf "executor" below it and write
 *    again; anywhere else we move nothing and say who is in the way.
 * 5. One directory codegate-<uid> per slot: v2 one directory holding both controllers, v1 one
 *    in each hierarchy. The slots' launchers join them (slotcg_run.c).
 * Every failure leaves an error naming what is missing and no slot directory behind; the
 * executor then keeps the per-process limits and logs the reason (executors/main.c).
 *
 * Everything read or changed outside the arguments goes through a slotcg_sys_t: host_sys (the
 * proc files, getpid and the system calls) in production, a fake cgroup tree in a temporary
 * directory in tests/unit/test_slotcg.c. Not thread-safe: called at start, before any thread.
 */
#include "slotcg.h"

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_util.h"

/* What slotcg_create reads and changes in the system. The hooks return 0 or -errno. */
typedef struct {
    const char *proc_cgroup; /* our cgroups: /proc/self/cgroup */
    const char *mountinfo;   /* our mounts: /proc/self/mountinfo */
    pid_t (*self)(void);     /* our process id, as cgroup.procs lists it */
    int (*write)(const char *dir, const char *file, const char *val);
    int (*mkdir)(const char *path);
    int (*rmdir)(const char *path);
    int (*remount_rw)(const char *mnt); /* makes a read-only mount writable */
} slotcg_sys_t;

/* One hierarchy as we see it. */
typedef struct {
    int version;        /* 1 or 2 */
    bool ro;            /* mounted read-only */
    char mnt[PATH_MAX]; /* its mount point */
    char dir[PATH_MAX]; /* our cgroup's directory */
    char own[PATH_MAX]; /* our cgroup's path in the hierarchy ("/" = the namespace's root) */
    const char *what;   /* "memory" or "pids" (v1), "cgroup2" */
} where_t;

static int host_mkdir(const char *path)
{
    return mkdir(path, 0755) == 0 ? 0 : -errno;
}

static int host_rmdir(const char *path)
{
    return rmdir(path) == 0 ? 0 : -errno;
}

/* Only root can write the files of a cgroup mount made writable, and programs never run as
 * root. */
static int host_remount_rw(const char *mnt)
{
    return mount(NULL, mnt, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) ==
                   0
               ? 0
               : -errno;
}

static const slotcg_sys_t host_sys = {
    .proc_cgroup = "/proc/self/cgroup",
    .mountinfo = "/proc/self/mountinfo",
    .self = getpid,
    .write = cg_write_file,
    .mkdir = host_mkdir,
    .rmdir = host_rmdir,
    .remount_rw = host_remount_rw,
};

/* Does the list (items separated by any of seps) have the token? */
static bool has_token(const char *list, const char *tok, const char *seps)
{
    size_t n = strlen(tok);

    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, seps);
        if (len == n && !strncmp(p, tok, n))
            return true;
        p = p[len] ? p + len + 1 : NULL;
    }
    return false;
}

/* The first mount of the hierarchy: its root within the hierarchy, mount point, read-only. */
static int find_mount(const slotcg_sys_t *sys, where_t *w, char *root, size_t rlen)
{
    char line[2 * PATH_MAX + 512];
    FILE *f = fopen(sys->mountinfo, "re");
    int rc = -1;

    if (!f)
        return -1;
    while (rc != 0 && fgets(line, sizeof line, f)) {
        char r[PATH_MAX], m[PATH_MAX], opts[256], fstype[64], super[512];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s %255s", r, m, opts) != 3 ||
            sscanf(dash + 3, "%63s %*s %511s", fstype, super) != 2)
            continue;
        if ((w->version == 1 && !strcmp(fstype, "cgroup") && has_token(super, w->what, ",")) ||
            (w->version == 2 && !strcmp(fstype, "cgroup2"))) {
            snprintf(root, rlen, "%s", r);
            snprintf(w->mnt, sizeof w->mnt, "%s", m);
            w->ro = has_token(opts, "ro", ",") || has_token(super, "ro", ",");
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* Our cgroup's directory in a hierarchy (what: the v1 controller, or "cgroup2"). 0, -ENOENT
 * when the hierarchy is not mounted here, or -1 with the reason in err. */
static int locate(const slotcg_sys_t *sys, int version, const char *what, where_t *w, char *err,
                  size_t errlen)
{
    char root[PATH_MAX];

    memset(w, 0, sizeof *w);
    w->version = version;
    w->what = what;
    if (find_mount(sys, w, root, sizeof root) != 0)
        return -ENOENT;
    if (cg_own_cgroup(sys->proc_cgroup, w->version == 1 ? w->what : NULL, w->own, sizeof w->own) !=
        0) {
        snprintf(err, errlen, "%s names no %s cgroup of ours", sys->proc_cgroup, what);
        return -1;
    }
    size_t rl = strlen(root);
    const char *rest = w->own;
    if (strcmp(root, "/") != 0) {
        if (strncmp(w->own, root, rl) != 0 || (w->own[rl] != '/' && w->own[rl] != '\0')) {
            snprintf(err, errlen, "our %s cgroup %s is not under %s (the root of %s)", what, w->own,
                     root, w->mnt);
            return -1;
        }
        rest = w->own + rl;
    }
    int n = snprintf(w->dir, sizeof w->dir, "%s%s", w->mnt, !strcmp(rest, "/") ? "" : rest);
    if (n < 0 || (size_t)n >= sizeof w->dir) {
        snprintf(err, errlen, "the path of our %s cgroup is too long", what);
        return -1;
    }
    return 0;
}

/* v2: may our cgroup give memory and pids to children? Only what cgroup.controllers lists (what
 * our parent enabled in its cgroup.subtree_control). 0, or -1 with the reason in err. */
static int v2_check_controllers(const where_t *w, char *err, size_t errlen)
{
    char path[PATH_MAX + 32], buf[512] = "";
    FILE *f;

    snprintf(path, sizeof path, "%s/cgroup.controllers", w->dir);
    if (!(f = fopen(path, "re"))) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    bool mem = has_token(buf, "memory", " "), pids = has_token(buf, "pids", " ");
    if (mem && pids)
        return 0;
    snprintf(err, errlen,
             "%s lacks %s (it lists \"%s\"): our parent cgroup does not delegate %s to us "
             "(docs/CGROUP_V2.md)",
             path,
             !mem && !pids ? "memory and pids"
             : !mem        ? "memory"
                           : "pids",
             buf, !mem && !pids ? "them" : "it");
    return -1;
}

/* Remounts a read-only cgroup mount writable. 0, or -1 with the reason in err. */
static int make_writable(const slotcg_sys_t *sys, const where_t *w, char *err, size_t errlen)
{
    int rc;

    if (!w->ro || (rc = sys->remount_rw(w->mnt)) == 0)
        return 0;
    snprintf(err, errlen,
             "%s is mounted read-only and cannot be remounted (%s): the executor needs "
             "CAP_SYS_ADMIN or a writable cgroup mount",
             w->mnt, strerror(-rc));
    return -1;
}

/* Why a write to a cgroup file failed, for people. */
static const char *hint(int rc)
{
    switch (rc) {
    case -EACCES:
    case -EPERM:
        return " (not delegated to us: the directory, cgroup.procs and cgroup.subtree_control "
               "must be writable)";
    case -EROFS:
        return " (a read-only mount)";
    case -EBUSY:
        return " (processes still live in it)";
    case -ENOENT:
        return " (a controller is not available to it)";
    default:
        return "";
    }
}

/* The process ids listed in a cgroup.procs file (at most max). Their number, or -errno. */
static int read_procs(const char *path, long *pids, int max)
{
    char line[32];
    int n = 0;
    FILE *f = fopen(path, "re");

    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        long pid = strtol(line, NULL, 10);
        if (pid <= 0)
            continue;
        if (n == max) {
            fclose(f);
            return -E2BIG;
        }
        pids[n++] = pid;
    }
    fclose(f);
    return n;
}

/*
 * v2's no-internal-processes rule: moves the processes of our cgroup into a leaf "executor"
 * below it when all of them are ours - at a cgroup namespace's root (everything in it belongs
 * to our container), or when this executor is alone in it. Anywhere else (a host cgroup shared
 * with other programs) nothing is moved. 0, or -1 with the reason in err.
 */
static int v2_make_room(const slotcg_sys_t *sys, const where_t *w, char *err, size_t errlen)
{
    char path[PATH_MAX + 32], leaf[PATH_MAX + 32], val[24];
    long pids[256], me = (long)sys->self(), other = 0;
    int n, rc;

    snprintf(path, sizeof path, "%s/cgroup.procs", w->dir);
    if ((n = read_procs(path, pids, 256)) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 n == -E2BIG ? "too many processes" : strerror(-n));
        return -1;
    }
    for (int i = 0; i < n && !other; i++)
        if (pids[i] != me)
            other = pids[i];
    if (other && strcmp(w->own, "/") != 0) {
        snprintf(err, errlen,
                 "pid %ld shares our cgroup %s: v2 gives no controllers to children of a cgroup "
                 "with processes; run the executor in a cgroup of its own (systemd: "
                 "Delegate=yes)",
                 other, w->dir);
        return -1;
    }
    snprintf(leaf, sizeof leaf, "%s/executor", w->dir);
    if ((rc = sys->mkdir(leaf)) != 0 && rc != -EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s%s", leaf, strerror(-rc), hint(rc));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        snprintf(val, sizeof val, "%ld", pids[i]);
        /* A process that has just exited is no obstacle. */
        if ((rc = sys->write(leaf, "cgroup.procs", val)) != 0 && rc != -ESRCH) {
            snprintf(err, errlen, "cannot move process %s into %s: %s%s", val, leaf, strerror(-rc),
                     hint(rc));
            return -1;
        }
    }
    return 0;
}

/* v2: gives memory and pids to our cgroup's children. 0, or -1 with the reason in err. */
static int v2_enable(const slotcg_sys_t *sys, const where_t *w, char *err, size_t errlen)
{
    int rc = sys->write(w->dir, "cgroup.subtree_control", "+memory +pids");

    if (rc == -EBUSY) {
        if (v2_make_room(sys, w, err, errlen) != 0)
            return -1;
        rc = sys->write(w->dir, "cgroup.subtree_control", "+memory +pids");
    }
    if (rc == 0)
        return 0;
    snprintf(err, errlen, "cannot write \"+memory +pids\" to %s/cgroup.subtree_control: %s%s",
             w->dir, strerror(-rc), hint(rc));
    return -1;
}

/* One directory per slot under parent: parent/codegate-<uid>, into field off of each slot. */
static int make_dirs(const slotcg_sys_t *sys, slotcg_t *cg, int n, uid_t uid_base,
                     const char *parent, size_t off, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        char *d = (char *)&cg[i] + off;
        int w = snprintf(d, PATH_MAX, "%s/codegate-%u", parent, (unsigned)(uid_base + (uid_t)i));
        int rc;
        if (w < 0 || w >= PATH_MAX) {
            snprintf(err, errlen, "cgroup path too long under %s", parent);
            d[0] = '\0';
            return -1;
        }
        if ((rc = sys->mkdir(d)) != 0 && rc != -EEXIST) {
            snprintf(err, errlen, "mkdir %s: %s%s", d, strerror(-rc), hint(rc));
            d[0] = '\0';
            return -1;
        }
    }
    return 0;
}

static void remove_dirs(const slotcg_sys_t *sys, slotcg_t *cg, int n)
{
    for (int i = 0; i < n; i++) {
        if (cg[i].pids[0] && strcmp(cg[i].pids, cg[i].dir) != 0)
            (void)sys->rmdir(cg[i].pids);
        if (cg[i].dir[0])
            (void)sys->rmdir(cg[i].dir);
        cg[i].dir[0] = cg[i].pids[0] = '\0';
    }
}

static int create(const slotcg_sys_t *sys, slotcg_t *cg, int n, uid_t uid_base, int *version,
                  char *err, size_t errlen)
{
    where_t mem, pids;
    int rc;

    for (int i = 0; i < n; i++)
        cg[i].dir[0] = cg[i].pids[0] = '\0';
    rc = locate(sys, 1, "memory", &mem, err, errlen);
    if (rc == -ENOENT)
        rc = locate(sys, 2, "cgroup2", &mem, err, errlen);
    if (rc == -ENOENT)
        snprintf(err, errlen,
                 "no cgroup hierarchy with the memory controller is mounted here "
                 "(neither a v1 memory hierarchy nor cgroup2)");
    if (rc != 0)
        return -1;
    if (mem.version == 2) {
        if (v2_check_controllers(&mem, err, errlen) != 0 ||
            make_writable(sys, &mem, err, errlen) != 0 || v2_enable(sys, &mem, err, errlen) != 0)
            return -1;
    } else {
        if (make_writable(sys, &mem, err, errlen) != 0)
            return -1;
        rc = locate(sys, 1, "pids", &pids, err, errlen);
        if (rc == -ENOENT)
            snprintf(err, errlen, "no v1 pids hierarchy is mounted here");
        if (rc != 0 || make_writable(sys, &pids, err, errlen) != 0)
            return -1;
    }
    if (make_dirs(sys, cg, n, uid_base, mem.dir, offsetof(slotcg_t, dir), err, errlen) != 0 ||
        (mem.version == 1 &&
         make_dirs(sys, cg, n, uid_base, pids.dir, offsetof(slotcg_t, pids), err, errlen) != 0)) {
        remove_dirs(sys, cg, n);
        return -1;
    }
    if (mem.version == 2)
        for (int i = 0; i < n; i++)
            snprintf(cg[i].pids, sizeof cg[i].pids, "%s", cg[i].dir);
    *version = mem.version;
    return 0;
}

int slotcg_create(slotcg_t *cg, int n, uid_t uid_base, int *version, char *err, size_t errlen)
{
    return create(&host_sys, cg, n, uid_base, version, err, errlen);
}

void slotcg_remove(slotcg_t *cg, int n)
{
    remove_dirs(&host_sys, cg, n);
}
