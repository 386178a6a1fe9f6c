/*
 * test_pool_peer.c - the real pool (its thread, lws client and queue) against a fake executor:
 * a raw loopback socket in the test that speaks the executor protocol (include/protocol.h) over
 * hand-made WebSocket frames (server/wsframe.c). Each test scripts the executor's side and
 * checks what the pool makes of it: a drop before any output (one retry elsewhere), a drop
 * after output (503 executor_lost), a stall (no pongs: declared dead after
 * POOL_PINGS_MISSED pings, reported unhealthy, reconnected with backoff), a flood (a frame header
 * announcing more than CG_MAX_FRAME_BYTES: closed with 1009 at once), a "busy" answer (requeued,
 * runs later), a cancel (the executor's cancelled result is the job's status), judging
 * (wrong_answer, submit stops early with a CANCEL), and draining (ERROR executor_draining:
 * requeued, the attempt not counted, nothing more sent there; a DRAIN frame: no job goes there
 * until the executor is gone and a new one at the same address says HELLO).
 *
 * Threads: the test thread drives the peer synchronously (poll with timeouts); the pool runs on
 * its own thread. Every wait has a deadline and alarm() bounds each test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libwebsockets.h>

#include "cg_util.h"
#include "job.h"
#include "pool.h"
#include "request.h"
#include "wsframe.h"

#define PEER_WAIT_MS 5000
#define PEER_TOKEN "peer-token"

typedef struct {
    int lfd, fd, port;
    wsframe_parser_t parser;
    unsigned char buf[65536];
    size_t off, len; /* unparsed bytes in buf */
    int accepts;
    int pings_seen; /* PINGs received on the current connection */
} peer_t;

typedef struct {
    cg_msg_type_t type;
    char id[CG_ID_MAX + 1];
    int close_code; /* for a CLOSE frame (type CG_MSG_UNKNOWN) */
    bool pong;      /* a WebSocket PONG frame, its payload in ctl */
    unsigned char ctl[WSFRAME_CONTROL_MAX];
    size_t ctl_len;
    bool closed;   /* the connection ended */
    bool timedout; /* nothing came (peer_quiet only) */
} peer_msg_t;

static config_t cfg;
static peer_t peer;
static pool_t *cur_pool; /* stopped by teardown when a failed test left it running */
static int unhealthy_calls;
static char unhealthy_id[64];

static void on_unhealthy(void *arg, const char *id)
{
    (void)arg;
    /* The pool thread calls this: the count is atomic, the id is read after pool_stop joined
     * the thread. */
    __atomic_add_fetch(&unhealthy_calls, 1, __ATOMIC_SEQ_CST);
    snprintf(unhealthy_id, sizeof unhealthy_id, "%s", id);
}

/* ---- the fake executor ---- */

static void peer_listen(peer_t *pe)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int one = 1;

    memset(pe, 0, sizeof *pe);
    pe->fd = -1;
    pe->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(pe->lfd >= 0);
    setsockopt(pe->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(pe->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(pe->lfd, 16), 0);
    assert_int_equal(getsockname(pe->lfd, (struct sockaddr *)&a, &alen), 0);
    pe->port = ntohs(a.sin_port);
}

static void peer_drop(peer_t *pe)
{
    if (pe->fd >= 0) {
        close(pe->fd);
        pe->fd = -1;
    }
    wsframe_parser_free(&pe->parser);
}

static void peer_close_all(peer_t *pe)
{
    peer_drop(pe);
    if (pe->lfd >= 0)
        close(pe->lfd);
    pe->lfd = -1;
}

static bool wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int left = (int)(deadline - cg_now_ms());

    return left > 0 && poll(&p, 1, left) == 1;
}

static void send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Sends one unmasked frame as an executor would. */
static void peer_send_frame(peer_t *pe, int opcode, const void *payload, uint64_t len)
{
    unsigned char hdr[10];
    size_t h = wsframe_header(hdr, opcode, len);

    send_all(pe->fd, hdr, h);
    if (payload)
        send_all(pe->fd, payload, (size_t)len);
}

/* Accepts the pool's next connection and reads its upgrade request (checking its token);
 * accept_key gets the Sec-WebSocket-Accept the request asks for. */
