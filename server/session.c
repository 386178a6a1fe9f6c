/*
 * session.c - interactive sessions over WebSocket (see session.h for the protocol).
 *
 * Theory of operation
 * -------------------
 * The HTTP layer (ulfius on libmicrohttpd) checks the upgrade request and answers 101; then
 * wsupgrade.c hands the socket to session_serve() (ulfius' own WebSocket reader is never used:
 * it stores a frame's announced payload without a limit).
 *
 * One thread per connection (session_main) owns the socket: it polls the socket and an
 * eventfd, feeds what it reads to the frame parser (wsframe.c: limits are checked on the
 * header, before payload is stored), handles the client's JSON frames, and writes the frames
 * queued for the client. The pool thread reports the job's frames through job->on_event, which
 * queues them under `mu` and wakes the connection thread. The queue is bounded by flow
 * control: above SESSION_QUEUE_HIGH bytes the job's executor connection is paused
 * (job->flow_paused), so a program printing in a loop to a slow client blocks on its own pipe.
 *
 * Places. A connection that has not sent "start" takes no session place: it has
 * cfg->session_start_ms to send one, and at most SESSION_PENDING_MAX such connections exist at
 * once. A place (cfg->sessions_max) is taken when "start" is accepted, before the job is
 * queued, so a refused session never sees "started". Executor capacity is the pool's: an
 * interactive job may hold at most cfg->session_share percent of its language's executor
 * connections (pool.c), the rest stays for batch runs.
 *
 * Ending. Every ending queues its last frames, then end_locked() records the close code; the
 * thread sends what is queued, a close frame, and waits briefly for the client's close. A
 * client that goes away or breaks the protocol cancels the job at once.
 *
 * Threads and locks:
 *   connection thread  session_main and what it calls: the socket, the parser and the fields
 *                      marked "connection thread only"; takes s->mu, or hub->mu alone (admit)
 *   pool thread        on_job_event: queues frames, ends the session; takes s->mu
 *   main thread        session_hub_close: hub->mu, then each s->mu
 * Lock order: hub->mu before s->mu. kill_locked drops s->mu around pool_cancel().
 *
 * The session is reference counted: one reference for the connection thread, one for the job
 * while it runs. The last one frees it and gives back its place.
 */
#include "session.h"

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
#include "lang.h"
#include "job.h"
#include "jsonrd.h"
#include "log.h"
#include "request.h"
#include "wsframe.h"
#include "wsupgrade.h"

#define SESSION_QUEUE_HIGH (1024u * 1024u)
#define SESSION_QUEUE_LOW (256u * 1024u)
/* Above this the client's frames are not read either: only a client that sends without
 * reading (each bad frame answered with an error frame) gets here. */
#define SESSION_QUEUE_HARD (4u * 1024u * 1024u)
#define SESSION_MAX_FRAME (512u * 1024u) /* one client message, all fragments together */
#define SESSION_STALL_MS 30000           /* a client that takes no bytes for this long is gone */
#define SESSION_CLOSE_WAIT_MS 2000       /* after our close frame, wait this long for theirs */
#define SESSION_READ_CHUNK 16384
#define SESSION_STACK_BYTES (256u * 1024u)
/* Connections that have not sent "start" yet. */
#define SESSION_PENDING_MAX(cfg) (2 * (cfg)->sessions_max + 16)

/* Frames for the client are frameq items: header + payload, `counted` = the payload of data
 * frames (session.out.bytes), `close` marks the close frame, the last one we send. */

typedef struct session session_t;

struct session_hub {
    const config_t *cfg;
    pool_t *pool;
    session_auth_t auth;
    bool hook_ok; /* our upgrade wrapper is the one libulfius calls */
    pthread_mutex_t mu;
    int count;    /* connections alive */
    int admitted; /* of which hold a session place (start accepted) */
    session_t *list;
    bool closing;
};

struct session {
    session_hub_t *hub;
    int fd;
    void (*close_fn)(void *);
    void *close_arg;
    int wake; /* eventfd: frames queued, hub closing */
    char *bearer;
    unsigned char *extra;
    size_t extra_len;

