/*
 * fuzz_wsframe.c - libFuzzer target for the frame parser (server/wsframe.c): the session
 * endpoint's server mode, and the client mode of the pool's executor connections.
 *
 * The first input byte picks a chunk size and (its top bit) client mode; the rest is what the
 * peer sends. Properties: the
 * parser never holds more than its message limit; a message returned is within the limit, a
 * control frame within 125 bytes, a text message (server mode) and a close reason valid UTF-8,
 * a close code valid; after an error every call fails and consumes nothing; and feeding the stream
 * in chunks returns exactly the messages (and the error code) of feeding it in one piece. Built and
 * run by scripts/fuzz.sh, and for 60 s by scripts/run-tests.sh.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "wsframe.h"
#include "fuzz.h"

#define LIMIT 4096

/* FNV-1a over the messages seen, so two runs can be compared. */
typedef struct {
    uint64_t h;
    int n;
    int code;
} trace_t;

static void mix(trace_t *t, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        t->h = (t->h ^ b[i]) * 1099511628211ull;
}

static void check_msg(const wsframe_msg_t *m, bool client)
{
    CHECK(m->opcode == WSFRAME_OP_TEXT || m->opcode == WSFRAME_OP_BINARY ||
          m->opcode == WSFRAME_OP_CLOSE || m->opcode == WSFRAME_OP_PING ||
          m->opcode == WSFRAME_OP_PONG);
    CHECK(m->len <= LIMIT);
    if (m->opcode >= WSFRAME_OP_CLOSE)
        CHECK(m->len <= WSFRAME_CONTROL_MAX);
    if ((m->opcode == WSFRAME_OP_TEXT && !client) || m->opcode == WSFRAME_OP_CLOSE)
        CHECK(cg_utf8_valid(m->data, m->len));
    if (m->opcode == WSFRAME_OP_CLOSE)
        CHECK(m->close_code == WSFRAME_CLOSE_NO_STATUS || wsframe_close_code_valid(m->close_code));
}

static trace_t run(const uint8_t *in, size_t len, size_t step, bool client)
{
    wsframe_parser_t p;
    trace_t t = {1469598103934665603ull, 0, 0};

    if (client)
        wsframe_parser_init_client(&p, LIMIT);
    else
        wsframe_parser_init(&p, LIMIT);
    for (size_t off = 0; off < len;) {
        size_t chunk = len - off < step ? len - off : step, used;
        wsframe_msg_t m;
        int rc = wsframe_parse(&p, in + off, chunk, &used, &m);
        CHECK(used <= chunk);
        CHECK(p.msg_cap <= LIMIT);
        if (rc == WSFRAME_ERROR) {
            CHECK(p.close_code != 0 && p.error);
            t.code = p.close_code;
            CHECK(wsframe_parse(&p, in + off, chunk, &used, &m) == WSFRAME_ERROR && used == 0);
            break;
        }
        off += used;
        if (rc == WSFRAME_MSG) {
            check_msg(&m, client);
            mix(&t, &m.opcode, sizeof m.opcode);
            mix(&t, &m.close_code, sizeof m.close_code);
            mix(&t, &m.len, sizeof m.len);
            mix(&t, m.data, m.len);
            t.n++;
        } else {
            CHECK(used == chunk);
        }
    }
    wsframe_parser_free(&p);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)((data[0] & 0x7f) % 13) + 1;
    bool client = (data[0] & 0x80) != 0;
    trace_t whole = run(data + 1, size - 1, size, client);
    trace_t parts = run(data + 1, size - 1, step, client);

    CHECK(whole.n == parts.n && whole.h == parts.h && whole.code == parts.code);
    return 0;
}
