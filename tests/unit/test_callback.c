/*
 * test_callback.c - callback delivery: the signature against a known vector, backoff bounds,
 * URL checks (schemes, credentials, ports, zones, non-ASCII, host allow list, special
 * addresses), the configuration errors, and real deliveries over TCP to a small receiver this
 * test runs on 127.0.0.1 (a thread per connection, answering by path): 2xx delivered, 500 then
 * 200, 404 not retried, 500 until the attempts run out, Retry-After honoured, a receiver that
 * never answers times out and is retried while another delivery completes, a redirect not
 * followed, a loopback receiver refused at connect time when its network is not allowed, the
 * concurrency and queue bounds, stop, the Prometheus text, a proxy in the environment ignored
 * and a 1 MiB body delivered whole. Includes callback.c to reach
 * backoff_ms().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TEST_ALARM_S 60
#include "alarm_fixture.h"

#include "../../server/callback.c"

#define SECRET "0123456789abcdef-secret"

/* ---- the receiver ---- */

#define MAX_REQ 64
#define MAX_CONN 64

typedef struct {
    char path[64];
    char submission[160], timestamp[32], signature[128], content_type[64], attempt[16];
    char *body;
    size_t len;
    int64_t at_ms;
} req_t;

typedef struct {
    int lfd, port;
    pthread_t acceptor;
    pthread_mutex_t mu;
    req_t reqs[MAX_REQ];
    int nreq;
    int conns; /* connections accepted */
    int fds[MAX_CONN];
    pthread_t threads[MAX_CONN];
    int nthreads;
    int flaky_hits, r429_hits;
} receiver_t;

static receiver_t rx;

typedef struct {
    receiver_t *r;
    int fd;
} conn_arg_t;

/* Copies the value of header name (case-insensitive) from the header block into out. */
static void header_value(const char *hdrs, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);

    out[0] = '\0';
    for (const char *p = hdrs; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t k = e ? (size_t)(e - v) : strlen(v);
            if (k >= outlen)
                k = outlen - 1;
            memcpy(out, v, k);
            out[k] = '\0';
            return;
        }
    }
}

static void send_str(int fd, const char *s)
{
    (void)cg_write_all(fd, s, strlen(s));
}

