/*
 * frontdoor.c - connection limits, deadlines, early checks and JSON errors in front of ulfius
 * (see frontdoor.h for the theory of operation).
 */
#include "frontdoor.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cg_util.h"
#include "gate.h"
#include "log.h"
#include "metrics.h"
#include "protocol.h"
#include "response.h"

/* Idle keep-alive connections: MHD closes them silently after this long without a byte. */
#define FD_IDLE_S 120
#define FD_WATCH_MS 200
#define IP_BUCKETS 4096
/* Handler threads parse nested JSON recursively (cJSON stops at 1000 levels): 256 KiB holds
 * that with room to spare; sanitizer builds have much larger frames. */
#if defined(__SANITIZE_ADDRESS__)
#define FD_STACK_BYTES (2u * 1024u * 1024u)
#else
#define FD_STACK_BYTES (256u * 1024u)
#endif
/* Descriptors kept for everything but HTTP clients (executors, Docker, logs, files). */
#define FD_RESERVED 512

typedef enum { PH_HEAD, PH_BODY, PH_HANDLER, PH_IDLE, PH_DEAD } phase_t;

typedef struct ipcount {
    struct ipcount *next;
    unsigned char addr[16];
    int n;
} ipcount_t;

typedef struct conn {
    struct conn *prev, *next;
    int fd;
    phase_t phase;
    int64_t deadline; /* ms (cg_now_ms), 0 = none */
    bool rejected;    /* this request was answered by the front door */
    uint64_t body;    /* body bytes seen */
    ipcount_t *ip;    /* NULL when the address is exempt from the cap */
} conn_t;

static struct {
    pthread_mutex_t mu;
    const config_t *cfg;
    apikeys_t *keys;
    MHD_AccessHandlerCallback inner;
    void *inner_cls;
    atomic_bool wrapped;
    bool loopback_bind;
    conn_t *conns;
    int nconns;
    ipcount_t *ips[IP_BUCKETS];
    pthread_t watchdog;
    bool watchdog_up;
    atomic_bool stop;
} fd = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The answer this thread is building (see frontdoor_note_error). */
static __thread const char *tl_code;
static __thread char tl_cause[200];
/* An HTML error page MHD just created, and which one it is. */
static __thread struct MHD_Response *tl_page;
/* The client socket of the request this thread's handler is serving (thread per connection:
 * MHD closes it only after the handler has returned, in this same thread), or -1. */
static __thread int tl_client_fd = -1;

/* ---- the libraries' own functions ---- */

typedef enum MHD_Result (*queue_fn)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
typedef struct MHD_Response *(*buffer_fn)(size_t, void *, enum MHD_ResponseMemoryMode);

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);

    if (!f) {
        log_msg(LOG_ERROR, "frontdoor: %s not found in libmicrohttpd", name);
        abort();
    }
    return f;
}

/* ---- per-address connection counts (under fd.mu) ---- */

