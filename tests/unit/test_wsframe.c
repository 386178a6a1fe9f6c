/*
 * test_wsframe.c - the session frame parser (server/wsframe.c): every header length form,
 * masking, control frames, fragmentation with control frames in between, the message limit
 * checked on the header (a 4 GiB announcement allocates nothing), bad opcodes and bits, close
 * codes and reasons, UTF-8 of text messages across fragments, byte-by-byte feeding, and the
 * server header encoder. Client mode (the pool's side of its executor connections): unmasked
 * frames read and masked ones refused, fragments with control frames between them, a length
 * over the limit refused on the header alone, a stream split at every byte boundary, close
 * codes; and the masked client frames (wsframe_header_masked, wsframe_mask) read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wsframe.h"

#define LIMIT 1000

static const unsigned char MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Builds a client frame into out; lenform 0 = minimal, 126 or 127 forces that length field.
 * Returns its size. */
static size_t build(unsigned char *out, int b0, const void *payload, uint64_t len, int lenform,
                    bool masked)
{
    size_t n = 0;
    const unsigned char *p = payload;

    out[n++] = (unsigned char)b0;
    unsigned char mbit = masked ? 0x80 : 0;
    if (lenform == 0)
        lenform = len < 126 ? 0 : len <= 0xffff ? 126 : 127;
    if (lenform == 0) {
        out[n++] = (unsigned char)(mbit | len);
    } else if (lenform == 126) {
        out[n++] = mbit | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = mbit | 127;
        for (int i = 0; i < 8; i++)
            out[n++] = (unsigned char)(len >> (56 - 8 * i));
    }
    if (masked) {
        memcpy(out + n, MASK, 4);
        n += 4;
    }
    for (uint64_t i = 0; p && i < len; i++)
        out[n++] = masked ? p[i] ^ MASK[i & 3] : p[i];
    return n;
}

static size_t text(unsigned char *out, bool fin, int opcode, const char *s)
{
    return build(out, (fin ? 0x80 : 0) | opcode, s, strlen(s), 0, true);
}

typedef struct {
    wsframe_parser_t p;
    unsigned char buf[200000];
} fixture_t;

static int setup_mode(void **state, bool client)
{
    fixture_t *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    if (client)
        wsframe_parser_init_client(&f->p, LIMIT);
    else
        wsframe_parser_init(&f->p, LIMIT);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_mode(state, false);
}

/* Client mode: the pool's side of its executor connections. */
static int setup_client(void **state)
{
    return setup_mode(state, true);
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    wsframe_parser_free(&f->p);
    free(f);
    return 0;
}

/* Parses exactly one message out of buf[0..n) and checks all bytes were used. */
static void one(fixture_t *f, size_t n, wsframe_msg_t *m)
{
    size_t used;

    assert_int_equal(wsframe_parse(&f->p, f->buf, n, &used, m), WSFRAME_MSG);
    assert_int_equal(used, n);
}

static void expect_error(fixture_t *f, const unsigned char *buf, size_t n, int code)
{
    size_t used;
    wsframe_msg_t m;

    assert_int_equal(wsframe_parse(&f->p, buf, n, &used, &m), WSFRAME_ERROR);
    assert_int_equal(f->p.close_code, code);
    assert_non_null(f->p.error);
    /* An error is final. */
    assert_int_equal(wsframe_parse(&f->p, buf, n, &used, &m), WSFRAME_ERROR);
    assert_int_equal(used, 0);
}

