/*
 * pool_raw.c - the WebSocket link of the pool's plain (non-TLS) connections, on the pool thread.
 *
 * lws 4.1 hands every received byte of a ws *client* connection to a per-byte state machine;
 * for a megabyte of program output that was a third of the gateway's CPU. Plain connections
 * are therefore lws raw client sockets (method "RAW"): lws still connects, polls, buffers
 * partial writes and runs the timers, and the pool speaks RFC 6455 itself:
 *
 *   RAW_CONNECTED   pool_raw_connected queues the upgrade request (wsclient.c), written first
 *   RAW_RX          pool_raw_receive: the response head (bounded, checked: 101, Upgrade,
 *                   Connection, Sec-WebSocket-Accept, our protocol), then frames parsed by
 *                   wsframe.c in client mode (payload copied in blocks) into messages for
 *                   pool_frame_message; a ping is answered with a pong, a close with a close
 *                   and the end of the connection; a broken rule or a message over POOL_RX_MAX
 *                   (refused when its header arrives) sends a close with the code and ends it
 *   RAW_WRITEABLE   pool_frame_writeable: the request, then (once upgraded) the queued frames,
 *                   masked with a random key when queued (pool_raw_frame)
 *   RAW_CLOSE       pool.c on_closed, as CLIENT_CLOSED for the ws client
 *
 * A frame the pool queues before the upgrade completes waits in c->out until the 101 is in.
 * TLS connections (the external runtime with --executor-ca-file) keep lws' ws client, whose
 * certificate and host name checks they need (pool_conn_connect).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cg_util.h"
#include "log.h"
#include "pool_int.h"

static int random_bytes(unsigned char *buf, size_t len)
{
    ssize_t n;

    do
        n = getrandom(buf, len, 0);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

frameq_item_t *pool_raw_frame(int opcode, const void *payload, size_t len)
{
    unsigned char hdr[WSFRAME_HEADER_MAX], key[4];
    frameq_item_t *f;
    size_t hl;

    if (random_bytes(key, sizeof key) != 0)
        return NULL;
    hl = wsframe_header_masked(hdr, opcode, len, key);
    f = frameq_item_new(LWS_PRE, hdr, hl, payload, len);
    if (f)
        wsframe_mask(f->data + hl, len, key);
    return f;
}

void pool_raw_prepare(conn_t *c)
{
    wsframe_parser_free(&c->ws);
    wsframe_parser_init_client(&c->ws, POOL_RX_MAX);
    pool_raw_reset(c);
}

void pool_raw_reset(conn_t *c)
{
    free(c->hs);
    c->hs = NULL;
    c->upgraded = false;
    c->closing = false;
    c->key[0] = '\0';
}

void pool_raw_free(conn_t *c)
{
    pool_raw_reset(c);
    wsframe_parser_free(&c->ws);
}

int pool_raw_connected(conn_t *c, struct lws *wsi)
{
    const endpoint_t *ep = c->ep;
    unsigned char nonce[16];
    char auth[RUNTIME_TOKEN_MAX + 16], req[RUNTIME_TOKEN_MAX + 1024];
    wsclient_req_t r = {pool_conn_host(ep), "/", CG_PROTO_NAME, auth};
    int n;

    if (random_bytes(nonce, sizeof nonce) != 0) {
        pool_conn_log_error(c->ep, "no random bytes for the WebSocket key");
        return -1;
    }
    wsclient_key(nonce, c->key);
    /* As the ws client's LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER did: always sent. */
    snprintf(auth, sizeof auth, "Bearer %s", ep->info.token);
    n = wsclient_request(req, sizeof req, &r, c->key);
    free(c->hs);
    c->hs = n > 0 ? frameq_item_new(LWS_PRE, req, (size_t)n, NULL, 0) : NULL;
    if (!c->hs)
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Queues a close frame with code; the connection ends once it is written. */
static void send_close(conn_t *c, struct lws *wsi, int code)
{
    unsigned char payload[2] = {(unsigned char)(code >> 8), (unsigned char)code};
    frameq_item_t *f = pool_raw_frame(WSFRAME_OP_CLOSE, payload, sizeof payload);

    c->closing = true;
    if (f) {
        f->close = true;
        frameq_push(&c->out, f);
    } else {
        /* Without memory: end it at once. */
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    lws_callback_on_writable(wsi);
}

/* The response head: returns how many bytes of in it used (the rest are frames), or -1 when
 * the upgrade failed (logged), or len with c->upgraded still false when more must come. */
static ssize_t upgrade_response(conn_t *c, struct lws *wsi, const unsigned char *in, size_t len)
{
    size_t old = c->rx.len, room = old < WSCLIENT_HEAD_MAX ? WSCLIENT_HEAD_MAX - old : 0;
    size_t n = len < room ? len : room;
    char err[160];
    int status, hl;

    if (cg_buf_append(&c->rx, in, n) != 0)
        return -1;
    hl = wsclient_response(c->rx.data, c->rx.len, c->key, CG_PROTO_NAME, &status, err, sizeof err);
    if (hl == WSCLIENT_MORE)
        return (ssize_t)len;
    if (hl == WSCLIENT_ERROR) {
        pool_connect_error(c, status > 0 ? (unsigned int)status : 0, err);
        c->closing = true; /* logged: on_closed need not guess why */
        return -1;
    }
    cg_buf_reset(&c->rx, 0);
    c->upgraded = true;
    c->last_rx_ms = cg_now_ms();
    if (!frameq_empty(&c->out))
        lws_callback_on_writable(wsi);
    return (ssize_t)((size_t)hl - old);
}

/* One control frame or message from the parser. */
static void on_message(pool_t *p, conn_t *c, struct lws *wsi, const wsframe_msg_t *m)
{
    frameq_item_t *f;

    c->last_rx_ms = cg_now_ms();
    switch (m->opcode) {
    case WSFRAME_OP_TEXT:
    case WSFRAME_OP_BINARY:
        pool_frame_message(p, c, (const char *)m->data, m->len);
        break;
    case WSFRAME_OP_PING:
        if ((f = pool_raw_frame(WSFRAME_OP_PONG, m->data, m->len))) {
            frameq_push(&c->out, f);
            lws_callback_on_writable(wsi);
        }
        break;
    case WSFRAME_OP_CLOSE:
        send_close(c, wsi,
                   m->close_code == WSFRAME_CLOSE_NO_STATUS ? WSFRAME_CLOSE_NORMAL : m->close_code);
        break;
    default: /* PONG: we ping at the application level (PING/PONG messages) */
        break;
    }
}

int pool_raw_receive(pool_t *p, conn_t *c, struct lws *wsi, const unsigned char *in, size_t len)
{
    wsframe_msg_t m;
    size_t used;
    int rc;

    if (!c->upgraded) {
        ssize_t n = upgrade_response(c, wsi, in, len);
        if (n < 0)
            return -1;
        in += n;
        len -= (size_t)n;
    }
    while (len > 0 && !c->closing) {
        rc = wsframe_parse(&c->ws, in, len, &used, &m);
        in += used;
        len -= used;
        if (rc == WSFRAME_MORE)
            break;
        if (rc == WSFRAME_ERROR) {
            if (c->ws.close_code == WSFRAME_CLOSE_TOO_BIG)
                log_msg(LOG_WARN, "executor %s sent a frame over %u bytes", c->ep->info.id,
                        POOL_RX_MAX);
            else
                log_msg(LOG_WARN, "executor %s broke the WebSocket protocol: %s", c->ep->info.id,
                        c->ws.error);
            send_close(c, wsi, c->ws.close_code);
            break;
        }
        on_message(p, c, wsi, &m);
        if (c->wsi != wsi)
            return 0; /* the message ended the connection (pool_conn_close): nothing more */
    }
    return 0;
}