static void addr_key(const struct sockaddr *sa, unsigned char out[16])
{
    memset(out, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        out[10] = out[11] = 0xff; /* as ::ffff:a.b.c.d, so both families share one table */
        memcpy(out + 12, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
}

static unsigned addr_hash(const unsigned char a[16])
{
    unsigned h = 2166136261u;

    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 16777619u;
    return h % IP_BUCKETS;
}

static ipcount_t *ip_find(const unsigned char a[16], bool create)
{
    unsigned b = addr_hash(a);
    ipcount_t *e;

    for (e = fd.ips[b]; e; e = e->next)
        if (!memcmp(e->addr, a, 16))
            return e;
    if (!create || !(e = calloc(1, sizeof *e)))
        return NULL;
    memcpy(e->addr, a, 16);
    e->next = fd.ips[b];
    fd.ips[b] = e;
    return e;
}

static void ip_drop(ipcount_t *e)
{
    unsigned b;

    if (!e || --e->n > 0)
        return;
    b = addr_hash(e->addr);
    for (ipcount_t **p = &fd.ips[b]; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            free(e);
            return;
        }
}

static bool capped(const struct sockaddr *sa)
{
    return fd.cfg->max_conns_per_ip > 0 && (fd.cfg->per_ip_loopback || !gate_addr_is_loopback(sa));
}

/* MHD accept policy: refuses an address that already holds its share of connections. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
    unsigned char a[16];
    bool ok = true;

    (void)cls;
    (void)len;
    if (!capped(sa))
        return MHD_YES;
    addr_key(sa, a);
    pthread_mutex_lock(&fd.mu);
    ipcount_t *e = ip_find(a, false);
    if (e && e->n >= fd.cfg->max_conns_per_ip)
        ok = false;
    pthread_mutex_unlock(&fd.mu);
    if (!ok)
        metrics_connection_closed("per_ip");
    return ok ? MHD_YES : MHD_NO;
}

/* ---- connection records ---- */

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    conn_t *c = *socket_context;

    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!fi || !(c = calloc(1, sizeof *c)))
            return;
        c->fd = fi->connect_fd;
        c->phase = PH_HEAD;
        c->deadline = cg_now_ms() + fd.cfg->header_timeout_ms;
        pthread_mutex_lock(&fd.mu);
        if (ai && ai->client_addr && capped(ai->client_addr)) {
            unsigned char a[16];
            addr_key(ai->client_addr, a);
            if ((c->ip = ip_find(a, true)) != NULL)
                c->ip->n++;
        }
        c->next = fd.conns;
        if (fd.conns)
            fd.conns->prev = c;
        fd.conns = c;
        fd.nconns++;
        pthread_mutex_unlock(&fd.mu);
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    pthread_mutex_lock(&fd.mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        fd.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    fd.nconns--;
    ip_drop(c->ip);
    pthread_mutex_unlock(&fd.mu);
    free(c);
    *socket_context = NULL;
}

static conn_t *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return i ? i->socket_context : NULL;
}

int frontdoor_connections(void)
{
    int n;

    pthread_mutex_lock(&fd.mu);
    n = fd.nconns;
    pthread_mutex_unlock(&fd.mu);
    return n;
}

/* MHD's URI logger runs when a request line has arrived: the start of a request. ulfius needs
 * its own logger's result as the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    conn_t *c = conn_of(mc);

    if (c) {
        pthread_mutex_lock(&fd.mu);
        if (c->phase == PH_IDLE) {
            c->phase = PH_HEAD;
            c->deadline = cg_now_ms() + fd.cfg->header_timeout_ms;
        }
        c->rejected = false;
        c->body = 0;
        pthread_mutex_unlock(&fd.mu);
    }
    return ulfius_uri_logger(cls, uri);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_t *c = conn_of(mc);

    mhd_request_completed(cls, mc, con_cls, toe);
    if (!c)
        return;
    pthread_mutex_lock(&fd.mu);
    if (c->phase != PH_DEAD) {
        /* Idle keep-alive: MHD closes it after FD_IDLE_S without a byte; a client trickling
         * its next request line gets the 408 at FD_IDLE_S + the header deadline. */
        c->phase = PH_IDLE;
        c->deadline = cg_now_ms() + FD_IDLE_S * 1000 + fd.cfg->header_timeout_ms;
    }
    pthread_mutex_unlock(&fd.mu);
}

/* ---- the watchdog ---- */

/* Writes a whole JSON error answer to the socket itself and shuts the socket down. For a
 * connection on which MHD has sent nothing for the current request. Never blocks. */
static void raw_answer(int sock, const char *status_line, const char *code, const char *msg)
{
    char out[768];
    char *j = response_error(code, msg, NULL);
    int n;

    n = snprintf(out, sizeof out,
                 "HTTP/1.1 %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                 "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                 status_line, j ? strlen(j) : 0, j ? j : "");
    free(j);
    /* Best effort: a client that does not read gets nothing; the watchdog never waits. */
    if (n > 0 && (size_t)n < sizeof out)
        (void)!send(sock, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(sock, SHUT_RDWR);
}

static void send_408(int sock, bool body)
{
    char msg[128];

    snprintf(msg, sizeof msg, "the request %s did not arrive within %d ms",
             body ? "body" : "headers", body ? fd.cfg->body_timeout_ms : fd.cfg->header_timeout_ms);
    raw_answer(sock, "408 Request Timeout", "request_timeout", msg);
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&fd.stop)) {
        int64_t now = cg_now_ms();
        pthread_mutex_lock(&fd.mu);
        for (conn_t *c = fd.conns; c; c = c->next) {
            if (!c->deadline || now < c->deadline)
                continue;
            if (c->phase == PH_HEAD || c->phase == PH_BODY || c->phase == PH_IDLE) {
                send_408(c->fd, c->phase == PH_BODY);
                metrics_connection_closed("request_timeout");
                metrics_response(408, "request_timeout");
            }
            c->phase = PH_DEAD;
            c->deadline = 0;
        }
        pthread_mutex_unlock(&fd.mu);
        usleep(FD_WATCH_MS * 1000);
    }
    return NULL;
}

