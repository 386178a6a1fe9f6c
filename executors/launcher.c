/*
 * launcher.c - the per-run sandbox launcher: `launcher [options] -- PROGRAM [ARG...]`.
 *
 * The executor execs this small program for every compile and every run. It does what libuv's
 * uv_spawn() cannot (rlimits, a uid/gid drop, no_new_privs, a clean environment), enforces the
 * wall-clock limit, kills everything the run leaves behind, and writes the outcome with rusage as
 * one JSON line to the status fd. It links libc and cg_util only.
 *
 * Theory of operation
 *
 * Processes. The launcher (L) makes itself a child subreaper, blocks SIGCHLD, SIGTERM, SIGINT,
 * SIGHUP, SIGQUIT and SIGALRM, and forks the main child (C). C restores default dispositions,
 * becomes leader of a process group of its own, closes every fd >= 3, sets the rlimits, drops to
 * the slot uid/gid (only when L runs as root), sets no_new_privs and a parent-death SIGKILL,
 * changes directory, unblocks all signals and execs PROGRAM with exactly the --env environment.
 * Because L is a subreaper, every process the run creates stays below L: when a process dies, its
 * children are reparented to L, never to init. "L has no child left" therefore means "nothing of
 * this run is alive", whatever the program did (background jobs, double forks, setsid()).
 *
 * Pipes. C reports a failure before exec as {stage, errno} on a CLOEXEC pipe and _exit(127)s; a
 * successful exec closes the pipe. L reads the pipe (non-blocking) only after C has been reaped:
 * 8 bytes mean "failed at stage", nothing means the exec succeeded. The program never holds the
 * write end. The report goes to the status fd (default 3), the only fd >= 3 that L keeps open; it
 * is CLOEXEC and C closes it anyway.
 *
 * Waiting. No signal handlers: L takes its blocked signals synchronously with sigtimedwait(), the
 * remaining wall time as timeout. SIGCHLD -> reap with wait4(-1, WNOHANG) until nothing is left
 * to reap, recording C's status and rusage when C comes by; SIGTERM/SIGINT/SIGHUP/SIGQUIT ->
 * "killed"; timeout -> "timedOut".
 *
 * Killing. When C has exited, timed out or L was told to stop, L kills everything and reaps until
 * wait4() reports no children (bounded, ~2 s):
 *  - with a uid drop, a fresh killer child drops to the slot uid/gid and calls kill(-1, SIGKILL):
 *    as that uid it can only hit the slot's processes, setsid()'ed and double-forked ones
 *    included; repeated because a fork bomb forks during the kill. Linux's kill(-1) returns
 *    success even when it signalled nothing, so the stop condition is "L has no child left".
 *  - without a uid drop (or when the killer cannot drop), L kills C's process group while C is
 *    unreaped (its pid, hence its pgid, cannot be recycled before L reaps it) and walks the tree
 *    below itself through /proc. /proc/PID/task/TID/children is not built into every kernel, so
 *    L reads the ppid of every /proc/PID/stat. Each descendant is pinned with pidfd_open() and
 *    accepted only if, after that, its ppid is still a verified ancestor that is still alive: a
 *    recycled pid is never signalled.
 *
 * Trust. Nothing from the program is trusted: L reads only kernel data (wait4, /proc) and the
 * 8-byte record C wrote before exec. The --cwd change and the PATH lookup happen in C after the
 * uid drop, so the kernel checks them with the slot's rights. Without a uid drop the program runs
 * as L's uid and can signal L; only a uid drop (or a pid namespace around L) prevents that.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"

#define LAUNCHER_MAX_ENV 256
#define LAUNCHER_KILL_MS 2000  /* bound on killing and reaping what a run left behind */
#define LAUNCHER_KILLER_MS 200 /* bound on one killer process (the slot uid may SIGSTOP it) */
#define LAUNCHER_DAY_MS 86400000LL
#define LAUNCHER_MAX_MB (1LL << 22) /* 4 TiB */

