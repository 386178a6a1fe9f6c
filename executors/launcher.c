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
 * from the executor (SIGTERM: output cap reached, job cancelled). It reaps children with wait4
 * and keeps the main child's rusage. When the main child exits, the deadline passes, or a stop
 * signal arrives, it kills everything the run started: as the slot uid, kill(-1, SIGKILL) hits
 * every process of that uid and nothing else (repeated until none is left: a fork bomb forks
 * while it is being killed); without a uid drop, the process group and every descendant found
 * in /proc/<pid>/task/<tid>/children. Then it writes one JSON line to the status fd:
 *   {"exitCode":N,"signal":N,"cpuMs":N,"wallMs":N,"maxrssKb":N,"timedOut":b,"killed":b,
 *    "oomKilled":b,"peakKb":N}
 * (oomKilled: the kernel's OOM killer struck inside the run's cgroup; peakKb: its peak, v1)
 * or, when the program could not be started, {"error":"<stage>: <reason>","stage":"<stage>"}.
 * Its own exit status is 0 when it reported, 2 for a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "seccomp.h"
#include "slotns.h"
#include "workdir.h"

#define MAX_ENV 64
#define KILL_BUDGET_MS 3000

typedef struct {
    uid_t uid;
    gid_t gid;
    bool drop; /* uid/gid given and we are root */
    const char *cwd;
    long wall_ms;
    long cpu_ms;
    long as_mb, data_mb, fsize_mb, nofile, nproc, stack_mb;
    char *env[MAX_ENV + 1];
    int nenv;
    int status_fd;
    int ns_fd;          /* first of the slot's namespace fds, or -1 */
    const char *cgroup; /* the slot's memory cgroup, or NULL */
    long cgroup_mb;
    long seq;        /* serve mode: the run's number, for stop requests; -1 = none */
    bool own_userns; /* run the program in a user namespace of its own (uid/gid mapped to ours) */
    char **argv;     /* PROGRAM ARG... */
} opts_t;

typedef struct {
    int exit_code;
    int signal;
    int64_t cpu_ms;
    int64_t wall_ms;
    int64_t maxrss_kb;
    bool timed_out;
    bool killed;
    bool oom_killed; /* the OOM killer struck in the run's cgroup */
    int64_t peak_kb; /* the cgroup's peak memory (cgroup v1), or 0 */
} report_t;

static void usage(const char *msg)
{
    fprintf(stderr,
            "launcher: %s\nusage: launcher --wall-ms N [--uid N --gid N] [--cwd DIR] "
            "[--cpu-ms N] [--as-mb N] [--fsize-mb N] [--nofile N] [--nproc N] "
            "[--stack-mb N] [--env K=V]... [--status-fd N] -- PROGRAM [ARG...]\n",
            msg);
    exit(2);
}

static long num_arg(const char *flag, const char *v)
{
    char *end;
    long n;

    if (!v)
        usage("missing value");
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0) {
        fprintf(stderr, "launcher: %s: \"%s\" is not a non-negative integer\n", flag, v);
        exit(2);
    }
    return n;
}