/* ---- answers ---- */

void frontdoor_note_error(const char *code, const char *message)
{
    tl_code = code;
    snprintf(tl_cause, sizeof tl_cause, "%s", message ? message : "");
}

static void add_cors(struct MHD_Connection *mc, struct MHD_Response *r)
{
    const char *origin = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Host");
    const char *allow = gate_cors_origin(fd.cfg->cors_origins, origin, host, fd.loopback_bind);

    if (!allow || strcmp(allow, "*") != 0)
        MHD_add_response_header(r, "Vary", "Origin");
    if (allow) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", allow);
        MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                "Retry-After, RateLimit-Limit, RateLimit-Remaining, "
                                "RateLimit-Reset");
    }
}

/* Queues a JSON error answer; extra headers as name, value pairs ending with NULL. */
static enum MHD_Result answer(struct MHD_Connection *mc, unsigned status, const char *code,
                              const char *message, const char *const *extra)
{
    char *body = response_error(code, message, NULL);
    struct MHD_Response *r;
    enum MHD_Result rc;

    if (!body)
        return MHD_NO;
    r = MHD_create_response_from_buffer_with_free_callback(strlen(body), body, free);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    add_cors(mc, r);
    for (int i = 0; extra && extra[i]; i += 2)
        MHD_add_response_header(r, extra[i], extra[i + 1]);
    frontdoor_note_error(code, message);
    rc = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Error code and message of an MHD HTML page for a status. */
static void page_error(unsigned status, const char **code, const char **msg)
{
    switch (status) {
    case 413:
        *code = "payload_too_large";
        *msg = "the request body (or one chunk of it) is too large";
        break;
    case 414:
        *code = "uri_too_long";
        *msg = "the request line is too long";
        break;
    case 431:
        *code = "headers_too_large";
        *msg = "the request headers are too large";
        break;
    case 505:
        *code = "http_version_not_supported";
        *msg = "only HTTP/1.0 and HTTP/1.1 are supported";
        break;
    case 500:
        *code = "internal_error";
        *msg = "the HTTP server failed to answer";
        break;
    default:
        *code = "bad_request";
        *msg = "the request is not valid HTTP (request line, headers, Content-Length or "
               "chunked encoding)";
    }
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
    static buffer_fn next;
    struct MHD_Response *r;

    if (!next)
        next = (buffer_fn)real("MHD_create_response_from_buffer");
    r = next(size, buffer, mode);
    /* Only MHD's own error pages come this way (ulfius and the gateway use other calls). */
    if (r && buffer && size > 19 && !strncmp(buffer, "<html><head><title>", 19))
        tl_page = r;
    return r;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *mc, unsigned int status,
                                   struct MHD_Response *r)
{
    static queue_fn next;
    const char *code = tl_code, *msg = tl_cause;
    struct MHD_Response *json = NULL;
    enum MHD_Result rc;

    if (!next)
        next = (queue_fn)real("MHD_queue_response");
    if (r && r == tl_page) {
        char *body;
        page_error(status, &code, &msg);
        body = response_error(code, msg, NULL);
        if (body &&
            (json = MHD_create_response_from_buffer_with_free_callback(strlen(body), body, free))) {
            MHD_add_response_header(json, "Content-Type", "application/json; charset=utf-8");
            MHD_add_response_header(json, "Cache-Control", "no-store");
            MHD_add_response_header(json, "Connection", "close");
            r = json;
        } else {
            free(body);
        }
    }
    tl_page = NULL;
    metrics_response((int)status, code);
    if (status >= 500)
        log_msg(LOG_WARN, "answered %u %s: %s", status, code ? code : "(no code)",
                msg[0] ? msg : "(no cause given)");
    tl_code = NULL;
    tl_cause[0] = '\0';
    rc = next(mc, status, r);
    if (json)
        MHD_destroy_response(json);
    return rc;
}

/* ---- checks of the request head ---- */

typedef struct {
    const char *cl[4];
    int ncl;
    bool te;
} head_t;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    head_t *h = cls;

    (void)kind;
    if (!strcasecmp(key, "Content-Length")) {
        if (h->ncl < 4)
            h->cl[h->ncl] = value ? value : "";
        h->ncl++;
    } else if (!strcasecmp(key, "Transfer-Encoding")) {
        h->te = true;
    }
    return MHD_YES;
}

