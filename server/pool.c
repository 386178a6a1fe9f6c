/*
 * pool.c - persistent WebSocket connections to the executors and the job queue (see pool.h for
 * the theory of operation).
 *
 * Locking: pool->mu protects the queue, the pending endpoint updates, the per-language snapshot
 * and the flags set by other threads. Everything else (endpoints, connections, their lws
 * handles) belongs to the pool thread alone. job->mu is taken only inside job_* helpers and for
 * cancel_requested; never take pool->mu while holding job->mu.
 */
#include "pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cg_util.h"
#include "judge.h"
#include "log.h"

#define POOL_MAX_ENDPOINTS 64
#define POOL_BACKOFF_MIN_MS 100
#define POOL_BACKOFF_MAX_MS 2000
#define POOL_TICK_MS 50
#define POOL_RX_MAX CG_MAX_FRAME_BYTES

typedef struct outframe {
    struct outframe *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE headroom, then the payload */
} outframe_t;

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_READY, CONN_BUSY } conn_state_t;

typedef struct endpoint endpoint_t;

typedef struct {
    endpoint_t *ep;
    struct lws *wsi;
    conn_state_t state;
    job_t *job;
    outframe_t *out_head, *out_tail;
    char *rx;
    size_t rx_len, rx_cap;
    int64_t next_try_ms;
    int backoff_ms;
    int64_t last_rx_ms;
    int64_t last_ping_ms;
    bool hello;
    bool rx_paused; /* lws_rx_flow_control(0) in force for a session's backpressure */
} conn_t;

struct endpoint {
    runtime_endpoint_t info;
    bool up;
    int lang; /* index in request_languages */
    conn_t *conns;
    int nconns;
    char version[32];
    int64_t last_unhealthy_ms;
    int slots_down; /* its slots out of service (from its PONGs): fewer jobs go there */
};

typedef struct outbox {
    struct outbox *next;
    job_t *job; /* referenced */
    char *frame;
} outbox_t;

typedef struct update {
    struct update *next;
    runtime_endpoint_t ep;
    bool up;
} update_t;

struct pool {
    const config_t *cfg;
    pool_unhealthy_cb unhealthy_cb;
    void *cb_arg;
    struct lws_context *ctx;
    pthread_t thread;
    bool thread_started;
    lws_sorted_usec_list_t tick;

    /* pool thread only */
    endpoint_t eps[POOL_MAX_ENDPOINTS];
    int neps;
    int64_t seq;

    pthread_mutex_t mu;
    job_t *q_head, *q_tail; /* queued jobs, FIFO */
    int q_len;
    job_t **running; /* jobs on connections, for pool_fail_all; pool thread */
    update_t *updates;
    outbox_t *outbox; /* frames for running jobs, from other threads (sessions) */
    bool stopping;    /* pool thread must exit */
    bool refusing;    /* pool_submit answers -ESHUTDOWN */
    bool fail_all;
    char fail_code[32], fail_msg[128];
    pool_lang_info_t snap[REQUEST_NLANG];
};

static const lws_retry_bo_t conn_retry = {
    .secs_since_valid_ping = 0, /* we ping at the application level (PING/PONG frames) */
    .secs_since_valid_hangup = 0,
};

/* ---- outgoing frames ---- */

