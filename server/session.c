/*
 * session.c - interactive sessions over WebSocket (see session.h for the protocol).
 *
 * Theory of operation
 * -------------------
 * Three threads touch a session. ulfius runs the client's incoming frames in the websocket's
 * thread (on_incoming) and our manager function in a thread of its own (manager); the pool
 * thread reports the job's frames through job->on_event. All three meet in session_t under
 * `mu`: frames for the client are queued (bounded: above SESSION_QUEUE_HIGH bytes the job's
 * executor connection is paused with job->flow_paused, so a program printing in a loop to a slow
 * client blocks on its own pipe instead of filling memory), and the manager thread sends them,
 * watches the wall-clock and idle limits, and returns - which makes ulfius close the
 * connection - after the final "exit" frame. A client that goes away (on_close) cancels the job
 * at once; the executor kills the program.
 *
 * The session is reference counted: one reference for the manager thread, one for on_close,
 * one for the job while it runs. The last one frees it.
 */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "job.h"
#include "log.h"
#include "request.h"

#define SESSION_QUEUE_HIGH (1024u * 1024u)
#define SESSION_QUEUE_LOW (256u * 1024u)
#define SESSION_MAX_FRAME (512u * 1024u)

typedef struct sframe {
    struct sframe *next;
    size_t len;
    char text[];
} sframe_t;

typedef struct session session_t;

struct session_hub {
    const config_t *cfg;
    pool_t *pool;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;    /* sessions alive (connections not yet cleaned up) */
    int admitted; /* of which admitted: these count against sessions_max */
    session_t *list;
    bool closing;
};

struct session {
    session_hub_t *hub;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    sframe_t *head, *tail;
    size_t queued;
    job_t *job;    /* referenced while set */
    bool started;  /* a start frame was accepted */
    bool finished; /* the final frame is queued: the manager returns after it */
    bool exit_sent;
    bool closed;             /* the client is gone */
    bool killed;             /* by the client, the idle limit or shutdown */
    bool admitted;           /* counted in hub->admitted */
    const char *kill_status; /* status reported for a killed run */
    int64_t last_client_ms;
    int64_t started_ms;
    session_t *next; /* hub list */
};

/* ---- helpers ---- */

