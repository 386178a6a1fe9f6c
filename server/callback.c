/*
 * callback.c - delivery of submissions' final states to their callbackUrl (see callback.h).
 *
 * Theory of operation
 *   Producers (any thread) call callback_post(): the URL is parsed again (no DNS), the delivery
 *   is copied into a malloc'ed delivery_t, appended to `incoming` under the mutex, and the
 *   delivery thread is woken with curl_multi_wakeup() (the one curl call that is safe from
 *   another thread). Everything else belongs to the delivery thread:
 *
 *     incoming ──▶ ready (FIFO) ──▶ active (an easy handle in the multi) ──▶ done()
 *                      retry (by due time) ──▲      │
 *                            ▲                      │
 *                            └── retryable failure, backoff
 *
 *   Each turn of the loop moves incoming to the tail of ready, starts deliveries while fewer
 *   than --callback-concurrency are active (retries whose time has come first, they are older,
 *   then ready in arrival order), lets curl_multi_perform() move every transfer, finishes the
 *   completed ones and sleeps in curl_multi_poll() until a socket is ready, curl needs a timer,
 *   the next retry is due, or a producer wakes it. No transfer waits for another: a receiver
 *   that never answers holds one easy handle until its own timeout.
 *
 *   SSRF at connect time: curl opens every socket through open_socket(), which checks the exact
 *   address against the network policy and refuses (CURL_SOCKET_BAD) what the policy refuses.
 *   Whatever a name resolves to at delivery time (DNS rebinding after the submit-time check),
 *   no connection to a refused address is ever made. Redirects are not followed, proxies from
 *   the environment are ignored, only http and https are spoken.
 *
 *   Accounting: `pending` and `bytes` count accepted deliveries and their bodies until done() is
 *   called; they bound the memory (callback_post answers -EAGAIN at --callback-queue-max
 *   deliveries or QUEUE_BYTES_MAX of bodies). The stats are atomics.
 *
 * Thread table
 *   cfg fields, secret, hosts, np     written in callback_new, read-only after: any thread
 *   mu: incoming, stopping, started   any thread
 *   multi, ready, retry, active, rng  delivery thread (and callback_new/free, before/after it)
 *   stats (atomics)                   written by the delivery thread and callback_post
 */
#include "callback.h"

#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "netpolicy.h"
#include "secret.h"
#include "version.h"

#define SECRET_MIN 16
#define SECRET_MAX 4096
#define ID_MAX 128
#define RESPONSE_MAX (64 * 1024) /* response body read and discarded; beyond, the transfer ends */
#define POLL_MAX_MS 1000
#define QUEUE_BYTES_MAX ((uint64_t)256 << 20) /* bodies held at once */

typedef struct delivery {
    struct delivery *next; /* in incoming, ready, retry or active */
    callback_t *cb;
    char *url, *id, *body; /* owned copies */
    size_t len;
    callback_done_fn done;
    void *arg;
    int attempts;
    int64_t due_ms;
    CURL *easy; /* while active */
    struct curl_slist *headers;
    size_t response_bytes;
    bool response_overflow;
    char refused[160]; /* set by open_socket when the policy refused an address */
    char errbuf[CURL_ERROR_SIZE];
} delivery_t;

struct callback {
    /* read-only after callback_new */
    unsigned char secret[SECRET_MAX];
    size_t secret_len; /* 0: no secret, callbacks refused */
    char hosts[sizeof(((config_t *)0)->callback_allowed_hosts)];
    netpolicy_t np;
    int max_attempts, connect_ms, total_ms, backoff_ms, backoff_max_ms, queue_max, concurrency;

    pthread_mutex_t mu;
    delivery_t *incoming, **incoming_tail;
    bool stopping, started;

    CURLM *multi;
    pthread_t thread;
    delivery_t *ready, **ready_tail, *retry, *active;
    uint64_t rng;

