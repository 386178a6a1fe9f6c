/*
 * pool_frame.c - frames between the pool and its executors, on the pool thread: incoming
 * frames are reassembled (at most POOL_RX_MAX bytes, else the connection closes with 1009),
 * parsed, and turned into job outcomes, job ends and connection state; outgoing frames wait in
 * the connection's frameq until lws says it is writeable. Frames that other threads (sessions)
 * send to a job pass through pool->outbox. What a result means for the job (judging, stopping
 * a submission early) is the job's business: job_take_outcome.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cg_util.h"
#include "log.h"
#include "pool_int.h"

int pool_frame_send(conn_t *c, const char *payload, size_t len)
{
    if (c->raw) {
        frameq_item_t *f = pool_raw_frame(WSFRAME_OP_TEXT, payload, len);
        if (!f)
            return -ENOMEM;
        f->counted = len;
        frameq_push(&c->out, f);
    } else if (frameq_push_copy(&c->out, LWS_PRE, payload, len) != 0) {
        return -ENOMEM;
    }
    /* A raw connection writes its frames once the upgrade is through (pool_raw.c). */
    if (c->wsi && (!c->raw || c->upgraded))
        lws_callback_on_writable(c->wsi);
    return 0;
}

int pool_frame_send_str(conn_t *c, char *s)
{
    int rc;

    if (!s)
        return -ENOMEM;
    rc = pool_frame_send(c, s, strlen(s));
    free(s);
    return rc;
}

static bool is_job_of(const conn_t *c, const cg_msg_t *m)
{
    return c->job && m->id && strcmp(m->id, c->job->id) == 0;
}

static void on_outcome(conn_t *c, const cg_msg_t *m)
{
    job_t *job = c->job;

    if (job_take_outcome(job, m->type == CG_MSG_COMPILE, &m->outcome) == JOB_STOP_RUNS) {
        job->cancel_sent = true;
        pool_frame_send_str(c, cg_encode_simple(CG_MSG_CANCEL, job->id));
    }
}

static void on_error(pool_t *p, conn_t *c, const cg_msg_t *m)
{
    job_t *job = c->job;

    if (m->code && strcmp(m->code, "busy") == 0) {
        /* The executor disagrees about free slots: retry via the queue (on DONE). */
        job->attempts--;
        job->busy = true;
    } else if (m->code && strcmp(m->code, "executor_draining") == 0 && !job->got_output) {
        /* It refuses new jobs: nothing ran; requeue on DONE, for another executor. */
        job->attempts--;
        job->busy = true;
        pool_conn_set_draining(p, c->ep, "refused a job");
    } else {
        job->fail_http = 500;
        snprintf(job->fail_code, sizeof job->fail_code, "internal_error");
        snprintf(job->fail_msg, sizeof job->fail_msg, "executor error: %s",
                 m->message ? m->message : "unknown");
    }
}

static void on_done(pool_t *p, conn_t *c, const cg_msg_t *m)
{
    job_t *job = c->job;

    c->job = NULL;
    c->state = CONN_READY;
    pool_conn_job_done(p, c);
    if (job->busy && !job->cancel_sent && job->attempts < POOL_MAX_ATTEMPTS) {
        /* "busy": nothing ran; put it back at the head. */
        job->busy = false;
        pthread_mutex_lock(&p->mu);
        job_set_state(job, JOB_QUEUED);
        pool_queue_push_front_locked(p, job);
        pthread_mutex_unlock(&p->mu);
    } else {
        job->budget_exceeded = m->budget_exceeded;
        /* Copies: the frame's tree is freed after this call. Without memory they are left
         * out (the answer then has no files), not the job failed. */
        if (m->files)
            job->out_files = cJSON_Duplicate(m->files, true);
        if (m->files_omitted)
            job->out_omitted = cJSON_Duplicate(m->files_omitted, true);
        job_end(job, 0, NULL, NULL);
    }
    pool_conn_snapshot(p);
    pool_queue_dispatch(p);
}

static void on_hello(pool_t *p, conn_t *c, const cg_msg_t *m)
{
    endpoint_t *ep = c->ep;

    if (m->language && strcmp(m->language, ep->info.language) != 0) {
        /* A misconfigured address: never send it jobs of another language. */
        if (strcmp(ep->last_err, "language") != 0) {
            log_msg(LOG_ERROR, "executor %s (%s) runs %s, not %s: check the executor addresses",
                    ep->info.id, ep->info.where, m->language, ep->info.language);
            snprintf(ep->last_err, sizeof ep->last_err, "language");
        }
        pool_conn_close(c);
        pool_conn_down(p, c, "wrong language");
        return;
    }
    if (ep->draining && ep->drained_out && !ep->leaving) {
        /* Every connection of the draining executor closed, and now one answers: a new
         * executor at this address (one still draining refuses new connections). */
        log_msg(LOG_INFO, "executor %s answers again: in service", ep->info.id);
        ep->draining = false;
        ep->drained_out = false;
    }
    ep->exec_slots = m->slots;
    if (m->lang_version)
        snprintf(c->ep->version, sizeof c->ep->version, "%s", m->lang_version);
    c->hello = true;
    if (c->state == CONN_CONNECTING)
        c->state = CONN_READY;
    c->backoff_ms = 0;
    pool_conn_snapshot(p);
    pool_queue_dispatch(p);
}

static void on_pong(pool_t *p, conn_t *c, const cg_msg_t *m)
{
    if (m->draining)
        pool_conn_set_draining(p, c->ep, "its pong says so");
    if (m->slots_down == c->ep->slots_down)
        return;
    log_msg(m->slots_down > c->ep->slots_down ? LOG_ERROR : LOG_INFO,
            "executor %s: %d of its slots out of service (could not be reset)", c->ep->info.id,
            m->slots_down);
    c->ep->slots_down = m->slots_down;
    pool_conn_snapshot(p);
}

