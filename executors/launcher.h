/*
 * launcher.h - the parts of the sandbox launcher (build/launcher, a static libc-only program;
 * see launcher.c for its usage and theory of operation), shared between its files:
 *
 *   launcher.c        main, one-shot options, one run (fork, wait, kill, report)
 *   launcher_child.c  the child between fork and exec (limits, uid drop, seccomp, exec)
 *   launcher_reap.c   reaping the run's processes and killing what it left
 *   launcher_clean.c  removing what a run left in shared places (tmp dirs, SysV IPC)
 *   launcher_serve.c  serve mode: the control socket loop, the slot's namespaces, the pid-1 relay
 *
 * Ownership: an opts_t is filled by the option parser and points into the argv (or the served
 * request's buffer) it was parsed from, which must outlive the run. launcher_slot is set once at
 * start (serve mode) and read everywhere after; the launcher is single-threaded.
 */
#ifndef CG_LAUNCHER_H
#define CG_LAUNCHER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define MAX_ENV 64

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

/* The slot this launcher serves: its cgroups' directory fds (-1 = none), and whether it is the
 * first process of the slot's pid namespace. */
typedef struct {
    int mem_fd;
    int pids_fd;
    bool pid1;
} launcher_slot_t;
extern launcher_slot_t launcher_slot;

/* launcher.c */
void launcher_usage(const char *msg) __attribute__((noreturn));
long launcher_num_arg(const char *flag, const char *v);
void launcher_parse_opts(opts_t *o, int argc, char **argv);
void launcher_wait_set(sigset_t *set);
void launcher_run_once(opts_t *o, const sigset_t *set, const sigset_t *old);
void launcher_report_error(const opts_t *o, const char *msg);

/* launcher_child.c: does not return (exec, or _exit(127) with the reason on errfd). */
void launcher_child_exec(const opts_t *o, int errfd, const sigset_t *oldmask, int cgfd);

/* launcher_reap.c */
void launcher_reap_all(pid_t main_pid, report_t *rep, bool *main_done, struct rusage *main_ru);
void launcher_reap_kill_all(const opts_t *o, pid_t main_pid, report_t *rep, bool *main_done,
                            struct rusage *main_ru);

/* launcher_clean.c */
void launcher_clean_shared(uid_t uid, gid_t gid);
void launcher_clean_box(void);

/* launcher_serve.c */
const char *launcher_serve_enter_ns(int fd);
int launcher_serve_pid1(int ctl);
int launcher_serve(int argc, char **argv);

#endif