    _Atomic uint64_t delivered, failed, retries, bytes;
    _Atomic int in_flight, pending;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

/* ---- pure helpers (unit-tested through #include) ---- */

/* The delay before retry number `failed` (1 = after the first failed attempt): a uniformly
 * random time in [0, min(cap, base * 2^(failed-1))] ("full jitter"), rnd being 64 random
 * bits. A Retry-After of retry_after_ms (> 0) raises the delay to it, capped at cap too. */
static int64_t backoff_ms(int base, int cap, int failed, uint64_t rnd, int64_t retry_after_ms)
{
    int64_t upper = base, delay;

    for (int i = 1; i < failed && upper < cap; i++)
        upper *= 2;
    if (upper > cap)
        upper = cap;
    delay = (int64_t)(rnd % (uint64_t)(upper + 1));
    if (retry_after_ms > 0)
        delay = retry_after_ms > cap ? cap : (retry_after_ms > delay ? retry_after_ms : delay);
    return delay;
}

/* xorshift64*: the jitter needs spread, not secrecy. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

int callback_sign(const void *secret, size_t secret_len, const char *timestamp, const char *body,
                  size_t len, char hex[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t tlen = strlen(timestamp);
    char *msg = malloc(tlen + 1 + len + 1);

    if (!msg)
        return -ENOMEM;
    memcpy(msg, timestamp, tlen);
    msg[tlen] = '.';
    if (len)
        memcpy(msg + tlen + 1, body, len);
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg, tlen + 1 + len,
              mac, &maclen) ||
        maclen != 32) {
        free(msg);
        return -EIO;
    }
    free(msg);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

int callback_check_url(const callback_t *cb, const char *url, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    netpolicy_url_t u;
    int rc, g;

    if (!cb || cb->secret_len == 0) {
        snprintf(why, whylen,
                 "callbacks are not enabled on this gateway (no "
                 "--callback-secret-file: callbacks are only sent signed)");
        return -ENOTSUP;
    }
    rc = netpolicy_parse_url(cb->hosts, url, &u, why, whylen);
    if (rc)
        return rc;
    free(u.url);
    g = getaddrinfo(u.host, u.port, &hints, &res);
    if (g != 0) {
        snprintf(why, whylen, "callbackUrl host %s does not resolve (%s)", u.host, gai_strerror(g));
        return g == EAI_AGAIN ? -EAGAIN : -ENOENT;
    }
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        char reason[160];
        if (netpolicy_check_addr(&cb->np, a->ai_addr, reason, sizeof reason) != 0) {
            /* The range, not the address: a client learns nothing of internal DNS. */
            const char *what = netpolicy_special(a->ai_addr);
            snprintf(why, whylen,
                     "callbackUrl host %s resolves to a %s address, which callbacks may not reach",
                     u.host, what ? what : "refused");
            rc = -EPERM;
            break;
        }
    }
    freeaddrinfo(res);
    return rc;
}

/* ---- construction ---- */

static int read_secret(callback_t *cb, const char *path, char *err, size_t errlen)
{
    char buf[SECRET_MAX + 4], why[256];
    size_t len;

    /* The rules every secret follows (common/secret.c): one trailing line end ignored,
     * printable characters without blanks, SECRET_MIN..SECRET_MAX of them. */
    if (cg_secret_read(path, SECRET_MIN, SECRET_MAX, buf, sizeof buf, &len, why, sizeof why) != 0) {
        snprintf(err, errlen, "--callback-secret-file: %s", why);
        return -1;
    }
    memcpy(cb->secret, buf, len);
    cb->secret_len = len;
    explicit_bzero(buf, sizeof buf);
    return 0;
}

