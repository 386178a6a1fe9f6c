/*
 * pool_int.h - the pool's parts, shared by its five files and by nothing else.
 *
 *   pool.c        the lws glue: protocol callback, service thread, periodic tick, wake-ups
 *                 (lws_cancel_service) and the public API of pool.h
 *   pool_queue.c  the bounded job queue with its wait deadline, and dispatch to idle connections
 *   pool_conn.c   the connection state machine: connect, backoff, hello, ping, dead; endpoints
 *   pool_frame.c  frames: incoming executor frames -> job outcomes, reassembly, outgoing frames
 *   pool_raw.c    the WebSocket link of plain connections, spoken by the pool itself over an
 *                 lws raw socket (wsclient.c upgrade, wsframe.c client-mode frames): lws 4.1's
 *                 own client parser handles every byte on its own, which cost a third of the
 *                 gateway's CPU for a megabyte of output. TLS connections keep lws' ws client.
 *
 * Ownership: pool_t owns its endpoints, their connections, the queue's references to jobs
 * (one per queued or running job, taken in pool_submit) and the outbox entries.
 *
 * Thread table (who touches what)
 * -------------------------------
 *   field                              written by            read by             guarded by
 *   q (queue), updates, outbox         any thread, pool      pool                pool->mu
 *   stopping, refusing                 any thread            pool, submitters    pool->mu
 *   fail_all, fail_code, fail_msg      pool_fail_all caller  pool                pool->mu (the
 *                                                                                 pool copies them
 *                                                                                 out: pool_fail_t)
 *   snap[]                             pool                  any thread          pool->mu
 *   eps[], neps, conns, seq, tick, rr  pool                  pool                pool thread only
 *   offered[]                          main (start-up)       any thread          _Atomic
 *   ctx                                pool_new / pool_free  any thread          immutable between
 *                                                                                 (lws_cancel_service
 *                                                                                 is thread-safe)
 *   job->state                         submitter, pool       handler, pool       job->mu
 *   job->cancel_requested              handler               pool                job->mu
 *   job->flow_paused                   session thread        pool                _Atomic
 *   job results, fail_*, attempts ..   pool                  handler after DONE  job->mu hand-off
 *                                                                                 (job_wait)
 * Lock order: pool->mu before job->mu; never take pool->mu while holding job->mu. Callbacks
 * into sessions (job->on_event) and the runtime (unhealthy_cb) run without pool->mu.
 */
#ifndef CG_POOL_INT_H
#define CG_POOL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "frameq.h"
#include "lang.h"
#include "pool.h"
#include "wsclient.h"
#include "wsframe.h"

#define POOL_MAX_ENDPOINTS 128 /* slots of endpoints down are reused */
#define POOL_BACKOFF_MIN_MS 100
#define POOL_BACKOFF_MAX_MS 2000
#define POOL_TICK_MS 50
#define POOL_RX_MAX CG_MAX_FRAME_BYTES
#define POOL_SERV_BUF (256u * 1024u) /* lws read buffer of the pool thread (see pool_new) */
/* A connection that has not answered for this many pings is dead. */
#define POOL_PINGS_MISSED 3
/* A job is sent to an executor at most this many times (pool.h: what is retried). */
#define POOL_MAX_ATTEMPTS 3
/* The same connect error of an endpoint is logged at most this often. */
#define POOL_ERR_LOG_MS 30000

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_READY, CONN_BUSY } conn_state_t;

typedef struct endpoint endpoint_t;