static int conn_send(conn_t *c, const char *payload, size_t len)
{
    outframe_t *f = malloc(sizeof *f + LWS_PRE + len);

    if (!f)
        return -ENOMEM;
    f->next = NULL;
    f->len = len;
    memcpy(f->buf + LWS_PRE, payload, len);
    if (c->out_tail)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static int conn_send_str(conn_t *c, char *s)
{
    int rc;

    if (!s)
        return -ENOMEM;
    rc = conn_send(c, s, strlen(s));
    free(s);
    return rc;
}

static void conn_flush_out(conn_t *c)
{
    while (c->out_head) {
        outframe_t *f = c->out_head;
        c->out_head = f->next;
        free(f);
    }
    c->out_tail = NULL;
}

/* ---- job completion ---- */

static void queue_push_front_locked(pool_t *p, job_t *job)
{
    job->next = p->q_head;
    p->q_head = job;
    if (!p->q_tail)
        p->q_tail = job;
    p->q_len++;
}

/* Sessions hear about the end of their job exactly once. */
static void notify_end(job_t *job)
{
    if (job->on_event && !job->end_notified) {
        job->end_notified = true;
        job->on_event(job->event_arg, job, NULL);
    }
}

static void job_done(job_t *job)
{
    notify_end(job);
    job_finish(job);
    job_unref(job);
}

static void job_failed(job_t *job, int http, const char *code, const char *msg)
{
    job->fail_http = http;
    snprintf(job->fail_code, sizeof job->fail_code, "%s", code);
    snprintf(job->fail_msg, sizeof job->fail_msg, "%s", msg);
    notify_end(job);
    job_finish(job);
    job_unref(job);
}

/* The connection carrying `job` is gone. Retry once elsewhere when nothing came back yet. */
static void job_dropped(pool_t *p, job_t *job, const char *why)
{
    bool cancel;

    pthread_mutex_lock(&job->mu);
    cancel = job->cancel_requested;
    pthread_mutex_unlock(&job->mu);
    if (!job->got_output && job->attempts < 2 && !cancel) {
        pthread_mutex_lock(&p->mu);
        if (!p->fail_all) {
            job->state = JOB_QUEUED;
            queue_push_front_locked(p, job);
            pthread_mutex_unlock(&p->mu);
            log_msg(LOG_WARN, "job %s: executor connection lost (%s), retrying", job->id, why);
            return;
        }
        pthread_mutex_unlock(&p->mu);
    }
    job_failed(job, 503, "executor_unavailable",
               "the connection to the executor was lost while the program was running");
}

/* ---- connections ---- */

static void conn_schedule_retry(conn_t *c)
{
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
    if (c->backoff_ms > POOL_BACKOFF_MAX_MS)
        c->backoff_ms = POOL_BACKOFF_MAX_MS;
    c->next_try_ms = cg_now_ms() + c->backoff_ms;
}

static void conn_down(pool_t *p, conn_t *c, const char *why)
{
    job_t *job = c->job;

    c->wsi = NULL;
    c->state = CONN_DOWN;
    c->job = NULL;
    c->hello = false;
    c->rx_paused = false;
    c->rx_len = 0;
    conn_flush_out(c);
    conn_schedule_retry(c);
    if (job)
        job_dropped(p, job, why);
}

static void conn_close(conn_t *c)
{
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void conn_connect(pool_t *p, conn_t *c)
{
    struct lws_client_connect_info ci;
    endpoint_t *ep = c->ep;

    memset(&ci, 0, sizeof ci);
    ci.context = p->ctx;
    ci.address = ep->info.address;
    ci.port = ep->info.port;
    ci.path = "/";
    ci.host = ep->info.port ? ep->info.address : "localhost";
    ci.origin = ci.host;
    ci.protocol = CG_PROTO_NAME;
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
        conn_schedule_retry(c);
        return;
    }
    c->wsi = wsi;
}

/* ---- snapshot for other threads ---- */

static void snapshot_update(pool_t *p)
{
    pool_lang_info_t snap[REQUEST_NLANG];

    memset(snap, 0, sizeof snap);
    for (int i = 0; i < p->neps; i++) {
        endpoint_t *ep = &p->eps[i];
        if (!ep->up || ep->lang < 0)
            continue;
        snap[ep->lang].endpoints++;
        snap[ep->lang].slots_down += ep->slots_down;
        if (ep->version[0])
            snprintf(snap[ep->lang].version, sizeof snap[ep->lang].version, "%s", ep->version);
        for (int k = 0; k < ep->nconns; k++) {
            if (ep->conns[k].state == CONN_READY || ep->conns[k].state == CONN_BUSY)
                snap[ep->lang].connections++;
            if (ep->conns[k].state == CONN_BUSY)
                snap[ep->lang].busy++;
        }
    }
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < REQUEST_NLANG; i++) {
        /* Keep the last known version even when no executor is connected right now. */
        if (!snap[i].version[0])
            memcpy(snap[i].version, p->snap[i].version, sizeof snap[i].version);
    }
    memcpy(p->snap, snap, sizeof snap);
    pthread_mutex_unlock(&p->mu);
}