    pthread_mutex_t mu;
    int refs;
    frameq_t out;       /* data frames for the client; out.bytes: their payload bytes */
    frameq_item_t *ctl; /* a pong, sent before data frames */
    job_t *job;         /* referenced while set */
    bool started;       /* a start frame was accepted and its job created */
    bool run_started;   /* "started" was sent: an "exit" will follow */
    bool finished;      /* the last frame is queued: close with close_code after it */
    bool exit_sent;
    bool killed;        /* by the client, the idle limit or shutdown */
    bool shutdown;      /* ended by the gateway's shutdown */
    bool admitted;      /* holds a place in hub->admitted */
    bool key_held;      /* holds a place of principal (auth.acquire) */
    bool closed;        /* the connection thread ended: frames are dropped */
    size_t stdin_bytes; /* sent to the program so far (at most CG_MAX_INPUT_BYTES) */
    const void *principal;
    int close_code;
    char refused[32];        /* the error code of a refusal, for the log */
    const char *kill_status; /* status reported for a killed run */
    int64_t opened_ms, last_client_ms, started_ms;
    session_t *next; /* hub list */

    /* connection thread only */
    wsframe_parser_t parser;
    frameq_item_t *cur;
    size_t cur_off;
    int64_t last_progress_ms;
    bool close_sent, peer_closed, gone;
    int64_t close_deadline_ms;
};

/* ---- helpers ---- */

static void wake(session_t *s)
{
    uint64_t one = 1;

    if (write(s->wake, &one, sizeof one) < 0 && errno != EAGAIN)
        log_msg(LOG_WARN, "session: eventfd write: %m");
}

static void session_unref(session_t *s)
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

static frameq_item_t *frame_new(int opcode, const void *payload, size_t n)
{
    unsigned char hdr[10];
    size_t h = wsframe_header(hdr, opcode, n);
    frameq_item_t *f = frameq_item_new(0, hdr, h, payload, n);

    if (f)
        f->close = opcode == WSFRAME_OP_CLOSE;
    return f;
}

/* Queues a text frame for the client (takes the cJSON object). Call with s->mu held. */
static void push_locked(session_t *s, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    frameq_item_t *f;

    cJSON_Delete(o);
    if (!text || s->closed) {
        free(text);
        return;
    }
    f = frame_new(WSFRAME_OP_TEXT, text, strlen(text));
    if (f) {
        f->counted = strlen(text);
        frameq_push(&s->out, f);
        if (s->job && s->out.bytes > SESSION_QUEUE_HIGH && !s->job->flow_paused) {
            s->job->flow_paused = 1;
            pool_wake(s->hub->pool);
        }
    }
    free(text);
    wake(s);
}

static cJSON *frame(const char *type)
{
    cJSON *o = cJSON_CreateObject();

    if (o)
        cJSON_AddStringToObject(o, "type", type);
    return o;
}

static void push_error_locked(session_t *s, const char *code, const char *message)
{
    cJSON *o = frame("error");

    if (o) {
        cJSON_AddStringToObject(o, "code", code);
        cJSON_AddStringToObject(o, "message", message);
    }
    push_locked(s, o);
}

static void push_exit_locked(session_t *s, const char *status, const cg_outcome_t *oc)
{
    cJSON *o = frame("exit");

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
    push_locked(s, o);
}

/* Drops the frames the client will not read, and lets the job's output flow again (it is being
 * stopped; a paused executor connection would hold its result back). s->mu held. */
static void drop_queue_locked(session_t *s)
{
    frameq_clear(&s->out);
    if (s->job && s->job->flow_paused) {
        s->job->flow_paused = 0;
        pool_wake(s->hub->pool);
    }
}

/* The session ends after what is queued, with a close frame of this code. s->mu held. */
static void end_locked(session_t *s, int close_code)
{
    if (!s->finished) {
        s->finished = true;
        s->close_code = close_code;
    }
    wake(s);
}

/* The close code of a session refused (or ended) with an error code before its program ran. */
static int refusal_close_code(const char *code)
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

