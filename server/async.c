/*
 * async.c - the asynchronous submissions module: life cycle, the HTTP operations and the
 * metrics (see async.h for the API and the semantics; the worker threads are in
 * async_worker.c, the Redis scripts in async_store.c).
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
#define WAIT_POLL_MS 200

/* ---- life cycle ---- */

async_t *async_new(const config_t *cfg, pool_t *pool, char *err, size_t errlen)
{
    async_t *a = calloc(1, sizeof *a);
    char host[64] = "host", consumer[192];

    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->pool = pool;
    pthread_mutex_init(&a->mu, NULL);
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
    if (a)
        atomic_store(&a->draining, true);
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
    /* After the workers: their last final states were queued for delivery; what is still
     * undelivered is reported (and logged) as not delivered. */
    if (a->cb)
        callback_stop(a->cb);
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
    pthread_mutex_destroy(&a->mu);
    free(a);
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

static redisContext *borrow(async_t *a, char *err, size_t errlen)
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

static void give_back(async_t *a, redisContext *c, int rc)
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

static void answer_error(async_answer_t *ans, int status, const char *code, const char *msg,
                         cJSON *details)
{
    ans->status = status;
    ans->code = code;
    ans->body = response_error(code, msg, details);
    ans->retry_after = status == 503;
}

static void unavailable(async_t *a, async_answer_t *ans, const char *why)
{
    char msg[400];

    if (!a->enabled) {
        answer_error(ans, 503, "async_unavailable",
                     "asynchronous submissions are not configured on this gateway (start it "
                     "with --redis-url or CODEGATE_REDIS_URL)",
                     NULL);
        return;
    }
    snprintf(msg, sizeof msg, "the submission queue (Redis) cannot be reached: %s", why);
    answer_error(ans, 503, "async_unavailable", msg, NULL);
}

static void redis_failed(async_t *a, async_answer_t *ans, int rc)
{
    char why[256];

    pthread_mutex_lock(&a->mu);
    snprintf(why, sizeof why, "%s",
             rc == -EIO && a->last_error[0] ? a->last_error : "Redis refused the command");
    pthread_mutex_unlock(&a->mu);
    unavailable(a, ans, why);
}

static void answer_data(async_answer_t *ans, int status, cJSON *data)
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
    answer_error(ans, http, code_buf, cJSON_IsString(msg) ? msg->valuestring : "invalid request",
                 details);
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
        return unavailable(a, ans, "");
    if (idem && !async_idem_ok(idem))
        return answer_error(ans, 400, "invalid_request",
                            "Idempotency-Key must be 1 to 200 characters of [A-Za-z0-9_.:-]", NULL);
    root = cJSON_ParseWithLength(body, len);
    if (!root || !cJSON_IsObject(root)) {
        /* The execute parser words the JSON errors: let it. */
        cJSON_Delete(root);
        request_t r;
        request_error_t perr;
        if (request_parse(body, len, &r, &perr) == 0) {
            request_free(&r);
            return answer_error(ans, 400, "invalid_json", "the body must be a JSON object", NULL);
        }
        return answer_error(ans, perr.http_status, perr.code, perr.message,
                            request_error_details(&perr));
    }
    rc = validate(a, root, &text, &cb, &errobj, &http);
    cJSON_Delete(root);
    if (rc != 0)
        return answer_errobj(ans, http, errobj);
    async_fkey(who->fkey, fk);
    async_new_t n = {text, strlen(text), cb, who->owner, fk, idem};
    if (!(c = borrow(a, err, sizeof err))) {
        free(text);
        free(cb);
        return unavailable(a, ans, err);
    }
    rc = async_store_submit(&a->st, c, &n, 1, ids, status);
    give_back(a, c, rc);
    free(text);
    free(cb);
    if (rc < 0)
        return redis_failed(a, ans, rc);
    atomic_fetch_add(&a->n_submitted, 1);
    cJSON *data = cJSON_CreateObject();
    if (data) {
        cJSON_AddStringToObject(data, "id", ids[0]);
        cJSON_AddStringToObject(data, "status", status[0]);
    }
    snprintf(ans->location, sizeof ans->location, "/api/submissions/%s", ids[0]);
    answer_data(ans, 202, data);
}