/* ---- dispatch ---- */

static conn_t *idle_conn_for(pool_t *p, int lang)
{
    conn_t *best = NULL;
    int best_busy = 1 << 30;

    for (int i = 0; i < p->neps; i++) {
        endpoint_t *ep = &p->eps[i];
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
        /* Slots out of service take no jobs. */
        if (busy >= ep->nconns - ep->slots_down)
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
        if (!ep->up || ep->lang != lang)
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

static void dispatch(pool_t *p)
{
    job_t *prev = NULL, *job, *next;
    bool changed = false;

    pthread_mutex_lock(&p->mu);
    for (job = p->q_head; job; job = next) {
        conn_t *c;
        next = job->next;
        c = job->on_event && !session_room(p, lang_index(job->req.language))
                ? NULL
                : idle_conn_for(p, lang_index(job->req.language));
        if (!c) {
            prev = job;
            continue;
        }
        /* unlink */
        if (prev)
            prev->next = next;
        else
            p->q_head = next;
        if (p->q_tail == job)
            p->q_tail = prev;
        p->q_len--;
        job->next = NULL;
        job->state = JOB_RUNNING;
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
        if (conn_send(c, job->frame, job->frame_len) != 0) {
            c->job = NULL;
            c->state = CONN_READY;
            pthread_mutex_unlock(&p->mu);
            job_failed(job, 500, "internal_error", "out of memory");
            pthread_mutex_lock(&p->mu);
        }
        changed = true;
    }
    pthread_mutex_unlock(&p->mu);
    if (changed)
        snapshot_update(p);
}

/* ---- incoming frames ---- */

static void on_outcome(pool_t *p, conn_t *c, const cg_msg_t *m)
{
    job_t *job = c->job;
    job_outcome_t *dst;
    const request_t *r = &job->req;

    job->got_output = true;
    if (m->type == CG_MSG_COMPILE) {
        dst = &job->compile;
    } else {
        if (m->outcome.run < 0 || m->outcome.run >= job->nruns)
            return;
        /* submit: after the first failure the rest are skipped, even a case the executor ran
         * before our cancel reached it (fast cases race with the cancel). */
        if (job->stopped_early)
            return;
        dst = &job->runs[m->outcome.run];
        if (m->outcome.run + 1 > job->nresults)
            job->nresults = m->outcome.run + 1;
    }
    if (job_outcome_set(dst, &m->outcome) != 0)
        return;
    if (m->type != CG_MSG_RESULT || r->ntests == 0)
        return;
    const request_test_t *t = &r->tests[m->outcome.run];
    dst->passed =
        dst->status == CG_ST_OK &&
        (!t->expected || judge_equal(dst->out, strlen(dst->out), t->expected, t->expected_len,
                                     r->exact ? JUDGE_EXACT : JUDGE_TRIM));
    if (dst->status == CG_ST_OK && !dst->passed)
        dst->status = CG_ST_WRONG_ANSWER;
    if (r->submit && !dst->passed && m->outcome.run + 1 < job->nruns && !job->cancel_sent) {
        job->stopped_early = true;
        job->cancel_sent = true;
        conn_send_str(c, cg_encode_simple(CG_MSG_CANCEL, job->id));
    }
    (void)p;
}

static void on_frame(pool_t *p, conn_t *c, const char *buf, size_t len)
{
    cJSON *root = NULL;
    cg_msg_t m;
    char err[160];

    c->last_rx_ms = cg_now_ms();
    if (cg_msg_parse(buf, len, &root, &m, err, sizeof err) != 0) {
        log_msg(LOG_WARN, "executor %s sent a bad frame: %s", c->ep->info.id, err);
        return;
    }
    if (c->job && c->job->on_event && m.id && strcmp(m.id, c->job->id) == 0 &&
        m.type != CG_MSG_DONE)
        c->job->on_event(c->job->event_arg, c->job, &m);
    switch (m.type) {
    case CG_MSG_HELLO:
        if (m.lang_version)
            snprintf(c->ep->version, sizeof c->ep->version, "%s", m.lang_version);
        c->hello = true;
        if (c->state == CONN_CONNECTING)
            c->state = CONN_READY;
        c->backoff_ms = 0;
        snapshot_update(p);
        dispatch(p);
        break;
    case CG_MSG_COMPILE:
    case CG_MSG_RESULT:
        if (c->job && m.id && strcmp(m.id, c->job->id) == 0)
            on_outcome(p, c, &m);
        break;
    case CG_MSG_ERROR:
        if (c->job && m.id && strcmp(m.id, c->job->id) == 0) {
            job_t *job = c->job;
            if (m.code && strcmp(m.code, "busy") == 0) {
                /* The executor disagrees about free slots: retry via the queue (on DONE). */
                job->attempts--;
                job->busy = true;
            } else {
                job->fail_http = 500;
                snprintf(job->fail_code, sizeof job->fail_code, "internal_error");
                snprintf(job->fail_msg, sizeof job->fail_msg, "executor error: %s",
                         m.message ? m.message : "unknown");
            }
        }
        break;
    case CG_MSG_DONE:
        if (c->job && m.id && strcmp(m.id, c->job->id) == 0) {
            job_t *job = c->job;
            c->job = NULL;
            c->state = CONN_READY;
            if (job->busy && !job->cancel_sent && job->attempts < 3) {
                /* "busy": nothing ran; put it back at the head. */
                job->busy = false;
                pthread_mutex_lock(&p->mu);
                job->state = JOB_QUEUED;
                queue_push_front_locked(p, job);
                pthread_mutex_unlock(&p->mu);
            } else {
                job->budget_exceeded = m.budget_exceeded;
                job_done(job);
            }
            snapshot_update(p);
            dispatch(p);
        }
        break;
    case CG_MSG_PING:
        conn_send_str(c, cg_encode_ping(CG_MSG_PONG, m.seq));
        break;
    case CG_MSG_PONG:
        if (m.slots_down != c->ep->slots_down) {
            log_msg(m.slots_down > c->ep->slots_down ? LOG_ERROR : LOG_INFO,
                    "executor %s: %d of its slots out of service (could not be reset)",
                    c->ep->info.id, m.slots_down);
            c->ep->slots_down = m.slots_down;
            snapshot_update(p);
        }
        break;
    default:
        break;
    }
    cJSON_Delete(root);
}

static int on_receive(pool_t *p, conn_t *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->rx_len + len > POOL_RX_MAX) {
        log_msg(LOG_WARN, "executor %s sent a frame over %u bytes", c->ep->info.id, POOL_RX_MAX);
        return -1;
    }
    if (cg_grow_append(&c->rx, &c->rx_len, &c->rx_cap, in, len) != 0)
        return -1;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        on_frame(p, c, c->rx, c->rx_len);
        /* Give back memory after a big frame. */
        cg_grow_reset(&c->rx, &c->rx_len, &c->rx_cap, 4u * 1024 * 1024);
    }
    return 0;
}

