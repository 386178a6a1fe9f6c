/*
 * http.c - the HTTP API (see http.h and README "API").
 *
 * Routing with ulfius: each path has its handler for the allowed methods at priority 0 and a
 * catch-all ("*" method) at priority 1 that answers 405 with an Allow header, or the CORS
 * preflight for OPTIONS. Unknown paths reach the default endpoint: 404. Every answer is JSON
 * and carries the CORS headers.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <ulfius.h>

#include "async.h"
#include "cg_util.h"
#include "lang.h"
#include "frontdoor.h"
#include "gate.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "response.h"
#include "sizing.h"
#include "version.h"

/* How often a waiting execute handler looks whether its client is still there. */
#define HTTP_CLIENT_CHECK_MS 250

struct http {
    const config_t *cfg;
    pool_t *pool;
    session_hub_t *hub;
    apikeys_t *keys;
    async_t *async;                 /* never NULL; answers 503 without --redis-url */
    _Atomic(const char *) progress; /* start-up step shown by /readyz until ready */
    char static_dir[PATH_MAX];
    const char *runtime_name;
    struct _u_instance inst;
    atomic_int inflight;
    atomic_bool draining;
};

typedef struct {
    const char *path;
    const char *allow; /* for 405 */
} route_t;

/* ---- helpers ---- */

static void set_cors(const http_t *h, const struct _u_request *req, struct _u_response *resp)
{
    const char *allow = gate_cors_origin(
        h->cfg->cors_origins, u_map_get_case(req->map_header, "Origin"),
        u_map_get_case(req->map_header, "Host"), gate_bind_is_loopback(h->cfg->bind));

    if (!allow || strcmp(allow, "*") != 0)
        u_map_put(resp->map_header, "Vary", "Origin");
    if (allow) {
        u_map_put(resp->map_header, "Access-Control-Allow-Origin", allow);
        u_map_put(resp->map_header, "Access-Control-Expose-Headers",
                  "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Location");
    }
}

/* A big answer leaves through MHD's content reader, SEND_BLOCK bytes at a time, from the body
 * itself: ulfius copies a binary_body whole before MHD sends it, which for megabytes of output
 * was another fresh mapping of the answer's size (page faults and a copy on every answer).
 * SEND_BLOCK stays under the mmap threshold (main.c tune_malloc), so MHD's block buffer comes
 * from the heap and is reused. Ownership: once ulfius_set_stream_response took it, the
 * body_stream_t and its body belong to the response; MHD calls body_read on the connection's
 * thread and body_free when it destroys the response. */
#define SEND_STREAM_MIN (64u * 1024u)
#define SEND_BLOCK (32u * 1024u)

typedef struct {
    char *body;
    size_t len;
} body_stream_t;

static ssize_t body_read(void *cls, uint64_t off, char *buf, size_t max)
{
    const body_stream_t *b = cls;
    size_t n;

    if (off >= b->len)
        return U_STREAM_END;
    n = b->len - (size_t)off < max ? b->len - (size_t)off : max;
    memcpy(buf, b->body + off, n);
    return (ssize_t)n;
}

static void body_free(void *cls)
{
    body_stream_t *b = cls;

    free(b->body);
    free(b);
}

static int send_json(const http_t *h, const struct _u_request *req, struct _u_response *resp,
                     int status, char *body)
{
    body_stream_t *b;
    size_t len;

    set_cors(h, req, resp);
    u_map_put(resp->map_header, "Content-Type", "application/json; charset=utf-8");
    u_map_put(resp->map_header, "Cache-Control", "no-store");
    if (!body) {
        static const char oom[] = "{\"success\":false,\"error\":{\"code\":\"internal_error\","
                                  "\"message\":\"out of memory\"}}";
        frontdoor_note_error("internal_error", "out of memory building the answer");
        ulfius_set_string_body_response(resp, 500, oom);
        return U_CALLBACK_COMPLETE;
    }
    len = strlen(body);
    if (len >= SEND_STREAM_MIN && (b = malloc(sizeof *b))) {
        b->body = body;
        b->len = len;
        if (ulfius_set_stream_response(resp, (unsigned)status, body_read, body_free, len,
                                       SEND_BLOCK, b) == U_OK)
            return U_CALLBACK_COMPLETE;
        free(b); /* then as a small body */
    }
    /* Hand body over instead of ulfius_set_string_body_response's copy. ulfius frees
     * binary_body with o_free (free: no allocator is set). */
    free(resp->binary_body);
    resp->binary_body = body;
    resp->binary_body_length = len;
    resp->status = (unsigned)status;
    return U_CALLBACK_COMPLETE;
}

static int send_error(const http_t *h, const struct _u_request *req, struct _u_response *resp,
                      int status, const char *code, const char *message, cJSON *details)
{
    frontdoor_note_error(code, message);
    return send_json(h, req, resp, status, response_error(code, message, details));
}

