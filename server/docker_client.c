/*
 * docker_client.c - the Engine API transport: libcurl over the daemon's unix socket.
 *
 * Theory of operation
 * -------------------
 * Every call builds a URL (docker_client_url), makes a fresh curl easy handle, performs one
 * request and frees the handle: the client object is read-only, so threads never share curl
 * state. CURLOPT_NOSIGNAL keeps libcurl away from signals (we are multi-threaded), and curl's
 * global init runs once under pthread_once before the first handle.
 *
 * Answers are collected in a bounded buffer (DOCKER_MAX_BODY). Streaming answers (build, events)
 * go through docker_stream_lines_t instead when the status is 2xx: each complete line is handed
 * to a parser while the transfer runs, so a long build reports progress as it happens and memory
 * stays bounded. A non-2xx answer of a streaming call is an ordinary {"message"} body.
 *
 * A line callback that returns non-zero stops the transfer (the write callback returns 0, curl
 * fails with CURLE_WRITE_ERROR, and perform() turns that back into the callback's value: > 0 is
 * a clean stop, < 0 an error). The stop flag is polled by curl's transfer-info callback, which
 * curl calls at least once a second even while no data flows.
 *
 * URLs: values are escaped with curl_easy_escape() and the URL is handed to curl whole. Setting
 * the query through curl_url_set(CURLUPART_QUERY) would re-encode it: libcurl 7.88 lowercases
 * the hex of every escape there ("%7B" -> "%7b") and, with CURLU_URLENCODE, turns spaces into
 * '+' - the daemon would read the same values, but the requests would no longer be the bytes
 * they were (and that the tests pin).
 */
#include "docker_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cg_util.h"

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_BASE_URL "http://localhost/v" DOCKER_API_VERSION
#define DOCKER_CONNECT_TIMEOUT_MS 5000L

struct docker_client {
    char socket[108]; /* sun_path */
    long timeout_ms;
};

/* A bounded answer buffer. */
typedef struct {
    cg_buf_t b;
    bool overflow;
} buf_t;

/* One request in flight: the call, and what perform() stores back. */
typedef struct {
    const docker_call_t *call;
    const char *url;
    CURL *curl;
    long status;
    buf_t resp;
    int cb_rc;
} req_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

static int buf_append(buf_t *b, const char *p, size_t n)
{
    if (b->b.len + n + 1 > DOCKER_MAX_BODY) {
        b->overflow = true;
        return DOCKER_ETOOBIG;
    }
    return cg_buf_append(&b->b, p, n) == 0 ? 0 : DOCKER_ENOMEM;
}

/* ---- names and URLs ---- */

bool docker_client_ref_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 255)
        return false;
    for (const char *p = s; *p; p++) {
        bool alnum = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= 'A' && *p <= 'Z'); /* ASCII only, whatever the locale */
        if (!alnum && !strchr("_.:/@-", *p))
            return false;
    }
    return true;
}

int docker_client_path(char *out, size_t outlen, const char *fmt, const char *ref,
                       docker_err_t *err)
{
    if (!docker_client_ref_ok(ref))
        return docker_error_set(err, DOCKER_EINVAL, "invalid name or id: '%.200s'", ref);
    if ((size_t)snprintf(out, outlen, fmt, ref) >= outlen)
        return docker_error_set(err, DOCKER_EINVAL, "%s", "name too long");
    return 0;
}

char *docker_client_url(const char *path, const docker_kv_t *query)
{
    char *url = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&url, &len);
    if (!f)
        return NULL;
    bool ok = fputs(DOCKER_BASE_URL, f) >= 0 && fputs(path, f) >= 0;
    char sep = '?';
    for (const docker_kv_t *q = query; ok && q && q->key; q++) {
        if (!q->value)
            continue;
        char *v = curl_easy_escape(NULL, q->value, 0); /* the handle is unused since 7.82 */
        ok = v && fprintf(f, "%c%s=%s", sep, q->key, v) >= 0;
        curl_free(v);
        sep = '&';
    }
    if (fclose(f) != 0 || !ok) {
        free(url);
        return NULL;
    }
    return url;
}

/* ---- client ---- */

docker_client_t *docker_client_new(const char *socket_path, long default_timeout_ms)
{
    if (!socket_path || !*socket_path)
        socket_path = DOCKER_DEFAULT_SOCKET;
    if (strlen(socket_path) >= sizeof((docker_client_t *)0)->socket)
        return NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return NULL;
    docker_client_t *dc = calloc(1, sizeof *dc);
    if (!dc)
        return NULL;
    snprintf(dc->socket, sizeof dc->socket, "%s", socket_path);
    dc->timeout_ms = default_timeout_ms > 0 ? default_timeout_ms : 30000;
    return dc;
}

void docker_client_free(docker_client_t *dc)
{
    free(dc);
}

const char *docker_client_socket(const docker_client_t *dc)
{
    return dc->socket;
}