static void parse_opts(opts_t *o, int argc, char **argv)
{
    bool have_uid = false, have_gid = false;
    int i;

    memset(o, 0, sizeof *o);
    o->status_fd = 3;
    o->ns_fd = -1;
    o->seq = -1;
    o->wall_ms = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "--env")) {
            if (!v || !strchr(v, '='))
                usage("--env needs K=V");
            if (o->nenv == MAX_ENV)
                usage("too many --env");
            o->env[o->nenv++] = (char *)v;
        } else if (!strcmp(a, "--cwd")) {
            if (!v)
                usage("--cwd needs a directory");
            o->cwd = v;
        } else if (!strcmp(a, "--uid")) {
            o->uid = (uid_t)num_arg(a, v);
            have_uid = true;
        } else if (!strcmp(a, "--gid")) {
            o->gid = (gid_t)num_arg(a, v);
            have_gid = true;
        } else if (!strcmp(a, "--wall-ms"))
            o->wall_ms = num_arg(a, v);
        else if (!strcmp(a, "--cpu-ms"))
            o->cpu_ms = num_arg(a, v);
        else if (!strcmp(a, "--as-mb"))
            o->as_mb = num_arg(a, v);
        else if (!strcmp(a, "--data-mb"))
            o->data_mb = num_arg(a, v);
        else if (!strcmp(a, "--fsize-mb"))
            o->fsize_mb = num_arg(a, v);
        else if (!strcmp(a, "--nofile"))
            o->nofile = num_arg(a, v);
        else if (!strcmp(a, "--nproc"))
            o->nproc = num_arg(a, v);
        else if (!strcmp(a, "--stack-mb"))
            o->stack_mb = num_arg(a, v);
        else if (!strcmp(a, "--status-fd"))
            o->status_fd = (int)num_arg(a, v);
        else if (!strcmp(a, "--cgroup")) {
            if (!v || v[0] != '/')
                usage("--cgroup needs an absolute directory");
            o->cgroup = v;
        } else if (!strcmp(a, "--cgroup-mb"))
            o->cgroup_mb = num_arg(a, v);
        else if (!strcmp(a, "--ns-fds"))
            o->ns_fd = (int)num_arg(a, v);
        else if (!strcmp(a, "--seq"))
            o->seq = num_arg(a, v);
        else if (!strcmp(a, "--own-userns"))
            o->own_userns = num_arg(a, v) != 0;
        else
            usage("unknown option");
        i++; /* every option takes a value */
    }
    if (i >= argc)
        usage("no program given");
    if (o->wall_ms <= 0)
        usage("--wall-ms is required");
    if (have_uid != have_gid)
        usage("--uid and --gid go together");
    if (have_uid) {
        /* A drop to root would make the clean-up's kill(-1, SIGKILL) hit the whole machine. */
        if (geteuid() == 0 && (o->uid == 0 || o->gid == 0))
            usage("--uid/--gid 0 is not a sandbox identity");
        if (geteuid() == 0)
            o->drop = true;
        else if (o->uid != getuid() || o->gid != getgid())
            usage("--uid/--gid other than ours need root");
    }
    if (o->cgroup && (!o->drop || o->cgroup_mb <= 0))
        usage("--cgroup needs root, --uid/--gid and --cgroup-mb");
    if (o->ns_fd >= 0 && (o->ns_fd < 3 || o->ns_fd == o->status_fd || o->ns_fd > INT_MAX - 2))
        usage("--ns-fds must name three descriptors above 2 other than the status fd");
    o->argv = argv + i;
}

/* Enters the slot's network, IPC and mount namespaces (see slotns.h): the program, and the
 * clean-up after it, see the slot's own loopback, SysV objects, /tmp, /var/tmp, /dev/shm and
 * /dev/mqueue. Returns NULL, or the stage that failed (errno set). */
static const char *enter_slot_namespaces(int fd)
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

/* ---- the slot's cgroups ---- */

/* Serve mode: the slot's memory and pids cgroups, which this launcher joined when it started
 * (so programs are born in them and never migrate), as directory descriptors: inside the box
 * the cgroup file system is not visible. -1 = none. */
static int g_mem_fd = -1, g_pids_fd = -1;
/* Serve mode in a box: we are the first process of the slot's own pid namespace. */
static bool g_pid1;

/* Reads "<key> N" from a flat-keyed cgroup file (v1 memory.oom_control, v2 memory.events), or
 * a single number when key is NULL. -1 when absent. */
static int64_t cg_read(int dfd, const char *file, const char *key)
{
    char line[128];
    int64_t v = -1;
    FILE *f;
    int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || !(f = fdopen(fd, "re"))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        size_t kl = key ? strlen(key) : 0;
        long long n;
        if (key && (strncmp(line, key, kl) != 0 || line[kl] != ' '))
            continue;
        if (sscanf(line + kl, "%lld", &n) == 1)
            v = n;
        break;
    }
    fclose(f);
    return v;
}

static bool cg_v2(int dfd)
{
    return faccessat(dfd, "memory.max", F_OK, 0) == 0;
}

/* The OOM kills the cgroup has seen so far. */
static int64_t cg_oom_kills(int dfd)
{
    return cg_v2(dfd) ? cg_read(dfd, "memory.events", "oom_kill")
                      : cg_read(dfd, "memory.oom_control", "oom_kill");
}

/* Sets the run's memory limit (and no swap beyond it) and resets the peak. 0 or -errno. */
static int cg_set_memory(int dfd, long mb)
{
    char val[32];
    int rc;

    snprintf(val, sizeof val, "%lld", (long long)mb << 20);
    if (cg_v2(dfd)) {
        if ((rc = cg_write_at(dfd, "memory.max", val)) != 0)
            return rc;
        (void)cg_write_at(dfd, "memory.swap.max", "0");
        return 0;
    }
    /* memsw >= limit at every step: lift memsw, set the limit, then memsw to match. */
    (void)cg_write_at(dfd, "memory.memsw.limit_in_bytes", "-1");
    if (cg_write_at(dfd, "memory.limit_in_bytes", val) != 0) {
        /* Below what the cgroup still holds (page cache of earlier runs): drop it, retry. */
        (void)cg_write_at(dfd, "memory.force_empty", "0");
        if ((rc = cg_write_at(dfd, "memory.limit_in_bytes", val)) != 0)
            return rc;
    }
    (void)cg_write_at(dfd, "memory.memsw.limit_in_bytes", val);
    (void)cg_write_at(dfd, "memory.max_usage_in_bytes", "0");
    return 0;
}