/* One connection to an executor; lives in its endpoint's array. Pool thread only. */
typedef struct {
    endpoint_t *ep;
    struct lws *wsi;
    conn_state_t state;
    job_t *job;
    frameq_t out;
    cg_buf_t rx; /* lws ws client (TLS): the frame being reassembled; raw: the upgrade's head */
    /* raw connections (pool_raw.c); raw is fixed at connect */
    bool raw;
    bool upgraded;     /* the 101 was checked: frames flow */
    bool closing;      /* a close frame is queued: input is ignored, the link ends after it */
    frameq_item_t *hs; /* the upgrade request until written */
    char key[WSCLIENT_KEY_LEN + 1];
    wsframe_parser_t ws; /* client mode; reset at each connect */
    int64_t next_try_ms;
    int backoff_ms;
    int64_t last_rx_ms;
    int64_t last_ping_ms;
    bool hello;
    bool rx_paused; /* lws_rx_flow_control(0) in force for a session's backpressure */
} conn_t;

/* An executor announced by the runtime; slots live in pool->eps. Pool thread only. */
struct endpoint {
    runtime_endpoint_t info;
    bool up;
    int lang; /* index in request_languages */
    conn_t *conns;
    int nconns;
    char version[32];
    int64_t last_unhealthy_ms;
    int slots_down;     /* its slots out of service (from its PONGs): fewer jobs go there */
    bool draining;      /* DRAIN, PONG draining or ERROR executor_draining: no new jobs, no
                           reconnects while drained_out is false */
    bool drained_out;   /* draining, and every connection closed since: the executor is gone;
                           reconnects resume and a HELLO (a new executor) clears both */
    int exec_slots;     /* slots the executor announced in HELLO (0 = unknown) */
    bool leaving;       /* announced down with finish_on_down while jobs ran there: those finish,
                           then their connections close; up turns false when none is open */
    char last_err[320]; /* the last connect error logged, and when */
    int64_t last_err_ms;
};

/* A frame for a job from another thread (sessions), under pool->mu until the pool takes it. */
typedef struct outbox {
    struct outbox *next;
    job_t *job; /* referenced */
    char *frame;
} outbox_t;

/* An endpoint change from the runtime thread, under pool->mu until the pool applies it. */
typedef struct update {
    struct update *next;
    runtime_endpoint_t ep;
    bool up;
} update_t;

/* The bounded FIFO of queued jobs (linked through job->next). Under pool->mu. */
typedef struct {
    job_t *head, *tail;
    int len;
} pool_queue_t;

/* What pool_fail_all asked for, copied out under pool->mu. */
typedef struct {
    bool on;
    char code[32], msg[128];
} pool_fail_t;

struct pool {
    const config_t *cfg;
    pool_unhealthy_cb unhealthy_cb;
    void *cb_arg;
    struct lws_context *ctx;
    pthread_t thread;
    bool thread_started; /* the thread calling pool_start/pool_stop */
    lws_sorted_usec_list_t tick;

    /* pool thread only */
    endpoint_t eps[POOL_MAX_ENDPOINTS];
    int neps;
    unsigned rr; /* where idle_conn_for starts its scan */
    int64_t seq;

    pthread_mutex_t mu;
    pool_queue_t q;
    update_t *updates;
    outbox_t *outbox; /* frames for running jobs, from other threads (sessions), newest first */
    bool stopping;    /* pool thread must exit */
    bool refusing;    /* pool_submit answers -ESHUTDOWN */
    pool_fail_t fail;
    pool_lang_info_t snap[REQUEST_NLANG];
    atomic_bool offered[REQUEST_NLANG]; /* pool_set_offered (main, at start-up); any reader */
};

/* Copies pool->fail under pool->mu. */
pool_fail_t pool_fail_get(pool_t *p);

/* pool_queue.c; the _locked ones with pool->mu held. */
void pool_queue_push_locked(pool_t *p, job_t *job);
void pool_queue_push_front_locked(pool_t *p, job_t *job);
/* Fails queued jobs past their deadline, cancelled, or all of them after pool_fail_all. */
void pool_queue_expire(pool_t *p, int64_t now);
/* Moves queued jobs to idle connections of their language and sends their EXECUTE frames. */
void pool_queue_dispatch(pool_t *p);

