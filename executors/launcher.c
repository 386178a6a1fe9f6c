/*
 * launcher.c - the sandbox launcher: runs one compile or one program under limits and reports
 * how it ended. The executor keeps one per slot in serve mode (see serve() below: runs arrive
 * over a socket, no process is started for the launcher per run); one-shot use runs one program.
 *
 *   launcher --serve --control-fd N [--ns-fds N]
 *   launcher [options] -- PROGRAM [ARG...]
 *     --seq N           the run's number: a stop request (SIGRTMIN) must carry it (serve mode)
 *     --uid N --gid N   run as this uid/gid (only when root; else must equal ours)
 *     --cwd DIR         working directory
 *     --wall-ms N       wall-clock limit (required)
 *     --cpu-ms N        RLIMIT_CPU: soft ceil(N/1000) s, hard soft + 1
 *     --wait-credit-ms N  the wall limit grows by the time the program waited for a CPU, by at
 *                       most N (default 0: not at all)
 *     --as-mb N         RLIMIT_AS (0 = none; node cannot live under it)
 *     --data-mb N       RLIMIT_DATA (0 = none): the per-process cap where no cgroup exists
 *                       (Node lives under it: its heap reservations are not writable data)
 *     --fsize-mb N      RLIMIT_FSIZE
 *     --nofile N        RLIMIT_NOFILE
 *     --nproc N         RLIMIT_NPROC (only with a uid drop: it counts per uid)
 *     --stack-mb N      RLIMIT_STACK
 *     --env K=V         the program's whole environment (repeatable; nothing is inherited)
 *     --status-fd N     where the report goes (default 3)
 *     --cgroup DIR      run in this memory cgroup (the slot's, see slotcg.h) ...
 *     --cgroup-mb N     ... limited to N MiB for all the run's processes together (root only)
 *     --ns-fds N        enter the namespaces open at fds N, N+1, N+2 (network, IPC, mount: the
 *                       slot's, see slotns.h) before starting the program (root only)
 *
 * Theory of operation
 * -------------------
 * libuv cannot run code between fork and exec, and its exit callback carries no rusage; this
 * small program does both jobs, in the manner of isolate's keeper process.
 *
 * The launcher makes itself a child subreaper, so every process the program leaves behind
 * (double-forked, setsid'ed) is reparented to it and stays killable. With --ns-fds it enters the
 * slot's network, IPC and mount namespaces first (so the program and the clean-up after it see
 * the slot's own /tmp, /dev/shm, SysV objects and loopback); with --cgroup it sets the slot's
 * memory cgroup limit for this run. It blocks SIGCHLD, SIGTERM, SIGINT, SIGHUP and SIGALRM and
 * forks. The child puts itself in a new process group, joins the cgroup, applies RLIMIT_CORE 0
 * and the other limits, drops its groups, gid and uid, changes to the work dir as that uid, sets
 * no_new_privs and a parent-death signal, closes every fd above 2, installs the seccomp filter
 * (seccomp.h) and execs the program with exactly the given environment. A failure before exec is
 * written on a close-on-exec pipe (stage + errno) and the child exits 127; EOF on that pipe
 * without data means exec succeeded (the parent waits for it no longer than the deadline).
 *
 * The parent waits with sigtimedwait() for the wall-clock deadline, SIGCHLD, or a stop signal
 * from the executor (SIGTERM: output cap reached, job cancelled). At the deadline, the time the
 * program's main thread spent runnable but waiting for a CPU (the run-queue delay of
 * /proc/<pid>/schedstat: other slots' programs, the machine's other work) is credited and the
 * deadline moves by it (when the run is that one process: its own children crowding it gain it
 * nothing), up to the request's wait_credit_ms (the runner's choice: a share of the
 * wall limit that fits the job's budget, runner_wait_credit_ms): a program is not
 * timed out because it shared the cores, while one that sleeps or hangs still ends at its limit
 * (sleeping is no run-queue delay). It reaps children with wait4
 * and keeps the main child's rusage. When the main child exits, the deadline passes, or a stop
 * signal arrives, it kills everything the run started: as the slot uid, kill(-1, SIGKILL) hits
 * every process of that uid and nothing else (repeated until none is left: a fork bomb forks
 * while it is being killed); without a uid drop, the process group and every descendant found
 * in /proc/<pid>/task/<tid>/children. Then it writes one report (runreq_report_t, encoded by
 * runreq.c) to the status fd: exit code, signal, CPU and wall time, max RSS, timed out, killed,
 * OOM-killed (the kernel's OOM killer struck inside the run's cgroup) and the cgroup's peak; or,
 * when the program could not be started, only an error "<stage>: <reason>". The options above
 * fill the same request (runreq_t) that a served run receives encoded.
 * Its own exit status is 0 when it reported, 2 for a usage error (one-shot use only: a served
 * request that is malformed or refused gets an error report, and the launcher serves on).
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
#include "slotcg.h"

/* Serve mode: the slot's memory and pids cgroups, which this launcher joined when it started
 * (so programs are born in them and never migrate), as directory descriptors: inside the box
 * the cgroup file system is not visible. Serve mode in a box: pid1, we are the first process of
 * the slot's own pid namespace. */
