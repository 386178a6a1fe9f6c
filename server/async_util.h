/*
 * async_util.h - the pure parts of the asynchronous submissions (server/async.h): the Redis URL,
 * submission ids and idempotency keys, the retry backoff, the fairness rotation, the
 * classification of a failed run and time stamps.
 *
 * Pure functions of their arguments (no globals, no I/O): any thread.
 */
#ifndef CG_ASYNC_UTIL_H
#define CG_ASYNC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ASYNC_ID_LEN 32    /* 128 random bits, lower-case hex */
#define ASYNC_IDEM_MAX 200 /* Idempotency-Key: 1..200 of [A-Za-z0-9_.:-] */
#define ASYNC_FKEY_MAX 80  /* fairness key: API key name or client address */

/* A parsed --redis-url. unix:///path/redis.sock[?db=N][&password=P] or
 * redis://[[user]:password@]host[:port][/db]. */
typedef struct {
    bool unix_socket;
    char path[256];     /* unix socket */
    char host[256];     /* TCP: name or address */
    int port;           /* TCP: default 6379 */
    char password[256]; /* "" = no AUTH */
    int db;             /* SELECT db when > 0 */
} async_url_t;

/* Fills u from url. NULL on success, else a static text saying what is wrong (rediss:// is
 * refused: the hiredis of Debian 12 has no TLS). */
const char *async_url_parse(const char *url, async_url_t *u);
/* Just the check (config.c). NULL or the reason. */
const char *async_url_check(const char *url);

/* A submission id: exactly ASYNC_ID_LEN characters of [0-9a-f]. */
bool async_id_ok(const char *s);
/* An Idempotency-Key header value: 1..ASYNC_IDEM_MAX characters of [A-Za-z0-9_.:-]. */
bool async_idem_ok(const char *s);
/* Copies a fairness key into out (ASYNC_FKEY_MAX + 1 bytes), keeping [A-Za-z0-9_.:-] and
 * replacing anything else with '_'; "" becomes "-". */
void async_fkey(const char *in, char *out);

/* The delay before retry number `attempt` (1 = after the first failed attempt): base doubled
 * per attempt, at most max, then jittered to between half of it and all of it with rnd
 * ("equal jitter": never 0, never above the cap). */
int64_t async_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t rnd);

/* Fairness rotation: keys[0..n) sorted ascending (strcmp); the key served last is `last`
 * ("" = none). Fills order[0..n) with the indices in the order to try: first the key after
 * `last` by name, wrapping around, so that each key with work is served once per round
 * whatever the other keys hold, and whatever keys come and go between rounds. */
void async_fair_order(const char *const *keys, int n, const char *last, int *order);

/* A run that ended without a result (response_job's HTTP status and code): is it the
 * service's failure, to be retried (5xx: executor lost or unavailable, sandbox internal_error,
 * overloaded)? Results of the program (any 200) and refusals of the request (4xx) are final. */
bool async_retryable(int http_status);
/* The gateway is stopping (pool_fail_all's code): hand the submission back, not an attempt. */
bool async_handback(const char *code);

/* Status names. */
bool async_status_final(const char *status); /* done, failed, cancelled */

/* Epoch milliseconds as "2026-11-27T10:41:00.123Z" (buf >= 32 bytes). */
void async_iso_time(int64_t epoch_ms, char *buf, size_t len);
/* Wall clock, epoch milliseconds. */
int64_t async_epoch_ms(void);

#endif