void pool_frame_message(pool_t *p, conn_t *c, const char *buf, size_t len)
{
    cJSON *root = NULL;
    cg_msg_t m;
    char err[160];

    c->last_rx_ms = cg_now_ms();
    if (cg_msg_parse(buf, len, &root, &m, err, sizeof err) != 0) {
        log_msg(LOG_WARN, "executor %s sent a bad frame: %s", c->ep->info.id, err);
        return;
    }
    if (is_job_of(c, &m) && c->job->on_event && m.type != CG_MSG_DONE)
        c->job->on_event(c->job->event_arg, c->job, &m);
    switch (m.type) {
    case CG_MSG_HELLO:
        on_hello(p, c, &m);
        break;
    case CG_MSG_COMPILE:
    case CG_MSG_RESULT:
        if (is_job_of(c, &m))
            on_outcome(c, &m);
        break;
    case CG_MSG_STDOUT:
    case CG_MSG_STDERR:
        if (is_job_of(c, &m))
            c->job->got_output = true; /* the program ran: never run it again elsewhere */
        break;
    case CG_MSG_ERROR:
        if (is_job_of(c, &m))
            on_error(p, c, &m);
        break;
    case CG_MSG_DRAIN:
        pool_conn_set_draining(p, c->ep, "drain frame");
        break;
    case CG_MSG_DONE:
        if (is_job_of(c, &m))
            on_done(p, c, &m);
        break;
    case CG_MSG_PING:
        pool_frame_send_str(c, cg_encode_ping(CG_MSG_PONG, m.seq));
        break;
    case CG_MSG_PONG:
        on_pong(p, c, &m);
        break;
    default:
        break;
    }
    cJSON_Delete(root);
}

int pool_frame_receive(pool_t *p, conn_t *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->rx.len + len > POOL_RX_MAX) {
        log_msg(LOG_WARN, "executor %s sent a frame over %u bytes", c->ep->info.id, POOL_RX_MAX);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    if (cg_buf_append(&c->rx, in, len) != 0)
        return -1;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        pool_frame_message(p, c, c->rx.data, c->rx.len);
        /* Give back memory after a big frame. */
        cg_buf_reset(&c->rx, 4u * 1024 * 1024);
    }
    return 0;
}

/* One queued frame per callback; lws buffers what the socket does not take at once (a write
 * short of the frame is an error). A raw connection writes its upgrade request first and its
 * frames only once upgraded; after its close frame it ends (-1). */
int pool_frame_writeable(conn_t *c, struct lws *wsi)
{
    frameq_item_t *f;
    bool close;

    if (c->raw && c->hs) {
        f = c->hs;
        if (lws_write(wsi, f->data, f->len, LWS_WRITE_RAW) < (int)f->len)
            return -1;
        free(c->hs);
        c->hs = NULL;
        return 0;
    }
    if (c->raw && !c->upgraded)
        return 0;
    if (!(f = frameq_peek(&c->out)))
        return 0;
    if (lws_write(wsi, f->data, f->len, c->raw ? LWS_WRITE_RAW : LWS_WRITE_TEXT) < (int)f->len)
        return -1;
    close = f->close;
    free(frameq_pop(&c->out));
    if (close)
        return -1;
    if (!frameq_empty(&c->out))
        lws_callback_on_writable(wsi);
    return 0;
}

/* Reverses a newest-first outbox list. */
static outbox_t *outbox_reverse(outbox_t *o)
{
    outbox_t *rev = NULL, *next;

    for (; o; o = next) {
        next = o->next;
        o->next = rev;
        rev = o;
    }
    return rev;
}

/* Sessions pause their job's output when their client reads slowly (job->flow_paused). */
static void apply_flow_control(pool_t *p)
{
    for (int i = 0; i < p->neps; i++)
        for (int k = 0; k < p->eps[i].nconns; k++) {
            conn_t *c = &p->eps[i].conns[k];
            bool want = c->job && c->job->on_event && atomic_load(&c->job->flow_paused);
            if (c->wsi && want != c->rx_paused) {
                lws_rx_flow_control(c->wsi, want ? 0 : 1);
                c->rx_paused = want;
            }
        }
}

/* Frames from sessions go to their job's connection; a job still queued keeps its frames
 * until it runs; frames of a finished job are dropped. Then flow control. */
void pool_frame_outbox(pool_t *p)
{
    outbox_t *list, *keep = NULL, *o, *next, **tail = &keep; /* keep: oldest first */

    pthread_mutex_lock(&p->mu);
    list = p->outbox;
    p->outbox = NULL;
    pthread_mutex_unlock(&p->mu);
    for (o = outbox_reverse(list); o; o = next) {
        conn_t *c = pool_conn_of_job(p, o->job);
        job_state_t st = c ? JOB_RUNNING : job_get_state(o->job);
        next = o->next;
        if (!c && (st == JOB_QUEUED || st == JOB_NEW)) {
            o->next = NULL;
            *tail = o;
            tail = &o->next;
            continue;
        }
        if (c)
            pool_frame_send(c, o->frame, strlen(o->frame));
        free(o->frame);
        job_unref(o->job);
        free(o);
    }
    if (keep) {
        /* p->outbox is newest-first: what arrived meanwhile, then what we keep, newest first. */
        outbox_t *kept_rev = outbox_reverse(keep);
        pthread_mutex_lock(&p->mu);
        outbox_t **end = &p->outbox;
        while (*end)
            end = &(*end)->next;
        *end = kept_rev;
        pthread_mutex_unlock(&p->mu);
    }
    apply_flow_control(p);
}
