/*
 * job.h - one execution request on its way through the gateway.
 *
 * Ownership: a job is created by the HTTP handler or session thread (job_new) from a parsed
 * request, which it takes over. It is reference counted: the handler holds one reference, the
 * pool takes one in pool_submit() and drops it when the job is finished (job_end). job_unref()
 * frees the job, its request and every outcome string.
 *
 * Thread table
 *   member                     written by                  read by                 guarded by
 *   req, frame, nruns, budget  creator, before submit      all                     immutable
 *   on_event, event_arg        creator, before submit      pool                    immutable
 *   state                      pool_submit, pool thread    handler (job_wait),     mu
 * (job_set_state pool                    / job_get_state) refs                       any holder any
 * holder              mu cancel_requested           handler (pool_cancel)       pool mu flow_paused
 * session thread              pool                    _Atomic [pool] members             pool
 * thread                 pool; handler after     hand-off: state DONE                    DONE under
 * mu, then cv deadline_ms, next          pool_submit, pool           pool pool->mu Members marked
 * [pool] are written only by the pool thread while the job is not finished; once `state` is
 * JOB_DONE (set under `mu`, then `cv` broadcast) they are read-only, and a handler that saw
 * JOB_DONE in job_wait reads them without locking.
 */
#ifndef CG_JOB_H
#define CG_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol.h"
#include "request.h"

typedef struct {
    bool present;
    cg_status_t status;
    int exit_code;
    int signal;
    bool timed_out;
    bool truncated;
    int64_t duration_ms;
    int64_t cpu_ms;
    int64_t memory_kb;
    char *out; /* malloc'ed, valid UTF-8 */
    char *err;
    bool passed; /* test cases: judged by the pool when the result arrives */
    bool cached; /* compile: taken from the executor's compile cache */
} job_outcome_t;

typedef enum { JOB_NEW, JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state_t;

typedef struct job job_t;
struct job {
    char id[CG_ID_MAX + 1];
    request_t req; /* owned; read-only after job_new */
    int nruns;     /* tests ? ntests : 1 */
    char *frame;   /* the EXECUTE frame, built once by job_new */
    size_t frame_len;
    int64_t deadline_ms; /* monotonic: give up waiting in the queue after this */
    int budget_ms;       /* wall clock of the compile and all runs (0 = none: sessions) */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_state_t state;     /* under mu: job_set_state / job_get_state */
    int refs;              /* under mu */
    bool cancel_requested; /* under mu: set by the handler (gave up), read by the pool */

    /* [pool] results */
    job_outcome_t compile;
    job_outcome_t runs[CG_MAX_RUNS];
    int nresults;
    bool stopped_early;   /* submit mode: a failure stopped the remaining runs */
    bool budget_exceeded; /* DONE: the job's time budget cut runs short or skipped them */
    cJSON *out_files;     /* DONE: the program's out/ files (protocol.h), or NULL; owned */
    cJSON *out_omitted;   /* DONE: out/ entries left out, or NULL; owned */
    bool cancel_sent;
    bool got_output; /* any COMPILE/RESULT arrived: no retry elsewhere */
    bool busy;       /* the executor answered "busy": requeue on its DONE */
    int attempts;
    char executor[64];
    char lang_version[32];
    /* [pool] failure without a result: HTTP status, API code and message */
    int fail_http;
    char fail_code[32];
    char fail_msg[256];

    int64_t t_created, t_started, t_done; /* monotonic ms */
    job_t *next;                          /* pool queue link, pool-owned */

    /* Interactive sessions (set before pool_submit, then read-only). The pool thread calls
     * on_event for every frame of the job as it arrives (msg valid during the call only):
     * EXECUTE means "sent to an executor", STDOUT/STDERR/COMPILE/RESULT/DONE/ERROR as received;
     * msg NULL means the job is finished (fail_* set when it failed). */
    void (*on_event)(void *arg, job_t *job, const cg_msg_t *msg);
    void *event_arg;
    _Atomic int flow_paused; /* set by the session: stop reading this job's executor */
    bool end_notified;       /* [pool] on_event(NULL) was called */
};

/* Takes over *req (zeroes it). Returns NULL on allocation failure (req is then freed).
 * budget_ms: the job's time budget (cg_execute_t.budget_ms). interactive: the EXECUTE frame
 * asks for streamed output and stdin frames (sessions), with no budget. */
job_t *job_new(request_t *req, size_t output_limit, int budget_ms);
job_t *job_new_interactive(request_t *req, size_t output_limit);
void job_ref(job_t *job);
void job_unref(job_t *job);

/* Pool side: copy an outcome from a parsed COMPILE/RESULT message; returns 0 or -ENOMEM. */
int job_outcome_set(job_outcome_t *dst, const cg_outcome_t *src);

void job_set_state(job_t *job, job_state_t state);
job_state_t job_get_state(job_t *job);

/* Pool side: a COMPILE (compile true) or RESULT outcome arrived. Stores it; a test case's result
 * is judged (passed; ok with the wrong output becomes wrong_answer). Returns JOB_STOP_RUNS when
 * the remaining runs should be cancelled (submit mode: the first failure ends the job; the
 * caller sends CANCEL and sets cancel_sent), 0 when stored or ignored (a run out of range, a run
 * after the job stopped early), -ENOMEM. */
#define JOB_STOP_RUNS 1
int job_take_outcome(job_t *job, bool compile, const cg_outcome_t *o);

/* Pool side: the job ends; http 0 means with its results, else failed with an HTTP status, API
 * code and message. Tells a session (on_event NULL, once), finishes the job and drops the
 * pool's reference. Call with no lock held. */
void job_end(job_t *job, int http, const char *code, const char *msg);

/* Pool side: finish the job (state DONE, wake the handler). Call with mu NOT held. */
void job_finish(job_t *job);
/* Pool side: finish the job as failed with an HTTP status, API code and message. */
void job_fail(job_t *job, int http, const char *code, const char *msg);

/* Handler side: wait until the job is done or until abs_deadline_ms (monotonic). Returns true
 * when done. */
bool job_wait(job_t *job, int64_t abs_deadline_ms);

/* How long a handler (HTTP or async worker) waits for the pool to finish a job of r: a
 * backstop, since the pool finishes every job. The queue wait, the compile at most the
 * language's compile timeout (lang.h), the runs at most their timeouts and at most the job's
 * budget, a second each for starting and stopping, and JOB_WAIT_MARGIN_MS. */
#define JOB_WAIT_MARGIN_MS 15000
int64_t job_wait_budget_ms(const request_t *r, int queue_wait_ms, int job_budget_ms);

#endif
