/*
 * async_store.h - the Redis side of the asynchronous submissions: every read and write of the
 * queue, each one command or one Lua script (atomic on the server), over hiredis.
 *
 * Keys (P = --redis-prefix):
 *   P:sub:<id>   hash: status, attempts, createdAt/startedAt/finishedAt (epoch ms), owner (API
 *                key name), fk (fairness key), body (the request JSON: the source), callbackUrl,
 *                result (the execute answer's data object), errorCode/errorMessage, dead (its
 *                dead-letter entry). No expiry while queued or running; EXPIRE --async-result-
 *                ttl-s once final. body is deleted at done/cancelled; a failed (dead-lettered)
 *                submission keeps it until it expires, so that it can be re-queued.
 *   P:q:<fk>     stream per fairness key, consumer group "workers"; entry {id}. An entry is
 *                XACKed and XDELed once its submission's outcome is written, so the stream
 *                holds only queued and taken entries (XLEN - pending = queued).
 *   P:fkeys      set of fairness keys whose stream may hold entries (emptied streams leave).
 *   P:delayed    zset id -> due time (epoch ms) of retries waiting for their backoff.
 *   P:dead       stream of dead letters {id, code, reason, attempts, at}, trimmed by age (TTL).
 *   P:idem:<owner>:<key>   string id, EX 24 h: Idempotency-Key.
 *   P:bell       list pushed at every enqueue: idle workers BRPOP it instead of polling.
 *   P:cb:due     zset id -> due time (epoch ms) of the callbacks owed: the final write (finish,
 *                cancel) of a submission with a callbackUrl adds it (score: now) and sets
 *                cbStatus=pending, cbAttempts=0 in its hash, in the same script. A dispatcher
 *                claims due ids by moving their score to now + lease (renewed while the
 *                delivery runs); cb_done removes the id and sets cbStatus delivered|failed and
 *                cbAttempts. A gateway that dies leaves its ids to come due when the lease ends.
 *                An id whose hash is gone (expired) or not pending is dropped at claim.
 *
 * Exactly one final result: finish() writes done/failed only when the status is not final
 * yet (a second run of the same submission, after a claim, finds it final and only ACKs).
 *
 * Return values: 0 or a positive result as documented; -EIO when the connection failed (the
 * caller frees the context and reconnects); -EPROTO when Redis answered an error (logged; the
 * connection is still usable); -ENOMEM.
 *
 * Ownership and threads: async_store_t is a plain value, read-only after async_store_init;
 * a redisContext belongs to one thread at a time (the caller's).
 */
#ifndef CG_ASYNC_STORE_H
#define CG_ASYNC_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "async_util.h"

#define ASYNC_GROUP "workers"
#define ASYNC_IDEM_TTL_S 86400

typedef struct {
    async_url_t url;
    char prefix[64];
    char consumer[192];
    int ttl_s;
    int io_timeout_ms;
} async_store_t;

/* 0, or -EINVAL with the URL's problem in err. */
int async_store_init(async_store_t *st, const char *url, const char *prefix, const char *consumer,
                     int ttl_s, char *err, size_t errlen);
/* Connects (with AUTH and SELECT). NULL with the reason in err. Free with redisFree. */
redisContext *async_store_connect(const async_store_t *st, int timeout_ms, char *err,
                                  size_t errlen);

/* A new submission. */
typedef struct {
    const char *body; /* request JSON, validated */
    size_t body_len;
    const char *callback_url; /* NULL = none */
    const char *owner;        /* API key name */
    const char *fkey;         /* fairness key (async_fkey) */
    const char *idem;         /* Idempotency-Key or NULL */
} async_new_t;

/* Queues n submissions in one round trip (pipelined scripts; each acknowledged by Redis,
 * i.e. fsync'ed with appendfsync always, before this returns). ids[i] gets the id (an earlier
 * one for a known Idempotency-Key, then status[i] its current status). 0 or < 0. */
int async_store_submit(const async_store_t *st, redisContext *c, const async_new_t *subs, int n,
                       char (*ids)[ASYNC_ID_LEN + 1], char (*status)[16]);

/* A submission as stored (strings malloc'ed or NULL; async_view_free). */
typedef struct {
    char *status, *owner, *result, *error_code, *error_message, *callback_url, *fk;
    char *cb_status; /* pending | delivered | failed; NULL before the final state */
    int cb_attempts;
    int attempts;
    int64_t created, started, finished;
} async_view_t;
/* 0, -ENOENT (unknown or expired), < 0. */
int async_store_get(const async_store_t *st, redisContext *c, const char *id, async_view_t *v);
void async_view_free(async_view_t *v);

/* Cancels a queued submission of owner (NULL = any). 0 cancelled; -ENOENT; -EBUSY when it is
 * not queued (status copied into status). */
int async_store_cancel(const async_store_t *st, redisContext *c, const char *id, const char *owner,
                       char status[16]);