static void test_length_forms(void **state)
{
    fixture_t *f = *state;
    static char big[LIMIT];
    wsframe_msg_t m;

    memset(big, 'a', sizeof big);
    size_t n = text(f->buf, true, WSFRAME_OP_TEXT, "hello");
    assert_int_equal(n, 2 + 4 + 5);
    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_TEXT);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "hello", 5);

    n = build(f->buf, 0x81, big, 300, 0, true); /* 16-bit length */
    assert_int_equal(f->buf[1] & 0x7f, 126);
    one(f, n, &m);
    assert_int_equal(m.len, 300);
    assert_memory_equal(m.data, big, 300);

    n = build(f->buf, 0x81, big, 125, 0, true); /* largest 7-bit */
    one(f, n, &m);
    assert_int_equal(m.len, 125);

    n = build(f->buf, 0x81, big, 10, 127, true); /* 64-bit length field (not minimal: accepted) */
    one(f, n, &m);
    assert_int_equal(m.len, 10);
    n = build(f->buf, 0x81, big, 5, 126, true);
    one(f, n, &m);
    assert_int_equal(m.len, 5);

    n = build(f->buf, 0x81, big, LIMIT, 0, true); /* exactly the limit */
    one(f, n, &m);
    assert_int_equal(m.len, LIMIT);

    n = build(f->buf, 0x81, "", 0, 0, true); /* empty */
    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_TEXT);
    assert_int_equal(m.len, 0);
}

static void test_big_limit_64bit(void **state)
{
    fixture_t *f = *state;
    wsframe_msg_t m;
    size_t used;
    unsigned char *payload = malloc(70000);

    assert_non_null(payload);
    memset(payload, 'z', 70000);
    wsframe_parser_free(&f->p);
    wsframe_parser_init(&f->p, 100000);
    size_t n = build(f->buf, 0x82, payload, 70000, 0, true);
    assert_int_equal(f->buf[1] & 0x7f, 127);
    assert_int_equal(wsframe_parse(&f->p, f->buf, n, &used, &m), WSFRAME_MSG);
    assert_int_equal(used, n);
    assert_int_equal(m.opcode, WSFRAME_OP_BINARY);
    assert_int_equal(m.len, 70000);
    assert_memory_equal(m.data, payload, 70000);
    free(payload);
}

static void test_byte_by_byte_and_two_in_one_buffer(void **state)
{
    fixture_t *f = *state;
    wsframe_msg_t m;
    size_t used, n = text(f->buf, true, WSFRAME_OP_TEXT, "{\"type\":\"eof\"}");
    size_t n2 = text(f->buf + n, true, WSFRAME_OP_TEXT, "second");
    int got = 0;

    for (size_t i = 0; i < n; i++) {
        int rc = wsframe_parse(&f->p, f->buf + i, 1, &used, &m);
        assert_int_equal(used, 1);
        if (i + 1 < n) {
            assert_int_equal(rc, WSFRAME_MORE);
        } else {
            assert_int_equal(rc, WSFRAME_MSG);
            got = 1;
        }
    }
    assert_int_equal(got, 1);
    assert_memory_equal(m.data, "{\"type\":\"eof\"}", m.len);

    /* Two frames in one buffer: the first call stops after the first. */
    n2 = text(f->buf + n, true, WSFRAME_OP_TEXT, "second");
    assert_int_equal(wsframe_parse(&f->p, f->buf, n + n2, &used, &m), WSFRAME_MSG);
    assert_int_equal(used, n);
    assert_int_equal(m.len, 14);
    assert_int_equal(wsframe_parse(&f->p, f->buf + used, n + n2 - used, &used, &m), WSFRAME_MSG);
    assert_int_equal(used, n2);
    assert_memory_equal(m.data, "second", 6);
}

static void test_unmasked_refused(void **state)
{
    fixture_t *f = *state;
    size_t n = build(f->buf, 0x81, "hi", 2, 0, false);

    expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
}

static void test_rsv_bits_refused(void **state)
{
    fixture_t *f = *state;

    for (int bit = 0x10; bit <= 0x40; bit <<= 1) {
        wsframe_parser_free(&f->p);
        wsframe_parser_init(&f->p, LIMIT);
        size_t n = build(f->buf, 0x81 | bit, "hi", 2, 0, true);
        expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
    }
}

static void test_bad_opcodes(void **state)
{
    fixture_t *f = *state;
    static const int bad[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsframe_parser_free(&f->p);
        wsframe_parser_init(&f->p, LIMIT);
        size_t n = build(f->buf, 0x80 | bad[i], "x", 1, 0, true);
        /* Refused on the first two bytes, before the rest arrives. */
        expect_error(f, f->buf, 2, WSFRAME_CLOSE_PROTOCOL);
        (void)n;
    }
}

