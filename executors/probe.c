/*
 * probe.c - `executor --probe` (see probe.h): one HTTP/1.1 GET /healthz over a blocking socket
 * (TCP or unix; OpenSSL without verification when the listener speaks TLS), every step
 * bounded by what is left of one deadline: a non-blocking connect waited for with poll(), then
 * SO_RCVTIMEO/SO_SNDTIMEO set to what is left before the TLS handshake and before each write
 * and read of the request and the answer (a handshake's own reads share one such bound each).
 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cg_util.h"

#define PROBE_MAX_ANSWER 4096

typedef struct {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int64_t deadline;
    char where[160]; /* for messages: "127.0.0.1:8765" or the socket path */
} probe_t;

const char *probe_host(const char *h)
{
    if (!h[0] || !strcmp(h, "0.0.0.0") || !strcmp(h, "*"))
        return "127.0.0.1";
    if (!strcmp(h, "::") || !strcmp(h, "[::]"))
        return "::1";
    return h;
}

static int left_ms(const probe_t *p)
{
    int64_t l = p->deadline - cg_now_ms();

    return l > 0 ? (int)l : 0;
}

/* Bounds the next blocking read or write (a TLS handshake: several) by what is left. 0 or a
 * negative errno (-ETIMEDOUT when nothing is left). */
static int bound_io(const probe_t *p)
{
    int ms = left_ms(p);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (ms == 0)
        return -ETIMEDOUT;
    if (setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        return -errno;
    return 0;
}

/* Connects fd to sa within the deadline. 0 or a negative errno (-ETIMEDOUT). */
static int connect_within(probe_t *p, const struct sockaddr *sa, socklen_t salen)
{
    int fl = fcntl(p->fd, F_GETFL);
    struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
    int err = 0;
    socklen_t elen = sizeof err;

    if (fl < 0 || fcntl(p->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    if (connect(p->fd, sa, salen) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN)
            return -errno;
        int n;
        do
            n = poll(&pfd, 1, left_ms(p));
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return -errno;
        if (n == 0)
            return -ETIMEDOUT;
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
            return -errno;
        if (err)
            return -err;
    }
    if (fcntl(p->fd, F_SETFL, fl) < 0)
        return -errno;
    return bound_io(p);
}

/* Opens the connection to the listen address. 0, or -1 with a reason in why. */
static int open_conn(probe_t *p, const char *listen, char *why, size_t len)
{
    if (!strncmp(listen, "unix:", 5)) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (!listen[5] || strlen(listen + 5) >= sizeof sun.sun_path) {
            snprintf(why, len, "bad listen address \"%s\"", listen);
            return -1;
        }
        memcpy(sun.sun_path, listen + 5, strlen(listen + 5) + 1);
        snprintf(p->where, sizeof p->where, "%s", listen + 5);
        p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int rc = p->fd < 0 ? -errno : connect_within(p, (struct sockaddr *)&sun, sizeof sun);
        if (rc != 0)
            snprintf(why, len, "cannot connect to %s: %s", p->where, strerror(-rc));
        return rc ? -1 : 0;
    }
    const char *colon = listen && !strncmp(listen, "tcp:", 4) ? strrchr(listen + 4, ':') : NULL;
    char host[128], port[8];
    if (!colon || (size_t)(colon - (listen + 4)) >= sizeof host || !colon[1] ||
        strlen(colon + 1) >= sizeof port) {
        snprintf(why, len, "bad listen address \"%s\" (tcp:HOST:PORT or unix:/path)",
                 listen ? listen : "");
        return -1;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - (listen + 4)), listen + 4);
    snprintf(port, sizeof port, "%s", colon + 1);
    char bare[128];
    const char *h = probe_host(host);
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [::1] */
        snprintf(bare, sizeof bare, "%.*s", (int)(hl - 2), h + 1);
        h = bare;
    }
    snprintf(p->where, sizeof p->where, "%s:%s", h, port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    int grc = getaddrinfo(h, port, &hints, &ai);
    if (grc != 0) {
        snprintf(why, len, "cannot resolve %s: %s", p->where, gai_strerror(grc));
        return -1;
    }
    p->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int rc = p->fd < 0 ? -errno : connect_within(p, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0)
        snprintf(why, len, "cannot connect to %s: %s", p->where, strerror(-rc));
    return rc ? -1 : 0;
}

static const char *ssl_why(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();

    if (!e)
        return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno);
    ERR_error_string_n(e, buf, len);
    return buf;
}