static int on_writeable(conn_t *c, struct lws *wsi)
{
    outframe_t *f = c->out_head;

    if (!f)
        return 0;
    if (lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
        return -1;
    c->out_head = f->next;
    if (!c->out_head)
        c->out_tail = NULL;
    free(f);
    if (c->out_head)
        lws_callback_on_writable(wsi);
    return 0;
}

static int on_append_header(conn_t *c, struct lws *wsi, void *in, size_t len)
{
    unsigned char **pp = (unsigned char **)in;
    unsigned char *end = *pp + len;
    char value[128];

    snprintf(value, sizeof value, "Bearer %s", c->ep->info.token);
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)value,
                                     (int)strlen(value), pp, end))
        return -1;
    return 0;
}

/* ---- endpoint updates (from the runtime thread, applied on the pool thread) ---- */

static void endpoint_close_all(pool_t *p, endpoint_t *ep)
{
    for (int k = 0; k < ep->nconns; k++) {
        conn_t *c = &ep->conns[k];
        if (c->wsi) {
            /* Detach now: the job must not wait for the asynchronous close. */
            job_t *job = c->job;
            c->job = NULL;
            conn_close(c);
            c->wsi = NULL;
            c->state = CONN_DOWN;
            conn_flush_out(c);
            c->rx_len = 0;
            if (job)
                job_dropped(p, job, "executor replaced");
        }
        c->backoff_ms = 0;
        c->next_try_ms = 0;
    }
}