static void peer_take_request(peer_t *pe, int wait_ms, char accept_key[64])
{
    char req[4096] = "", key[128] = "";
    unsigned char sha[20];
    size_t got = 0;
    int64_t deadline = cg_now_ms() + wait_ms;

    peer_drop(pe);
    assert_true(wait_fd(pe->lfd, POLLIN, deadline));
    pe->fd = accept4(pe->lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(pe->fd >= 0);
    pe->accepts++;
    pe->pings_seen = 0;
    while (!strstr(req, "\r\n\r\n")) {
        assert_true(wait_fd(pe->fd, POLLIN, deadline));
        ssize_t n = recv(pe->fd, req + got, sizeof req - 1 - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
        req[got] = '\0';
    }
    assert_non_null(strcasestr(req, "Authorization: Bearer " PEER_TOKEN "\r\n"));
    const char *k = strcasestr(req, "Sec-WebSocket-Key:");
    assert_non_null(k);
    sscanf(k + strlen("Sec-WebSocket-Key:"), " %100s", key);
    strcat(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    lws_SHA1((const unsigned char *)key, strlen(key), sha);
    lws_b64_encode_string((const char *)sha, 20, accept_key, 64);
}

/* Accepts the pool's next connection and completes the upgrade, then says HELLO. */
static void peer_accept(peer_t *pe, int wait_ms)
{
    char accept_key[64], resp[512], *hello;

    peer_take_request(pe, wait_ms, accept_key);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: " CG_PROTO_NAME "\r\n\r\n",
             accept_key);
    send_all(pe->fd, resp, strlen(resp));
    wsframe_parser_init(&pe->parser, CG_MAX_FRAME_BYTES);
    pe->off = pe->len = 0;
    hello = cg_encode_hello("python", "3.11-peer", 1);
    assert_non_null(hello);
    peer_send_frame(pe, WSFRAME_OP_TEXT, hello, strlen(hello));
    free(hello);
}

/* True when the pool closes the connection within wait_ms (what it sends first is ignored). */
static bool peer_closed_by_pool(peer_t *pe, int wait_ms)
{
    int64_t deadline = cg_now_ms() + wait_ms;
    char buf[4096];

    for (;;) {
        if (!wait_fd(pe->fd, POLLIN, deadline))
            return false;
        ssize_t n = recv(pe->fd, buf, sizeof buf, 0);
        if (n <= 0)
            return true;
    }
}

/* Sends a text frame (a malloc'ed JSON string, freed here). */
static void peer_send(peer_t *pe, char *json)
{
    assert_non_null(json);
    peer_send_frame(pe, WSFRAME_OP_TEXT, json, strlen(json));
    free(json);
}

/* The next message from the pool: a protocol frame, a close frame, or the end of the
 * connection. PINGs are answered when pong is true, and counted either way. */
static bool peer_timeout_ok; /* peer_quiet: a timeout is the expected answer */

static peer_msg_t peer_next(peer_t *pe, bool pong, int wait_ms)
{
    int64_t deadline = cg_now_ms() + wait_ms;
    peer_msg_t out;

    memset(&out, 0, sizeof out);
    for (;;) {
        while (pe->off < pe->len) {
            wsframe_msg_t m;
            size_t used = 0;
            int rc = wsframe_parse(&pe->parser, pe->buf + pe->off, pe->len - pe->off, &used, &m);
            if (rc == WSFRAME_ERROR)
                fail_msg("bad frame from the pool: %s", pe->parser.error);
            pe->off += used;
            if (rc != WSFRAME_MSG)
                continue;
            if (m.opcode == WSFRAME_OP_CLOSE) {
                out.close_code = m.close_code;
                return out;
            }
            if (m.opcode == WSFRAME_OP_PONG) {
                out.pong = true;
                out.ctl_len = m.len;
                memcpy(out.ctl, m.data, m.len);
                return out;
            }
            if (m.opcode != WSFRAME_OP_TEXT)
                continue;
            cJSON *root = NULL;
            cg_msg_t msg;
            char err[128];
            assert_int_equal(
                cg_msg_parse((const char *)m.data, m.len, &root, &msg, err, sizeof err), 0);
            out.type = msg.type;
            snprintf(out.id, sizeof out.id, "%s", msg.id ? msg.id : "");
            if (msg.type == CG_MSG_PING) {
                pe->pings_seen++;
                if (pong)
                    peer_send(pe, cg_encode_pong(msg.seq, 0, false));
                cJSON_Delete(root);
                continue;
            }
            cJSON_Delete(root);
            return out;
        }
        if (!wait_fd(pe->fd, POLLIN, deadline)) {
            if (peer_timeout_ok) {
                out.timedout = true;
                return out;
            }
            fail_msg("no message from the pool within %d ms", wait_ms);
        }
        ssize_t n = recv(pe->fd, pe->buf, sizeof pe->buf, 0);
        if (n <= 0) {
            out.closed = true;
            return out;
        }
        pe->off = 0;
        pe->len = (size_t)n;
    }
}

/* True when the pool sends nothing but pings for wait_ms. */
static bool peer_quiet(peer_t *pe, int wait_ms)
{
    peer_timeout_ok = true;
    peer_msg_t m = peer_next(pe, true, wait_ms);
    peer_timeout_ok = false;
    return m.timedout;
}

/* The next protocol message, which must be of this type. */
static peer_msg_t peer_expect(peer_t *pe, cg_msg_type_t type)
{
    peer_msg_t m = peer_next(pe, true, PEER_WAIT_MS);

    assert_false(m.closed);
    assert_int_equal(m.type, type);
    return m;
}

static void peer_result(peer_t *pe, const char *id, int run, cg_status_t st, const char *out)
{
    cg_outcome_t o;

    memset(&o, 0, sizeof o);
    o.run = run;
    o.status = st;
    o.out = out;
    o.err = "";
    o.duration_ms = 5;
    peer_send(pe, cg_encode_outcome(CG_MSG_RESULT, id, &o));
}

/* The executor runs the job's one run: "1\n", ok. The job must end with that result after
 * `attempts` dispatches. */
static void run_ok(job_t *job, const char *id, int attempts)
{
    peer_result(&peer, id, 0, CG_ST_OK, "1\n");
    peer_send(&peer, cg_encode_done(id, 1, false));
    assert_true(job_wait(job, cg_now_ms() + PEER_WAIT_MS));
    assert_int_equal(job->fail_http, 0);
    assert_int_equal(job->runs[0].status, CG_ST_OK);
    assert_string_equal(job->runs[0].out, "1\n");
    assert_int_equal(job->attempts, attempts);
}

/* ---- the pool's side ---- */

static job_t *make_job(const char *body)
{
    request_t r;
    request_error_t err;

    assert_int_equal(request_parse(body, strlen(body), &r, &err), 0);
    job_t *job = job_new(&r, 1024, CG_DEFAULT_BUDGET_MS);
    assert_non_null(job);
    return job;
}

static void peer_endpoint(runtime_endpoint_t *ep, bool finish_on_down)
{
    memset(ep, 0, sizeof *ep);
    snprintf(ep->id, sizeof ep->id, "python-peer");
    ep->language = "python";
    snprintf(ep->address, sizeof ep->address, "127.0.0.1");
    ep->port = peer.port;
    snprintf(ep->token, sizeof ep->token, PEER_TOKEN);
    ep->finish_on_down = finish_on_down;
}

static pool_t *start_pool(void)
{
    runtime_endpoint_t ep;
    pool_t *p = pool_new(&cfg, on_unhealthy, NULL);

    assert_non_null(p);
    assert_int_equal(pool_start(p), 0);
    peer_endpoint(&ep, false);
    pool_endpoint(p, &ep, true);
    cur_pool = p;
    return p;
}

static void stop_pool(pool_t *p)
{
    pool_stop(p);
    pool_free(p);
    cur_pool = NULL;
}

/* Starts a pool, connects the peer, submits a job of this body and takes its EXECUTE. */
static peer_msg_t start_job(pool_t **pp, job_t **jp, const char *body)
{
    *pp = start_pool();
    *jp = make_job(body);
    peer_accept(&peer, PEER_WAIT_MS);
    assert_int_equal(pool_submit(*pp, *jp), 0);
    peer_msg_t m = peer_expect(&peer, CG_MSG_EXECUTE);
    assert_string_equal(m.id, (*jp)->id);
    return m;
}

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    cfg.slots = 1;
    cfg.queue_max = 8;
    cfg.queue_wait_ms = 20000;
    cfg.ping_ms = 10000;
    cfg.session_share = 50;
    unhealthy_calls = 0;
    unhealthy_id[0] = '\0';
    peer_listen(&peer);
    alarm(60);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (cur_pool)
        stop_pool(cur_pool);
    peer_close_all(&peer);
    alarm(0);
    return 0;
}

#define PRINT1 "{\"language\":\"python\",\"code\":\"print(1)\"}"

/* The ordinary exchange, as the baseline the failure tests differ from. */
static void test_result(void **state)
{
    (void)state;
    pool_t *p;
    job_t *job;

    peer_msg_t m = start_job(&p, &job, PRINT1);
    assert_string_equal(m.id, job->id);
    run_ok(job, m.id, 1);
    assert_string_equal(job->lang_version, "3.11-peer");
    job_unref(job);
    stop_pool(p);
}

/* Dropped before anything came back: the job runs again on the next connection. */
static void test_drop_before_output_retries(void **state)
{
    (void)state;
    pool_t *p;
    job_t *job;

    peer_msg_t m = start_job(&p, &job, PRINT1);
    peer_drop(&peer);
    peer_accept(&peer, PEER_WAIT_MS); /* reconnected after the backoff */
    m = peer_expect(&peer, CG_MSG_EXECUTE);
    assert_string_equal(m.id, job->id);
    run_ok(job, m.id, 2);
    assert_int_equal(peer.accepts, 2);
    job_unref(job);
    stop_pool(p);
}

/* Dropped after a result came back: not run twice, a clear error instead. */
static void test_drop_after_output_fails(void **state)
{
    (void)state;
    pool_t *p;
    job_t *job;

    peer_msg_t m = start_job(&p, &job,
                             "{\"language\":\"python\",\"code\":\"print(1)\","
                             "\"tests\":[{\"input\":\"\"},{\"input\":\"\"}]}");
    peer_result(&peer, m.id, 0, CG_ST_OK, "1\n");
    peer_drop(&peer);
    assert_true(job_wait(job, cg_now_ms() + PEER_WAIT_MS));
    assert_int_equal(job->fail_http, 503);
    assert_string_equal(job->fail_code, "executor_lost");
    assert_string_equal(job->fail_msg,
                        "the connection to the executor was lost while the program was running; "
                        "the request may be sent again");
    assert_int_equal(job->attempts, 1);
    job_unref(job);
    stop_pool(p);
}

/* No pongs: after POOL_PINGS_MISSED pings the connection is closed, the endpoint reported
 * unhealthy, and the pool connects again. */
static void test_stall_declared_dead(void **state)
{
    (void)state;
    cfg.ping_ms = 100;
    pool_t *p = start_pool();
    int64_t t0;
    peer_msg_t m;

    peer_accept(&peer, PEER_WAIT_MS);
    t0 = cg_now_ms();
    do
        m = peer_next(&peer, false, PEER_WAIT_MS);
    while (!m.closed && m.close_code == 0);
    /* 3 pings unanswered plus a second of grace (pool_conn_check). */
    assert_true(cg_now_ms() - t0 >= 3 * cfg.ping_ms + 1000 - 60);
    assert_true(peer.pings_seen >= 3);
    assert_int_equal(__atomic_load_n(&unhealthy_calls, __ATOMIC_SEQ_CST), 1);
    t0 = cg_now_ms();
    peer_accept(&peer, PEER_WAIT_MS);
    assert_int_equal(peer.accepts, 2);
    /* Not at once: after the first backoff step (100 ms; the close itself took a moment). */
    assert_true(cg_now_ms() - t0 >= 80);
    /* The new connection works. */
    job_t *job = make_job(PRINT1);
    assert_int_equal(pool_submit(p, job), 0);
    m = peer_expect(&peer, CG_MSG_EXECUTE);
    run_ok(job, m.id, 1);
    job_unref(job);
    stop_pool(p);
    assert_string_equal(unhealthy_id, "python-peer");
}

/* A frame header announcing more than CG_MAX_FRAME_BYTES: the pool refuses it as the length
 * arrives, before a byte of its payload (it closes with 1009, message too big); the job on it
 * is retried on the next connection. */
static void test_flood_closed_1009(void **state)
{
    (void)state;
    pool_t *p = start_pool();
    job_t *job = make_job(PRINT1);
    peer_msg_t m;

    peer_accept(&peer, PEER_WAIT_MS);
    assert_int_equal(pool_submit(p, job), 0);
    m = peer_expect(&peer, CG_MSG_EXECUTE);
    /* No payload: the header alone must be refused. */
    peer_send_frame(&peer, WSFRAME_OP_TEXT, NULL, (uint64_t)CG_MAX_FRAME_BYTES + 1);
    m = peer_next(&peer, true, PEER_WAIT_MS);
    assert_int_equal(m.close_code, 1009);
    peer_accept(&peer, PEER_WAIT_MS);
    m = peer_expect(&peer, CG_MSG_EXECUTE);
    assert_string_equal(m.id, job->id);
    run_ok(job, m.id, 2);
    job_unref(job);
    stop_pool(p);
}

/* Many small frames (a flood of PONGs) are taken one by one: the pool keeps up and the next
 * job still runs on the same connection. */
static void test_flood_many_frames(void **state)
{
    (void)state;
    pool_t *p = start_pool();
    job_t *job = make_job(PRINT1);

    peer_accept(&peer, PEER_WAIT_MS);
    for (int i = 0; i < 20000; i++)
        peer_send(&peer, cg_encode_pong(i, 0, false));
    assert_int_equal(pool_submit(p, job), 0);
    peer_msg_t m = peer_expect(&peer, CG_MSG_EXECUTE);
    run_ok(job, m.id, 1);
    assert_int_equal(peer.accepts, 1);
    job_unref(job);
    stop_pool(p);
}

/* "busy": the executor had no free slot; the job comes back after its DONE and runs. */
static void test_busy_requeued(void **state)
{
    (void)state;
    pool_t *p;
    job_t *job;

    peer_msg_t m = start_job(&p, &job, PRINT1);
    peer_send(&peer, cg_encode_error(m.id, "busy", "no free slot"));
    peer_send(&peer, cg_encode_done(m.id, 0, false));
    m = peer_expect(&peer, CG_MSG_EXECUTE);
    assert_string_equal(m.id, job->id);
    run_ok(job, m.id, 1);
    job_unref(job);
    stop_pool(p);
}

/* ERROR executor_draining: nothing ran, so the job goes back to the queue (the attempt not
 * counted); the endpoint drains, so it gets nothing more; with no other executor the job leaves
 * the queue at its deadline as executor_unavailable, not as an executor error. */
static void test_draining_refusal_requeued(void **state)
{
    (void)state;
    pool_t *p;
    job_t *job;
    pool_lang_info_t info;

    cfg.queue_wait_ms = 1500;
    peer_msg_t m = start_job(&p, &job, PRINT1);
    peer_send(&peer, cg_encode_error(m.id, "executor_draining", "the executor is stopping"));
    peer_send(&peer, cg_encode_done(m.id, 0, false));
    assert_true(peer_quiet(&peer, 800));
    pool_language_info(p, "python", &info);
    assert_int_equal(info.draining, 1);
    assert_int_equal(info.usable, 0);
    assert_int_equal(info.connections, 0);
    assert_true(job_wait(job, cg_now_ms() + PEER_WAIT_MS));
    assert_int_equal(job->fail_http, 503);
    assert_string_equal(job->fail_code, "executor_unavailable");
    assert_int_equal(job->attempts, 0);
    job_unref(job);
    stop_pool(p);
}

/* DRAIN: no new job goes there; once the executor is gone (its connection closed) the pool
 * connects again, and a new executor's HELLO puts the address back in service. */
static void test_drain_frame_then_new_executor(void **state)
{
    (void)state;
    pool_t *p = start_pool();
    job_t *job = make_job(PRINT1);
    pool_lang_info_t info;

    peer_accept(&peer, PEER_WAIT_MS);
    peer_send(&peer, cg_encode_drain(5000));
    for (int i = 0; i < 100; i++) { /* the pool reads the DRAIN on its own thread */
        pool_language_info(p, "python", &info);
        if (info.draining == 1)
            break;
        usleep(20000);
    }
    assert_int_equal(info.draining, 1);
    assert_int_equal(pool_submit(p, job), 0);
    assert_true(peer_quiet(&peer, 600));
    peer_drop(&peer);                 /* the draining executor exits */
    peer_accept(&peer, PEER_WAIT_MS); /* a new one at the same address */
    peer_msg_t m = peer_expect(&peer, CG_MSG_EXECUTE);
    assert_string_equal(m.id, job->id);
    run_ok(job, m.id, 1);
    pool_language_info(p, "python", &info);
    assert_int_equal(info.draining, 0);
    assert_int_equal(info.usable, 1);
    job_unref(job);
    stop_pool(p);
}

/* An endpoint announced down with finish_on_down (the external runtime: the name no longer
 * lists it, the executor may still run) while a job runs there: the job finishes, then the
 * connection closes and the endpoint is gone. */
static void test_leaving_endpoint_finishes_job(void **state)
{
    (void)state;
    pool_t *p;
    job_t *job;
    runtime_endpoint_t ep;
    pool_lang_info_t info;

    peer_msg_t m = start_job(&p, &job, PRINT1);
    peer_endpoint(&ep, true);
    pool_endpoint(p, &ep, false);
    usleep(200000);
    run_ok(job, m.id, 1);
    do /* no pongs: the pool closes the connection */
        m = peer_next(&peer, false, PEER_WAIT_MS);
    while (!m.closed && m.close_code == 0);
    for (int i = 0; i < 100; i++) {
        pool_language_info(p, "python", &info);
        if (info.endpoints == 0)
            break;
        usleep(20000);
    }
    assert_int_equal(info.endpoints, 0);
    job_unref(job);
    stop_pool(p);
}

/* The pool checks the upgrade's answer: a wrong Sec-WebSocket-Accept, another protocol, a 401
 * and a response head that never ends (over WSCLIENT_HEAD_MAX) each end the connection before
 * any job is sent; the pool reconnects and a proper executor gets the job. */
static void test_upgrade_refused(void **state)
{
    (void)state;
    pool_t *p = start_pool();
    job_t *job = make_job(PRINT1);
    char accept_key[64], resp[512];
    static char endless[8192];
    peer_msg_t m;

    assert_int_equal(pool_submit(p, job), 0);
    peer_take_request(&peer, PEER_WAIT_MS, accept_key);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: x%s\r\nSec-WebSocket-Protocol: " CG_PROTO_NAME "\r\n\r\n",
             accept_key + 1);
    send_all(peer.fd, resp, strlen(resp));
    assert_true(peer_closed_by_pool(&peer, PEER_WAIT_MS));

    peer_take_request(&peer, PEER_WAIT_MS, accept_key);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: other.v1\r\n\r\n",
             accept_key);
    send_all(peer.fd, resp, strlen(resp));
    assert_true(peer_closed_by_pool(&peer, PEER_WAIT_MS));

    peer_take_request(&peer, PEER_WAIT_MS, accept_key);
    snprintf(resp, sizeof resp, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    send_all(peer.fd, resp, strlen(resp));
    assert_true(peer_closed_by_pool(&peer, PEER_WAIT_MS));

    peer_take_request(&peer, PEER_WAIT_MS, accept_key);
    memset(endless, 'a', sizeof endless);
    memcpy(endless, "HTTP/1.1 101 OK\r\nX: ", 20);
    send_all(peer.fd, endless, sizeof endless);
    assert_true(peer_closed_by_pool(&peer, PEER_WAIT_MS));

    peer_accept(&peer, PEER_WAIT_MS);
    m = peer_expect(&peer, CG_MSG_EXECUTE);
    assert_string_equal(m.id, job->id);
    run_ok(job, m.id, 1); /* nothing was sent before: the first attempt */
    assert_int_equal(peer.accepts, 5);
    job_unref(job);
    stop_pool(p);
}

