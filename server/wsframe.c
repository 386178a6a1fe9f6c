/*
 * wsframe.c - RFC 6455 frame parser and header encoder (see wsframe.h for the rules).
 *
 * The parser is a two-state machine: HEADER collects the 2 to 14 header bytes (the first two
 * say how many follow), and every check that needs only the header runs as soon as the bytes
 * it needs are in - the length limit right after the length field, before the mask key.
 * PAYLOAD unmasks bytes into the message buffer (data frames) or the control buffer, and on
 * the last byte of a final frame returns the message. In client mode (the gateway's pool talking
 * to executors) frames are unmasked: their header has no mask key and their payload is moved in
 * one memcpy per block read, never byte by byte.
 */
#include "wsframe.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void wsframe_parser_init(wsframe_parser_t *p, size_t max_message)
{
    memset(p, 0, sizeof *p);
    p->max_message = max_message;
}

void wsframe_parser_init_client(wsframe_parser_t *p, size_t max_message)
{
    wsframe_parser_init(p, max_message);
    p->client = true;
}

void wsframe_parser_free(wsframe_parser_t *p)
{
    free(p->msg);
    p->msg = NULL;
    p->msg_cap = p->msg_len = 0;
}

static int fail(wsframe_parser_t *p, int code, const char *why)
{
    p->close_code = code;
    p->error = why;
    return WSFRAME_ERROR;
}

bool wsframe_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

static bool is_control(int opcode)
{
    return opcode >= 0x8;
}

/* Checks of the first two header bytes; sets hdr_need. */
static int check_first(wsframe_parser_t *p)
{
    unsigned char b0 = p->hdr[0], b1 = p->hdr[1];
    int opcode = b0 & 0x0f;
    size_t len7 = b1 & 0x7f;

    p->fin = (b0 & 0x80) != 0;
    p->opcode = opcode;
    if (b0 & 0x70)
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "reserved bits set without an extension");
    if (!(opcode <= WSFRAME_OP_BINARY || (opcode >= WSFRAME_OP_CLOSE && opcode <= WSFRAME_OP_PONG)))
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "unknown opcode");
    if (!p->client && !(b1 & 0x80))
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "client frames must be masked");
    if (p->client && (b1 & 0x80))
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "server frames must not be masked");
    if (is_control(opcode) && (!p->fin || len7 > WSFRAME_CONTROL_MAX))
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "control frames are final and at most 125 bytes");
    if (opcode == WSFRAME_OP_CONT && !p->msg_opcode)
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "continuation frame outside a message");
    if ((opcode == WSFRAME_OP_TEXT || opcode == WSFRAME_OP_BINARY) && p->msg_opcode)
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "new message inside a fragmented message");
    p->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (p->client ? 0 : 4);
    return WSFRAME_MORE;
}

/* Once the length field is complete: the limit, before anything of the payload is stored. */
static int check_length(wsframe_parser_t *p)
{
    size_t len7 = p->hdr[1] & 0x7f;
    uint64_t len = len7;

    if (len7 == 126) {
        len = ((uint64_t)p->hdr[2] << 8) | p->hdr[3];
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | p->hdr[2 + i];
        if (len >> 63)
            return fail(p, WSFRAME_CLOSE_PROTOCOL, "frame length with the top bit set");
    }
    p->len = len;
    if (!is_control(p->opcode) && (len > p->max_message || p->msg_len > p->max_message - len))
        return fail(p, WSFRAME_CLOSE_TOO_BIG, "message over the size limit");
    return WSFRAME_MORE;
}

/* Makes room for n more message bytes (never beyond max_message: checked on the header). */
static int grow(wsframe_parser_t *p, size_t n)
{
    size_t need = p->msg_len + n, cap = p->msg_cap ? p->msg_cap : 256;
    unsigned char *m;

    if (need <= p->msg_cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (cap > p->max_message)
        cap = p->max_message > need ? p->max_message : need;
    m = realloc(p->msg, cap);
    if (!m)
        return -1;
    p->msg = m;
    p->msg_cap = cap;
    return 0;
}

/* A complete control frame: validates a close payload. */
static int control_done(wsframe_parser_t *p, wsframe_msg_t *msg)
{
    size_t n = (size_t)p->len;

    msg->opcode = p->opcode;
    msg->data = p->ctl;
    msg->len = n;
    msg->close_code = 0;
    if (p->opcode != WSFRAME_OP_CLOSE)
        return WSFRAME_MSG;
    msg->close_code = WSFRAME_CLOSE_NO_STATUS;
    if (n == 0)
        return WSFRAME_MSG;
    if (n == 1)
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "close frame with a one-byte payload");
    msg->close_code = (p->ctl[0] << 8) | p->ctl[1];
    if (!wsframe_close_code_valid(msg->close_code))
        return fail(p, WSFRAME_CLOSE_PROTOCOL, "invalid close code");
    if (!cg_utf8_valid(p->ctl + 2, n - 2))
        return fail(p, WSFRAME_CLOSE_BAD_DATA, "close reason is not UTF-8");
    msg->data = p->ctl + 2;
    msg->len = n - 2;
    return WSFRAME_MSG;
}

