/*
 * wsclient.h - the client side of the RFC 6455 opening handshake, for the pool's connections to
 * executors (server/pool_conn.c): they are lws *raw* client connections on which the pool speaks
 * WebSocket itself, so that a frame's payload is moved in blocks (server/wsframe.c, client mode)
 * and not through lws 4.1's per-byte client parser.
 *
 *   gateway (pool)                                   executor (lws server)
 *   GET / HTTP/1.1, Upgrade, Sec-WebSocket-Key K,
 *   Sec-WebSocket-Protocol P, Authorization ...  -->
 *                                                <--  HTTP/1.1 101, Upgrade: websocket,
 *                                                     Connection: Upgrade, Sec-WebSocket-Accept
 *                                                     base64(SHA-1(K + GUID)), Protocol P
 *   frames (ours masked, theirs not)            <-->  frames
 *
 * The response head is bounded (WSCLIENT_HEAD_MAX): a bigger one is refused, never stored.
 *
 * Ownership and threads: no state of its own; the caller owns every buffer and calls from one
 * thread per connection (the pool thread).
 */
#ifndef CG_WSCLIENT_H
#define CG_WSCLIENT_H

#include <stddef.h>

#define WSCLIENT_HEAD_MAX 4096 /* bytes of a response head, "\r\n\r\n" included */
#define WSCLIENT_KEY_LEN 24    /* base64 of 16 random bytes */
#define WSCLIENT_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

enum { WSCLIENT_ERROR = -1, WSCLIENT_MORE = 0 };

typedef struct {
    const char *host;          /* Host header (and Origin, as lws' client sent) */
    const char *path;          /* "/" */
    const char *protocol;      /* Sec-WebSocket-Protocol */
    const char *authorization; /* Authorization header value, or NULL for none */
} wsclient_req_t;

/* Makes the Sec-WebSocket-Key (base64 of the 16 random bytes in nonce) into key. */
void wsclient_key(const unsigned char nonce[16], char key[WSCLIENT_KEY_LEN + 1]);

/* The Sec-WebSocket-Accept a server must answer to key. */
void wsclient_accept(const char *key, char accept[WSCLIENT_ACCEPT_LEN + 1]);

/* Writes the upgrade request for key into out (at most cap bytes, NUL-terminated); returns its
 * length, or -1 when it does not fit. */
int wsclient_request(char *out, size_t cap, const wsclient_req_t *r, const char *key);

/*
 * Checks the response head received so far (head[0..len), the first bytes of the connection).
 * Returns the head's length (> 0, up to and with its "\r\n\r\n"; bytes after it are frames)
 * when the upgrade is accepted: status 101, Upgrade: websocket, Connection: upgrade, the accept
 * value of key and the protocol asked for. WSCLIENT_MORE when the head is incomplete and still
 * under WSCLIENT_HEAD_MAX. WSCLIENT_ERROR when it is refused: *status is the HTTP status (0 if
 * none could be read) and err says why.
 */
int wsclient_response(const char *head, size_t len, const char *key, const char *protocol,
                      int *status, char *err, size_t errlen);

#endif