launcher_slot_t launcher_slot = {.mem_fd = -1, .pids_fd = -1, .pid1 = false};

void launcher_usage(const char *msg)
{
    fprintf(stderr,
            "launcher: %s\nusage: launcher --wall-ms N [--uid N --gid N] [--cwd DIR] "
            "[--cpu-ms N] [--wait-credit-ms N] [--as-mb N] [--fsize-mb N] [--nofile N] [--nproc N] "
            "[--stack-mb N] [--env K=V]... [--status-fd N] -- PROGRAM [ARG...]\n",
            msg);
    exit(2);
}

long launcher_num_arg(const char *flag, const char *v)
{
    char *end;
    long n;

    if (!v)
        launcher_usage("missing value");
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0) {
        fprintf(stderr, "launcher: %s: \"%s\" is not a non-negative integer\n", flag, v);
        exit(2);
    }
    return n;
}

static int32_t int_arg(const char *flag, const char *v)
{
    long n = launcher_num_arg(flag, v);

    if (n > INT32_MAX)
        launcher_usage("a value out of range");
    return (int32_t)n;
}

int launcher_settle(opts_t *o, char *err, size_t errlen)
{
    const char *why = NULL;

    o->drop = false;
    if (runreq_check(&o->rq, err, errlen) != 0)
        return -EINVAL;
    if (o->rq.ids) {
        /* A drop to root would make the clean-up's kill(-1, SIGKILL) hit the whole machine. */
        if (geteuid() == 0 && (o->rq.uid == 0 || o->rq.gid == 0))
            why = "uid/gid 0 is not a sandbox identity";
        else if (geteuid() == 0)
            o->drop = true;
        else if (o->rq.uid != getuid() || o->rq.gid != getgid())
            why = "a uid/gid other than ours needs root";
    }
    if (!why && o->cgroup && (!o->drop || o->rq.cgroup_mb <= 0))
        why = "a cgroup needs root, a uid/gid and a memory limit";
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -EINVAL;
    }
    return 0;
}