void async_http_batch(async_t *a, const async_caller_t *who, const char *body, size_t len,
                      const char *idem, async_answer_t *ans)
{
    cJSON *root = NULL, *subs, *out = NULL, *item;
    async_new_t n[BATCH_MAX];
    char *texts[BATCH_MAX] = {0}, *cbs[BATCH_MAX] = {0}, idems[BATCH_MAX][ASYNC_IDEM_MAX + 8];
    char ids[BATCH_MAX][ASYNC_ID_LEN + 1], status[BATCH_MAX][16], err[256];
    char fk[ASYNC_FKEY_MAX + 1];
    int index[BATCH_MAX], nvalid = 0, count, i = 0, rc = 0;
    redisContext *c;

    memset(ans, 0, sizeof *ans);
    if (!a->enabled)
        return unavailable(a, ans, "");
    if (idem && (!async_idem_ok(idem) || strlen(idem) > ASYNC_IDEM_MAX - 4))
        return answer_error(ans, 400, "invalid_request",
                            "Idempotency-Key must be 1 to 196 characters of [A-Za-z0-9_.:-] on "
                            "a batch",
                            NULL);
    root = cJSON_ParseWithLength(body, len);
    subs = cJSON_GetObjectItemCaseSensitive(root, "submissions");
    if (!root)
        return answer_error(ans, 400, "invalid_json", "the body is not valid JSON", NULL);
    if (!cJSON_IsArray(subs) || (count = cJSON_GetArraySize(subs)) < 1 || count > BATCH_MAX) {
        cJSON_Delete(root);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "field", "submissions");
        cJSON_AddStringToObject(d, "reason", "value");
        return answer_error(ans, 400, "invalid_request",
                            "submissions must be an array of 1 to 100 submissions", d);
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
        } else if (validate(a, item, &texts[nvalid], &cbs[nvalid], &errobj, &http) == 0) {
            if (idem)
                snprintf(idems[nvalid], sizeof idems[nvalid], "%s:%d", idem, i);
            n[nvalid] = (async_new_t){texts[nvalid],
                                      strlen(texts[nvalid]),
                                      cbs[nvalid],
                                      who->owner,
                                      fk,
                                      idem ? idems[nvalid] : NULL};
            index[nvalid++] = i;
        }
        if (errobj)
            cJSON_AddItemToObject(e, "error", errobj);
        cJSON_AddItemToArray(out, e);
        i++;
    }
    cJSON_Delete(root);
    if (nvalid > 0) {
        if (!(c = borrow(a, err, sizeof err))) {
            rc = -EIO;
        } else {
            rc = async_store_submit(&a->st, c, n, nvalid, ids, status);
            give_back(a, c, rc);
        }
    }
    for (int k = 0; k < nvalid; k++) {
        free(texts[k]);
        free(cbs[k]);
    }
    if (rc < 0) {
        cJSON_Delete(out);
        if (!c)
            return unavailable(a, ans, err);
        return redis_failed(a, ans, rc);
    }
    atomic_fetch_add(&a->n_submitted, nvalid);
    for (int k = 0; k < nvalid; k++) {
        cJSON *e = cJSON_GetArrayItem(out, index[k]);
        cJSON_AddStringToObject(e, "id", ids[k]);
        cJSON_AddStringToObject(e, "status", status[k]);
    }
    cJSON *data = cJSON_CreateObject();
    if (data) {
        cJSON_AddNumberToObject(data, "accepted", nvalid);
        cJSON_AddNumberToObject(data, "rejected", i - nvalid);
        cJSON_AddItemToObject(data, "submissions", out);
    } else {
        cJSON_Delete(out);
    }
    answer_data(ans, 202, data);
}

/* ---- status ---- */

static void add_time(cJSON *o, const char *name, int64_t ms)
{
    char iso[40];

    if (ms <= 0) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    async_iso_time(ms, iso, sizeof iso);
    cJSON_AddStringToObject(o, name, iso);
}

