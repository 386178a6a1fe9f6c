/*
 * async.c - the asynchronous submissions module: life cycle, the Redis connections of the HTTP
 * threads, the answers, and the submit side (single and batch). See async.h for the API and
 * the semantics; GET/cancel/admin/callbacks/metrics are in async_query.c, the worker threads
 * in async_worker.c, the Redis scripts in async_store*.c.
 *
 * HTTP threads borrow a Redis connection from a small pool of idle ones (mutex); a connection
 * that failed is freed instead of returned. Every answer is built here as JSON; http.c only
 * routes, checks who asks and sends.
 */
#include "async_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "log.h"
#include "request.h"
#include "response.h"

#define BATCH_MAX 100

/* ---- life cycle ---- */

async_t *async_new(const config_t *cfg, pool_t *pool, apikeys_t *keys, char *err, size_t errlen)
{
    async_t *a = calloc(1, sizeof *a);
    char host[64] = "host", consumer[192];

    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->pool = pool;
    a->keys = keys;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->cb_mu, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&a->final_cv, &ca);
        pthread_cond_init(&a->cb_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    a->enabled = cfg->redis_url[0] != '\0';
    if (!a->enabled)
        return a;
    gethostname(host, sizeof host - 1);
    snprintf(consumer, sizeof consumer, "%s-%s-%d", cfg->instance, host, (int)getpid());
    if (async_store_init(&a->st, cfg->redis_url, cfg->redis_prefix, consumer,
                         cfg->async_result_ttl_s, err, errlen) != 0) {
        async_free(a);
        return NULL;
    }
    a->nworkers = cfg->async_workers > 0 ? cfg->async_workers : cfg->executors * cfg->slots;
    a->cb = callback_new(cfg, err, errlen);
    if (!a->cb) {
        async_free(a);
        return NULL;
    }
    srand((unsigned)(getpid() ^ cg_now_ms()));
    return a;
}

bool async_enabled(const async_t *a)
{
    return a && a->enabled;
}

int async_start(async_t *a)
{
    char err[256];
    redisContext *c;

    if (!a->enabled)
        return 0;
    if (callback_start(a->cb) != 0) {
        log_msg(LOG_ERROR, "async: cannot start the callback delivery thread");
        return -EAGAIN;
    }
    /* A first connection tells at once whether the URL works (the workers retry anyway). */
    c = async_store_connect(&a->st, 2000, err, sizeof err);
    if (c) {
        atomic_store(&a->redis_ok, true);
        redisFree(c);
    } else {
        async_note_error(a, err);
        log_msg(LOG_WARN, "async: %s (retrying in the background)", err);
    }
    int crc = pthread_create(&a->cb_thread, NULL, async_cb_main, a);
    if (crc != 0) {
        log_msg(LOG_ERROR, "async: cannot start the callback dispatcher: %s", strerror(crc));
        return -crc;
    }
    a->cb_started = true;
    a->workers = calloc((size_t)a->nworkers, sizeof *a->workers);
    if (!a->workers)
        return -ENOMEM;
    for (; a->nstarted < a->nworkers; a->nstarted++) {
        int rc = pthread_create(&a->workers[a->nstarted], NULL, async_worker_main, a);
        if (rc != 0) {
            log_msg(LOG_ERROR, "async: cannot start a worker thread: %s", strerror(rc));
            return -rc;
        }
    }
    log_msg(LOG_INFO, "async: %d worker(s), consumer %s, key prefix %s", a->nworkers,
            a->st.consumer, a->st.prefix);
    return 0;
}

void async_begin_drain(async_t *a)
{
    if (!a)
        return;
    atomic_store(&a->draining, true);
    async_wake_waiters(a); /* long-polls answer now: the drain waits for handlers */
}

int async_running(async_t *a)
{
    return a ? atomic_load(&a->running) : 0;
}

void async_stop(async_t *a)
{
    if (!a)
        return;
    atomic_store(&a->draining, true);
    atomic_store(&a->stopping, true);
    for (int i = 0; i < a->nstarted; i++)
        pthread_join(a->workers[i], NULL);
    a->nstarted = 0;
    /* After the workers: the deliveries still in flight are abandoned and handed back to
     * Redis due now (another gateway, or this one restarted, delivers them), then the
     * dispatcher records what ended and stops. */
    atomic_store(&a->cb_stopping, true);
    if (a->cb)
        callback_stop(a->cb);
    if (a->cb_started) {
        pthread_mutex_lock(&a->cb_mu);
        a->cb_quit = true;
        pthread_cond_signal(&a->cb_cv);
        pthread_mutex_unlock(&a->cb_mu);
        pthread_join(a->cb_thread, NULL);
        a->cb_started = false;
    }
}