static void *conn_thread(void *arg)
{
    conn_arg_t *ca = arg;
    receiver_t *r = ca->r;
    int fd = ca->fd;
    char buf[16384] = "", *end = NULL;
    size_t got = 0;
    free(ca);

    while (!end && got < sizeof buf - 1) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return NULL;
    *end = '\0';
    req_t q = {0};
    char cl[32];
    sscanf(buf, "POST %63s", q.path);
    header_value(buf, "Content-Length", cl, sizeof cl);
    header_value(buf, "X-Codegate-Submission", q.submission, sizeof q.submission);
    header_value(buf, "X-Codegate-Timestamp", q.timestamp, sizeof q.timestamp);
    header_value(buf, "X-Codegate-Signature", q.signature, sizeof q.signature);
    header_value(buf, "X-Codegate-Attempt", q.attempt, sizeof q.attempt);
    header_value(buf, "Content-Type", q.content_type, sizeof q.content_type);
    q.len = (size_t)atol(cl);
    q.body = calloc(1, q.len + 1);
    size_t have = got - (size_t)(end + 4 - buf);
    memcpy(q.body, end + 4, have < q.len ? have : q.len);
    while (have < q.len) {
        ssize_t n = read(fd, q.body + have, q.len - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    q.at_ms = cg_now_ms();

    pthread_mutex_lock(&r->mu);
    int hit = 0;
    if (!strcmp(q.path, "/flaky"))
        hit = ++r->flaky_hits;
    if (!strcmp(q.path, "/429"))
        hit = ++r->r429_hits;
    if (r->nreq < MAX_REQ)
        r->reqs[r->nreq++] = q;
    else
        free(q.body);
    pthread_mutex_unlock(&r->mu);

    if (!strcmp(q.path, "/ok") || (!strcmp(q.path, "/flaky") && hit > 1) ||
        (!strcmp(q.path, "/429") && hit > 1)) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    } else if (!strcmp(q.path, "/flaky") || !strcmp(q.path, "/500")) {
        send_str(fd, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (!strcmp(q.path, "/429")) {
        send_str(fd, "HTTP/1.1 429 Slow Down\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
    } else if (!strcmp(q.path, "/redirect")) {
        char h[256];
        snprintf(h, sizeof h,
                 "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/ok\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n",
                 r->port);
        send_str(fd, h);
    } else if (!strcmp(q.path, "/big")) {
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\nConnection: close\r\n\r\n");
        for (int i = 0; i < 64; i++)
            if (cg_write_all(fd, chunk, sizeof chunk) != 0)
                break;
    } else if (!strcmp(q.path, "/hang")) {
        while (read(fd, buf, sizeof buf) > 0) /* until the client gives up */
            ;
    } else {
        send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    return NULL;
}

static void *accept_thread(void *arg)
{
    receiver_t *r = arg;

    for (;;) {
        int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return NULL; /* shut down */
        conn_arg_t *ca = malloc(sizeof *ca);
        ca->r = r;
        ca->fd = fd;
        pthread_mutex_lock(&r->mu);
        r->conns++;
        if (r->nthreads < MAX_CONN) {
            r->fds[r->nthreads] = fd;
            pthread_create(&r->threads[r->nthreads++], NULL, conn_thread, ca);
        } else {
            close(fd);
            free(ca);
        }
        pthread_mutex_unlock(&r->mu);
    }
}

static void rx_start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;

    memset(&rx, 0, sizeof rx);
    pthread_mutex_init(&rx.mu, NULL);
    rx.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(rx.lfd >= 0);
    assert_int_equal(bind(rx.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(rx.lfd, 64), 0);
    assert_int_equal(getsockname(rx.lfd, (struct sockaddr *)&a, &alen), 0);
    rx.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&rx.acceptor, NULL, accept_thread, &rx), 0);
}

static void rx_stop(void)
{
    shutdown(rx.lfd, SHUT_RDWR);
    pthread_join(rx.acceptor, NULL);
    close(rx.lfd);
    pthread_mutex_lock(&rx.mu);
    int n = rx.nthreads;
    for (int i = 0; i < n; i++)
        shutdown(rx.fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&rx.mu);
    for (int i = 0; i < n; i++) {
        pthread_join(rx.threads[i], NULL);
        close(rx.fds[i]);
    }
    for (int i = 0; i < rx.nreq; i++)
        free(rx.reqs[i].body);
    pthread_mutex_destroy(&rx.mu);
}

static int rx_count(const char *path)
{
    int n = 0;

    pthread_mutex_lock(&rx.mu);
    for (int i = 0; i < rx.nreq; i++)
        n += !strcmp(rx.reqs[i].path, path);
    pthread_mutex_unlock(&rx.mu);
    return n;
}

/* The k-th request (0-based) to path; the receiver keeps them until rx_stop. */
static const req_t *rx_req(const char *path, int k)
{
    const req_t *q = NULL;

    pthread_mutex_lock(&rx.mu);
    for (int i = 0; i < rx.nreq && !q; i++)
        if (!strcmp(rx.reqs[i].path, path) && k-- == 0)
            q = &rx.reqs[i];
    pthread_mutex_unlock(&rx.mu);
    return q;
}

/* ---- done() records ---- */

typedef struct {
    char id[64];
    bool delivered;
    int attempts;
    char why[512];
    int order;
} done_t;

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static done_t dones[MAX_REQ];
static int ndone;

static void on_done(void *arg, const char *id, bool delivered, int attempts, const char *why)
{
    (void)arg;
    pthread_mutex_lock(&done_mu);
    if (ndone < MAX_REQ) {
        done_t *d = &dones[ndone];
        snprintf(d->id, sizeof d->id, "%s", id);
        d->delivered = delivered;
        d->attempts = attempts;
        snprintf(d->why, sizeof d->why, "%s", why ? why : "");
        d->order = ndone++;
    }
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&done_mu);
}

static const done_t *find_done(const char *id)
{
    for (int i = 0; i < ndone; i++)
        if (!strcmp(dones[i].id, id))
            return &dones[i];
    return NULL;
}

/* Waits for id's done() (the alarm bounds the test). */
static done_t wait_done(const char *id)
{
    const done_t *d;
    done_t copy;

    pthread_mutex_lock(&done_mu);
    while ((d = find_done(id)) == NULL)
        pthread_cond_wait(&done_cv, &done_mu);
    copy = *d;
    pthread_mutex_unlock(&done_mu);
    return copy;
}

static bool is_done(const char *id)
{
    pthread_mutex_lock(&done_mu);
    bool r = find_done(id) != NULL;
    pthread_mutex_unlock(&done_mu);
    return r;
}

/* ---- fixtures ---- */

static char secret_path[64];

static void write_secret(const char *secret)
{
    snprintf(secret_path, sizeof secret_path, "/tmp/cg-cbsecret-XXXXXX");
    int fd = mkstemp(secret_path);
    assert_true(fd >= 0);
    assert_int_equal(cg_write_all(fd, secret, strlen(secret)), 0);
    close(fd);
}

/* A callback object from flags (the real option table) plus a secret file. */
static callback_t *make_cb(const char *secret, const char *const *flags, int nflags, char *err,
                           size_t errlen)
{
    const char *argv[32] = {"gw"};
    int argc = 1;
    config_t cfg;

    if (secret) {
        write_secret(secret);
        argv[argc++] = "--callback-secret-file";
        argv[argc++] = secret_path;
    }
    for (int i = 0; i < nflags; i++)
        argv[argc++] = flags[i];
    if (config_load(&cfg, argc, (char **)argv, err, errlen) != 0)
        fail_msg("config: %s", err);
    callback_t *cb = callback_new(&cfg, err, errlen);
    if (secret)
        unlink(secret_path);
    return cb;
}

/* Flags of a fast test configuration that may reach 127.0.0.1. */
static const char *const fast_flags[] = {
    "--callback-allow-networks", "127.0.0.1/32", "--callback-backoff-ms",         "10",
    "--callback-backoff-max-ms", "5000",         "--callback-max-attempts",       "3",
    "--callback-timeout-ms",     "1500",         "--callback-connect-timeout-ms", "1000",
};
#define NFAST ((int)(sizeof fast_flags / sizeof fast_flags[0]))

static callback_t *cb;

static int setup_delivery(void **state)
{
    char err[256];

    setup_alarm(state);
    ndone = 0;
    rx_start();
    cb = make_cb(SECRET, fast_flags, NFAST, err, sizeof err);
    assert_non_null(cb);
    assert_int_equal(callback_start(cb), 0);
    return 0;
}

static int teardown_delivery(void **state)
{
    callback_free(cb);
    cb = NULL;
    rx_stop();
    return teardown_alarm(state);
}

static void post(const char *path, const char *id, const char *body)
{
    char url[128];

    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", rx.port, path);
    assert_int_equal(callback_post(cb, url, id, body, strlen(body), on_done, NULL), 0);
}

/* ---- pure parts ---- */

static void test_signature_vector(void **state)
{
    (void)state;
    char hex[65];
    const char *body = "{\"id\":\"s1\",\"status\":\"done\"}";

    /* python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef-secret",
     *   b"1700000000.{\"id\":\"s1\",\"status\":\"done\"}", hashlib.sha256).hexdigest())'
     * printf '%s' '1700000000.{"id":"s1","status":"done"}' |
     *   openssl dgst -sha256 -hmac 0123456789abcdef-secret */
    assert_int_equal(callback_sign(SECRET, strlen(SECRET), "1700000000", body, strlen(body), hex),
                     0);
    assert_string_equal(hex, "6a60c0488012c4ac39f8e545ef6d4b9e8ff61ad4bf6643d5d0de1091650fc5ed");
    /* empty body: the message is "1700000000." */
    assert_int_equal(callback_sign(SECRET, strlen(SECRET), "1700000000", NULL, 0, hex), 0);
    assert_string_equal(hex, "d2b1cf1bdb6c5d03488143764e2998025f7daa34ec840bc62f43813c2ebc4d7a");
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    uint64_t s = 12345;

    for (int failed = 1; failed <= 40; failed++) {
        int64_t upper = 100;
        for (int i = 1; i < failed && upper < 60000; i++)
            upper *= 2;
        if (upper > 60000)
            upper = 60000;
        int64_t lo = INT64_MAX, hi = -1;
        for (int k = 0; k < 2000; k++) {
            int64_t d = backoff_ms(100, 60000, failed, next_random(&s), 0);
            assert_true(d >= 0 && d <= upper);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* full jitter: the draws spread over the whole window */
        assert_true(lo < upper / 4);
        assert_true(hi > upper * 3 / 4);
        assert_int_equal(
            backoff_ms(100, 60000, failed, UINT64_MAX - (UINT64_MAX % (upper + 1)) - 1, 0), upper);
        assert_int_equal(backoff_ms(100, 60000, failed, 0, 0), 0);
    }
    /* Retry-After raises the delay, within the cap */
    assert_int_equal(backoff_ms(100, 60000, 1, 0, 5000), 5000);
    assert_int_equal(backoff_ms(100, 60000, 1, 0, 3600000), 60000);
    assert_int_equal(backoff_ms(100, 60000, 20, 59999, 10), 59999);
}

static void test_url_checks(void **state)
{
    (void)state;
    char err[256], why[256], longurl[2100];
    static const char *const flags[] = {"--callback-allow-networks", "127.0.0.1/32"};
    callback_t *c = make_cb(SECRET, flags, 2, err, sizeof err);
    assert_non_null(c);

    memset(longurl, 'a', sizeof longurl - 1);
    longurl[sizeof longurl - 1] = '\0';
    memcpy(longurl, "http://127.0.0.1/", 17);
    const struct {
        const char *url;
        int rc;
        const char *why;
    } t[] = {
        {"http://127.0.0.1:8080/hook?x=1", 0, NULL},
        {"https://127.0.0.1/hook", 0, NULL},
        {"HTTP://127.0.0.1/hook", 0, NULL},
        {"ftp://127.0.0.1/", -EINVAL, "http:// or https://"},
        {"http:/127.0.0.1/", -EINVAL, NULL},
        {"http:\\\\127.0.0.1/", -EINVAL, NULL},
        {"file:///etc/passwd", -EINVAL, NULL},
        {"gopher://127.0.0.1:70/", -EINVAL, NULL},
        {"dict://127.0.0.1:11211/", -EINVAL, NULL},
        {"http://user:pw@127.0.0.1/", -EINVAL, "credentials"},
        {"http://user@127.0.0.1/", -EINVAL, "credentials"},
        {"http://:pw@127.0.0.1/", -EINVAL, "credentials"},
        {"http://127.0.0.1:0/", -EINVAL, "port"},
        {"http://127.0.0.1:65536/", -EINVAL, NULL},
        {"http://127.0.0.1:99999999999/", -EINVAL, NULL},
        {"http://127.0.0.1:abc/", -EINVAL, NULL},
        {"http://b\xc3\xbc"
         "cher.example/",
         -EINVAL, "punycode"},
        {"http://exa mple.com/", -EINVAL, NULL},
        {"http://example.com/\r\nX-Injected: 1", -EINVAL, NULL},
        {"not a url", -EINVAL, NULL},
        {"", -EINVAL, NULL},
        {"//127.0.0.1/", -EINVAL, NULL},
        {"http://", -EINVAL, NULL},
        {"http:///path", -EINVAL, NULL},
        {"http://[fe80::1%25eth0]/", -EINVAL, NULL},
        {"http://[::1/", -EINVAL, NULL},
        {"http://ex*ample.com/", -EINVAL, NULL},
        {longurl, -EINVAL, "characters"},
        {"http://169.254.169.254/latest/meta-data/", -EPERM, "link-local"},
        {"http://10.0.0.1/", -EPERM, "private"},
        {"http://192.168.1.1:8080/", -EPERM, "private"},
        {"http://100.64.0.1/", -EPERM, "CGNAT"},
        {"http://0.0.0.0/", -EPERM, NULL},
        {"http://127.0.0.2/", -EPERM, "loopback"},
        {"http://2130706434/", -EPERM, "loopback"}, /* 127.0.0.2 as one number */
        {"http://0x7f.0.0.2/", -EPERM, "loopback"},
        {"http://[::1]:8080/", -EPERM, "loopback"},
        {"http://[::ffff:127.0.0.2]/", -EPERM, "loopback"},
        {"http://[::ffff:169.254.169.254]/", -EPERM, "link-local"},
        {"http://[fd00::1]/", -EPERM, "unique-local"},
        {"http://224.0.0.1/", -EPERM, "multicast"},
        {"http://255.255.255.255/", -EPERM, "broadcast"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        why[0] = '\0';
        int rc = callback_check_url(c, t[i].url, why, sizeof why);
        if (rc != t[i].rc)
            fail_msg("%.60s: %d (%s), expected %d", t[i].url, rc, why, t[i].rc);
        if (t[i].why && !strstr(why, t[i].why))
            fail_msg("%.60s: \"%s\" does not mention %s", t[i].url, why, t[i].why);
        if (rc && !why[0])
            fail_msg("%.60s: no reason", t[i].url);
    }
    callback_free(c);

    /* the host allow list is checked before any DNS */
    static const char *const hostflags[] = {"--callback-allowed-hosts",
                                            "hooks.example.com,*.example.org"};
    c = make_cb(SECRET, hostflags, 2, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(callback_check_url(c, "http://evil.test/", why, sizeof why), -EPERM);
    assert_non_null(strstr(why, "--callback-allowed-hosts"));
    assert_int_equal(callback_check_url(c, "http://127.0.0.1/", why, sizeof why), -EPERM);
    assert_int_equal(callback_check_url(c, "http://example.org/", why, sizeof why), -EPERM);
    assert_int_equal(callback_post(c, "http://evil.test/", "s1", "{}", 2, on_done, NULL), -EPERM);
    callback_free(c);

    /* a name resolving to loopback, without the network allowed */
    c = make_cb(SECRET, NULL, 0, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(callback_check_url(c, "http://localhost:8080/", why, sizeof why), -EPERM);
    assert_non_null(strstr(why, "resolves to a loopback address"));
    assert_null(strstr(why, "127.0.0.1")); /* the range, never the internal address */
    assert_null(strstr(why, "::1"));
    callback_free(c);

    /* no secret: refused, never sent unsigned */
    c = make_cb(NULL, NULL, 0, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(callback_check_url(c, "https://hooks.example.com/", why, sizeof why),
                     -ENOTSUP);
    assert_non_null(strstr(why, "--callback-secret-file"));
    assert_int_equal(callback_post(c, "https://hooks.example.com/", "s1", "{}", 2, on_done, NULL),
                     -ENOTSUP);
    callback_free(c);
}

static void test_config_errors(void **state)
{
    (void)state;
    char err[256];

    err[0] = '\0';
    assert_null(make_cb("short-secret", NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "16"));
    assert_null(make_cb("   \n\n", NULL, 0, err, sizeof err));

    static const char *const missing[] = {"--callback-secret-file", "/nonexistent/cg-secret"};
    assert_null(make_cb(NULL, missing, 2, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/cg-secret"));

    static const char *const backoff[] = {"--callback-backoff-ms", "5000",
                                          "--callback-backoff-max-ms", "100"};
    assert_null(make_cb(SECRET, backoff, 4, err, sizeof err));
    assert_non_null(strstr(err, "backoff"));

    /* a trailing newline is not part of the secret */
    callback_t *c = make_cb(SECRET "\n", NULL, 0, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->secret_len, strlen(SECRET));
    callback_free(c);
    callback_free(NULL);
}

/* ---- deliveries ---- */

static void test_delivered_and_signed(void **state)
{
    (void)state;
    const char *body = "{\"id\":\"sub-1\",\"status\":\"done\",\"result\":{\"stdout\":\"hi\\n\"}}";
    char hex[65];

    post("/ok", "sub-1", body);
    done_t d = wait_done("sub-1");
    assert_true(d.delivered);
    assert_int_equal(d.attempts, 1);
    assert_string_equal(d.why, "");

    const req_t *q = rx_req("/ok", 0);
    assert_non_null(q);
    assert_string_equal(q->content_type, "application/json");
    assert_string_equal(q->submission, "sub-1");
    assert_string_equal(q->attempt, "1");
    assert_int_equal(q->len, strlen(body));
    assert_memory_equal(q->body, body, q->len);
    long long ts = atoll(q->timestamp);
    assert_true(llabs(ts - (long long)time(NULL)) < 300);
    assert_int_equal(callback_sign(SECRET, strlen(SECRET), q->timestamp, q->body, q->len, hex), 0);
    char expect[80];
    snprintf(expect, sizeof expect, "sha256=%s", hex);
    assert_string_equal(q->signature, expect);

    callback_stats_t st;
    callback_stats(cb, &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.in_flight, 0);
}

static void test_metrics_text(void **state)
{
    (void)state;
    char *text = NULL;
    size_t n = 0;

    post("/ok", "m-1", "{}");
    post("/404", "m-2", "{}");
    wait_done("m-1");
    wait_done("m-2");
    FILE *f = open_memstream(&text, &n);
    assert_non_null(f);
    callback_metrics(cb, f);
    fclose(f);
    assert_non_null(strstr(text, "codegate_callbacks_total{result=\"delivered\"} 1\n"));
    assert_non_null(strstr(text, "codegate_callbacks_total{result=\"failed\"} 1\n"));
    assert_non_null(strstr(text, "codegate_callback_retries_total 0\n"));
    assert_non_null(strstr(text, "codegate_callbacks_in_flight 0\n"));
    assert_non_null(strstr(text, "codegate_callbacks_pending 0\n"));
    assert_non_null(strstr(text, "# TYPE codegate_callbacks_pending gauge\n"));
    free(text);
}

/* A proxy in the environment is not used, and a large body arrives whole and signed. */
static void test_no_proxy_large_body(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *body = malloc(n + 1), hex[65], expect[80];

    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    body[0] = '{';
    body[n - 1] = '}';
    body[n] = '\0';
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    post("/ok", "big-body", body);
    done_t d = wait_done("big-body");
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("ALL_PROXY");
    if (!d.delivered)
        fail_msg("not delivered after %d attempts: %s", d.attempts, d.why);
    const req_t *q = rx_req("/ok", 0);
    assert_non_null(q);
    assert_int_equal(q->len, n);
    assert_memory_equal(q->body, body, n);
    assert_int_equal(callback_sign(SECRET, strlen(SECRET), q->timestamp, q->body, q->len, hex), 0);
    snprintf(expect, sizeof expect, "sha256=%s", hex);
    assert_string_equal(q->signature, expect);
    free(body);
}

static void test_500_then_200(void **state)
{
    (void)state;
    post("/flaky", "sub-2", "{}");
    done_t d = wait_done("sub-2");
    assert_true(d.delivered);
    assert_int_equal(d.attempts, 2);
    assert_int_equal(rx_count("/flaky"), 2);
    assert_string_equal(rx_req("/flaky", 0)->attempt, "1");
    assert_string_equal(rx_req("/flaky", 1)->attempt, "2");
    callback_stats_t st;
    callback_stats(cb, &st);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.delivered, 1);
}

static void test_404_not_retried(void **state)
{
    (void)state;
    post("/404", "sub-3", "{}");
    done_t d = wait_done("sub-3");
    assert_false(d.delivered);
    assert_int_equal(d.attempts, 1);
    assert_string_equal(d.why, "HTTP 404");
    assert_int_equal(rx_count("/404"), 1);
    callback_stats_t st;
    callback_stats(cb, &st);
    assert_int_equal(st.failed, 1);
}

static void test_gives_up(void **state)
{
    (void)state;
    post("/500", "sub-4", "{}");
    done_t d = wait_done("sub-4");
    assert_false(d.delivered);
    assert_int_equal(d.attempts, 3); /* --callback-max-attempts 3 */
    assert_non_null(strstr(d.why, "HTTP 500"));
    assert_non_null(strstr(d.why, "gave up after 3 attempts"));
    assert_int_equal(rx_count("/500"), 3);
}

static void test_retry_after(void **state)
{
    (void)state;
    post("/429", "sub-5", "{}");
    done_t d = wait_done("sub-5");
    assert_true(d.delivered);
    assert_int_equal(d.attempts, 2);
    /* backoff alone would wait at most 10 ms; Retry-After: 1 makes it a second */
    int64_t gap = rx_req("/429", 1)->at_ms - rx_req("/429", 0)->at_ms;
    if (gap < 900)
        fail_msg("retried after %lld ms despite Retry-After: 1", (long long)gap);
}

static void test_slow_receiver_does_not_block(void **state)
{
    (void)state;
    post("/hang", "slow", "{}");
    while (rx_count("/hang") < 1) /* the slow transfer holds its connection */
        usleep(10000);
    post("/ok", "fast", "{}");
    done_t f = wait_done("fast");
    assert_true(f.delivered);
    assert_false(is_done("slow"));
    done_t s = wait_done("slow");
    assert_false(s.delivered);
    assert_int_equal(s.attempts, 3);
    assert_non_null(strstr(s.why, "timeout"));
    assert_true(f.order < s.order);
}

static void test_concurrency_bound(void **state)
{
    (void)state;
    char err[256], url[128];
    static const char *const flags[] = {
        "--callback-allow-networks", "127.0.0.1/32", "--callback-concurrency",  "2",
        "--callback-timeout-ms",     "20000",        "--callback-max-attempts", "1"};

    callback_t *c = make_cb(SECRET, flags, 8, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(callback_start(c), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hang", rx.port);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "c-%d", i);
        assert_int_equal(callback_post(c, url, id, "{}", 2, on_done, NULL), 0);
    }
    while (rx_count("/hang") < 2)
        usleep(10000);
    usleep(300000); /* the third waits for a free transfer, far below the 20 s timeout */
    assert_int_equal(rx_count("/hang"), 2);
    callback_stats_t st;
    callback_stats(c, &st);
    assert_int_equal(st.in_flight, 2);
    assert_int_equal(st.queued, 3);
    callback_free(c); /* stops: all three end as not delivered */
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "c-%d", i);
        done_t d = wait_done(id);
        assert_false(d.delivered);
        assert_string_equal(d.why, "shutting down");
    }
}

/* A retry that comes due while every transfer slot is taken waits without spinning: the
 * process uses far less CPU than the wall-clock time the wait takes. */
static void test_saturated_wait_does_not_spin(void **state)
{
    (void)state;
    char err[256], url[128];
    static const char *const flags[] = {"--callback-allow-networks", "127.0.0.1/32",
                                        "--callback-concurrency",    "1",
                                        "--callback-timeout-ms",     "1500",
                                        "--callback-max-attempts",   "2",
                                        "--callback-backoff-ms",     "10"};
    struct rusage r0, r1;

    callback_t *c = make_cb(SECRET, flags, 10, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(callback_start(c), 0);
    getrusage(RUSAGE_SELF, &r0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/500", rx.port);
    assert_int_equal(callback_post(c, url, "spin-500", "{}", 2, on_done, NULL), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hang", rx.port);
    assert_int_equal(callback_post(c, url, "spin-hang", "{}", 2, on_done, NULL), 0);
    done_t a = wait_done("spin-500"), b = wait_done("spin-hang");
    getrusage(RUSAGE_SELF, &r1);
    assert_int_equal(a.attempts, 2);
    assert_int_equal(b.attempts, 2);
    long cpu_ms = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000 +
                  (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1000 +
                  (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000 +
                  (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1000;
    /* the two timeouts take 3 s of wall clock; a busy loop would burn over 1 s of it */
    if (cpu_ms > 700)
        fail_msg("%ld ms of CPU while waiting for a transfer slot", cpu_ms);
    callback_free(c);
}

static void test_redirect_not_followed(void **state)
{
    (void)state;
    post("/redirect", "sub-6", "{}");
    done_t d = wait_done("sub-6");
    assert_false(d.delivered);
    assert_int_equal(d.attempts, 1);
    assert_non_null(strstr(d.why, "302"));
    assert_int_equal(rx_count("/ok"), 0);
}

static void test_big_answer_bounded(void **state)
{
    (void)state;
    post("/big", "sub-7", "{}");
    done_t d = wait_done("sub-7");
    assert_true(d.delivered);
    assert_int_equal(d.attempts, 1);
}

static void test_refused_at_connect(void **state)
{
    (void)state;
    char err[256], url[128];
    static const char *const flags[] = {"--callback-backoff-ms", "10", "--callback-max-attempts",
                                        "3"};

    /* Same receiver, but 127.0.0.0/8 is not allowed: callback_post does no DNS, the connect-
     * time check refuses the address, no connection is made and nothing is retried. */
    callback_t *c = make_cb(SECRET, flags, 4, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(callback_start(c), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", rx.port);
    assert_int_equal(callback_post(c, url, "ssrf-1", "{}", 2, on_done, NULL), 0);
    snprintf(url, sizeof url, "http://localhost:%d/ok", rx.port);
    assert_int_equal(callback_post(c, url, "ssrf-2", "{}", 2, on_done, NULL), 0);
    done_t d1 = wait_done("ssrf-1"), d2 = wait_done("ssrf-2");
    assert_false(d1.delivered);
    assert_int_equal(d1.attempts, 1);
    assert_non_null(strstr(d1.why, "refused"));
    assert_non_null(strstr(d1.why, "loopback"));
    assert_false(d2.delivered);
    assert_int_equal(d2.attempts, 1);
    assert_non_null(strstr(d2.why, "loopback"));
    callback_free(c);
    pthread_mutex_lock(&rx.mu);
    assert_int_equal(rx.conns, 0);
    pthread_mutex_unlock(&rx.mu);
}

static void test_queue_bound_and_stop(void **state)
{
    (void)state;
    char err[256];
    static const char *const flags[] = {"--callback-queue-max", "2", "--callback-allow-networks",
                                        "127.0.0.1/32"};

    ndone = 0;
    callback_t *c = make_cb(SECRET, flags, 4, err, sizeof err);
    assert_non_null(c);
    /* not started: posts queue up */
    assert_int_equal(callback_post(c, "http://127.0.0.1:9/", "q1", "{}", 2, on_done, NULL), 0);
    assert_int_equal(callback_post(c, "http://127.0.0.1:9/", "q2", "{}", 2, on_done, NULL), 0);
    assert_int_equal(callback_post(c, "http://127.0.0.1:9/", "q3", "{}", 2, on_done, NULL),
                     -EAGAIN);
    assert_int_equal(callback_post(c, "http://127.0.0.1:9/", "bad id", "{}", 2, on_done, NULL),
                     -EINVAL);
    assert_int_equal(callback_post(c, "http://127.0.0.1:9/", "q4", NULL, 2, on_done, NULL),
                     -EINVAL);
    callback_stats_t st;
    callback_stats(c, &st);
    assert_int_equal(st.queued, 2);
    callback_stop(c);
    assert_int_equal(ndone, 2);
    assert_false(dones[0].delivered);
    assert_string_equal(dones[0].why, "shutting down");
    assert_int_equal(callback_post(c, "http://127.0.0.1:9/", "q5", "{}", 2, on_done, NULL),
                     -ESHUTDOWN);
    callback_stop(c); /* idempotent */
    callback_free(c);
}

static void test_stop_with_transfer_in_flight(void **state)
{
    (void)state;
    post("/hang", "inflight", "{}");
    while (rx_count("/hang") < 1)
        usleep(10000);
    callback_stop(cb);
    done_t d = wait_done("inflight");
    assert_false(d.delivered);
    assert_string_equal(d.why, "shutting down");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signature_vector, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_backoff_bounds, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_url_checks, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_config_errors, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_delivered_and_signed, setup_delivery,
                                        teardown_delivery),
        cmocka_unit_test_setup_teardown(test_metrics_text, setup_delivery, teardown_delivery),
        cmocka_unit_test_setup_teardown(test_no_proxy_large_body, setup_delivery,
                                        teardown_delivery),
        cmocka_unit_test_setup_teardown(test_500_then_200, setup_delivery, teardown_delivery),
        cmocka_unit_test_setup_teardown(test_404_not_retried, setup_delivery, teardown_delivery),
        cmocka_unit_test_setup_teardown(test_gives_up, setup_delivery, teardown_delivery),
        cmocka_unit_test_setup_teardown(test_retry_after, setup_delivery, teardown_delivery),
        cmocka_unit_test_setup_teardown(test_slow_receiver_does_not_block, setup_delivery,
                                        teardown_delivery),
        cmocka_unit_test_setup_teardown(test_concurrency_bound, setup_delivery, teardown_delivery),
        cmocka_unit_test_setup_teardown(test_saturated_wait_does_not_spin, setup_delivery,
                                        teardown_delivery),
        cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup_delivery,
                                        teardown_delivery),
        cmocka_unit_test_setup_teardown(test_big_answer_bounded, setup_delivery, teardown_delivery),
        cmocka_unit_test_setup_teardown(test_refused_at_connect, setup_delivery, teardown_delivery),
        cmocka_unit_test_setup_teardown(test_queue_bound_and_stop, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_stop_with_transfer_in_flight, setup_delivery,
                                        teardown_delivery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
