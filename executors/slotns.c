/*
 * slotns.c - one set of namespaces per slot (see slotns.h).
 *
 * For each slot a child process unshares network, IPC and mount namespaces, makes its mount
 * tree a slave of ours (nothing it mounts propagates back to the host or the container), mounts
 * a fresh tmpfs on /tmp, /var/tmp and /dev/shm and a fresh mqueue on /dev/mqueue, brings its
 * loopback up, and says so on a pipe. We open its /proc/<pid>/ns/ files, which keep the
 * namespaces alive after the child has exited, and let it go.
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
#include <sys/wait.h>
#include <unistd.h>

const char *const slotns_private_dirs[] = {"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", NULL};

/* Per slot and place: a run's files count against its file-size limit (64 MiB) too. */
#define SLOT_TMPFS_OPTS "mode=1777,size=64m,nr_inodes=16384"

/* Is dir (a real directory) the work root or above it? Then it keeps the shared instance. */
static bool holds(const char *dir, const char *work_real)
{
    char real[PATH_MAX];
    size_t n;

    if (!realpath(dir, real))
        return false;
    n = strlen(real);
    if (!strcmp(real, "/"))
        return true;
    return !strncmp(work_real, real, n) && (work_real[n] == '/' || work_real[n] == '\0');
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

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

/* In the child: builds the slot's namespaces. Returns NULL, or the stage that failed. */
static const char *build(const char *work_real)
{
    if (unshare(CLONE_NEWIPC | CLONE_NEWNS) != 0)
        return "unshare";
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
        return "make the mount tree a slave";
    for (int i = 0; slotns_private_dirs[i]; i++) {
        const char *d = slotns_private_dirs[i];
        if (!is_dir(d) || holds(d, work_real))
            continue;
        if (!strcmp(d, "/dev/mqueue")) {
            /* An mqueue mount shows the queues of the IPC namespace of whoever mounts it. */
            if (mount("mqueue", d, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
                return "mount mqueue on /dev/mqueue";
        } else if (mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, SLOT_TMPFS_OPTS) != 0) {
            return d;
        }
    }
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

static int make_one(slotns_t *ns, const char *work_real, char *err, size_t errlen)
{
    int up[2], hold[2], status;
    char msg[160];
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
        const char *stage = build(work_real);
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
        snprintf(err, errlen, "%s", n > 0 ? msg : "the namespace helper died");
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

int slotns_create(slotns_t *ns, int n, const char *work_root, char *note, size_t notelen,
                  char *err, size_t errlen)
{
    char work_real[PATH_MAX];
    size_t used = 0;

    for (int i = 0; i < n; i++)
        ns[i].net = ns[i].ipc = ns[i].mnt = -1;
    if (notelen)
        note[0] = '\0';
    /* The clean-up after a run finds its POSIX message queues in /dev/mqueue (systemd hosts
     * and containers have the directory; a bare host may not): the slots mount their own
     * instance there, the directory itself stays empty outside them. */
    if (mkdir("/dev/mqueue", 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir /dev/mqueue: %s", strerror(errno));
        return -1;
    }
    if (!realpath(work_root, work_real)) {
        snprintf(err, errlen, "work root %s: %s", work_root, strerror(errno));
        return -1;
    }
    for (int i = 0; slotns_private_dirs[i] && notelen; i++)
        if (is_dir(slotns_private_dirs[i]) && holds(slotns_private_dirs[i], work_real)) {
            int w = snprintf(note + used, notelen - used, "%s%s", used ? ", " : "",
                             slotns_private_dirs[i]);
            if (w > 0 && (size_t)w < notelen - used)
                used += (size_t)w;
        }
    for (int i = 0; i < n; i++)
        if (make_one(&ns[i], work_real, err, errlen) != 0) {
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