/* For an error answer built elsewhere (response_job): its code and message for the metrics
 * and the 5xx log line. */
static void note_body_error(const char *body)
{
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    static __thread char code_buf[32];

    if (cJSON_IsString(code)) {
        snprintf(code_buf, sizeof code_buf, "%s", code->valuestring);
        frontdoor_note_error(code_buf, cJSON_IsString(msg) ? msg->valuestring : "");
    }
    cJSON_Delete(root);
}

/* Metrics of one answered execute request. */
static void count_request(const char *outcome, const job_t *job, const char *language,
                          int64_t started_ms)
{
    int li = lang_index(language);

    metrics_request(li, outcome ? outcome : "unknown");
    metrics_observe(METRIC_H_TOTAL, li, cg_now_ms() - started_ms);
    if (!job)
        return;
    if (job->t_started)
        metrics_observe(METRIC_H_QUEUE, li, job->t_started - job->t_created);
    if (job->compile.present) {
        metrics_compile_cache(li, job->compile.cached);
        if (!job->compile.cached) /* a cache hit is no compile: it would only skew the times */
            metrics_observe(METRIC_H_COMPILE, li, job->compile.duration_ms);
    }
    for (int i = 0; i < job->nruns; i++)
        if (job->runs[i].present)
            metrics_observe(METRIC_H_RUN, li, job->runs[i].duration_ms);
}

static void log_request(const http_t *h, const struct _u_request *req, int status,
                        const char *outcome, const job_t *job, const char *language,
                        int64_t started_ms)
{
    cJSON *f;

    if (!strcmp(req->http_verb, "POST"))
        count_request(outcome, job, language, started_ms);
    if (!h->cfg->log_requests)
        return;
    f = cJSON_CreateObject();
    if (!f)
        return;
    if (job)
        cJSON_AddStringToObject(f, "id", job->id);
    cJSON_AddStringToObject(f, "method", req->http_verb);
    cJSON_AddStringToObject(f, "path", req->url_path ? req->url_path : "");
    cJSON_AddNumberToObject(f, "http", status);
    if (language)
        cJSON_AddStringToObject(f, "language", language);
    if (outcome)
        cJSON_AddStringToObject(f, "status", outcome);
    if (job && !job->fail_http) {
        for (int i = job->nruns - 1; i >= 0; i--)
            if (job->runs[i].present) {
                if (job->runs[i].exit_code >= 0)
                    cJSON_AddNumberToObject(f, "exitCode", job->runs[i].exit_code);
                break;
            }
    }
    if (job && job->budget_exceeded)
        cJSON_AddTrueToObject(f, "budgetExceeded");
    if (job && job->executor[0])
        cJSON_AddStringToObject(f, "executor", job->executor);
    if (job && job->t_started)
        cJSON_AddNumberToObject(f, "queueMs", (double)(job->t_started - job->t_created));
    cJSON_AddNumberToObject(f, "durationMs", (double)(cg_now_ms() - started_ms));
    log_event(LOG_INFO, "request", f);
}

/* ---- POST /api/code/execute ---- */

static int run_job(http_t *h, const struct _u_request *req, struct _u_response *resp, request_t *r,
                   int64_t t0)
{
    const char *language = r->language;
    int64_t budget = job_wait_budget_ms(r, h->cfg->queue_wait_ms, h->cfg->job_budget_ms);
    job_t *job = job_new(r, (size_t)h->cfg->output_limit_kb * 1024u, h->cfg->job_budget_ms);
    int rc, status;
    const char *outcome = NULL;
    char *body;

    if (!job) {
        log_request(h, req, 500, "internal_error", NULL, language, t0);
        return send_error(h, req, resp, 500, "internal_error", "out of memory", NULL);
    }
    rc = pool_submit(h->pool, job);
    if (rc == -EAGAIN) {
        u_map_put(resp->map_header, "Retry-After", "1");
        log_request(h, req, 503, "overloaded", job, language, t0);
        job_unref(job);
        return send_error(h, req, resp, 503, "overloaded",
                          "too many requests are waiting; try again shortly", NULL);
    }
    if (rc != 0) {
        log_request(h, req, 503, "shutting_down", job, language, t0);
        job_unref(job);
        return send_error(h, req, resp, 503, "shutting_down", "the gateway is shutting down", NULL);
    }
    int64_t deadline = cg_now_ms() + budget;
    bool done = false;
    /* In slices: a client that closed its connection (a Stop button aborting the fetch, a
     * killed curl) cannot be answered any more, and its program is stopped at once instead of
     * running to its limit while a slot and a class wait. */
    while (!done && cg_now_ms() < deadline) {
        int64_t until = cg_now_ms() + HTTP_CLIENT_CHECK_MS;
        done = job_wait(job, until < deadline ? until : deadline);
        if (!done && frontdoor_client_gone()) {
            pool_cancel(h->pool, job);
            (void)job_wait(job, deadline); /* the pool ends a cancelled job soon */
            log_request(h, req, 499, "client_closed_request", job, language, t0);
            job_unref(job);
            return send_error(h, req, resp, 499, "client_closed_request",
                              "the client closed the connection before the answer; the program "
                              "was stopped",
                              NULL);
        }
    }
    if (!done) {
        /* Should not happen: the pool finishes every job. Do not hang the client. */
        pool_cancel(h->pool, job);
        log_request(h, req, 503, "executor_unavailable", job, language, t0);
        job_unref(job);
        return send_error(h, req, resp, 503, "executor_unavailable",
                          "the executor did not answer in time", NULL);
    }
    body = response_job(job, &status, &outcome);
    if (status >= 400)
        note_body_error(body);
    if (status == 503)
        u_map_put(resp->map_header, "Retry-After", "1");
    log_request(h, req, status, outcome, job, language, t0);
    job_unref(job);
    return send_json(h, req, resp, status, body);
}