/* WebSocket control frames (not the protocol's PING/PONG messages): a ping is answered with a
 * pong of its payload and the connection still carries jobs; a close is answered with a close
 * of its code, the pool ends the connection and opens a new one. */
static void test_ws_ping_and_close(void **state)
{
    (void)state;
    pool_t *p = start_pool();
    job_t *job = make_job(PRINT1);
    peer_msg_t m;

    peer_accept(&peer, PEER_WAIT_MS);
    peer_send_frame(&peer, WSFRAME_OP_PING, "abcd", 4);
    m = peer_next(&peer, true, PEER_WAIT_MS);
    assert_true(m.pong);
    assert_int_equal(m.ctl_len, 4);
    assert_memory_equal(m.ctl, "abcd", 4);
    assert_int_equal(pool_submit(p, job), 0);
    m = peer_expect(&peer, CG_MSG_EXECUTE);
    run_ok(job, m.id, 1);
    job_unref(job);

    peer_send_frame(&peer, WSFRAME_OP_CLOSE, "\x03\xe9", 2); /* 1001 going away */
    m = peer_next(&peer, true, PEER_WAIT_MS);
    assert_int_equal(m.close_code, 1001);
    m = peer_next(&peer, true, PEER_WAIT_MS);
    assert_true(m.closed);
    peer_accept(&peer, PEER_WAIT_MS); /* reconnected after its backoff */
    assert_int_equal(peer.accepts, 2);
    stop_pool(p);
}

