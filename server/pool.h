/*
 * pool.h - the pool of persistent WebSocket connections from the gateway to its executors, and
 * the bounded job queue in front of it.
 *
 * Theory of operation
 * -------------------
 * One pool thread runs an lws client context. For every executor endpoint announced by the
 * runtime (pool_endpoint) it keeps cfg->slots connections; each carries at most one job at a
 * time. HTTP handler threads put jobs on the queue (pool_submit) and wake the pool thread with
 * lws_cancel_service(), the only lws call that is safe from another thread; the pool thread, in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED and on its periodic tick, moves queued jobs to idle
 * connections of their language, sends EXECUTE, collects COMPILE/RESULT frames into the job, and
 * on DONE finishes it (job_finish wakes the handler waiting in job_wait).
 *
 * Failures: a connection that fails or drops is reconnected with exponential backoff (100 ms ..
 * 2 s). A job on a dropped connection goes back to the head of the queue once if nothing of it
 * came back yet, else it fails with 503 executor_unavailable. Every connection is pinged every
 * cfg->ping_ms; one that has not answered for 3 pings is closed and its endpoint reported
 * unhealthy (so the runtime replaces a hung executor). A job that waited in the queue longer than
 * cfg->queue_wait_ms fails with 503 (overloaded when its language has executors, else
 * executor_unavailable).
 *
 * A frame from an executor larger than CG_MAX_FRAME_BYTES closes its connection with 1009. What
 * a result means (judging a test case, stopping a submission early) is decided by the job layer
 * (job_take_outcome), not here.
 *
 * Files: pool.c (lws glue, thread, API), pool_queue.c (queue, deadlines, dispatch), pool_conn.c
 * (connection state machine, endpoints), pool_frame.c (frames -> job outcomes); their shared
 * structs and the field-by-field lock map are in pool_int.h.
 *
 * Ownership: pool_t is created by pool_new and freed by pool_free after pool_stop. The pool holds
 * one job reference from pool_submit until the job is finished.
 *
 * Thread table
 *   thread                  calls                                   touches (under)
 *   HTTP handler threads    pool_submit, pool_cancel,                queue, flags, snapshot
 *                           pool_language_info, pool_queue_length    (pool->mu); job->state,
 *                                                                    cancel_requested (job->mu)
 *   session threads         pool_submit, pool_job_send, pool_wake,   outbox (pool->mu);
 *                           pool_cancel                              job->flow_paused (_Atomic)
 *   runtime thread          pool_endpoint (+ unhealthy_cb is called  updates (pool->mu)
 *                           back on the pool thread)
 *   main thread             pool_new, pool_start, pool_fail_all,     flags (pool->mu); pool_free
 *                           pool_stop, pool_free                     only after pool_stop
 *   pool thread             lws callbacks, tick, on_event and        endpoints, connections,
 *                           unhealthy_cb callbacks                   lws handles: its own, no lock
 * Every function here may be called from any thread, except pool_free (after pool_stop, by the
 * thread that stopped the pool). Only lws_cancel_service() crosses into the lws context.
 */
#ifndef CG_POOL_H
#define CG_POOL_H

#include <stdbool.h>

#include "config.h"
#include "job.h"
#include "runtime.h"

typedef struct pool pool_t;

typedef void (*pool_unhealthy_cb)(void *arg, const char *endpoint_id);

pool_t *pool_new(const config_t *cfg, pool_unhealthy_cb cb, void *cb_arg);
/* Starts the pool thread. 0 or a negative errno. */
int pool_start(pool_t *pool);

/* Runtime callback: an executor endpoint came up (or changed address/token) or went down. */
void pool_endpoint(pool_t *pool, const runtime_endpoint_t *ep, bool up);

/* Queues a job. 0, -EAGAIN when the queue is full, -ESHUTDOWN when the pool no longer takes
 * jobs. On success the pool holds its own reference. */
int pool_submit(pool_t *pool, job_t *job);

/* The handler gave up on a job: it is removed from the queue or cancelled on its executor. */
void pool_cancel(pool_t *pool, job_t *job);

/* Sends a frame (malloc'ed JSON, taken over) to the executor running job, once it runs;
 * dropped when the job has finished. Any thread (sessions: stdin, close_stdin, kill). */
void pool_job_send(pool_t *pool, job_t *job, char *frame);
/* Wakes the pool thread (a session changed job->flow_paused). */
void pool_wake(pool_t *pool);

/* Fails every queued and running job with 503 code/message and refuses new ones. */
void pool_fail_all(pool_t *pool, const char *code, const char *message);

typedef struct {
    int endpoints;   /* announced and up */
    int connections; /* connected (idle or busy) */
    int busy;
    int slots_down;   /* executors' slots out of service (limits could not be applied) */
    char version[32]; /* from the executors' HELLO, "" when none yet */
} pool_lang_info_t;

/* Snapshot for a canonical language name. */
void pool_language_info(pool_t *pool, const char *language, pool_lang_info_t *info);
int pool_queue_length(pool_t *pool);

/* Stops the pool thread, closing every connection (queued jobs fail with 503 shutting_down). */
void pool_stop(pool_t *pool);
void pool_free(pool_t *pool);

#endif