/* ---- one request ---- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    req_t *r = userdata;
    size_t n = size * nmemb;
    if (r->call->lines) {
        if (!r->status)
            curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
        if (r->status >= 200 && r->status < 300) {
            int rc = docker_stream_lines_feed(r->call->lines, ptr, n);
            if (rc) {
                r->cb_rc = rc;
                return 0;
            }
            return n;
        }
    }
    return buf_append(&r->resp, ptr, n) == 0 ? n : 0;
}

static int on_xferinfo(void *p, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    (void)dlt, (void)dln, (void)ult, (void)uln;
    const req_t *r = p;
    return r->call->stop && atomic_load(r->call->stop) ? 1 : 0;
}

static int map_curl(docker_client_t *dc, req_t *r, CURLcode cc, const char *ebuf, docker_err_t *err)
{
    const char *detail = *ebuf ? ebuf : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_OK:
        return 0;
    case CURLE_WRITE_ERROR:
        if (r->cb_rc)
            return r->cb_rc > 0 ? 0
                                : docker_error_set(err, r->cb_rc, "%s", docker_error_str(r->cb_rc));
        if (r->resp.overflow)
            return docker_error_set(err, DOCKER_ETOOBIG, "%s",
                                    "answer larger than DOCKER_MAX_BODY");
        return docker_error_set(err, DOCKER_ENOMEM, "%s", detail);
    case CURLE_ABORTED_BY_CALLBACK:
        return docker_error_set(err, DOCKER_ECANCELED, "%s", "stopped");
    case CURLE_COULDNT_CONNECT:
        if (err)
            snprintf(err->msg, sizeof err->msg, "cannot connect to %s: %s", dc->socket, detail);
        return DOCKER_ECONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return docker_error_set(err, DOCKER_ETIMEDOUT, "%s", detail);
    case CURLE_OUT_OF_MEMORY:
        return docker_error_set(err, DOCKER_ENOMEM, "%s", detail);
    default:
        return docker_error_set(err, DOCKER_ETRANSPORT, "%s", detail);
    }
}

/* Adds a header line to *hdrs. */
static bool add_header(struct curl_slist **hdrs, const char *line)
{
    struct curl_slist *h = curl_slist_append(*hdrs, line);
    if (h)
        *hdrs = h;
    return h != NULL;
}

/* Performs r. Returns 0 when an HTTP answer arrived (status in r->status, body in r->resp
 * unless streamed), or a transport error. */
static int perform(docker_client_t *dc, req_t *r, docker_err_t *err)
{
    const docker_call_t *call = r->call;
    char ebuf[CURL_ERROR_SIZE] = "", ct[128];
    struct curl_slist *hdrs = NULL;
    int rc;
    CURL *c = r->curl = curl_easy_init();
    if (!c)
        return docker_error_set(err, DOCKER_ENOMEM, "%s", "curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, dc->socket);
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_TIMEOUT_MS);
    long t = call->timeout_ms ? call->timeout_ms : dc->timeout_ms;
    if (t > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t);
    if (strcmp(call->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body ? call->body : "");
        /* No "Expect: 100-continue" round trip for large build contexts. */
        if (!add_header(&hdrs, "Expect:")) {
            rc = docker_error_set(err, DOCKER_ENOMEM, "%s", "out of memory");
            goto fail;
        }
    } else if (strcmp(call->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->method);
    }
    if (call->ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", call->ctype);
        if (!add_header(&hdrs, ct)) {
            rc = docker_error_set(err, DOCKER_ENOMEM, "%s", "out of memory");
            goto fail;
        }
    }
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (call->stop) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (err)
        err->http_status = r->status;
    rc = map_curl(dc, r, cc, ebuf, err);
fail:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    r->curl = NULL;
    return rc;
}

int docker_client_call(docker_client_t *dc, const docker_call_t *call, docker_body_t *resp,
                       docker_err_t *err)
{
    req_t r = {.call = call};
    if (resp)
        *resp = (docker_body_t){0};
    char *url = docker_client_url(call->path, call->query);
    if (!url)
        return docker_error_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    r.url = url;
    int rc = perform(dc, &r, err);
    if (rc == 0 && (rc = docker_error_from_status(r.status)) != 0)
        docker_error_from_body(err, r.status, r.resp.b.data, r.resp.b.len);
    if (rc == 0 && resp) {
        if (!r.resp.b.data && buf_append(&r.resp, "", 0) != 0) /* always a string */
            rc = docker_error_set(err, DOCKER_ENOMEM, "%s", "out of memory");
        resp->data = r.resp.b.data;
        resp->len = r.resp.b.len;
        r.resp.b.data = NULL;
    }
    cg_buf_free(&r.resp.b);
    free(url);
    return rc;
}

int docker_client_post_json(docker_client_t *dc, const char *path, const docker_kv_t *query,
                            const cJSON *body, docker_body_t *resp, docker_err_t *err)
{
    char *text = cJSON_PrintUnformatted(body);
    if (!text)
        return docker_error_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    const docker_call_t call = {.method = "POST",
                                .path = path,
                                .query = query,
                                .ctype = "application/json",
                                .body = text,
                                .body_len = strlen(text)};
    int rc = docker_client_call(dc, &call, resp, err);
    free(text);
    return rc;
}

int docker_client_get_filtered(docker_client_t *dc, const char *path, bool all,
                               const docker_kv_t *filters, docker_body_t *resp, docker_err_t *err)
{
    char *f = filters && filters->key ? docker_json_filters(filters) : NULL;
    if (filters && filters->key && !f)
        return docker_error_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    const docker_kv_t query[] = {{"all", all ? "1" : NULL}, {"filters", f}, {NULL, NULL}};
    const docker_call_t call = {.method = "GET", .path = path, .query = query};
    int rc = docker_client_call(dc, &call, resp, err);
    free(f);
    return rc;
}
