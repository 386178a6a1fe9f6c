/*
 * wsupgrade.h - takes a WebSocket connection from ulfius at its 101 answer, so that the gateway
 * reads its frames itself (ulfius' reader stores a frame's announced payload without a limit).
 *
 * ulfius still checks the upgrade request (GET, HTTP/1.1, Upgrade, Connection, key, version
 * 13) and computes Sec-WebSocket-Accept. libmicrohttpd then calls the upgrade handler given to
 * MHD_create_response_for_upgrade(); this file defines that function, which the dynamic linker
 * binds for libulfius (the executable's definition comes first), calls the real one, and for a
 * response made by wsupgrade_respond() swaps in its own handler: it releases what ulfius set up
 * for its reader thread (which never starts) and passes the socket to the registered handler.
 *
 * Ownership and threads: the handler runs on libmicrohttpd's connection thread and must not
 * block; it owns the socket and releases it with close_fn(close_arg) (libmicrohttpd's
 * MHD_UPGRADE_ACTION_CLOSE: the socket must not be closed directly). extra (bytes the client
 * sent after its request) and bearer (the Authorization header's bearer token, or NULL) are
 * valid during the call only.
 */
#ifndef CG_WSUPGRADE_H
#define CG_WSUPGRADE_H

#include <stddef.h>

#include <ulfius.h>

typedef void (*wsupgrade_fn)(void *arg, int fd, const char *extra, size_t extra_len,
                             const char *bearer, void (*close_fn)(void *), void *close_arg);

/* Sets the handler of every upgraded connection, once, before the HTTP server starts. Returns
 * 0, or -1 when this file's wrapper is not the function libulfius calls (a static link): the
 * caller must then refuse WebSocket requests, which would otherwise reach ulfius' reader. */
int wsupgrade_init(wsupgrade_fn fn);

/* Fills an ulfius response for a WebSocket request; arg goes to the handler. Returns an ulfius
 * callback result (U_CALLBACK_COMPLETE, or U_CALLBACK_ERROR when out of memory). */
int wsupgrade_respond(struct _u_response *resp, void *arg);

#endif