static void refuse_locked(session_t *s, const char *code, const char *message)
{
    if (!s->finished)
        snprintf(s->refused, sizeof s->refused, "%s", code);
    push_error_locked(s, code, message);
    end_locked(s, refusal_close_code(code));
}

static void kill_locked(session_t *s, const char *status)
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
static void job_ended_locked(session_t *s, job_t *job)
{
    int code = s->shutdown ? WSFRAME_CLOSE_GOING_AWAY : WSFRAME_CLOSE_NORMAL;

    if (!s->run_started) {
        /* Never ran: no "exit" (see session.h). A kill already said why. */
        if (!s->killed && job->fail_http) {
            refuse_locked(s, job->fail_code, job->fail_msg);
            return;
        }
        end_locked(s, code);
        return;
    }
    if (job->fail_http && !s->killed)
        push_error_locked(s, job->fail_code, job->fail_msg);
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
        push_exit_locked(s, st, NULL);
    }
    end_locked(s, code);
}

static void on_job_event(void *arg, job_t *job, const cg_msg_t *m)
{
    session_t *s = arg;
    cJSON *o;

    pthread_mutex_lock(&s->mu);
    if (!m) { /* finished */
        job_ended_locked(s, job);
        pthread_mutex_unlock(&s->mu);
        session_unref(s); /* the job's reference */
        return;
    }
    switch (m->type) {
    case CG_MSG_EXECUTE:
        if (!s->run_started) { /* a retry on another executor is sent again: say it once */
            s->run_started = true;
            s->started_ms = cg_now_ms();
            push_locked(s, frame("started"));
        }
        break;
    case CG_MSG_STDOUT:
    case CG_MSG_STDERR:
        o = frame(m->type == CG_MSG_STDOUT ? "stdout" : "stderr");
        if (o)
            cJSON_AddStringToObject(o, "data", m->data ? m->data : "");
        push_locked(s, o);
        break;
    case CG_MSG_COMPILE:
        o = frame("compile");
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
        push_locked(s, o);
        break;
    case CG_MSG_RESULT:
        push_exit_locked(s, s->killed ? s->kill_status : cg_status_name(m->outcome.status),
                         &m->outcome);
        break;
    case CG_MSG_ERROR:
        push_error_locked(s, m->code ? m->code : "executor_error", m->message ? m->message : "");
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- frames from the client ---- */

static int parse_start(session_t *s, const cJSON *o, request_t *r, char *err, size_t errlen)
{
    const config_t *cfg = s->hub->cfg;
    const char *lang = NULL, *code = NULL, *args[CG_MAX_ARGS + 1];
    const lang_t *l = NULL;
    int64_t to = cfg->session_ms, mem = CG_DEFAULT_MEMORY_MB;
    int nargs = 0;
    jsonrd_status_t st;
    jsonrd_err_t je;
    char names[128];

    memset(r, 0, sizeof *r);
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
    return 0;
}

static void refuse(session_t *s, const char *code, const char *message)
{
    pthread_mutex_lock(&s->mu);
    refuse_locked(s, code, message);
    pthread_mutex_unlock(&s->mu);
}

/* Key, place, per-key place: 0 when the session may run. Connection thread, no lock held. */
static int admit(session_t *s, const cJSON *start)
{
    session_hub_t *hub = s->hub;
    const cJSON *tok = cJSON_GetObjectItem(start, "token");
    const char *token = cJSON_IsString(tok) ? tok->valuestring : s->bearer;
    const void *principal = NULL;
    bool ok;

    if (hub->auth.authenticate) {
        principal = hub->auth.authenticate(hub->auth.ctx, token);
        if (!principal) {
            refuse(s, "unauthorized", "a valid API key is required (the start frame's \"token\")");
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
        refuse(s, "too_many_sessions", "too many interactive sessions are open; try again later");
        return -1;
    }
    if (hub->auth.acquire) {
        if (hub->auth.acquire(hub->auth.ctx, principal) != 0) {
            refuse(s, "rate_limited", "this API key runs as many programs as it may at once");
            return -1;
        }
        s->principal = principal;
        s->key_held = true;
    }
    return 0;
}

static void handle_start(session_t *s, const cJSON *o)
{
    request_t r;
    char err[160];
    job_t *job;
    int rc;

    pthread_mutex_lock(&s->mu);
    if (s->started) {
        push_error_locked(s, "invalid_frame", "the program was already started");
        pthread_mutex_unlock(&s->mu);
        return;
    }
    pthread_mutex_unlock(&s->mu);
    if (parse_start(s, o, &r, err, sizeof err) != 0) {
        pthread_mutex_lock(&s->mu);
        push_error_locked(s, "invalid_request", err);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (admit(s, o) != 0) {
        request_free(&r);
        return;
    }
    job = job_new_interactive(&r, (size_t)s->hub->cfg->output_limit_kb * 1024u);
    if (!job) {
        refuse(s, "internal_error", "out of memory");
        return;
    }
    job->on_event = on_job_event;
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
            refuse_locked(s, "overloaded", "too many programs are waiting; try again shortly");
        else
            refuse_locked(s, "shutting_down", "the gateway is shutting down");
        s->refs--; /* the job never runs: no event will drop it (the thread holds a ref) */
        pthread_mutex_unlock(&s->mu);
    }
}

static void send_to_job(session_t *s, char *frame_text)
{
    pool_job_send(s->hub->pool, s->job, frame_text);
}

/* One complete text message from the client. Connection thread, no lock held. */
static void handle_text(session_t *s, const unsigned char *data, size_t len)
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
        push_error_locked(s, "invalid_frame", "frames are JSON text objects with a \"type\"");
    } else if (!strcmp(type->valuestring, "start")) {
        pthread_mutex_unlock(&s->mu);
        handle_start(s, o);
        pthread_mutex_lock(&s->mu);
    } else if (!started) {
        push_error_locked(s, "invalid_frame", "send {\"type\":\"start\",...} first");
    } else if (!strcmp(type->valuestring, "stdin")) {
        d = cJSON_GetObjectItem(o, "data");
        size_t n = cJSON_IsString(d) ? strlen(d->valuestring) : 0;
        if (!cJSON_IsString(d)) {
            push_error_locked(s, "invalid_frame", "stdin needs a string \"data\"");
        } else if (n > CG_MAX_INPUT_BYTES - s->stdin_bytes) {
            /* The executor queues stdin its program has not read yet: bound it per session. */
            char msg[96];
            snprintf(msg, sizeof msg, "a session's stdin may hold at most %u bytes in all",
                     CG_MAX_INPUT_BYTES);
            push_error_locked(s, "payload_too_large", msg);
        } else if (n > 0) {
            s->stdin_bytes += n;
            send_to_job(s, cg_encode_data(CG_MSG_STDIN, s->job->id, 0, d->valuestring, n));
        }
    } else if (!strcmp(type->valuestring, "eof")) {
        send_to_job(s, cg_encode_simple(CG_MSG_CLOSE_STDIN, s->job->id));
    } else if (!strcmp(type->valuestring, "kill")) {
        kill_locked(s, "cancelled");
    } else {
        push_error_locked(s, "invalid_frame", "unknown frame type");
    }
    pthread_mutex_unlock(&s->mu);
    cJSON_Delete(o);
}

/* Queues a pong. Only the newest ping is answered when several wait (RFC 6455 5.5.3), so a
 * client that pings without reading queues one pong at most. */
static void push_pong_locked(session_t *s, frameq_item_t *f)
{
    if (!f)
        return;
    free(s->ctl);
    s->ctl = f;
}

/* The client sent a close frame: echo it, drop what it will not read, stop the program. */
static void peer_close(session_t *s, int code)
{
    s->peer_closed = true;
    pthread_mutex_lock(&s->mu);
    kill_locked(s, "cancelled");
    if (!s->close_sent && !s->finished) {
        drop_queue_locked(s);
        s->finished = true;
        s->close_code = code == WSFRAME_CLOSE_NO_STATUS ? WSFRAME_CLOSE_NORMAL : code;
    }
    pthread_mutex_unlock(&s->mu);
}

/* The stream broke a rule: say so (1009 in words too), stop the program, close with the code. */
static void protocol_error(session_t *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->parser.close_code == WSFRAME_CLOSE_TOO_BIG) {
        char msg[96];
        snprintf(msg, sizeof msg, "a message may hold at most %u bytes", SESSION_MAX_FRAME);
        push_error_locked(s, "payload_too_large", msg);
    }
    kill_locked(s, "cancelled");
    end_locked(s, s->parser.close_code);
    pthread_mutex_unlock(&s->mu);
}

