/*
 * session.h - interactive sessions: GET /api/code/session upgrades to a WebSocket on which a
 * browser starts a program, types its input as it asks, and sees its output as it prints.
 *
 * Protocol (JSON text frames):
 *   client -> server  {"type":"start","language","code","args"?,"timeoutMs"?,"memoryMb"?,
 *                      "token"?}
 *                     {"type":"stdin","data"}  {"type":"eof"}  {"type":"kill"}
 *   server -> client  {"type":"started"}  {"type":"compile","status","stdout","stderr",
 *                     "exitCode","durationMs"}  {"type":"stdout","data"}  {"type":"stderr","data"}
 *                     {"type":"exit","status","exitCode","signal","durationMs","cpuMs","memoryKb"}
 *                     {"type":"error","code","message"}
 * then a close frame. "exit" follows "started" and nothing else: a session refused before its
 * program ran gets an "error" and a close (1008 policy, 4503 unavailable, 1001 going away);
 * see README "Interactive sessions" for every ending and its close code.
 *
 * Ownership: sessions are created by the HTTP layer when a connection is upgraded and free
 * themselves when their connection thread and their job have both ended. The hub is created
 * and freed by main(); session_hub_close ends every session first.
 */
#ifndef CG_SESSION_H
#define CG_SESSION_H

#include <ulfius.h>

#include "config.h"
#include "pool.h"

typedef struct session_hub session_hub_t;

/*
 * API keys for sessions, set by the hub's owner before the HTTP server starts (NULL members:
 * the gateway is open). The key is the start frame's "token", else the bearer token of the
 * upgrade request's Authorization header; it is checked once, when the start frame arrives.
 * Called on the session's connection thread.
 *   authenticate: the principal (an opaque, non-NULL pointer that outlives the session) for
 *                 token (NULL when none was sent), or NULL to refuse: error "unauthorized",
 *                 close 1008.
 *   acquire:      takes one of the principal's concurrent-run places; 0, or non-zero when
 *                 none is free: error "rate_limited", close 4429. Optional.
 *   release:      gives the place back when the session ends. Required with acquire.
 */
/*
 * Wiring with the key store (main.c, after session_hub_new), for example:
 *   static const void *key_of(void *ks, const char *t) { return apikeys_authenticate(ks, t); }
 *   session_auth_t auth = {key_of, key_acquire, key_release, keys};
 *   session_hub_set_auth(hub, &auth);
 */
typedef struct {
    const void *(*authenticate)(void *ctx, const char *token);
    int (*acquire)(void *ctx, const void *principal);
    void (*release)(void *ctx, const void *principal);
    void *ctx;
} session_auth_t;

session_hub_t *session_hub_new(const config_t *cfg, pool_t *pool);
void session_hub_set_auth(session_hub_t *hub, const session_auth_t *auth);
/* Ends every open session (gateway shutdown) and waits for them, up to a few seconds. */
void session_hub_close(session_hub_t *hub);
void session_hub_free(session_hub_t *hub);
/* Connections open on the session endpoint (started or not). */
int session_hub_count(session_hub_t *hub);

/* The ulfius callback for GET /api/code/session (user_data: the hub). */
int session_endpoint(const struct _u_request *req, struct _u_response *resp, void *hub);

/*
 * Serves one upgraded connection on fd in a thread of its own: extra (may be NULL) holds
 * bytes the client sent after its upgrade request; close_fn(close_arg) releases fd at the end
 * (NULL: close(fd)). bearer is the Authorization header's token or NULL. Returns 0, or -1
 * when the session could not be set up (fd is then released). Used by session_endpoint's
 * upgrade and by the unit tests (socketpair).
 */
int session_serve(session_hub_t *hub, int fd, const char *extra, size_t extra_len,
                  const char *bearer, void (*close_fn)(void *), void *close_arg);

#endif
