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
 * Endpoints come and go (the external runtime announces every address its names resolve to):
 * an endpoint announced down has its connections closed and its slot in eps[] is reused by a
 * later endpoint; one announced up is connected at once and takes jobs after its HELLO.
 *
 * Failures: a connection that fails or drops is reconnected with exponential backoff (100 ms ..
 * 2 s); connect errors are logged (warn, the same error of an endpoint at most every 30 s) with
 * the reason (refused, wrong token: HTTP 401, TLS verification). Every connection is pinged
 * every cfg->ping_ms; one that has not answered for 3 pings is closed and its endpoint reported
 * unhealthy (the local and docker runtimes replace a hung executor; the external runtime cannot,
 * so the pool just keeps retrying it with backoff). Only connections that said HELLO take jobs,
 * so an executor that is gone or hung is routed around. A job that waited in the queue longer
 * than cfg->queue_wait_ms fails with 503 (overloaded when its language has executors, else
 * executor_unavailable). A job of a language the runtime does not offer fails at once with
 * 400 unsupported_language.
 *
 * Draining: an executor that stops (SIGTERM from its orchestrator) sends DRAIN, then PONGs with
 * "draining": true, and answers EXECUTE with ERROR executor_draining (+ DONE). Any of the three
 * marks its endpoint draining: no new job goes there, its running jobs finish normally, and its
 * closed connections are not reopened while any of them is still open (the executor is still
 * there, finishing). Once all are closed it is retried with backoff like any endpoint; a HELLO on
 * a fresh connection (a new executor at the same address) puts it back in service.
 *
 * What is retried (never a program twice once output was seen):
 *   - ERROR executor_draining or ERROR busy answered to EXECUTE: nothing ran; the job goes back
 *     to the head of the queue (the attempt is not counted; the queue deadline still bounds it).
 *   - The connection carrying a job closed or was declared dead (executor killed, stalled,
 *     removed from DNS) before any COMPILE/RESULT/STDOUT/STDERR frame of the job came back:
 *     the job goes back to the head of the queue, for another executor, while it has been sent
 *     fewer than POOL_MAX_ATTEMPTS (3) times.
 *   - Otherwise (output was seen, or the attempts are used up) the job fails with 503
 *     executor_lost (Retry-After: 1): the client may send the request again; the gateway will
 *     not, because the program may have had effects (it ran, at least in part).
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
 *   main thread (start-up)  pool_set_offered                         offered[] (_Atomic)
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
    bool offered;     /* the runtime offers this language (pool_set_offered) */
    int usable;       /* executors with a connection, not draining */
    int draining;     /* executors draining that still have a connection open */
    int slots;        /* slots in service of the usable executors (what can run at once) */
} pool_lang_info_t;

/* At start-up, before the runtime starts: whether language index lang is offered (default: every
 * language). A job of a language not offered fails at once with 400 unsupported_language. */
void pool_set_offered(pool_t *pool, int lang, bool offered);

/* Snapshot for a canonical language name. */
void pool_language_info(pool_t *pool, const char *language, pool_lang_info_t *info);
int pool_queue_length(pool_t *pool);

/* Stops the pool thread, closing every connection (queued jobs fail with 503 shutting_down). */
void pool_stop(pool_t *pool);
void pool_free(pool_t *pool);

#endif