/* The end of a frame: a control frame or the last fragment of a message is returned. */
static int frame_done(wsframe_parser_t *p, wsframe_msg_t *msg)
{
    p->in_payload = false;
    p->hdr_len = 0;
    if (is_control(p->opcode))
        return control_done(p, msg);
    if (!p->fin)
        return WSFRAME_MORE;
    if (!p->client && p->msg_opcode == WSFRAME_OP_TEXT && !cg_utf8_valid(p->msg, p->msg_len))
        return fail(p, WSFRAME_CLOSE_BAD_DATA, "text message is not UTF-8");
    msg->opcode = p->msg_opcode;
    msg->data = p->msg ? p->msg : (const unsigned char *)"";
    msg->len = p->msg_len;
    msg->close_code = 0;
    p->msg_done = true;
    return WSFRAME_MSG;
}

/* Header bytes are in: run the checks due, start the payload. */
static int header_byte(wsframe_parser_t *p, wsframe_msg_t *msg)
{
    size_t len_end;

    if (p->hdr_len == 2 && check_first(p) != WSFRAME_MORE)
        return WSFRAME_ERROR;
    if (p->hdr_len < 2)
        return WSFRAME_MORE;
    len_end = p->hdr_need - (p->client ? 0 : 4);
    if (p->hdr_len == len_end && check_length(p) != WSFRAME_MORE)
        return WSFRAME_ERROR;
    if (p->hdr_len < p->hdr_need)
        return WSFRAME_MORE;
    if (!p->client)
        memcpy(p->mask, p->hdr + len_end, 4);
    p->got = 0;
    if (p->opcode == WSFRAME_OP_TEXT || p->opcode == WSFRAME_OP_BINARY)
        p->msg_opcode = p->opcode;
    p->in_payload = true;
    if (p->len == 0)
        return frame_done(p, msg);
    return WSFRAME_MORE;
}

int wsframe_parse(wsframe_parser_t *p, const unsigned char *buf, size_t len, size_t *used,
                  wsframe_msg_t *msg)
{
    size_t i = 0;
    int rc;

    *used = 0;
    if (p->close_code)
        return WSFRAME_ERROR;
    if (p->msg_done) {
        p->msg_done = false;
        p->msg_opcode = 0;
        p->msg_len = 0;
        if (p->msg_cap > 64 * 1024) { /* give back a big message's memory */
            free(p->msg);
            p->msg = NULL;
            p->msg_cap = 0;
        }
    }
    while (i < len) {
        if (!p->in_payload) {
            p->hdr[p->hdr_len++] = buf[i++];
            rc = header_byte(p, msg);
        } else {
            uint64_t left = p->len - p->got;
            size_t n = len - i < left ? len - i : (size_t)left;
            unsigned char *dst;
            if (is_control(p->opcode)) {
                dst = p->ctl + p->got;
            } else {
                if (grow(p, n) != 0)
                    return fail(p, WSFRAME_CLOSE_INTERNAL, "out of memory");
                dst = p->msg + p->msg_len;
                p->msg_len += n;
            }
            memcpy(dst, buf + i, n);
            if (!p->client) { /* the key continues where the last block of the frame ended */
                unsigned char key[4];
                for (size_t k = 0; k < 4; k++)
                    key[k] = p->mask[(p->got + k) & 3];
                wsframe_mask(dst, n, key);
            }
            p->got += n;
            i += n;
            rc = p->got == p->len ? frame_done(p, msg) : WSFRAME_MORE;
        }
        if (rc != WSFRAME_MORE) {
            *used = i;
            return rc;
        }
    }
    *used = i;
    return WSFRAME_MORE;
}

size_t wsframe_header(unsigned char out[10], int opcode, uint64_t len)
{
    out[0] = (unsigned char)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

size_t wsframe_header_masked(unsigned char out[WSFRAME_HEADER_MAX], int opcode, uint64_t len,
                             const unsigned char key[4])
{
    size_t n = wsframe_header(out, opcode, len);

    out[1] |= 0x80;
    memcpy(out + n, key, 4);
    return n + 4;
}

void wsframe_mask(unsigned char *buf, size_t len, const unsigned char key[4])
{
    uint32_t k32;
    uint64_t k64;
    size_t i = 0;

    /* Eight bytes at a time: the key repeats every four, so the 64-bit key is it twice. */
    memcpy(&k32, key, 4);
    k64 = ((uint64_t)k32 << 32) | k32;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        w ^= k64;
        memcpy(buf + i, &w, 8);
    }
    for (; i < len; i++)
        buf[i] ^= key[i & 3];
}
