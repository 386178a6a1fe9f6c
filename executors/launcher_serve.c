/*
 * launcher_serve.c - serve mode: one long-lived launcher per slot takes the slot's runs over a
 * control socket; in a box it first enters the slot's namespaces and becomes the first process
 * of a pid namespace of the slot's own, the process the executor started staying outside as a
 * relay.
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

#include "launcher.h"
#include "runreq.h"
#include "slotcg.h"
#include "slotns.h"

/* Enters the slot's network, IPC and mount namespaces (see slotns.h): the program, and the
 * clean-up after it, see the slot's own loopback, SysV objects, /tmp, /var/tmp, /dev/shm and
 * /dev/mqueue. Returns NULL, or the stage that failed (errno set). */
const char *launcher_serve_enter_ns(int fd)
{
    static const struct {
        int type;
        const char *stage;
    } order[3] = {
        {CLONE_NEWNET, "setns net"}, {CLONE_NEWIPC, "setns ipc"}, {CLONE_NEWNS, "setns mnt"}};

    for (int i = 0; i < 3; i++) {
        if (setns(fd + i, order[i].type) != 0)
            return order[i].stage;
        close(fd + i);
    }
    return NULL;
}

/*
 * In a box, the serving launcher becomes the first process of a pid namespace of the slot's
 * own: programs see only their own processes, and kill(-1) ends a run's every process at once.
 * The process the executor started stays outside as a relay: it forwards stop requests
 * (SIGRTMIN with the run's number) to the new one and ends with it; the new one dies with it
 * (parent-death signal), and with it everything in the namespace. Returns 0 in the new first
 * process; the relay never returns (it exits with the server's status), or returns an exit
 * status on failure.
 */
int launcher_serve_pid1(int ctl)
{
    pid_t child;
    int rc;

    if (unshare(CLONE_NEWPID) != 0) {
        perror("launcher: unshare pid namespace");
        return 2;
    }
    child = fork();
    if (child < 0) {
        perror("launcher: fork");
        return 2;
    }
    if (child == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
            _exit(2);
        /* Not dumpable: its /proc files (environment, memory, descriptors) stay closed to
         * programs even when they run as the same kernel uid (unprivileged runtime). */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if ((rc = slotns_mount_proc()) != 0) {
            fprintf(stderr, "launcher: cannot mount the slot's /proc: %s\n", strerror(-rc));
            _exit(2);
        }
        launcher_slot.pid1 = true;
        return 0;
    }
    if (ctl >= 0)
        close(ctl);
    /* Our stdio and the status fd belong to the new first process now. */
    for (int fd = 0; fd <= 3; fd++) {
        int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (dn >= 0 && dn != fd) {
            dup2(dn, fd);
            close(dn);
        }
    }
    for (;;) {
        siginfo_t si;
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
        int sig = sigwaitinfo(&all, &si);
        if (sig == SIGCHLD) {
            int status;
            pid_t p = waitpid(child, &status, WNOHANG);
            if (p == child)
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
        } else if (sig > 0) {
            /* A stop request: the same signal, and its value (the run's number). */
            (void)sigqueue(child, sig, si.si_value);
        }
    }
}

/*
 * Receives one run request and its four descriptors. Returns 1 with *data and *len the request
 * (in a static buffer, or in *big, malloc'ed, the caller's to free; *len 0 when it was too long
 * or unreadable: it fails to decode and is reported), 0 at EOF, -1 for a message to skip
 * (without its descriptors there is nobody to report to; logged), -2 when the socket fails.
 */
static int recv_request(int ctl, int fds4[4], unsigned char **data, size_t *len,
                        unsigned char **big)
{
    static unsigned char inline_buf[RUNREQ_INLINE_MAX];
    union {
        char b[CMSG_SPACE(5 * sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {.iov_base = inline_buf, .iov_len = sizeof inline_buf};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b, .msg_controllen = sizeof cbuf.b};
    int fds[5], nfd = 0;
    ssize_t n;

    do
        n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n < 0)
            perror("launcher: recvmsg");
        return n < 0 ? -2 : 0;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int j = 0; j < k; j++) {
                int fd;
                memcpy(&fd, CMSG_DATA(cm) + j * sizeof(int), sizeof fd);
                if (nfd < 5)
                    fds[nfd++] = fd;
                else
                    close(fd);
            }
        }
    *data = inline_buf;
    if (nfd == 5) {
        /* A long request came in a memfd (keeper_send). */
        struct stat st;
        if (fstat(fds[4], &st) == 0 && st.st_size > 0 && st.st_size <= RUNREQ_MAX_SIZE &&
            (*big = malloc((size_t)st.st_size)) != NULL &&
            pread(fds[4], *big, (size_t)st.st_size, 0) == st.st_size) {
            *data = *big;
            n = st.st_size;
        } else {
            n = 0; /* decodes as a malformed request: reported */
        }
        close(fds[4]);
        nfd = 4;
    } else if (mh.msg_flags & MSG_TRUNC) {
        n = 0; /* longer than any inline request may be: reported as malformed */
    }
    if (nfd != 4 || (mh.msg_flags & MSG_CTRUNC)) {
        fprintf(stderr, "launcher: a run request without its four descriptors\n");
        for (int j = 0; j < nfd; j++)
            close(fds[j]);
        free(*big);
        *big = NULL;
        return -1;
    }
    memcpy(fds4, fds, 4 * sizeof(int));
    *len = (size_t)n;
    return 1;
}

/* Decodes and runs one served request; fds 0-3 are the run's. A request that does not decode or
 * that we refuse gets an error report of its own. */