/* Sets Retry-After and the RateLimit-* headers of a quota answer. */
static void quota_headers(struct _u_response *resp, const apikey_quota_t *q)
{
    char v[16];

    snprintf(v, sizeof v, "%d", q->retry_after > 0 ? q->retry_after : 1);
    u_map_put(resp->map_header, "Retry-After", v);
    if (q->limit <= 0)
        return;
    snprintf(v, sizeof v, "%d", q->limit);
    u_map_put(resp->map_header, "RateLimit-Limit", v);
    snprintf(v, sizeof v, "%d", q->remaining);
    u_map_put(resp->map_header, "RateLimit-Remaining", v);
    snprintf(v, sizeof v, "%d", q->reset_s);
    u_map_put(resp->map_header, "RateLimit-Reset", v);
}

/* Parses and runs a request under key k's concurrency quota. */
static int execute_as(http_t *h, const struct _u_request *req, struct _u_response *resp,
                      const apikey_t *k, int64_t t0)
{
    request_t r;
    request_error_t err;
    apikey_quota_t q;
    int ret;

    if (request_parse(req->binary_body, req->binary_body_length, &r, &err) != 0) {
        log_request(h, req, err.http_status, err.code, NULL, NULL, t0);
        return send_error(h, req, resp, err.http_status, err.code, err.message,
                          request_error_details(&err));
    }
    if (apikeys_acquire(h->keys, k, &q) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "API key %s already has its %s", apikey_name(k),
                 "maximum of runs in progress");
        quota_headers(resp, &q);
        log_request(h, req, 429, "concurrency_limited", NULL, r.language, t0);
        request_free(&r);
        return send_error(h, req, resp, 429, "concurrency_limited", msg, NULL);
    }
    ret = run_job(h, req, resp, &r, t0);
    apikeys_release(h->keys, k);
    return ret;
}

static int on_execute(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    http_t *h = arg;
    int64_t t0 = cg_now_ms();
    const apikey_t *k;
    int ret;

    atomic_fetch_add(&h->inflight, 1);
    if (atomic_load(&h->draining)) {
        log_request(h, req, 503, "shutting_down", NULL, NULL, t0);
        ret = send_error(h, req, resp, 503, "shutting_down", "the gateway is shutting down", NULL);
        goto out;
    }
    /* ulfius truncates bodies at max_post_body_size silently: it is set to the limit + 1, so a
     * body that reaches it was larger than the limit. */
    if (req->binary_body_length > CG_MAX_BODY_BYTES) {
        char msg[96];
        snprintf(msg, sizeof msg, "the request body exceeds %u bytes", CG_MAX_BODY_BYTES);
        log_request(h, req, 413, "payload_too_large", NULL, NULL, t0);
        ret = send_error(h, req, resp, 413, "payload_too_large", msg, NULL);
        goto out;
    }
    /* The front door checked the key already; a reload in between may have removed it. */
    k = frontdoor_request_key(h->keys, u_map_get_case(req->map_header, "Authorization"));
    if (!k) {
        log_request(h, req, 401, "unauthorized", NULL, NULL, t0);
        ret = send_error(h, req, resp, 401, "unauthorized", "the API key is not valid", NULL);
        goto out;
    }
    ret = execute_as(h, req, resp, k, t0);
out:
    atomic_fetch_sub(&h->inflight, 1);
    return ret;
}

/* ---- asynchronous submissions (async.h) ---- */

/* Who asks: the API key (the front door checked it; a reload may have removed it since), the
 * fairness key (the key's name, or the client's address without keys) and admin rights (a key
 * with admin=1, or without keys a loopback client). NULL when the key is no longer valid. */
