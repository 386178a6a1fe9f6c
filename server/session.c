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
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "cg_util.h"
#include "frameq.h"
#include "frontdoor.h"
#include "job.h"
#include "log.h"
#include "response.h"
#include "session_int.h"
#include "wsframe.h"
#include "wsupgrade.h"

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
        session_refuse_locked(s, "start_timeout", msg);
    } else if (s->started && !s->killed && now - s->last_client_ms > cfg->session_idle_ms) {
        session_push_error_locked(s, "idle_timeout", "no input from the client for too long");
        session_kill_locked(s, "timeout");
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
        f = session_frame_new(WSFRAME_OP_CLOSE, p, 2);
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
        session_feed(s, buf, (size_t)n);
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
        session_feed(s, s->extra, s->extra_len);
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
    session_kill_locked(s, "cancelled"); /* the client is gone: the program goes at once */
    s->closed = true;
    session_drop_queue_locked(s);
    log_close_locked(s);
    pthread_mutex_unlock(&s->mu);
    /* Our own descriptor first; then the HTTP server releases its own (close_fn). */
    close(s->fd);
    if (s->close_fn)
        s->close_fn(s->close_arg);
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
    /* With a close_fn the HTTP server keeps the socket and closes it on its own thread once
     * close_fn has run. The session does its I/O on a duplicate that only its thread uses and
     * closes, so no descriptor number is ever shared between the two threads (ThreadSanitizer
     * saw the server's close race the session's last recv on the same number: the server's
     * thread learns of close_fn through libmicrohttpd's own signalling, invisible to it). */
    s->fd = close_fn ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : fd;
    if (s->fd < 0)
        goto fail;
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
        session_refuse_locked(s, "shutting_down", "the gateway is shutting down");
    else if (!hub->hook_ok || hub->cfg->sessions_max == 0)
        session_refuse_locked(s, "sessions_disabled", "interactive sessions are disabled here");
    else if (pending >= SESSION_PENDING_MAX(hub->cfg))
        session_refuse_locked(
            s, "too_many_sessions",
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
        if (s->fd != fd)
            close(s->fd);
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
        if (close_fn && s->fd > 0)
            close(s->fd);
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
    const char *up = u_map_get_case(req->map_header, "Upgrade");

    if (!up || strcasecmp(up, "websocket") != 0) {
        /* ulfius would answer 400 with an empty body; every error of the API is JSON. */
        static const char msg[] = "this endpoint is a WebSocket: send Upgrade: websocket";
        char *body = response_error("bad_request", msg, NULL);
        frontdoor_note_error("bad_request", msg);
        u_map_put(resp->map_header, "Content-Type", "application/json; charset=utf-8");
        ulfius_set_string_body_response(resp, 400, body ? body : "");
        free(body);
        return U_CALLBACK_COMPLETE;
    }
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
            session_push_error_locked(s, "shutting_down", "the gateway is shutting down");
            if (s->job)
                session_kill_locked(s, "cancelled");
            else
                session_end_locked(s, WSFRAME_CLOSE_GOING_AWAY);
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
