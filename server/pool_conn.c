/*
 * pool_conn.c - the life of one connection to an executor, on the pool thread:
 *
 *   DOWN --(backoff elapsed)--> CONNECTING --(HELLO)--> READY <--(DONE)-- BUSY
 *     ^                             |                     |  --(job)-->    |
 *     +------ closed, failed, no answer for POOL_PINGS_MISSED pings ------+
 *
 * Reconnects back off exponentially (POOL_BACKOFF_MIN_MS .. POOL_BACKOFF_MAX_MS) and reset on
 * HELLO. A job on a connection that went away is retried elsewhere when nothing of it came back
 * yet (at most POOL_MAX_ATTEMPTS sends in all), else it fails with 503 executor_lost (pool.h
 * lists what is retried). A draining endpoint's closed connections stay DOWN while another of
 * its connections is open. Also here: the endpoints announced by the runtime (slots of
 * endpoints announced down are reused), and the per-language snapshot other threads read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cg_util.h"
#include "log.h"
#include "pool_int.h"

static const lws_retry_bo_t conn_retry = {
    .secs_since_valid_ping = 0, /* we ping at the application level (PING/PONG frames) */
    .secs_since_valid_hangup = 0,
};

/* The connection carrying `job` is gone. Retry elsewhere when nothing came back yet. */
static void job_dropped(pool_t *p, job_t *job, const char *why)
{
    bool cancel;

    pthread_mutex_lock(&job->mu);
    cancel = job->cancel_requested;
    pthread_mutex_unlock(&job->mu);
    if (!job->got_output && job->attempts < POOL_MAX_ATTEMPTS && !cancel) {
        pthread_mutex_lock(&p->mu);
        if (!p->fail.on) {
            job_set_state(job, JOB_QUEUED);
            pool_queue_push_front_locked(p, job);
            pthread_mutex_unlock(&p->mu);
            log_msg(LOG_WARN, "job %s: executor connection lost (%s), retrying", job->id, why);
            return;
        }
        pthread_mutex_unlock(&p->mu);
    }
    log_msg(LOG_WARN, "job %s: executor connection lost (%s) after %s: failing it", job->id, why,
            job->got_output ? "output came back" : "the last attempt");
    job_end(job, 503, "executor_lost",
            "the connection to the executor was lost while the program was running; the "
            "request may be sent again");
}

static void schedule_retry(conn_t *c)
{
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
    if (c->backoff_ms > POOL_BACKOFF_MAX_MS)
        c->backoff_ms = POOL_BACKOFF_MAX_MS;
    c->next_try_ms = cg_now_ms() + c->backoff_ms;
}

/* Forgets the connection's lws handle, frames and partial input; returns its job. */
static job_t *conn_reset(conn_t *c)
{
    job_t *job = c->job;

    c->wsi = NULL;
    c->state = CONN_DOWN;
    c->job = NULL;
    c->hello = false;
    c->rx_paused = false;
    c->rx.len = 0;
    pool_raw_reset(c);
    frameq_clear(&c->out);
    return job;
}

void pool_conn_down(pool_t *p, conn_t *c, const char *why)
{
    job_t *job = conn_reset(c);

    if (c->ep->draining && !c->ep->drained_out && !pool_conn_any_open(c->ep, NULL)) {
        c->ep->drained_out = true;
        log_msg(LOG_INFO, "executor %s finished draining: every connection closed", c->ep->info.id);
    }

    schedule_retry(c);
    if (job)
        job_dropped(p, job, why);
}