callback_t *callback_new(const config_t *cfg, char *err, size_t errlen)
{
    callback_t *cb;
    char why[160];

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    if (cfg->callback_backoff_max_ms < cfg->callback_backoff_ms) {
        snprintf(err, errlen, "--callback-backoff-max-ms must be at least --callback-backoff-ms");
        return NULL;
    }
    cb = calloc(1, sizeof *cb);
    if (!cb) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (netpolicy_parse_networks(&cb->np, cfg->callback_allow_networks, why, sizeof why) != 0) {
        snprintf(err, errlen, "--callback-allow-networks: %s", why);
        free(cb);
        return NULL;
    }
    if (cfg->callback_secret_file[0] && read_secret(cb, cfg->callback_secret_file, err, errlen)) {
        free(cb);
        return NULL;
    }
    snprintf(cb->hosts, sizeof cb->hosts, "%s", cfg->callback_allowed_hosts);
    cb->max_attempts = cfg->callback_max_attempts;
    cb->connect_ms = cfg->callback_connect_timeout_ms;
    cb->total_ms = cfg->callback_timeout_ms;
    cb->backoff_ms = cfg->callback_backoff_ms;
    cb->backoff_max_ms = cfg->callback_backoff_max_ms;
    cb->queue_max = cfg->callback_queue_max;
    cb->concurrency = cfg->callback_concurrency;
    cb->incoming_tail = &cb->incoming;
    cb->ready_tail = &cb->ready;
    if (getrandom(&cb->rng, sizeof cb->rng, 0) != sizeof cb->rng || cb->rng == 0)
        cb->rng = (uint64_t)cg_now_ms() * 0x9E3779B97F4A7C15ULL | 1;
    cb->multi = curl_multi_init();
    if (!cb->multi) {
        snprintf(err, errlen, "libcurl: cannot create a multi handle");
        free(cb);
        return NULL;
    }
    pthread_mutex_init(&cb->mu, NULL);
    return cb;
}

/* ---- deliveries (delivery thread) ---- */

static void delivery_free(delivery_t *d)
{
    free(d->url);
    free(d->id);
    free(d->body);
    free(d);
}

/* Reports d through done() and frees it. */
static void report(delivery_t *d, bool delivered, const char *why)
{
    callback_t *cb = d->cb;

    if (delivered)
        atomic_fetch_add(&cb->delivered, 1);
    else
        atomic_fetch_add(&cb->failed, 1);
    /* first: the counters are final when done() runs */
    atomic_fetch_sub(&cb->bytes, (uint64_t)d->len);
    atomic_fetch_sub(&cb->pending, 1);
    d->done(d->arg, d->id, delivered, d->attempts, why);
    delivery_free(d);
}

/* CURLOPT_OPENSOCKETFUNCTION: the policy on the exact address curl is about to connect to. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    delivery_t *d = clientp;
    char why[128];

    if (purpose != CURLSOCKTYPE_IPCXN) {
        snprintf(d->refused, sizeof d->refused, "not an IP connection");
        return CURL_SOCKET_BAD;
    }
    if (netpolicy_check_addr(&d->cb->np, &a->addr, why, sizeof why) != 0) {
        const char *what = netpolicy_special(&a->addr); /* the range only, as at submit */
        snprintf(d->refused, sizeof d->refused, "%s address", what ? what : "not allowed");
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The answer's body is read and dropped; past RESPONSE_MAX the transfer ends (the status line
 * has long been read then). */
static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
    delivery_t *d = arg;

    (void)p;
    d->response_bytes += size * n;
    if (d->response_bytes > RESPONSE_MAX) {
        d->response_overflow = true;
        return 0;
    }
    return size * n;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *h, bool *ok)
{
    struct curl_slist *n = curl_slist_append(l, h);

    if (!n) {
        *ok = false;
        return l;
    }
    return n;
}

/* Builds the signed headers of this attempt. 0 or -ENOMEM/-EIO. */
static int build_headers(delivery_t *d)
{
    callback_t *cb = d->cb;
    char ts[24], sig[65], line[ID_MAX + 64];
    bool ok = true;
    int rc;

    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    rc = callback_sign(cb->secret, cb->secret_len, ts, d->body, d->len, sig);
    if (rc)
        return rc;
    d->headers = add_header(d->headers, "Content-Type: application/json", &ok);
    d->headers = add_header(d->headers, "Expect:", &ok); /* no 100-continue round trip */
    snprintf(line, sizeof line, "X-Codegate-Submission: %s", d->id);
    d->headers = add_header(d->headers, line, &ok);
    snprintf(line, sizeof line, "X-Codegate-Timestamp: %s", ts);
    d->headers = add_header(d->headers, line, &ok);
    snprintf(line, sizeof line, "X-Codegate-Signature: sha256=%s", sig);
    d->headers = add_header(d->headers, line, &ok);
    snprintf(line, sizeof line, "X-Codegate-Attempt: %d", d->attempts);
    d->headers = add_header(d->headers, line, &ok);
    return ok ? 0 : -ENOMEM;
}

