/*
 * slotns.c - one box per slot: namespaces and a minimal view of the system (see slotns.h).
 *
 * For each slot a child process unshares IPC and mount namespaces, makes its mount tree a
 * slave of ours (nothing it mounts propagates back), builds the box's root on a small tmpfs -
 * read-only binds of /usr and the /lib, /bin links, a few files of /etc and a generated
 * passwd, a /dev of a few device nodes with a devpts instance of its own, fresh tmpfs for
 * /tmp, /var/tmp and /dev/shm, an mqueue mount, the slot's work area at /box and an empty
 * /proc - moves it over "/" and chroots into it, then unshares a network namespace and brings
 * its loopback up, and says so on a pipe. We open its /proc/<pid>/ns/ files, which keep the
 * namespaces alive after the child has exited, and let it go. A process that later enters the
 * mount namespace with setns() lands in the box's root (the kernel resolves the namespace's
 * root through mounts stacked on it).
 *
 * The move-and-chroot is how an initramfs switches root; pivot_root would do as well on a host
 * but Docker's default seccomp profile refuses it even with CAP_SYS_ADMIN.
 */
#include "slotns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_util.h"

const char *const slotns_private_dirs[] = {"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", NULL};

/* Per slot and place: a run's files count against its file-size limit (64 MiB) too. */
#define SLOT_TMPFS_OPTS "mode=1777,size=64m,nr_inodes=16384"
/* The executor's own work root: the compile cache (at most 512 MiB) and the boxes' mount
 * point; the slots' areas are tmpfs of their own on top of it. */
#define WORK_ROOT_MB 576
/* Pseudo-terminals a slot may hold at once (the host has a few thousand for everybody). */
#define SLOT_PTYS "8"

/* What of /etc a program may need: the dynamic loader's cache, alternatives (c++, java),
 * time zone, TLS and Java configuration, fonts and Debian's matplotlibrc (plots), Python's
 * site configuration. */
static const char *const etc_binds[] = {
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d",    "alternatives", "localtime",
    "timezone",    "ssl",        "java-17-openjdk", "fonts",        "mime.types",
    "python3",     "python3.11", "nsswitch.conf",   "matplotlibrc", NULL};
/* Top-level names that are links to /usr on a merged-/usr system, or directories elsewhere. */
static const char *const top_dirs[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", NULL};
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};
/* Kernel files no program needs that tell about the host or its other tenants. */
static const char *const proc_masked[] = {
    "kcore",         "keys",        "timer_list",    "sched_debug",
    "latency_stats", "timer_stats", "sysrq-trigger", NULL};
static const char *const proc_readonly[] = {"sys", "bus", "fs", "irq", NULL};

static int loopback_up(void)
{
    struct ifreq ifr;
    int rc = -1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    close(fd);
    return rc;
}

