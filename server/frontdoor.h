/*
 * frontdoor.h - what stands between a TCP connection and the ulfius routes: connection limits,
 * header and body deadlines, checks of the request head (Host, Content-Length, Content-Type,
 * size, API key and its per-minute quota) answered before the body is read, JSON bodies for
 * the errors libmicrohttpd produces itself, and a count of every answer by status and code.
 *
 * Theory of operation
 * -------------------
 * libmicrohttpd (MHD) runs one thread per connection and polls with poll(), not select(), so
 * descriptors above FD_SETSIZE work. ulfius starts MHD with its own access handler and offers
 * no hook before it; this module defines MHD_start_daemon, MHD_queue_response and
 * MHD_create_response_from_buffer in the gateway executable. The dynamic linker resolves
 * libulfius' and libmicrohttpd's calls to these names to the executable's definitions first
 * (ELF symbol interposition), and each forwards to the library's own function:
 *  - MHD_start_daemon wraps ulfius' access handler in frontdoor's (checks, then ulfius) and
 *    installs an accept policy (per-address cap);
 *  - MHD_create_response_from_buffer is used by MHD only for its built-in HTML error pages
 *    (400, 413, 414, 431, 505, ...); those are marked, and MHD_queue_response replaces a
 *    marked page by the JSON error shape for its status;
 *  - MHD_queue_response also counts every answer (status, error code) for /metrics and logs
 *    every 5xx with its cause.
 * frontdoor_start() fails if the interposition did not happen (e.g. a static build).
 *
 * Per connection (MHD_OPTION_NOTIFY_CONNECTION) a record holds the phase and its deadline:
 * head (request line and headers) within --header-timeout-ms of the connection opening or of
 * the request line of a keep-alive request, body within --body-timeout-ms of the head. A
 * watchdog thread scans the records every 200 ms; past a deadline it writes a 408 JSON answer
 * to the socket itself and shuts the socket down, which makes MHD's connection thread close
 * the connection. The record list and every record field are guarded by one mutex; MHD
 * reports a connection closed (and the record is unlinked) before it closes the socket, so the
 * watchdog never writes to a reused descriptor.
 *
 * Threads: frontdoor_start/stop from the main thread; frontdoor_note_error from a handler
 * thread, before it returns its answer to ulfius (a thread-local carries the code and cause to
 * MHD_queue_response in the same thread).
 */
#ifndef CG_FRONTDOOR_H
#define CG_FRONTDOOR_H

#include <netinet/in.h>
#include <stdbool.h>

#include <ulfius.h>

#include "apikeys.h"
#include "config.h"

/* Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit. */
long frontdoor_raise_nofile(void);

/* Starts ulfius/MHD on addr with the front door in place. keys may be NULL (no keys). 0 or -1
 * (logged). */
int frontdoor_start(struct _u_instance *inst, const config_t *cfg, apikeys_t *keys,
                    const struct sockaddr_in *addr);
/* Stops the watchdog. Call after ulfius_stop_framework. */
void frontdoor_stop(void);

/* The API error code and cause of the answer this thread is about to return (NULL = none). */
void frontdoor_note_error(const char *code, const char *message);

/* Whether the client of the request this thread is handling has closed its connection (or
 * shut down its sending side, as a browser's aborted fetch does): the answer can no longer be
 * delivered. Non-blocking; false outside a handler. Called by handlers that wait long. */
bool frontdoor_client_gone(void);

/* Open HTTP connections. */
int frontdoor_connections(void);

/* The key authenticated for a request's Authorization header (NULL = refused; "anonymous"
 * when keys are disabled). */
const apikey_t *frontdoor_request_key(apikeys_t *keys, const char *authorization);

#endif