static void test_control_frames(void **state)
{
    fixture_t *f = *state;
    static char p125[125];
    wsframe_msg_t m;

    memset(p125, 'p', sizeof p125);
    size_t n = build(f->buf, 0x89, "are you there", 13, 0, true);
    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_PING);
    assert_int_equal(m.len, 13);
    assert_memory_equal(m.data, "are you there", 13);
    n = build(f->buf, 0x89, p125, 125, 0, true);
    one(f, n, &m);
    assert_int_equal(m.len, 125);
    n = build(f->buf, 0x8A, "", 0, 0, true);
    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_PONG);

    /* 126 bytes: too long for a control frame, refused on the header. */
    n = build(f->buf, 0x89, NULL, 126, 0, true);
    expect_error(f, f->buf, 2, WSFRAME_CLOSE_PROTOCOL);
}

static void test_control_not_final(void **state)
{
    fixture_t *f = *state;
    size_t n = build(f->buf, 0x09, "x", 1, 0, true);

    expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
}

static size_t close_frame(unsigned char *out, int code, const char *reason, size_t rlen)
{
    unsigned char p[125];

    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)code;
    memcpy(p + 2, reason, rlen);
    return build(out, 0x88, p, 2 + rlen, 0, true);
}

static void test_close_codes(void **state)
{
    fixture_t *f = *state;
    wsframe_msg_t m;
    static const int good[] = {1000, 1001, 1002, 1003, 1007, 1008,
                               1009, 1010, 1011, 1014, 3000, 4999};
    static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};

    size_t n = build(f->buf, 0x88, "", 0, 0, true);
    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_CLOSE);
    assert_int_equal(m.close_code, WSFRAME_CLOSE_NO_STATUS);
    assert_int_equal(m.len, 0);

    n = close_frame(f->buf, 1000, "bye", 3);
    one(f, n, &m);
    assert_int_equal(m.close_code, 1000);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.data, "bye", 3);

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        n = close_frame(f->buf, good[i], "", 0);
        one(f, n, &m);
        assert_int_equal(m.close_code, good[i]);
        assert_true(wsframe_close_code_valid(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(wsframe_close_code_valid(bad[i]));
        wsframe_parser_free(&f->p);
        wsframe_parser_init(&f->p, LIMIT);
        n = close_frame(f->buf, bad[i], "", 0);
        expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
    }
    wsframe_parser_free(&f->p);
    wsframe_parser_init(&f->p, LIMIT);
    n = build(f->buf, 0x88, "\x03", 1, 0, true); /* one byte: no room for a code */
    expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
    wsframe_parser_free(&f->p);
    wsframe_parser_init(&f->p, LIMIT);
    n = close_frame(f->buf, 1000, "\xff\xfe", 2); /* reason not UTF-8 */
    expect_error(f, f->buf, n, WSFRAME_CLOSE_BAD_DATA);
}

static void test_fragmentation_with_control_between(void **state)
{
    fixture_t *f = *state;
    wsframe_msg_t m;
    size_t used, n = 0;

    n += text(f->buf + n, false, WSFRAME_OP_TEXT, "Hel");
    n += build(f->buf + n, 0x89, "pi", 2, 0, true);
    n += text(f->buf + n, false, WSFRAME_OP_CONT, "l");
    n += text(f->buf + n, true, WSFRAME_OP_CONT, "o");
    assert_int_equal(wsframe_parse(&f->p, f->buf, n, &used, &m), WSFRAME_MSG);
    assert_int_equal(m.opcode, WSFRAME_OP_PING);
    size_t off = used;
    assert_int_equal(wsframe_parse(&f->p, f->buf + off, n - off, &used, &m), WSFRAME_MSG);
    assert_int_equal(off + used, n);
    assert_int_equal(m.opcode, WSFRAME_OP_TEXT);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "Hello", 5);

    /* A character split across fragments is fine: UTF-8 is checked on the whole message. */
    n = text(f->buf, false, WSFRAME_OP_TEXT, "caf\xc3");
    n += text(f->buf + n, true, WSFRAME_OP_CONT, "\xa9");
    one(f, n, &m);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "caf\xc3\xa9", 5);
}