static const apikey_t *async_caller(http_t *h, const struct _u_request *req, async_caller_t *who,
                                    char *addr, size_t addrlen)
{
    const apikey_t *k =
        frontdoor_request_key(h->keys, u_map_get_case(req->map_header, "Authorization"));
    const struct sockaddr *sa = req->client_address;

    snprintf(addr, addrlen, "unknown");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
                  (socklen_t)addrlen);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr,
                  (socklen_t)addrlen);
    if (!k)
        return NULL;
    who->owner = apikey_name(k);
    if (apikeys_enabled(h->keys)) {
        who->fkey = apikey_name(k);
        who->admin = apikeys_is_admin(h->keys, k);
    } else {
        who->fkey = addr;
        who->admin = sa && gate_addr_is_loopback(sa);
    }
    return k;
}

static int send_async(http_t *h, const struct _u_request *req, struct _u_response *resp,
                      async_answer_t *ans, int64_t t0)
{
    if (ans->location[0])
        u_map_put(resp->map_header, "Location", ans->location);
    if (ans->retry_after)
        u_map_put(resp->map_header, "Retry-After", "1");
    if (ans->code)
        note_body_error(ans->body); /* the code and message, for the metrics and the 5xx log */
    if (h->cfg->log_requests) {
        cJSON *f = cJSON_CreateObject();
        if (f) {
            cJSON_AddStringToObject(f, "method", req->http_verb);
            cJSON_AddStringToObject(f, "path", req->url_path ? req->url_path : "");
            cJSON_AddNumberToObject(f, "http", ans->status);
            if (ans->code)
                cJSON_AddStringToObject(f, "status", ans->code);
            cJSON_AddNumberToObject(f, "durationMs", (double)(cg_now_ms() - t0));
        }
        log_event(LOG_INFO, "request", f);
    }
    return send_json(h, req, resp, ans->status, ans->body);
}

typedef enum { A_SUBMIT, A_BATCH, A_GET, A_CANCEL, A_DEAD, A_REQUEUE } async_op_t;

/* The id segment of /api/submissions/<id> or /api/admin/dead-letters/<id>/requeue ("" when
 * none or too long; the async layer validates it). The path is parsed here: behind the front
 * door, ulfius leaves map_url empty. */
static void path_id(const char *path, char *id, size_t len)
{
    static const char *const pre[] = {"/api/submissions/", "/api/admin/dead-letters/"};
    size_t n;

    id[0] = '\0';
    for (size_t i = 0; path && i < sizeof pre / sizeof pre[0]; i++) {
        if (strncmp(path, pre[i], strlen(pre[i])) != 0)
            continue;
        path += strlen(pre[i]);
        n = strcspn(path, "/");
        if (n < len) {
            memcpy(id, path, n);
            id[n] = '\0';
        }
        return;
    }
}

/* A query parameter of the full URL as a whole number, at most max (larger values are cut
 * to max): def when absent, -1 when malformed. (Parsed here: behind the front door, ulfius
 * leaves map_url empty.) */
static int query_int(const struct _u_request *req, const char *name, int def, int max)
{
    const char *q = req->http_url ? strchr(req->http_url, '?') : NULL;
    size_t n, k = strlen(name);
    long v = def;

    for (q = q ? q + 1 : NULL; q && *q; q += n + (q[n] == '&')) {
        n = strcspn(q, "&");
        if (n <= k || strncmp(q, name, k) != 0 || q[k] != '=')
            continue;
        if (n == k + 1 || n > k + 1 + 6)
            return -1;
        v = 0;
        for (size_t i = k + 1; i < n; i++) {
            if (q[i] < '0' || q[i] > '9')
                return -1;
            v = v * 10 + (q[i] - '0');
        }
    }
    return v > max ? max : (int)v;
}

static int on_async(http_t *h, const struct _u_request *req, struct _u_response *resp,
                    async_op_t op)
{
    int64_t t0 = cg_now_ms();
    async_caller_t who = {0};
    async_answer_t ans = {0};
    char addr[64];
    char id[64];
    const char *idem = u_map_get_case(req->map_header, "Idempotency-Key");
    int ret, n; /* the wait or limit query parameter */

    path_id(req->url_path, id, sizeof id);
    atomic_fetch_add(&h->inflight, 1);
    if ((op == A_SUBMIT || op == A_BATCH) && atomic_load(&h->draining)) {
        ret = send_error(h, req, resp, 503, "shutting_down", "the gateway is shutting down", NULL);
        goto out;
    }
    if (req->binary_body_length > CG_MAX_BODY_BYTES) {
        char msg[96];
        snprintf(msg, sizeof msg, "the request body exceeds %u bytes", CG_MAX_BODY_BYTES);
        ret = send_error(h, req, resp, 413, "payload_too_large", msg, NULL);
        goto out;
    }
    if (!async_caller(h, req, &who, addr, sizeof addr)) {
        ret = send_error(h, req, resp, 401, "unauthorized", "the API key is not valid", NULL);
        goto out;
    }
    switch (op) {
    case A_SUBMIT:
        async_http_submit(h->async, &who, req->binary_body, req->binary_body_length, idem, &ans);
        break;
    case A_BATCH:
        async_http_batch(h->async, &who, req->binary_body, req->binary_body_length, idem, &ans);
        break;
    case A_GET:
        if ((n = query_int(req, "wait", 0, 30)) < 0) {
            ret = send_error(h, req, resp, 400, "invalid_request",
                             "wait must be a whole number of seconds (at most 30)", NULL);
            goto out;
        }
        async_http_get(h->async, &who, id, n, &ans);
        break;
    case A_CANCEL:
        async_http_cancel(h->async, &who, id, &ans);
        break;
    case A_DEAD:
        if ((n = query_int(req, "limit", 100, 1000)) < 1) {
            ret = send_error(h, req, resp, 400, "invalid_request",
                             "limit must be a whole number from 1 to 1000", NULL);
            goto out;
        }
        async_http_dead_letters(h->async, &who, n, &ans);
        break;
    case A_REQUEUE:
        async_http_requeue(h->async, &who, id, &ans);
        break;
    }
    ret = send_async(h, req, resp, &ans, t0);
out:
    atomic_fetch_sub(&h->inflight, 1);
    return ret;
}

