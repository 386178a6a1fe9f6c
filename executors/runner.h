/*
 * runner.h - running jobs on the executor's libuv loop: work dir, compile, runs, output cap,
 * results.
 *
 * A job comes from one EXECUTE frame and belongs to one connection. The runner owns the job
 * (and the parsed frame it points into) from runner_start_job() until it has sent DONE and
 * called the ended callback (the job is freed when that returns). Frames go out through the
 * send callback, which takes ownership of the malloc'ed string. After runner_detach() (the
 * connection is gone) nothing is sent; the job still kills its processes, cleans up, and calls
 * the ended callback with conn == NULL.
 *
 * Threads: everything here runs on the loop's thread.
 */
#ifndef CG_RUNNER_H
#define CG_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "ccache.h"
#include "cxxfast.h"
#include "profiles.h"
#include "protocol.h"
#include "slotcg.h"
#include "slotns.h"

typedef struct rjob rjob_t;

typedef struct {
    uv_loop_t *loop;
    const profile_t *profile;
    const char *launcher;  /* path of build/launcher */
    const char *work_root; /* parent of the per-run dirs */
    int slots;
    uid_t uid_base;          /* slot i runs as uid_base + i (when root) */
    bool drop_uid;           /* running as root: give each slot its own uid */
    const slotns_t *ns;      /* with drop_uid: slot i runs in the namespaces ns[i]; NULL = none */
    const slotcg_t *cg;      /* with drop_uid: slot i's memory and pids cgroups; NULL = none */
    char (*areas)[PATH_MAX]; /* slot i's own work area (its dirs go there); NULL = work_root */
    const char *box;         /* where programs see their slot's area (SLOTNS_BOX); NULL = as we */
    bool userns; /* unprivileged: we are root only in a user namespace of our own; programs run
                    as RUNNER_USERNS_UID in a nested one (launcher --own-userns) and their
                    files stay ours (no chown) */
    int compile_timeout_ms;
    void (*send)(void *conn, char *frame);  /* takes ownership of frame */
    void (*ended)(void *conn, rjob_t *job); /* job finished (conn NULL when detached); the slot
                                               is free and conn may take another job */
    size_t (*queued)(void *conn);           /* bytes waiting to go out on conn */
    ccache_t *ccache;                       /* compiled programs; NULL = no cache */
    const cxxfast_t *fast;                  /* PCH and linker of compiles; NULL = none */
    const char *lang_version;               /* part of the cache key */
    /* Log lines (printf-style); NULL = plain lines on stderr. */
    void (*log)(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void *owner; /* the caller's, returned by runner_owner() */
} runner_cfg_t;

/* Streamed output is paused while the connection holds more than this unsent (backpressure:
 * the program then blocks on its full pipe instead of filling our memory). */
#define RUNNER_QUEUE_HIGH (256u * 1024u)
/* CPU time of an interactive run (its wall clock may be minutes). */
#define RUNNER_INTERACTIVE_CPU_MS 20000
/* With a memory cgroup per slot, the run as a whole (every process, the language runtime's own
 * baseline, page cache, its /tmp files) may use memoryMb plus this; a compile gets the second. */
#define RUNNER_CGROUP_EXTRA_MB CG_RUN_MEMORY_EXTRA_MB
#define RUNNER_COMPILE_CGROUP_MB 1024
/* With less than this left of a job's budget, a run is not started (it could only time out),
 * unless its own timeout is shorter still. */
#define RUNNER_BUDGET_MIN_MS 100

/*
 * The wall clock of the next run of a job with a time budget (cg_execute_t.budget_ms, 0 =
 * none) of which elapsed_ms are spent: the run's own timeout_ms, or what is left of the budget
 * when that is less; 0 when too little is left to start it (RUNNER_BUDGET_MIN_MS).
 */
int runner_budget_wall_ms(int budget_ms, int64_t elapsed_ms, int timeout_ms);

/*
 * How much longer than wall_ms a step may run when its program waited for a CPU (the launcher
 * credits run-queue time, see launcher.c): CG_WALL_CREDIT_PCT percent of wall_ms, cut to what
 * the job's budget (budget_ms, 0 = none, elapsed_ms spent) leaves after wall_ms; never negative.
 */
int runner_wait_credit_ms(int budget_ms, int64_t elapsed_ms, int wall_ms);

/* RLIMIT_STACK of every step, in MiB: the main thread's stack, and glibc's default stack of
 * every other thread (pthread_create, std::thread, Python's threading). 8 MiB is the usual
 * Linux default; a larger one would reserve that much address space per thread. */
#define RUNNER_STACK_MB 8
/* RLIMIT_NOFILE of every step: a Node worker thread holds 4 descriptors of its own (its loop's
 * epoll, eventfd and message port), so 16 workers need ~84 with the main thread's. */
#define RUNNER_NOFILE 256
/* Threads an ordinary program may start under the fallback RLIMIT_AS (no memory cgroup). */
#define RUNNER_AS_THREADS 16
/* glibc gives threads malloc arenas of their own, each reserving 64 MiB of address space (up
 * to 8 per core): under the fallback RLIMIT_AS the run gets at most one besides the main one
 * (this variable in its environment), and room for it. */
#define RUNNER_AS_ARENA_ENV "MALLOC_ARENA_MAX=2"
#define RUNNER_AS_ARENA_MB 64

/*
 * RLIMIT_AS in MiB of a run where the slot has no memory cgroup (executor without root, or
 * a cgroup that could not be made): the run's memoryMb, the profile's headroom for its
 * runtime, the stacks of RUNNER_AS_THREADS threads (each reserves RUNNER_STACK_MB of address
 * space, mostly never touched) and one malloc arena (RUNNER_AS_ARENA_MB). With a cgroup there
 * is no RLIMIT_AS at all.
 */
int runner_fallback_as_mb(int memory_mb, int as_extra_mb);

/* The uid (and gid) programs have in their own user namespace when the executor has no root. */
#define RUNNER_USERNS_UID 1000

typedef struct runner runner_t;

runner_t *runner_new(const runner_cfg_t *cfg);
void runner_free(runner_t *r);

/*
 * Starts the job of an EXECUTE frame for conn. Takes ownership of root (the tree msg points
 * into) in every case. Returns 0 (the job runs; *out set), -EBUSY when every slot is taken, or
 * another negative errno; on failure nothing was sent and root is freed.
 */
int runner_start_job(runner_t *r, cJSON *root, const cg_msg_t *msg, void *conn, rjob_t **out);

/* CANCEL/KILL: kill the current run, skip the rest; DONE follows. */
/* Slots taken out of service because their limits could not be applied even after a reset
 * (logged as an error when it happens). */
int runner_slots_down(const runner_t *r);
void runner_cancel(rjob_t *job);
/* The connection is gone: cancel, send nothing more. */
void runner_detach(rjob_t *job);
/* Interactive jobs: more stdin, or its end. */
void runner_stdin(rjob_t *job, const char *data);
void runner_close_stdin(rjob_t *job);

/* The connection's queue drained: resume paused output reading. */
void runner_resume(rjob_t *job);

const char *runner_job_id(const rjob_t *job);
/* cfg.owner of the runner the job belongs to. */
void *runner_owner(const rjob_t *job);

/* What a job did so far (for the executor's log). id points into the job. */
typedef struct {
    const char *id;
    int slot;
    int runs_done; /* runs reported with RESULT */
    int nruns;
    bool cancelled;
    bool compile_failed;
    int64_t elapsed_ms;
} runner_summary_t;
void runner_job_summary(const rjob_t *job, runner_summary_t *out);
int runner_active(const runner_t *r);
/* Cancels every job (executor shutdown). */
void runner_cancel_all(runner_t *r);
/*
 * Ends a job that cannot be allowed to finish (the executor stops: its drain grace ran out, or
 * a second signal). Unlike runner_cancel, the run it kills is reported: its RESULT (COMPILE for
 * a compile) has status internal_error and why (a sentence; the caller keeps it alive until the
 * job has ended, a string literal in practice) at the end of its stderr. A step that had
 * already ended keeps its own verdict. The remaining runs are not started; DONE follows.
 */
void runner_abort(rjob_t *job, const char *why);
void runner_abort_all(runner_t *r, const char *why);

#endif