/* Where a failure happened; the names are the API strings of "stage". */
typedef enum {
    ST_SUBREAPER, ST_PIPE, ST_FORK, ST_SIGNALS, ST_SETPGID, ST_FDS, ST_RLIMIT,
    ST_SETGROUPS, ST_SETGID, ST_SETUID, ST_PRCTL, ST_CHDIR, ST_EXEC, ST_COUNT
} stage_t;

static const char *const stage_names[ST_COUNT] = {
    "subreaper", "pipe", "fork", "signals", "setpgid", "fds", "rlimit",
    "setgroups", "setgid", "setuid", "prctl", "chdir", "exec",
};

/* One launcher run: created by main(), lives until exit, single-threaded. */
typedef struct {
    /* options; -1 = not given */
    int64_t uid, gid, wall_ms, cpu_ms, as_mb, fsize_mb, nofile, nproc, stack_mb, status_fd;
    const char *cwd;
    char *env[LAUNCHER_MAX_ENV + 1]; /* NULL-terminated; points into argv */
    int nenv;
    char **argv; /* PROGRAM [ARG...], NULL-terminated, points into main's argv */
    bool drop;   /* running as root with --uid/--gid: C drops ids, the killer is used */
    /* state */
    pid_t self, child;
    int err_rd;
    sigset_t sigs;
    int64_t t_fork, t_exit;
    bool reaped, timed_out, killed;
    int wstatus;
    struct rusage ru;
} launcher_t;

/* The option table drives parsing and --help. */
typedef enum { OPT_NUM, OPT_STR, OPT_ENV, OPT_HELP } opt_kind_t;
typedef struct {
    const char *name;
    opt_kind_t kind;
    int64_t min, max;
    size_t off; /* of the int64_t (OPT_NUM) or const char * (OPT_STR) field */
    const char *help;
} opt_t;

#define NUM(n, f, lo, hi, h) {n, OPT_NUM, lo, hi, offsetof(launcher_t, f), h}
static const opt_t opts[] = {
    NUM("uid", uid, 0, UINT32_MAX - 1, "drop to this uid (root only; else must be the current uid)"),
    NUM("gid", gid, 0, UINT32_MAX - 1, "drop to this gid (root only; else must be the current gid)"),
    {"cwd", OPT_STR, 0, 0, offsetof(launcher_t, cwd), "chdir here (after the uid drop)"},
    NUM("wall-ms", wall_ms, 1, LAUNCHER_DAY_MS, "wall-clock limit (required)"),
    NUM("cpu-ms", cpu_ms, 1, LAUNCHER_DAY_MS, "RLIMIT_CPU: soft ceil(N/1000) s, hard soft+1"),
    NUM("as-mb", as_mb, 0, LAUNCHER_MAX_MB, "RLIMIT_AS in MiB (0 = no limit)"),
    NUM("fsize-mb", fsize_mb, 0, LAUNCHER_MAX_MB, "RLIMIT_FSIZE in MiB"),
    NUM("nofile", nofile, 1, 1 << 20, "RLIMIT_NOFILE"),
    NUM("nproc", nproc, 1, 1 << 22, "RLIMIT_NPROC (only with a uid drop; counts threads)"),
    NUM("stack-mb", stack_mb, 1, 1 << 16, "RLIMIT_STACK in MiB"),
    {"env", OPT_ENV, 0, 0, 0, "K=V, repeatable: the program's whole environment"},
    NUM("status-fd", status_fd, 3, INT_MAX, "fd for the JSON report (default 3)"),
    {"help", OPT_HELP, 0, 0, 0, "this text"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: launcher [options] -- PROGRAM [ARG...]\n");
    for (size_t i = 0; i < NOPTS; i++)
        fprintf(f, "  --%-10s %s %s\n", opts[i].name, opts[i].kind == OPT_HELP ? "  " : "N",
                opts[i].help);
}

static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, "launcher: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    return -1;
}

