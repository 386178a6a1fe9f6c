/*
 * session_in.c - frames from a session's client (see session_int.h): the start frame (its
 * validation, the session place, the API key), stdin, eof, kill, pings and the close. Runs on
 * the session's connection thread.
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
#include "jsonrd.h"
#include "lang.h"
#include "log.h"
#include "request.h"
#include "session_int.h"
#include "wsframe.h"
#include "wsupgrade.h"

/* ---- frames from the client ---- */

int session_parse_start(session_t *s, const cJSON *o, request_t *r, char *err, size_t errlen)
{
    const config_t *cfg = s->hub->cfg;
    const char *lang = NULL, *code = NULL, *args[CG_MAX_ARGS + 1];
    const lang_t *l = NULL;
    int64_t to = cfg->session_ms, mem = CG_DEFAULT_MEMORY_MB;
    int nargs = 0;
    jsonrd_status_t st;
    jsonrd_err_t je;
    request_error_t rerr;
    char names[128];

    memset(r, 0, sizeof *r);
    memset(&rerr, 0, sizeof rerr);
    if (jsonrd_string(jsonrd_member(o, "language", JSONRD_ANY_CASE), SIZE_MAX, &lang, NULL, NULL) ==
        JSONRD_OK)
        l = lang_find(lang);
    if (!l) {
        snprintf(err, errlen, "language must be one of %s",
                 lang_names(names, sizeof names, ", ", ", "));
        return -1;
    }
    r->language = l->name;
    if (jsonrd_string(jsonrd_member(o, "code", JSONRD_ANY_CASE), CG_MAX_CODE_BYTES, &code,
                      &r->code_len, NULL) != JSONRD_OK) {
        snprintf(err, errlen, "code must be a string of at most %u bytes", CG_MAX_CODE_BYTES);
        return -1;
    }
    st = jsonrd_int(jsonrd_member(o, "timeoutMs", JSONRD_ANY_CASE), 1, cfg->session_ms, &to, NULL);
    if (st != JSONRD_OK && st != JSONRD_ABSENT) {
        snprintf(err, errlen, "timeoutMs must be an integer between 1 and %d", cfg->session_ms);
        return -1;
    }
    r->timeout_ms = (int)to;
    st = jsonrd_int(jsonrd_member(o, "memoryMb", JSONRD_ANY_CASE), CG_MIN_MEMORY_MB,
                    CG_MAX_MEMORY_MB, &mem, NULL);
    if (st != JSONRD_OK && st != JSONRD_ABSENT) {
        snprintf(err, errlen, "memoryMb must be an integer between %d and %d", CG_MIN_MEMORY_MB,
                 CG_MAX_MEMORY_MB);
        return -1;
    }
    r->memory_mb = (int)mem;
    st = jsonrd_strings(jsonrd_member(o, "args", JSONRD_ANY_CASE), CG_MAX_ARGS, CG_MAX_ARG_BYTES,
                        args, &nargs, &je);
    if (st == JSONRD_RANGE || (st == JSONRD_TYPE && je.index < 0)) {
        snprintf(err, errlen, "args must be an array of at most %d strings", CG_MAX_ARGS);
        return -1;
    }
    if (st != JSONRD_OK && st != JSONRD_ABSENT) {
        snprintf(err, errlen, "args must be strings of at most %d bytes", CG_MAX_ARG_BYTES);
        return -1;
    }
    r->code = strdup(code);
    if (r->code && nargs > 0) {
        r->args = calloc((size_t)nargs + 1, sizeof *r->args);
        for (int i = 0; r->args && i < nargs && (r->args[i] = strdup(args[i])); i++)
            r->nargs = i + 1;
    }
    if (!r->code || r->nargs != nargs) {
        request_free(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (request_parse_options(jsonrd_member(o, "options", JSONRD_ANY_CASE), l, r, &rerr) != 0) {
        request_free(r);
        snprintf(err, errlen, "%s", rerr.message);
        return -1;
    }
    if (request_parse_files(o, r, &rerr) != 0) {
        request_free(r);
        snprintf(err, errlen, "%s", rerr.message);
        return -1;
    }
    return 0;
}

void session_refuse(session_t *s, const char *code, const char *message)
{
    pthread_mutex_lock(&s->mu);
    session_refuse_locked(s, code, message);
    pthread_mutex_unlock(&s->mu);
}

/* Key, place, per-key place: 0 when the session may run. Connection thread, no lock held. */
int session_admit(session_t *s, const cJSON *start)
{
    session_hub_t *hub = s->hub;
    const cJSON *tok = cJSON_GetObjectItem(start, "token");
    const char *token = cJSON_IsString(tok) ? tok->valuestring : s->bearer;
    const void *principal = NULL;
    bool ok;

    if (hub->auth.authenticate) {
        principal = hub->auth.authenticate(hub->auth.ctx, token);
        if (!principal) {
            session_refuse(s, "unauthorized",
                           "a valid API key is required (the start frame's \"token\")");
            return -1;
        }
    }
    pthread_mutex_lock(&hub->mu);
    ok = !hub->closing && hub->admitted < hub->cfg->sessions_max;
    if (ok) {
        hub->admitted++;
        s->admitted = true; /* read by the last unref only */
    }
    pthread_mutex_unlock(&hub->mu);
    if (!ok) {
        session_refuse(s, "too_many_sessions",
                       "too many interactive sessions are open; try again later");
        return -1;
    }
    if (hub->auth.acquire) {
        if (hub->auth.acquire(hub->auth.ctx, principal) != 0) {
            session_refuse(s, "rate_limited",
                           "this API key runs as many programs as it may at once");
            return -1;
        }
        s->principal = principal;
        s->key_held = true;
    }
    return 0;
}

void session_handle_start(session_t *s, const cJSON *o)
{
    request_t r;
    char err[160];
    job_t *job;
    int rc;

    pthread_mutex_lock(&s->mu);
    if (s->started) {
        session_push_error_locked(s, "invalid_frame", "the program was already started");
        pthread_mutex_unlock(&s->mu);
        return;
    }
    pthread_mutex_unlock(&s->mu);
    if (session_parse_start(s, o, &r, err, sizeof err) != 0) {
        pthread_mutex_lock(&s->mu);
        session_push_error_locked(s, "invalid_request", err);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (session_admit(s, o) != 0) {
        request_free(&r);
        return;
    }
    job = job_new_interactive(&r, (size_t)s->hub->cfg->output_limit_kb * 1024u);
    if (!job) {
        session_refuse(s, "internal_error", "out of memory");
        return;
    }
    job->on_event = session_on_job_event;
    job->event_arg = s;
    pthread_mutex_lock(&s->mu);
    if (s->finished) { /* the gateway began to shut down meanwhile */
        pthread_mutex_unlock(&s->mu);
        job_unref(job);
        return;
    }
    s->job = job; /* the session's reference (from job_new) */
    s->refs++;    /* the job's reference to the session, dropped when it finishes */
    s->started = true;
    s->started_ms = cg_now_ms();
    pthread_mutex_unlock(&s->mu);
    rc = pool_submit(s->hub->pool, job);
    if (rc != 0) {
        pthread_mutex_lock(&s->mu);
        if (rc == -EAGAIN)
            session_refuse_locked(s, "overloaded",
                                  "too many programs are waiting; try again shortly");
        else
            session_refuse_locked(s, "shutting_down", "the gateway is shutting down");
        s->refs--; /* the job never runs: no event will drop it (the thread holds a ref) */
        pthread_mutex_unlock(&s->mu);
    }
}

void session_send_to_job(session_t *s, char *frame_text)
{
    pool_job_send(s->hub->pool, s->job, frame_text);
}

/* One complete text message from the client. Connection thread, no lock held. */
void session_handle_text(session_t *s, const unsigned char *data, size_t len)
{
    cJSON *o = cJSON_ParseWithLength((const char *)data, len);
    const cJSON *type = o ? cJSON_GetObjectItem(o, "type") : NULL, *d;
    bool started;

    pthread_mutex_lock(&s->mu);
    s->last_client_ms = cg_now_ms();
    started = s->started;
    if (s->finished) {
        pthread_mutex_unlock(&s->mu);
        cJSON_Delete(o);
        return;
    }
    if (!cJSON_IsObject(o) || !cJSON_IsString(type)) {
        session_push_error_locked(s, "invalid_frame",
                                  "frames are JSON text objects with a \"type\"");
    } else if (!strcmp(type->valuestring, "start")) {
        pthread_mutex_unlock(&s->mu);
        session_handle_start(s, o);
        pthread_mutex_lock(&s->mu);
    } else if (!started) {
        session_push_error_locked(s, "invalid_frame", "send {\"type\":\"start\",...} first");
    } else if (!strcmp(type->valuestring, "stdin")) {
        d = cJSON_GetObjectItem(o, "data");
        size_t n = cJSON_IsString(d) ? strlen(d->valuestring) : 0;
        if (!cJSON_IsString(d)) {
            session_push_error_locked(s, "invalid_frame", "stdin needs a string \"data\"");
        } else if (n > CG_MAX_INPUT_BYTES - s->stdin_bytes) {
            /* The executor queues stdin its program has not read yet: bound it per session. */
            char msg[96];
            snprintf(msg, sizeof msg, "a session's stdin may hold at most %u bytes in all",
                     CG_MAX_INPUT_BYTES);
            session_push_error_locked(s, "payload_too_large", msg);
        } else if (n > 0) {
            s->stdin_bytes += n;
            session_send_to_job(s, cg_encode_data(CG_MSG_STDIN, s->job->id, 0, d->valuestring, n));
        }
    } else if (!strcmp(type->valuestring, "eof")) {
        session_send_to_job(s, cg_encode_simple(CG_MSG_CLOSE_STDIN, s->job->id));
    } else if (!strcmp(type->valuestring, "kill")) {
        session_kill_locked(s, "cancelled");
    } else {
        session_push_error_locked(s, "invalid_frame", "unknown frame type");
    }
    pthread_mutex_unlock(&s->mu);
    cJSON_Delete(o);
}

/* Queues a pong. Only the newest ping is answered when several wait (RFC 6455 5.5.3), so a
 * client that pings without reading queues one pong at most. */
void session_push_pong_locked(session_t *s, frameq_item_t *f)
{
    if (!f)
        return;
    free(s->ctl);
    s->ctl = f;
}

/* The client sent a close frame: echo it, drop what it will not read, stop the program. */
void session_peer_close(session_t *s, int code)
{
    s->peer_closed = true;
    pthread_mutex_lock(&s->mu);
    session_kill_locked(s, "cancelled");
    if (!s->close_sent && !s->finished) {
        session_drop_queue_locked(s);
        s->finished = true;
        s->close_code = code == WSFRAME_CLOSE_NO_STATUS ? WSFRAME_CLOSE_NORMAL : code;
    }
    pthread_mutex_unlock(&s->mu);
}

/* The stream broke a rule: say so (1009 in words too), stop the program, close with the code. */
void session_protocol_error(session_t *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->parser.close_code == WSFRAME_CLOSE_TOO_BIG) {
        char msg[96];
        snprintf(msg, sizeof msg, "a message may hold at most %u bytes", SESSION_MAX_FRAME);
        session_push_error_locked(s, "payload_too_large", msg);
    }
    session_kill_locked(s, "cancelled");
    session_end_locked(s, s->parser.close_code);
    pthread_mutex_unlock(&s->mu);
}

/* Bytes from the client. */
void session_feed(session_t *s, const unsigned char *buf, size_t len)
{
    while (len > 0 && !s->parser.close_code) {
        wsframe_msg_t m;
        size_t used;
        int rc = wsframe_parse(&s->parser, buf, len, &used, &m);
        buf += used;
        len -= used;
        if (rc == WSFRAME_ERROR) {
            session_protocol_error(s);
            return;
        }
        if (rc != WSFRAME_MSG)
            return;
        switch (m.opcode) {
        case WSFRAME_OP_TEXT:
            session_handle_text(s, m.data, m.len);
            break;
        case WSFRAME_OP_BINARY:
            pthread_mutex_lock(&s->mu);
            s->last_client_ms = cg_now_ms();
            if (!s->finished)
                session_push_error_locked(s, "invalid_frame", "frames are JSON text objects");
            pthread_mutex_unlock(&s->mu);
            break;
        case WSFRAME_OP_PING:
            pthread_mutex_lock(&s->mu);
            s->last_client_ms = cg_now_ms();
            if (!s->close_sent)
                session_push_pong_locked(s, session_frame_new(WSFRAME_OP_PONG, m.data, m.len));
            pthread_mutex_unlock(&s->mu);
            break;
        case WSFRAME_OP_CLOSE:
            session_peer_close(s, m.close_code);
            return;
        default: /* pong */
            break;
        }
    }
}