/* One-shot use with --cgroup: opens the directory, sets the limit, and opens cgroup.procs for
 * the child to move itself in. Returns that fd (and *dfd), or -1 with errno set. */
static int cg_prepare(const opts_t *o, int *dfd)
{
    int rc, fd;

    *dfd = open(o->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dfd < 0)
        return -1;
    if ((rc = cg_set_memory(*dfd, o->cgroup_mb)) != 0) {
        close(*dfd);
        *dfd = -1;
        errno = -rc;
        return -1;
    }
    fd = openat(*dfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        close(*dfd);
        *dfd = -1;
        errno = e;
    }
    return fd;
}

/* Joins the cgroup at dir (this process and every child it makes from now on) and returns a
 * directory descriptor of it, or -1 with errno set. */
static int cg_join(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd, rc;

    if (fd < 0)
        return -1;
    /* Out of the way of 0-3, which every run reuses. */
    dfd = fcntl(fd, F_DUPFD_CLOEXEC, 20);
    close(fd);
    if (dfd < 0)
        return -1;
    if ((rc = cg_write_at(dfd, "cgroup.procs", "0")) != 0) {
        close(dfd);
        errno = -rc;
        return -1;
    }
    return dfd;
}

/* ---- the child, between fork and exec ---- */

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

static void write_proc_self(const char *file, const char *text, int errfd)
{
    char path[64];
    int fd;

    snprintf(path, sizeof path, "/proc/self/%s", file);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        child_fail(errfd, file);
    close(fd);
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
    char map[64];
    uid_t ou = geteuid();
    gid_t og = getegid();

    if (unshare(CLONE_NEWUSER) != 0)
        child_fail(errfd, "unshare user");
    write_proc_self("setgroups", "deny", errfd);
    snprintf(map, sizeof map, "%u %u 1", (unsigned)o->uid, (unsigned)ou);
    write_proc_self("uid_map", map, errfd);
    snprintf(map, sizeof map, "%u %u 1", (unsigned)o->gid, (unsigned)og);
    write_proc_self("gid_map", map, errfd);
}