static int parse_num(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Checks what the options mean together; decides whether ids are dropped. */
static int check_args(launcher_t *L)
{
    if (L->wall_ms < 0)
        return bad_usage("--wall-ms is required", NULL);
    if (fcntl((int)L->status_fd, F_GETFD) < 0)
        return bad_usage("the status fd is not open", NULL);
    if (geteuid() == 0) {
        if ((L->uid < 0) != (L->gid < 0))
            return bad_usage("give --uid and --gid together", NULL);
        if (L->uid == 0 || L->gid == 0)
            return bad_usage("uid/gid 0 is not a sandbox identity", NULL);
        L->drop = L->uid > 0;
        return 0;
    }
    if (L->uid >= 0 && ((uid_t)L->uid != getuid() || (uid_t)L->uid != geteuid()))
        return bad_usage("--uid other than the current uid needs root", NULL);
    if (L->gid >= 0 && ((gid_t)L->gid != getgid() || (gid_t)L->gid != getegid()))
        return bad_usage("--gid other than the current gid needs root", NULL);
    return 0;
}

/* Fills L from the command line. Returns 0, 1 after --help, or -1 after a usage message. */
static int parse_args(launcher_t *L, int argc, char **argv)
{
    struct option lopts[NOPTS + 1];
    for (size_t i = 0; i < NOPTS; i++)
        lopts[i] = (struct option){opts[i].name, opts[i].kind == OPT_HELP ? no_argument
                                                                          : required_argument,
                                   NULL, 256 + (int)i};
    memset(&lopts[NOPTS], 0, sizeof(lopts[NOPTS]));

    int c;
    while ((c = getopt_long(argc, argv, "+", lopts, NULL)) != -1) {
        if (c < 256 || c >= 256 + (int)NOPTS)
            return bad_usage("unknown option", NULL);
        const opt_t *o = &opts[c - 256];
        switch (o->kind) {
        case OPT_NUM:
            if (parse_num(optarg, o->min, o->max, (int64_t *)((char *)L + o->off)) < 0)
                return bad_usage("bad number for an option", argv[optind - 2]);
            break;
        case OPT_STR:
            *(const char **)((char *)L + o->off) = optarg;
            break;
        case OPT_ENV:
            if (L->nenv == LAUNCHER_MAX_ENV)
                return bad_usage("too many --env", NULL);
            if (optarg[0] == '=' || !strchr(optarg, '='))
                return bad_usage("--env wants K=V", optarg);
            L->env[L->nenv++] = optarg;
            break;
        case OPT_HELP:
            usage(stdout);
            return 1;
        }
    }
    if (optind < 2 || strcmp(argv[optind - 1], "--") != 0 || optind >= argc)
        return bad_usage("expected -- PROGRAM [ARG...]", NULL);
    L->argv = &argv[optind];
    L->env[L->nenv] = NULL;
    return check_args(L);
}

/* Closes every fd >= lo except keep. Returns 0 or -1 with errno set. */
static int close_fds(int lo, int keep)
{
    int rc = 0;
    if (keep > lo)
        rc = close_range((unsigned)lo, (unsigned)keep - 1, 0);
    if (rc == 0)
        rc = close_range((unsigned)(keep >= lo ? keep + 1 : lo), ~0U, 0);
    if (rc == 0 || errno != ENOSYS)
        return rc;
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1 << 20) ? (int)rl.rlim_cur
                                                                             : (1 << 20);
    for (int fd = lo; fd < max; fd++)
        if (fd != keep)
            close(fd);
    return 0;
}

/*** The main child (C): from fork to exec ***/

static void __attribute__((noreturn)) child_fail(int fd, stage_t st)
{
    int rec[2] = {(int)st, errno};
    if (write(fd, rec, sizeof(rec)) < 0) {
        /* nobody to tell */
    }
    _exit(127);
}