/* The handler gives up on a running job: the executor gets CANCEL, and the status it reports
 * for the killed run is the job's. */
static void test_cancel_running(void **state)
{
    (void)state;
    pool_t *p;
    job_t *job;

    peer_msg_t m = start_job(&p, &job, PRINT1);
    pool_cancel(p, job);
    m = peer_expect(&peer, CG_MSG_CANCEL);
    assert_string_equal(m.id, job->id);
    peer_result(&peer, m.id, 0, CG_ST_CANCELLED, "");
    peer_send(&peer, cg_encode_done(m.id, 1, false));
    assert_true(job_wait(job, cg_now_ms() + PEER_WAIT_MS));
    assert_int_equal(job->fail_http, 0);
    assert_int_equal(job->nresults, 1);
    assert_int_equal(job->runs[0].status, CG_ST_CANCELLED);
    job_unref(job);
    stop_pool(p);
}

/* Judging happens when a result arrives: wrong output is wrong_answer, and in submit mode the
 * first failure sends CANCEL and drops later results. */
static void test_submit_stops_early(void **state)
{
    (void)state;
    pool_t *p;
    job_t *job;

    peer_msg_t m = start_job(
        &p, &job,
        "{\"language\":\"python\",\"code\":\"print(1)\",\"mode\":\"submit\","
        "\"tests\":[{\"input\":\"\",\"expectedOutput\":\"1\"},"
        "{\"input\":\"\",\"expectedOutput\":\"2\"},{\"input\":\"\",\"expectedOutput\":\"3\"}]}");
    peer_result(&peer, m.id, 0, CG_ST_OK, "1\n");
    peer_result(&peer, m.id, 1, CG_ST_OK, "1\n");
    m = peer_expect(&peer, CG_MSG_CANCEL);
    peer_result(&peer, m.id, 2, CG_ST_OK, "3\n"); /* raced with the cancel: dropped */
    peer_send(&peer, cg_encode_done(m.id, 3, false));
    assert_true(job_wait(job, cg_now_ms() + PEER_WAIT_MS));
    assert_int_equal(job->fail_http, 0);
    assert_true(job->runs[0].passed);
    assert_int_equal(job->runs[0].status, CG_ST_OK);
    assert_false(job->runs[1].passed);
    assert_int_equal(job->runs[1].status, CG_ST_WRONG_ANSWER);
    assert_true(job->stopped_early);
    assert_false(job->runs[2].present);
    assert_int_equal(job->nresults, 2);
    job_unref(job);
    stop_pool(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_before_output_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_after_output_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stall_declared_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_closed_1009, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_many_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_requeued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_draining_refusal_requeued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_frame_then_new_executor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leaving_endpoint_finishes_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_ping_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_stops_early, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
