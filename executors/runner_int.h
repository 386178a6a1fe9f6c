/*
 * runner_int.h - the runner's own types, shared by its two files and by nobody else:
 *
 *   runner.c       the job step machine: slots, work dir, compile cache, budget, each step's
 *                  verdict sent as COMPILE/RESULT, DONE, the public API (runner.h)
 *   runner_step.c  one step's process: its request to the slot's launcher (keeper.h), its
 *                  pipes and timer, output cap and streaming, stdin (runner_stdin and
 *                  runner_close_stdin of runner.h act on the step that runs)
 *
 * Ownership: a runner_t owns its keepers and its jobs; an rjob_t owns its parsed frame (root),
 * its rproc_t and every buffer in it. Threads: the loop's thread only.
 */
#ifndef CG_RUNNER_INT_H
#define CG_RUNNER_INT_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keeper.h"
#include "cg_util.h"
#include "runner.h"
#include "utf8.h"

/* The launcher enforces the wall clock itself; this is only the backstop for a hung launcher. */
#define RUN_BACKUP_MS 2000
/* After the launcher's exit every process of the run is dead, so the pipes hold at most what
 * is buffered in them and EOF comes at once; only a holder we could not kill (no slot uid)
 * keeps one open. Generous enough for a loaded machine, short enough not to matter. */
#define RUN_DRAIN_MS 500
#define COMPILE_OUTPUT_LIMIT (256u * 1024u)

typedef struct {
    uv_pipe_t pin, pout, perr, pstat;
    uv_timer_t timer;
    uv_write_t wreq;
    int open; /* handles not yet closed */
    bool exited;
    bool spawned;
    bool term_sent;
    bool backup_fired;
    bool truncated;
    bool paused;    /* output reading stopped for backpressure */
    int pty_slave;  /* interactive runs with a pty (profile->pty): its slave side */
    bool pty;       /* stdin is a pty: EOF is ^D; the master is pout (INOUT) or pin (IN) */
    bool line_open; /* the last stdin written did not end with a newline */
    size_t limit;   /* stdout+stderr cap */
    size_t total;
    cg_buf_t out, err, status;
    cg_utf8_state_t u_out, u_err;
    int64_t t0;
    long seq; /* the run's number at its slot's launcher (stop requests name it) */
} rproc_t;

struct rjob {
    runner_t *r;
    void *conn; /* NULL once detached */
    cJSON *root;
    cg_msg_t msg; /* msg.exec points into root */
    char id[CG_ID_MAX + 1];
    int slot;
    char dirname[CG_ID_MAX + 32];
    const char *area;       /* the slot's work area (or the work root), our view */
    char dirpath[PATH_MAX]; /* root/dirname: the job's dir as we see it */
    char progdir[PATH_MAX]; /* the same dir as the program sees it (in its box: /box/...) */
    bool dir_made;
    int step;           /* -1 = compile, else run index */
    char cache_key[65]; /* compiled languages with a cache: the source's key */
    int runs_done;
    int run_wall_ms;      /* the current run's wall clock: its timeout, cut by the budget */
    bool budget_capped;   /* ... and the budget did cut it */
    bool budget_exceeded; /* runs cut short or not started because the budget was spent */
    bool cancelled;
    bool abort_killed;     /* runner_abort stopped the step that ran: it reports internal_error */
    const char *abort_msg; /* ... with this sentence added to its stderr (caller's string) */
    bool compile_failed;
    bool slot_retried; /* the step failed once for its slot's sake and ran again */
    bool pch_used;     /* the compile step got the precompiled header (cxxfast.h) */
    bool no_pch;       /* ... and failed: it runs again without */
    int64_t t_start;
    rproc_t p;
    uv_work_t rm_req; /* work dir removal on the thread pool */
    int rm_rc;
    cJSON *out_files, *out_omitted; /* read from out/ on the thread pool, sent in DONE */
    int out_rc;                     /* outfiles_collect's result */
    size_t answer_bytes;            /* stdout+stderr of the steps reported: the out/ files'
                                       total limit counts them too (one answer budget) */
    rjob_t *next;
};

struct runner {
    runner_cfg_t cfg;
    keeper_t *keepers; /* one per slot */
    long seq;
    bool stopping;
    bool *slot_used;
    bool *slot_down; /* out of service: its limits could not be applied even after a reset */
    int slots_down;
    rjob_t *jobs;
    int active;
};

/* Sends a frame on the job's connection (takes it; dropped once detached). */
static inline void runner_send(rjob_t *job, char *frame)
{
    if (!frame)
        return;
    if (job->conn)
        job->r->cfg.send(job->conn, frame);
    else
        free(frame);
}

/* runner.c: the current step's handles are all closed (or the first step is due). */
void runner_next_step(rjob_t *job);

/* runner.c: the compile command of the job (the profile's, with the request's options and what
 * cxxfast adds); sets job->pch_used. argv gets PROFILE_MAX_ARGV entries, buf the expanded
 * strings. The number of entries, or -1 when they do not fit. */
int runner_compile_argv(rjob_t *job, const char **argv, char *buf, size_t len);

/* runner_step.c */
/* Starts the current step at the slot's launcher. On failure the step completes as
 * internal_error (through the normal close path: runner_next_step is called). */
void runner_step_start(rjob_t *job);
/* Asks the slot's launcher to stop the running step (once). */
void runner_step_stop(rjob_t *job);
/* Frees the step's buffers and clears it. */
void runner_step_reset(rproc_t *p);

#endif