/* One-shot use: the command line into the same request a served run decodes. */
static void parse_opts(opts_t *o, int argc, char **argv)
{
    bool have_uid = false, have_gid = false;
    char err[128];
    int i;

    memset(o, 0, sizeof *o);
    runreq_init(&o->rq);
    o->status_fd = 3;
    o->ns_fd = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "--env")) {
            if (!v || !strchr(v, '='))
                launcher_usage("--env needs K=V");
            if (o->rq.nenv == RUNREQ_MAX_ENV)
                launcher_usage("too many --env");
            o->rq.env[o->rq.nenv++] = v;
        } else if (!strcmp(a, "--cwd")) {
            if (!v)
                launcher_usage("--cwd needs a directory");
            o->rq.cwd = v;
        } else if (!strcmp(a, "--uid")) {
            o->rq.uid = (uint32_t)launcher_num_arg(a, v);
            have_uid = true;
        } else if (!strcmp(a, "--gid")) {
            o->rq.gid = (uint32_t)launcher_num_arg(a, v);
            have_gid = true;
        } else if (!strcmp(a, "--wall-ms"))
            o->rq.wall_ms = int_arg(a, v);
        else if (!strcmp(a, "--cpu-ms"))
            o->rq.cpu_ms = int_arg(a, v);
        else if (!strcmp(a, "--wait-credit-ms"))
            o->rq.wait_credit_ms = int_arg(a, v);
        else if (!strcmp(a, "--as-mb"))
            o->rq.as_mb = int_arg(a, v);
        else if (!strcmp(a, "--data-mb"))
            o->rq.data_mb = int_arg(a, v);
        else if (!strcmp(a, "--fsize-mb"))
            o->rq.fsize_mb = int_arg(a, v);
        else if (!strcmp(a, "--nofile"))
            o->rq.nofile = int_arg(a, v);
        else if (!strcmp(a, "--nproc"))
            o->rq.nproc = int_arg(a, v);
        else if (!strcmp(a, "--stack-mb"))
            o->rq.stack_mb = int_arg(a, v);
        else if (!strcmp(a, "--status-fd"))
            o->status_fd = int_arg(a, v);
        else if (!strcmp(a, "--cgroup")) {
            if (!v || v[0] != '/')
                launcher_usage("--cgroup needs an absolute directory");
            o->cgroup = v;
        } else if (!strcmp(a, "--cgroup-mb"))
            o->rq.cgroup_mb = int_arg(a, v);
        else if (!strcmp(a, "--ns-fds"))
            o->ns_fd = int_arg(a, v);
        else if (!strcmp(a, "--seq"))
            o->rq.seq = launcher_num_arg(a, v);
        else if (!strcmp(a, "--own-userns"))
            o->rq.own_userns = launcher_num_arg(a, v) != 0;
        else
            launcher_usage("unknown option");
        i++; /* every option takes a value */
    }
    if (i >= argc)
        launcher_usage("no program given");
    if (argc - i > RUNREQ_MAX_ARGV)
        launcher_usage("too many arguments");
    for (; i < argc; i++)
        o->rq.argv[o->rq.nargv++] = argv[i];
    if (o->rq.wall_ms <= 0)
        launcher_usage("--wall-ms is required");
    if (have_uid != have_gid)
        launcher_usage("--uid and --gid go together");
    o->rq.ids = have_uid;
    if (launcher_settle(o, err, sizeof err) != 0)
        launcher_usage(err);
    if (o->ns_fd >= 0 && (o->ns_fd < 3 || o->ns_fd == o->status_fd || o->ns_fd > INT_MAX - 2))
        launcher_usage("--ns-fds must name three descriptors above 2 other than the status fd");
}

/* ---- report ---- */

static void write_report(int fd, const runreq_report_t *r)
{
    unsigned char buf[RUNREQ_REPORT_MAX];

    (void)cg_write_all(fd, buf, runreq_report_encode(r, buf));
}

static int64_t tv_ms(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The signals a run waits for: a child ended, a stop request (SIGTERM/SIGINT/SIGHUP in one-shot
 * use; in serve mode SIGRTMIN carrying the run's sequence number, see launcher_serve()). */
void launcher_wait_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGALRM);
    sigaddset(set, SIGRTMIN);
}

void launcher_report_error(const opts_t *o, const char *msg)
{
    runreq_report_t rep = {.exit_code = 127};

    snprintf(rep.error, sizeof rep.error, "%s", msg);
    if (o->status_fd >= 0)
        write_report(o->status_fd, &rep);
}

/* Is this signal a stop request for the run with sequence number seq? */
static bool is_stop(int sig, const siginfo_t *si, long seq)
{
    /* As the first process of the slot's pid namespace, a stop comes from outside it (our
     * relay, si_pid 0 here): a program of the same kernel uid (unprivileged runtime) could
     * otherwise queue a stop for the next student's run. */
    if (launcher_slot.pid1 && si->si_pid != 0)
        return false;
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
        return true;
    return sig == SIGRTMIN && seq >= 0 && si->si_value.sival_int == (int)seq;
}