static int setup_easy(delivery_t *d)
{
    callback_t *cb = d->cb;
    CURL *e = curl_easy_init();
    CURLcode c = CURLE_OK;

    if (!e)
        return -ENOMEM;
    d->easy = e;
    d->response_bytes = 0;
    d->response_overflow = false;
    d->refused[0] = d->errbuf[0] = '\0';
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(e, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_URL, d->url);
    SET(CURLOPT_PRIVATE, d);
    SET(CURLOPT_ERRORBUFFER, d->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROXY, ""); /* never a proxy from the environment */
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, d);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cb->connect_ms);
    SET(CURLOPT_TIMEOUT_MS, (long)cb->total_ms);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, d->body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->len);
    SET(CURLOPT_HTTPHEADER, d->headers);
    SET(CURLOPT_USERAGENT, "codegate-callback/" CG_VERSION);
    SET(CURLOPT_WRITEFUNCTION, discard_body);
    SET(CURLOPT_WRITEDATA, d);
#undef SET
    return c == CURLE_OK ? 0 : -EINVAL;
}

static void release_easy(delivery_t *d)
{
    if (d->easy) {
        curl_multi_remove_handle(d->cb->multi, d->easy);
        curl_easy_cleanup(d->easy);
        d->easy = NULL;
    }
    curl_slist_free_all(d->headers);
    d->headers = NULL;
}

/* Starts one attempt: on success d is in the active list; else it is reported. */
static void start_attempt(callback_t *cb, delivery_t *d)
{
    int rc;

    d->attempts++;
    if (d->attempts > 1)
        atomic_fetch_add(&cb->retries, 1);
    rc = build_headers(d);
    if (rc == 0)
        rc = setup_easy(d);
    if (rc == 0 && curl_multi_add_handle(cb->multi, d->easy) != CURLM_OK)
        rc = -ENOMEM;
    if (rc) {
        release_easy(d);
        report(d, false, "internal error preparing the request");
        return;
    }
    d->next = cb->active;
    cb->active = d;
    atomic_fetch_add(&cb->in_flight, 1);
}

typedef enum { OUT_DELIVERED, OUT_RETRY, OUT_FAIL } outcome_t;

