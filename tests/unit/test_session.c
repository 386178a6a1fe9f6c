/*
 * test_session.c - one session connection driven over a socketpair (session_serve, no HTTP, no
 * pool): the API-key hook (token from the start frame, else the Authorization bearer; refusal
 * is an "unauthorized" error and close 1008; a key at its concurrency limit gets
 * "rate_limited" and 4429), the start deadline (start_timeout, 1008), a frame over the limit
 * (payload_too_large, 1009, read no further), ping/pong, the close handshake, bytes pipelined
 * with the upgrade, and the cap on connections that have not started. Every refusal here
 * happens before a job exists, so no pool is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_util.h"
#include "session.h"
#include "wsframe.h"

static config_t cfg;
static session_hub_t *hub;

/* The fake key store: "good" and "busy" are keys; "busy" has no free concurrency place. */
static char last_token_buf[64];
static const char *last_token; /* a copy of what authenticate saw, NULL when no token */
static int acquired, released;
static const int principal_good = 1, principal_busy = 2;

static const void *fake_authenticate(void *ctx, const char *token)
{
    (void)ctx;
    last_token = NULL;
    if (token) {
        snprintf(last_token_buf, sizeof last_token_buf, "%s", token);
        last_token = last_token_buf;
    }
    if (token && !strcmp(token, "good"))
        return &principal_good;
    if (token && !strcmp(token, "busy"))
        return &principal_busy;
    return NULL;
}

static int fake_acquire(void *ctx, const void *principal)
{
    (void)ctx;
    if (principal == &principal_busy)
        return -1;
    acquired++;
    return 0;
}

static void fake_release(void *ctx, const void *principal)
{
    (void)ctx;
    (void)principal;
    released++;
}

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    cfg.sessions_max = 4;
    cfg.session_start_ms = 10000;
    cfg.session_idle_ms = 60000;
    cfg.session_ms = 300000;
    cfg.output_limit_kb = 1024;
    hub = session_hub_new(&cfg, NULL);
    assert_non_null(hub);
    session_auth_t auth = {fake_authenticate, fake_acquire, fake_release, NULL};
    session_hub_set_auth(hub, &auth);
    last_token = NULL;
    acquired = released = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    session_hub_close(hub);
    assert_int_equal(session_hub_count(hub), 0);
    session_hub_free(hub);
    return 0;
}

/* A client socket connected to a new session. */
static int open_session(const char *extra, size_t extra_len, const char *bearer)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(session_serve(hub, sv[1], extra, extra_len, bearer, NULL, NULL), 0);
    return sv[0];
}

static size_t client_frame(unsigned char *out, int b0, const void *payload, size_t len)
{
    static const unsigned char mask[4] = {1, 2, 3, 4};
    unsigned char h[10];
    size_t n = wsframe_header(h, b0 & 0x0f, len);

    h[0] = (unsigned char)b0;
    h[1] |= 0x80;
    memcpy(out, h, n);
    memcpy(out + n, mask, 4);
    n += 4;
    for (size_t i = 0; i < len; i++)
        out[n++] = ((const unsigned char *)payload)[i] ^ mask[i & 3];
    return n;
}