/* Looks PROGRAM up in the PATH of the given environment when it has no '/'. */
static const char *resolve(const opts_t *o, char *buf, size_t len)
{
    const char *prog = o->argv[0], *path = NULL;

    if (strchr(prog, '/'))
        return prog;
    for (int i = 0; i < o->nenv; i++)
        if (!strncmp(o->env[i], "PATH=", 5))
            path = o->env[i] + 5;
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

static void run_child(const opts_t *o, int errfd, const sigset_t *oldmask, int cgfd)
{
    char pathbuf[PATH_MAX];
    const char *prog;

    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    if (setpgid(0, 0) != 0)
        child_fail(errfd, "setpgid");
    set_limit(RLIMIT_CORE, 0, 0, errfd, "rlimit core");
    if (o->cpu_ms > 0) {
        rlim_t s = (rlim_t)((o->cpu_ms + 999) / 1000);
        set_limit(RLIMIT_CPU, s, s + 1, errfd, "rlimit cpu");
    }
    if (o->fsize_mb > 0)
        set_limit(RLIMIT_FSIZE, (rlim_t)o->fsize_mb << 20, (rlim_t)o->fsize_mb << 20, errfd,
                  "rlimit fsize");
    if (o->nofile > 0)
        set_limit(RLIMIT_NOFILE, (rlim_t)o->nofile, (rlim_t)o->nofile, errfd, "rlimit nofile");
    if (o->stack_mb > 0)
        set_limit(RLIMIT_STACK, (rlim_t)o->stack_mb << 20, (rlim_t)o->stack_mb << 20, errfd,
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
    if (g_mem_fd >= 0 || cgfd >= 0) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)!write(fd, "1000", 4);
            close(fd);
        }
    }
    if (o->drop) {
        if (o->own_userns) {
            /* The program is the same kernel uid as we are: only mounts keep it from writing
             * the slot's area beside its own dir (or the box's skeleton). */
            if (o->cwd &&
                (unshare(CLONE_NEWNS) != 0 || mount(o->cwd, o->cwd, NULL, MS_BIND, NULL) != 0 ||
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
        if (o->nproc > 0 && g_pids_fd < 0)
            set_limit(RLIMIT_NPROC, (rlim_t)o->nproc, (rlim_t)o->nproc, errfd, "rlimit nproc");
        if (setresgid(o->gid, o->gid, o->gid) != 0)
            child_fail(errfd, "setgid");
        if (setresuid(o->uid, o->uid, o->uid) != 0)
            child_fail(errfd, "setuid");
    }
    /* As the program's own uid: a path the program controls is never followed with privilege. */
    if (o->cwd && chdir(o->cwd) != 0)
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
    if (o->as_mb > 0)
        set_limit(RLIMIT_AS, (rlim_t)o->as_mb << 20, (rlim_t)o->as_mb << 20, errfd, "rlimit as");
    if (o->data_mb > 0)
        set_limit(RLIMIT_DATA, (rlim_t)o->data_mb << 20, (rlim_t)o->data_mb << 20, errfd,
                  "rlimit data");
    execve(prog, o->argv, o->env);
    child_fail(errfd, "exec");
}

/* ---- killing what the run left behind ---- */

/* Walks /proc/<pid>/task/<tid>/children recursively and SIGKILLs every descendant. Returns how
 * many were signalled. */
static int kill_descendants(pid_t pid, int depth)
{
    char path[64];
    DIR *d;
    struct dirent *de;
    int n = 0;

    if (depth > 64)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return 0;
    while ((de = readdir(d))) {
        char cpath[128];
        FILE *f;
        long child;
        if (de->d_name[0] == '.')
            continue;
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", (int)pid, de->d_name);
        f = fopen(cpath, "re");
        if (!f)
            continue;
        while (fscanf(f, "%ld", &child) == 1) {
            kill((pid_t)child, SIGSTOP); /* freeze first: it cannot fork while stopped */
            n += 1 + kill_descendants((pid_t)child, depth + 1);
            kill((pid_t)child, SIGKILL);
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Number of processes whose real or effective uid is `uid` (from /proc/<pid>/status). */
static int count_uid(uid_t uid)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char path[64], line[256];
        FILE *f;
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
        f = fopen(path, "re");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            unsigned long r, e;
            if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
                if (r == uid || e == uid)
                    n++;
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* As the slot uid, kill(-1, SIGKILL): every process of that uid and nothing else. (Its return
 * value says nothing: Linux answers 0 as soon as any process exists, even one it may not
 * signal, so whether anything is left is counted in /proc instead.) */
static void kill_uid_once(const opts_t *o)
{
    int status;
    pid_t p = fork();

    if (p == 0) {
        uid_t r, e, s;
        if (setresgid(o->gid, o->gid, o->gid) != 0 || setresuid(o->uid, o->uid, o->uid) != 0 ||
            getresuid(&r, &e, &s) != 0 || r == 0 || e == 0 || s == 0)
            _exit(1);      /* never kill(-1) as root */
        kill(-1, SIGKILL); /* skips the caller itself */
        _exit(0);
    }
    if (p > 0)
        while (waitpid(p, &status, 0) < 0 && errno == EINTR)
            ;
}

static void reap_all(pid_t main_pid, report_t *rep, bool *main_done, struct rusage *main_ru)
{
    int status;
    struct rusage ru;
    pid_t p;

    while ((p = wait4(-1, &status, WNOHANG | __WALL, &ru)) > 0) {
        if (p == main_pid && !*main_done) {
            *main_done = true;
            *main_ru = ru;
            if (WIFEXITED(status)) {
                rep->exit_code = WEXITSTATUS(status);
                rep->signal = 0;
            } else if (WIFSIGNALED(status)) {
                rep->exit_code = -1;
                rep->signal = WTERMSIG(status);
            }
        }
    }
}

/* True when no child is left: as a subreaper we inherit every orphan of the run, so no child
 * also means no descendant at all (and nobody left who could fork). */
static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG | __WALL) < 0 && errno == ECHILD;
}

static void kill_everything(const opts_t *o, pid_t main_pid, report_t *rep, bool *main_done,
                            struct rusage *main_ru)
{
    int64_t deadline = cg_now_ms() + KILL_BUDGET_MS;

    for (;;) {
        reap_all(main_pid, rep, main_done, main_ru);
        /* The common case - the program ended and left nothing - costs no fork and no scan:
         * no child means no descendant, and the slot's uid runs nothing else (the executor
         * clears every slot uid when it starts, and slots are never shared). */
        if (*main_done && no_children())
            break;
        if (g_pid1) {
            /* The first process of a pid namespace: kill(-1) reaches every other process in
             * it and nothing outside - whatever uid, session or group they run as. */
            kill(-1, SIGKILL);
        } else if (o->drop) {
            kill_uid_once(o);
        } else {
            kill(-main_pid, SIGKILL);
            kill_descendants(getpid(), 0);
        }
        reap_all(main_pid, rep, main_done, main_ru);
        if (*main_done && no_children() && (g_pid1 || !o->drop || count_uid(o->uid) == 0))
            break;
        if (cg_now_ms() > deadline)
            break;
        usleep(2000);
    }
    reap_all(main_pid, rep, main_done, main_ru);
}

/* ---- what a run leaves in shared places ---- */

/* Any owner, for clean_dir(). */
#define ANY_UID ((uid_t)-1)

/* Removes what uid (or anybody: ANY_UID) owns directly under dir (recursively, never following
 * a symlink). */
static void clean_dir(const char *dir, uid_t uid)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            (uid != ANY_UID && st.st_uid != uid))
            continue;
        if (S_ISDIR(st.st_mode))
            (void)workdir_remove(dir, de->d_name);
        else
            (void)unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* Removes the SysV IPC objects (shared memory, message queues, semaphores) that uid owns or
 * created, as listed in /proc/sysvipc/<kind>. */
static void clean_ipc(const char *kind, uid_t uid)
{
    char path[64], line[512];
    FILE *f;

    snprintf(path, sizeof path, "/proc/sysvipc/%s", kind);
    f = fopen(path, "re");
    if (!f)
        return;
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned long v[12] = {0};
        int n = sscanf(line, "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]);
        int id = (int)v[1];
        bool mine;
        if (!strcmp(kind, "shm")) /* key shmid perms size cpid lpid nattch uid gid cuid cgid */
            mine = n >= 10 && (v[7] == uid || v[9] == uid);
        else if (!strcmp(kind, "msg")) /* key msqid perms cbytes qnum lspid lrpid uid gid cuid */
            mine = n >= 10 && (v[7] == uid || v[9] == uid);
        else /* sem: key semid perms nsems uid gid cuid cgid */
            mine = n >= 7 && (v[4] == uid || v[6] == uid);
        if (!mine)
            continue;
        if (!strcmp(kind, "shm"))
            shmctl(id, IPC_RMID, NULL);
        else if (!strcmp(kind, "msg"))
            msgctl(id, IPC_RMID, NULL);
        else
            semctl(id, 0, IPC_RMID);
    }
    fclose(f);
}

/* True when /proc/sysvipc lists any object of uid (owner or creator). */
static bool ipc_objects_of(uid_t uid)
{
    static const char *const kinds[] = {"shm", "msg", "sem"};

    for (int k = 0; k < 3; k++) {
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/sysvipc/%s", kinds[k]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        bool found = false;
        if (fgets(line, sizeof line, f))
            while (!found && fgets(line, sizeof line, f)) {
                unsigned long v[8] = {0};
                int n = sscanf(line, "%lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3],
                               &v[4], &v[5], &v[6], &v[7]);
                /* shm/msg: uid is column 8; sem: column 5. A loose check is enough here:
                 * clean_ipc() decides precisely. */
                for (int i = 4; i < n; i++)
                    if (v[i] == uid)
                        found = true;
            }
        fclose(f);
        if (found)
            return true;
    }
    return false;
}

/* After every process of the slot uid is gone: nothing it made may outlive the run. */
static void clean_shared_places(uid_t uid, gid_t gid)
{
    static const char *const dirs[] = {"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", NULL};

    for (int i = 0; dirs[i]; i++)
        clean_dir(dirs[i], uid);
    /* IPC_RMID needs the owner's uid or CAP_SYS_ADMIN, which a container's root does not have:
     * remove the objects as the slot uid itself. Cheap when there are none (one read). */
    if (!ipc_objects_of(uid))
        return;
    int status;
    pid_t p = fork();
    if (p == 0) {
        if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
            _exit(1);
        clean_ipc("shm", uid);
        clean_ipc("msg", uid);
        clean_ipc("sem", uid);
        _exit(0);
    }
    if (p > 0)
        while (waitpid(p, &status, 0) < 0 && errno == EINTR)
            ;
}

/* In a box (serve mode, pid 1 of the slot's pid namespace, root, in the slot's own IPC
 * namespace): every place a program could write outside its work dir belongs to this slot
 * alone, so everything in it goes, whoever owns it now - an object given away with IPC_SET or
 * chown is removed all the same. Cheap when there is nothing: a few reads. */
static void clean_box(void)
{
    static const char *const kinds[] = {"shm", "msg", "sem"};

    for (int i = 0; slotns_private_dirs[i]; i++)
        clean_dir(slotns_private_dirs[i], ANY_UID);
    for (int k = 0; k < 3; k++) {
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/sysvipc/%s", kinds[k]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(line, sizeof line, f)) /* header */
            while (fgets(line, sizeof line, f)) {
                long key, id;
                if (sscanf(line, "%ld %ld", &key, &id) != 2)
                    continue;
                if (k == 0)
                    shmctl((int)id, IPC_RMID, NULL);
                else if (k == 1)
                    msgctl((int)id, IPC_RMID, NULL);
                else
                    semctl((int)id, 0, IPC_RMID);
            }
        fclose(f);
    }
}

/* ---- report ---- */

static void write_report(int fd, const report_t *r)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "{\"exitCode\":%d,\"signal\":%d,\"cpuMs\":%lld,\"wallMs\":%lld,"
                     "\"maxrssKb\":%lld,\"timedOut\":%s,\"killed\":%s,\"oomKilled\":%s,"
                     "\"peakKb\":%lld}\n",
                     r->exit_code, r->signal, (long long)r->cpu_ms, (long long)r->wall_ms,
                     (long long)r->maxrss_kb, r->timed_out ? "true" : "false",
                     r->killed ? "true" : "false", r->oom_killed ? "true" : "false",
                     (long long)r->peak_kb);
    (void)cg_write_all(fd, buf, (size_t)n);
}

