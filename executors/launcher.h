/*
 * launcher.h - the parts of the sandbox launcher (build/launcher, a static libc-only program;
 * see launcher.c for its usage and theory of operation), shared between its files:
 *
 *   launcher.c        main, one-shot options, one run (fork, wait, kill, report)
 *   launcher_child.c  the child between fork and exec (limits, uid drop, seccomp, exec)
 *   launcher_reap.c   reaping the run's processes and killing what it left
 *   launcher_clean.c  removing what a run left in shared places (tmp dirs, SysV IPC)
 *   launcher_serve.c  serve mode: the control socket loop, the slot's namespaces, the pid-1 relay
 *   launcher_zygote.c build/launcher-py only: Python runs fork from a pre-initialised interpreter
 *                     (build/launcher links launcher_nozygote.c: every run is exec'd)
 *
 * Ownership: an opts_t's request (runreq_t) points into the argv it was parsed from (one-shot
 * use) or into the store its served request was decoded into (serve_one frees it after the
 * run). launcher_slot is set once at start and read everywhere after; the launcher is
 * single-threaded.
 */
#ifndef CG_LAUNCHER_H
#define CG_LAUNCHER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "runreq.h"

#include "workdir.h"

#define MAX_ENV 64
#define KILL_BUDGET_MS 3000

/* One run as the launcher takes it: the request (runreq.h) and what this launcher makes of it
 * where it runs. */
typedef struct {
    runreq_t rq;
    bool drop;          /* rq.ids, and we are root: the run drops to rq.uid/rq.gid */
    int status_fd;      /* where the report goes, -1 = nowhere */
    int ns_fd;          /* one-shot: first of the slot's namespace fds, or -1 */
    const char *cgroup; /* one-shot: the slot's memory cgroup, or NULL */
} opts_t;

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
/* What this launcher requires of a request where it runs (uid drop only as root, never to 0;
 * a cgroup only with a drop and a limit). Sets o->drop. 0, or -EINVAL with a reason in err. */
int launcher_settle(opts_t *o, char *err, size_t errlen);
void launcher_wait_set(sigset_t *set);
void launcher_run_once(opts_t *o, const sigset_t *set, const sigset_t *old);
void launcher_report_error(const opts_t *o, const char *msg);

/* launcher_child.c: does not return (exec, or _exit(127) with the reason on errfd). */
void launcher_child_exec(const opts_t *o, int errfd, const sigset_t *oldmask, int cgfd);

/* launcher_reap.c */
void launcher_reap_all(pid_t main_pid, runreq_report_t *rep, bool *main_done,
                       struct rusage *main_ru);
void launcher_reap_kill_all(const opts_t *o, pid_t main_pid, runreq_report_t *rep, bool *main_done,
                            struct rusage *main_ru);
/* Calls fn(child, arg) for every child of pid that /proc/<pid>/task/<tid>/children lists (any
 * of its threads), while fn returns true. Returns -1 when pid's tasks cannot be listed. */
int launcher_each_child(pid_t pid, bool (*fn)(pid_t child, void *arg), void *arg);

/* launcher_clean.c */
void launcher_clean_shared(uid_t uid, gid_t gid);
void launcher_clean_box(void);

/* launcher_zygote.c / launcher_nozygote.c. init: once, in serve mode before the first run;
 * 0, or -1 with the reason in *why (runs are then exec'd). takes: may this run fork from the
 * zygote (it was initialised, the request allows it, its argv is the zygote's command).
 * before/after_fork_parent: around the fork of such a run. run: in the run's child after the
 * sandbox set-up, instead of execve; does not return (the program's exit, or _exit(127) with
 * the reason on errfd when the run could not start). */
extern const bool launcher_has_zygote; /* true in build/launcher-py */
int launcher_zygote_init(const char **why);
void launcher_zygote_rename(char **argv); /* launcher-py shows as "launcher" (ps, comm) */
bool launcher_zygote_takes(const runreq_t *rq);
void launcher_zygote_before_fork(void);
void launcher_zygote_after_fork_parent(void);
void launcher_zygote_run(const opts_t *o, int errfd) __attribute__((noreturn));

/* launcher_serve.c */
const char *launcher_serve_enter_ns(int fd);
int launcher_serve_pid1(int ctl);
int launcher_serve(int argc, char **argv);

#endif