/* Classifies a finished attempt; why gets the reason when not delivered. */
static outcome_t classify(const delivery_t *d, CURLcode rc, long status, char *why, size_t whylen)
{
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && d->response_overflow)) {
        if (status >= 200 && status < 300)
            return OUT_DELIVERED;
        if (status >= 300 && status < 400) {
            snprintf(why, whylen, "HTTP %ld (redirects are not followed)", status);
            return OUT_FAIL;
        }
        snprintf(why, whylen, "HTTP %ld", status);
        return status == 408 || status == 429 || status >= 500 ? OUT_RETRY : OUT_FAIL;
    }
    if (d->refused[0]) {
        snprintf(why, whylen, "refused: %s", d->refused);
        return OUT_FAIL;
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(why, whylen, "timeout");
        return OUT_RETRY;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
        snprintf(why, whylen, "%s", d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
        return OUT_FAIL;
    default:
        snprintf(why, whylen, "%s", d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
        return OUT_RETRY;
    }
}

static void list_remove(delivery_t **head, delivery_t *d)
{
    for (delivery_t **p = head; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            d->next = NULL;
            return;
        }
}

/* Keeps the retry list ordered by due time (a delivery due at the same time as others goes
 * after them). */
static void retry_insert(callback_t *cb, delivery_t *d)
{
    delivery_t **p = &cb->retry;

    while (*p && (*p)->due_ms <= d->due_ms)
        p = &(*p)->next;
    d->next = *p;
    *p = d;
}

static void finish_attempt(callback_t *cb, delivery_t *d, CURLcode rc)
{
    long status = 0;
    curl_off_t retry_after = 0;
    char why[CURL_ERROR_SIZE + 64] = "";
    outcome_t out;

    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(d->easy, CURLINFO_RETRY_AFTER, &retry_after);
    list_remove(&cb->active, d);
    release_easy(d);
    atomic_fetch_sub(&cb->in_flight, 1);
    out = classify(d, rc, status, why, sizeof why);
    if (out == OUT_DELIVERED) {
        report(d, true, NULL);
    } else if (out == OUT_RETRY && d->attempts < cb->max_attempts) {
        int64_t ra =
            (status == 429 || status == 503) && retry_after > 0 ? (int64_t)retry_after * 1000 : 0;
        d->due_ms = cg_now_ms() + backoff_ms(cb->backoff_ms, cb->backoff_max_ms, d->attempts,
                                             next_random(&cb->rng), ra);
        retry_insert(cb, d);
    } else {
        char final[sizeof why + 48];
        if (out == OUT_RETRY)
            snprintf(final, sizeof final, "%s (gave up after %d attempts)", why, d->attempts);
        else
            snprintf(final, sizeof final, "%s", why);
        report(d, false, final);
    }
}

/* Starts deliveries while there is room: due retries first, then ready ones in arrival order.
 * Returns how long the loop may sleep: until the next retry is due, at most POLL_MAX_MS. */
static int start_due(callback_t *cb)
{
    int64_t now = cg_now_ms(), next = POLL_MAX_MS;

    while (atomic_load(&cb->in_flight) < cb->concurrency) {
        delivery_t *d;
        if (cb->retry && cb->retry->due_ms <= now) {
            d = cb->retry;
            cb->retry = d->next;
        } else if (cb->ready) {
            d = cb->ready;
            cb->ready = d->next;
            if (!cb->ready)
                cb->ready_tail = &cb->ready;
        } else {
            break;
        }
        d->next = NULL;
        start_attempt(cb, d);
    }
    /* When every transfer slot is taken, a due retry waits for one to finish: that wakes the
     * poll by itself (socket activity or curl's own timer), so do not spin on it. */
    if (cb->retry && atomic_load(&cb->in_flight) < cb->concurrency &&
        cb->retry->due_ms - now < next)
        next = cb->retry->due_ms > now ? cb->retry->due_ms - now : 0;
    return (int)next;
}

/* Ends every delivery not finished at stop. */
static void abandon_all(callback_t *cb, delivery_t *incoming)
{
    delivery_t *d;

    while ((d = cb->active) != NULL) {
        cb->active = d->next;
        release_easy(d);
        atomic_fetch_sub(&cb->in_flight, 1);
        report(d, false, "shutting down");
    }
    while ((d = cb->retry) != NULL) {
        cb->retry = d->next;
        report(d, false, "shutting down");
    }
    while ((d = cb->ready) != NULL) {
        cb->ready = d->next;
        report(d, false, "shutting down");
    }
    cb->ready_tail = &cb->ready;
    while ((d = incoming) != NULL) {
        incoming = d->next;
        report(d, false, "shutting down");
    }
}

static void *delivery_thread(void *arg)
{
    callback_t *cb = arg;
    delivery_t *in;
    bool stopping;

    for (;;) {
        pthread_mutex_lock(&cb->mu);
        in = cb->incoming;
        cb->incoming = NULL;
        cb->incoming_tail = &cb->incoming;
        stopping = cb->stopping;
        pthread_mutex_unlock(&cb->mu);
        if (stopping) {
            abandon_all(cb, in);
            return NULL;
        }
        if (in) { /* to the tail of ready, in order */
            *cb->ready_tail = in;
            while (in->next)
                in = in->next;
            cb->ready_tail = &in->next;
        }
        int wait_ms = start_due(cb), running = 0;
        CURLMsg *msg;
        int left;
        curl_multi_perform(cb->multi, &running);
        while ((msg = curl_multi_info_read(cb->multi, &left)) != NULL) {
            delivery_t *d = NULL;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
            finish_attempt(cb, d, msg->data.result);
            wait_ms = 0; /* a retry may be due at once; the next turn looks */
        }
        curl_multi_poll(cb->multi, NULL, 0, wait_ms, NULL);
    }
}

/* ---- API ---- */

int callback_start(callback_t *cb)
{
    int rc;

    pthread_mutex_lock(&cb->mu);
    if (cb->started || cb->stopping) {
        pthread_mutex_unlock(&cb->mu);
        return -EALREADY;
    }
    rc = pthread_create(&cb->thread, NULL, delivery_thread, cb);
    cb->started = rc == 0;
    pthread_mutex_unlock(&cb->mu);
    return -rc;
}

static bool id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
            return false;
    return true;
}