static void serve_one(const unsigned char *data, size_t len, const sigset_t *set,
                      const sigset_t *old)
{
    opts_t o;
    char err[128], msg[RUNREQ_ERROR_MAX];
    char *store = malloc(len + 1);
    int rc = -ENOMEM;

    memset(&o, 0, sizeof o);
    o.status_fd = 3;
    o.ns_fd = -1;
    snprintf(err, sizeof err, "out of memory");
    if (store && (rc = runreq_decode(data, len, &o.rq, store, len, err, sizeof err)) == 0)
        rc = launcher_settle(&o, err, sizeof err);
    if (rc == 0) {
        launcher_run_once(&o, set, old);
    } else {
        snprintf(msg, sizeof msg, "request: %s", err);
        launcher_report_error(&o, msg);
    }
    /* Nothing of a run's request outlives it here (build/launcher-py forks runs from this
     * process: launcher_zygote.c). */
    if (store)
        explicit_bzero(store, len + 1);
    free(store);
}

/*
 * Serve mode: launcher --serve --control-fd N [--ns-fds N] [--cgroup DIR] [--pids-cgroup DIR]
 *
 * One long-lived launcher per slot, started by the executor, so that a run costs the program's
 * own process and nothing else: no executor fork, no launcher exec. It enters the slot's
 * namespaces once, becomes a child subreaper, and then takes one run at a time from the control
 * socket (SOCK_SEQPACKET): a message holds the run's request (runreq.h; one larger than
 * RUNREQ_INLINE_MAX comes in a memfd, as a fifth descriptor with a one-byte message) and
 * carries four descriptors - the program's stdin, stdout, stderr and the status pipe. It runs it
 * as one-shot use does, writes the report, closes the status pipe (the executor's sign that the
 * run is over) and waits for the next. A request that cannot be decoded, or that this launcher
 * refuses, is answered with an error report (stage "request") and the launcher serves on. A stop
 * request is SIGRTMIN queued with the run's sequence number (sigqueue), so a late stop for an
 * earlier run never hits the next. EOF on the control socket ends it.
 */
int launcher_serve(int argc, char **argv)
{
    int ctl = -1, ns = -1;
    const char *mem_cg = NULL, *pids_cg = NULL;
    sigset_t set, old;

    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--control-fd"))
            ctl = (int)launcher_num_arg(argv[i], argv[i + 1]);
        else if (!strcmp(argv[i], "--ns-fds"))
            ns = (int)launcher_num_arg(argv[i], argv[i + 1]);
        else if (!strcmp(argv[i], "--cgroup"))
            mem_cg = argv[i + 1];
        else if (!strcmp(argv[i], "--pids-cgroup"))
            pids_cg = argv[i + 1];
        else
            launcher_usage(
                "--serve takes --control-fd N [--ns-fds N] [--cgroup DIR] [--pids-cgroup DIR]");
    }
    if (ctl < 0)
        launcher_usage("--serve needs --control-fd");
    /* Out of the way of 0-3, which every run reuses. */
    int c2 = fcntl(ctl, F_DUPFD_CLOEXEC, 20);
    if (c2 < 0) {
        perror("launcher: control fd");
        return 2;
    }
    close(ctl);
    ctl = c2;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        perror("launcher: subreaper");
        return 2;
    }
    launcher_wait_set(&set);
    sigprocmask(SIG_BLOCK, &set, &old);
    /* The slot's cgroups first (their files are not visible inside the box): joined once, so
     * that every program is born in them - no migration per run. */
    if ((mem_cg && (launcher_slot.mem_fd = slotcg_join(mem_cg)) < 0) ||
        (pids_cg && (launcher_slot.pids_fd = slotcg_join(pids_cg)) < 0)) {
        fprintf(stderr, "launcher: cannot join the slot's cgroup %s: %s\n",
                launcher_slot.mem_fd < 0 ? mem_cg : pids_cg, strerror(errno));
        return 2;
    }
    if (ns >= 0) {
        const char *stage = geteuid() == 0 ? launcher_serve_enter_ns(ns) : "setns (needs root)";
        if (stage) {
            fprintf(stderr, "launcher: %s: %s\n", stage, strerror(errno));
            return 2;
        }
        int rc = launcher_serve_pid1(ctl);
        if (rc != 0)
            return rc;
    }
    /* build/launcher-py: the interpreter starts here, in the slot's cgroups and box, before any
     * run (launcher_zygote.c). Without it, runs are exec'd as by build/launcher. */
    const char *why;
    if (launcher_has_zygote && launcher_zygote_init(&why) != 0)
        fprintf(stderr, "launcher: no Python zygote, Python runs start python3: %s\n", why);
    for (;;) {
        int fds[4];
        unsigned char *data, *big = NULL;
        size_t len = 0;
        int rc = recv_request(ctl, fds, &data, &len, &big);

        if (rc == 0)
            return 0; /* the executor is gone */
        if (rc == -2)
            return 1;
        if (rc < 0)
            continue;
        /* The four to 0, 1, 2, 3 by way of high numbers (they may sit on 0..3). */
        for (int j = 0; j < 4; j++) {
            int hi = fcntl(fds[j], F_DUPFD_CLOEXEC, 30);
            close(fds[j]);
            fds[j] = hi;
        }
        for (int j = 0; j < 4; j++) {
            if (fds[j] >= 0)
                dup2(fds[j], j);
            else
                close(j);
            if (fds[j] >= 0)
                close(fds[j]);
        }
        serve_one(data, len, &set, &old);
        explicit_bzero(data, len);
        free(big);
        /* The report is written: closing the status pipe tells the executor the run is over;
         * our stdio goes back to /dev/null so that no pipe of the run stays open here. */
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
            dup2(devnull, 3);
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
            close(devnull);
        } else {
            close(3);
        }
    }
}
