/*
 * callback.h - delivery of a submission's final state to its callbackUrl: an HMAC-signed HTTP
 * POST, retried with backoff, only to addresses the SSRF policy allows.
 *
 * Theory of operation: callback_post() copies the body into a bounded in-memory queue and wakes
 * the delivery thread (callback_start). That one thread drives a libcurl multi handle, so a slow
 * or failing receiver only occupies its own transfer: every delivery has its own connect and
 * total timeout. A delivery that fails with a connection error, a timeout, a 5xx, a 408 or a 429
 * waits (exponential backoff with full jitter; a 429/503 Retry-After is honoured within bounds)
 * and is tried again, up to --callback-max-attempts; then done() reports the failure. A 2xx
 * delivers; any other 4xx fails at once. The receiver's host is checked against the allow-list
 * and its addresses against the network policy (netpolicy.h) at submit time
 * (callback_check_url) and again on the exact address curl connects to (DNS rebinding).
 *
 * Every request carries:
 *   Content-Type: application/json
 *   User-Agent: codegate-callback/<version>
 *   X-Codegate-Submission: <id>
 *   X-Codegate-Attempt: <1, 2, ...>
 *   X-Codegate-Timestamp: <unix seconds at this attempt>
 *   X-Codegate-Signature: sha256=<lower-case hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 * The timestamp is taken afresh for every attempt, so a receiver can refuse a request whose
 * timestamp is more than 5 minutes from its own clock (replay window) whatever the retry
 * schedule; it compares signatures in constant time and deduplicates on the submission id
 * (delivery is at least once). Callbacks are never sent unsigned: without a secret every
 * callbackUrl is refused at submit time.
 *
 * Ownership: callback_new() returns an object the caller frees with callback_free() (which stops
 * the thread first if needed; callback_free(NULL) is a no-op). callback_post() copies url, id and
 * body; the caller keeps its own.
 *
 * Threads: callback_check_url() and callback_post() may be called from any thread at any time
 * between callback_new() and callback_free(). done() runs on the delivery thread, exactly once
 * per accepted post (also for posts still queued at callback_stop(): delivered=false, why
 * "shutting down"; if the thread was never started, callback_stop's caller runs them). done()
 * holds up every other delivery while it runs: it should return quickly (a short write to
 * Redis is fine, a wait on anything slow is not) and must not call callback_stop/free. If
 * callback_post() fails, done() is never called for that post.
 */
#ifndef CG_CALLBACK_H
#define CG_CALLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

typedef struct callback callback_t;

/* Builds the delivery state from the configuration (secret file, host allow-list, allowed
 * networks, limits). Returns NULL with a reason in err on a bad option or unreadable secret.
 * Without a secret file the object is still built, but callback_check_url() refuses every URL
 * (callbacks are never sent unsigned). */
callback_t *callback_new(const config_t *cfg, char *err, size_t errlen);

/* Starts the delivery thread. 0 or -errno. */
int callback_start(callback_t *cb);

/* Checks a callbackUrl at submit time: syntax (http/https, no userinfo, valid port), the host
 * allow-list, and every address the host resolves to against the network policy. Returns 0, or
 * a negative errno with a one-line reason for the client in why (-EINVAL bad URL, -EPERM not
 * allowed, -ENOENT does not resolve, -ENOTSUP callbacks not configured). May block on DNS. */
int callback_check_url(const callback_t *cb, const char *url, char *why, size_t whylen);

/* Called once per accepted post, on the delivery thread. why is NULL when delivered, else a
 * short reason ("HTTP 404", "timeout after 6 attempts", ...). */
typedef void (*callback_done_fn)(void *arg, const char *id, bool delivered, int attempts,
                                 const char *why);

/* Queues a delivery. Non-blocking (no DNS: the URL's syntax and host allow list are checked
 * again, addresses at connect time); copies url, id and body. id must be 1 to 128 printable
 * ASCII characters (it goes into a header). Returns 0, -EAGAIN when the queue is full
 * (--callback-queue-max deliveries or 256 MiB of bodies),
 * -ESHUTDOWN once stopping, -ENOTSUP without a secret, -EINVAL on bad arguments or URL, -EPERM
 * when the host is not allowed, -ENOMEM. */
int callback_post(callback_t *cb, const char *url, const char *id, const char *body, size_t len,
                  callback_done_fn done, void *arg);

/* Stops the delivery thread: transfers in flight are abandoned, queued and waiting deliveries
 * are reported through done() as not delivered. Idempotent. */
void callback_stop(callback_t *cb);
void callback_free(callback_t *cb);

/* Counters for /metrics (thread-safe reads). */
typedef struct {
    uint64_t delivered; /* deliveries that got a 2xx */
    uint64_t failed;    /* deliveries given up (4xx, attempts exhausted, refused, stopped) */
    uint64_t retries;   /* attempts after the first */
    int in_flight;      /* transfers running now */
    int queued;         /* accepted, not finished (includes in_flight and waiting retries) */
} callback_stats_t;

void callback_stats(const callback_t *cb, callback_stats_t *out);

/* Writes the stats as Prometheus text (codegate_callbacks_total{result=delivered|failed},
 * codegate_callback_retries_total, codegate_callbacks_in_flight, codegate_callbacks_pending),
 * for the /metrics page. Thread-safe. */
void callback_metrics(const callback_t *cb, FILE *f);

/* The signature of one request: lower-case hex HMAC-SHA256 with key secret over
 * "<timestamp>.<body>" into hex (65 bytes with the NUL). 0, -ENOMEM or -EIO. */
int callback_sign(const void *secret, size_t secret_len, const char *timestamp, const char *body,
                  size_t len, char hex[65]);

#endif