/* Sets the run's cgroup limits: in serve mode the slot's cgroups (which we live in), in one-shot
 * use the --cgroup given (*cgfd: its cgroup.procs, for the child to move itself in). *memfd is
 * the memory cgroup to read afterwards (-1 = none). 0, or -1 with the reason in errmsg. */
static int prepare_cgroups(const opts_t *o, int *cgfd, int *memfd, char *errmsg, size_t len)
{
    if (launcher_slot.mem_fd >= 0 && o->rq.cgroup_mb > 0) {
        /* Serve mode: we live in the slot's cgroup; the program is born there. */
        int rc = slotcg_set_memory(launcher_slot.mem_fd, o->rq.cgroup_mb);
        if (rc != 0) {
            snprintf(errmsg, len, "slot: cannot set the memory limit: %s", strerror(-rc));
            return -1;
        }
        *memfd = launcher_slot.mem_fd;
    } else if (o->cgroup) {
        *cgfd = slotcg_prepare(o->cgroup, o->rq.cgroup_mb, memfd);
        if (*cgfd < 0) {
            snprintf(errmsg, len, "cgroup: %s: %s", o->cgroup, strerror(errno));
            return -1;
        }
    }
    /* The value pids.max holds (only this launcher writes it): most runs need the same. */
    static int pids_max = -1;
    if (launcher_slot.pids_fd >= 0 && o->rq.nproc > 0 && o->rq.nproc + 2 != pids_max) {
        /* The run's tasks (processes and threads) with this launcher and its parent. */
        int rc = slotcg_set_tasks(launcher_slot.pids_fd, o->rq.nproc + 2);
        pids_max = rc == 0 ? o->rq.nproc + 2 : -1;
        if (rc != 0) {
            snprintf(errmsg, len, "slot: cannot set the task limit: %s", strerror(-rc));
            if (*cgfd >= 0)
                close(*cgfd);
            if (*memfd >= 0 && *memfd != launcher_slot.mem_fd)
                close(*memfd);
            *cgfd = *memfd = -1;
            return -1;
        }
    }
    return 0;
}

/* Waits for the child's word on its error pipe: EOF (exec succeeded) or "<stage>: <reason>"
 * (into msg, NUL-terminated). The child only makes system calls before exec, but none of them
 * may hang us: no longer than the run's own deadline. Returns the message's length, or 0 (EOF,
 * or no word before the deadline: the run then counts as a time-out). */
static ssize_t wait_exec(int fd, int64_t deadline, char *msg, size_t len)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int64_t left;
    ssize_t n = -1;

    while ((left = deadline - cg_now_ms()) > 0) {
        int r = poll(&pfd, 1, (int)(left > INT_MAX ? INT_MAX : left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0)
            do
                n = read(fd, msg, len - 1);
            while (n < 0 && errno == EINTR);
        break;
    }
    if (n > 0)
        msg[n] = '\0';
    return n > 0 ? n : 0;
}

/*
 * One run. fds 0, 1, 2 are the program's stdio and o->status_fd the report's; the signals of
 * set are blocked (old is the mask the program gets) and we are a child subreaper.
 */
typedef struct {
    pid_t except;
    int n;
} child_count_t;

static bool count_one(pid_t child, void *arg)
{
    child_count_t *c = arg;

    c->n += child != c->except;
    return c->n < 1; /* one is enough to know */
}

/* True when pid has a child other than `except` (or its children cannot be listed). */
static bool has_children(pid_t pid, pid_t except)
{
    child_count_t c = {.except = except, .n = 0};

    return launcher_each_child(pid, count_one, &c) != 0 || c.n > 0;
}

/* True when the run is the program's process alone: it has no children and nothing else was
 * left to us (orphans are reparented to the launcher). Only such a run gets the credit below:
 * one whose own processes crowd it off the CPU (a fork bomb) must not gain time from that. */
static bool run_is_one_process(pid_t pid)
{
    return !has_children(pid, -1) && !has_children(getpid(), pid);
}

/* Milliseconds pid's main thread has waited on a run queue (/proc/<pid>/schedstat's second
 * field, in ns); 0 when unknown. */
