/*
 * executor.c - the WebSocket server of the executor (see executor.h).
 *
 * lws runs on the caller's libuv loop (a "foreign loop": LWS_SERVER_OPTION_LIBUV with
 * info.foreign_loops), with one explicitly created vhost listening on TCP or a unix socket.
 * Each connection carries at most one job at a time. Outgoing frames wait in a per-connection
 * queue and go out one per LWS_CALLBACK_SERVER_WRITEABLE; incoming fragments are reassembled up
 * to CG_MAX_FRAME_BYTES (beyond: close 1009).
 */
#include "executor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cg_util.h"
#include "protocol.h"
#include "runner.h"

typedef struct outframe {
    struct outframe *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE, then the payload */
} outframe_t;

typedef struct conn {
    executor_t *ex;
    struct lws *wsi;
    outframe_t *out_head, *out_tail;
    size_t queued;         /* bytes in out_head..out_tail */
    char *rx;
    size_t rx_len, rx_cap;
    rjob_t *job;
    struct conn *next;
} conn_t;

struct executor {
    executor_cfg_t cfg;
    uv_loop_t *loop;
    struct lws_context *ctx;
    runner_t *runner;
    ccache_t *ccache;
    conn_t *conns;
    bool shutting_down;
    uv_timer_t stop_timer;     /* shutdown: stop even if a client keeps its connection open */
    bool stop_timer_started;
    char unix_path[108];
};

void executor_log(const char *level, const char *fmt, ...)
{
    char msg[512], ts[40], line[800];
    struct timespec now;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    cJSON *o = cJSON_CreateString(msg);
    char *q = o ? cJSON_PrintUnformatted(o) : NULL;
    int n = snprintf(line, sizeof line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"src\":\"executor\",\"msg\":%s}\n",
                     ts, now.tv_nsec / 1000000L, level, q ? q : "\"\"");
    cJSON_Delete(o);
    free(q);
    if (n > 0)
        (void)cg_write_all(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line);
}

/* ---- outgoing ---- */

static void conn_send(void *c_, char *frame)
{
    conn_t *c = c_;
    size_t len = strlen(frame);
    outframe_t *f = malloc(sizeof *f + LWS_PRE + len);

    if (!f) {
        free(frame);
        return;
    }
    f->next = NULL;
    f->len = len;
    memcpy(f->buf + LWS_PRE, frame, len);
    free(frame);
    if (c->out_tail)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
    c->queued += len;
    lws_callback_on_writable(c->wsi);
}

static size_t conn_queued(void *c_)
{
    return ((conn_t *)c_)->queued;
}

