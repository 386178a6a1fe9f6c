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
 */
#ifndef CG_ASYNC_INT_H
#define CG_ASYNC_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "async.h"
#include "async_store.h"
#include "callback.h"

#define ASYNC_IDLE_CONNS 8

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
/* A submission reached its final state, written by this gateway: when it has a callbackUrl,
 * its state (the GET answer) is queued for delivery. c is the caller's connection (dropped
 * and set to NULL when it failed). */
void async_final_written(async_t *a, redisContext **c, const char *id);
/* Wakes the long-poll GETs of this gateway (a final state was written here). */
void async_wake_waiters(async_t *a);
/* Worker thread body (arg: async_t). */
void *async_worker_main(void *arg);

#endif