static int on_submit(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    return on_async(arg, req, resp, A_SUBMIT);
}
static int on_batch(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    return on_async(arg, req, resp, A_BATCH);
}
static int on_sub_get(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    return on_async(arg, req, resp, A_GET);
}
static int on_sub_delete(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    return on_async(arg, req, resp, A_CANCEL);
}
static int on_dead_letters(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    return on_async(arg, req, resp, A_DEAD);
}
static int on_requeue(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    return on_async(arg, req, resp, A_REQUEUE);
}

/* ---- GET endpoints ---- */

static int on_languages(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    http_t *h = arg;
    cJSON *root = cJSON_CreateObject(), *arr;

    if (!root)
        return send_json(h, req, resp, 500, NULL);
    cJSON_AddTrueToObject(root, "success");
    arr = cJSON_AddArrayToObject(root, "data");
    for (int i = 0; arr && i < LANG_COUNT; i++) {
        const lang_t *l = &lang_table[i];
        pool_lang_info_t info;
        cJSON *e = cJSON_CreateObject(), *al;
        if (!e)
            break;
        pool_language_info(h->pool, l->name, &info);
        if (!info.offered) { /* the external runtime has no executors for it */
            cJSON_Delete(e);
            continue;
        }
        cJSON_AddStringToObject(e, "language", l->name);
        cJSON_AddStringToObject(e, "displayName", l->display);
        cJSON_AddStringToObject(e, "runtime", l->runtime);
        cJSON_AddBoolToObject(e, "compiled", l->compile != NULL);
        if (info.version[0])
            cJSON_AddStringToObject(e, "version", info.version);
        else
            cJSON_AddNullToObject(e, "version");
        al = cJSON_AddArrayToObject(e, "aliases");
        for (const char *const *a = l->aliases; al && *a; a++)
            cJSON_AddItemToArray(al, cJSON_CreateString(*a));
        al = cJSON_AddArrayToObject(e, "options"); /* what "options" may hold (lang.h) */
        for (const lang_option_t *o = l->options; al && o && o->value; o++)
            cJSON_AddItemToArray(al, cJSON_CreateString(o->value));
        cJSON_AddBoolToObject(e, "ready", info.connections > 0);
        cJSON_AddNumberToObject(e, "executors", info.endpoints);
        cJSON_AddNumberToObject(e, "executorsReady", info.usable);
        cJSON_AddNumberToObject(e, "executorsDraining", info.draining);
        cJSON_AddNumberToObject(e, "slots", info.slots);
        cJSON_AddItemToArray(arr, e);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return send_json(h, req, resp, 200, s);
}

static int on_healthz(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    http_t *h = arg;
    char buf[160];

    snprintf(buf, sizeof buf, "{\"status\":\"ok\",\"version\":\"%s\",\"runtime\":\"%s\"}",
             CG_VERSION, h->runtime_name);
    return send_json(h, req, resp, 200, strdup(buf));
}

/* /readyz's per-language capacity: {"executors", "draining", "slots", "connections"}. */
static void add_capacity(cJSON *cap, const char *name, const pool_lang_info_t *info)
{
    cJSON *c = cap ? cJSON_AddObjectToObject(cap, name) : NULL;

    if (!c)
        return;
    cJSON_AddNumberToObject(c, "executors", info->usable);
    cJSON_AddNumberToObject(c, "draining", info->draining);
    cJSON_AddNumberToObject(c, "slots", info->slots);
    cJSON_AddNumberToObject(c, "connections", info->connections);
}

/* /readyz's "sizing": what the gateway read of the machine (server/sizing.c), the values in use
 * and which of them came from the machine (the rest were set explicitly). */
static void add_sizing(cJSON *root, const config_t *cfg)
{
    static const struct {
        const char *name;
        unsigned bit;
    } opts[] = {{"executors", SIZED_EXECUTORS},
                {"slots", SIZED_SLOTS},
                {"queueMax", SIZED_QUEUE_MAX},
                {"queueWaitMs", SIZED_QUEUE_WAIT},
                {"containerCpusMilli", SIZED_CONTAINER_CPUS}};
    const int vals[] = {cfg->executors, cfg->slots, cfg->queue_max, cfg->queue_wait_ms,
                        cfg->container_cpus_milli};
    cJSON *z = cJSON_AddObjectToObject(root, "sizing"), *from;

    if (!z)
        return;
    cJSON_AddNumberToObject(z, "cpuMilli", cfg->sized_cpu_milli);
    cJSON_AddNumberToObject(z, "memoryMb", cfg->sized_memory_mb);
    from = cJSON_AddArrayToObject(z, "fromMachine");
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        cJSON_AddNumberToObject(z, opts[i].name, vals[i]);
        if (from && (cfg->sized & opts[i].bit))
            cJSON_AddItemToArray(from, cJSON_CreateString(opts[i].name));
    }
}

