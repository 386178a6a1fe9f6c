/*
 * async_int.h - what async.c (module, HTTP side) and async_worker.c (worker threads) share.
 *
 * Lock map of async_t
 *   member                          written by              read by          guarded by
 *   cfg, pool, st, enabled, nworkers, cb  async_new         all              immutable
 *   idle[], nidle                   HTTP threads            HTTP threads     mu
 *   workers[]                       async_start/async_stop  main thread      main thread only
 *   stopping, draining              main thread             workers, HTTP    _Atomic
 *   redis_ok, counters              any                     any              _Atomic
 *   last_error                      any                     /readyz, logs    mu
 *   last_fk                         workers                 workers          mu
 *   nfinal (+ final_cv)             workers, HTTP (cancel)  long-poll GETs   mu
 *   cb_slots[], cb_inflight         dispatcher, done()      dispatcher       cb_mu
 *   cb_kick, cb_quit (+ cb_cv)      any / main thread       dispatcher       cb_mu
 *   cb_stopping                     main thread             dispatcher, done()  _Atomic
 *   cb_thread, cb_started           async_start/async_stop  main thread      main thread only
 *
 * Threads: --async-workers worker threads (async_worker.c), one callback dispatcher
 * (async_cb.c: claims the callbacks owed in Redis and hands them to the delivery thread of
 * callback.c), plus the HTTP threads calling in.
 */
#ifndef CG_ASYNC_INT_H
#define CG_ASYNC_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "async.h"
#include "async_store.h"
#include "callback.h"

#define ASYNC_IDLE_CONNS 8
#define ASYNC_CB_SLOTS 1024 /* callbacks one gateway has in flight (sending or retrying) */

/* One callback this gateway's dispatcher handed to callback_post. */
typedef struct {
    char id[ASYNC_ID_LEN + 1];
    enum { CB_FREE, CB_SENDING, CB_ENDED } state;
    bool delivered, abandoned; /* abandoned: not delivered because the gateway stops */
    int attempts;
} async_cb_slot_t;

struct async {
    const config_t *cfg;
    pool_t *pool;
    apikeys_t *keys; /* thread-safe; the concurrent-run quota of a submission's key */
    async_store_t st;
    bool enabled;
    int nworkers;
    callback_t *cb; /* callback deliveries (thread-safe API); NULL without Redis */

    pthread_mutex_t mu;
    redisContext *idle[ASYNC_IDLE_CONNS];
    int nidle;
    char last_error[256];
    char last_fk[ASYNC_FKEY_MAX + 1];
    pthread_cond_t final_cv; /* broadcast when this gateway wrote a final state (waiters) */
    unsigned long nfinal;    /* under mu: final states written here */

    pthread_mutex_t cb_mu;
    pthread_cond_t cb_cv; /* CLOCK_MONOTONIC */
    async_cb_slot_t cb_slots[ASYNC_CB_SLOTS];
    int cb_inflight;
    bool cb_kick, cb_quit;
    atomic_bool cb_stopping;
    pthread_t cb_thread;
    bool cb_started;

    pthread_t *workers;
    int nstarted;
    atomic_bool stopping, draining, redis_ok;

    atomic_int running, waiters;
    _Atomic int64_t next_prune; /* monotonic ms: when a worker next prunes stale consumers */
    atomic_llong n_submitted, n_done, n_failed, n_cancelled, n_retries, n_dead, n_claimed,
        n_handed_back, n_throttled, n_redis_errors, n_duplicate_results;
};

/* HTTP side (async.c): a Redis connection from the idle pool or a new one (NULL: err says
 * why, noted); give it back after use (freed when rc is -EIO or it failed). */
redisContext *async_borrow(async_t *a, char *err, size_t errlen);
void async_give_back(async_t *a, redisContext *c, int rc);
/* Answers: an error (503s get Retry-After), 503 async_unavailable (not configured, or Redis
 * unreachable for `why`), a failed Redis operation, and success with a data object (taken). */
void async_answer_error(async_answer_t *ans, int status, const char *code, const char *msg,
                        cJSON *details);
void async_unavailable(async_t *a, async_answer_t *ans, const char *why);
void async_redis_failed(async_t *a, async_answer_t *ans, int rc);
void async_answer_data(async_answer_t *ans, int status, cJSON *data);
/* Remembers a Redis failure (for /readyz and the 503 message). */
void async_note_error(async_t *a, const char *what);
/* The GET answer's data object for a stored submission: a new cJSON object. */
cJSON *async_view_json(const char *id, const async_view_t *v);
/* A final state was written by this gateway: wakes the callback dispatcher (the obligation
 * itself was recorded in Redis by the same script). Any thread. */
void async_cb_wake(async_t *a);
/* Callback dispatcher thread body (arg: async_t; async_cb.c). */
void *async_cb_main(void *arg);
/* Wakes the long-poll GETs of this gateway (a final state was written here). */
void async_wake_waiters(async_t *a);
/* Worker thread body (arg: async_t). */
void *async_worker_main(void *arg);

#endif