void async_free(async_t *a)
{
    if (!a)
        return;
    async_stop(a);
    for (int i = 0; i < a->nidle; i++)
        redisFree(a->idle[i]);
    free(a->workers);
    callback_free(a->cb);
    pthread_cond_destroy(&a->final_cv);
    pthread_cond_destroy(&a->cb_cv);
    pthread_mutex_destroy(&a->cb_mu);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void async_wake_waiters(async_t *a)
{
    pthread_mutex_lock(&a->mu);
    a->nfinal++;
    pthread_cond_broadcast(&a->final_cv);
    pthread_mutex_unlock(&a->mu);
}

void async_note_error(async_t *a, const char *what)
{
    atomic_store(&a->redis_ok, false);
    pthread_mutex_lock(&a->mu);
    if (strcmp(a->last_error, what) != 0)
        log_msg(LOG_WARN, "async: Redis: %s", what);
    snprintf(a->last_error, sizeof a->last_error, "%s", what);
    pthread_mutex_unlock(&a->mu);
}

const char *async_state(async_t *a)
{
    if (!a || !a->enabled)
        return "off";
    return atomic_load(&a->redis_ok) ? "ok" : "unavailable";
}

/* ---- connections of the HTTP threads ---- */

redisContext *async_borrow(async_t *a, char *err, size_t errlen)
{
    redisContext *c = NULL;

    pthread_mutex_lock(&a->mu);
    if (a->nidle > 0)
        c = a->idle[--a->nidle];
    pthread_mutex_unlock(&a->mu);
    if (c)
        return c;
    c = async_store_connect(&a->st, 1000, err, errlen);
    if (!c)
        async_note_error(a, err);
    else
        atomic_store(&a->redis_ok, true);
    return c;
}

void async_give_back(async_t *a, redisContext *c, int rc)
{
    if (!c)
        return;
    if (rc == -EIO || c->err) {
        atomic_fetch_add(&a->n_redis_errors, 1);
        async_note_error(a, c->errstr[0] ? c->errstr : "connection lost");
        redisFree(c);
        return;
    }
    pthread_mutex_lock(&a->mu);
    if (a->nidle < ASYNC_IDLE_CONNS) {
        a->idle[a->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&a->mu);
    if (c)
        redisFree(c);
}

/* ---- answers ---- */

void async_answer_error(async_answer_t *ans, int status, const char *code, const char *msg,
                        cJSON *details)
{
    ans->status = status;
    ans->code = code;
    ans->body = response_error(code, msg, details);
    ans->retry_after = status == 503;
}

void async_unavailable(async_t *a, async_answer_t *ans, const char *why)
{
    char msg[400];

    if (!a->enabled) {
        async_answer_error(ans, 503, "async_unavailable",
                           "asynchronous submissions are not configured on this gateway (start it "
                           "with --redis-url or CODEGATE_REDIS_URL)",
                           NULL);
        return;
    }
    snprintf(msg, sizeof msg, "the submission queue (Redis) cannot be reached: %s", why);
    async_answer_error(ans, 503, "async_unavailable", msg, NULL);
}

void async_redis_failed(async_t *a, async_answer_t *ans, int rc)
{
    char why[256];

    pthread_mutex_lock(&a->mu);
    snprintf(why, sizeof why, "%s",
             rc == -EIO && a->last_error[0] ? a->last_error : "Redis refused the command");
    pthread_mutex_unlock(&a->mu);
    async_unavailable(a, ans, why);
}

void async_answer_data(async_answer_t *ans, int status, cJSON *data)
{
    cJSON *root = cJSON_CreateObject();

    if (root && data) {
        cJSON_AddTrueToObject(root, "success");
        cJSON_AddItemToObject(root, "data", data);
        data = NULL;
    }
    ans->status = status;
    ans->body = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    cJSON_Delete(data);
}

/* ---- submit ---- */

/* Validates one submission object (the execute body + callbackUrl): 0 and the body to store
 * (malloc'ed JSON without callbackUrl) and the callback URL (malloc'ed or NULL), or -1 with
 * an error object in *errobj (the shape of the execute errors). */
static cJSON *field_error(const char *field, const char *reason, const char *message)
{
    cJSON *e = cJSON_CreateObject(), *d;

    cJSON_AddStringToObject(e, "code", "invalid_request");
    cJSON_AddStringToObject(e, "message", message);
    d = cJSON_AddObjectToObject(e, "details");
    cJSON_AddStringToObject(d, "field", field);
    cJSON_AddStringToObject(d, "reason", reason);
    return e;
}

static int validate(async_t *a, const cJSON *sub, char **body, char **cb, cJSON **errobj, int *http)
{
    char why[256], msg[300];
    cJSON *copy = cJSON_Duplicate(sub, 1);
    cJSON *url;
    request_t r;
    request_error_t perr;
    char *text;

    *body = *cb = NULL;
    *errobj = NULL;
    *http = 400;
    if (!copy)
        goto oom;
    url = cJSON_DetachItemFromObjectCaseSensitive(copy, "callbackUrl");
    if (url && !cJSON_IsNull(url)) {
        if (!cJSON_IsString(url) || !url->valuestring[0] || strlen(url->valuestring) > 2000) {
            cJSON_Delete(url);
            cJSON_Delete(copy);
            *errobj = field_error("callbackUrl", "type",
                                  "callbackUrl must be a URL string of at most 2000 characters");
            return -1;
        }
        /* Syntax, host allow-list and the addresses it resolves to (SSRF policy). */
        if (callback_check_url(a->cb, url->valuestring, why, sizeof why) != 0) {
            cJSON_Delete(url);
            cJSON_Delete(copy);
            snprintf(msg, sizeof msg, "callbackUrl refused: %s", why);
            *errobj = field_error("callbackUrl", "value", msg);
            return -1;
        }
        *cb = strdup(url->valuestring);
    }
    cJSON_Delete(url);
    text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    if (!text)
        goto oom;
    if (request_parse(text, strlen(text), &r, &perr) != 0) {
        free(text);
        free(*cb);
        *cb = NULL;
        *http = perr.http_status;
        *errobj = cJSON_CreateObject();
        cJSON_AddStringToObject(*errobj, "code", perr.code);
        cJSON_AddStringToObject(*errobj, "message", perr.message);
        cJSON *d = request_error_details(&perr);
        if (d)
            cJSON_AddItemToObject(*errobj, "details", d);
        return -1;
    }
    request_free(&r);
    *body = text;
    return 0;
oom:
    *http = 500;
    *errobj = cJSON_CreateObject();
    cJSON_AddStringToObject(*errobj, "code", "internal_error");
    cJSON_AddStringToObject(*errobj, "message", "out of memory");
    return -1;
}

/* Answers an error object from validate() the way /api/code/execute would. */
static void answer_errobj(async_answer_t *ans, int http, cJSON *e)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    cJSON *details = cJSON_DetachItemFromObjectCaseSensitive(e, "details");
    static __thread char code_buf[32];

    snprintf(code_buf, sizeof code_buf, "%s",
             cJSON_IsString(code) ? code->valuestring : "invalid_request");
    async_answer_error(ans, http, code_buf,
                       cJSON_IsString(msg) ? msg->valuestring : "invalid request", details);
    cJSON_Delete(e);
}

void async_http_submit(async_t *a, const async_caller_t *who, const char *body, size_t len,
                       const char *idem, async_answer_t *ans)
{
    cJSON *root, *errobj;
    char *text = NULL, *cb = NULL, ids[1][ASYNC_ID_LEN + 1], status[1][16], err[256];
    char fk[ASYNC_FKEY_MAX + 1];
    int http, rc;
    redisContext *c;

    memset(ans, 0, sizeof *ans);
    if (!a->enabled)
        return async_unavailable(a, ans, "");
    if (idem && !async_idem_ok(idem))
        return async_answer_error(ans, 400, "invalid_request",
                                  "Idempotency-Key must be 1 to 200 characters of [A-Za-z0-9_.:-]",
                                  NULL);
    root = cJSON_ParseWithLength(body, len);
    if (!root || !cJSON_IsObject(root)) {
        /* The execute parser words the JSON errors: let it. */
        cJSON_Delete(root);
        request_t r;
        request_error_t perr;
        if (request_parse(body, len, &r, &perr) == 0) {
            request_free(&r);
            return async_answer_error(ans, 400, "invalid_json", "the body must be a JSON object",
                                      NULL);
        }
        return async_answer_error(ans, perr.http_status, perr.code, perr.message,
                                  request_error_details(&perr));
    }
    rc = validate(a, root, &text, &cb, &errobj, &http);
    cJSON_Delete(root);
    if (rc != 0)
        return answer_errobj(ans, http, errobj);
    async_fkey(who->fkey, fk);
    async_new_t n = {text, strlen(text), cb, who->owner, fk, idem};
    if (!(c = async_borrow(a, err, sizeof err))) {
        free(text);
        free(cb);
        return async_unavailable(a, ans, err);
    }
    rc = async_store_submit(&a->st, c, &n, 1, ids, status);
    async_give_back(a, c, rc);
    free(text);
    free(cb);
    if (rc < 0)
        return async_redis_failed(a, ans, rc);
    atomic_fetch_add(&a->n_submitted, 1);
    cJSON *data = cJSON_CreateObject();
    if (data) {
        cJSON_AddStringToObject(data, "id", ids[0]);
        cJSON_AddStringToObject(data, "status", status[0]);
    }
    snprintf(ans->location, sizeof ans->location, "/api/submissions/%s", ids[0]);
    async_answer_data(ans, 202, data);
}

/* The arrays of one batch (heap: MHD threads have small stacks). */
typedef struct {
    async_new_t n[BATCH_MAX];
    char *texts[BATCH_MAX], *cbs[BATCH_MAX];
    char idems[BATCH_MAX][ASYNC_IDEM_MAX + 8];
    char ids[BATCH_MAX][ASYNC_ID_LEN + 1], status[BATCH_MAX][16];
    int index[BATCH_MAX];
} batch_t;

void async_http_batch(async_t *a, const async_caller_t *who, const char *body, size_t len,
                      const char *idem, async_answer_t *ans)
{
    cJSON *root = NULL, *subs, *out = NULL, *item;
    batch_t *b;
    char err[256], fk[ASYNC_FKEY_MAX + 1];
    int nvalid = 0, count, i = 0, rc = 0;
    redisContext *c = NULL;

    memset(ans, 0, sizeof *ans);
    if (!a->enabled)
        return async_unavailable(a, ans, "");
    if (idem && (!async_idem_ok(idem) || strlen(idem) > ASYNC_IDEM_MAX - 4))
        return async_answer_error(
            ans, 400, "invalid_request",
            "Idempotency-Key must be 1 to 196 characters of [A-Za-z0-9_.:-] on "
            "a batch",
            NULL);
    root = cJSON_ParseWithLength(body, len);
    subs = cJSON_GetObjectItemCaseSensitive(root, "submissions");
    if (!root)
        return async_answer_error(ans, 400, "invalid_json", "the body is not valid JSON", NULL);
    if (!cJSON_IsArray(subs) || (count = cJSON_GetArraySize(subs)) < 1 || count > BATCH_MAX) {
        cJSON_Delete(root);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "field", "submissions");
        cJSON_AddStringToObject(d, "reason", "value");
        return async_answer_error(ans, 400, "invalid_request",
                                  "submissions must be an array of 1 to 100 submissions", d);
    }
    b = calloc(1, sizeof *b); /* ~40 KiB: not on the 256 KiB stack of an MHD thread */
    if (!b) {
        cJSON_Delete(root);
        return async_answer_error(ans, 500, "internal_error", "out of memory", NULL);
    }
    async_fkey(who->fkey, fk);
    out = cJSON_CreateArray();
    cJSON_ArrayForEach(item, subs)
    {
        cJSON *errobj = NULL, *e = cJSON_CreateObject();
        int http;
        cJSON_AddNumberToObject(e, "index", i);
        if (!cJSON_IsObject(item)) {
            errobj = cJSON_CreateObject();
            cJSON_AddStringToObject(errobj, "code", "invalid_request");
            cJSON_AddStringToObject(errobj, "message", "a submission must be a JSON object");
        } else if (validate(a, item, &b->texts[nvalid], &b->cbs[nvalid], &errobj, &http) == 0) {
            if (idem)
                snprintf(b->idems[nvalid], sizeof b->idems[nvalid], "%s:%d", idem, i);
            b->n[nvalid] = (async_new_t){b->texts[nvalid],
                                         strlen(b->texts[nvalid]),
                                         b->cbs[nvalid],
                                         who->owner,
                                         fk,
                                         idem ? b->idems[nvalid] : NULL};
            b->index[nvalid++] = i;
        }
        if (errobj)
            cJSON_AddItemToObject(e, "error", errobj);
        cJSON_AddItemToArray(out, e);
        i++;
    }
    cJSON_Delete(root);
    if (nvalid > 0) {
        if (!(c = async_borrow(a, err, sizeof err))) {
            rc = -EIO;
        } else {
            rc = async_store_submit(&a->st, c, b->n, nvalid, b->ids, b->status);
            async_give_back(a, c, rc);
        }
    }
    for (int k = 0; k < nvalid; k++) {
        free(b->texts[k]);
        free(b->cbs[k]);
    }
    if (rc < 0) {
        free(b);
        cJSON_Delete(out);
        if (!c)
            return async_unavailable(a, ans, err);
        return async_redis_failed(a, ans, rc);
    }
    atomic_fetch_add(&a->n_submitted, nvalid);
    for (int k = 0; k < nvalid; k++) {
        cJSON *e = cJSON_GetArrayItem(out, b->index[k]);
        cJSON_AddStringToObject(e, "id", b->ids[k]);
        cJSON_AddStringToObject(e, "status", b->status[k]);
    }
    free(b);
    cJSON *data = cJSON_CreateObject();
    if (data) {
        cJSON_AddNumberToObject(data, "accepted", nvalid);
        cJSON_AddNumberToObject(data, "rejected", i - nvalid);
        cJSON_AddItemToObject(data, "submissions", out);
    } else {
        cJSON_Delete(out);
    }
    async_answer_data(ans, 202, data);
}