/* Ready: not draining, and every language offered has a connection to an executor in service
 * with a slot in service. */
static int on_readyz(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    http_t *h = arg;
    cJSON *root = cJSON_CreateObject(), *langs, *cap;
    bool ready = !atomic_load(&h->draining);
    int offered = 0;

    if (!root)
        return send_json(h, req, resp, 500, NULL);
    langs = cJSON_AddObjectToObject(root, "languages");
    cap = cJSON_AddObjectToObject(root, "capacity");
    for (int i = 0; i < LANG_COUNT; i++) {
        pool_lang_info_t info;
        pool_language_info(h->pool, lang_table[i].name, &info);
        if (!info.offered)
            continue;
        offered++;
        add_capacity(cap, lang_table[i].name, &info);
        /* Ready: every language has a connection to a slot that is in service. */
        bool up = info.connections > info.slots_down;
        if (!up)
            ready = false;
        if (langs)
            cJSON_AddBoolToObject(langs, lang_table[i].name, up);
        if (info.slots_down > 0) {
            cJSON *down = cJSON_GetObjectItem(root, "slotsDown");
            if (!down)
                down = cJSON_AddObjectToObject(root, "slotsDown");
            if (down)
                cJSON_AddNumberToObject(down, lang_table[i].name, info.slots_down);
        }
    }
    if (offered == 0)
        ready = false;
    cJSON_AddStringToObject(root, "status",
                            atomic_load(&h->draining) ? "draining"
                            : ready                   ? "ready"
                                                      : "starting");
    if (!ready && !atomic_load(&h->draining)) {
        const char *p = atomic_load(&h->progress);
        cJSON_AddStringToObject(root, "progress", p ? p : "waiting for executors to connect");
    }
    cJSON_AddNumberToObject(root, "queued", pool_queue_length(h->pool));
    /* The asynchronous API's queue: "off", "ok" or "unavailable" (Redis unreachable). It does
     * not decide readiness: synchronous execution works without it. */
    cJSON_AddStringToObject(root, "async", async_state(h->async));
    add_sizing(root, h->cfg);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return send_json(h, req, resp, ready ? 200 : 503, s);
}

