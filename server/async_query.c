/*
 * async_query.c - the read side of the asynchronous API: a submission's state (GET with the
 * long-poll), cancel, the dead-letter admin endpoints, and the metrics (see async.h; the submit
 * side and the life cycle are in async.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "async_int.h"
#include "cg_util.h"
#include "log.h"
#include "response.h"

#define WAIT_POLL_MS 200

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
    /* error: why it failed (null unless failed); lastError: a queued one's failed attempt (a
     * retry is waiting for its backoff). */
    if (failed) {
        cJSON *e = cJSON_AddObjectToObject(d, "error");
        cJSON_AddStringToObject(e, "code", v->error_code ? v->error_code : "internal_error");
        cJSON_AddStringToObject(e, "message", v->error_message ? v->error_message : "");
    } else {
        cJSON_AddNullToObject(d, "error");
    }
    /* callback: the delivery of the final state to callbackUrl (pending until delivered or
     * given up; see docs/ASYNC.md). */
    if (v->callback_url) {
        cJSON *cb = cJSON_AddObjectToObject(d, "callback");
        cJSON_AddStringToObject(cb, "status", v->cb_status ? v->cb_status : "pending");
        cJSON_AddNumberToObject(cb, "attempts", v->cb_attempts);
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
    async_answer_error(ans, 404, "not_found", msg, NULL);
}

static bool bad_id(async_answer_t *ans, const char *id)
{
    if (async_id_ok(id))
        return false;
    async_answer_error(ans, 400, "invalid_id",
                       "a submission id is 32 characters of [0-9a-f], as POST /api/submissions "
                       "answered",
                       NULL);
    return true;
}

/* What every query does first, in this order: the async API is on, the id (when one is given)
 * is well-formed, a Redis connection is at hand. NULL when one of them is not, with the answer
 * made; else the connection, to give back with async_give_back(). */
static redisContext *open_query(async_t *a, const char *id, async_answer_t *ans)
{
    char err[256];
    redisContext *c;

    if (!a->enabled) {
        async_unavailable(a, ans, "");
        return NULL;
    }
    if (id && bad_id(ans, id))
        return NULL;
    if (!(c = async_borrow(a, err, sizeof err)))
        async_unavailable(a, ans, err);
    return c;
}

/* Sleeps until this gateway writes a final state, WAIT_POLL_MS at most (the outcome may be
 * written by any gateway: Redis is read again after) or the deadline (monotonic ms). */
static void wait_final(async_t *a, int64_t deadline)
{
    int64_t until = cg_now_ms() + WAIT_POLL_MS;
    struct timespec ts;

    if (until > deadline)
        until = deadline;
    ts.tv_sec = (time_t)(until / 1000);
    ts.tv_nsec = (long)(until % 1000) * 1000000L;
    pthread_mutex_lock(&a->mu);
    unsigned long seen = a->nfinal;
    while (a->nfinal == seen && !atomic_load(&a->draining) &&
           pthread_cond_timedwait(&a->final_cv, &a->mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&a->mu);
}

void async_http_get(async_t *a, const async_caller_t *who, const char *id, int wait_s,
                    async_answer_t *ans)
{
    redisContext *c;
    async_view_t v;
    int rc;
    int64_t deadline = cg_now_ms() + (int64_t)wait_s * 1000;
    bool waiting = false;

    memset(ans, 0, sizeof *ans);
    if (!(c = open_query(a, id, ans)))
        return;
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
        wait_final(a, deadline);
    }
    if (waiting)
        atomic_fetch_sub(&a->waiters, 1);
    async_give_back(a, c, rc);
    if (rc == -ENOENT)
        return not_found(ans, id);
    if (rc < 0)
        return async_redis_failed(a, ans, rc);
    async_answer_data(ans, 200, async_view_json(id, &v));
    async_view_free(&v);
}