void pool_conn_close(conn_t *c)
{
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

const char *pool_conn_host(const endpoint_t *ep)
{
    if (ep->info.host[0])
        return ep->info.host; /* the configured name */
    return ep->info.port ? ep->info.address : "localhost";
}

void pool_conn_connect(pool_t *p, conn_t *c)
{
    struct lws_client_connect_info ci;
    endpoint_t *ep = c->ep;

    memset(&ci, 0, sizeof ci);
    ci.context = p->ctx;
    ci.address = ep->info.address;
    ci.port = ep->info.port;
    ci.path = "/";
    ci.host = pool_conn_host(ep);
    c->raw = !ep->info.tls;
    if (c->raw) {
        /* Plain: the pool speaks WebSocket itself over a raw socket (pool_raw.c). */
        ci.method = "RAW";
        pool_raw_prepare(c);
    } else {
        /* TLS: lws' ws client, verified against --executor-ca-file and the host name. */
        ci.ssl_connection = LCCSCF_USE_SSL;
        ci.origin = ci.host;
        ci.protocol = CG_PROTO_NAME;
    }
    c->rx.len = 0;
    ci.local_protocol_name = "codegate-pool";
    ci.userdata = c;
    ci.retry_and_idle_policy = &conn_retry;
    /* No pwsi: c->wsi is set from the return value, and a callback that arrives before it (a
     * synchronous connect error) is recognised by state CONNECTING with wsi NULL. */
    c->wsi = NULL;
    c->state = CONN_CONNECTING;
    c->last_rx_ms = cg_now_ms();
    struct lws *wsi = lws_client_connect_via_info(&ci);
    if (c->state != CONN_CONNECTING)
        return; /* failed synchronously, already handled */
    if (!wsi) {
        c->state = CONN_DOWN;
        schedule_retry(c);
        return;
    }
    c->wsi = wsi;
}

void pool_conn_check(pool_t *p, conn_t *c, int64_t now)
{
    endpoint_t *ep = c->ep;
    bool fail_all;

    if (!ep->up)
        return;
    if (ep->leaving) {
        if (!pool_conn_any_open(ep, NULL)) {
            ep->leaving = false;
            ep->up = false; /* its slot may be reused */
            pool_conn_snapshot(p);
        }
        if (c->state == CONN_DOWN)
            return;
    }
    if (c->state == CONN_DOWN) {
        /* A draining executor is still finishing: do not open connections it would refuse. */
        if (now >= c->next_try_ms && !(ep->draining && !ep->drained_out))
            pool_conn_connect(p, c);
        return;
    }
    if (!c->wsi)
        return;
    if (c->job) {
        bool cancel;
        pthread_mutex_lock(&p->mu);
        fail_all = p->fail.on;
        pthread_mutex_unlock(&p->mu);
        pthread_mutex_lock(&c->job->mu);
        cancel = c->job->cancel_requested;
        pthread_mutex_unlock(&c->job->mu);
        if ((cancel || fail_all) && !c->job->cancel_sent) {
            c->job->cancel_sent = true;
            pool_frame_send_str(c, cg_encode_simple(CG_MSG_CANCEL, c->job->id));
        }
    }
    if (c->rx_paused)
        c->last_rx_ms = now; /* we stopped reading on purpose: no answer is expected */
    if (now - c->last_rx_ms > (int64_t)POOL_PINGS_MISSED * p->cfg->ping_ms + 1000) {
        if (c->state == CONN_CONNECTING) /* every retry of a stalled executor: rate-limited */
            pool_conn_log_error(ep, "no answer to the WebSocket upgrade (a stalled executor?)");
        else
            log_msg(LOG_WARN, "executor %s: no answer for %lld ms, closing connection", ep->info.id,
                    (long long)(now - c->last_rx_ms));
        if (p->unhealthy_cb && now - ep->last_unhealthy_ms > 10000) {
            ep->last_unhealthy_ms = now;
            p->unhealthy_cb(p->cb_arg, ep->info.id);
        }
        /* Detached at once: lws may free a connection it was still opening without a callback
         * that names it, and c->wsi must never point at a freed handle. */
        pool_conn_close(c);
        pool_conn_down(p, c, "no answer");
        return;
    }
    if (c->state != CONN_CONNECTING && now - c->last_ping_ms >= p->cfg->ping_ms) {
        c->last_ping_ms = now;
        pool_frame_send_str(c, cg_encode_ping(CG_MSG_PING, ++p->seq));
    }
}

conn_t *pool_conn_of_job(pool_t *p, const job_t *job)
{
    for (int i = 0; i < p->neps; i++)
        for (int k = 0; k < p->eps[i].nconns; k++)
            if (p->eps[i].conns[k].job == job && p->eps[i].conns[k].wsi)
                return &p->eps[i].conns[k];
    return NULL;
}

int pool_ep_capacity(const endpoint_t *ep)
{
    int n = ep->exec_slots > 0 && ep->exec_slots < ep->nconns ? ep->exec_slots : ep->nconns;

    return n - ep->slots_down > 0 ? n - ep->slots_down : 0;
}

bool pool_conn_any_open(const endpoint_t *ep, const conn_t *except)
{
    for (int k = 0; k < ep->nconns; k++)
        if (&ep->conns[k] != except && ep->conns[k].state != CONN_DOWN)
            return true;
    return false;
}

void pool_conn_set_draining(pool_t *p, endpoint_t *ep, const char *why)
{
    int busy = 0;

    if (ep->draining)
        return;
    ep->draining = true;
    for (int k = 0; k < ep->nconns; k++)
        busy += ep->conns[k].state == CONN_BUSY;
    log_msg(LOG_INFO, "executor %s is draining (%s): no new jobs there; %d running finish there",
            ep->info.id, why, busy);
    pool_conn_snapshot(p);
}

/* One endpoint's share of its language's snapshot. */
static void snapshot_endpoint(const endpoint_t *ep, pool_lang_info_t *s)
{
    int connected = 0, busy = 0;

    s->endpoints++;
    if (ep->version[0])
        snprintf(s->version, sizeof s->version, "%s", ep->version);
    for (int k = 0; k < ep->nconns; k++) {
        if (ep->conns[k].state == CONN_READY || ep->conns[k].state == CONN_BUSY)
            connected++;
        if (ep->conns[k].state == CONN_BUSY)
            busy++;
    }
    if (ep->draining) {
        s->draining += connected > 0;
        return;
    }
    /* Only executors in service count towards what can run (and /readyz). */
    s->slots_down += ep->slots_down;
    s->connections += connected;
    s->busy += busy;
    if (connected == 0)
        return;
    s->usable++;
    s->slots += pool_ep_capacity(ep);
}

void pool_conn_snapshot(pool_t *p)
{
    pool_lang_info_t snap[REQUEST_NLANG];

    memset(snap, 0, sizeof snap);
    for (int i = 0; i < p->neps; i++) {
        endpoint_t *ep = &p->eps[i];
        if (!ep->up || ep->lang < 0)
            continue;
        snapshot_endpoint(ep, &snap[ep->lang]);
    }
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < REQUEST_NLANG; i++) {
        snap[i].offered = atomic_load(&p->offered[i]);
        /* Keep the last known version even when no executor is connected right now. */
        if (!snap[i].version[0])
            memcpy(snap[i].version, p->snap[i].version, sizeof snap[i].version);
    }
    memcpy(p->snap, snap, sizeof snap);
    pthread_mutex_unlock(&p->mu);
}

