/*
 * test_wsclient.c - the client side of the WebSocket upgrade (server/wsclient.c): the key and
 * accept values of RFC 6455's example, the request's headers, and the response check: accepted
 * (also with frames after the head, and header names and tokens in any case), incomplete at
 * every prefix, refused for another status (the status reported), a missing or wrong Upgrade,
 * Connection, Sec-WebSocket-Accept or protocol, something that is not HTTP, a NUL byte, and a
 * head over WSCLIENT_HEAD_MAX (with or without its end in sight).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wsclient.h"

/* RFC 6455 1.3: the nonce "the sample nonce" and what the server answers to it. */
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define PROTO "codegate-exec.v1"

static const char GOOD[] = "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                           "Sec-WebSocket-Protocol: " PROTO "\r\n"
                           "\r\n";

static int check(const char *head, size_t len, int *status)
{
    char err[160] = "";
    int rc = wsclient_response(head, len, KEY, PROTO, status, err, sizeof err);

    if (rc == WSCLIENT_ERROR)
        assert_true(err[0] != '\0');
    return rc;
}

static void test_key_and_accept(void **state)
{
    (void)state;
    char key[WSCLIENT_KEY_LEN + 1], accept[WSCLIENT_ACCEPT_LEN + 1];

    wsclient_key((const unsigned char *)"the sample nonce", key);
    assert_string_equal(key, KEY);
    wsclient_accept(KEY, accept);
    assert_string_equal(accept, ACCEPT);
}

static void test_request(void **state)
{
    (void)state;
    char out[1024], tiny[64];
    wsclient_req_t r = {"py.example", "/", PROTO, "Bearer tok"};
    int n = wsclient_request(out, sizeof out, &r, KEY);

    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_non_null(strstr(out, "GET / HTTP/1.1\r\n"));
    assert_non_null(strstr(out, "\r\nHost: py.example\r\n"));
    assert_non_null(strstr(out, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(out, "\r\nConnection: Upgrade\r\n"));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Key: " KEY "\r\n"));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Protocol: " PROTO "\r\n"));
    assert_non_null(strstr(out, "\r\nOrigin: py.example\r\n"));
    assert_non_null(strstr(out, "\r\nAuthorization: Bearer tok\r\n"));
    assert_string_equal(out + n - 4, "\r\n\r\n");
    r.authorization = NULL;
    n = wsclient_request(out, sizeof out, &r, KEY);
    assert_true(n > 0);
    assert_null(strstr(out, "Authorization"));
    assert_int_equal(wsclient_request(tiny, sizeof tiny, &r, KEY), -1);
}

static void test_accepted(void **state)
{
    (void)state;
    char buf[512];
    int status = -1;
    size_t hl = strlen(GOOD);

    assert_int_equal(check(GOOD, hl, &status), (int)hl);
    assert_int_equal(status, 101);
    /* A frame right behind the head: the head's length says where it starts. */
    snprintf(buf, sizeof buf, "%s\x81\x02{}", GOOD);
    assert_int_equal(check(buf, strlen(buf), &status), (int)hl);
    /* Names and tokens without case; a token list; spaces around values. */
    snprintf(buf, sizeof buf,
             "HTTP/1.1 101 OK\r\nupgrade:  WebSocket \r\nCONNECTION: keep-alive, upgrade\r\n"
             "sec-websocket-accept:" ACCEPT "\r\nsec-websocket-protocol: " PROTO "\r\n"
             "X-Other: 1\r\n\r\n");
    assert_int_equal(check(buf, strlen(buf), &status), (int)strlen(buf));
}

static void test_incomplete_at_every_prefix(void **state)
{
    (void)state;
    int status;

    for (size_t k = 0; k < strlen(GOOD); k++)
        assert_int_equal(check(GOOD, k, &status), WSCLIENT_MORE);
}

/* GOOD with one line replaced (or dropped when with is ""). */
static void variant(char *out, size_t cap, const char *line, const char *with)
{
    const char *at = strstr(GOOD, line);
    const char *after = strstr(at, "\r\n") + 2;

    snprintf(out, cap, "%.*s%s%s", (int)(at - GOOD), GOOD, with, after);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"Upgrade:", ""},
        {"Upgrade:", "Upgrade: h2c\r\n"},
        {"Connection:", ""},
        {"Connection:", "Connection: keep-alive\r\n"},
        {"Sec-WebSocket-Accept:", ""},
        {"Sec-WebSocket-Accept:", "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"},
        {"Sec-WebSocket-Protocol:", ""},
        {"Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: other.v1\r\n"},
    };
    char buf[512];
    int status;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        variant(buf, sizeof buf, cases[i][0], cases[i][1]);
        assert_int_equal(check(buf, strlen(buf), &status), WSCLIENT_ERROR);
        assert_int_equal(status, 101);
    }
}

static void test_other_status(void **state)
{
    (void)state;
    int status;
    const char *h401 = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
    const char *h503 = "HTTP/1.0 503 Service Unavailable\r\n\r\n";

    assert_int_equal(check(h401, strlen(h401), &status), WSCLIENT_ERROR);
    assert_int_equal(status, 401);
    assert_int_equal(check(h503, strlen(h503), &status), WSCLIENT_ERROR);
    assert_int_equal(status, 503);
}

static void test_not_http(void **state)
{
    (void)state;
    int status;
    const char *ssh = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
    const char *bad = "HTTP/2 101\r\n\r\n";
    char nul[512];
    size_t n = strlen(GOOD);

    assert_int_equal(check(ssh, strlen(ssh), &status), WSCLIENT_ERROR);
    assert_int_equal(status, 0);
    assert_int_equal(check(bad, strlen(bad), &status), WSCLIENT_ERROR);
    memcpy(nul, GOOD, n);
    nul[20] = '\0';
    assert_int_equal(check(nul, n, &status), WSCLIENT_ERROR);
}

static void test_head_too_big(void **state)
{
    (void)state;
    static char buf[WSCLIENT_HEAD_MAX + 200];
    int status;
    size_t n;

    /* No end yet, and already at the limit: refused without waiting for more. */
    memset(buf, 'a', sizeof buf);
    memcpy(buf, "HTTP/1.1 101 OK\r\nX: ", 20);
    assert_int_equal(check(buf, WSCLIENT_HEAD_MAX - 1, &status), WSCLIENT_MORE);
    assert_int_equal(check(buf, WSCLIENT_HEAD_MAX, &status), WSCLIENT_ERROR);
    /* The end arrives, but past the limit. */
    n = WSCLIENT_HEAD_MAX + 100;
    memcpy(buf + n - 4, "\r\n\r\n", 4);
    assert_int_equal(check(buf, n, &status), WSCLIENT_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_and_accept), cmocka_unit_test(test_request),
        cmocka_unit_test(test_accepted),       cmocka_unit_test(test_incomplete_at_every_prefix),
        cmocka_unit_test(test_refused),        cmocka_unit_test(test_other_status),
        cmocka_unit_test(test_not_http),       cmocka_unit_test(test_head_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
