/*
 * session_out.c - frames for a session's client and the ways a session ends (see
 * session_int.h): queued under s->mu by the connection thread and the pool thread, written by
 * the connection thread (session.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "frameq.h"
#include "job.h"
#include "response.h"
#include "jsonrd.h"
#include "lang.h"
#include "log.h"
#include "request.h"
#include "session_int.h"
#include "wsframe.h"
#include "wsupgrade.h"

/* ---- helpers ---- */

void session_wake(session_t *s)
{
    uint64_t one = 1;

    if (write(s->wake, &one, sizeof one) < 0 && errno != EAGAIN)
        log_msg(LOG_WARN, "session: eventfd write: %m");
}

void session_unref(session_t *s)
{
    session_hub_t *hub = s->hub;
    int left;

    pthread_mutex_lock(&s->mu);
    left = --s->refs;
    pthread_mutex_unlock(&s->mu);
    if (left > 0)
        return;
    if (s->key_held)
        hub->auth.release(hub->auth.ctx, s->principal);
    pthread_mutex_lock(&hub->mu);
    for (session_t **pp = &hub->list; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    hub->count--;
    if (s->admitted)
        hub->admitted--;
    pthread_mutex_unlock(&hub->mu);
    frameq_clear(&s->out);
    free(s->ctl);
    free(s->cur);
    if (s->job)
        job_unref(s->job);
    close(s->wake);
    free(s->bearer);
    free(s->extra);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

frameq_item_t *session_frame_new(int opcode, const void *payload, size_t n)
{
    unsigned char hdr[10];
    size_t h = wsframe_header(hdr, opcode, n);
    frameq_item_t *f = frameq_item_new(0, hdr, h, payload, n);

    if (f)
        f->close = opcode == WSFRAME_OP_CLOSE;
    return f;
}

/* Queues a text frame for the client (takes the cJSON object). Call with s->mu held. */
void session_push_locked(session_t *s, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    frameq_item_t *f;

    cJSON_Delete(o);
    if (!text || s->closed) {
        free(text);
        return;
    }
    f = session_frame_new(WSFRAME_OP_TEXT, text, strlen(text));
    if (f) {
        f->counted = strlen(text);
        frameq_push(&s->out, f);
        if (s->job && s->out.bytes > SESSION_QUEUE_HIGH && !s->job->flow_paused) {
            s->job->flow_paused = 1;
            pool_wake(s->hub->pool);
        }
    }
    free(text);
    session_wake(s);
}

cJSON *session_frame(const char *type)
{
    cJSON *o = cJSON_CreateObject();

    if (o)
        cJSON_AddStringToObject(o, "type", type);
    return o;
}

void session_push_error_locked(session_t *s, const char *code, const char *message)
{
    cJSON *o = session_frame("error");

    if (o) {
        cJSON_AddStringToObject(o, "code", code);
        cJSON_AddStringToObject(o, "message", message);
    }
    session_push_locked(s, o);
}

void session_push_exit_locked(session_t *s, const char *status, const cg_outcome_t *oc)
{
    cJSON *o = session_frame("exit");

    if (s->exit_sent)
        return;
    s->exit_sent = true;
    if (o) {
        const char *sig = oc ? cg_signal_name(oc->signal) : NULL;
        cJSON_AddStringToObject(o, "status", status);
        if (oc && oc->exit_code >= 0)
            cJSON_AddNumberToObject(o, "exitCode", oc->exit_code);
        else
            cJSON_AddNullToObject(o, "exitCode");
        if (sig)
            cJSON_AddStringToObject(o, "signal", sig);
        else
            cJSON_AddNullToObject(o, "signal");
        cJSON_AddNumberToObject(
            o, "durationMs", oc ? (double)oc->duration_ms : (double)(cg_now_ms() - s->started_ms));
        cJSON_AddNumberToObject(o, "cpuMs", oc ? (double)oc->cpu_ms : 0);
        cJSON_AddNumberToObject(o, "memoryKb", oc ? (double)oc->memory_kb : 0);
    }
    session_push_locked(s, o);
}

/* Drops the frames the client will not read, and lets the job's output flow again (it is being
 * stopped; a paused executor connection would hold its result back). s->mu held. */
void session_drop_queue_locked(session_t *s)
{
    frameq_clear(&s->out);
    if (s->job && s->job->flow_paused) {
        s->job->flow_paused = 0;
        pool_wake(s->hub->pool);
    }
}

/* The session ends after what is queued, with a close frame of this code. s->mu held. */
void session_end_locked(session_t *s, int close_code)
{
    if (!s->finished) {
        s->finished = true;
        s->close_code = close_code;
    }
    session_wake(s);
}

/* The close code of a session refused (or ended) with an error code before its program ran. */
int session_refusal_close_code(const char *code)
{
    if (!strcmp(code, "shutting_down"))
        return WSFRAME_CLOSE_GOING_AWAY;
    if (!strcmp(code, "unauthorized") || !strcmp(code, "sessions_disabled") ||
        !strcmp(code, "start_timeout"))
        return WSFRAME_CLOSE_POLICY;
    if (!strcmp(code, "internal_error"))
        return WSFRAME_CLOSE_INTERNAL;
    if (!strcmp(code, "rate_limited"))
        return WSFRAME_CLOSE_RATE_LIMITED;
    return WSFRAME_CLOSE_UNAVAILABLE; /* too_many_sessions, overloaded, executor_unavailable */
}

void session_refuse_locked(session_t *s, const char *code, const char *message)
{
    if (!s->finished)
        snprintf(s->refused, sizeof s->refused, "%s", code);
    session_push_error_locked(s, code, message);
    session_end_locked(s, session_refusal_close_code(code));
}

void session_kill_locked(session_t *s, const char *status)
{
    if (!s->job || s->finished || s->killed)
        return;
    s->killed = true;
    s->kill_status = status;
    job_t *job = s->job;
    pthread_mutex_unlock(&s->mu);
    pool_cancel(s->hub->pool, job);
    pthread_mutex_lock(&s->mu);
}

/* ---- events from the pool thread ---- */

/* The job is over: the last frames and the close code. s->mu held. */
void session_job_ended_locked(session_t *s, job_t *job)
{
    int code = s->shutdown ? WSFRAME_CLOSE_GOING_AWAY : WSFRAME_CLOSE_NORMAL;

    if (!s->run_started) {
        /* Never ran: no "exit" (see session.h). A kill already said why. */
        if (!s->killed && job->fail_http) {
            session_refuse_locked(s, job->fail_code, job->fail_msg);
            return;
        }
        session_end_locked(s, code);
        return;
    }
    if (job->fail_http && !s->killed)
        session_push_error_locked(s, job->fail_code, job->fail_msg);
    if (job->out_files || job->out_omitted) {
        /* The files the program left in out/, after its "exit" (session.h). */
        cJSON *o = session_frame("files");
        if (o)
            response_add_files(o, job);
        session_push_locked(s, o);
    }
    if (!s->exit_sent) {
        const char *st = "cancelled"; /* stopped by the gateway: the error frame says why */
        if (s->killed)
            st = s->kill_status;
        else if (job->compile.present && job->compile.status != CG_ST_OK)
            st = cg_status_name(job->compile.status == CG_ST_TIMEOUT ? CG_ST_COMPILE_ERROR
                                                                     : job->compile.status);
        else if (job->fail_http && !strcmp(job->fail_code, "internal_error"))
            st = "internal_error";
        if (job->fail_http && !strcmp(job->fail_code, "shutting_down"))
            code = WSFRAME_CLOSE_GOING_AWAY;
        session_push_exit_locked(s, st, NULL);
    }
    session_end_locked(s, code);
}

void session_on_job_event(void *arg, job_t *job, const cg_msg_t *m)
{
    session_t *s = arg;
    cJSON *o;

    pthread_mutex_lock(&s->mu);
    if (!m) { /* finished */
        session_job_ended_locked(s, job);
        pthread_mutex_unlock(&s->mu);
        session_unref(s); /* the job's reference */
        return;
    }
    switch (m->type) {
    case CG_MSG_EXECUTE:
        if (!s->run_started) { /* a retry on another executor is sent again: say it once */
            s->run_started = true;
            s->started_ms = cg_now_ms();
            session_push_locked(s, session_frame("started"));
        }
        break;
    case CG_MSG_STDOUT:
    case CG_MSG_STDERR:
        o = session_frame(m->type == CG_MSG_STDOUT ? "stdout" : "stderr");
        if (o)
            cJSON_AddStringToObject(o, "data", m->data ? m->data : "");
        session_push_locked(s, o);
        break;
    case CG_MSG_COMPILE:
        o = session_frame("compile");
        if (o) {
            cJSON_AddStringToObject(o, "status", cg_status_name(m->outcome.status));
            cJSON_AddStringToObject(o, "stdout", m->outcome.out ? m->outcome.out : "");
            cJSON_AddStringToObject(o, "stderr", m->outcome.err ? m->outcome.err : "");
            if (m->outcome.exit_code >= 0)
                cJSON_AddNumberToObject(o, "exitCode", m->outcome.exit_code);
            else
                cJSON_AddNullToObject(o, "exitCode");
            cJSON_AddNumberToObject(o, "durationMs", (double)m->outcome.duration_ms);
        }
        session_push_locked(s, o);
        break;
    case CG_MSG_RESULT:
        session_push_exit_locked(s, s->killed ? s->kill_status : cg_status_name(m->outcome.status),
                                 &m->outcome);
        break;
    case CG_MSG_ERROR:
        session_push_error_locked(s, m->code ? m->code : "executor_error",
                                  m->message ? m->message : "");
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&s->mu);
}