static int64_t run_delay_ms(pid_t pid)
{
    char path[64], buf[128];
    unsigned long long run_ns, wait_ns;
    int fd;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (sscanf(buf, "%llu %llu", &run_ns, &wait_ns) != 2)
        return 0;
    return (int64_t)(wait_ns / 1000000ULL);
}

void launcher_run_once(opts_t *o, const sigset_t *set, const sigset_t *old)
{
    runreq_report_t rep = {.exit_code = -1};
    int errp[2];
    pid_t pid;
    bool main_done = false;
    struct rusage main_ru, before;
    char errmsg[160];
    ssize_t n;
    siginfo_t si;
    int sig;
    const struct timespec zero = {0, 0};

    memset(&main_ru, 0, sizeof main_ru);
    memset(&before, 0, sizeof before);
    (void)getrusage(RUSAGE_CHILDREN, &before); /* a serving launcher has reaped earlier runs */
    /* Signals left from an earlier run (a stop that came after its end, its SIGCHLDs) are
     * stale; a stop for this run may already be here. */
    while ((sig = sigtimedwait(set, &si, &zero)) > 0)
        if (sig != SIGCHLD && is_stop(sig, &si, o->rq.seq) && (sig == SIGRTMIN || o->rq.seq < 0))
            rep.killed = true;
    if (rep.killed) {
        if (o->status_fd >= 0)
            write_report(o->status_fd, &rep);
        return;
    }
    if (pipe2(errp, O_CLOEXEC) != 0) {
        snprintf(errmsg, sizeof errmsg, "pipe: %s", strerror(errno));
        launcher_report_error(o, errmsg);
        return;
    }
    int cgfd = -1, memfd = -1, peakfd = -1;
    int64_t ooms_before = 0;
    if (prepare_cgroups(o, &cgfd, &memfd, errmsg, sizeof errmsg) != 0) {
        launcher_report_error(o, errmsg);
        goto out_pipe;
    }
    if (memfd >= 0) {
        ooms_before = slotcg_oom_kills(memfd);
        peakfd = slotcg_peak_start(memfd);
    }
    int64_t t0 = cg_now_ms();
    bool zygote = launcher_zygote_takes(&o->rq);
    if (zygote)
        launcher_zygote_before_fork();
    pid = fork();
    if (zygote && pid != 0)
        launcher_zygote_after_fork_parent();
    if (pid < 0) {
        snprintf(errmsg, sizeof errmsg, "fork: %s", strerror(errno));
        launcher_report_error(o, errmsg);
        if (cgfd >= 0)
            close(cgfd);
        if (peakfd >= 0)
            close(peakfd);
        goto out_pipe;
    }
    if (pid == 0) {
        close(errp[0]);
        if (o->status_fd >= 0)
            close(o->status_fd);
        launcher_child_exec(o, errp[1], old, cgfd);
    }
    close(errp[1]);
    errp[1] = -1;
    if (cgfd >= 0)
        close(cgfd);
    /* Our own copies of the program's stdio would keep its pipes open after it is gone. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        if (o->status_fd != 2)
            dup2(devnull, 2);
        if (devnull > 2)
            close(devnull);
    }
    n = wait_exec(errp[0], t0 + o->rq.wall_ms, errmsg, sizeof errmsg);
    close(errp[0]);
    if (n > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (peakfd >= 0)
            close(peakfd);
        launcher_report_error(o, errmsg);
        return;
    }

    int64_t deadline = t0 + o->rq.wall_ms, credited = 0;
    int64_t credit_max = o->rq.wait_credit_ms;
    while (!main_done) {
        int64_t left = deadline - cg_now_ms();
        struct timespec ts;
        if (left <= 0) {
            int64_t d = run_is_one_process(pid) ? run_delay_ms(pid) : 0;
            int64_t grant = (d < credit_max ? d : credit_max) - credited;
            if (grant > 0) {
                credited += grant;
                deadline += grant;
                continue;
            }
            rep.timed_out = true;
            break;
        }
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (left % 1000) * 1000000L;
        sig = sigtimedwait(set, &si, &ts);
        if (sig == SIGCHLD) {
            launcher_reap_all(pid, &rep, &main_done, &main_ru);
        } else if (sig > 0 && is_stop(sig, &si, o->rq.seq)) {
            rep.killed = true;
            break;
        }
    }
    if (main_done)
        rep.wall_ms = cg_now_ms() - t0;
    launcher_reap_kill_all(o, pid, &rep, &main_done, &main_ru);
    /* A box's clean-up comes after the report (below): this launcher reads the slot's next
     * request only when it is done, so no run sees what the last one left, and the answer does
     * not wait for it (~40 system calls on a cold cache after an idle moment). A one-run
     * launcher cleans before it reports: the slot uid's next run may start as soon as it has. */
    if (!launcher_slot.pid1 && o->drop)
        launcher_clean_shared(o->rq.uid, o->rq.gid);
    if (memfd >= 0) {
        int64_t ooms = slotcg_oom_kills(memfd);
        rep.oom_killed = ooms > ooms_before && ooms_before >= 0;
        rep.peak_kb = slotcg_peak_kb(memfd, peakfd);
        if (peakfd >= 0)
            close(peakfd);
        if (memfd != launcher_slot.mem_fd)
            close(memfd);
    }
    if (!rep.wall_ms)
        rep.wall_ms = cg_now_ms() - t0;
    rep.cpu_ms = tv_ms(main_ru.ru_utime) + tv_ms(main_ru.ru_stime);
    {
        /* Descendants reaped by us count too (a program that forks workers). */
        struct rusage all;
        if (getrusage(RUSAGE_CHILDREN, &all) == 0) {
            int64_t c = tv_ms(all.ru_utime) + tv_ms(all.ru_stime) - tv_ms(before.ru_utime) -
                        tv_ms(before.ru_stime);
            if (c > rep.cpu_ms)
                rep.cpu_ms = c;
        }
    }
    rep.maxrss_kb = main_ru.ru_maxrss;
    if (o->status_fd >= 0)
        write_report(o->status_fd, &rep);
    if (launcher_slot.pid1)
        launcher_clean_box();
    return;
out_pipe:
    close(errp[0]);
    close(errp[1]);
}