cJSON *async_view_json(const char *id, const async_view_t *v)
{
    cJSON *d = cJSON_CreateObject(), *res;
    bool failed = !strcmp(v->status, "failed");

    if (!d)
        return NULL;
    cJSON_AddStringToObject(d, "id", id);
    cJSON_AddStringToObject(d, "status", v->status);
    cJSON_AddNumberToObject(d, "attempts", v->attempts);
    add_time(d, "createdAt", v->created);
    add_time(d, "startedAt", v->started);
    add_time(d, "finishedAt", v->finished);
    res = v->result && !strcmp(v->status, "done") ? cJSON_Parse(v->result) : NULL;
    if (res)
        cJSON_AddItemToObject(d, "result", res);
    else
        cJSON_AddNullToObject(d, "result");
    /* error: why it failed (null otherwise); lastError: a queued one's failed attempt (a
     * retry is waiting for its backoff). */
    if (v->error_code && failed) {
        cJSON *e = cJSON_AddObjectToObject(d, "error");
        cJSON_AddStringToObject(e, "code", v->error_code);
        cJSON_AddStringToObject(e, "message", v->error_message ? v->error_message : "");
    } else {
        cJSON_AddNullToObject(d, "error");
    }
    if (v->error_code && !strcmp(v->status, "queued")) {
        cJSON *e = cJSON_AddObjectToObject(d, "lastError");
        cJSON_AddStringToObject(e, "code", v->error_code);
        cJSON_AddStringToObject(e, "message", v->error_message ? v->error_message : "");
    }
    return d;
}

/* Reads id for who: 0, -ENOENT (unknown, expired or another key's), < 0. */
static int read_view(async_t *a, redisContext *c, const async_caller_t *who, const char *id,
                     async_view_t *v)
{
    int rc = async_store_get(&a->st, c, id, v);

    if (rc == 0 && who->owner && v->owner && strcmp(v->owner, who->owner) != 0 && !who->admin) {
        async_view_free(v);
        return -ENOENT;
    }
    return rc;
}

static void not_found(async_answer_t *ans, const char *id)
{
    char msg[128];

    snprintf(msg, sizeof msg, "no submission %s (unknown, or expired)", id);
    answer_error(ans, 404, "not_found", msg, NULL);
}

static bool bad_id(async_answer_t *ans, const char *id)
{
    if (async_id_ok(id))
        return false;
    answer_error(ans, 400, "invalid_id",
                 "a submission id is 32 characters of [0-9a-f], as POST /api/submissions "
                 "answered",
                 NULL);
    return true;
}