/* Bytes from the client. */
static void feed(session_t *s, const unsigned char *buf, size_t len)
{
    while (len > 0 && !s->parser.close_code) {
        wsframe_msg_t m;
        size_t used;
        int rc = wsframe_parse(&s->parser, buf, len, &used, &m);
        buf += used;
        len -= used;
        if (rc == WSFRAME_ERROR) {
            protocol_error(s);
            return;
        }
        if (rc != WSFRAME_MSG)
            return;
        switch (m.opcode) {
        case WSFRAME_OP_TEXT:
            handle_text(s, m.data, m.len);
            break;
        case WSFRAME_OP_BINARY:
            pthread_mutex_lock(&s->mu);
            s->last_client_ms = cg_now_ms();
            if (!s->finished)
                push_error_locked(s, "invalid_frame", "frames are JSON text objects");
            pthread_mutex_unlock(&s->mu);
            break;
        case WSFRAME_OP_PING:
            pthread_mutex_lock(&s->mu);
            s->last_client_ms = cg_now_ms();
            if (!s->close_sent)
                push_pong_locked(s, frame_new(WSFRAME_OP_PONG, m.data, m.len));
            pthread_mutex_unlock(&s->mu);
            break;
        case WSFRAME_OP_CLOSE:
            peer_close(s, m.close_code);
            return;
        default: /* pong */
            break;
        }
    }
}