static void write_error(int fd, const char *msg)
{
    char stage[64], buf[320];
    const char *colon = strchr(msg, ':');
    size_t n = colon ? (size_t)(colon - msg) : strlen(msg);

    snprintf(stage, sizeof stage, "%.*s", (int)(n < 63 ? n : 63), msg);
    /* msg comes from strerror and our own stage names: no characters to escape. */
    int len = snprintf(buf, sizeof buf, "{\"error\":\"%s\",\"stage\":\"%s\",\"exitCode\":127}\n",
                       msg, stage);
    (void)cg_write_all(fd, buf, (size_t)len);
}

static int64_t tv_ms(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The signals a run waits for: a child ended, a stop request (SIGTERM/SIGINT/SIGHUP in one-shot
 * use; in serve mode SIGRTMIN carrying the run's sequence number, see serve()). */
static void wait_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGALRM);
    sigaddset(set, SIGRTMIN);
}

static void report_error(const opts_t *o, const char *msg)
{
    if (o->status_fd >= 0)
        write_error(o->status_fd, msg);
}

/* Is this signal a stop request for the run with sequence number seq? */
static bool is_stop(int sig, const siginfo_t *si, long seq)
{
    /* As the first process of the slot's pid namespace, a stop comes from outside it (our
     * relay, si_pid 0 here): a program of the same kernel uid (unprivileged runtime) could
     * otherwise queue a stop for the next student's run. */
    if (g_pid1 && si->si_pid != 0)
        return false;
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
        return true;
    return sig == SIGRTMIN && seq >= 0 && si->si_value.sival_int == (int)seq;
}