/* ---- endpoint updates (from the runtime thread, applied on the pool thread) ---- */

static void endpoint_close_all(pool_t *p, endpoint_t *ep)
{
    for (int k = 0; k < ep->nconns; k++) {
        conn_t *c = &ep->conns[k];
        if (c->wsi) {
            /* Detach now: the job must not wait for the asynchronous close. */
            pool_conn_close(c);
            job_t *job = conn_reset(c);
            if (job)
                job_dropped(p, job, "executor replaced");
        }
        c->backoff_ms = 0;
        c->next_try_ms = 0;
    }
}

/* A slot for a new endpoint: one announced down before (its connections are closed; lws
 * callbacks of their old handles no longer match c->wsi), else a fresh one. NULL when full. */
static endpoint_t *endpoint_slot(pool_t *p)
{
    endpoint_t *ep;

    for (int i = 0; i < p->neps; i++)
        if (!p->eps[i].up) {
            ep = &p->eps[i];
            conn_t *conns = ep->conns;
            int nconns = ep->nconns;
            memset(ep, 0, sizeof *ep);
            ep->conns = conns;
            ep->nconns = nconns;
            return ep;
        }
    if (p->neps == POOL_MAX_ENDPOINTS)
        return NULL;
    ep = &p->eps[p->neps];
    memset(ep, 0, sizeof *ep);
    ep->nconns = p->cfg->slots;
    ep->conns = calloc((size_t)ep->nconns, sizeof *ep->conns);
    if (!ep->conns)
        return NULL;
    p->neps++;
    for (int k = 0; k < ep->nconns; k++)
        ep->conns[k].ep = ep;
    return ep;
}