const apikey_t *frontdoor_request_key(apikeys_t *keys, const char *authorization)
{
    return apikeys_authenticate(keys, apikeys_bearer(authorization));
}

/* A browser request from a page whose origin may not use the API (see gate_cors_origin):
 * refused before it runs anything, whatever the browser does with CORS. */
static bool refuse_origin(struct MHD_Connection *mc, const char *host, enum MHD_Result *rc)
{
    const char *origin = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Origin");
    char msg[200];

    if (!origin || gate_cors_origin(fd.cfg->cors_origins, origin, host, fd.loopback_bind))
        return false;
    snprintf(msg, sizeof msg, "pages from %.80s may not use this gateway (see --cors-origins)",
             origin);
    *rc = answer(mc, 403, "origin_not_allowed", msg, NULL);
    return true;
}

/* The requests that run code or reach its results: POST /api/code/execute and every
 * request of the asynchronous API (/api/submissions..., /api/admin/...) but the CORS
 * preflight. They get the Origin check, the API key and its per-minute quota. */
static bool keyed_request(const char *method, const char *url)
{
    if (!strcmp(method, "POST") && !strcmp(url, "/api/code/execute"))
        return true;
    if (!strcmp(method, "OPTIONS"))
        return false;
    return !strcmp(url, "/api/submissions") || !strncmp(url, "/api/submissions/", 17) ||
           !strncmp(url, "/api/admin/", 11);
}

/* Rejects with an answer (returns true) or lets the request through (false). */
static bool reject_head(struct MHD_Connection *mc, const char *url, const char *method,
                        enum MHD_Result *rc)
{
    const char *host = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Host");
    head_t h = {0};
    uint64_t len;
    char msg[200];