/* Sets one limit, never above the current hard limit (raising it would need privileges). */
static int set_limit(int res, int64_t soft, int64_t hard)
{
    struct rlimit rl;
    if (getrlimit(res, &rl) < 0)
        return -1;
    if (rl.rlim_max == RLIM_INFINITY || (rlim_t)hard < rl.rlim_max)
        rl.rlim_max = (rlim_t)hard;
    rl.rlim_cur = (rlim_t)soft < rl.rlim_max ? (rlim_t)soft : rl.rlim_max;
    return setrlimit(res, &rl);
}

static void child_limits(const launcher_t *L, int fd)
{
    int rc = set_limit(RLIMIT_CORE, 0, 0);
    if (rc == 0 && L->cpu_ms > 0) {
        int64_t s = (L->cpu_ms + 999) / 1000;
        rc = set_limit(RLIMIT_CPU, s, s + 1);
    }
    if (rc == 0 && L->as_mb > 0)
        rc = set_limit(RLIMIT_AS, L->as_mb << 20, L->as_mb << 20);
    if (rc == 0 && L->fsize_mb >= 0)
        rc = set_limit(RLIMIT_FSIZE, L->fsize_mb << 20, L->fsize_mb << 20);
    if (rc == 0 && L->nofile > 0)
        rc = set_limit(RLIMIT_NOFILE, L->nofile, L->nofile);
    if (rc == 0 && L->stack_mb > 0)
        rc = set_limit(RLIMIT_STACK, L->stack_mb << 20, L->stack_mb << 20);
    if (rc == 0 && L->nproc > 0 && L->drop)
        rc = set_limit(RLIMIT_NPROC, L->nproc, L->nproc);
    if (rc < 0)
        child_fail(fd, ST_RLIMIT);
}

/* execve() of PROGRAM, looked up in the PATH of the given environment when it has no '/'. */
static void __attribute__((noreturn)) child_exec(const launcher_t *L, int fd)
{
    const char *prog = L->argv[0], *path = NULL;
    if (strchr(prog, '/')) {
        execve(prog, L->argv, L->env);
        child_fail(fd, ST_EXEC);
    }
    for (int i = 0; i < L->nenv && !path; i++)
        if (strncmp(L->env[i], "PATH=", 5) == 0)
            path = L->env[i] + 5;
    bool eacces = false;
    size_t plen = strlen(prog);
    for (const char *p = path; p && *prog;) {
        const char *colon = strchrnul(p, ':');
        size_t dlen = (size_t)(colon - p);
        char buf[PATH_MAX];
        if (dlen + 1 + plen < sizeof(buf)) {
            memcpy(buf, p, dlen);
            if (dlen)
                buf[dlen++] = '/';
            memcpy(buf + dlen, prog, plen + 1);
            execve(buf, L->argv, L->env);
            if (errno == EACCES)
                eacces = true;
            else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP &&
                     errno != ENAMETOOLONG)
                child_fail(fd, ST_EXEC);
        }
        p = *colon ? colon + 1 : NULL;
    }
    errno = eacces ? EACCES : ENOENT;
    child_fail(fd, ST_EXEC);
}

static void __attribute__((noreturn)) run_child(const launcher_t *L, int fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL); /* fails harmlessly for glibc's reserved signals */
    if (setpgid(0, 0) < 0)
        child_fail(fd, ST_SETPGID);
    if (close_fds(3, fd) < 0)
        child_fail(fd, ST_FDS);
    child_limits(L, fd);
    if (L->drop) {
        if (setgroups(0, NULL) < 0)
            child_fail(fd, ST_SETGROUPS);
        if (setresgid((gid_t)L->gid, (gid_t)L->gid, (gid_t)L->gid) < 0)
            child_fail(fd, ST_SETGID);
        if (setresuid((uid_t)L->uid, (uid_t)L->uid, (uid_t)L->uid) < 0)
            child_fail(fd, ST_SETUID);
    }
    /* After the id change: it clears the parent-death signal. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail(fd, ST_PRCTL);
    if (getppid() != L->self)
        _exit(127); /* L died before the parent-death signal was armed */
    if (L->cwd && chdir(L->cwd) < 0)
        child_fail(fd, ST_CHDIR);
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        child_fail(fd, ST_SIGNALS);
    child_exec(L, fd);
}