/* One taken stream entry. */
typedef struct {
    char id[ASYNC_ID_LEN + 1];
    char fk[ASYNC_FKEY_MAX + 1];
    char entry[48]; /* stream entry id */
    bool claimed;   /* taken from another consumer after the visibility timeout */
    char owner[72]; /* the API key name that submitted it (set by async_store_start) */
} async_entry_t;

/* Takes the next new entry for this consumer, trying the fairness keys in the rotation after
 * *last (updated). 1 taken, 0 nothing queued, < 0. */
int async_store_take(const async_store_t *st, redisContext *c, char *last, async_entry_t *e);
/* Claims one entry idle longer than min_idle_ms from any consumer. 1, 0, < 0. */
int async_store_claim(const async_store_t *st, redisContext *c, int min_idle_ms, async_entry_t *e);
/* Renews this consumer's claim on e (resets its idle time). 0 or < 0. */
int async_store_heartbeat(const async_store_t *st, redisContext *c, const async_entry_t *e);

/* Starts an attempt (fills e->owner): */
#define ASYNC_START_RUN 1       /* running: *body (malloc'ed) and *attempt set */
#define ASYNC_START_SKIP 2      /* gone or final already (entry ACKed) */
#define ASYNC_START_EXHAUSTED 3 /* max_attempts reached: the caller dead-letters it */
int async_store_start(const async_store_t *st, redisContext *c, async_entry_t *e, int max_attempts,
                      char **body, int *attempt);

/* The final outcome (status "done" with result, "failed" with code/message; dead: also a
 * dead letter). ACKs e (may be NULL). 1 written, 0 it was final already, < 0. */
int async_store_finish(const async_store_t *st, redisContext *c, const char *id,
                       const async_entry_t *e, const char *status, const char *result,
                       const char *code, const char *message, bool dead);
/* Back to queued after a service failure, due at due_ms (epoch) in the delayed set; with
 * handback the attempt is not counted (the gateway stopped). ACKs e. 1, 0 (not running any
 * more), < 0. */
int async_store_retry(const async_store_t *st, redisContext *c, const async_entry_t *e,
                      int64_t due_ms, const char *code, const char *message, bool handback);
/* Moves retries whose time has come back to their streams. Number moved, < 0. */
int async_store_move_due(const async_store_t *st, redisContext *c);
/* Blocks up to timeout_ms for a new enqueue. 0 or < 0. */
int async_store_wait_bell(const async_store_t *st, redisContext *c, int timeout_ms);

/* Dead letters, oldest first (at most limit): a new JSON array. NULL on error (*rc set). */
cJSON *async_store_dead_list(const async_store_t *st, redisContext *c, int limit, int *rc);
/* Re-queues a dead-lettered submission (attempts from 0). 0, -ENOENT, -EBUSY (not a dead
 * letter), < 0. */
int async_store_requeue(const async_store_t *st, redisContext *c, const char *id);

/* Deletes the consumers (stopped gateways: a name has the pid) that hold no entry and were
 * idle longer than min_idle_ms. Number deleted, < 0. */
int async_store_prune_consumers(const async_store_t *st, redisContext *c, int min_idle_ms);

/* ---- durable callbacks (P:cb:due) ---- */

/* Claims up to max (<= ASYNC_CB_CLAIM_MAX) callbacks due now: each one's score becomes
 * now + lease_ms, its id goes into ids. Ids whose submission expired or whose cbStatus is not
 * pending are removed on the way. Number claimed, < 0. */
#define ASYNC_CB_CLAIM_MAX 32
int async_store_cb_claim(const async_store_t *st, redisContext *c, int lease_ms, int max,
                         char (*ids)[ASYNC_ID_LEN + 1]);
/* Moves a claimed callback's due time to due_ms (epoch): a lease renewal (now + lease) or a
 * hand-back (now, or a little later when the delivery queue was full). Only an id still in
 * the set is touched (ZADD XX). 1 moved, 0 not there, < 0. */
int async_store_cb_defer(const async_store_t *st, redisContext *c, const char *id, int64_t due_ms);
/* The delivery ended: the id leaves the set and the hash records cbStatus delivered|failed
 * and cbAttempts (a recorded "delivered" is kept: at-least-once, a late failure of a second
 * delivery does not undo it). Idempotent. 1 recorded, 0 hash gone or delivered already, < 0. */
int async_store_cb_done(const async_store_t *st, redisContext *c, const char *id, bool delivered,
                        int attempts);

typedef struct {
    long long queued, running, delayed, dead;
    long long callbacks_owed; /* P:cb:due: callbacks not yet delivered or given up */
    int64_t oldest_ms;        /* age of the oldest queued entry, 0 = none */
} async_stats_t;
int async_store_stats(const async_store_t *st, redisContext *c, async_stats_t *s);

#endif
