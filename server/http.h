/*
 * http.h - the ulfius HTTP front end: routes, CORS, request logging, graceful drain.
 *
 * Theory of operation
 * -------------------
 * libmicrohttpd runs one thread per connection; a handler for POST /api/code/execute parses the
 * body, queues a job on the pool and blocks in job_wait() until the pool finishes it. An
 * in-flight counter tracks handlers between entry and the response being built. Drain:
 * http_begin_drain() makes /readyz answer 503 on connections already open and closes the
 * listening socket at once (MHD_quiesce_daemon, then close: new connections are refused);
 * http_inflight() tells the caller when handlers are done. Connection limits, deadlines and
 * the checks made before a body is read live in frontdoor.c.
 *
 * Ownership: http_t is created by http_start and freed by http_stop (which also stops MHD).
 * Threads: http_begin_drain, http_inflight and http_stop are for the main thread.
 */
#ifndef CG_HTTP_H
#define CG_HTTP_H

#include "apikeys.h"
#include "async.h"
#include "config.h"
#include "pool.h"
#include "session.h"

typedef struct http http_t;

/* Starts listening on cfg->bind:cfg->port. NULL on failure (logged). */
http_t *http_start(const config_t *cfg, pool_t *pool, session_hub_t *hub, apikeys_t *keys,
                   async_t *async, const char *runtime_name);
/* What /readyz shows as "progress" while not ready; step must be a static string. */
void http_set_progress(http_t *h, const char *step);
void http_begin_drain(http_t *h);
int http_inflight(http_t *h);
void http_stop(http_t *h);

#endif
