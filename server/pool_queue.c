/*
 * pool_queue.c - the bounded job queue in front of the executor connections: jobs wait here (in
 * FIFO order, a retried job at the head) until an idle connection of their language takes them,
 * or fail when they waited longer than cfg->queue_wait_ms (see pool_int.h for the locks). A job
 * of a language the runtime does not offer leaves at the next pass, with 400.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cg_util.h"
#include "log.h"
#include "pool_int.h"

void pool_queue_push_locked(pool_t *p, job_t *job)
{
    job->next = NULL;
    if (p->q.tail)
        p->q.tail->next = job;
    else
        p->q.head = job;
    p->q.tail = job;
    p->q.len++;
}

void pool_queue_push_front_locked(pool_t *p, job_t *job)
{
    job->next = p->q.head;
    p->q.head = job;
    if (!p->q.tail)
        p->q.tail = job;
    p->q.len++;
}

/* Unlinks job (its predecessor is prev, NULL at the head). pool->mu held. */
static void unlink_locked(pool_t *p, job_t *prev, job_t *job)
{
    if (prev)
        prev->next = job->next;
    else
        p->q.head = job->next;
    if (p->q.tail == job)
        p->q.tail = prev;
    p->q.len--;
    job->next = NULL;
}

static bool cancel_requested(job_t *job)
{
    bool cancel;

    pthread_mutex_lock(&job->mu);
    cancel = job->cancel_requested;
    pthread_mutex_unlock(&job->mu);
    return cancel;
}

/* A job leaves the queue unserved: say why, from what the pool knows about its language. */
static void fail_expired(pool_t *p, job_t *job, const pool_fail_t *fail)
{
    pool_lang_info_t info;

    if (fail->on) {
        job_end(job, 503, fail->code, fail->msg);
        return;
    }
    if (!atomic_load(&p->offered[lang_index(job->req.language)])) {
        char msg[128];
        snprintf(msg, sizeof msg, "this gateway has no executors for %s", job->req.language);
        job_end(job, 400, "unsupported_language", msg);
        return;
    }
    pthread_mutex_lock(&p->mu);
    info = p->snap[lang_index(job->req.language)];
    pthread_mutex_unlock(&p->mu);
    if (info.connections > 0 && job->on_event)
        job_end(job, 503, "overloaded",
                "the executor slots interactive sessions may use for this language "
                "stayed busy; try again shortly");
    else if (info.connections > 0)
        job_end(job, 503, "overloaded",
                "every executor for this language stayed busy; try again shortly");
    else
        job_end(job, 503, "executor_unavailable",
                "no executor for this language is available right now");
}

void pool_queue_expire(pool_t *p, int64_t now)
{
    job_t *prev = NULL, *job, *next, *expired = NULL;
    pool_fail_t fail;

    pthread_mutex_lock(&p->mu);
    fail = p->fail;
    for (job = p->q.head; job; job = next) {
        next = job->next;
        if (!fail.on && !cancel_requested(job) && now < job->deadline_ms &&
            atomic_load(&p->offered[lang_index(job->req.language)])) {
            prev = job;
            continue;
        }
        unlink_locked(p, prev, job);
        job->next = expired;
        expired = job;
    }
    pthread_mutex_unlock(&p->mu);
    for (job = expired; job; job = next) {
        next = job->next;
        job->next = NULL;
        fail_expired(p, job, &fail);
    }
}

/* The idle connection of the endpoint of this language with the fewest busy ones, or NULL. */
static conn_t *idle_conn_for(pool_t *p, int lang)
{
    conn_t *best = NULL;
    int best_busy = 1 << 30;
    /* Ties go round: the scan starts one endpoint further each time, so requests sent one
     * after another reach every executor (a new or restarted one is used at once). */
    int start = p->neps ? (int)(p->rr++ % (unsigned)p->neps) : 0;

    for (int j = 0; j < p->neps; j++) {
        endpoint_t *ep = &p->eps[(start + j) % p->neps];
        conn_t *idle = NULL;
        int busy = 0;
        if (!ep->up || ep->lang != lang)
            continue;
        for (int k = 0; k < ep->nconns; k++) {
            if (ep->conns[k].state == CONN_BUSY)
                busy++;
            else if (ep->conns[k].state == CONN_READY && !idle)
                idle = &ep->conns[k];
        }
        /* Slots out of service (or beyond what the executor has) take no jobs; neither does a
         * draining executor. */
        if (ep->draining || busy >= pool_ep_capacity(ep))
            continue;
        /* Spread load: the endpoint with the fewest busy connections wins. */
        if (idle && busy < best_busy) {
            best = idle;
            best_busy = busy;
        }
    }
    return best;
}

/*
 * Interactive sessions may hold at most cfg->session_share percent of a language's connected
 * executor connections (rounded down): a session mostly waits for its user, and batch runs
 * must not queue behind programs that wait for input. An interactive job beyond the share waits
 * in the queue like any job (and fails with 503 overloaded after the queue deadline).
 */
static bool session_room(pool_t *p, int lang)
{
    int connected = 0, interactive = 0;

    for (int i = 0; i < p->neps; i++) {
        endpoint_t *ep = &p->eps[i];
        if (!ep->up || ep->lang != lang || ep->draining)
            continue;
        for (int k = 0; k < ep->nconns; k++) {
            conn_t *c = &ep->conns[k];
            if (c->state == CONN_READY || c->state == CONN_BUSY)
                connected++;
            if (c->state == CONN_BUSY && c->job && c->job->on_event)
                interactive++;
        }
    }
    return interactive < connected * p->cfg->session_share / 100;
}

/* The job goes onto connection c: send its EXECUTE frame. pool->mu held; dropped around the
 * session's callback and a failure. */
static void start_on_locked(pool_t *p, job_t *job, conn_t *c)
{
    job_set_state(job, JOB_RUNNING);
    job->attempts++;
    job->t_started = cg_now_ms();
    snprintf(job->executor, sizeof job->executor, "%s", c->ep->info.id);
    snprintf(job->lang_version, sizeof job->lang_version, "%s", c->ep->version);
    c->job = job;
    c->state = CONN_BUSY;
    if (job->on_event) {
        cg_msg_t started;
        memset(&started, 0, sizeof started);
        started.type = CG_MSG_EXECUTE;
        started.id = job->id;
        pthread_mutex_unlock(&p->mu);
        job->on_event(job->event_arg, job, &started);
        pthread_mutex_lock(&p->mu);
    }
    if (pool_frame_send(c, job->frame, job->frame_len) != 0) {
        c->job = NULL;
        c->state = CONN_READY;
        pthread_mutex_unlock(&p->mu);
        job_end(job, 500, "internal_error", "out of memory");
        pthread_mutex_lock(&p->mu);
    }
}

void pool_queue_dispatch(pool_t *p)
{
    job_t *prev = NULL, *job, *next;
    bool changed = false;

    pthread_mutex_lock(&p->mu);
    for (job = p->q.head; job; job = next) {
        int lang = lang_index(job->req.language);
        conn_t *c;
        next = job->next;
        c = job->on_event && !session_room(p, lang) ? NULL : idle_conn_for(p, lang);
        if (!c) {
            prev = job;
            continue;
        }
        unlink_locked(p, prev, job);
        start_on_locked(p, job, c);
        /* Only the pool thread removes jobs: `next` is still queued (or NULL, and jobs queued
         * meanwhile wait for the next wake-up). */
        changed = true;
    }
    pthread_mutex_unlock(&p->mu);
    if (changed)
        pool_conn_snapshot(p);
}