static int on_metrics(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    http_t *h = arg;
    metrics_gauges_t g;

    memset(&g, 0, sizeof g);
    g.queue_depth = pool_queue_length(h->pool);
    g.http_connections = frontdoor_connections();
    g.sessions_open = h->hub ? session_hub_count(h->hub) : 0;
    for (int i = 0; i < LANG_COUNT; i++) {
        pool_lang_info_t info;
        pool_language_info(h->pool, lang_table[i].name, &info);
        g.connections[i] = info.connections;
        g.endpoints[i] = info.endpoints;
        g.busy[i] = info.busy;
        g.slots_down[i] = info.slots_down;
        g.ready[i] = info.usable;
        g.draining[i] = info.draining;
    }
    char *base = metrics_render(&g), *text = NULL;
    size_t len = 0;
    FILE *f = base ? open_memstream(&text, &len) : NULL;
    if (f) {
        fputs(base, f);
        apikeys_render_metrics(h->keys, f);
        async_render_metrics(h->async, f);
        fclose(f);
    }
    free(base);
    if (!text)
        return send_json(h, req, resp, 500, NULL);
    set_cors(h, req, resp);
    u_map_put(resp->map_header, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    u_map_put(resp->map_header, "Cache-Control", "no-store");
    ulfius_set_string_body_response(resp, 200, text);
    free(text);
    return U_CALLBACK_COMPLETE;
}

/* ---- fallbacks ---- */

static int on_other_method(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    http_t *h = arg;
    const route_t *rt = NULL;
    static const route_t routes[] = {
        {"/api/code/execute", "POST, OPTIONS"},
        {"/api/languages", "GET, OPTIONS"},
        {"/healthz", "GET, OPTIONS"},
        {"/readyz", "GET, OPTIONS"},
        {"/metrics", "GET, OPTIONS"},
        {"/api/code/session", "GET"},
        {"/api/submissions", "POST, OPTIONS"},
        {"/api/submissions/batch", "POST, OPTIONS"},
        {"/api/admin/dead-letters", "GET, OPTIONS"},
    };
    static const route_t sub = {"/api/submissions/<id>", "GET, DELETE, OPTIONS"};
    static const route_t requeue = {"/api/admin/dead-letters/<id>/requeue", "POST, OPTIONS"};
    const char *p = req->url_path ? req->url_path : "";

    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (req->url_path && strcmp(req->url_path, routes[i].path) == 0)
            rt = &routes[i];
    if (!rt && !strncmp(p, "/api/submissions/", 17))
        rt = &sub;
    if (!rt && !strncmp(p, "/api/admin/dead-letters/", 24))
        rt = &requeue;
    if (!rt)
        rt = &routes[0];
    if (strcmp(req->http_verb, "OPTIONS") == 0) {
        set_cors(h, req, resp);
        u_map_put(resp->map_header, "Access-Control-Allow-Methods", rt->allow);
        u_map_put(resp->map_header, "Access-Control-Allow-Headers",
                  "Content-Type, Authorization, Idempotency-Key");
        u_map_put(resp->map_header, "Access-Control-Max-Age", "600");
        u_map_put(resp->map_header, "Allow", rt->allow);
        ulfius_set_empty_body_response(resp, 204);
        return U_CALLBACK_COMPLETE;
    }
    u_map_put(resp->map_header, "Allow", rt->allow);
    char msg[128];
    snprintf(msg, sizeof msg, "%s is not allowed on %s (allowed: %s)", req->http_verb, rt->path,
             rt->allow);
    return send_error(h, req, resp, 405, "method_not_allowed", msg, NULL);
}

/* ---- static files (the playground) ---- */

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".json", "application/json"},
    };

    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* Path segments of [A-Za-z0-9._-] joined by single '/' (the playground's vendor/ tree), none
 * empty and none starting with '.': no traversal, no hidden files, no absolute path. */
static bool static_name_ok(const char *name)
{
    if (!name[0] || strlen(name) > 160)
        return false;
    for (const char *c = name; *c; c++) {
        if (c == name || c[-1] == '/') {
            if (*c == '.' || *c == '/')
                return false; /* a segment that is empty or starts with '.' */
        }
        if (*c == '/') {
            if (!c[1])
                return false; /* a trailing '/': a directory */
            continue;
        }
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return false;
    }
    return true;
}

/* The playground's Content-Security-Policy: its own scripts and styles only (no inline code, no
 * eval), images also from data: and blob: URLs (a program's returned plots), API calls to any
 * http(s)/ws(s) origin (?api= may point the page at another gateway) and the page's own blob:
 * URLs (the returned files it made), nothing framed. */
static const char STATIC_CSP[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' blob: http: https: ws: wss:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

/* Serves static_dir/<name>; returns -1 when there is no such file (caller answers 404). */
static int serve_static(http_t *h, const struct _u_request *req, struct _u_response *resp,
                        const char *name)
{
    char path[PATH_MAX + 128], etag[64];
    struct stat st;
    int fd;

    if (!h->static_dir[0] || !static_name_ok(name))
        return -1;
    snprintf(path, sizeof path, "%s/%s", h->static_dir, name);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 4 * 1024 * 1024) {
        close(fd);
        return -1;
    }
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_mtime,
             (unsigned long long)st.st_size);
    set_cors(h, req, resp);
    u_map_put(resp->map_header, "ETag", etag);
    /* Revalidate every time (cheap: 304 on a matching ETag), so that a page and its script
     * never come from two different versions after an upgrade. */
    u_map_put(resp->map_header, "Cache-Control", "no-cache");
    u_map_put(resp->map_header, "X-Content-Type-Options", "nosniff");
    u_map_put(resp->map_header, "Content-Security-Policy", STATIC_CSP);
    const char *inm = u_map_get_case(req->map_header, "If-None-Match");
    if (inm && !strcmp(inm, etag)) {
        close(fd);
        ulfius_set_empty_body_response(resp, 304);
        return U_CALLBACK_COMPLETE;
    }
    char *body = malloc((size_t)st.st_size + 1);
    ssize_t n = body ? cg_read_full(fd, body, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        free(body);
        return -1;
    }
    u_map_put(resp->map_header, "Content-Type", content_type(name));
    ulfius_set_binary_body_response(resp, 200, body, (size_t)n);
    free(body);
    return U_CALLBACK_COMPLETE;
}

static int on_not_found(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    http_t *h = arg;
    char msg[160];
    const char *path = req->url_path ? req->url_path : "";

    if (!strcmp(req->http_verb, "GET") || !strcmp(req->http_verb, "HEAD")) {
        int rc = serve_static(h, req, resp, !strcmp(path, "/") ? "index.html" : path + 1);
        if (rc >= 0)
            return rc;
    }
    snprintf(msg, sizeof msg, "no such endpoint: %.100s", path);
    return send_error(h, req, resp, 404, "not_found", msg, NULL);
}