static void send_text(int fd, const char *s)
{
    unsigned char buf[4096];
    size_t n = client_frame(buf, 0x81, s, strlen(s));

    assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

static void read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pf, 1, 5000), 1);
        ssize_t r = read(fd, buf + got, n - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

/* Reads one server frame (unmasked, final): returns its opcode, payload in buf (NUL-ended). */
static int read_frame(int fd, char *buf, size_t cap, size_t *len)
{
    unsigned char h[10];
    uint64_t n;

    read_full(fd, h, 2);
    assert_int_equal(h[0] & 0xf0, 0x80);
    assert_int_equal(h[1] & 0x80, 0);
    n = h[1] & 0x7f;
    if (n == 126) {
        read_full(fd, h + 2, 2);
        n = ((uint64_t)h[2] << 8) | h[3];
    } else if (n == 127) {
        read_full(fd, h + 2, 8);
        n = 0;
        for (int i = 0; i < 8; i++)
            n = (n << 8) | h[2 + i];
    }
    assert_true(n < cap);
    read_full(fd, (unsigned char *)buf, (size_t)n);
    buf[n] = '\0';
    *len = (size_t)n;
    return h[0] & 0x0f;
}

/* Expects an error frame with this code, then a close frame with this close code, then EOF. */
static void expect_refusal(int fd, const char *code, int close_code)
{
    char buf[1024], want[128];
    size_t len;
    unsigned char end;

    assert_int_equal(read_frame(fd, buf, sizeof buf, &len), WSFRAME_OP_TEXT);
    snprintf(want, sizeof want, "\"code\":\"%s\"", code);
    if (!strstr(buf, "\"type\":\"error\"") || !strstr(buf, want))
        fail_msg("expected error %s, got %s", code, buf);
    assert_int_equal(read_frame(fd, buf, sizeof buf, &len), WSFRAME_OP_CLOSE);
    assert_int_equal(len, 2);
    assert_int_equal(((unsigned char)buf[0] << 8) | (unsigned char)buf[1], close_code);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 5000), 1);
    assert_int_equal(read(fd, &end, 1), 0); /* the server closed after its close frame */
}

static const char START[] = "{\"type\":\"start\",\"language\":\"python\",\"code\":\"print(1)\"";

static void test_refused_without_key(void **state)
{
    char frame[256];
    int fd = open_session(NULL, 0, NULL);

    (void)state;
    snprintf(frame, sizeof frame, "%s}", START);
    send_text(fd, frame);
    expect_refusal(fd, "unauthorized", WSFRAME_CLOSE_POLICY);
    assert_null(last_token);
    close(fd);
}

static void test_refused_with_wrong_key(void **state)
{
    char frame[256];
    int fd = open_session(NULL, 0, "good"); /* the start frame's token wins over the header */

    (void)state;
    snprintf(frame, sizeof frame, "%s,\"token\":\"wrong\"}", START);
    send_text(fd, frame);
    expect_refusal(fd, "unauthorized", WSFRAME_CLOSE_POLICY);
    assert_string_equal(last_token, "wrong");
    close(fd);
}

static void test_key_at_its_limit(void **state)
{
    char frame[256];
    int fd = open_session(NULL, 0, NULL);

    (void)state;
    snprintf(frame, sizeof frame, "%s,\"token\":\"busy\"}", START);
    send_text(fd, frame);
    expect_refusal(fd, "rate_limited", WSFRAME_CLOSE_RATE_LIMITED);
    assert_int_equal(acquired, 0);
    close(fd);
}

static void test_bearer_used_when_no_token(void **state)
{
    char frame[256];
    int fd = open_session(NULL, 0, "busy");

    (void)state;
    snprintf(frame, sizeof frame, "%s}", START);
    send_text(fd, frame);
    expect_refusal(fd, "rate_limited", WSFRAME_CLOSE_RATE_LIMITED);
    assert_string_equal(last_token, "busy");
    close(fd);
}

static void test_start_deadline(void **state)
{
    int fd;
    int64_t t0 = cg_now_ms();

    (void)state;
    cfg.session_start_ms = 600;
    fd = open_session(NULL, 0, NULL);
    expect_refusal(fd, "start_timeout", WSFRAME_CLOSE_POLICY);
    assert_true(cg_now_ms() - t0 >= 600);
    close(fd);
}

static void test_too_big_refused_on_header(void **state)
{
    unsigned char h[14] = {0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}; /* 4 GiB announced */
    int fd = open_session(NULL, 0, NULL);

    (void)state;
    assert_int_equal(write(fd, h, sizeof h), (ssize_t)sizeof h);
    expect_refusal(fd, "payload_too_large", WSFRAME_CLOSE_TOO_BIG);
    close(fd);
}