/* ---- the connection thread ---- */

/* Limits that end a session; s->mu held. */
static void check_limits_locked(session_t *s, int64_t now)
{
    const config_t *cfg = s->hub->cfg;

    if (s->finished)
        return;
    if (!s->started && now - s->opened_ms > cfg->session_start_ms) {
        char msg[96];
        snprintf(msg, sizeof msg, "no start frame within %d ms", cfg->session_start_ms);
        refuse_locked(s, "start_timeout", msg);
    } else if (s->started && !s->killed && now - s->last_client_ms > cfg->session_idle_ms) {
        push_error_locked(s, "idle_timeout", "no input from the client for too long");
        kill_locked(s, "timeout");
    }
}

/* Picks the next frame to write: a pong, data frames, then the close frame. */
static void next_out_locked(session_t *s)
{
    frameq_item_t *f = NULL;

    if (s->ctl) {
        f = s->ctl;
        s->ctl = NULL;
    } else if ((f = frameq_pop(&s->out))) {
        if (s->job && s->job->flow_paused && s->out.bytes < SESSION_QUEUE_LOW) {
            s->job->flow_paused = 0;
            pool_wake(s->hub->pool);
        }
    } else if (s->finished && !s->close_sent) {
        unsigned char p[2] = {(unsigned char)(s->close_code >> 8), (unsigned char)s->close_code};
        f = frame_new(WSFRAME_OP_CLOSE, p, 2);
        if (!f)
            s->gone = true;
    }
    if (f) {
        f->next = NULL;
        s->cur = f;
        s->cur_off = 0;
        s->last_progress_ms = cg_now_ms();
    }
}

/* Writes what the socket takes of the current frame. */
static void write_some(session_t *s)
{
    ssize_t n = send(s->fd, s->cur->data + s->cur_off, s->cur->len - s->cur_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            s->gone = true;
        return;
    }
    s->cur_off += (size_t)n;
    s->last_progress_ms = cg_now_ms();
    if (s->cur_off < s->cur->len)
        return;
    if (s->cur->close) {
        s->close_sent = true;
        s->close_deadline_ms = cg_now_ms() + SESSION_CLOSE_WAIT_MS;
        shutdown(s->fd, SHUT_WR);
    }
    free(s->cur);
    s->cur = NULL;
}

