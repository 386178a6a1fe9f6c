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
 * Ownership: pool_t is created by pool_new and freed by pool_free after pool_stop. The pool holds
 * one job reference from pool_submit until the job is finished.
 * Threads: every function here may be called from any thread, except pool_free.
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