static void test_protocol_error_closes_1002(void **state)
{
    unsigned char h[2] = {0x81, 0x05}; /* not masked */
    char buf[256];
    size_t len;
    int fd = open_session(NULL, 0, NULL);

    (void)state;
    assert_int_equal(write(fd, h, sizeof h), 2);
    assert_int_equal(read_frame(fd, buf, sizeof buf, &len), WSFRAME_OP_CLOSE);
    assert_int_equal(((unsigned char)buf[0] << 8) | (unsigned char)buf[1], WSFRAME_CLOSE_PROTOCOL);
    close(fd);
}

static void test_ping_pong_and_close_handshake(void **state)
{
    unsigned char out[256];
    char buf[256];
    size_t len, n;
    int fd = open_session(NULL, 0, NULL);

    (void)state;
    n = client_frame(out, 0x89, "hb-1", 4);
    assert_int_equal(write(fd, out, n), (ssize_t)n);
    assert_int_equal(read_frame(fd, buf, sizeof buf, &len), WSFRAME_OP_PONG);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "hb-1", 4);
    unsigned char code[2] = {0x0f, 0xa0}; /* 4000 */
    n = client_frame(out, 0x88, code, 2);
    assert_int_equal(write(fd, out, n), (ssize_t)n);
    assert_int_equal(read_frame(fd, buf, sizeof buf, &len), WSFRAME_OP_CLOSE);
    assert_int_equal(((unsigned char)buf[0] << 8) | (unsigned char)buf[1], 4000); /* echoed */
    close(fd);
}

static void test_pipelined_bytes_are_read(void **state)
{
    unsigned char extra[64];
    char buf[1024];
    size_t len, n = client_frame(extra, 0x81, "nope", 4);
    int fd = open_session((const char *)extra, n, NULL);

    (void)state;
    assert_int_equal(read_frame(fd, buf, sizeof buf, &len), WSFRAME_OP_TEXT);
    assert_non_null(strstr(buf, "invalid_frame"));
    close(fd);
}

static void test_pending_connections_capped(void **state)
{
    int fds[64], n = 2 * cfg.sessions_max + 16, extra;
    char buf[256];
    size_t len;

    (void)state;
    for (int i = 0; i < n; i++)
        fds[i] = open_session(NULL, 0, NULL);
    extra = open_session(NULL, 0, NULL);
    expect_refusal(extra, "too_many_sessions", WSFRAME_CLOSE_UNAVAILABLE);
    close(extra);
    /* The waiting ones are still open: a ping is answered. */
    unsigned char out[32];
    size_t k = client_frame(out, 0x89, "", 0);
    assert_int_equal(write(fds[0], out, k), (ssize_t)k);
    assert_int_equal(read_frame(fds[0], buf, sizeof buf, &len), WSFRAME_OP_PONG);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* A client that sends bad frames and never reads its answers: once its error frames fill the
 * queue, the session stops reading, so the client's writes block instead of the gateway
 * buffering without bound. */
static void test_client_that_never_reads_is_not_buffered(void **state)
{
    unsigned char batch[4096];
    size_t one, n = 0, sent = 0;
    const size_t cap = 64u << 20;
    int fd = open_session(NULL, 0, NULL);
    int64_t last = cg_now_ms();

    (void)state;
    unsigned char frame[16];
    one = client_frame(frame, 0x81, "x", 1);
    while (n + one <= sizeof batch) {
        memcpy(batch + n, frame, one);
        n += one;
    }
    while (sent < cap && cg_now_ms() - last < 2000) {
        ssize_t w = send(fd, batch, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            last = cg_now_ms();
            continue;
        }
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        poll(&pf, 1, 100);
    }
    print_message("client writes blocked after %zu KiB\n", sent >> 10);
    assert_true(sent < cap);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_without_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_with_wrong_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_at_its_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bearer_used_when_no_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big_refused_on_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_error_closes_1002, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_pong_and_close_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_bytes_are_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_connections_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_that_never_reads_is_not_buffered, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
