/*
 * wsframe.h - RFC 6455 framing for the session endpoint: an incremental parser of the frames a
 * client sends, which checks every limit on a frame's header before it stores a byte of the
 * frame's payload, and the header encoder for the frames the server sends.
 *
 * Client mode (wsframe_parser_init_client; the pool's connections to executors, with
 * server/wsclient.c for the upgrade): the same parser for the frames a server sends, which are
 * unmasked (a masked one is refused, 1002); payload is copied in blocks. A text message is not
 * checked for UTF-8 there: the executor sends only text it validated, and the JSON parser that
 * reads it needs none. Frames the client sends are masked: wsframe_header_masked, wsframe_mask.
 *
 * What the parser enforces (each failure names the close code to answer with):
 *   - client frames are masked (client mode: server frames are not); RSV bits are 0 (no
 *     extension is negotiated); the opcode is one of continuation, text, binary, close, ping,
 *     pong                                                                       -> 1002
 *   - control frames are final and carry at most 125 bytes; a close payload is empty or a
 *     valid code (1000-1003, 1007-1014, 3000-4999) plus UTF-8 text                -> 1002 / 1007
 *   - a continuation continues a message, a new message does not start inside one -> 1002
 *   - a data message, all of its fragments together, holds at most max_message bytes: checked
 *     when a frame's length arrives, so a header announcing 4 GiB is refused at once  -> 1009
 *   - a text message is valid UTF-8                                               -> 1007
 * Control frames may arrive between the fragments of a message (RFC 6455 5.4).
 *
 * Memory: a parser holds at most max_message bytes of message plus 125 of control payload,
 * grown as payload arrives (not as announced).
 *
 * Ownership and threads: the parser is embedded by its user (one connection's reader thread),
 * set up with wsframe_parser_init and released with wsframe_parser_free. A message returned by
 * wsframe_parse points into the parser and stays valid until the next call.
 */
#ifndef CG_WSFRAME_H
#define CG_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSFRAME_OP_CONT 0x0
#define WSFRAME_OP_TEXT 0x1
#define WSFRAME_OP_BINARY 0x2
#define WSFRAME_OP_CLOSE 0x8
#define WSFRAME_OP_PING 0x9
#define WSFRAME_OP_PONG 0xA

/* Close codes (RFC 6455 7.4.1, and 1012-1014 from the IANA registry). */
#define WSFRAME_CLOSE_NORMAL 1000
#define WSFRAME_CLOSE_GOING_AWAY 1001
#define WSFRAME_CLOSE_PROTOCOL 1002
#define WSFRAME_CLOSE_UNSUPPORTED 1003
#define WSFRAME_CLOSE_NO_STATUS 1005 /* received close without a code; never sent */
#define WSFRAME_CLOSE_BAD_DATA 1007
#define WSFRAME_CLOSE_POLICY 1008
#define WSFRAME_CLOSE_TOO_BIG 1009
#define WSFRAME_CLOSE_INTERNAL 1011
/* Application codes (4000-4999): the HTTP status + 4000. 1013 "try again later" would be the
 * registered code, but common clients (websocket-client 1.2, Debian 12's python3-websocket)
 * reject it as invalid and never show the error frame before it. */
#define WSFRAME_CLOSE_RATE_LIMITED 4429
#define WSFRAME_CLOSE_UNAVAILABLE 4503

#define WSFRAME_CONTROL_MAX 125
#define WSFRAME_HEADER_MAX 14 /* 2 + 8 (length) + 4 (mask) */

enum { WSFRAME_ERROR = -1, WSFRAME_MORE = 0, WSFRAME_MSG = 1 };

typedef struct {
    int opcode;                /* TEXT, BINARY, CLOSE, PING or PONG: never CONT */
    const unsigned char *data; /* payload (for CLOSE: the reason, after the code) */
    size_t len;
    int close_code; /* CLOSE: the code received, WSFRAME_CLOSE_NO_STATUS if none */
} wsframe_msg_t;

typedef struct {
    size_t max_message;
    bool client; /* client mode: unmasked frames expected, no UTF-8 check */
    /* the frame being read */
    unsigned char hdr[WSFRAME_HEADER_MAX];
    size_t hdr_len;  /* bytes of hdr received */
    size_t hdr_need; /* bytes the header has in all (known after its first two) */
    bool in_payload;
    int opcode;
    bool fin;
    unsigned char mask[4];
    uint64_t len, got;
    /* the data message being reassembled: opcode 0 when none */
    int msg_opcode;
    unsigned char *msg;
    size_t msg_len, msg_cap;
    bool msg_done; /* returned last call: reset on the next */
    unsigned char ctl[WSFRAME_CONTROL_MAX];
    /* failure */
    int close_code; /* 0 while the stream is fine */
    const char *error;
} wsframe_parser_t;

void wsframe_parser_init(wsframe_parser_t *p, size_t max_message);
/* The same, in client mode (see above). */
void wsframe_parser_init_client(wsframe_parser_t *p, size_t max_message);
void wsframe_parser_free(wsframe_parser_t *p);

/*
 * Consumes bytes of buf, at most len. Returns WSFRAME_MSG when *msg holds a complete message
 * or control frame (*used bytes were consumed: call again with the rest), WSFRAME_MORE when all
 * len bytes were consumed without completing one, WSFRAME_ERROR when the stream broke a rule:
 * p->close_code is the code to close with and p->error says why. An error is final.
 */
int wsframe_parse(wsframe_parser_t *p, const unsigned char *buf, size_t len, size_t *used,
                  wsframe_msg_t *msg);

/* Writes the header of an unmasked final server frame of len payload bytes; returns its size
 * (2, 4 or 10). */
size_t wsframe_header(unsigned char out[10], int opcode, uint64_t len);

/* Writes the header of a masked final client frame of len payload bytes with the mask key
 * (the payload is masked separately: wsframe_mask); returns its size (6, 8 or 14). */
size_t wsframe_header_masked(unsigned char out[WSFRAME_HEADER_MAX], int opcode, uint64_t len,
                             const unsigned char key[4]);
/* XORs len bytes with the mask key in place (masking and unmasking are the same). */
void wsframe_mask(unsigned char *buf, size_t len, const unsigned char key[4]);

/* True for a close code a peer may send (see the list above). */
bool wsframe_close_code_valid(int code);

#endif