/* pool_conn.c */
void pool_conn_connect(pool_t *p, conn_t *c);
/* The connection is gone (lws closed it or connecting failed): reconnect later with backoff;
 * its job is retried once when nothing of it came back yet, else fails. */
void pool_conn_down(pool_t *p, conn_t *c, const char *why);
void pool_conn_close(conn_t *c);
/* Periodic: reconnect, send CANCEL, ping, declare dead after POOL_PINGS_MISSED pings. */
void pool_conn_check(pool_t *p, conn_t *c, int64_t now);
/* Applies the runtime's endpoint updates queued by pool_endpoint. */
void pool_conn_apply_updates(pool_t *p);
/* Publishes the per-language counts for other threads (pool_language_info). */
void pool_conn_snapshot(pool_t *p);
/* The endpoint takes no new job from now on (why: for the log). */
void pool_conn_set_draining(pool_t *p, endpoint_t *ep, const char *why);
/* Jobs the endpoint may run at once: its connections, at most the slots it announced, minus
 * those out of service. */
int pool_ep_capacity(const endpoint_t *ep);
/* True when a connection of ep other than except is connecting or connected. */
bool pool_conn_any_open(const endpoint_t *ep, const conn_t *except);
/* Logs "cannot connect: why" at warn when why is new for the endpoint or POOL_ERR_LOG_MS
 * passed since it was logged, else at debug. */
void pool_conn_log_error(endpoint_t *ep, const char *why);
/* A job ended on c (DONE): a leaving endpoint's connection closes now. */
void pool_conn_job_done(pool_t *p, conn_t *c);
/* pool.c: a connect error of c, logged at warn when it is new for the endpoint or
 * POOL_ERR_LOG_MS passed (a refused token, HTTP 401, or a certificate that does not verify
 * must be visible); status is the upgrade's HTTP status, 0 when there was none. */
void pool_connect_error(conn_t *c, unsigned int status, const char *in);
/* The name the pool connects to ep by: Host header, TLS SNI and certificate name check. */
const char *pool_conn_host(const endpoint_t *ep);
/* The job carried by a connection, with a live connection, or NULL. */
conn_t *pool_conn_of_job(pool_t *p, const job_t *job);

/* pool_frame.c */
/* Queues a frame (copied) on the connection and asks lws for a writeable callback. */
int pool_frame_send(conn_t *c, const char *payload, size_t len);
/* Same for a malloc'ed string, freed here; NULL (allocation failed) is -ENOMEM. */
int pool_frame_send_str(conn_t *c, char *s);
int pool_frame_receive(pool_t *p, conn_t *c, struct lws *wsi, const void *in, size_t len);
/* One complete message from the executor (either link). */
void pool_frame_message(pool_t *p, conn_t *c, const char *buf, size_t len);
int pool_frame_writeable(conn_t *c, struct lws *wsi);
/* Frames from other threads go to their job's connection; then session flow control. */
void pool_frame_outbox(pool_t *p);

/* pool_raw.c */
/* Prepares a raw connection before lws_client_connect_via_info (fresh parser and key). */
void pool_raw_prepare(conn_t *c);
/* The raw socket is connected: queue the upgrade request. 0 or -1 (close). */
int pool_raw_connected(conn_t *c, struct lws *wsi);
/* Bytes from a raw connection: the upgrade's response, then frames. 0 or -1 (close). */
int pool_raw_receive(pool_t *p, conn_t *c, struct lws *wsi, const unsigned char *in, size_t len);
/* A masked frame of payload as one frameq item (with LWS_PRE headroom), NULL without memory. */
frameq_item_t *pool_raw_frame(int opcode, const void *payload, size_t len);
/* Forgets a raw connection's link state (the parser keeps its memory until the next connect
 * or pool_raw_free: a message being handled may point into it). */
void pool_raw_reset(conn_t *c);
void pool_raw_free(conn_t *c);

#endif
