/*
 * apikeys.h - optional API keys with per-key quotas (requests per minute, concurrent runs).
 *
 * Keys file (--api-keys-file / CODEGATE_API_KEYS_FILE), one key per line:
 *
 *     # name      key                                   limits (optional)
 *     teacher-a   3f9c1e0d6b2a4c8e9f7a1b2c3d4e5f60      rpm=120 concurrent=4
 *     grader      Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV6      concurrent=16
 *     ops         b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6      admin=1
 *
 * name: 1-64 of [A-Za-z0-9_.-], shown in logs and metrics (never the key); key: 16-256
 * printable ASCII characters without blanks; rpm=N (requests per minute, token bucket with a
 * burst of N) and concurrent=N (runs at once), both 0 or absent = unlimited; admin=1 lets
 * the key use the admin endpoints (dead letters of the asynchronous API). '#' starts a
 * comment line; blank lines are ignored. A malformed line makes the whole file invalid: at
 * start the gateway refuses to run, on reload (SIGHUP) the previous keys stay in force.
 *
 * Clients send `Authorization: Bearer <key>`. Without a keys file every request is let in as
 * the static "anonymous" entry (no limits). Keys are compared in constant time (every stored
 * key is compared in full, whatever matches).
 *
 * Ownership and threads: apikeys_t is created by apikeys_new and freed by apikeys_free after
 * every user is gone. An apikey_t returned by apikeys_authenticate stays valid until
 * apikeys_free, also across reloads: a reload updates the entry of a name in place, disables
 * the names that left the file, and adds new ones (so counters survive a reload). Every
 * function is thread-safe (one mutex).
 */
#ifndef CG_APIKEYS_H
#define CG_APIKEYS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct apikeys apikeys_t;
typedef struct apikey apikey_t;

/* What a quota answer tells the client (RateLimit-* and Retry-After headers). */
typedef struct {
    int limit;       /* rpm of the key, 0 = unlimited (no headers) */
    int remaining;   /* whole requests left in the bucket */
    int reset_s;     /* seconds until the bucket is full again */
    int retry_after; /* when refused: seconds until the next request may pass */
} apikey_quota_t;

/* path "" = keys disabled. NULL on error, with the reason (file:line: ...) in err. */
apikeys_t *apikeys_new(const char *path, char *err, size_t errlen);
void apikeys_free(apikeys_t *ks);
bool apikeys_enabled(const apikeys_t *ks);

/* Re-reads the file. 0 on success; -1 with err filled, and the previous keys stay. */
int apikeys_reload(apikeys_t *ks, char *err, size_t errlen);

/* The key whose secret is token (without "Bearer "), or NULL (refused). When keys are
 * disabled, a static "anonymous" entry whatever token is (even NULL). */
const apikey_t *apikeys_authenticate(apikeys_t *ks, const char *token);

/* The token of an Authorization header value "Bearer <token>" (scheme case-insensitive), or
 * NULL. Points into value. */
const char *apikeys_bearer(const char *value);

const char *apikey_name(const apikey_t *k);
/* The active key named name (asynchronous submissions run under the key that made them), or
 * NULL; the anonymous entry when keys are disabled. */
const apikey_t *apikeys_find(apikeys_t *ks, const char *name);
/* The key has admin=1 (false for the anonymous entry and for keys removed by a reload). */
bool apikeys_is_admin(apikeys_t *ks, const apikey_t *k);

/* Takes one request from the key's per-minute bucket. 0 = allowed; -1 = refused (429).
 * q (may be NULL) is filled either way. */
int apikeys_take_request(apikeys_t *ks, const apikey_t *k, apikey_quota_t *q);

/* Takes one of the key's concurrent-run places. 0 = taken (call apikeys_release once when the
 * run is over); -1 = all taken (429, q->retry_after set). */
int apikeys_acquire(apikeys_t *ks, const apikey_t *k, apikey_quota_t *q);
void apikeys_release(apikeys_t *ks, const apikey_t *k);

/* Counts a refused authentication (missing or wrong key) for /metrics. */
void apikeys_count_refused(apikeys_t *ks);

/* Prometheus text of the per-key counters (labelled by name). */
void apikeys_render_metrics(apikeys_t *ks, FILE *f);

/* Test hook: the clock in milliseconds (default: CLOCK_MONOTONIC). */
void apikeys_set_clock(apikeys_t *ks, int64_t (*now_ms)(void));

#endif