static void test_continuation_rules(void **state)
{
    fixture_t *f = *state;
    size_t n = text(f->buf, true, WSFRAME_OP_CONT, "x");

    expect_error(f, f->buf, 2, WSFRAME_CLOSE_PROTOCOL); /* continuation outside a message */
    wsframe_parser_free(&f->p);
    wsframe_parser_init(&f->p, LIMIT);
    n = text(f->buf, false, WSFRAME_OP_TEXT, "a");
    n += text(f->buf + n, true, WSFRAME_OP_TEXT, "b"); /* new message inside one */
    expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
}

static void test_limit_on_header_4gib(void **state)
{
    fixture_t *f = *state;
    size_t used, n = build(f->buf, 0x81, NULL, 1ull << 32, 0, true);
    wsframe_msg_t m;

    /* Only the 10 bytes up to the length field are needed to refuse. */
    assert_int_equal(n, 14);
    assert_int_equal(wsframe_parse(&f->p, f->buf, 10, &used, &m), WSFRAME_ERROR);
    assert_int_equal(used, 10);
    assert_int_equal(f->p.close_code, WSFRAME_CLOSE_TOO_BIG);
    assert_int_equal(f->p.msg_cap, 0); /* nothing allocated */
    assert_null(f->p.msg);
}

static void test_limit_one_over(void **state)
{
    fixture_t *f = *state;
    size_t used, n = build(f->buf, 0x82, NULL, LIMIT + 1, 0, true);
    wsframe_msg_t m;

    assert_int_equal(wsframe_parse(&f->p, f->buf, 4, &used, &m), WSFRAME_ERROR);
    assert_int_equal(f->p.close_code, WSFRAME_CLOSE_TOO_BIG);
    assert_null(f->p.msg);
    (void)n;
}

static void test_limit_fragmented_total(void **state)
{
    fixture_t *f = *state;
    static char part[LIMIT];
    wsframe_msg_t m;
    size_t used, n;

    memset(part, 'f', sizeof part);
    n = build(f->buf, 0x01, part, LIMIT - 10, 0, true); /* not final */
    assert_int_equal(wsframe_parse(&f->p, f->buf, n, &used, &m), WSFRAME_MORE);
    assert_int_equal(used, n);
    assert_true(f->p.msg_cap <= LIMIT);
    n = build(f->buf, 0x80, part, 11, 0, true); /* final continuation: 1 byte too many */
    assert_int_equal(wsframe_parse(&f->p, f->buf, 2, &used, &m), WSFRAME_ERROR);
    assert_int_equal(f->p.close_code, WSFRAME_CLOSE_TOO_BIG);
    assert_true(f->p.msg_cap <= LIMIT);
}

static void test_top_bit_length(void **state)
{
    fixture_t *f = *state;
    size_t n = build(f->buf, 0x82, NULL, 1ull << 63, 127, true);

    expect_error(f, f->buf, 10, WSFRAME_CLOSE_PROTOCOL);
    (void)n;
}

static void test_text_utf8(void **state)
{
    fixture_t *f = *state;
    wsframe_msg_t m;
    size_t n = text(f->buf, true, WSFRAME_OP_TEXT, "bad \xff byte");

    expect_error(f, f->buf, n, WSFRAME_CLOSE_BAD_DATA);
    wsframe_parser_free(&f->p);
    wsframe_parser_init(&f->p, LIMIT);
    n = build(f->buf, 0x82, "\xff\x00\xfe", 3, 0, true); /* binary: any bytes */
    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_BINARY);
    assert_int_equal(m.len, 3);
}