/* Announced down, but the executor may still be finishing (finish_on_down): close the idle
 * connections, let the busy ones finish (pool_conn_job_done closes them). True when it left
 * that way, false when nothing ran there (the caller closes everything). */
static bool endpoint_leave(endpoint_t *ep, const runtime_endpoint_t *down)
{
    int busy = 0;

    for (int k = 0; k < ep->nconns; k++)
        busy += ep->conns[k].state == CONN_BUSY && ep->conns[k].job;
    if (!down->finish_on_down || busy == 0)
        return false;
    for (int k = 0; k < ep->nconns; k++) {
        conn_t *c = &ep->conns[k];
        if (c->state != CONN_BUSY || !c->job) {
            pool_conn_close(c);
            conn_reset(c);
        }
    }
    ep->leaving = true;
    ep->draining = true;
    log_msg(LOG_INFO, "executor %s is gone from its name: %d job(s) running there may finish",
            ep->info.id, busy);
    return true;
}

void pool_conn_log_error(endpoint_t *ep, const char *why)
{
    int64_t now = cg_now_ms();

    if (strcmp(why, ep->last_err) == 0 && now - ep->last_err_ms < POOL_ERR_LOG_MS) {
        log_msg(LOG_DEBUG, "executor %s: connect failed: %s", ep->info.id, why);
        return;
    }
    snprintf(ep->last_err, sizeof ep->last_err, "%s", why);
    ep->last_err_ms = now;
    log_msg(LOG_WARN, "executor %s (%s): cannot connect: %s", ep->info.id, ep->info.where, why);
}

void pool_conn_job_done(pool_t *p, conn_t *c)
{
    if (!c->ep->leaving)
        return;
    pool_conn_close(c);
    conn_reset(c);
    pool_conn_snapshot(p);
}

static void apply_update(pool_t *p, const update_t *u)
{
    endpoint_t *ep = NULL;

    for (int i = 0; i < p->neps; i++)
        if (strcmp(p->eps[i].info.id, u->ep.id) == 0)
            ep = &p->eps[i];
    if (!ep && !u->up)
        return;
    if (ep && !u->up && ep->up && endpoint_leave(ep, &u->ep))
        return;
    if (ep && u->up && ep->leaving) {
        /* Back in the name before its jobs finished: in service again, nothing to close. */
        ep->leaving = false;
        ep->draining = false;
        ep->drained_out = false;
        ep->info = u->ep;
        return;
    }
    if (!ep && !(ep = endpoint_slot(p))) {
        log_msg(LOG_ERROR, "pool: more than %d executors (or out of memory), ignoring %s",
                POOL_MAX_ENDPOINTS, u->ep.id);
        return;
    }
    endpoint_close_all(p, ep);
    ep->info = u->ep;
    ep->lang = lang_index(u->ep.language);
    ep->up = u->up;
    ep->draining = false;
    ep->drained_out = false;
    ep->slots_down = 0;
    for (int k = 0; k < ep->nconns; k++)
        ep->conns[k].ep = ep;
}

void pool_conn_apply_updates(pool_t *p)
{
    update_t *list, *u, *rev = NULL;

    pthread_mutex_lock(&p->mu);
    list = p->updates;
    p->updates = NULL;
    pthread_mutex_unlock(&p->mu);
    /* The list is newest first: reverse it to apply in order. */
    while (list) {
        u = list->next;
        list->next = rev;
        rev = list;
        list = u;
    }
    while (rev) {
        u = rev->next;
        apply_update(p, rev);
        free(rev);
        rev = u;
    }
}