/*** The launcher (L): reaping and killing ***/

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Reaps every child that has exited, recording C. Returns whether children remain. */
static bool reap_children(launcher_t *L)
{
    for (;;) {
        int st;
        struct rusage ru;
        pid_t p = wait4(-1, &st, WNOHANG | __WALL, &ru);
        if (p < 0 && errno == EINTR)
            continue;
        if (p <= 0)
            return p == 0; /* 0: children remain, none exited; -1/ECHILD: none left */
        if (p == L->child && !L->reaped) {
            L->reaped = true;
            L->t_exit = cg_now_ms();
            L->wstatus = st;
            L->ru = ru;
        }
    }
}

/* Forks a process that drops to the slot uid/gid and SIGKILLs every process of that uid.
 * Returns 0 when it ran, -1 when it could not be forked or could not drop its ids. */
static int run_killer(const launcher_t *L)
{
    pid_t k = fork();
    if (k < 0)
        return -1;
    if (k == 0) {
        uid_t r, e, s;
        /* As root, kill(-1) would hit the whole machine: verify the drop before killing. */
        if (setgroups(0, NULL) < 0 || setresgid((gid_t)L->gid, (gid_t)L->gid, (gid_t)L->gid) < 0 ||
            setresuid((uid_t)L->uid, (uid_t)L->uid, (uid_t)L->uid) < 0 ||
            getresuid(&r, &e, &s) < 0 || r != (uid_t)L->uid || e != r || s != r || r == 0)
            _exit(2);
        _exit(kill(-1, SIGKILL) == 0 ? 0 : 1);
    }
    int st = 0;
    pid_t r;
    int64_t end = cg_now_ms() + LAUNCHER_KILLER_MS;
    while ((r = waitpid(k, &st, WNOHANG | __WALL)) == 0 && cg_now_ms() < end)
        nap_ms(1);
    if (r == 0) { /* stopped or stuck: it is our unreaped child, so its pid is safe to kill */
        kill(k, SIGKILL);
        while ((r = waitpid(k, &st, __WALL)) < 0 && errno == EINTR) {
        }
        return 0;
    }
    return r < 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 2) ? -1 : 0;
}

typedef struct {
    pid_t pid, ppid;
    int pfd; /* pidfd once verified as a descendant of L, else -1 */
} proc_t;

/* The ppid field of /proc/PID/stat (after the last ')': comm may contain anything). */
static pid_t read_ppid(pid_t pid)
{
    char path[48], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'), state;
    int ppid;
    if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return ppid;
}

static int cmp_ppid(const void *a, const void *b)
{
    pid_t x = ((const proc_t *)a)->ppid, y = ((const proc_t *)b)->ppid;
    return (x > y) - (x < y);
}

/* Every process of /proc with its ppid, sorted by ppid. Returns a malloc'ed array (the caller
 * frees it) or NULL. */
static proc_t *scan_procs(size_t *count)
{
    DIR *d = opendir("/proc");
    if (!d)
        return NULL;
    size_t n = 0, cap = 0;
    proc_t *v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        pid_t ppid;
        if (*end || pid <= 0 || pid > INT_MAX || (ppid = read_ppid((pid_t)pid)) < 0)
            continue;
        if (n == cap) {
            proc_t *nv = realloc(v, (cap = cap ? cap * 2 : 512) * sizeof(*v));
            if (!nv)
                break;
            v = nv;
        }
        v[n++] = (proc_t){(pid_t)pid, ppid, -1};
    }
    closedir(d);
    if (v)
        qsort(v, n, sizeof(*v), cmp_ppid);
    *count = n;
    return v;
}