int main(int argc, char **argv)
{
    opts_t o;
    sigset_t set, old;

    launcher_zygote_rename(argv);
    if (argc > 1 && !strcmp(argv[1], "--serve"))
        return launcher_serve(argc, argv);
    if (argc == 2 && !strcmp(argv[1], "--zygote-probe")) {
        /* Can this launcher start the Python zygote here (executors/main.c asks)? */
        const char *why;
        if (launcher_zygote_init(&why) != 0) {
            fprintf(stderr, "launcher: no Python zygote: %s\n", why);
            return 1;
        }
        return 0;
    }
    parse_opts(&o, argc, argv);
    if (fcntl(o.status_fd, F_GETFD) < 0)
        o.status_fd = -1; /* no report wanted (manual use) */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        perror("launcher: subreaper");
        return 2;
    }
    launcher_wait_set(&set);
    sigprocmask(SIG_BLOCK, &set, &old);
    /* As a serving launcher does: the cgroup joined before the box hides it, then the box,
     * with a pid namespace of the run's own. */
    if (o.cgroup) {
        if ((launcher_slot.mem_fd = slotcg_join(o.cgroup)) < 0) {
            char msg[PATH_MAX + 64];
            snprintf(msg, sizeof msg, "cgroup: %s: %s", o.cgroup, strerror(errno));
            launcher_report_error(&o, msg);
            return 0;
        }
        o.cgroup = NULL;
    }
    if (o.ns_fd >= 0) {
        const char *stage = o.drop ? launcher_serve_enter_ns(o.ns_fd) : "setns";
        if (stage) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s: %s", stage,
                     o.drop ? strerror(errno) : "namespaces need root and a slot uid");
            launcher_report_error(&o, msg);
            return 0;
        }
        o.ns_fd = -1;
        int rc = launcher_serve_pid1(-1);
        if (rc != 0)
            return rc;
    }
    launcher_run_once(&o, &set, &old);
    return 0;
}
