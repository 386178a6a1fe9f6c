/*
 * session.h - interactive sessions: GET /api/code/session upgrades to a WebSocket on which a
 * browser starts a program, types its input as it asks, and sees its output as it prints.
 *
 * Protocol (JSON text frames):
 *   client -> server  {"type":"start","language","code","args"?,"timeoutMs"?,"memoryMb"?}
 *                     {"type":"stdin","data"}  {"type":"eof"}  {"type":"kill"}
 *   server -> client  {"type":"started"}  {"type":"compile","status","stdout","stderr",
 *                     "exitCode","durationMs"}  {"type":"stdout","data"}  {"type":"stderr","data"}
 *                     {"type":"exit","status","exitCode","signal","durationMs","cpuMs","memoryKb"}
 *                     {"type":"error","code","message"}
 * then a normal close.
 *
 * Ownership: sessions are created by the HTTP layer (session_attach) and free themselves when
 * the connection, its manager thread and its job have all ended.
 */
#ifndef CG_SESSION_H
#define CG_SESSION_H

#include <ulfius.h>

#include "config.h"
#include "pool.h"

typedef struct session_hub session_hub_t;

session_hub_t *session_hub_new(const config_t *cfg, pool_t *pool);
/* Ends every open session (gateway shutdown) and waits for them, up to a few seconds. */
void session_hub_close(session_hub_t *hub);
void session_hub_free(session_hub_t *hub);
int session_hub_count(session_hub_t *hub);

/* The ulfius callback for GET /api/code/session (user_data: the hub). */
int session_endpoint(const struct _u_request *req, struct _u_response *resp, void *hub);

#endif