/* Pins and verifies the children of `parent` (pidfd ppfd, -1 for L itself) and appends them to
 * queue. Returns -1 when out of fds. */
static int verify_children(proc_t *v, size_t n, pid_t parent, int ppfd, size_t *queue,
                           size_t *nq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].ppid < parent)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && v[i].ppid == parent; i++) {
        int pfd = pidfd_open(v[i].pid, 0);
        if (pfd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                return -1;
            continue;
        }
        /* Opened first, checked after: if the pid was recycled since the scan, its new owner
         * is not a child of a live verified ancestor and is left alone. */
        if (read_ppid(v[i].pid) == parent &&
            (ppfd < 0 || pidfd_send_signal(ppfd, 0, NULL, 0) == 0)) {
            v[i].pfd = pfd;
            queue[(*nq)++] = i;
        } else {
            close(pfd);
        }
    }
    return 0;
}

/* SIGKILLs every descendant of L found through /proc. Returns how many were signalled. */
static int kill_tree(const launcher_t *L)
{
    size_t n = 0, nq = 0;
    proc_t *v = scan_procs(&n);
    size_t *queue = v ? malloc((n + 1) * sizeof(*queue)) : NULL;
    int killed = 0;
    if (!queue)
        goto fail;
    /* Breadth first, all verified before any is killed: a killed parent hands its children to
     * L, which would make them fail the ppid check until the next round. */
    if (verify_children(v, n, L->self, -1, queue, &nq) == 0)
        for (size_t h = 0; h < nq; h++)
            if (verify_children(v, n, v[queue[h]].pid, v[queue[h]].pfd, queue, &nq) < 0)
                break;
    for (size_t h = 0; h < nq; h++) {
        if (pidfd_send_signal(v[queue[h]].pfd, SIGKILL, NULL, 0) == 0)
            killed++;
        close(v[queue[h]].pfd);
    }
fail:
    free(queue);
    free(v);
    return killed;
}

/* Kills everything of the run and reaps until L has no child left, for at most ~2 s. */
static void kill_all(launcher_t *L)
{
    int64_t end = cg_now_ms() + LAUNCHER_KILL_MS;
    for (int round = 0;; round++) {
        bool left = reap_children(L);
        /* With a uid drop the killer runs at least once: defence in depth. */
        if (!left && (round > 0 || !L->drop))
            return;
        if (round > 0) {
            if (cg_now_ms() >= end)
                return;
            nap_ms(round < 20 ? 1 : 5);
        }
        if (!L->reaped) { /* C's pid and pgid cannot be recycled while C is unreaped */
            kill(-L->child, SIGKILL);
            kill(L->child, SIGKILL);
        }
        if (!L->drop || run_killer(L) < 0)
            kill_tree(L);
    }
}

/* Waits for C until the wall deadline or a termination signal. */
static void wait_main(launcher_t *L)
{
    int64_t deadline = L->t_fork + L->wall_ms;
    while (!L->reaped) {
        int64_t left = deadline - cg_now_ms();
        if (left <= 0) {
            L->timed_out = true;
            return;
        }
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        int sig = sigtimedwait(&L->sigs, NULL, &ts);
        if (sig == SIGCHLD) {
            reap_children(L);
        } else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT) {
            L->killed = true;
            return;
        } /* else timeout, EINTR or SIGALRM: loop */
    }
}