static int on_writeable(conn_t *c)
{
    outframe_t *f = c->out_head;

    if (!f)
        return 0;
    if (lws_write(c->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
        return -1;
    c->out_head = f->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->queued -= f->len;
    free(f);
    if (c->out_head)
        lws_callback_on_writable(c->wsi);
    if (c->job && c->queued < RUNNER_QUEUE_HIGH / 4)
        runner_resume(c->job);
    return 0;
}

/* During shutdown: the loop stops once no job runs and every connection is closed, so that
 * lws_context_destroy() finds nothing alive (with a foreign loop it cannot free a connection
 * that is still open: LeakSanitizer shows its buffers). */
static void maybe_stop(executor_t *ex, int jobs_left)
{
    if (ex->shutting_down && jobs_left == 0 && !ex->conns)
        uv_stop(ex->loop);
}

static void job_ended(void *c_, rjob_t *job)
{
    conn_t *c = c_;

    if (c->job == job)
        c->job = NULL;
    /* the ending job is still counted as active until this returns */
    maybe_stop(c->ex, runner_active(c->ex->runner) - 1);
}

/* ---- incoming ---- */

static void on_execute(conn_t *c, cJSON *root, const cg_msg_t *m)
{
    executor_t *ex = c->ex;
    int rc;

    if (c->job || ex->shutting_down) {
        conn_send(c, cg_encode_error(m->id, "busy", c->job ? "this connection already runs a job"
                                                           : "the executor is shutting down"));
        conn_send(c, cg_encode_done(m->id, 0));
        cJSON_Delete(root);
        return;
    }
    if (strcmp(m->exec.language, ex->cfg.language) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "this executor runs %s, not %s", ex->cfg.language,
                 m->exec.language);
        conn_send(c, cg_encode_error(m->id, "unsupported_language", msg));
        conn_send(c, cg_encode_done(m->id, 0));
        cJSON_Delete(root);
        return;
    }
    char id[CG_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", m->id);
    rc = runner_start_job(ex->runner, root, m, c, &c->job);
    if (rc != 0) {
        c->job = NULL;
        conn_send(c, cg_encode_error(id, rc == -EBUSY ? "busy" : "internal",
                                     rc == -EBUSY ? "every slot is busy" : strerror(-rc)));
        conn_send(c, cg_encode_done(id, 0));
    }
}

static void on_frame(conn_t *c, const char *buf, size_t len)
{
    cJSON *root = NULL;
    cg_msg_t m;
    char err[160];
    int rc = cg_msg_parse(buf, len, &root, &m, err, sizeof err);

    if (rc != 0) {
        conn_send(c, cg_encode_error(NULL, "bad_frame", err));
        return;
    }
    switch (m.type) {
    case CG_MSG_EXECUTE:
        on_execute(c, root, &m);
        return; /* root handed over */
    case CG_MSG_PING:
        conn_send(c, cg_encode_ping(CG_MSG_PONG, m.seq));
        break;
    case CG_MSG_CANCEL:
    case CG_MSG_KILL:
        if (c->job && strcmp(runner_job_id(c->job), m.id) == 0)
            runner_cancel(c->job);
        break;
    case CG_MSG_STDIN:
        if (c->job && strcmp(runner_job_id(c->job), m.id) == 0)
            runner_stdin(c->job, m.data);
        break;
    case CG_MSG_CLOSE_STDIN:
        if (c->job && strcmp(runner_job_id(c->job), m.id) == 0)
            runner_close_stdin(c->job);
        break;
    case CG_MSG_PONG:
        break;
    default:
        conn_send(c, cg_encode_error(m.id, "bad_frame", "unexpected frame type"));
        break;
    }
    cJSON_Delete(root);
}

static int on_receive(conn_t *c, const void *in, size_t len)
{
    if (c->rx_len + len > CG_MAX_FRAME_BYTES) {
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 65536;
        while (cap < c->rx_len + len + 1)
            cap *= 2;
        char *nb = realloc(c->rx, cap);
        if (!nb)
            return -1;
        c->rx = nb;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi)) {
        c->rx[c->rx_len] = '\0';
        on_frame(c, c->rx, c->rx_len);
        c->rx_len = 0;
        if (c->rx_cap > 4u * 1024 * 1024) {
            free(c->rx);
            c->rx = NULL;
            c->rx_cap = 0;
        }
    }
    return 0;
}

static bool token_ok(executor_t *ex, struct lws *wsi)
{
    char auth[256];
    int n = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);

    if (n <= 7 || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    return cg_secret_equal(auth + 7, ex->cfg.token);
}

static void conn_closed(executor_t *ex, conn_t *c)
{
    for (conn_t **pp = &ex->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    if (c->job) {
        runner_detach(c->job);
        c->job = NULL;
    }
    while (c->out_head) {
        outframe_t *f = c->out_head;
        c->out_head = f->next;
        free(f);
    }
    free(c->rx);
    c->rx = NULL;
    maybe_stop(ex, runner_active(ex->runner));
}

static int callback_exec(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    executor_t *ex = lws_context_user(lws_get_context(wsi));
    conn_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!token_ok(ex, wsi)) {
            executor_log("warn", "refused a connection without the right token");
            return 1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof *c);
        c->ex = ex;
        c->wsi = wsi;
        c->next = ex->conns;
        ex->conns = c;
        conn_send(c, cg_encode_hello(ex->cfg.language, ex->cfg.version, ex->cfg.slots));
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_CLOSED:
        conn_closed(ex, c);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {CG_PROTO_NAME, callback_exec, sizeof(conn_t), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* /healthz-like answer for plain HTTP is not offered: only the WebSocket protocol. */

static int parse_listen(executor_t *ex, struct lws_context_creation_info *vi)
{
    const char *l = ex->cfg.listen;

    if (strncmp(l, "unix:", 5) == 0) {
        snprintf(ex->unix_path, sizeof ex->unix_path, "%s", l + 5);
        unlink(ex->unix_path); /* a stale socket from an earlier run */
        vi->options |= LWS_SERVER_OPTION_UNIX_SOCK;
        vi->iface = ex->unix_path;
        vi->port = 0;
        return 0;
    }
    if (strncmp(l, "tcp:", 4) == 0) {
        static char host[64];
        const char *colon = strrchr(l + 4, ':');
        if (!colon)
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(colon - (l + 4)), l + 4);
        vi->port = atoi(colon + 1);
        vi->iface = strcmp(host, "0.0.0.0") == 0 || !host[0] ? NULL : host;
        return vi->port > 0 ? 0 : -1;
    }
    return -1;
}

executor_t *executor_new(uv_loop_t *loop, const executor_cfg_t *cfg)
{
    struct lws_context_creation_info info, vi;
    executor_t *ex = calloc(1, sizeof *ex);
    void *loops[1] = {loop};
    const profile_t *pf = profile_find(cfg->language);

    if (!ex || !pf)
        goto fail;
    ex->cfg = *cfg;
    ex->loop = loop;
    if (pf->binary && cfg->cache_dir) {
        ex->ccache = ccache_new(cfg->cache_dir, 256, 512u * 1024u * 1024u);
        if (!ex->ccache)
            executor_log("warn", "no compile cache: cannot use %s", cfg->cache_dir);
    }
    runner_cfg_t rc = {
        .loop = loop,
        .profile = pf,
        .launcher = cfg->launcher,
        .work_root = cfg->work_root,
        .slots = cfg->slots,
        .uid_base = cfg->uid_base,
        .drop_uid = cfg->drop_uid,
        .compile_timeout_ms = cfg->compile_timeout_ms,
        .send = conn_send,
        .ended = job_ended,
        .queued = conn_queued,
        .ccache = ex->ccache,
        .lang_version = cfg->version,
    };
    ex->runner = runner_new(&rc);
    if (!ex->runner)
        goto fail;
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops;
    info.user = ex;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    ex->ctx = lws_create_context(&info);
    if (!ex->ctx) {
        executor_log("error", "lws_create_context failed (is libwebsockets-evlib-uv installed?)");
        goto fail;
    }
    memset(&vi, 0, sizeof vi);
    vi.protocols = protocols;
    vi.vhost_name = "executor";
    vi.options = 0;
    vi.gid = (gid_t)-1;
    vi.uid = (uid_t)-1;
    if (parse_listen(ex, &vi) != 0) {
        executor_log("error", "bad listen address \"%s\" (tcp:HOST:PORT or unix:/path)",
                     cfg->listen);
        goto fail;
    }
    if (!lws_create_vhost(ex->ctx, &vi)) {
        executor_log("error", "cannot listen on %s", cfg->listen);
        goto fail;
    }
    if (ex->unix_path[0])
        chmod(ex->unix_path, 0600);
    return ex;
fail:
    executor_free(ex);
    return NULL;
}

static void on_stop_timer(uv_timer_t *t)
{
    executor_t *ex = t->data;

    executor_log("warn", "connections still open after the shutdown grace period: stopping");
    uv_stop(ex->loop);
}

void executor_shutdown(executor_t *ex)
{
    if (!ex->stop_timer_started && uv_timer_init(ex->loop, &ex->stop_timer) == 0) {
        ex->stop_timer.data = ex;
        ex->stop_timer_started = true;
        uv_timer_start(&ex->stop_timer, on_stop_timer, 3000, 0);
        uv_unref((uv_handle_t *)&ex->stop_timer);
    }
    ex->shutting_down = true;
    runner_cancel_all(ex->runner);
    for (conn_t *c = ex->conns; c; c = c->next)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    maybe_stop(ex, runner_active(ex->runner));
}

void executor_free(executor_t *ex)
{
    if (!ex)
        return;
    if (ex->stop_timer_started) {
        uv_timer_stop(&ex->stop_timer);
        uv_close((uv_handle_t *)&ex->stop_timer, NULL);
    }
    if (ex->ctx)
        lws_context_destroy(ex->ctx);
    if (ex->unix_path[0])
        unlink(ex->unix_path);
    runner_free(ex->runner);
    ccache_free(ex->ccache);
    free(ex);
}