static void apply_update(pool_t *p, const update_t *u)
{
    endpoint_t *ep = NULL;

    for (int i = 0; i < p->neps; i++)
        if (strcmp(p->eps[i].info.id, u->ep.id) == 0)
            ep = &p->eps[i];
    if (!ep) {
        if (p->neps == POOL_MAX_ENDPOINTS || !u->up) {
            if (u->up)
                log_msg(LOG_ERROR, "pool: too many executors, ignoring %s", u->ep.id);
            return;
        }
        ep = &p->eps[p->neps];
        memset(ep, 0, sizeof *ep);
        ep->nconns = p->cfg->slots;
        ep->conns = calloc((size_t)ep->nconns, sizeof *ep->conns);
        if (!ep->conns) {
            log_msg(LOG_ERROR, "pool: out of memory");
            return;
        }
        p->neps++;
        for (int k = 0; k < ep->nconns; k++)
            ep->conns[k].ep = ep;
    }
    endpoint_close_all(p, ep);
    ep->info = u->ep;
    ep->lang = lang_index(u->ep.language);
    ep->up = u->up;
}

static void apply_updates(pool_t *p)
{
    update_t *list, *u;

    pthread_mutex_lock(&p->mu);
    list = p->updates;
    p->updates = NULL;
    pthread_mutex_unlock(&p->mu);
    /* The list is newest first: reverse it to apply in order. */
    update_t *rev = NULL;
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

/* ---- periodic work ---- */

static void expire_queue(pool_t *p, int64_t now)
{
    job_t *prev = NULL, *job, *next, *expired = NULL;

    pthread_mutex_lock(&p->mu);
    for (job = p->q_head; job; job = next) {
        bool cancel;
        next = job->next;
        pthread_mutex_lock(&job->mu);
        cancel = job->cancel_requested;
        pthread_mutex_unlock(&job->mu);
        if (!p->fail_all && !cancel && now < job->deadline_ms) {
            prev = job;
            continue;
        }
        if (prev)
            prev->next = next;
        else
            p->q_head = next;
        if (p->q_tail == job)
            p->q_tail = prev;
        p->q_len--;
        job->next = expired;
        expired = job;
    }
    pthread_mutex_unlock(&p->mu);
    for (job = expired; job; job = next) {
        next = job->next;
        job->next = NULL;
        if (p->fail_all) {
            job_failed(job, 503, p->fail_code, p->fail_msg);
        } else {
            int li = lang_index(job->req.language);
            pool_lang_info_t info;
            pthread_mutex_lock(&p->mu);
            info = p->snap[li];
            pthread_mutex_unlock(&p->mu);
            if (info.connections > 0 && job->on_event)
                job_failed(job, 503, "overloaded",
                           "the executor slots interactive sessions may use for this language "
                           "stayed busy; try again shortly");
            else if (info.connections > 0)
                job_failed(job, 503, "overloaded",
                           "every executor for this language stayed busy; try again shortly");
            else
                job_failed(job, 503, "executor_unavailable",
                           "no executor for this language is available right now");
        }
    }
}

static void check_conn(pool_t *p, conn_t *c, int64_t now)
{
    endpoint_t *ep = c->ep;

    if (!ep->up)
        return;
    if (c->state == CONN_DOWN) {
        if (now >= c->next_try_ms)
            conn_connect(p, c);
        return;
    }
    if (!c->wsi)
        return;
    if (c->job) {
        bool cancel;
        pthread_mutex_lock(&c->job->mu);
        cancel = c->job->cancel_requested;
        pthread_mutex_unlock(&c->job->mu);
        if ((cancel || p->fail_all) && !c->job->cancel_sent) {
            c->job->cancel_sent = true;
            conn_send_str(c, cg_encode_simple(CG_MSG_CANCEL, c->job->id));
        }
    }
    if (c->rx_paused)
        c->last_rx_ms = now; /* we stopped reading on purpose: no answer is expected */
    if (now - c->last_rx_ms > 3L * p->cfg->ping_ms + 1000) {
        log_msg(LOG_WARN, "executor %s: no answer for %lld ms, closing connection", ep->info.id,
                (long long)(now - c->last_rx_ms));
        if (p->unhealthy_cb && now - ep->last_unhealthy_ms > 10000) {
            ep->last_unhealthy_ms = now;
            p->unhealthy_cb(p->cb_arg, ep->info.id);
        }
        conn_close(c);
        return;
    }
    if (c->state != CONN_CONNECTING && now - c->last_ping_ms >= p->cfg->ping_ms) {
        c->last_ping_ms = now;
        conn_send_str(c, cg_encode_ping(CG_MSG_PING, ++p->seq));
    }
}

static void fail_running(pool_t *p)
{
    for (int i = 0; i < p->neps; i++)
        for (int k = 0; k < p->eps[i].nconns; k++) {
            conn_t *c = &p->eps[i].conns[k];
            if (c->job) {
                job_t *job = c->job;
                c->job = NULL;
                if (c->state == CONN_BUSY)
                    c->state = CONN_READY;
                job_failed(job, 503, p->fail_code, p->fail_msg);
            }
        }
}

static conn_t *conn_of_job(pool_t *p, const job_t *job)
{
    for (int i = 0; i < p->neps; i++)
        for (int k = 0; k < p->eps[i].nconns; k++)
            if (p->eps[i].conns[k].job == job && p->eps[i].conns[k].wsi)
                return &p->eps[i].conns[k];
    return NULL;
}

/* Frames from sessions go to their job's connection; a job still queued keeps its frames
 * until it runs; frames of a finished job are dropped. Then flow control. */
static void process_outbox(pool_t *p)
{
    outbox_t *list, *keep = NULL, *o, *next;

    pthread_mutex_lock(&p->mu);
    list = p->outbox;
    p->outbox = NULL;
    pthread_mutex_unlock(&p->mu);
    /* newest first: reverse to keep order */
    outbox_t *rev = NULL;
    for (o = list; o; o = next) {
        next = o->next;
        o->next = rev;
        rev = o;
    }
    outbox_t **tail = &keep; /* oldest first */
    for (o = rev; o; o = next) {
        conn_t *c = conn_of_job(p, o->job);
        next = o->next;
        if (!c && (o->job->state == JOB_QUEUED || o->job->state == JOB_NEW)) {
            o->next = NULL;
            *tail = o;
            tail = &o->next;
            continue;
        }
        if (c)
            conn_send(c, o->frame, strlen(o->frame));
        free(o->frame);
        job_unref(o->job);
        free(o);
    }
    if (keep) {
        /* p->outbox is newest-first: what arrived meanwhile, then what we keep, newest first. */
        outbox_t *kept_rev = NULL;
        for (o = keep; o; o = next) {
            next = o->next;
            o->next = kept_rev;
            kept_rev = o;
        }
        pthread_mutex_lock(&p->mu);
        outbox_t **end = &p->outbox;
        while (*end)
            end = &(*end)->next;
        *end = kept_rev;
        pthread_mutex_unlock(&p->mu);
    }
    for (int i = 0; i < p->neps; i++)
        for (int k = 0; k < p->eps[i].nconns; k++) {
            conn_t *c = &p->eps[i].conns[k];
            bool want = c->job && c->job->on_event && c->job->flow_paused;
            if (c->wsi && want != c->rx_paused) {
                lws_rx_flow_control(c->wsi, want ? 0 : 1);
                c->rx_paused = want;
            }
        }
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    pool_t *p = lws_container_of(sul, pool_t, tick);
    int64_t now = cg_now_ms();
    bool fail_all;

    apply_updates(p);
    process_outbox(p);
    pthread_mutex_lock(&p->mu);
    fail_all = p->fail_all;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->neps; i++)
        for (int k = 0; k < p->eps[i].nconns; k++)
            check_conn(p, &p->eps[i].conns[k], now);
    if (fail_all) {
        /* CANCEL frames were queued above; the executors kill the runs. */
        fail_running(p);
    }
    expire_queue(p, now);
    dispatch(p);
    snapshot_update(p);
    lws_sul_schedule(p->ctx, 0, &p->tick, tick_cb, POOL_TICK_MS * LWS_US_PER_MS);
}