static void test_header_encoder(void **state)
{
    unsigned char h[10];
    (void)state;

    assert_int_equal(wsframe_header(h, WSFRAME_OP_TEXT, 0), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 0);
    assert_int_equal(wsframe_header(h, WSFRAME_OP_TEXT, 125), 2);
    assert_int_equal(h[1], 125);
    assert_int_equal(wsframe_header(h, WSFRAME_OP_CLOSE, 126), 4);
    assert_int_equal(h[0], 0x88);
    assert_int_equal(h[1], 126);
    assert_int_equal((h[2] << 8) | h[3], 126);
    assert_int_equal(wsframe_header(h, WSFRAME_OP_TEXT, 65535), 4);
    assert_int_equal((h[2] << 8) | h[3], 65535);
    assert_int_equal(wsframe_header(h, WSFRAME_OP_TEXT, 65536), 10);
    assert_int_equal(h[1], 127);
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len = (len << 8) | h[2 + i];
    assert_int_equal(len, 65536);
}

/* ---- client mode ---- */

/* An unmasked server frame. */
static size_t srv(unsigned char *out, bool fin, int opcode, const void *s, size_t len)
{
    return build(out, (fin ? 0x80 : 0) | opcode, s, len, 0, false);
}

static void test_client_unmasked_read_masked_refused(void **state)
{
    fixture_t *f = *state;
    wsframe_msg_t m;
    static char big[LIMIT];
    size_t n;

    memset(big, 'b', sizeof big);
    n = srv(f->buf, true, WSFRAME_OP_TEXT, "{\"type\":\"hello\"}", 16);
    assert_int_equal(n, 18); /* two header bytes, no mask key */
    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_TEXT);
    assert_memory_equal(m.data, "{\"type\":\"hello\"}", 16);
    /* The 16-bit and 64-bit length forms. */
    n = build(f->buf, 0x82, big, 300, 126, false);
    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_BINARY);
    assert_int_equal(m.len, 300);
    n = build(f->buf, 0x81, big, LIMIT, 127, false);
    one(f, n, &m);
    assert_int_equal(m.len, LIMIT);
    assert_memory_equal(m.data, big, LIMIT);
    /* Not checked for UTF-8 in client mode (see wsframe.h). */
    n = srv(f->buf, true, WSFRAME_OP_TEXT, "\xff\xfe", 2);
    one(f, n, &m);
    assert_int_equal(m.len, 2);
    /* A masked frame from a server is a protocol error. */
    n = build(f->buf, 0x81, "x", 1, 0, true);
    expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
}

static void test_client_fragments_control_between(void **state)
{
    fixture_t *f = *state;
    wsframe_msg_t m;
    size_t used, off = 0, n = 0;

    n += srv(f->buf + n, false, WSFRAME_OP_TEXT, "Hel", 3);
    n += srv(f->buf + n, true, WSFRAME_OP_PING, "pi", 2);
    n += srv(f->buf + n, false, WSFRAME_OP_CONT, "l", 1);
    n += srv(f->buf + n, true, WSFRAME_OP_PONG, "", 0);
    n += srv(f->buf + n, true, WSFRAME_OP_CONT, "o", 1);
    assert_int_equal(wsframe_parse(&f->p, f->buf, n, &used, &m), WSFRAME_MSG);
    assert_int_equal(m.opcode, WSFRAME_OP_PING);
    assert_memory_equal(m.data, "pi", 2);
    off += used;
    assert_int_equal(wsframe_parse(&f->p, f->buf + off, n - off, &used, &m), WSFRAME_MSG);
    assert_int_equal(m.opcode, WSFRAME_OP_PONG);
    assert_int_equal(m.len, 0);
    off += used;
    assert_int_equal(wsframe_parse(&f->p, f->buf + off, n - off, &used, &m), WSFRAME_MSG);
    assert_int_equal(off + used, n);
    assert_int_equal(m.opcode, WSFRAME_OP_TEXT);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "Hello", 5);
    /* A new message inside a fragmented one, and a fragmented control frame, are refused. */
    n = srv(f->buf, false, WSFRAME_OP_TEXT, "a", 1);
    n += srv(f->buf + n, true, WSFRAME_OP_TEXT, "b", 1);
    expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
}