void async_http_get(async_t *a, const async_caller_t *who, const char *id, int wait_s,
                    async_answer_t *ans)
{
    char err[256];
    redisContext *c;
    async_view_t v;
    int rc;
    int64_t deadline = cg_now_ms() + (int64_t)wait_s * 1000;
    bool waiting = false;

    memset(ans, 0, sizeof *ans);
    if (!a->enabled)
        return unavailable(a, ans, "");
    if (bad_id(ans, id))
        return;
    if (!(c = borrow(a, err, sizeof err)))
        return unavailable(a, ans, err);
    if (wait_s > 0 && atomic_fetch_add(&a->waiters, 1) < a->cfg->async_max_waiters)
        waiting = true;
    else if (wait_s > 0)
        atomic_fetch_sub(&a->waiters, 1); /* over the cap: answer at once */
    for (;;) {
        rc = read_view(a, c, who, id, &v);
        if (rc != 0 || !waiting || async_status_final(v.status) || cg_now_ms() >= deadline ||
            atomic_load(&a->draining))
            break;
        async_view_free(&v);
        /* Polling Redis: the outcome may be written by any gateway. */
        struct timespec ts = {0, WAIT_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (waiting)
        atomic_fetch_sub(&a->waiters, 1);
    give_back(a, c, rc);
    if (rc == -ENOENT)
        return not_found(ans, id);
    if (rc < 0)
        return redis_failed(a, ans, rc);
    answer_data(ans, 200, async_view_json(id, &v));
    async_view_free(&v);
}

void async_http_cancel(async_t *a, const async_caller_t *who, const char *id, async_answer_t *ans)
{
    char err[256], status[16], msg[160];
    redisContext *c;
    int rc;

    memset(ans, 0, sizeof *ans);
    if (!a->enabled)
        return unavailable(a, ans, "");
    if (bad_id(ans, id))
        return;
    if (!(c = borrow(a, err, sizeof err)))
        return unavailable(a, ans, err);
    rc = async_store_cancel(&a->st, c, id, who->admin ? NULL : who->owner, status);
    if (rc == 0)
        async_final_written(a, &c, id); /* cancelled is a final state: its callback */
    give_back(a, c, rc);
    if (rc == -ENOENT)
        return not_found(ans, id);
    if (rc == -EBUSY) {
        snprintf(msg, sizeof msg, "submission %s is %s: only a queued submission can be cancelled",
                 id, status);
        return answer_error(ans, 409, "not_cancellable", msg, NULL);
    }
    if (rc < 0)
        return redis_failed(a, ans, rc);
    atomic_fetch_add(&a->n_cancelled, 1);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", id);
    cJSON_AddStringToObject(d, "status", "cancelled");
    answer_data(ans, 200, d);
}

/* ---- admin ---- */

static bool not_admin(const async_caller_t *who, async_answer_t *ans)
{
    if (who->admin)
        return false;
    answer_error(ans, 403, "forbidden",
                 "the admin endpoints need an API key with admin=1 (or, without a keys file, a "
                 "client on loopback)",
                 NULL);
    return true;
}

void async_http_dead_letters(async_t *a, const async_caller_t *who, int limit, async_answer_t *ans)
{
    char err[256];
    redisContext *c;
    int rc = 0;
    cJSON *list, *d;

    memset(ans, 0, sizeof *ans);
    if (not_admin(who, ans))
        return;
    if (!a->enabled)
        return unavailable(a, ans, "");
    if (!(c = borrow(a, err, sizeof err)))
        return unavailable(a, ans, err);
    list = async_store_dead_list(&a->st, c, limit, &rc);
    give_back(a, c, rc);
    if (!list)
        return redis_failed(a, ans, rc);
    d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "count", cJSON_GetArraySize(list));
    cJSON_AddItemToObject(d, "deadLetters", list);
    answer_data(ans, 200, d);
}

void async_http_requeue(async_t *a, const async_caller_t *who, const char *id, async_answer_t *ans)
{
    char err[256], msg[160];
    redisContext *c;
    int rc;

    memset(ans, 0, sizeof *ans);
    if (not_admin(who, ans))
        return;
    if (!a->enabled)
        return unavailable(a, ans, "");
    if (bad_id(ans, id))
        return;
    if (!(c = borrow(a, err, sizeof err)))
        return unavailable(a, ans, err);
    rc = async_store_requeue(&a->st, c, id);
    give_back(a, c, rc);
    if (rc == -ENOENT)
        return not_found(ans, id);
    if (rc == -EBUSY) {
        snprintf(msg, sizeof msg, "submission %s is not a dead letter", id);
        return answer_error(ans, 409, "not_dead_letter", msg, NULL);
    }
    if (rc < 0)
        return redis_failed(a, ans, rc);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", id);
    cJSON_AddStringToObject(d, "status", "queued");
    answer_data(ans, 200, d);
}

/* ---- callbacks ---- */

static void on_callback_done(void *arg, const char *id, bool delivered, int attempts,
                             const char *why)
{
    (void)arg;
    if (delivered)
        log_msg(LOG_INFO, "async: callback of %s delivered (attempt %d)", id, attempts);
    else
        log_msg(LOG_WARN, "async: callback of %s not delivered after %d attempt(s): %s", id,
                attempts, why ? why : "?");
}

void async_final_written(async_t *a, redisContext **c, const char *id)
{
    async_view_t v;
    cJSON *root, *data;
    char *body;
    int rc;

    if (!*c)
        return;
    rc = async_store_get(&a->st, *c, id, &v);
    if (rc == -EIO) {
        redisFree(*c);
        *c = NULL;
    }
    if (rc != 0)
        return;
    if (v.callback_url && (root = cJSON_CreateObject()) != NULL) {
        /* The body is the GET answer of the submission in its final state. */
        cJSON_AddTrueToObject(root, "success");
        if ((data = async_view_json(id, &v)) != NULL)
            cJSON_AddItemToObject(root, "data", data);
        body = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        rc = body
                 ? callback_post(a->cb, v.callback_url, id, body, strlen(body), on_callback_done, a)
                 : -ENOMEM;
        if (rc != 0)
            log_msg(LOG_WARN, "async: callback of %s not queued: %s", id, strerror(-rc));
        free(body);
    }
    async_view_free(&v);
}

/* ---- metrics ---- */

void async_render_metrics(async_t *a, FILE *f)
{
    async_stats_t s;
    char err[256];
    redisContext *c;
    int rc = -EIO;

    if (!a || !a->enabled)
        return;
    fprintf(f, "# HELP codegate_async_redis_up Whether the submission queue's Redis answers.\n"
               "# TYPE codegate_async_redis_up gauge\n");
    if ((c = borrow(a, err, sizeof err)) != NULL) {
        rc = async_store_stats(&a->st, c, &s);
        give_back(a, c, rc);
    }
    fprintf(f, "codegate_async_redis_up %d\n", rc == 0);
    if (rc == 0) {
        fprintf(f,
                "# HELP codegate_async_queue_depth Submissions queued (all gateways), retries "
                "waiting for their backoff included.\n"
                "# TYPE codegate_async_queue_depth gauge\ncodegate_async_queue_depth %lld\n"
                "# HELP codegate_async_delayed Retries waiting for their backoff.\n"
                "# TYPE codegate_async_delayed gauge\ncodegate_async_delayed %lld\n"
                "# HELP codegate_async_oldest_age_seconds Age of the oldest queued "
                "submission.\n"
                "# TYPE codegate_async_oldest_age_seconds gauge\n"
                "codegate_async_oldest_age_seconds %.3f\n"
                "# HELP codegate_async_taken Submissions taken by a gateway (all gateways).\n"
                "# TYPE codegate_async_taken gauge\ncodegate_async_taken %lld\n"
                "# HELP codegate_async_dead_letters_kept Dead letters kept.\n"
                "# TYPE codegate_async_dead_letters_kept gauge\ncodegate_async_dead_letters_kept "
                "%lld\n",
                s.queued + s.delayed, s.delayed, (double)s.oldest_ms / 1000.0, s.running, s.dead);
    }
    fprintf(f,
            "# HELP codegate_async_running Submissions this gateway is running.\n"
            "# TYPE codegate_async_running gauge\ncodegate_async_running %d\n"
            "# HELP codegate_async_waiters Long-poll requests waiting.\n"
            "# TYPE codegate_async_waiters gauge\ncodegate_async_waiters %d\n",
            atomic_load(&a->running), atomic_load(&a->waiters));
    fprintf(f,
            "# HELP codegate_async_submitted_total Submissions accepted by this gateway.\n"
            "# TYPE codegate_async_submitted_total counter\n"
            "codegate_async_submitted_total %lld\n",
            (long long)atomic_load(&a->n_submitted));
    fprintf(f,
            "# HELP codegate_async_completed_total Final states written by this gateway.\n"
            "# TYPE codegate_async_completed_total counter\n"
            "codegate_async_completed_total{status=\"done\"} %lld\n"
            "codegate_async_completed_total{status=\"failed\"} %lld\n"
            "codegate_async_completed_total{status=\"cancelled\"} %lld\n",
            (long long)atomic_load(&a->n_done), (long long)atomic_load(&a->n_failed),
            (long long)atomic_load(&a->n_cancelled));
    fprintf(f,
            "# HELP codegate_async_retries_total Attempts that failed for the service's own "
            "reasons and were scheduled again.\n"
            "# TYPE codegate_async_retries_total counter\ncodegate_async_retries_total %lld\n"
            "# HELP codegate_async_dead_letters_total Submissions this gateway dead-lettered.\n"
            "# TYPE codegate_async_dead_letters_total counter\n"
            "codegate_async_dead_letters_total %lld\n"
            "# HELP codegate_async_claimed_total Submissions claimed from a quiet gateway.\n"
            "# TYPE codegate_async_claimed_total counter\ncodegate_async_claimed_total %lld\n"
            "# HELP codegate_async_handed_back_total Submissions handed back on drain.\n"
            "# TYPE codegate_async_handed_back_total counter\n"
            "codegate_async_handed_back_total %lld\n"
            "# HELP codegate_async_duplicate_results_total Runs whose result was not written: "
            "another run of the same submission had written it.\n"
            "# TYPE codegate_async_duplicate_results_total counter\n"
            "codegate_async_duplicate_results_total %lld\n"
            "# HELP codegate_async_redis_errors_total Redis connections lost.\n"
            "# TYPE codegate_async_redis_errors_total counter\n"
            "codegate_async_redis_errors_total %lld\n",
            (long long)atomic_load(&a->n_retries), (long long)atomic_load(&a->n_dead),
            (long long)atomic_load(&a->n_claimed), (long long)atomic_load(&a->n_handed_back),
            (long long)atomic_load(&a->n_duplicate_results),
            (long long)atomic_load(&a->n_redis_errors));
    callback_metrics(a->cb, f);
}