static int start_tls(probe_t *p, char *why, size_t len)
{
    char e[200];

    p->ctx = SSL_CTX_new(TLS_client_method());
    if (p->ctx) {
        SSL_CTX_set_verify(p->ctx, SSL_VERIFY_NONE, NULL); /* the local process: see probe.h */
        p->ssl = SSL_new(p->ctx);
    }
    if (!p->ssl || SSL_set_fd(p->ssl, p->fd) != 1 || SSL_connect(p->ssl) != 1) {
        snprintf(why, len, "TLS handshake with %s failed: %s", p->where, ssl_why(e, sizeof e));
        return -1;
    }
    return 0;
}

static ssize_t io(probe_t *p, bool wr, void *buf, size_t len)
{
    int rc = bound_io(p);

    if (rc != 0) {
        errno = -rc == ETIMEDOUT ? EAGAIN : -rc;
        return -1;
    }
    if (p->ssl) {
        int n = wr ? SSL_write(p->ssl, buf, (int)len) : SSL_read(p->ssl, buf, (int)len);
        if (n > 0)
            return n;
        int e = SSL_get_error(p->ssl, n);
        return e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0) ? 0 : -1;
    }
    ssize_t n;
    do
        n = wr ? write(p->fd, buf, len) : read(p->fd, buf, len);
    while (n < 0 && errno == EINTR);
    return n;
}

/* True when ans (len bytes) holds the headers and the whole body they announce. */
static bool answer_complete(const char *ans, size_t len)
{
    const char *end = memmem(ans, len, "\r\n\r\n", 4);
    const char *cl;

    if (!end)
        return false;
    for (cl = ans; cl && cl < end; cl = memchr(cl, '\n', (size_t)(end - cl))) {
        cl += *cl == '\n';
        if (!strncasecmp(cl, "content-length:", 15))
            return len - (size_t)(end + 4 - ans) >= strtoul(cl + 15, NULL, 10);
    }
    return false; /* no length: until the server closes */
}

/* Sends the request and reads the answer into ans. Its length, or -1 with a reason in why. */
static ssize_t exchange(probe_t *p, char *ans, size_t cap, char *why, size_t len)
{
    char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    size_t got = 0;

    if (io(p, true, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        snprintf(why, len, "cannot send the request to %s: %s", p->where,
                 errno ? strerror(errno) : "connection closed");
        return -1;
    }
    while (got < cap - 1 && !answer_complete(ans, got)) {
        errno = 0;
        ssize_t n = left_ms(p) > 0 ? io(p, false, ans + got, cap - 1 - got) : -1;
        if (n == 0)
            break; /* the server closed: the answer is what came */
        if (n < 0) {
            snprintf(why, len, "no answer from %s within the probe's time: %s", p->where,
                     !errno || errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                                       : strerror(errno));
            return -1;
        }
        got += (size_t)n;
        ans[got] = '\0';
    }
    ans[got] = '\0';
    return (ssize_t)got;
}

int probe_run(const char *listen, bool tls, int timeout_ms, FILE *out, FILE *err)
{
    probe_t p = {.fd = -1, .deadline = cg_now_ms() + timeout_ms};
    char why[320] = "", ans[PROBE_MAX_ANSWER + 1];
    int status = 0, rc = 1;
    ssize_t n = -1;

    ans[0] = '\0';
    if (open_conn(&p, listen, why, sizeof why) == 0 &&
        (!tls || start_tls(&p, why, sizeof why) == 0))
        n = exchange(&p, ans, sizeof ans, why, sizeof why);
    if (n >= 0) {
        const char *body = strstr(ans, "\r\n\r\n");
        body = body ? body + 4 : "";
        if (sscanf(ans, "HTTP/1.%*1[01] %3d", &status) != 1)
            snprintf(why, sizeof why, "%s did not answer HTTP%s", p.where,
                     tls ? "" : " (does it speak TLS? then set EXECUTOR_TLS_CERT_FILE here too)");
        else if (status != 200)
            snprintf(why, sizeof why, "unhealthy: HTTP %d %.*s", status, (int)strcspn(body, "\r\n"),
                     body);
        else {
            fprintf(out, "%.*s\n", (int)strcspn(body, "\r\n"), body);
            rc = 0;
        }
    }
    if (rc != 0)
        fprintf(err, "executor probe: %s\n", why[0] ? why : "failed");
    if (p.ssl)
        SSL_free(p.ssl);
    SSL_CTX_free(p.ctx);
    ERR_clear_error();
    if (p.fd >= 0)
        close(p.fd);
    return rc;
}