/* Bind src onto dst (made as a file or a directory like src), read-only unless rw. */
static int bind_at(const char *src, const char *dst, bool rw)
{
    struct stat st;
    unsigned long ro = rw ? 0 : MS_RDONLY;

    if (stat(src, &st) != 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(dst, 0755) != 0 && errno != EEXIST)
            return -1;
    } else {
        int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -1;
        close(fd);
    }
    if (mount(src, dst, NULL, MS_BIND, NULL) != 0)
        return -1;
    /* The flags of a bind mount change only with a remount of it. In a user namespace the
     * source mount's nosuid, nodev, noexec and atime flags are locked: keep them. */
    unsigned long keep = 0;
    struct statvfs sv;
    if (statvfs(src, &sv) == 0) {
        keep |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
        keep |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
        keep |= (sv.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
        keep |= (sv.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
        keep |= (sv.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
    }
    return mount(NULL, dst, NULL,
                 MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV * !S_ISCHR(st.st_mode) | ro | keep,
                 NULL);
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc;

    if (fd < 0)
        return -1;
    rc = cg_write_all(fd, text, strlen(text));
    close(fd);
    return rc == 0 ? 0 : -1;
}

#define TRY(cond, what)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return (what);                                                                         \
    } while (0)

/* The box's /dev: a few device nodes, a devpts instance of its own, /dev/shm, /dev/mqueue. */
static const char *build_dev(const char *r)
{
    char p[PATH_MAX], q[PATH_MAX];

    snprintf(p, sizeof p, "%s/dev", r);
    TRY(mkdir(p, 0755) == 0, "mkdir /dev");
    TRY(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64") == 0,
        "mount /dev");
    for (int i = 0; dev_nodes[i]; i++) {
        snprintf(p, sizeof p, "/dev/%s", dev_nodes[i]);
        snprintf(q, sizeof q, "%s/dev/%s", r, dev_nodes[i]);
        TRY(bind_at(p, q, true) == 0, "bind a device node");
    }
    snprintf(p, sizeof p, "%s/dev/pts", r);
    TRY(mkdir(p, 0755) == 0, "mkdir /dev/pts");
    TRY(mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620,max=" SLOT_PTYS) == 0,
        "mount devpts");
    snprintf(p, sizeof p, "%s/dev/ptmx", r);
    TRY(symlink("pts/ptmx", p) == 0, "link /dev/ptmx");
    static const char *const links[][2] = {{"fd", "/proc/self/fd"},
                                           {"stdin", "/proc/self/fd/0"},
                                           {"stdout", "/proc/self/fd/1"},
                                           {"stderr", "/proc/self/fd/2"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(p, sizeof p, "%s/dev/%s", r, links[i][0]);
        TRY(symlink(links[i][1], p) == 0, "link in /dev");
    }
    snprintf(p, sizeof p, "%s/dev/shm", r);
    TRY(mkdir(p, 0755) == 0, "mkdir /dev/shm");
    TRY(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, SLOT_TMPFS_OPTS) == 0, "mount /dev/shm");
    /* An mqueue mount shows the queues of the IPC namespace of whoever mounts it: ours. */
    snprintf(p, sizeof p, "%s/dev/mqueue", r);
    TRY(mkdir(p, 0755) == 0, "mkdir /dev/mqueue");
    TRY(mount("mqueue", p, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0, "mount mqueue");
    snprintf(p, sizeof p, "%s/dev", r);
    TRY(mount(NULL, p, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, "mode=0755") == 0,
        "make /dev read-only");
    return NULL;
}

/* The box's /etc: what programs need, and an account table that names only the executor's
 * slots (the same in every slot). */
static const char *build_etc(const char *r, uid_t uid_base, int nslots)
{
    char p[PATH_MAX], q[PATH_MAX], text[64 * 80];
    size_t used;

    snprintf(p, sizeof p, "%s/etc", r);
    TRY(mkdir(p, 0755) == 0, "mkdir /etc");
    for (int i = 0; etc_binds[i]; i++) {
        struct stat st;
        snprintf(p, sizeof p, "/etc/%s", etc_binds[i]);
        if (stat(p, &st) != 0)
            continue;
        snprintf(q, sizeof q, "%s/etc/%s", r, etc_binds[i]);
        TRY(bind_at(p, q, false) == 0, "bind a part of /etc");
    }
    snprintf(p, sizeof p, "%s/etc/passwd", r);
    used = (size_t)snprintf(text, sizeof text, "root:x:0:0:root:/:/usr/sbin/nologin\n");
    for (int i = 0; i < nslots && used < sizeof text; i++)
        used += (size_t)snprintf(
            text + used, sizeof text - used, "slot%d:x:%u:%u:slot %d:/box:/usr/sbin/nologin\n", i,
            (unsigned)(uid_base + (uid_t)i), (unsigned)(uid_base + (uid_t)i), i);
    TRY(used < sizeof text && write_text(p, text) == 0, "write /etc/passwd");
    snprintf(p, sizeof p, "%s/etc/group", r);
    used = (size_t)snprintf(text, sizeof text, "root:x:0:\n");
    for (int i = 0; i < nslots && used < sizeof text; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "slot%d:x:%u:\n", i,
                                 (unsigned)(uid_base + (uid_t)i));
    TRY(used < sizeof text && write_text(p, text) == 0, "write /etc/group");
    snprintf(p, sizeof p, "%s/etc/hosts", r);
    TRY(write_text(p, "127.0.0.1 localhost\n::1 localhost\n") == 0, "write /etc/hosts");
    return NULL;
}

/* Builds the box's root on mount point r. */
static const char *build_root(const char *r, const char *area, uid_t uid_base, int nslots,
                              const char *const *extra_ro, const char *pch_dir)
{
    char p[PATH_MAX], link[PATH_MAX];
    const char *stage;

    TRY(mount("tmpfs", r, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=1024") == 0,
        "mount the box's root");
    snprintf(p, sizeof p, "%s/usr", r);
    TRY(bind_at("/usr", p, false) == 0, "bind /usr");
    for (int i = 0; top_dirs[i]; i++) {
        char src[64];
        struct stat st;
        ssize_t n;
        snprintf(src, sizeof src, "/%s", top_dirs[i]);
        snprintf(p, sizeof p, "%s/%s", r, top_dirs[i]);
        if (lstat(src, &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            n = readlink(src, link, sizeof link - 1);
            TRY(n > 0, "read a top-level link");
            link[n] = '\0';
            TRY(symlink(link, p) == 0, "make a top-level link");
        } else if (S_ISDIR(st.st_mode)) {
            TRY(bind_at(src, p, false) == 0, "bind a top-level directory");
        }
    }
    for (int i = 0; extra_ro && extra_ro[i]; i++) {
        if (extra_ro[i][0] != '/' || !strcmp(extra_ro[i], "/"))
            return "an extra read-only path must be absolute and not /";
        /* Make the parents, then bind. */
        snprintf(p, sizeof p, "%s%s", r, extra_ro[i]);
        for (char *s = p + strlen(r) + 1; (s = strchr(s, '/')); s++) {
            *s = '\0';
            TRY(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir for an extra path");
            *s = '/';
        }
        TRY(bind_at(extra_ro[i], p, false) == 0, "bind an extra read-only path");
    }
    if (pch_dir) {
        snprintf(p, sizeof p, "%s%s", r, SLOTNS_PCH);
        TRY(mkdir(p, 0755) == 0, "mkdir /pch");
        TRY(bind_at(pch_dir, p, false) == 0, "bind the precompiled header's directory");
    }
    if ((stage = build_etc(r, uid_base, nslots)) || (stage = build_dev(r)))
        return stage;
    static const char *const tmps[] = {"tmp", "var", "var/tmp"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", r, tmps[i]);
        TRY(mkdir(p, i == 1 ? 0755 : 01777) == 0, "mkdir /tmp");
        if (i != 1)
            TRY(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, SLOT_TMPFS_OPTS) == 0,
                "mount /tmp");
    }
    snprintf(p, sizeof p, "%s/proc", r);
    TRY(mkdir(p, 0555) == 0, "mkdir /proc");
    snprintf(p, sizeof p, "%s%s", r, SLOTNS_BOX);
    TRY(mkdir(p, 0711) == 0, "mkdir /box");
    TRY(mount(area, p, NULL, MS_BIND, NULL) == 0, "bind the work area");
    TRY(mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) == 0,
        "remount the work area");
    TRY(mount(NULL, r, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) == 0,
        "make the box's root read-only");
    return NULL;
}

/* In the child: builds the slot's box. Returns NULL, or the stage that failed. */
static const char *build(const slotns_opts_t *o, int slot, int nslots)
{
    const char *stage;

    if (unshare(CLONE_NEWIPC | CLONE_NEWNS) != 0)
        return "unshare";
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
        return "make the mount tree a slave";
    if ((stage =
             build_root(o->box_dir, o->areas[slot], o->uid_base, nslots, o->extra_ro, o->pch_dir)))
        return stage;
    if (chdir(o->box_dir) != 0 || mount(o->box_dir, "/", NULL, MS_MOVE, NULL) != 0 ||
        chroot(".") != 0 || chdir("/") != 0)
        return "switch to the box's root";
    /* Last: the fallback below moves us into a user namespace of our own. */
    if (unshare(CLONE_NEWNET) != 0)
        return "unshare net";
    if (loopback_up() == 0)
        return NULL;
    /* Bringing an interface up needs CAP_NET_ADMIN over the network namespace, which a
     * container without it does not have. A network namespace owned by a user namespace of
     * our own gives it (its creator holds every capability there) without granting the
     * container anything; the launcher, root with CAP_SYS_ADMIN in the parent, may still enter
     * it, and programs, which are not root, hold nothing in it. */
    if (errno != EPERM || unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
        return "bring the loopback up";
    if (loopback_up() != 0)
        return "bring the loopback up in a user namespace";
    return NULL;
}

static int make_one(slotns_t *ns, const slotns_opts_t *o, int slot, int nslots, char *err,
                    size_t errlen)
{
    int up[2], hold[2], status;
    char msg[200];
    ssize_t n;
    pid_t pid;

    if (pipe2(up, O_CLOEXEC) != 0)
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    if (pipe2(hold, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(up[0]);
        close(up[1]);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        const char *stage = build(o, slot, nslots);
        char c;
        int len = stage ? snprintf(msg, sizeof msg, "%s: %s", stage, strerror(errno))
                        : snprintf(msg, sizeof msg, "ok");
        close(up[0]);
        close(hold[1]);
        (void)!write(up[1], msg, (size_t)len);
        close(up[1]);
        while (read(hold[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(up[1]);
    close(hold[0]);
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(up[0]);
        close(hold[1]);
        return -1;
    }
    do
        n = read(up[0], msg, sizeof msg - 1);
    while (n < 0 && errno == EINTR);
    close(up[0]);
    msg[n > 0 ? n : 0] = '\0';
    int rc = 0;
    if (strcmp(msg, "ok") != 0) {
        snprintf(err, errlen, "slot %d: %s", slot, n > 0 ? msg : "the namespace helper died");
        rc = -1;
    } else {
        char path[64];
        int *fds[3] = {&ns->net, &ns->ipc, &ns->mnt};
        static const char *const names[3] = {"net", "ipc", "mnt"};
        for (int i = 0; i < 3 && rc == 0; i++) {
            snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, names[i]);
            *fds[i] = open(path, O_RDONLY | O_CLOEXEC);
            if (*fds[i] < 0) {
                snprintf(err, errlen, "open %s: %s", path, strerror(errno));
                rc = -1;
            }
        }
    }
    close(hold[1]); /* the helper exits; the open descriptors keep its namespaces */
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return rc;
}

int slotns_prepare(const char *work_root, int n, int area_mb, char (*areas)[PATH_MAX],
                   char *box_dir, size_t box_len, char *err, size_t errlen)
{
    char opts[96];

    /* Our own mount namespace: the areas below exist only for us and the slots, and vanish
     * with us - a killed executor leaves no students' files behind. */
    if (unshare(CLONE_NEWNS) != 0)
        return snprintf(err, errlen, "unshare mount namespace: %s", strerror(errno)), -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return snprintf(err, errlen, "make our mounts private: %s", strerror(errno)), -1;
    /* The work root itself: a tmpfs only we see (the compile cache lives there too), so that
     * nothing of ours - not even an empty mount point - is visible on the host's side. */
    snprintf(opts, sizeof opts, "mode=0711,size=%dm,nr_inodes=65536", WORK_ROOT_MB);
    if (mount("tmpfs", work_root, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
        return snprintf(err, errlen, "mount %s: %s", work_root, strerror(errno)), -1;
    snprintf(box_dir, box_len, "%s/.box", work_root);
    if (mkdir(box_dir, 0700) != 0 && errno != EEXIST)
        return snprintf(err, errlen, "mkdir %s: %s", box_dir, strerror(errno)), -1;
    snprintf(opts, sizeof opts, "mode=0711,size=%dm,nr_inodes=65536", area_mb);
    for (int i = 0; i < n; i++) {
        snprintf(areas[i], PATH_MAX, "%s/slot-%d", work_root, i);
        if (mkdir(areas[i], 0711) != 0 && errno != EEXIST)
            return snprintf(err, errlen, "mkdir %s: %s", areas[i], strerror(errno)), -1;
        if (mount("tmpfs", areas[i], "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
            return snprintf(err, errlen, "mount %s: %s", areas[i], strerror(errno)), -1;
    }
    return 0;
}

int slotns_create(slotns_t *ns, int n, const slotns_opts_t *o, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++)
        ns[i].net = ns[i].ipc = ns[i].mnt = -1;
    for (int i = 0; i < n; i++)
        if (make_one(&ns[i], o, i, n, err, errlen) != 0) {
            slotns_close(ns, n);
            return -1;
        }
    return 0;
}

void slotns_close(slotns_t *ns, int n)
{
    for (int i = 0; i < n; i++) {
        int *fds[3] = {&ns[i].net, &ns[i].ipc, &ns[i].mnt};
        for (int k = 0; k < 3; k++)
            if (*fds[k] >= 0) {
                close(*fds[k]);
                *fds[k] = -1;
            }
    }
}

int slotns_mount_proc(void)
{
    char p[64];

    if (unshare(CLONE_NEWNS) != 0)
        return -errno;
    /* hidepid=invisible: a program sees only processes of its own uid - not the launcher. */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") !=
            0 &&
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") != 0)
        return -errno;
    for (int i = 0; proc_masked[i]; i++) {
        snprintf(p, sizeof p, "/proc/%s", proc_masked[i]);
        if (access(p, F_OK) == 0 && mount("/dev/null", p, NULL, MS_BIND, NULL) != 0)
            return -errno;
    }
    for (int i = 0; proc_readonly[i]; i++) {
        snprintf(p, sizeof p, "/proc/%s", proc_readonly[i]);
        if (access(p, F_OK) != 0)
            continue;
        if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) != 0 ||
            mount(NULL, p, NULL,
                  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            return -errno;
    }
    return 0;
}