/* Reads what the socket has; returns false at end of stream or on an error. */
static bool read_some(session_t *s)
{
    unsigned char buf[SESSION_READ_CHUNK];
    ssize_t n = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);

    if (n == 0)
        return false;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (!s->peer_closed) /* after an error or their close, input is read and dropped */
        feed(s, buf, (size_t)n);
    return true;
}

/* One log line per connection: how it ended. s->mu held. */
static void log_close_locked(session_t *s)
{
    cJSON *f = cJSON_CreateObject();

    if (!f)
        return;
    if (s->job)
        cJSON_AddStringToObject(f, "id", s->job->id);
    if (s->close_sent)
        cJSON_AddNumberToObject(f, "close", s->close_code);
    else
        cJSON_AddStringToObject(f, "close", s->peer_closed ? "by client" : "connection lost");
    if (s->refused[0])
        cJSON_AddStringToObject(f, "refused", s->refused);
    if (s->parser.error)
        cJSON_AddStringToObject(f, "protocolError", s->parser.error);
    cJSON_AddBoolToObject(f, "ran", s->run_started);
    cJSON_AddNumberToObject(f, "durationMs", (double)(cg_now_ms() - s->opened_ms));
    log_event(s->close_code == WSFRAME_CLOSE_INTERNAL ? LOG_WARN : LOG_INFO, "session_close", f);
}

static void *session_main(void *arg)
{
    session_t *s = arg;

    if (s->extra_len > 0)
        feed(s, s->extra, s->extra_len);
    while (!s->gone) {
        struct pollfd pf[2] = {{.fd = s->fd}, {.fd = s->wake, .events = POLLIN}};
        int64_t now = cg_now_ms();
        uint64_t v;

        pthread_mutex_lock(&s->mu);
        check_limits_locked(s, now);
        if (!s->cur && !s->close_sent)
            next_out_locked(s);
        pthread_mutex_unlock(&s->mu);
        if (s->close_sent && (s->peer_closed || now >= s->close_deadline_ms))
            break;
        if (s->cur && now - s->last_progress_ms > SESSION_STALL_MS)
            break;
        pthread_mutex_lock(&s->mu);
        bool reading = s->out.bytes < SESSION_QUEUE_HARD;
        pthread_mutex_unlock(&s->mu);
        pf[0].events = (short)((reading ? POLLIN : 0) | (s->cur ? POLLOUT : 0));
        if (poll(pf, 2, 200) < 0 && errno != EINTR)
            break;
        if (pf[1].revents & POLLIN)
            (void)!read(s->wake, &v, sizeof v);
        if (pf[0].revents & POLLNVAL)
            break;
        if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && !read_some(s))
            break;
        if (s->cur && (pf[0].revents & POLLOUT))
            write_some(s);
    }
    pthread_mutex_lock(&s->mu);
    kill_locked(s, "cancelled"); /* the client is gone: the program goes at once */
    s->closed = true;
    drop_queue_locked(s);
    log_close_locked(s);
    pthread_mutex_unlock(&s->mu);
    if (s->close_fn)
        s->close_fn(s->close_arg);
    else
        close(s->fd);
    wsframe_parser_free(&s->parser);
    session_unref(s);
    return NULL;
}

