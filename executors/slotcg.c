/*
 * slotcg.c - one memory cgroup per slot (see slotcg.h).
 *
 * Where our memory cgroup is: /proc/self/cgroup names its path in the hierarchy,
 * /proc/self/mountinfo where (and from which root) that hierarchy is mounted here. Inside a
 * container the mount's root is the container's own cgroup, so the directory is the mount
 * point plus what follows that root in our path.
 */
#include "slotcg.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cg_util.h"

/* Does the comma-separated list have the token? */
static bool has_token(const char *list, const char *tok)
{
    size_t n = strlen(tok);

    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, tok, n))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* Our path in the v1 hierarchy of controller ctl (version 1) or the v2 hierarchy (version 2). */
static int own_path(int version, const char *ctl, char *out, size_t len)
{
    char line[1024];
    FILE *f = fopen("/proc/self/cgroup", "re");
    int rc = -1;

    if (!f)
        return -1;
    while (rc != 0 && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        line[strcspn(line, "\n")] = '\0';
        c2[1 + strcspn(c2 + 1, "\n")] = '\0';
        if ((version == 1 && has_token(c1 + 1, ctl)) ||
            (version == 2 && !strcmp(line, "0") && c1[1] == '\0')) {
            snprintf(out, len, "%s", c2 + 1);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* The mount of the hierarchy: its root within the hierarchy and its mount point. */
static int find_mount(int version, const char *ctl, char *root, char *mnt, size_t len)
{
    char line[2048];
    FILE *f = fopen("/proc/self/mountinfo", "re");
    int rc = -1;

    if (!f)
        return -1;
    while (rc != 0 && fgets(line, sizeof line, f)) {
        char r[1024], m[1024], fstype[64], super[512];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2 ||
            sscanf(dash + 3, "%63s %*s %511s", fstype, super) != 2)
            continue;
        if ((version == 1 && !strcmp(fstype, "cgroup") && has_token(super, ctl)) ||
            (version == 2 && !strcmp(fstype, "cgroup2"))) {
            snprintf(root, len, "%s", r);
            snprintf(mnt, len, "%s", m);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/*
 * cgroup v2 lets a cgroup give controllers to its children only while no process lives in it
 * (except at the root). Inside a container with its own cgroup namespace our cgroup is the
 * namespace's root and everything in it is ours (the executor, the container's init): move
 * them into a leaf "executor" first. Anywhere else (a host) we do not move processes we do not
 * own; there the operator delegates a subtree (docs/SECURITY.md).
 */
static int v2_make_room(const char *dir, const char *own)
{
    char src[PATH_MAX + 32], leaf[PATH_MAX + 32], line[32];
    FILE *f;
    int rc = 0;

    if (strcmp(own, "/") != 0)
        return -EBUSY;
    snprintf(leaf, sizeof leaf, "%s/executor", dir);
    if (mkdir(leaf, 0755) != 0 && errno != EEXIST)
        return -errno;
    snprintf(src, sizeof src, "%s/cgroup.procs", dir);
    f = fopen(src, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        int w = cg_write_file(leaf, "cgroup.procs", line);
        if (w != 0 && w != -ESRCH) /* a process that just exited is no obstacle */
            rc = w;
    }
    fclose(f);
    return rc;
}

/* Our cgroup's directory for controller ctl, and its version (only `want` when not 0). */
static int locate(const char *ctl, int want, char *dir, size_t len, char *mnt, size_t mlen,
                  int *version, char *own, size_t olen)
{
    char root[1024], path[1024];

    for (int v = 1; v <= 2; v++) {
        if ((want && v != want) || find_mount(v, ctl, root, mnt, mlen) != 0 ||
            own_path(v, ctl, path, sizeof path) != 0)
            continue;
        size_t rl = strlen(root);
        const char *rest = path;
        if (strcmp(root, "/") != 0) {
            if (strncmp(path, root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
                continue; /* our cgroup is outside what is mounted here */
            rest = path + rl;
        }
        snprintf(dir, len, "%s%s", mnt, !strcmp(rest, "/") ? "" : rest);
        if (v == 2) {
            /* v2: the memory controller must be available to our children. */
            char cpath[PATH_MAX + 32], buf[512] = "";
            snprintf(cpath, sizeof cpath, "%s/cgroup.controllers", dir);
            FILE *f = fopen(cpath, "re");
            bool ok = f && fgets(buf, sizeof buf, f);
            if (f)
                fclose(f);
            if (!ok || !strstr(buf, "memory") || !strstr(buf, "pids"))
                continue;
        }
        snprintf(own, olen, "%s", path);
        *version = v;
        return 0;
    }
    return -1;
}

/* Makes a read-only cgroup mount writable (inside a container, with CAP_SYS_ADMIN; only root
 * can write its files, and programs never run as root). */
static int make_writable(const char *mnt, char *err, size_t errlen)
{
    struct statvfs sv;

    if (statvfs(mnt, &sv) == 0 && (sv.f_flag & ST_RDONLY) &&
        mount(NULL, mnt, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) !=
            0) {
        snprintf(err, errlen, "%s is read-only and cannot be remounted: %s", mnt, strerror(errno));
        return -1;
    }
    return 0;
}

/* One directory per slot under parent: parent/codegate-<uid>, into field off of each slot. */
static int make_dirs(slotcg_t *cg, int n, uid_t uid_base, const char *parent, size_t off, char *err,
                     size_t errlen)
{
    for (int i = 0; i < n; i++) {
        char *d = (char *)&cg[i] + off;
        int w = snprintf(d, PATH_MAX, "%s/codegate-%u", parent, (unsigned)(uid_base + (uid_t)i));
        if (w < 0 || w >= PATH_MAX) {
            snprintf(err, errlen, "cgroup path too long under %s", parent);
            d[0] = '\0';
            return -1;
        }
        if (mkdir(d, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "mkdir %s: %s", d, strerror(errno));
            d[0] = '\0';
            return -1;
        }
    }
    return 0;
}

int slotcg_create(slotcg_t *cg, int n, uid_t uid_base, int *version, char *err, size_t errlen)
{
    char dir[PATH_MAX], pdir[PATH_MAX], mnt[1024], own[1024];
    int rc = 0;

    for (int i = 0; i < n; i++)
        cg[i].dir[0] = cg[i].pids[0] = '\0';
    if (locate("memory", 0, dir, sizeof dir, mnt, sizeof mnt, version, own, sizeof own) != 0) {
        snprintf(err, errlen, "no memory cgroup of ours is mounted here");
        return -1;
    }
    if (make_writable(mnt, err, errlen) != 0)
        return -1;
    if (*version == 2) {
        /* One hierarchy: the slot's directory holds both controllers. */
        rc = cg_write_file(dir, "cgroup.subtree_control", "+memory +pids");
        if (rc == -EBUSY && v2_make_room(dir, own) == 0)
            rc = cg_write_file(dir, "cgroup.subtree_control", "+memory +pids");
        if (rc != 0) {
            snprintf(err, errlen,
                     "cannot give the memory and pids controllers to children of "
                     "%s: %s%s",
                     dir, strerror(-rc), rc == -EBUSY ? " (processes live in it)" : "");
            return -1;
        }
        snprintf(pdir, sizeof pdir, "%s", dir);
    } else {
        int pv;
        char pmnt[1024], pown[1024];
        if (locate("pids", 1, pdir, sizeof pdir, pmnt, sizeof pmnt, &pv, pown, sizeof pown) != 0) {
            snprintf(err, errlen, "no pids cgroup of ours is mounted here");
            return -1;
        }
        if (make_writable(pmnt, err, errlen) != 0)
            return -1;
    }
    if (make_dirs(cg, n, uid_base, dir, offsetof(slotcg_t, dir), err, errlen) != 0 ||
        (*version == 1 &&
         make_dirs(cg, n, uid_base, pdir, offsetof(slotcg_t, pids), err, errlen) != 0)) {
        slotcg_remove(cg, n);
        return -1;
    }
    if (*version == 2)
        for (int i = 0; i < n; i++)
            snprintf(cg[i].pids, sizeof cg[i].pids, "%s", cg[i].dir);
    return 0;
}

void slotcg_remove(slotcg_t *cg, int n)
{
    for (int i = 0; i < n; i++) {
        if (cg[i].pids[0] && strcmp(cg[i].pids, cg[i].dir) != 0)
            (void)rmdir(cg[i].pids);
        if (cg[i].dir[0])
            (void)rmdir(cg[i].dir);
        cg[i].dir[0] = cg[i].pids[0] = '\0';
    }
}
