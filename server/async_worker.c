/*
 * async_worker.c - the worker threads of the asynchronous submissions (see async.h for the
 * semantics, async_int.h for the shared state).
 *
 * Theory of operation
 * -------------------
 * Each worker thread owns one Redis connection and runs one submission at a time:
 *
 *   loop: move due retries back to their streams (one script)
 *         take a new entry, fairness rotation over the keys (XREADGROUP ... >)
 *         or, every half visibility timeout, claim an entry idle too long (XAUTOCLAIM)
 *         or wait on the bell list (BRPOP, 0.5 s) for the next enqueue
 *   run:  start script (status running, attempts + 1, the source) -> request_parse ->
 *         job_new -> pool_submit -> job_wait in slices of a third of the visibility timeout,
 *         renewing the claim (XCLAIM) between slices -> response_job -> the outcome script
 *         (done | retry with backoff | dead letter | handed back on drain).
 *
 * Redis failures: the connection is dropped and re-made with exponential backoff (100 ms ..
 * 5 s); /readyz and the 503s show the last error meanwhile. A run that finished while Redis
 * was unreachable keeps trying to write its outcome until the gateway stops; if it never can,
 * the entry stays unacknowledged and another gateway runs it again after the visibility
 * timeout (at-least-once).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "async_int.h"
#include "cg_util.h"
#include "job.h"
#include "lang.h"
#include "log.h"
#include "request.h"
#include "response.h"

/* A submission whose API key has all its concurrent runs taken waits this long, queued. */
#define THROTTLE_MS 250
/* Consumers of stopped gateways (none pending, idle this long) are deleted every so often. */
#define PRUNE_IDLE_MS (60 * 60 * 1000)
#define PRUNE_EVERY_MS (10 * 60 * 1000)

/* What one attempt came to. */
typedef struct {
    enum { OUT_DONE, OUT_FAILED, OUT_RETRY, OUT_HANDBACK, OUT_THROTTLED } kind;
    char *result; /* OUT_DONE: the data object's JSON */
    char code[32];
    char message[256];
} outcome_t;