static int64_t tv_ms(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Copies s into out as JSON string content (s is from strerror: short, ASCII in C locale). */
static void json_escape(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, size - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* Writes the report line. stage/err: a failure of L itself (stage -1: look at C's pipe).
 * Returns 0 or -1 when the status fd could not be written. */
static int report(launcher_t *L, int stage, int err)
{
    int rec[2];
    if (stage < 0 && L->reaped && read(L->err_rd, rec, sizeof(rec)) == (ssize_t)sizeof(rec) &&
        rec[0] >= 0 && rec[0] < ST_COUNT) {
        stage = rec[0];
        err = rec[1];
    }
    char head[256] = "";
    if (stage >= 0) {
        char msg[160];
        json_escape(msg, sizeof(msg), strerror(err));
        snprintf(head, sizeof(head), "\"error\":\"%s: %s\",\"stage\":\"%s\",", stage_names[stage],
                 msg, stage_names[stage]);
    }
    int code = 127, sig = 0;
    if (L->reaped && WIFEXITED(L->wstatus)) {
        code = WEXITSTATUS(L->wstatus);
    } else if (L->reaped && WIFSIGNALED(L->wstatus)) {
        code = -1;
        sig = WTERMSIG(L->wstatus);
    } else if (L->child > 0) { /* could not be reaped within the kill bound */
        code = -1;
        sig = SIGKILL;
    }
    int64_t cpu = tv_ms(L->ru.ru_utime) + tv_ms(L->ru.ru_stime), wall = 0;
    struct rusage all;
    if (getrusage(RUSAGE_CHILDREN, &all) == 0 && tv_ms(all.ru_utime) + tv_ms(all.ru_stime) > cpu)
        cpu = tv_ms(all.ru_utime) + tv_ms(all.ru_stime);
    if (L->child > 0)
        wall = (L->reaped ? L->t_exit : cg_now_ms()) - L->t_fork;
    char line[512];
    int n = snprintf(line, sizeof(line),
                     "{%s\"exitCode\":%d,\"signal\":%d,\"cpuMs\":%lld,\"wallMs\":%lld,"
                     "\"maxrssKb\":%ld,\"timedOut\":%s,\"killed\":%s}\n",
                     head, code, sig, (long long)cpu, (long long)wall, L->ru.ru_maxrss,
                     L->timed_out ? "true" : "false", L->killed ? "true" : "false");
    return cg_write_all((int)L->status_fd, line, (size_t)n) < 0 ? -1 : 0;
}

/* Everything from the subreaper bit to the end of the run. Returns report()'s result. */
static int launch(launcher_t *L)
{
    int pfd[2];
    L->self = getpid();
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return report(L, ST_SUBREAPER, errno);
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return report(L, ST_PIPE, errno);
    L->err_rd = pfd[0];
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    L->t_fork = cg_now_ms();
    L->child = fork();
    if (L->child < 0) {
        int e = errno;
        L->child = 0;
        return report(L, ST_FORK, e);
    }
    if (L->child == 0)
        run_child(L, pfd[1]);
    close(pfd[1]);
    setpgid(L->child, L->child); /* also done by C; whichever comes first closes the race */
    wait_main(L);
    kill_all(L);
    return report(L, -1, 0);
}

int main(int argc, char **argv)
{
    static launcher_t L = {
        .uid = -1, .gid = -1, .wall_ms = -1, .cpu_ms = -1, .as_mb = -1, .fsize_mb = -1,
        .nofile = -1, .nproc = -1, .stack_mb = -1, .status_fd = 3, .err_rd = -1,
    };
    int rc = parse_args(&L, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    /* The launcher keeps fds 0-2 for the program and the status fd for itself. */
    fcntl((int)L.status_fd, F_SETFD, FD_CLOEXEC);
    close_fds(3, (int)L.status_fd);
    signal(SIGPIPE, SIG_IGN); /* a reader that went away gives EPIPE, not death */
    sigemptyset(&L.sigs);
    sigaddset(&L.sigs, SIGCHLD);
    sigaddset(&L.sigs, SIGTERM);
    sigaddset(&L.sigs, SIGINT);
    sigaddset(&L.sigs, SIGHUP);
    sigaddset(&L.sigs, SIGQUIT);
    sigaddset(&L.sigs, SIGALRM);
    sigprocmask(SIG_BLOCK, &L.sigs, NULL);

    return launch(&L) == 0 ? 0 : 1;
}