static void session_unref(session_t *s)
{
    session_hub_t *hub = s->hub;
    int left;
    sframe_t *f;

    pthread_mutex_lock(&s->mu);
    left = --s->refs;
    pthread_mutex_unlock(&s->mu);
    if (left > 0)
        return;
    pthread_mutex_lock(&hub->mu);
    for (session_t **pp = &hub->list; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    hub->count--;
    if (s->admitted)
        hub->admitted--;
    pthread_cond_broadcast(&hub->cv);
    pthread_mutex_unlock(&hub->mu);
    while ((f = s->head)) {
        s->head = f->next;
        free(f);
    }
    if (s->job)
        job_unref(s->job);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* Queues a frame for the client (takes the cJSON object). Call with s->mu held. */
static void push_locked(session_t *s, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    size_t n;
    sframe_t *f;

    cJSON_Delete(o);
    if (!text)
        return;
    n = strlen(text);
    f = malloc(sizeof *f + n + 1);
    if (f) {
        f->next = NULL;
        f->len = n;
        memcpy(f->text, text, n + 1);
        if (s->tail)
            s->tail->next = f;
        else
            s->head = f;
        s->tail = f;
        s->queued += n;
        if (s->job && s->queued > SESSION_QUEUE_HIGH && !s->job->flow_paused) {
            s->job->flow_paused = 1;
            pool_wake(s->hub->pool);
        }
    }
    free(text);
    pthread_cond_broadcast(&s->cv);
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

/* ---- events from the pool thread ---- */

static void on_job_event(void *arg, job_t *job, const cg_msg_t *m)
{
    session_t *s = arg;
    cJSON *o;

    pthread_mutex_lock(&s->mu);
    if (!m) { /* finished */
        if (job->fail_http)
            push_error_locked(s, job->fail_code, job->fail_msg);
        if (!s->exit_sent) {
            const char *st = "internal_error";
            if (s->killed)
                st = s->kill_status;
            else if (job->compile.present && job->compile.status != CG_ST_OK)
                st = cg_status_name(job->compile.status == CG_ST_TIMEOUT ? CG_ST_COMPILE_ERROR
                                                                         : job->compile.status);
            push_exit_locked(s, st, NULL);
        }
        s->finished = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        session_unref(s); /* the job's reference */
        return;
    }
    switch (m->type) {
    case CG_MSG_EXECUTE:
        s->started_ms = cg_now_ms();
        push_locked(s, frame("started"));
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
    const cJSON *lang = cJSON_GetObjectItem(o, "language"), *code = cJSON_GetObjectItem(o, "code");
    const cJSON *args = cJSON_GetObjectItem(o, "args"), *to = cJSON_GetObjectItem(o, "timeoutMs");
    const cJSON *mem = cJSON_GetObjectItem(o, "memoryMb"), *it;

    memset(r, 0, sizeof *r);
    r->language = cJSON_IsString(lang) ? request_language(lang->valuestring) : NULL;
    if (!r->language) {
        snprintf(err, errlen, "language must be one of python, javascript, cpp");
        return -1;
    }
    if (!cJSON_IsString(code) || strlen(code->valuestring) > CG_MAX_CODE_BYTES) {
        snprintf(err, errlen, "code must be a string of at most %u bytes", CG_MAX_CODE_BYTES);
        return -1;
    }
    r->timeout_ms = cfg->session_ms;
    if (to && (!cJSON_IsNumber(to) || to->valuedouble < 1 || to->valuedouble > cfg->session_ms ||
               to->valuedouble != (double)(int)to->valuedouble)) {
        snprintf(err, errlen, "timeoutMs must be an integer between 1 and %d", cfg->session_ms);
        return -1;
    }
    if (to)
        r->timeout_ms = to->valueint;
    r->memory_mb = CG_DEFAULT_MEMORY_MB;
    if (mem && (!cJSON_IsNumber(mem) || mem->valuedouble < CG_MIN_MEMORY_MB ||
                mem->valuedouble > CG_MAX_MEMORY_MB ||
                mem->valuedouble != (double)(int)mem->valuedouble)) {
        snprintf(err, errlen, "memoryMb must be an integer between %d and %d", CG_MIN_MEMORY_MB,
                 CG_MAX_MEMORY_MB);
        return -1;
    }
    if (mem)
        r->memory_mb = mem->valueint;
    if (args && (!cJSON_IsArray(args) || cJSON_GetArraySize(args) > CG_MAX_ARGS)) {
        snprintf(err, errlen, "args must be an array of at most %d strings", CG_MAX_ARGS);
        return -1;
    }
    r->code = strdup(code->valuestring);
    r->code_len = strlen(code->valuestring);
    if (args) {
        r->args = calloc((size_t)cJSON_GetArraySize(args) + 1, sizeof *r->args);
        cJSON_ArrayForEach(it, args)
        {
            if (!cJSON_IsString(it) || strlen(it->valuestring) > CG_MAX_ARG_BYTES || !r->args) {
                snprintf(err, errlen, "args must be strings of at most %d bytes", CG_MAX_ARG_BYTES);
                request_free(r);
                return -1;
            }
            r->args[r->nargs++] = strdup(it->valuestring);
        }
    }
    if (!r->code) {
        request_free(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void handle_start(session_t *s, const cJSON *o)
{
    request_t r;
    char err[160];
    job_t *job;
    int rc;

    if (s->started) {
        push_error_locked(s, "invalid_frame", "the program was already started");
        return;
    }
    if (parse_start(s, o, &r, err, sizeof err) != 0) {
        push_error_locked(s, "invalid_request", err);
        return;
    }
    job = job_new_interactive(&r, (size_t)s->hub->cfg->output_limit_kb * 1024u);
    if (!job) {
        push_error_locked(s, "internal_error", "out of memory");
        return;
    }
    job->on_event = on_job_event;
    job->event_arg = s;
    s->job = job; /* the session's reference (from job_new) */
    s->refs++;    /* the job's reference to the session, dropped when it finishes */
    s->started = true;
    s->started_ms = cg_now_ms();
    pthread_mutex_unlock(&s->mu);
    rc = pool_submit(s->hub->pool, job);
    pthread_mutex_lock(&s->mu);
    if (rc != 0) {
        push_error_locked(s, rc == -EAGAIN ? "overloaded" : "shutting_down",
                          rc == -EAGAIN ? "too many programs are waiting; try again shortly"
                                        : "the gateway is shutting down");
        push_exit_locked(s, "internal_error", NULL);
        s->finished = true;
        s->refs--; /* the job never runs: no event will drop it */
    }
}

static void send_to_job_locked(session_t *s, char *frame_text)
{
    job_t *job = s->job;

    pthread_mutex_unlock(&s->mu);
    pool_job_send(s->hub->pool, job, frame_text);
    pthread_mutex_lock(&s->mu);
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

static void on_incoming(const struct _u_request *req, struct _websocket_manager *wsm,
                        const struct _websocket_message *msg, void *arg)
{
    session_t *s = arg;
    cJSON *o = NULL;
    const cJSON *type, *data;

    (void)req;
    (void)wsm;
    pthread_mutex_lock(&s->mu);
    s->last_client_ms = cg_now_ms();
    if (s->finished)
        goto out;
    if (msg->opcode != U_WEBSOCKET_OPCODE_TEXT || msg->data_len > SESSION_MAX_FRAME ||
        !(o = cJSON_ParseWithLength(msg->data, msg->data_len)) || !cJSON_IsObject(o) ||
        !cJSON_IsString(type = cJSON_GetObjectItem(o, "type"))) {
        push_error_locked(s, "invalid_frame", "frames are JSON text objects with a \"type\"");
        goto out;
    }
    if (!strcmp(type->valuestring, "start")) {
        handle_start(s, o);
    } else if (!s->started) {
        push_error_locked(s, "invalid_frame", "send {\"type\":\"start\",...} first");
    } else if (!strcmp(type->valuestring, "stdin")) {
        data = cJSON_GetObjectItem(o, "data");
        if (!cJSON_IsString(data))
            push_error_locked(s, "invalid_frame", "stdin needs a string \"data\"");
        else if (data->valuestring[0])
            send_to_job_locked(s, cg_encode_data(CG_MSG_STDIN, s->job->id, 0, data->valuestring,
                                                 strlen(data->valuestring)));
    } else if (!strcmp(type->valuestring, "eof")) {
        send_to_job_locked(s, cg_encode_simple(CG_MSG_CLOSE_STDIN, s->job->id));
    } else if (!strcmp(type->valuestring, "kill")) {
        kill_locked(s, "cancelled");
    } else {
        push_error_locked(s, "invalid_frame", "unknown frame type");
    }
out:
    cJSON_Delete(o);
    pthread_mutex_unlock(&s->mu);
}

/*
 * Sends one text frame to the client. ulfius_websocket_send_message() is not used for this: it
 * gives up on a frame (even half-way through it, corrupting the stream) when the socket is not
 * writable within 50 ms, which is exactly what a slow client causes. Here we wait for the
 * socket for as long as the client is connected (up to SESSION_STALL_MS without progress),
 * under ulfius' own write lock so our frames never interleave with its pongs and closes.
 * Returns 0, or -1 when the client is gone or stalled.
 */
#define SESSION_STALL_MS 30000

static int ws_send_text(struct _websocket_manager *wsm, const char *data, size_t len)
{
    unsigned char hdr[10];
    size_t hlen = 2;
    int rc = 0;

    hdr[0] = 0x81; /* FIN, text */
    if (len < 126) {
        hdr[1] = (unsigned char)len;
    } else if (len <= 0xffff) {
        hdr[1] = 126;
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
        hlen = 4;
    } else {
        hdr[1] = 127;
        for (int i = 0; i < 8; i++)
            hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hlen = 10;
    }
    pthread_mutex_lock(&wsm->write_lock);
    for (int part = 0; part < 2 && rc == 0; part++) {
        const unsigned char *p = part ? (const unsigned char *)data : hdr;
        size_t left = part ? len : hlen;
        int64_t last_progress = cg_now_ms();
        while (left > 0) {
            struct pollfd pfd = {.fd = wsm->mhd_sock, .events = POLLOUT};
            if (!wsm->connected || cg_now_ms() - last_progress > SESSION_STALL_MS) {
                rc = -1;
                break;
            }
            int pr = poll(&pfd, 1, 200);
            if (pr < 0 && errno != EINTR) {
                rc = -1;
                break;
            }
            if (pr <= 0)
                continue;
            if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
                rc = -1;
                break;
            }
            ssize_t n = send(wsm->mhd_sock, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    continue;
                rc = -1;
                break;
            }
            p += n;
            left -= (size_t)n;
            last_progress = cg_now_ms();
        }
    }
    pthread_mutex_unlock(&wsm->write_lock);
    return rc;
}

/* ---- the manager thread: sends, and enforces the session's limits ---- */

static void manager(const struct _u_request *req, struct _websocket_manager *wsm, void *arg)
{
    session_t *s = arg;
    const config_t *cfg = s->hub->cfg;

    (void)req;
    wsm->keep_messages = U_WEBSOCKET_KEEP_NONE;
    /* Admission, before taking s->mu (lock order: hub->mu, then s->mu). A refused session does
     * not take a place itself. */
    pthread_mutex_lock(&s->hub->mu);
    if (s->hub->admitted < cfg->sessions_max) {
        s->hub->admitted++;
        s->admitted = true;
    }
    pthread_mutex_unlock(&s->hub->mu);
    pthread_mutex_lock(&s->mu);
    if (cfg->sessions_max == 0) {
        push_error_locked(s, "sessions_disabled", "interactive sessions are disabled here");
        s->finished = true;
    } else if (!s->admitted) {
        push_error_locked(s, "too_many_sessions",
                          "too many interactive sessions are open; "
                          "try again later");
        s->finished = true;
    }
    for (;;) {
        while (s->head) {
            sframe_t *f = s->head;
            s->head = f->next;
            if (!s->head)
                s->tail = NULL;
            s->queued -= f->len;
            if (s->job && s->job->flow_paused && s->queued < SESSION_QUEUE_LOW) {
                s->job->flow_paused = 0;
                pool_wake(s->hub->pool);
            }
            pthread_mutex_unlock(&s->mu);
            int rc = ws_send_text(wsm, f->text, f->len);
            free(f);
            pthread_mutex_lock(&s->mu);
            if (rc != 0)
                s->closed = true;
        }
        if (s->finished || s->closed || ulfius_websocket_status(wsm) != U_WEBSOCKET_STATUS_OPEN)
            break;
        int64_t now = cg_now_ms();
        if (s->started && !s->killed && now - s->last_client_ms > cfg->session_idle_ms) {
            push_error_locked(s, "idle_timeout", "no input from the client for too long");
            kill_locked(s, "timeout");
            continue;
        }
        if (!s->started && now - s->last_client_ms > cfg->session_idle_ms) {
            push_error_locked(s, "idle_timeout", "no start frame");
            s->finished = true;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    session_unref(s);
}

static void on_close(const struct _u_request *req, struct _websocket_manager *wsm, void *arg)
{
    session_t *s = arg;

    (void)req;
    (void)wsm;
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    kill_locked(s, "cancelled"); /* the tab was closed: the program goes at once */
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    session_unref(s);
}

/* ---- hub ---- */

int session_endpoint(const struct _u_request *req, struct _u_response *resp, void *arg)
{
    session_hub_t *hub = arg;
    session_t *s;
    pthread_condattr_t ca;

    (void)req;
    s = calloc(1, sizeof *s);
    if (!s)
        return U_CALLBACK_ERROR;
    s->hub = hub;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->refs = 2; /* manager + on_close */
    s->last_client_ms = cg_now_ms();
    pthread_mutex_lock(&hub->mu);
    if (hub->closing) {
        pthread_mutex_unlock(&hub->mu);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return U_CALLBACK_ERROR;
    }
    hub->count++;
    s->next = hub->list;
    hub->list = s;
    pthread_mutex_unlock(&hub->mu);
    if (ulfius_set_websocket_response(resp, NULL, NULL, manager, s, on_incoming, s, on_close, s) !=
        U_OK) {
        s->refs = 1;
        session_unref(s);
        return U_CALLBACK_ERROR;
    }
    cJSON *f = cJSON_CreateObject();
    if (f)
        cJSON_AddNumberToObject(f, "open", hub->count);
    log_event(LOG_INFO, "session_open", f);
    return U_CALLBACK_COMPLETE;
}

session_hub_t *session_hub_new(const config_t *cfg, pool_t *pool)
{
    session_hub_t *hub = calloc(1, sizeof *hub);

    if (!hub)
        return NULL;
    hub->cfg = cfg;
    hub->pool = pool;
    pthread_mutex_init(&hub->mu, NULL);
    pthread_cond_init(&hub->cv, NULL);
    return hub;
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
        push_error_locked(s, "shutting_down", "the gateway is shutting down");
        kill_locked(s, "cancelled");
        if (!s->job)
            s->finished = true;
        pthread_cond_broadcast(&s->cv);
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
    pthread_cond_destroy(&hub->cv);
    free(hub);
}