static void test_client_control_not_final(void **state)
{
    fixture_t *f = *state;
    size_t n = srv(f->buf, false, WSFRAME_OP_PING, "x", 1);

    expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
}

/* The length is refused as soon as it is in: the header alone, no payload sent. */
static void test_client_oversize_on_header(void **state)
{
    fixture_t *f = *state;
    size_t n = build(f->buf, 0x81, NULL, (uint64_t)LIMIT + 1, 127, false);

    assert_int_equal(n, 10);
    expect_error(f, f->buf, n, WSFRAME_CLOSE_TOO_BIG);
    assert_null(f->p.msg); /* nothing allocated */
}

static void test_client_oversize_fragments(void **state)
{
    fixture_t *f = *state;
    static char half[LIMIT / 2 + 1];
    wsframe_msg_t m;
    size_t used, n;

    memset(half, 'h', sizeof half);
    n = srv(f->buf, false, WSFRAME_OP_TEXT, half, sizeof half);
    assert_int_equal(wsframe_parse(&f->p, f->buf, n, &used, &m), WSFRAME_MORE);
    n = build(f->buf, WSFRAME_OP_CONT | 0x80, NULL, sizeof half, 0, false);
    expect_error(f, f->buf, n, WSFRAME_CLOSE_TOO_BIG);
}

static void test_client_close(void **state)
{
    fixture_t *f = *state;
    wsframe_msg_t m;
    size_t n = srv(f->buf, true, WSFRAME_OP_CLOSE,
                   "\x03\xe9"
                   "bye",
                   5);

    one(f, n, &m);
    assert_int_equal(m.opcode, WSFRAME_OP_CLOSE);
    assert_int_equal(m.close_code, 1001);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.data, "bye", 3);
    n = srv(f->buf, true, WSFRAME_OP_CLOSE, "", 0);
    one(f, n, &m);
    assert_int_equal(m.close_code, WSFRAME_CLOSE_NO_STATUS);
    n = srv(f->buf, true, WSFRAME_OP_CLOSE, "\x03\xed", 2); /* 1005 is never sent */
    expect_error(f, f->buf, n, WSFRAME_CLOSE_PROTOCOL);
}

/* What a stream yields: opcode and payload of each message, in order. */
typedef struct {
    int opcode[8];
    size_t len[8];
    unsigned char data[8][400];
    int n;
} got_t;

static void feed(wsframe_parser_t *p, const unsigned char *buf, size_t len, got_t *g)
{
    wsframe_msg_t m;
    size_t used;

    while (len > 0) {
        int rc = wsframe_parse(p, buf, len, &used, &m);
        assert_int_not_equal(rc, WSFRAME_ERROR);
        buf += used;
        len -= used;
        if (rc == WSFRAME_MSG) {
            assert_true(g->n < 8 && m.len <= sizeof g->data[0]);
            g->opcode[g->n] = m.opcode;
            g->len[g->n] = m.len;
            memcpy(g->data[g->n], m.data, m.len);
            g->n++;
        } else {
            assert_int_equal(len, 0);
        }
    }
}

/* A stream of every frame form, split in two at every byte boundary, then fed byte by byte:
 * always the same messages (the pool's reads end anywhere). */