    if (!gate_host_allowed(host, fd.cfg->allowed_hosts, fd.loopback_bind)) {
        snprintf(msg, sizeof msg,
                 "Host \"%.60s\" is not served here (this gateway answers to localhost and "
                 "127.0.0.1; see --allowed-hosts)",
                 host);
        *rc = answer(mc, 403, "host_not_allowed", msg, NULL);
        return true;
    }
    MHD_get_connection_values(mc, MHD_HEADER_KIND, collect, &h);
    if (gate_content_length(h.cl, h.ncl > 4 ? 4 : h.ncl, h.te, &len) != 0 || h.ncl > 4) {
        *rc = answer(mc, 400, "bad_request",
                     "ambiguous body length: more than one Content-Length, or Content-Length "
                     "with Transfer-Encoding",
                     NULL);
        return true;
    }
    if (!strcmp(method, "GET") && !strcmp(url, "/api/code/session") && refuse_origin(mc, host, rc))
        return true; /* a WebSocket is not subject to CORS: a foreign page could open one */
    if (!keyed_request(method, url))
        return false;
    if (refuse_origin(mc, host, rc))
        return true;
    if (apikeys_enabled(fd.keys)) {
        const char *auth = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
        const apikey_t *k = frontdoor_request_key(fd.keys, auth);
        apikey_quota_t q;
        if (!k) {
            static const char *const hdr[] = {"WWW-Authenticate", "Bearer", NULL};
            apikeys_count_refused(fd.keys);
            *rc = answer(mc, 401, "unauthorized",
                         auth ? "the API key is not valid"
                              : "an API key is required: Authorization: Bearer <key>",
                         hdr);
            return true;
        }
        if (apikeys_take_request(fd.keys, k, &q) != 0) {
            char ra[16], lim[16], rem[16], rst[16];
            snprintf(ra, sizeof ra, "%d", q.retry_after);
            snprintf(lim, sizeof lim, "%d", q.limit);
            snprintf(rem, sizeof rem, "%d", q.remaining);
            snprintf(rst, sizeof rst, "%d", q.reset_s);
            const char *const hdr[] = {"Retry-After",
                                       ra,
                                       "RateLimit-Limit",
                                       lim,
                                       "RateLimit-Remaining",
                                       rem,
                                       "RateLimit-Reset",
                                       rst,
                                       NULL};
            snprintf(msg, sizeof msg, "API key %s: more than %d requests per minute",
                     apikey_name(k), q.limit);
            *rc = answer(mc, 429, "rate_limited", msg, hdr);
            return true;
        }
    }
    if (!strcmp(method, "POST") && (len != 0 || !strcmp(url, "/api/code/execute")) &&
        !gate_is_json(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type"))) {
        *rc = answer(mc, 415, "unsupported_media_type",
                     "the request body must be JSON: send Content-Type: application/json", NULL);
        return true;
    }
    if (len != UINT64_MAX && len > CG_MAX_BODY_BYTES) {
        snprintf(msg, sizeof msg, "the request body exceeds %u bytes", CG_MAX_BODY_BYTES);
        *rc = answer(mc, 413, "payload_too_large", msg, NULL);
        return true;
    }
    return false;
}

/* The access handler MHD calls: front-door checks, then ulfius. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *mc, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    conn_t *c = conn_of(mc);
    enum MHD_Result rc = MHD_YES;
    bool first = false, over = false;

    (void)cls;
    if (c) {
        pthread_mutex_lock(&fd.mu);
        if (c->rejected || c->phase == PH_DEAD) {
            /* Answered already (by the checks, or with a 408 by the watchdog): do not read
             * what else the client sends, and never run the request. */
            pthread_mutex_unlock(&fd.mu);
            return MHD_NO;
        }
        if (c->phase == PH_HEAD || c->phase == PH_IDLE) {
            first = true;
            c->phase = PH_BODY;
            c->deadline = cg_now_ms() + fd.cfg->body_timeout_ms;
        } else if (*upload_data_size > 0) {
            c->body += *upload_data_size;
            over = c->body > CG_MAX_BODY_BYTES;
        } else if (c->phase == PH_BODY) {
            c->phase = PH_HANDLER;
            c->deadline = 0;
        }
        pthread_mutex_unlock(&fd.mu);
    }
    if ((first && reject_head(mc, url, method, &rc)) || over) {
        if (over) {
            /* MHD cannot queue an answer in the middle of a body: write it ourselves and stop
             * reading (MHD closes the connection). */
            char msg[96];
            snprintf(msg, sizeof msg, "the request body exceeds %u bytes", CG_MAX_BODY_BYTES);
            if (c)
                raw_answer(c->fd, "413 Content Too Large", "payload_too_large", msg);
            metrics_response(413, "payload_too_large");
            rc = MHD_NO;
        }
        if (c) {
            pthread_mutex_lock(&fd.mu);
            c->rejected = true;
            c->phase = PH_HANDLER;
            c->deadline = 0;
            pthread_mutex_unlock(&fd.mu);
        }
        return rc;
    }
    tl_client_fd = c ? c->fd : -1;
    rc = fd.inner(fd.inner_cls, mc, url, method, version, upload_data, upload_data_size, con_cls);
    tl_client_fd = -1;
    return rc;
}

bool frontdoor_client_gone(void)
{
    struct pollfd p = {.fd = tl_client_fd, .events = POLLRDHUP};

    if (tl_client_fd < 0)
        return false;
    /* POLLRDHUP: the client shut its side (closed the socket, or a browser's aborted fetch);
     * POLLHUP/POLLERR: reset. Bytes of a pipelined next request are only POLLIN. */
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Called by ulfius (interposed, see frontdoor.h): the same daemon with the front door's access
 * handler around ulfius' and its accept policy. */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    struct MHD_Daemon *d;
    va_list ap;

    (void)apc;
    (void)apc_cls;
    fd.inner = dh;
    fd.inner_cls = dh_cls;
    atomic_store(&fd.wrapped, true);
    va_start(ap, dh_cls);
    d = MHD_start_daemon_va(flags, port, on_accept, NULL, on_access, NULL, ap);
    va_end(ap);
    return d;
}