static void sleep_ms(async_t *a, int ms)
{
    while (ms > 0 && !atomic_load(&a->stopping)) {
        int step = ms > 100 ? 100 : ms;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* A (re)connection, with backoff; NULL when stopping. */
static redisContext *connect_retry(async_t *a)
{
    char err[256];
    int backoff = 100;

    while (!atomic_load(&a->stopping)) {
        redisContext *c = async_store_connect(&a->st, 2000, err, sizeof err);
        if (c) {
            if (!atomic_exchange(&a->redis_ok, true))
                log_msg(LOG_INFO, "async: Redis reachable again");
            return c;
        }
        async_note_error(a, err);
        sleep_ms(a, backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return NULL;
}

static void drop(async_t *a, redisContext **c)
{
    if (*c) {
        async_note_error(a, (*c)->errstr[0] ? (*c)->errstr : "connection lost");
        redisFree(*c);
        *c = NULL;
    }
}

static void set_out(outcome_t *o, int kind, const char *code, const char *message)
{
    o->kind = kind;
    snprintf(o->code, sizeof o->code, "%s", code);
    snprintf(o->message, sizeof o->message, "%s", message);
}

/* The finished job's answer -> the outcome. */
static void judge_answer(const job_t *job, outcome_t *o)
{
    int status = 0;
    const char *st = NULL;
    char *body = response_job(job, &status, &st);
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");

    if (!root) {
        set_out(o, OUT_RETRY, "internal_error", "out of memory building the result");
    } else if (status == 200 && data) {
        o->kind = OUT_DONE;
        o->result = cJSON_PrintUnformatted(data);
        if (!o->result)
            set_out(o, OUT_RETRY, "internal_error", "out of memory building the result");
    } else {
        const char *c = cJSON_IsString(code) ? code->valuestring : "internal_error";
        const char *m = cJSON_IsString(msg) ? msg->valuestring : "the run failed";
        set_out(o,
                async_handback(c)         ? OUT_HANDBACK
                : async_retryable(status) ? OUT_RETRY
                                          : OUT_FAILED,
                c, m);
    }
    cJSON_Delete(root);
    free(body);
}

/* Runs one attempt through the pool, renewing the claim on e while it runs. */
static void run_job(async_t *a, redisContext **c, const async_entry_t *e, const char *body,
                    outcome_t *o)
{
    request_t r;
    request_error_t perr;
    job_t *job;
    int64_t deadline, slice = a->cfg->async_visibility_ms / 3;
    int rc;

    if (request_parse(body, strlen(body), &r, &perr) != 0) {
        set_out(o, OUT_FAILED, perr.code, perr.message);
        return;
    }
    deadline = cg_now_ms() + job_wait_budget_ms(&r, a->cfg->queue_wait_ms, a->cfg->job_budget_ms);
    job = job_new(&r, (size_t)a->cfg->output_limit_kb * 1024u, a->cfg->job_budget_ms);
    if (!job) {
        set_out(o, OUT_RETRY, "internal_error", "out of memory");
        return;
    }
    rc = pool_submit(a->pool, job);
    if (rc != 0) {
        if (rc == -EAGAIN)
            set_out(o, OUT_RETRY, "overloaded", "too many requests were waiting for a slot");
        else
            set_out(o, OUT_HANDBACK, "shutting_down", "the gateway is shutting down");
        job_unref(job);
        return;
    }
    for (;;) {
        int64_t now = cg_now_ms(), until = now + slice < deadline ? now + slice : deadline;
        if (job_wait(job, until))
            break;
        if (cg_now_ms() >= deadline) {
            pool_cancel(a->pool, job);
            set_out(o, OUT_RETRY, "executor_unavailable", "the executor did not answer in time");
            job_unref(job);
            return;
        }
        if (!*c)
            *c = async_store_connect(&a->st, 1000, o->message, sizeof o->message);
        if (*c && async_store_heartbeat(&a->st, *c, e) == -EIO)
            drop(a, c);
    }
    judge_answer(job, o);
    job_unref(job);
}

/* Writes the outcome of an attempt. 0, or -EIO (the caller reconnects and tries again). */
static int write_outcome(async_t *a, redisContext *c, const async_entry_t *e, int attempt,
                         const outcome_t *o, bool *final_written)
{
    int rc;

    *final_written = false;
    switch (o->kind) {
    case OUT_DONE:
    case OUT_FAILED:
        rc = async_store_finish(&a->st, c, e->id, e, o->kind == OUT_DONE ? "done" : "failed",
                                o->result, o->kind == OUT_DONE ? "" : o->code,
                                o->kind == OUT_DONE ? "" : o->message, false);
        if (rc == 1) {
            *final_written = true;
            atomic_fetch_add(o->kind == OUT_DONE ? &a->n_done : &a->n_failed, 1);
        } else if (rc == 0) {
            atomic_fetch_add(&a->n_duplicate_results, 1);
        }
        return rc < 0 ? rc : 0;
    case OUT_RETRY:
        if (attempt >= a->cfg->async_max_attempts) {
            char why[320];
            snprintf(why, sizeof why, "gave up after %d attempts: %s", attempt, o->message);
            rc = async_store_finish(&a->st, c, e->id, e, "failed", "", o->code, why, true);
            if (rc == 1) {
                *final_written = true;
                atomic_fetch_add(&a->n_dead, 1);
                atomic_fetch_add(&a->n_failed, 1);
                log_msg(LOG_WARN, "async: submission %s dead-lettered: %s", e->id, why);
            }
            return rc < 0 ? rc : 0;
        }
        rc = async_store_retry(&a->st, c, e,
                               async_epoch_ms() +
                                   async_backoff_ms(attempt, a->cfg->async_backoff_ms,
                                                    a->cfg->async_backoff_max_ms, (uint32_t)rand()),
                               o->code, o->message, false);
        if (rc == 1)
            atomic_fetch_add(&a->n_retries, 1);
        return rc < 0 ? rc : 0;
    case OUT_HANDBACK:
        rc = async_store_retry(&a->st, c, e, async_epoch_ms(), o->code, o->message, true);
        if (rc == 1)
            atomic_fetch_add(&a->n_handed_back, 1);
        return rc < 0 ? rc : 0;
    case OUT_THROTTLED:
        rc = async_store_retry(&a->st, c, e, async_epoch_ms() + THROTTLE_MS, o->code, o->message,
                               true);
        if (rc == 1)
            atomic_fetch_add(&a->n_throttled, 1);
        return rc < 0 ? rc : 0;
    }
    return 0;
}

/* One taken entry, from start to its outcome written. < 0 only for -EIO with *c dropped. */
static int run_entry(async_t *a, redisContext **c, async_entry_t *e)
{
    outcome_t o;
    char *body = NULL;
    int attempt = 0, rc;
    bool final_written = false;

    memset(&o, 0, sizeof o);
    rc = async_store_start(&a->st, *c, e, a->cfg->async_max_attempts, &body, &attempt);
    if (rc < 0)
        return rc;
    if (rc == ASYNC_START_SKIP)
        return 0;
    if (rc == ASYNC_START_EXHAUSTED) {
        char why[160];
        snprintf(why, sizeof why,
                 "gave up after %d attempts: the gateways running it stopped or were lost",
                 attempt);
        rc = async_store_finish(&a->st, *c, e->id, e, "failed", "", "executor_unavailable", why,
                                true);
        if (rc == 1) {
            atomic_fetch_add(&a->n_dead, 1);
            atomic_fetch_add(&a->n_failed, 1);
            async_wake_waiters(a);
            async_cb_wake(a);
        }
        return rc < 0 ? rc : 0;
    }
    /* The key's concurrent-run quota, as for /api/code/execute: when its places are taken,
     * the submission goes back to the queue for a moment (not an attempt). */
    const apikey_t *k = apikeys_find(a->keys, e->owner);
    apikey_quota_t q;
    bool acquired = k && apikeys_acquire(a->keys, k, &q) == 0;
    atomic_fetch_add(&a->running, 1);
    if (k && !acquired) {
        set_out(&o, OUT_THROTTLED, "concurrency_limited", "the API key's runs are all taken");
    } else {
        run_job(a, c, e, body, &o);
        if (acquired)
            apikeys_release(a->keys, k);
    }
    free(body);
    /* The outcome must reach Redis: retry the write until it does or the gateway stops (then
     * the entry stays pending and is claimed elsewhere). */
    for (int backoff = 100; !atomic_load(&a->stopping) || *c;
         backoff = backoff * 2 > 5000 ? 5000 : backoff * 2) {
        if (!*c && !(*c = connect_retry(a)))
            break;
        if (write_outcome(a, *c, e, attempt, &o, &final_written) == 0)
            break;
        drop(a, c);
        sleep_ms(a, backoff);
    }
    atomic_fetch_sub(&a->running, 1);
    free(o.result);
    if (final_written) {
        async_wake_waiters(a);
        async_cb_wake(a);
    }
    return 0;
}

/* The next entry to run: a new one by the fairness rotation, else (now and then) a claim. */
static int next_entry(async_t *a, redisContext *c, async_entry_t *e, int64_t *next_claim)
{
    char last[ASYNC_FKEY_MAX + 1];
    int rc;

    pthread_mutex_lock(&a->mu);
    memcpy(last, a->last_fk, sizeof last);
    pthread_mutex_unlock(&a->mu);
    rc = async_store_take(&a->st, c, last, e);
    if (rc == 1) {
        pthread_mutex_lock(&a->mu);
        memcpy(a->last_fk, last, sizeof last);
        pthread_mutex_unlock(&a->mu);
        return 1;
    }
    if (rc != 0 || cg_now_ms() < *next_claim)
        return rc;
    /* Now and then (one worker of the gateway), forget the consumers of stopped gateways. */
    int64_t due = atomic_load(&a->next_prune), now = cg_now_ms();
    if (now >= due && atomic_compare_exchange_strong(&a->next_prune, &due, now + PRUNE_EVERY_MS) &&
        async_store_prune_consumers(&a->st, c, PRUNE_IDLE_MS) == -EIO)
        return -EIO;
    *next_claim = cg_now_ms() + a->cfg->async_visibility_ms / 2;
    rc = async_store_claim(&a->st, c, a->cfg->async_visibility_ms, e);
    if (rc == 1) {
        atomic_fetch_add(&a->n_claimed, 1);
        log_msg(LOG_INFO, "async: claimed submission %s (its gateway went quiet)", e->id);
    }
    return rc;
}

void *async_worker_main(void *arg)
{
    async_t *a = arg;
    redisContext *c = NULL;
    int64_t next_claim = 0;

    while (!atomic_load(&a->stopping) && !atomic_load(&a->draining)) {
        async_entry_t e;
        int rc;
        if (!c && !(c = connect_retry(a)))
            break;
        rc = async_store_move_due(&a->st, c);
        if (rc >= 0)
            rc = next_entry(a, c, &e, &next_claim);
        if (rc == 1) /* also when the drain began meanwhile: it waits for running ones */
            rc = run_entry(a, &c, &e);
        else if (rc == 0)
            rc = async_store_wait_bell(&a->st, c, 500);
        if (rc == -EIO || (c && c->err)) {
            atomic_fetch_add(&a->n_redis_errors, 1);
            drop(a, &c);
        }
    }
    if (c)
        redisFree(c);
    return NULL;
}