/* ---- lws callback ---- */

static int pool_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    pool_t *p = lws_context_user(lws_get_context(wsi));
    conn_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (p) {
            apply_updates(p);
            expire_queue(p, cg_now_ms());
            dispatch(p);
            process_outbox(p);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return c ? on_append_header(c, wsi, in, len) : 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c && (c->wsi == wsi || (c->wsi == NULL && c->state == CONN_CONNECTING))) {
            c->wsi = wsi;
            c->last_rx_ms = cg_now_ms();
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return c && c->wsi == wsi ? on_receive(p, c, wsi, in, len) : -1;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return c && c->wsi == wsi ? on_writeable(c, wsi) : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c && (c->wsi == wsi || c->wsi == NULL) && c->state != CONN_DOWN) {
            log_msg(LOG_DEBUG, "executor %s: connect failed: %s", c->ep->info.id,
                    in ? (const char *)in : "?");
            conn_down(p, c, "connect failed");
            snapshot_update(p);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c && c->wsi == wsi) {
            conn_down(p, c, "closed");
            snapshot_update(p);
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols pool_protocols[] = {
    {"codegate-pool", pool_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- thread and API ---- */

static void *pool_main(void *arg)
{
    pool_t *p = arg;
    bool stop = false;

    lws_sul_schedule(p->ctx, 0, &p->tick, tick_cb, POOL_TICK_MS * LWS_US_PER_MS);
    while (!stop) {
        if (lws_service(p->ctx, 0) < 0)
            break;
        pthread_mutex_lock(&p->mu);
        stop = p->stopping;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

pool_t *pool_new(const config_t *cfg, pool_unhealthy_cb cb, void *cb_arg)
{
    struct lws_context_creation_info info;
    pool_t *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    p->cfg = cfg;
    p->unhealthy_cb = cb;
    p->cb_arg = cb_arg;
    pthread_mutex_init(&p->mu, NULL);
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = pool_protocols;
    info.user = p;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.options = 0;
    lws_set_log_level(LLL_ERR, NULL);
    p->ctx = lws_create_context(&info);
    if (!p->ctx) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

int pool_start(pool_t *p)
{
    int rc = pthread_create(&p->thread, NULL, pool_main, p);

    if (rc != 0)
        return -rc;
    p->thread_started = true;
    return 0;
}

void pool_endpoint(pool_t *p, const runtime_endpoint_t *ep, bool up)
{
    update_t *u = calloc(1, sizeof *u);

    if (!u)
        return;
    u->ep = *ep;
    u->up = up;
    pthread_mutex_lock(&p->mu);
    u->next = p->updates;
    p->updates = u;
    pthread_mutex_unlock(&p->mu);
    lws_cancel_service(p->ctx);
}

int pool_submit(pool_t *p, job_t *job)
{
    pthread_mutex_lock(&p->mu);
    if (p->refusing) {
        pthread_mutex_unlock(&p->mu);
        return -ESHUTDOWN;
    }
    if (p->q_len >= p->cfg->queue_max) {
        pthread_mutex_unlock(&p->mu);
        return -EAGAIN;
    }
    job_ref(job);
    job->state = JOB_QUEUED;
    job->deadline_ms = cg_now_ms() + p->cfg->queue_wait_ms;
    job->next = NULL;
    if (p->q_tail)
        p->q_tail->next = job;
    else
        p->q_head = job;
    p->q_tail = job;
    p->q_len++;
    pthread_mutex_unlock(&p->mu);
    lws_cancel_service(p->ctx);
    return 0;
}

void pool_cancel(pool_t *p, job_t *job)
{
    pthread_mutex_lock(&job->mu);
    job->cancel_requested = true;
    pthread_mutex_unlock(&job->mu);
    lws_cancel_service(p->ctx);
}

void pool_job_send(pool_t *p, job_t *job, char *frame)
{
    outbox_t *o = calloc(1, sizeof *o);

    if (!o || !frame) {
        free(o);
        free(frame);
        return;
    }
    job_ref(job);
    o->job = job;
    o->frame = frame;
    pthread_mutex_lock(&p->mu);
    o->next = p->outbox;
    p->outbox = o;
    pthread_mutex_unlock(&p->mu);
    lws_cancel_service(p->ctx);
}

void pool_wake(pool_t *p)
{
    lws_cancel_service(p->ctx);
}

void pool_fail_all(pool_t *p, const char *code, const char *message)
{
    pthread_mutex_lock(&p->mu);
    p->refusing = true;
    p->fail_all = true;
    snprintf(p->fail_code, sizeof p->fail_code, "%s", code);
    snprintf(p->fail_msg, sizeof p->fail_msg, "%s", message);
    pthread_mutex_unlock(&p->mu);
    lws_cancel_service(p->ctx);
}

void pool_language_info(pool_t *p, const char *language, pool_lang_info_t *info)
{
    int li = lang_index(language);

    memset(info, 0, sizeof *info);
    if (li < 0)
        return;
    pthread_mutex_lock(&p->mu);
    *info = p->snap[li];
    pthread_mutex_unlock(&p->mu);
}

int pool_queue_length(pool_t *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->q_len;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pool_stop(pool_t *p)
{
    if (!p || !p->thread_started)
        return;
    pool_fail_all(p, "shutting_down", "the gateway is shutting down");
    /* Give the pool thread a few ticks to fail jobs and send CANCEL frames. */
    for (int i = 0; i < 10 && (pool_queue_length(p) > 0); i++)
        usleep(POOL_TICK_MS * 1000);
    usleep(2 * POOL_TICK_MS * 1000);
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_mutex_unlock(&p->mu);
    lws_cancel_service(p->ctx);
    pthread_join(p->thread, NULL);
    p->thread_started = false;
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    /* Destroying the context closes every connection: CLIENT_CLOSED may still call back. */
    for (int i = 0; i < p->neps; i++)
        p->eps[i].up = false;
    lws_context_destroy(p->ctx);
    for (int i = 0; i < p->neps; i++) {
        for (int k = 0; k < p->eps[i].nconns; k++) {
            conn_t *c = &p->eps[i].conns[k];
            if (c->job)
                job_failed(c->job, 503, "shutting_down", "the gateway is shutting down");
            conn_flush_out(c);
            free(c->rx);
        }
        free(p->eps[i].conns);
    }
    while (p->q_head) {
        job_t *job = p->q_head;
        p->q_head = job->next;
        job_failed(job, 503, "shutting_down", "the gateway is shutting down");
    }
    while (p->outbox) {
        outbox_t *o = p->outbox;
        p->outbox = o->next;
        free(o->frame);
        job_unref(o->job);
        free(o);
    }
    while (p->updates) {
        update_t *u = p->updates;
        p->updates = u->next;
        free(u);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}