/* libmicrohttpd's own messages (a thread it could not create, a socket error, a malformed
 * request) as JSON log lines, at most FD_MHD_LOG_PER_S a second: a flood of bad requests must
 * not flood the log. The number left out is logged with the next line that passes. */
#define FD_MHD_LOG_PER_S 5

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static int64_t second;
    static int used;
    static unsigned long dropped;
    char msg[300];
    unsigned long skipped = 0;
    bool pass;
    int64_t now = cg_now_ms() / 1000;

    (void)cls;
    pthread_mutex_lock(&mu);
    if (now != second) {
        second = now;
        used = 0;
    }
    pass = used < FD_MHD_LOG_PER_S;
    if (pass) {
        used++;
        skipped = dropped;
        dropped = 0;
    } else {
        dropped++;
    }
    pthread_mutex_unlock(&mu);
    if (!pass)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    /* A client's malformed request is the client's error; everything else (threads, sockets,
     * memory) is the gateway's. The HTML page it names was sent as JSON (see above). */
    log_level_t level = strncmp(msg, "Error processing request", 24) ? LOG_WARN : LOG_INFO;
    if (skipped)
        log_msg(level, "libmicrohttpd: %s (%lu earlier messages left out)", msg, skipped);
    else
        log_msg(level, "libmicrohttpd: %s", msg);
}

/* ---- life cycle ---- */

long frontdoor_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_msg(LOG_WARN, "cannot raise the open-files limit: %s", strerror(errno));
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long)rl.rlim_cur;
}

int frontdoor_start(struct _u_instance *inst, const config_t *cfg, apikeys_t *keys,
                    const struct sockaddr_in *addr)
{
    long nofile = frontdoor_raise_nofile();
    long limit = cfg->max_connections;

    fd.cfg = cfg;
    fd.keys = keys;
    fd.loopback_bind = gate_bind_is_loopback(cfg->bind);
    if (nofile > 0 && limit > nofile - FD_RESERVED) {
        long was = limit;
        limit = nofile - FD_RESERVED > 16 ? nofile - FD_RESERVED : 16;
        log_msg(LOG_WARN,
                "--max-connections %ld exceeds what the open-files limit (%ld) allows: using %ld",
                was, nofile, limit);
    }
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL}, /* first, or MHD warns */
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, (void *)addr},
        {MHD_OPTION_CONNECTION_TIMEOUT, FD_IDLE_S, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)limit, NULL},
        {MHD_OPTION_THREAD_STACK_SIZE, (intptr_t)FD_STACK_BYTES, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* poll(), not select(): descriptors above FD_SETSIZE (1024) work. One thread per
     * connection: execute handlers block for the length of a run. MHD_USE_ITC for the drain. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE | MHD_USE_ITC;
    if (ulfius_start_framework_with_mhd_options(inst, flags, ops) != U_OK) {
        log_msg(LOG_ERROR, "cannot listen on %s:%d: %s", cfg->bind, cfg->port,
                errno ? strerror(errno) : "address in use?");
        return -1;
    }
    if (!atomic_load(&fd.wrapped)) {
        log_msg(LOG_ERROR, "frontdoor: MHD_start_daemon was not interposed (static link?)");
        ulfius_stop_framework(inst);
        return -1;
    }
    atomic_store(&fd.stop, false);
    if (pthread_create(&fd.watchdog, NULL, watchdog_main, NULL) != 0) {
        log_msg(LOG_ERROR, "frontdoor: cannot start the watchdog thread");
        ulfius_stop_framework(inst);
        return -1;
    }
    fd.watchdog_up = true;
    {
        cJSON *f = cJSON_CreateObject();
        if (f) {
            cJSON_AddNumberToObject(f, "openFilesLimit", (double)nofile);
            cJSON_AddNumberToObject(f, "maxConnections", (double)limit);
            cJSON_AddNumberToObject(f, "maxConnsPerIp", cfg->max_conns_per_ip);
            cJSON_AddNumberToObject(f, "threadStackKb", FD_STACK_BYTES / 1024);
        }
        log_event(LOG_INFO, "http_limits", f);
    }
    return 0;
}

void frontdoor_stop(void)
{
    if (!fd.watchdog_up)
        return;
    atomic_store(&fd.stop, true);
    pthread_join(fd.watchdog, NULL);
    fd.watchdog_up = false;
}