static void test_client_every_split(void **state)
{
    fixture_t *f = *state;
    static char big[300];
    size_t n = 0;
    got_t want, g;

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    n += srv(f->buf + n, true, WSFRAME_OP_TEXT, "{}", 2);
    n += build(f->buf + n, 0x81, big, sizeof big, 126, false);
    n += srv(f->buf + n, false, WSFRAME_OP_TEXT, big, 100);
    n += srv(f->buf + n, true, WSFRAME_OP_PING, "p", 1);
    n += build(f->buf + n, WSFRAME_OP_CONT, big + 100, 150, 127, false);
    n += srv(f->buf + n, true, WSFRAME_OP_CONT, big + 250, 50);
    n += srv(f->buf + n, true, WSFRAME_OP_TEXT, "", 0);
    n += srv(f->buf + n, true, WSFRAME_OP_CLOSE, "\x03\xe8", 2);
    memset(&want, 0, sizeof want);
    feed(&f->p, f->buf, n, &want);
    assert_int_equal(want.n, 6);
    assert_int_equal(want.opcode[2], WSFRAME_OP_PING);
    assert_int_equal(want.opcode[3], WSFRAME_OP_TEXT);
    assert_int_equal(want.len[3], 300);
    assert_memory_equal(want.data[3], big, 300);
    assert_int_equal(want.len[4], 0);
    assert_int_equal(want.opcode[5], WSFRAME_OP_CLOSE);
    for (size_t k = 0; k <= n; k++) {
        wsframe_parser_t p;
        wsframe_parser_init_client(&p, LIMIT);
        memset(&g, 0, sizeof g);
        feed(&p, f->buf, k, &g);
        feed(&p, f->buf + k, n - k, &g);
        wsframe_parser_free(&p);
        assert_int_equal(g.n, want.n);
        for (int i = 0; i < g.n; i++) {
            assert_int_equal(g.opcode[i], want.opcode[i]);
            assert_int_equal(g.len[i], want.len[i]);
            assert_memory_equal(g.data[i], want.data[i], g.len[i]);
        }
    }
    wsframe_parser_t p;
    wsframe_parser_init_client(&p, LIMIT);
    memset(&g, 0, sizeof g);
    for (size_t i = 0; i < n; i++)
        feed(&p, f->buf + i, 1, &g);
    wsframe_parser_free(&p);
    assert_int_equal(g.n, want.n);
}

/* Our masked frames, at every length form and odd payload lengths, read back by the server
 * side of the parser. */
static void test_masked_frames_round_trip(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 3, 7, 8, 9, 17, 125, 126, 127, 65535, 65536, 70001};
    static unsigned char payload[70001], frame[70001 + WSFRAME_HEADER_MAX];
    const unsigned char key[4] = {0xa1, 0x02, 0xff, 0x5c};

    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i * 7 + 3);
    for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
        size_t len = lens[t], h = wsframe_header_masked(frame, WSFRAME_OP_TEXT, len, key);
        wsframe_parser_t p;
        wsframe_msg_t m;
        size_t used;

        assert_int_equal(h, len < 126 ? 6 : len <= 0xffff ? 8 : 14);
        memcpy(frame + h, payload, len);
        wsframe_mask(frame + h, len, key);
        if (len > 8)
            assert_memory_not_equal(frame + h, payload, 8);
        wsframe_parser_init(&p, sizeof payload);
        /* Bytes that are not UTF-8 are fine in a binary frame. */
        frame[0] = 0x80 | WSFRAME_OP_BINARY;
        assert_int_equal(wsframe_parse(&p, frame, h + len, &used, &m), WSFRAME_MSG);
        assert_int_equal(used, h + len);
        assert_int_equal(m.len, len);
        if (len)
            assert_memory_equal(m.data, payload, len);
        wsframe_parser_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_length_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_limit_64bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_by_byte_and_two_in_one_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmasked_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsv_bits_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_opcodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_not_final, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragmentation_with_control_between, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continuation_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_on_header_4gib, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_one_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_fragmented_total, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_bit_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_utf8, setup, teardown),
        cmocka_unit_test(test_header_encoder),
        cmocka_unit_test_setup_teardown(test_client_unmasked_read_masked_refused, setup_client,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_fragments_control_between, setup_client,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_control_not_final, setup_client, teardown),
        cmocka_unit_test_setup_teardown(test_client_oversize_on_header, setup_client, teardown),
        cmocka_unit_test_setup_teardown(test_client_oversize_fragments, setup_client, teardown),
        cmocka_unit_test_setup_teardown(test_client_close, setup_client, teardown),
        cmocka_unit_test_setup_teardown(test_client_every_split, setup_client, teardown),
        cmocka_unit_test(test_masked_frames_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