/* ---- life cycle ---- */

static int add_routes(http_t *h)
{
    struct _u_instance *in = &h->inst;
    int rc = U_OK;

    rc |= ulfius_add_endpoint_by_val(in, "POST", "/api/code/execute", NULL, 0, on_execute, h);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/api/code/execute", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "GET", "/api/languages", NULL, 0, on_languages, h);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/api/languages", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "GET", "/healthz", NULL, 0, on_healthz, h);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/healthz", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "GET", "/readyz", NULL, 0, on_readyz, h);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/readyz", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "GET", "/api/code/session", NULL, 0, session_endpoint,
                                     h->hub);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/api/code/session", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "GET", "/metrics", NULL, 0, on_metrics, h);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/metrics", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "POST", "/api/submissions", NULL, 0, on_submit, h);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/api/submissions", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "POST", "/api/submissions/batch", NULL, 0, on_batch, h);
    rc |= ulfius_add_endpoint_by_val(in, "GET", "/api/submissions/:id", NULL, 0, on_sub_get, h);
    rc |=
        ulfius_add_endpoint_by_val(in, "DELETE", "/api/submissions/:id", NULL, 0, on_sub_delete, h);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/api/submissions/:id", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "GET", "/api/admin/dead-letters", NULL, 0, on_dead_letters,
                                     h);
    rc |=
        ulfius_add_endpoint_by_val(in, "*", "/api/admin/dead-letters", NULL, 1, on_other_method, h);
    rc |= ulfius_add_endpoint_by_val(in, "POST", "/api/admin/dead-letters/:id/requeue", NULL, 0,
                                     on_requeue, h);
    rc |= ulfius_add_endpoint_by_val(in, "*", "/api/admin/dead-letters/:id/requeue", NULL, 1,
                                     on_other_method, h);
    rc |= ulfius_set_default_endpoint(in, on_not_found, h);
    return rc == U_OK ? 0 : -1;
}

/* cfg->static_dir, else server/static of the source tree (found from the binary's path). */
static void find_static_dir(http_t *h)
{
    char self[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t n;

    if (h->cfg->static_dir[0]) {
        snprintf(h->static_dir, sizeof h->static_dir, "%s", h->cfg->static_dir);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return;
    self[n] = '\0';
    for (char *slash = strrchr(self, '/'); slash; slash = strrchr(self, '/')) {
        *slash = '\0';
        snprintf(probe, sizeof probe, "%s/server/static/index.html", self);
        if (access(probe, R_OK) == 0) {
            snprintf(h->static_dir, sizeof h->static_dir, "%s/server/static", self);
            return;
        }
    }
}

http_t *http_start(const config_t *cfg, pool_t *pool, session_hub_t *hub, apikeys_t *keys,
                   async_t *async, const char *runtime_name)
{
    http_t *h = calloc(1, sizeof *h);
    struct sockaddr_in addr;

    if (!h)
        return NULL;
    h->cfg = cfg;
    h->pool = pool;
    h->hub = hub;
    h->keys = keys;
    h->async = async;
    h->runtime_name = runtime_name;
    find_static_dir(h);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind, &addr.sin_addr) != 1) {
        log_msg(LOG_ERROR, "--bind %s is not an IPv4 address", cfg->bind);
        free(h);
        return NULL;
    }
    if (ulfius_init_instance(&h->inst, (unsigned)cfg->port, &addr, NULL) != U_OK) {
        log_msg(LOG_ERROR, "ulfius_init_instance failed");
        free(h);
        return NULL;
    }
    h->inst.max_post_body_size = CG_MAX_BODY_BYTES + 1;
    if (add_routes(h) != 0)
        goto fail;

    if (frontdoor_start(&h->inst, cfg, keys, &addr) != 0)
        goto fail;
    return h;

fail:
    ulfius_clean_instance(&h->inst);
    free(h);
    return NULL;
}

void http_begin_drain(http_t *h)
{
    atomic_store(&h->draining, true);
    if (h->inst.mhd_daemon) {
        MHD_socket s = MHD_quiesce_daemon(h->inst.mhd_daemon);
        /* Closed at once: new connections are refused instead of waiting unanswered in the
         * backlog until exit. Clients with an open keep-alive connection still reach /readyz
         * (503 draining). */
        if (s != MHD_INVALID_SOCKET)
            close(s);
        else
            log_msg(LOG_WARN, "could not stop accepting connections; new requests get 503");
    }
}

int http_inflight(http_t *h)
{
    return atomic_load(&h->inflight);
}

void http_set_progress(http_t *h, const char *step)
{
    atomic_store(&h->progress, step);
}

void http_stop(http_t *h)
{
    if (!h)
        return;
    ulfius_stop_framework(&h->inst);
    frontdoor_stop();
    ulfius_clean_instance(&h->inst);
    free(h);
}
