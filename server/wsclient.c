/*
 * wsclient.c - the client side of the WebSocket opening handshake (see wsclient.h): the
 * request, and the check of the server's response head. The head is read as a whole once its
 * "\r\n\r\n" is in: a status line, then "Name: value" lines; names compare without case, as do
 * the tokens of Upgrade and Connection; the accept value and the protocol compare exactly.
 */
#include "wsclient.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* lws_b64_encode_string wants room for one byte more than the text and its NUL. */
static void b64(const unsigned char *in, int len, char *out, size_t outlen)
{
    char tmp[64];

    if (lws_b64_encode_string((const char *)in, len, tmp, (int)sizeof tmp) < 0)
        tmp[0] = '\0';
    snprintf(out, outlen, "%s", tmp);
}

void wsclient_key(const unsigned char nonce[16], char key[WSCLIENT_KEY_LEN + 1])
{
    b64(nonce, 16, key, WSCLIENT_KEY_LEN + 1);
}

void wsclient_accept(const char *key, char accept[WSCLIENT_ACCEPT_LEN + 1])
{
    char buf[128];
    unsigned char md[20];
    int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);

    lws_SHA1((const unsigned char *)buf, (size_t)n, md);
    b64(md, (int)sizeof md, accept, WSCLIENT_ACCEPT_LEN + 1);
}

int wsclient_request(char *out, size_t cap, const wsclient_req_t *r, const char *key)
{
    int n;

    if (r->authorization)
        n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: %s\r\nOrigin: %s\r\nAuthorization: %s\r\n\r\n",
                     r->path, r->host, key, r->protocol, r->host, r->authorization);
    else
        n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: %s\r\nOrigin: %s\r\n\r\n",
                     r->path, r->host, key, r->protocol, r->host);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* The headers the handshake looks at, as pointers into a copy of the head. */
typedef struct {
    const char *upgrade, *connection, *accept, *protocol;
} hs_fields_t;

/* True when the comma-separated list holds token (without case). */
static bool has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);

    while (*list) {
        while (*list == ' ' || *list == '\t' || *list == ',')
            list++;
        size_t n = strcspn(list, ", \t");
        if (n == tl && strncasecmp(list, token, tl) == 0)
            return true;
        list += n;
    }
    return false;
}

/* Splits the header lines (after the status line) of the NUL-terminated head in place. */
static void read_fields(char *lines, hs_fields_t *f)
{
    char *save = NULL;

    for (char *l = strtok_r(lines, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(l, ':'), *v, *e;
        if (!colon)
            continue;
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        *e = '\0';
        if (strcasecmp(l, "Upgrade") == 0)
            f->upgrade = v;
        else if (strcasecmp(l, "Connection") == 0)
            f->connection = v;
        else if (strcasecmp(l, "Sec-WebSocket-Accept") == 0)
            f->accept = v;
        else if (strcasecmp(l, "Sec-WebSocket-Protocol") == 0)
            f->protocol = v;
    }
}

static int refuse(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return WSCLIENT_ERROR;
}

int wsclient_response(const char *head, size_t len, const char *key, const char *protocol,
                      int *status, char *err, size_t errlen)
{
    char copy[WSCLIENT_HEAD_MAX + 1], want[WSCLIENT_ACCEPT_LEN + 1];
    const char *end = memmem(head, len, "\r\n\r\n", 4);
    hs_fields_t f = {0};
    size_t hl;
    char *eol;
    int st = 0;

    *status = 0;
    if (!end)
        return len < WSCLIENT_HEAD_MAX
                   ? WSCLIENT_MORE
                   : refuse(err, errlen, "the upgrade response head is too big");
    hl = (size_t)(end - head) + 4;
    if (hl > WSCLIENT_HEAD_MAX)
        return refuse(err, errlen, "the upgrade response head is too big");
    if (memchr(head, '\0', hl))
        return refuse(err, errlen, "a NUL byte in the upgrade response head");
    memcpy(copy, head, hl);
    copy[hl] = '\0';
    eol = strstr(copy, "\r\n");
    *eol = '\0';
    if (sscanf(copy, "HTTP/1.%*1[01] %3d", &st) != 1 || st < 100 || st > 999)
        return refuse(err, errlen, "not an HTTP response to the upgrade");
    *status = st;
    if (st != 101) {
        snprintf(err, errlen, "HTTP %d instead of a WebSocket upgrade", st);
        return WSCLIENT_ERROR;
    }
    read_fields(eol + 2, &f);
    if (!f.upgrade || strcasecmp(f.upgrade, "websocket") != 0)
        return refuse(err, errlen, "101 without Upgrade: websocket");
    if (!f.connection || !has_token(f.connection, "upgrade"))
        return refuse(err, errlen, "101 without Connection: upgrade");
    wsclient_accept(key, want);
    if (!f.accept || strcmp(f.accept, want) != 0)
        return refuse(err, errlen, "wrong Sec-WebSocket-Accept");
    if (!f.protocol || strcmp(f.protocol, protocol) != 0)
        return refuse(err, errlen, "the executor did not agree to our WebSocket protocol");
    return (int)hl;
}