int callback_post(callback_t *cb, const char *url, const char *id, const char *body, size_t len,
                  callback_done_fn done, void *arg)
{
    char why[160];
    netpolicy_url_t u;
    delivery_t *d;
    int rc;

    if (!cb || !url || !id || (!body && len) || !done || !id_ok(id))
        return -EINVAL;
    if (cb->secret_len == 0)
        return -ENOTSUP;
    rc = netpolicy_parse_url(cb->hosts, url, &u, why, sizeof why);
    if (rc)
        return rc;
    d = calloc(1, sizeof *d);
    if (!d || !(d->id = strdup(id)) || !(d->body = malloc(len + 1))) {
        free(u.url);
        if (d)
            free(d->id);
        free(d);
        return -ENOMEM;
    }
    if (len)
        memcpy(d->body, body, len);
    d->body[len] = '\0';
    d->len = len;
    d->url = u.url;
    d->cb = cb;
    d->done = done;
    d->arg = arg;
    pthread_mutex_lock(&cb->mu);
    if (cb->stopping)
        rc = -ESHUTDOWN;
    else if (atomic_load(&cb->pending) >= cb->queue_max ||
             atomic_load(&cb->bytes) + len > QUEUE_BYTES_MAX)
        rc = -EAGAIN;
    if (rc) {
        pthread_mutex_unlock(&cb->mu);
        delivery_free(d);
        return rc;
    }
    atomic_fetch_add(&cb->pending, 1);
    atomic_fetch_add(&cb->bytes, (uint64_t)len);
    *cb->incoming_tail = d;
    cb->incoming_tail = &d->next;
    pthread_mutex_unlock(&cb->mu);
    curl_multi_wakeup(cb->multi);
    return 0;
}

void callback_stop(callback_t *cb)
{
    bool started;
    delivery_t *in = NULL;

    if (!cb)
        return;
    pthread_mutex_lock(&cb->mu);
    if (cb->stopping) {
        pthread_mutex_unlock(&cb->mu);
        return;
    }
    cb->stopping = true;
    started = cb->started;
    if (!started) { /* no thread: report what was posted from here */
        in = cb->incoming;
        cb->incoming = NULL;
        cb->incoming_tail = &cb->incoming;
    }
    pthread_mutex_unlock(&cb->mu);
    if (started) {
        curl_multi_wakeup(cb->multi);
        pthread_join(cb->thread, NULL);
    } else {
        abandon_all(cb, in);
    }
}

void callback_free(callback_t *cb)
{
    if (!cb)
        return;
    callback_stop(cb);
    curl_multi_cleanup(cb->multi);
    pthread_mutex_destroy(&cb->mu);
    explicit_bzero(cb->secret, sizeof cb->secret);
    free(cb);
}

void callback_stats(const callback_t *cb, callback_stats_t *out)
{
    callback_t *m = (callback_t *)cb; /* atomics are read-only here */

    out->delivered = atomic_load(&m->delivered);
    out->failed = atomic_load(&m->failed);
    out->retries = atomic_load(&m->retries);
    out->in_flight = atomic_load(&m->in_flight);
    out->queued = atomic_load(&m->pending);
}

void callback_metrics(const callback_t *cb, FILE *f)
{
    callback_stats_t st;

    callback_stats(cb, &st);
    fprintf(f,
            "# HELP codegate_callbacks_total Submission callbacks finished, by result.\n"
            "# TYPE codegate_callbacks_total counter\n"
            "codegate_callbacks_total{result=\"delivered\"} %llu\n"
            "codegate_callbacks_total{result=\"failed\"} %llu\n"
            "# HELP codegate_callback_retries_total Callback attempts after the first.\n"
            "# TYPE codegate_callback_retries_total counter\n"
            "codegate_callback_retries_total %llu\n"
            "# HELP codegate_callbacks_in_flight Callback requests being sent now.\n"
            "# TYPE codegate_callbacks_in_flight gauge\n"
            "codegate_callbacks_in_flight %d\n"
            "# HELP codegate_callbacks_pending Callbacks accepted and not finished (sending, "
            "waiting to be sent or to be retried).\n"
            "# TYPE codegate_callbacks_pending gauge\n"
            "codegate_callbacks_pending %d\n",
            (unsigned long long)st.delivered, (unsigned long long)st.failed,
            (unsigned long long)st.retries, st.in_flight, st.queued);
}