int session_serve(session_hub_t *hub, int fd, const char *extra, size_t extra_len,
                  const char *bearer, void (*close_fn)(void *), void *close_arg)
{
    session_t *s = calloc(1, sizeof *s);
    pthread_attr_t attr;
    pthread_t th;
    int pending;

    if (!s)
        goto fail;
    s->hub = hub;
    s->fd = fd;
    s->close_fn = close_fn;
    s->close_arg = close_arg;
    s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake < 0)
        goto fail;
    if (extra_len > 0) {
        s->extra = malloc(extra_len);
        if (!s->extra)
            goto fail;
        memcpy(s->extra, extra, extra_len);
        s->extra_len = extra_len;
    }
    s->bearer = bearer ? strdup(bearer) : NULL;
    pthread_mutex_init(&s->mu, NULL);
    wsframe_parser_init(&s->parser, SESSION_MAX_FRAME);
    s->refs = 1; /* the connection thread */
    s->opened_ms = s->last_client_ms = cg_now_ms();
    pthread_mutex_lock(&hub->mu);
    pending = hub->count - hub->admitted;
    hub->count++;
    s->next = hub->list;
    hub->list = s;
    pthread_mutex_lock(&s->mu);
    if (hub->closing)
        refuse_locked(s, "shutting_down", "the gateway is shutting down");
    else if (!hub->hook_ok || hub->cfg->sessions_max == 0)
        refuse_locked(s, "sessions_disabled", "interactive sessions are disabled here");
    else if (pending >= SESSION_PENDING_MAX(hub->cfg))
        refuse_locked(s, "too_many_sessions",
                      "too many connections are waiting to start a program; try again later");
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&hub->mu);

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, SESSION_STACK_BYTES);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, session_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        log_msg(LOG_ERROR, "session: cannot start a thread: %s", strerror(rc));
        s->close_fn = NULL; /* released below */
        wsframe_parser_free(&s->parser);
        session_unref(s);
        goto release;
    }
    cJSON *f = cJSON_CreateObject();
    if (f)
        cJSON_AddNumberToObject(f, "open", session_hub_count(hub));
    log_event(LOG_INFO, "session_open", f);
    return 0;

fail:
    if (s) {
        if (s->wake > 0)
            close(s->wake);
        free(s->extra);
        free(s);
    }
release:
    if (close_fn)
        close_fn(close_arg);
    else
        close(fd);
    return -1;
}

/* ---- the HTTP side ---- */

static void on_upgraded(void *hub, int fd, const char *extra, size_t extra_len, const char *bearer,
                        void (*close_fn)(void *), void *close_arg)
{
    session_serve(hub, fd, extra, extra_len, bearer, close_fn, close_arg);
}

int session_endpoint(const struct _u_request *req, struct _u_response *resp, void *hub)
{
    (void)req;
    return wsupgrade_respond(resp, hub);
}

/* ---- hub ---- */

session_hub_t *session_hub_new(const config_t *cfg, pool_t *pool)
{
    session_hub_t *hub = calloc(1, sizeof *hub);

    if (!hub)
        return NULL;
    hub->cfg = cfg;
    hub->pool = pool;
    hub->hook_ok = wsupgrade_init(on_upgraded) == 0;
    pthread_mutex_init(&hub->mu, NULL);
    return hub;
}

void session_hub_set_auth(session_hub_t *hub, const session_auth_t *auth)
{
    if (auth)
        hub->auth = *auth;
    else
        memset(&hub->auth, 0, sizeof hub->auth);
}

int session_hub_count(session_hub_t *hub)
{
    int n;

    pthread_mutex_lock(&hub->mu);
    n = hub->count;
    pthread_mutex_unlock(&hub->mu);
    return n;
}

void session_hub_close(session_hub_t *hub)
{
    int64_t deadline = cg_now_ms() + 5000;

    pthread_mutex_lock(&hub->mu);
    hub->closing = true;
    for (session_t *s = hub->list; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        if (!s->finished) {
            s->shutdown = true;
            push_error_locked(s, "shutting_down", "the gateway is shutting down");
            if (s->job)
                kill_locked(s, "cancelled");
            else
                end_locked(s, WSFRAME_CLOSE_GOING_AWAY);
        }
        pthread_mutex_unlock(&s->mu);
    }
    while (hub->count > 0 && cg_now_ms() < deadline) {
        pthread_mutex_unlock(&hub->mu);
        usleep(20000);
        pthread_mutex_lock(&hub->mu);
    }
    pthread_mutex_unlock(&hub->mu);
}

void session_hub_free(session_hub_t *hub)
{
    if (!hub)
        return;
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}