void async_http_cancel(async_t *a, const async_caller_t *who, const char *id, async_answer_t *ans)
{
    char status[16], msg[160];
    redisContext *c;
    int rc;

    memset(ans, 0, sizeof *ans);
    if (!(c = open_query(a, id, ans)))
        return;
    rc = async_store_cancel(&a->st, c, id, who->admin ? NULL : who->owner, status);
    if (rc == 0) {
        async_wake_waiters(a);
        async_cb_wake(a); /* cancelled is a final state: its callback */
    }
    async_give_back(a, c, rc);
    if (rc == -ENOENT)
        return not_found(ans, id);
    if (rc == -EBUSY) {
        snprintf(msg, sizeof msg, "submission %s is %s: only a queued submission can be cancelled",
                 id, status);
        return async_answer_error(ans, 409, "not_cancellable", msg, NULL);
    }
    if (rc < 0)
        return async_redis_failed(a, ans, rc);
    atomic_fetch_add(&a->n_cancelled, 1);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", id);
    cJSON_AddStringToObject(d, "status", "cancelled");
    async_answer_data(ans, 200, d);
}

/* ---- admin ---- */

static bool not_admin(const async_caller_t *who, async_answer_t *ans)
{
    if (who->admin)
        return false;
    async_answer_error(
        ans, 403, "forbidden",
        "the admin endpoints need an API key with admin=1 (or, without a keys file, a "
        "client on loopback)",
        NULL);
    return true;
}

void async_http_dead_letters(async_t *a, const async_caller_t *who, int limit, async_answer_t *ans)
{
    redisContext *c;
    int rc = 0;
    cJSON *list, *d;

    memset(ans, 0, sizeof *ans);
    if (not_admin(who, ans))
        return;
    if (!(c = open_query(a, NULL, ans)))
        return;
    list = async_store_dead_list(&a->st, c, limit, &rc);
    async_give_back(a, c, rc);
    if (!list)
        return async_redis_failed(a, ans, rc);
    d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "count", cJSON_GetArraySize(list));
    cJSON_AddItemToObject(d, "deadLetters", list);
    async_answer_data(ans, 200, d);
}

void async_http_requeue(async_t *a, const async_caller_t *who, const char *id, async_answer_t *ans)
{
    char msg[160];
    redisContext *c;
    int rc;

    memset(ans, 0, sizeof *ans);
    if (not_admin(who, ans))
        return;
    if (!(c = open_query(a, id, ans)))
        return;
    rc = async_store_requeue(&a->st, c, id);
    async_give_back(a, c, rc);
    if (rc == -ENOENT)
        return not_found(ans, id);
    if (rc == -EBUSY) {
        snprintf(msg, sizeof msg, "submission %s is not a dead letter", id);
        return async_answer_error(ans, 409, "not_dead_letter", msg, NULL);
    }
    if (rc < 0)
        return async_redis_failed(a, ans, rc);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", id);
    cJSON_AddStringToObject(d, "status", "queued");
    async_answer_data(ans, 200, d);
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
    if ((c = async_borrow(a, err, sizeof err)) != NULL) {
        rc = async_store_stats(&a->st, c, &s);
        async_give_back(a, c, rc);
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
                "%lld\n"
                "# HELP codegate_async_callbacks_owed Callbacks owed (all gateways): final "
                "states whose callback is not delivered or given up yet.\n"
                "# TYPE codegate_async_callbacks_owed gauge\ncodegate_async_callbacks_owed "
                "%lld\n",
                s.queued + s.delayed, s.delayed, (double)s.oldest_ms / 1000.0, s.running, s.dead,
                s.callbacks_owed);
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
            "# HELP codegate_async_throttled_total Runs put back because the API key's "
            "concurrent runs were all taken.\n"
            "# TYPE codegate_async_throttled_total counter\n"
            "codegate_async_throttled_total %lld\n"
            "# HELP codegate_async_duplicate_results_total Runs whose result was not written: "
            "another run of the same submission had written it.\n"
            "# TYPE codegate_async_duplicate_results_total counter\n"
            "codegate_async_duplicate_results_total %lld\n"
            "# HELP codegate_async_redis_errors_total Redis connections lost.\n"
            "# TYPE codegate_async_redis_errors_total counter\n"
            "codegate_async_redis_errors_total %lld\n",
            (long long)atomic_load(&a->n_retries), (long long)atomic_load(&a->n_dead),
            (long long)atomic_load(&a->n_claimed), (long long)atomic_load(&a->n_handed_back),
            (long long)atomic_load(&a->n_throttled),
            (long long)atomic_load(&a->n_duplicate_results),
            (long long)atomic_load(&a->n_redis_errors));
    callback_metrics(a->cb, f);
}
