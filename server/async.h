/*
 * async.h - asynchronous submissions on a durable Redis queue (issue #14; docs/ASYNC.md).
 *
 * API (server/http.c routes to these):
 *   POST   /api/submissions            the /api/code/execute body + optional "callbackUrl";
 *                                      header Idempotency-Key -> 202 {id, status}, Location
 *   POST   /api/submissions/batch      {"submissions":[...]} (1..100) -> 202 {submissions:
 *                                      [{index, id, status} | {index, error}]}, valid ones queued
 *   GET    /api/submissions/<id>[?wait=S]  {id, status, attempts, createdAt, startedAt,
 *                                      finishedAt, result, error}; wait <= 30 s for a final one
 *   DELETE /api/submissions/<id>       cancels a queued one (409 once it runs or ended)
 *   GET    /api/admin/dead-letters     dead letters (oldest first)
 *   POST   /api/admin/dead-letters/<id>/requeue   back to queued, attempts from 0
 * Without --redis-url every one answers 503 async_unavailable; with Redis unreachable, 503
 * async_unavailable with the reason (synchronous execute is unaffected: it never touches Redis).
 *
 * Semantics (notes for docs/ASYNC.md)
 * -----------------------------------
 * - Accepted means durable: 202 is sent only after Redis acknowledged the submission script.
 *   With appendonly yes + appendfsync always (what the private redis of `make run` uses) the
 *   write is on disk before 202; with weaker settings a Redis crash can lose the last second.
 * - Streams and a consumer group: one stream per fairness key, group "workers"; every gateway
 *   is a consumer named <instance>-<hostname>-<pid>. A gateway runs --async-workers threads;
 *   each takes one entry (XREADGROUP), runs it through the same pool as /api/code/execute
 *   (job_new, pool_submit, job_wait), renews its claim every third of --async-visibility-ms
 *   (XCLAIM), and writes the outcome. An entry whose gateway died is claimed by another (or the
 *   restarted one) with XAUTOCLAIM once idle longer than --async-visibility-ms, and run again:
 *   at-least-once execution. The final write is a script that sets done/failed only if the
 *   status is not final yet, and ACKs (XACK + XDEL) the entry after: exactly one result.
 * - Retries only for the service's own failures: a run that ends with a 5xx (executor lost or
 *   unavailable, sandbox internal_error, overloaded, no answer in time). Any 200 answer is the
 *   program's result (wrong answer, timeout, crash, compile error): done. Retry n waits
 *   async_backoff_ms(n) (--async-backoff-ms doubled per attempt up to --async-backoff-max-ms,
 *   jittered between half and all of it) in a zset, then goes back to its stream. After
 *   --async-max-attempts attempts (claims after a lost gateway count too): a dead letter
 *   (stream P:dead) and status failed with the last error as its reason.
 * - Fairness: the fairness key is the API key's name (keys on) or the client's address (keys
 *   off). Workers take round-robin over the keys that have queued work, in name order, each
 *   resuming after the key served last by this gateway: with K keys waiting, each gets one in
 *   K of the runs whatever the size of its backlog. Within a key: first in, first out.
 * - Expiry: a final submission (its result and its source) is deleted --async-result-ttl-s
 *   after it finished (default 24 h). The source is deleted at once when done or cancelled; a
 *   failed one keeps it until it expires so that it can be re-queued. Idempotency keys live
 *   24 h, per API key name.
 * - Quotas: a submission is accepted under the per-minute quota of its key (the front door,
 *   one request per POST, a batch counts one); it runs under the key's concurrent=N quota: a
 *   worker that finds the key's places taken hands the submission back (queued again after
 *   250 ms, not an attempt).
 * - Visibility: with API keys, a submission is visible (GET, DELETE) only to the key that
 *   made it (404 to others) or to an admin key. The admin endpoints need a key with admin=1
 *   in the keys file; without a keys file, only loopback clients.
 * - Callbacks: the final write (finish, cancel) records the callback owed in Redis in the
 *   same script (P:cb:due, cbStatus=pending); one dispatcher thread per gateway (async_cb.c)
 *   claims due ones under a lease (--async-callback-lease-ms), renews it while the delivery
 *   runs, and records delivered/failed. A killed gateway's callbacks are claimed elsewhere
 *   once their lease ends: at least once. GET shows "callback": {status, attempts}.
 * - Drain (SIGTERM): workers stop taking; submissions running finish within --drain-ms; those
 *   still running at the end are handed back (queued again at once, the attempt not counted;
 *   if Redis cannot be reached they stay unacknowledged and are claimed after the visibility
 *   timeout).
 *
 * Ownership and threads: async_t is created by async_new and freed by async_free after
 * async_stop. The http functions are called from any number of MHD threads; each takes a
 * Redis connection from a small mutex-guarded pool. Worker threads own their connection.
 * async_begin_drain / async_stop / async_free: main thread. Counters are _Atomic.
 */
#ifndef CG_ASYNC_H
#define CG_ASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "apikeys.h"
#include "config.h"
#include "pool.h"

typedef struct async async_t;

/* An HTTP answer of the async endpoints: status, malloc'ed JSON body, optional Location,
 * Retry-After and the error code (for logs; NULL on success). */
typedef struct {
    int status;
    char *body;
    char location[96];
    bool retry_after;
    const char *code;
} async_answer_t;

/* Who asks: owner = API key name ("anonymous" without keys); fkey = fairness key; admin = may
 * use the admin endpoints. */
typedef struct {
    const char *owner;
    const char *fkey;
    bool admin;
} async_caller_t;

/* Never NULL but on out of memory or a bad URL (err). Without cfg->redis_url: an async_t
 * that answers 503 to everything. */
async_t *async_new(const config_t *cfg, pool_t *pool, apikeys_t *keys, char *err, size_t errlen);
/* Starts the worker threads (none without Redis). 0 or -errno. */
int async_start(async_t *a);
bool async_enabled(const async_t *a);

void async_http_submit(async_t *a, const async_caller_t *who, const char *body, size_t len,
                       const char *idem, async_answer_t *ans);
void async_http_batch(async_t *a, const async_caller_t *who, const char *body, size_t len,
                      const char *idem, async_answer_t *ans);
/* wait_s: 0..30 (the caller clamps). */
void async_http_get(async_t *a, const async_caller_t *who, const char *id, int wait_s,
                    async_answer_t *ans);
void async_http_cancel(async_t *a, const async_caller_t *who, const char *id, async_answer_t *ans);
void async_http_dead_letters(async_t *a, const async_caller_t *who, int limit, async_answer_t *ans);
void async_http_requeue(async_t *a, const async_caller_t *who, const char *id, async_answer_t *ans);

/* /readyz: "off" (no --redis-url), "ok", or "unavailable" (Redis unreachable). */
const char *async_state(async_t *a);
/* Prometheus text of the queue (asks Redis for the gauges). */
void async_render_metrics(async_t *a, FILE *f);

/* Drain: workers take nothing new; their running submissions go on. */
void async_begin_drain(async_t *a);
/* Submissions this gateway is running. */
int async_running(async_t *a);
/* Stops the workers (a running one hands its submission back) and joins them. */
void async_stop(async_t *a);
void async_free(async_t *a);

#endif
