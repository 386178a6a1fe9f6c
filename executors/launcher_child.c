/*
 * launcher_child.c - the launcher's child between fork and exec: process group, rlimits, the
 * slot's cgroup, the uid drop (or a user namespace of the run's own), the work dir, closing
 * every inherited fd, the seccomp filter and exec. A failure is written on the error pipe as
 * "<stage>: <reason>" and the child exits 127 (launcher.c reads it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "launcher.h"
#include "seccomp.h"
#include "slotns.h"

static void child_fail(int fd, const char *stage)
{
    int e = errno;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s: %s", stage, strerror(e));

    (void)!write(fd, buf, (size_t)n);
    _exit(127);
}

static void set_limit(int res, rlim_t soft, rlim_t hard, int errfd, const char *stage)
{
    struct rlimit rl = {soft, hard};

    if (setrlimit(res, &rl) != 0)
        child_fail(errfd, stage);
}

static void close_fds_from(int lowest, int keep)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;

    if (!d) {
        for (int fd = lowest; fd < 4096; fd++)
            if (fd != keep)
                close(fd);
        return;
    }
    int dfd = dirfd(d);
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        if (fd >= lowest && fd != dfd && fd != keep)
            close(fd);
    }
    closedir(d);
}

/*
 * The executor has no root: it is root only in a user namespace of its own, where one uid (the
 * user who started it) is mapped. The program gets a user namespace of its own below that one,
 * in which its uid and gid map to ours: it holds no capability anywhere (not in ours, where
 * the launcher is root), and RLIMIT_NPROC counts per (namespace, uid), so per run. Supplementary
 * groups cannot be dropped in an unprivileged user namespace (setgroups is denied there); the
 * box shows programs nothing those groups could open.
 */
static void enter_own_userns(const opts_t *o, int errfd)
{
    if (cg_enter_userns(o->rq.uid, o->rq.gid) != 0)
        child_fail(errfd, "user namespace");
}

/* Looks PROGRAM up in the PATH of the given environment when it has no '/'. */
static const char *resolve(const opts_t *o, char *buf, size_t len)
{
    const char *prog = o->rq.argv[0], *path = NULL;

    if (strchr(prog, '/'))
        return prog;
    for (int i = 0; i < o->rq.nenv; i++)
        if (!strncmp(o->rq.env[i], "PATH=", 5))
            path = o->rq.env[i] + 5;
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, len, "%.*s/%s", (int)n, path, prog);
        if (access(buf, X_OK) == 0)
            return buf;
        path += n + (end ? 1 : 0);
    }
    return prog;
}

void launcher_child_exec(const opts_t *o, int errfd, const sigset_t *oldmask, int cgfd)
{
    char pathbuf[PATH_MAX];
    const char *prog;

    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    if (setpgid(0, 0) != 0)
        child_fail(errfd, "setpgid");
    set_limit(RLIMIT_CORE, 0, 0, errfd, "rlimit core");
    if (o->rq.cpu_ms > 0) {
        rlim_t s = (rlim_t)((o->rq.cpu_ms + 999) / 1000);
        set_limit(RLIMIT_CPU, s, s + 1, errfd, "rlimit cpu");
    }
    if (o->rq.fsize_mb > 0)
        set_limit(RLIMIT_FSIZE, (rlim_t)o->rq.fsize_mb << 20, (rlim_t)o->rq.fsize_mb << 20, errfd,
                  "rlimit fsize");
    if (o->rq.nofile > 0)
        set_limit(RLIMIT_NOFILE, (rlim_t)o->rq.nofile, (rlim_t)o->rq.nofile, errfd,
                  "rlimit nofile");
    if (o->rq.stack_mb > 0)
        set_limit(RLIMIT_STACK, (rlim_t)o->rq.stack_mb << 20, (rlim_t)o->rq.stack_mb << 20, errfd,
                  "rlimit stack");
    /* Into the slot's memory cgroup while still root: every process of the run stays there. */
    if (cgfd >= 0) {
        if (write(cgfd, "0", 1) != 1)
            child_fail(errfd, "cgroup");
        close(cgfd);
    }
    /* Files the program makes are its own unless it says otherwise. */
    umask(077);
    /* When the OOM killer must choose in the slot's cgroup, it chooses the program, never the
     * launcher (raising one's own score needs no privilege). */
    if (launcher_slot.mem_fd >= 0 || cgfd >= 0) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)!write(fd, "1000", 4);
            close(fd);
        }
    }
    if (o->drop) {
        if (o->rq.own_userns) {
            /* The program is the same kernel uid as we are: only mounts keep it from writing
             * the slot's area beside its own dir (or the box's skeleton). */
            if (o->rq.cwd &&
                (unshare(CLONE_NEWNS) != 0 ||
                 mount(o->rq.cwd, o->rq.cwd, NULL, MS_BIND, NULL) != 0 ||
                 mount(NULL, SLOTNS_BOX, NULL,
                       MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0))
                child_fail(errfd, "slot: private work dir");
            enter_own_userns(o, errfd);
        } else if (setgroups(0, NULL) != 0) {
            child_fail(errfd, "setgroups");
        }
        /* RLIMIT_NPROC counts every process of the uid on the whole host (other containers,
         * other instances): only a fallback when the slot has no pids cgroup. Set after the
         * run's own user namespace exists, so that it counts the run's processes only. */
        if (o->rq.nproc > 0 && launcher_slot.pids_fd < 0)
            set_limit(RLIMIT_NPROC, (rlim_t)o->rq.nproc, (rlim_t)o->rq.nproc, errfd,
                      "rlimit nproc");
        if (setresgid(o->rq.gid, o->rq.gid, o->rq.gid) != 0)
            child_fail(errfd, "setgid");
        if (setresuid(o->rq.uid, o->rq.uid, o->rq.uid) != 0)
            child_fail(errfd, "setuid");
    }
    /* As the program's own uid: a path the program controls is never followed with privilege. */
    if (o->rq.cwd && chdir(o->rq.cwd) != 0)
        child_fail(errfd, "chdir");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        child_fail(errfd, "no_new_privs");
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        child_fail(errfd, "pdeathsig");
    close_fds_from(3, errfd);
    prog = resolve(o, pathbuf, sizeof pathbuf);
    {
        int rc = sandbox_seccomp_install();
        if (rc != 0 && rc != -ENOSYS) {
            errno = -rc;
            child_fail(errfd, "seccomp");
        }
    }
    /* Last: nothing may allocate after this (a sanitizer runtime could not map memory). */
    if (o->rq.as_mb > 0)
        set_limit(RLIMIT_AS, (rlim_t)o->rq.as_mb << 20, (rlim_t)o->rq.as_mb << 20, errfd,
                  "rlimit as");
    if (o->rq.data_mb > 0)
        set_limit(RLIMIT_DATA, (rlim_t)o->rq.data_mb << 20, (rlim_t)o->rq.data_mb << 20, errfd,
                  "rlimit data");
    /* Python runs of build/launcher-py: the slot's interpreter, already started, instead of
     * a new one (launcher_zygote.c); everything above is the same for both. */
    if (launcher_zygote_takes(&o->rq))
        launcher_zygote_run(o, errfd);
    execve(prog, (char *const *)o->rq.argv, (char *const *)o->rq.env);
    child_fail(errfd, "exec");
}