/*
 * One run. fds 0, 1, 2 are the program's stdio and o->status_fd the report's; the signals of
 * set are blocked (old is the mask the program gets) and we are a child subreaper.
 */
static void run_once(opts_t *o, const sigset_t *set, const sigset_t *old)
{
    report_t rep = {.exit_code = -1};
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
        if (sig != SIGCHLD && is_stop(sig, &si, o->seq) && (sig == SIGRTMIN || o->seq < 0))
            rep.killed = true;
    if (rep.killed) {
        if (o->status_fd >= 0)
            write_report(o->status_fd, &rep);
        return;
    }
    if (pipe2(errp, O_CLOEXEC) != 0) {
        snprintf(errmsg, sizeof errmsg, "pipe: %s", strerror(errno));
        report_error(o, errmsg);
        return;
    }
    int cgfd = -1, memfd = -1;
    int64_t ooms_before = 0;
    if (g_mem_fd >= 0 && o->cgroup_mb > 0) {
        /* Serve mode: we live in the slot's cgroup; the program is born there. */
        int rc = cg_set_memory(g_mem_fd, o->cgroup_mb);
        if (rc != 0) {
            snprintf(errmsg, sizeof errmsg, "slot: cannot set the memory limit: %s", strerror(-rc));
            report_error(o, errmsg);
            goto out_pipe;
        }
        memfd = g_mem_fd;
    } else if (o->cgroup) {
        cgfd = cg_prepare(o, &memfd);
        if (cgfd < 0) {
            snprintf(errmsg, sizeof errmsg, "cgroup: %s: %s", o->cgroup, strerror(errno));
            report_error(o, errmsg);
            goto out_pipe;
        }
    }
    if (memfd >= 0)
        ooms_before = cg_oom_kills(memfd);
    if (g_pids_fd >= 0 && o->nproc > 0) {
        /* The run's tasks (processes and threads) with this launcher and its parent. */
        char val[32];
        snprintf(val, sizeof val, "%ld", o->nproc + 2);
        int rc = cg_write_at(g_pids_fd, "pids.max", val);
        if (rc != 0) {
            snprintf(errmsg, sizeof errmsg, "slot: cannot set the task limit: %s", strerror(-rc));
            report_error(o, errmsg);
            goto out_pipe;
        }
    }
    int64_t t0 = cg_now_ms();
    pid = fork();
    if (pid < 0) {
        snprintf(errmsg, sizeof errmsg, "fork: %s", strerror(errno));
        report_error(o, errmsg);
        if (cgfd >= 0)
            close(cgfd);
        goto out_pipe;
    }
    if (pid == 0) {
        close(errp[0]);
        if (o->status_fd >= 0)
            close(o->status_fd);
        run_child(o, errp[1], old, cgfd);
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
    /* The child only makes system calls before exec, but none of them may hang us: wait no
     * longer than the run's own deadline. */
    {
        struct pollfd pfd = {.fd = errp[0], .events = POLLIN};
        int64_t left;
        n = -1;
        while ((left = t0 + o->wall_ms - cg_now_ms()) > 0) {
            int r = poll(&pfd, 1, (int)(left > INT_MAX ? INT_MAX : left));
            if (r < 0 && errno == EINTR)
                continue;
            if (r > 0)
                do
                    n = read(errp[0], errmsg, sizeof errmsg - 1);
                while (n < 0 && errno == EINTR);
            break;
        }
        if (n < 0) /* no word before the deadline: the loop below counts it as a time-out */
            n = 0;
    }
    close(errp[0]);
    if (n > 0) {
        errmsg[n] = '\0';
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        report_error(o, errmsg);
        return;
    }

    int64_t deadline = t0 + o->wall_ms;
    while (!main_done) {
        int64_t left = deadline - cg_now_ms();
        struct timespec ts;
        if (left <= 0) {
            rep.timed_out = true;
            break;
        }
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (left % 1000) * 1000000L;
        sig = sigtimedwait(set, &si, &ts);
        if (sig == SIGCHLD) {
            reap_all(pid, &rep, &main_done, &main_ru);
        } else if (sig > 0 && is_stop(sig, &si, o->seq)) {
            rep.killed = true;
            break;
        }
    }
    if (main_done)
        rep.wall_ms = cg_now_ms() - t0;
    kill_everything(o, pid, &rep, &main_done, &main_ru);
    if (g_pid1)
        clean_box();
    else if (o->drop)
        clean_shared_places(o->uid, o->gid);
    if (memfd >= 0) {
        int64_t ooms = cg_oom_kills(memfd);
        int64_t peak = cg_read(memfd, "memory.max_usage_in_bytes", NULL);
        rep.oom_killed = ooms > ooms_before && ooms_before >= 0;
        rep.peak_kb = peak > 0 ? peak / 1024 : 0;
        if (memfd != g_mem_fd)
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
    return;
out_pipe:
    close(errp[0]);
    close(errp[1]);
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
static int become_pid1(int ctl)
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
        g_pid1 = true;
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
 * Serve mode: launcher --serve --control-fd N [--ns-fds N] [--cgroup DIR] [--pids-cgroup DIR]
 *
 * One long-lived launcher per slot, started by the executor, so that a run costs the program's
 * own process and nothing else: no executor fork, no launcher exec. It enters the slot's
 * namespaces once, becomes a child subreaper, and then takes one run at a time from the control
 * socket (SOCK_SEQPACKET): a message holds the run's options exactly as on the command line
 * (NUL-separated, "--seq N" among them, no --ns-fds) and carries four descriptors - the
 * program's stdin, stdout, stderr and the status pipe. It runs it as one-shot use does, writes
 * the report, closes the status pipe (the executor's sign that the run is over) and waits for
 * the next. A stop request is SIGRTMIN queued with the run's sequence number (sigqueue), so a
 * late stop for an earlier run never hits the next. EOF on the control socket ends it.
 */
static int serve(int argc, char **argv)
{
    static char inline_buf[32768]; /* runner.c: LAUNCHER_INLINE_MAX */
    char *args[512];
    int ctl = -1, ns = -1;
    const char *mem_cg = NULL, *pids_cg = NULL;
    sigset_t set, old;

    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--control-fd"))
            ctl = (int)num_arg(argv[i], argv[i + 1]);
        else if (!strcmp(argv[i], "--ns-fds"))
            ns = (int)num_arg(argv[i], argv[i + 1]);
        else if (!strcmp(argv[i], "--cgroup"))
            mem_cg = argv[i + 1];
        else if (!strcmp(argv[i], "--pids-cgroup"))
            pids_cg = argv[i + 1];
        else
            usage("--serve takes --control-fd N [--ns-fds N] [--cgroup DIR] [--pids-cgroup DIR]");
    }
    if (ctl < 0)
        usage("--serve needs --control-fd");
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
    wait_set(&set);
    sigprocmask(SIG_BLOCK, &set, &old);
    /* The slot's cgroups first (their files are not visible inside the box): joined once, so
     * that every program is born in them - no migration per run. */
    if ((mem_cg && (g_mem_fd = cg_join(mem_cg)) < 0) ||
        (pids_cg && (g_pids_fd = cg_join(pids_cg)) < 0)) {
        fprintf(stderr, "launcher: cannot join the slot's cgroup %s: %s\n",
                g_mem_fd < 0 ? mem_cg : pids_cg, strerror(errno));
        return 2;
    }
    if (ns >= 0) {
        const char *stage = geteuid() == 0 ? enter_slot_namespaces(ns) : "setns (needs root)";
        if (stage) {
            fprintf(stderr, "launcher: %s: %s\n", stage, strerror(errno));
            return 2;
        }
        int rc = become_pid1(ctl);
        if (rc != 0)
            return rc;
    }
    for (;;) {
        union {
            char b[CMSG_SPACE(5 * sizeof(int))];
            struct cmsghdr align;
        } cbuf;
        struct iovec iov = {.iov_base = inline_buf, .iov_len = sizeof inline_buf - 1};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cbuf.b,
                            .msg_controllen = sizeof cbuf.b};
        int fds[5], nfd = 0, argc2 = 0;
        char *buf = inline_buf, *big = NULL;
        ssize_t n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);

        if (n == 0)
            return 0; /* the executor is gone */
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("launcher: recvmsg");
            return 1;
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
        if (nfd == 5) {
            /* A long request came in a memfd (runner.c keeper_send). */
            struct stat st;
            if (fstat(fds[4], &st) == 0 && st.st_size > 0 && st.st_size < (8 << 20) &&
                (big = malloc((size_t)st.st_size + 1)) != NULL &&
                pread(fds[4], big, (size_t)st.st_size, 0) == st.st_size) {
                buf = big;
                n = st.st_size;
            } else {
                n = 0;
            }
            close(fds[4]);
            nfd = 4;
        }
        buf[n] = '\0';
        args[argc2++] = argv[0];
        for (char *p = buf; p < buf + n && argc2 < (int)(sizeof args / sizeof args[0]) - 1;
             p += strlen(p) + 1)
            args[argc2++] = p;
        args[argc2] = NULL;
        if (nfd != 4 || n == 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            fprintf(stderr, "launcher: a run request without its four descriptors\n");
            for (int j = 0; j < nfd; j++)
                close(fds[j]);
            free(big);
            continue;
        }
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
        opts_t o;
        parse_opts(&o, argc2, args);
        if (o.ns_fd >= 0 || o.status_fd != 3)
            usage("a served run takes neither --ns-fds nor --status-fd");
        run_once(&o, &set, &old);
        free(big); /* parse_opts pointed into it: o is done with */
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

int main(int argc, char **argv)
{
    opts_t o;
    sigset_t set, old;

    if (argc > 1 && !strcmp(argv[1], "--serve"))
        return serve(argc, argv);
    parse_opts(&o, argc, argv);
    if (fcntl(o.status_fd, F_GETFD) < 0)
        o.status_fd = -1; /* no report wanted (manual use) */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        perror("launcher: subreaper");
        return 2;
    }
    wait_set(&set);
    sigprocmask(SIG_BLOCK, &set, &old);
    /* As a serving launcher does: the cgroup joined before the box hides it, then the box,
     * with a pid namespace of the run's own. */
    if (o.cgroup) {
        if ((g_mem_fd = cg_join(o.cgroup)) < 0) {
            char msg[PATH_MAX + 64];
            snprintf(msg, sizeof msg, "cgroup: %s: %s", o.cgroup, strerror(errno));
            report_error(&o, msg);
            return 0;
        }
        o.cgroup = NULL;
    }
    if (o.ns_fd >= 0) {
        const char *stage = o.drop ? enter_slot_namespaces(o.ns_fd) : "setns";
        if (stage) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s: %s", stage,
                     o.drop ? strerror(errno) : "namespaces need root and a slot uid");
            report_error(&o, msg);
            return 0;
        }
        o.ns_fd = -1;
        int rc = become_pid1(-1);
        if (rc != 0)
            return rc;
    }
    run_once(&o, &set, &old);
    return 0;
}
