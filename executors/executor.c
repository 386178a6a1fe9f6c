/*
 * executor.c - the WebSocket server of the executor (see executor.h).
 *
 * lws runs on the caller's libuv loop (a "foreign loop": LWS_SERVER_OPTION_LIBUV with
 * info.foreign_loops), with one explicitly created vhost listening on TCP or a unix socket.
 * With a certificate (cfg.tls_cert) the listener speaks TLS only. Plain HTTP requests on it get
 * GET /healthz (health.h) or 404. Each connection carries at most one job at a time. Outgoing
 * frames wait in a per-connection queue and go out one per LWS_CALLBACK_SERVER_WRITEABLE; incoming
 * fragments are reassembled up to CG_MAX_FRAME_BYTES (beyond: close 1009). lws answers WebSocket
 * PINGs itself, and pings an idle peer (vhost keepalive policy below), so a gateway that vanished
 * without a FIN is noticed and its job cancelled.
 *
 * Log lines are JSON on stderr: {"ts","level","src","msg"} for prose, {"ts","level","src",
 * "event",...} for the events an operator counts (listen, conn_accept, conn_refuse, conn_close,
 * job_refused; with --log-level debug also job_start and job_end: two lines per job cost about
 * 0.7 ms of dockerd's CPU per request on the Docker runtime, and the gateway logs every request).
 */
#include "executor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cg_util.h"
#include "frameq.h"
#include "health.h"
#include "log.h"
#include "protocol.h"
#include "runner.h"

/* One per accepted WebSocket: lws allocates it (per_session_data_size) at ESTABLISHED and frees
 * it after CLOSED. Loop thread only. */
typedef struct conn {
    executor_t *ex;
    struct lws *wsi;
    char peer[64];
    frameq_t out; /* frames with LWS_PRE headroom; out.bytes: payload bytes queued */
    cg_buf_t rx;  /* the message being reassembled */
    rjob_t *job;
    struct conn *next;
} conn_t;

struct executor {
    executor_cfg_t cfg;
    uv_loop_t *loop;
    struct lws_context *ctx;
    runner_t *runner;
    ccache_t *ccache;
    cxxfast_t fast; /* what speeds up compiles; read-only after executor_new */
    conn_t *conns;
    bool draining;          /* no new job, no new connection (executor_drain) */
    bool closing;           /* every connection closes once its queue is sent and its job ended */
    uv_timer_t drain_timer; /* draining: the grace period of the jobs that run */
    bool drain_timer_started;
    uv_timer_t stop_timer; /* closing: stop even if a client keeps its connection open */
    bool stop_timer_started;
    char unix_path[108];
    char host[64];
    int nconns;
    unsigned long conn_serial;
};

/* Keepalive: ping a connection that was silent for 30 s, hang up after 75 s without a sign of
 * life (lws's default is 5 minutes). Only the idle parts of the policy apply to a server. */
static const lws_retry_bo_t keepalive = {
    .secs_since_valid_ping = 30,
    .secs_since_valid_hangup = 75,
};

/* The executor logs through the shared JSON-lines logger (common/log.c), set up by main.c to
 * write to stderr with "src":"executor". These wrappers take level names, as runner.c's log
 * callback does. */
int executor_set_log_level(const char *level)
{
    log_level_t l;

    if (log_level_parse(level, &l) != 0)
        return -1;
    log_set_level(l);
    return 0;
}

bool executor_log_enabled(const char *level)
{
    log_level_t l;

    return log_level_parse(level, &l) == 0 && log_enabled(l);
}

void executor_log(const char *level, const char *fmt, ...)
{
    log_level_t l;
    va_list ap;

    if (log_level_parse(level, &l) != 0)
        return;
    va_start(ap, fmt);
    log_vmsg(l, fmt, ap);
    va_end(ap);
}

/* ---- outgoing ---- */

static void conn_send(void *c_, char *frame)
{
    conn_t *c = c_;
    int rc = frameq_push_copy(&c->out, LWS_PRE, frame, strlen(frame));

    free(frame);
    if (rc == 0)
        lws_callback_on_writable(c->wsi);
}

static size_t conn_queued(void *c_)
{
    return ((conn_t *)c_)->out.bytes;
}

static int on_writeable(conn_t *c)
{
    frameq_item_t *f = frameq_peek(&c->out);

    if (!f) {
        if (c->ex->closing && !c->job) {
            /* Everything is said (a cancelled job's DONE included): close as "going away". */
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_GOINGAWAY, NULL, 0);
            return -1;
        }
        return 0;
    }
    if (lws_send_pipe_choked(c->wsi)) {
        lws_callback_on_writable(c->wsi); /* the kernel buffer is full: try again later */
        return 0;
    }
    /* For ws, lws buffers what the socket did not take and sends it before the next
     * WRITEABLE: a short count here is a failed connection. */
    if (lws_write(c->wsi, f->data, f->len, LWS_WRITE_TEXT) < (int)f->len)
        return -1;
    free(frameq_pop(&c->out));
    if (!frameq_empty(&c->out) || c->ex->closing)
        lws_callback_on_writable(c->wsi);
    if (c->job && c->out.bytes < RUNNER_QUEUE_HIGH / 4)
        runner_resume(c->job);
    return 0;
}

static void begin_closing(executor_t *ex);

/* During shutdown: the loop stops once no job runs and every connection is closed, so that
 * lws_context_destroy() finds nothing alive (with a foreign loop it cannot free a connection
 * that is still open: LeakSanitizer shows its buffers). While draining, the last job to end
 * starts the closing. */
static void maybe_stop(executor_t *ex, int jobs_left)
{
    if (ex->draining && !ex->closing && jobs_left == 0)
        begin_closing(ex);
    if (ex->closing && jobs_left == 0 && !ex->conns)
        uv_stop(ex->loop);
}

static void job_ended(void *c_, rjob_t *job)
{
    conn_t *c = c_;
    runner_summary_t sum;
    executor_t *ex = c ? c->ex : runner_owner(job);
    cJSON *f = cJSON_CreateObject();

    runner_job_summary(job, &sum);
    if (f && !log_enabled(LOG_DEBUG)) {
        cJSON_Delete(f); /* one line per job only when asked for: see docs/PERFORMANCE.md */
        f = NULL;
    } else if (f) {
        cJSON_AddStringToObject(f, "id", sum.id);
        cJSON_AddNumberToObject(f, "slot", sum.slot);
        cJSON_AddNumberToObject(f, "runs", sum.runs_done);
        cJSON_AddNumberToObject(f, "of", sum.nruns);
        cJSON_AddNumberToObject(f, "ms", (double)sum.elapsed_ms);
        if (sum.compile_failed)
            cJSON_AddBoolToObject(f, "compileFailed", true);
        if (sum.cancelled)
            cJSON_AddBoolToObject(f, "cancelled", true);
        if (!c)
            cJSON_AddBoolToObject(f, "detached", true);
    }
    if (f)
        log_event(LOG_DEBUG, "job_end", f);
    if (c && c->job == job) {
        c->job = NULL;
        if (ex->closing)
            lws_callback_on_writable(c->wsi);
    }
    /* the ending job is still counted as active until this returns */
    maybe_stop(ex, runner_active(ex->runner) - 1);
}

/* ---- incoming ---- */

static void on_execute(conn_t *c, cJSON *root, const cg_msg_t *m)
{
    executor_t *ex = c->ex;
    int rc;

    if (ex->draining) {
        /* Nothing ran: the gateway sends the job to another executor. */
        conn_send(c, cg_encode_error(m->id, "executor_draining",
                                     "the executor is stopping and takes no new job"));
        conn_send(c, cg_encode_done(m->id, 0, false));
        cJSON_Delete(root);
        return;
    }
    if (c->job) {
        conn_send(c, cg_encode_error(m->id, "busy", "this connection already runs a job"));
        conn_send(c, cg_encode_done(m->id, 0, false));
        cJSON_Delete(root);
        return;
    }
    if (strcmp(m->exec.language, ex->cfg.language) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "this executor runs %s, not %s", ex->cfg.language,
                 m->exec.language);
        conn_send(c, cg_encode_error(m->id, "unsupported_language", msg));
        conn_send(c, cg_encode_done(m->id, 0, false));
        cJSON_Delete(root);
        return;
    }
    {
        /* The gateway checked them; we do not trust the wire (lang.h: one validator). */
        char why[160], msg[256];
        int bad;
        if (lang_options_check(lang_get(ex->cfg.language), m->exec.options, m->exec.noptions, &bad,
                               why, sizeof why) != 0) {
            snprintf(msg, sizeof msg, "options: %s", why);
            conn_send(c, cg_encode_error(m->id, "invalid_options", msg));
            conn_send(c, cg_encode_done(m->id, 0, false));
            cJSON_Delete(root);
            return;
        }
    }
    char id[CG_ID_MAX + 1];
    int nruns = m->exec.nruns;
    size_t code_len = m->exec.code_len;
    snprintf(id, sizeof id, "%s", m->id);
    rc = runner_start_job(ex->runner, root, m, c, &c->job);
    cJSON *f = cJSON_CreateObject();
    if (f) {
        cJSON_AddStringToObject(f, "id", id);
        cJSON_AddStringToObject(f, "peer", c->peer);
        cJSON_AddNumberToObject(f, "runs", nruns);
        cJSON_AddNumberToObject(f, "codeBytes", (double)code_len);
    }
    if (rc != 0) {
        c->job = NULL;
        if (f)
            cJSON_AddStringToObject(f, "error", rc == -EBUSY ? "busy" : strerror(-rc));
        log_event(rc == -EBUSY ? LOG_INFO : LOG_ERROR, "job_refused", f);
        conn_send(c, cg_encode_error(id, rc == -EBUSY ? "busy" : "internal",
                                     rc == -EBUSY ? "every slot is busy" : strerror(-rc)));
        conn_send(c, cg_encode_done(id, 0, false));
        return;
    }
    /* The job may have ended already (a launcher that could not start): c->job is then NULL. */
    log_event(LOG_DEBUG, "job_start", f);
}

static void on_frame(conn_t *c, const char *buf, size_t len)
{
    cJSON *root = NULL;
    cg_msg_t m;
    char err[160];
    int rc = cg_msg_parse(buf, len, &root, &m, err, sizeof err);

    if (rc != 0) {
        /* An EXECUTE we cannot take still names its job: answer for that job (error, then DONE
         * with no run), so that a peer waiting for it learns at once that it will not run. */
        cJSON *loose = cJSON_ParseWithLength(buf, len);
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(loose, "type"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(loose, "id"));
        bool job = type && !strcmp(type, "execute") && id && cg_id_valid(id);
        conn_send(c, cg_encode_error(job ? id : NULL, "bad_frame", err));
        if (job)
            conn_send(c, cg_encode_done(id, 0, false));
        cJSON_Delete(loose);
        return;
    }
    switch (m.type) {
    case CG_MSG_EXECUTE:
        on_execute(c, root, &m);
        return; /* root handed over */
    case CG_MSG_PING:
        conn_send(c, cg_encode_pong(m.seq, runner_slots_down(c->ex->runner), c->ex->draining));
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
    lws_validity_confirmed(c->wsi); /* the peer is alive: no keepalive PING needed now */
    if (c->rx.len + len > CG_MAX_FRAME_BYTES) {
        executor_log("warn", "connection %s: frame over %u bytes, closing (1009)", c->peer,
                     CG_MAX_FRAME_BYTES);
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    if (cg_buf_append(&c->rx, in, len) != 0)
        return -1;
    if (lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi)) {
        on_frame(c, c->rx.data, c->rx.len);
        cg_buf_reset(&c->rx, 4u * 1024 * 1024);
    }
    return 0;
}

static bool token_ok(executor_t *ex, struct lws *wsi)
{
    char auth[320];
    int n = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
    bool ok = n > 7 && strncmp(auth, "Bearer ", 7) == 0 && cg_secret_equal(auth + 7, ex->cfg.token);

    memset(auth, 0, sizeof auth);
    return ok;
}

static void peer_name(struct lws *wsi, char *out, size_t len)
{
    if (!lws_get_peer_simple(wsi, out, len) || !out[0])
        snprintf(out, len, "local");
}

/* The upgrade request is complete: refuse it without the right token (lws answers 403 and
 * closes), or while shutting down. */
static int on_filter(executor_t *ex, struct lws *wsi)
{
    const char *why = ex->draining ? "draining" : !token_ok(ex, wsi) ? "bad token" : NULL;
    char peer[64];

    if (!why)
        return 0;
    peer_name(wsi, peer, sizeof peer);
    cJSON *f = cJSON_CreateObject();
    if (f) {
        cJSON_AddStringToObject(f, "peer", peer);
        cJSON_AddStringToObject(f, "reason", why);
    }
    log_event(LOG_WARN, "conn_refuse", f);
    return 1;
}

static void on_established(executor_t *ex, conn_t *c, struct lws *wsi)
{
    memset(c, 0, sizeof *c);
    c->ex = ex;
    c->wsi = wsi;
    c->next = ex->conns;
    ex->conns = c;
    ex->nconns++;
    char peer[48];
    peer_name(wsi, peer, sizeof peer);
    snprintf(c->peer, sizeof c->peer, "%s#%lu", peer, ++ex->conn_serial);
    cJSON *f = cJSON_CreateObject();
    if (f) {
        cJSON_AddStringToObject(f, "peer", c->peer);
        cJSON_AddNumberToObject(f, "conns", ex->nconns);
    }
    log_event(LOG_INFO, "conn_accept", f);
    conn_send(c, cg_encode_hello(ex->cfg.language, ex->cfg.version, ex->cfg.slots));
}

static void conn_closed(executor_t *ex, conn_t *c)
{
    bool had_job = c->job != NULL;

    for (conn_t **pp = &ex->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            ex->nconns--;
            break;
        }
    if (c->job) {
        runner_detach(c->job); /* kills the run; job_ended comes later with conn NULL */
        c->job = NULL;
    }
    frameq_clear(&c->out);
    cg_buf_free(&c->rx);
    cJSON *f = cJSON_CreateObject();
    if (f) {
        cJSON_AddStringToObject(f, "peer", c->peer);
        cJSON_AddNumberToObject(f, "conns", ex->nconns);
        if (had_job)
            cJSON_AddBoolToObject(f, "jobCancelled", true);
    }
    log_event(LOG_INFO, "conn_close", f);
    maybe_stop(ex, runner_active(ex->runner));
}

/* Plain HTTP on the same listener: GET /healthz (health.h), no token; 404 for anything else.
 * The answer is small enough for one write; the connection is then closed (a probe makes
 * one request), so no HTTP connection outlives a drain. */
static int on_http(executor_t *ex, struct lws *wsi, const char *uri)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    char body[256];
    int status;

    if (uri && !strcmp(uri, "/healthz") && lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) {
        health_t h = {.language = ex->cfg.language,
                      .slots = ex->cfg.slots,
                      .busy = runner_active(ex->runner),
                      .slots_down = runner_slots_down(ex->runner),
                      .draining = ex->draining};
        status = health_answer(&h, body, sizeof body);
    } else {
        status = HTTP_STATUS_NOT_FOUND;
        snprintf(body, sizeof body, "{\"error\":\"not_found\"}");
    }
    size_t n = strlen(body);
    if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", n, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                     &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    memcpy(start, body, n);
    if (lws_write(wsi, start, n, LWS_WRITE_HTTP_FINAL) < (int)n)
        return -1;
    return -1; /* one request per connection: close it now the answer is written */
}

static int callback_exec(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    executor_t *ex = lws_context_user(lws_get_context(wsi));
    conn_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_filter(ex, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        on_established(ex, c, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_CLOSED:
        if (c && c->wsi) /* else refused before ESTABLISHED (on_filter): nothing to undo */
            conn_closed(ex, c);
        return 0;
    case LWS_CALLBACK_HTTP:
        return on_http(ex, wsi, in);
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {CG_PROTO_NAME, callback_exec, sizeof(conn_t), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Removes a socket left by an earlier run at path; anything else there is not ours to delete. */
static int clear_stale_socket(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    return unlink(path) == 0 ? 0 : -errno;
}

static int parse_listen(executor_t *ex, struct lws_context_creation_info *vi)
{
    const char *l = ex->cfg.listen;

    if (strncmp(l, "unix:", 5) == 0) {
        if (!l[5] || strlen(l + 5) >= sizeof ex->unix_path)
            return -EINVAL;
        snprintf(ex->unix_path, sizeof ex->unix_path, "%s", l + 5);
        int rc = clear_stale_socket(ex->unix_path);
        if (rc != 0) {
            executor_log("error", "cannot use %s for the socket: %s", ex->unix_path,
                         rc == -EEXIST ? "something other than a socket is there" : strerror(-rc));
            ex->unix_path[0] = '\0'; /* not ours: never unlink it */
            return rc;
        }
        vi->options |= LWS_SERVER_OPTION_UNIX_SOCK;
        vi->iface = ex->unix_path;
        vi->port = 0;
        return 0;
    }
    if (strncmp(l, "tcp:", 4) == 0) {
        const char *colon = strrchr(l + 4, ':');
        char *end;
        if (!colon || (size_t)(colon - (l + 4)) >= sizeof ex->host)
            return -EINVAL;
        snprintf(ex->host, sizeof ex->host, "%.*s", (int)(colon - (l + 4)), l + 4);
        long port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || port < 1 || port > 65535)
            return -EINVAL;
        vi->port = (int)port;
        vi->iface = strcmp(ex->host, "0.0.0.0") == 0 || !ex->host[0] ? NULL : ex->host;
        return 0;
    }
    return -EINVAL;
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
    if (pf->compile) {
        char why[PATH_MAX + 64];
        cxxfast_init(&ex->fast, pf->compile, cfg->pch_dir, why, sizeof why);
        if (cfg->pch_run_dir)
            cxxfast_set_run_dir(&ex->fast, cfg->pch_run_dir);
        executor_log(why[0] ? "warn" : "info", "compiles: %s linker, %s%s%s",
                     ex->fast.mold ? "mold" : "the default",
                     ex->fast.header[0] ? "precompiled header " : "no precompiled header",
                     ex->fast.header[0] ? ex->fast.header : (why[0] ? ": " : ""), why);
    }
    runner_cfg_t rc = {
        .loop = loop,
        .profile = pf,
        .launcher = cfg->launcher,
        .work_root = cfg->work_root,
        .slots = cfg->slots,
        .uid_base = cfg->uid_base,
        .drop_uid = cfg->drop_uid,
        .userns = cfg->userns,
        .ns = cfg->ns,
        .cg = cfg->cg,
        .areas = cfg->ns ? cfg->areas : NULL,
        .box = cfg->ns && cfg->areas ? SLOTNS_BOX : NULL,
        .compile_timeout_ms = cfg->compile_timeout_ms,
        .send = conn_send,
        .ended = job_ended,
        .queued = conn_queued,
        .ccache = ex->ccache,
        .fast = pf->compile ? &ex->fast : NULL,
        .lang_version = cfg->version,
        .log = executor_log,
        .owner = ex,
    };
    ex->runner = runner_new(&rc);
    if (!ex->runner)
        goto fail;
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (cfg->tls_cert)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
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
    vi.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND; /* else lws retries quietly */
    vi.gid = (gid_t)-1;
    vi.uid = (uid_t)-1;
    vi.retry_and_idle_policy = &keepalive;
    if (cfg->tls_cert) {
        /* wss only: a plain connection fails the handshake (main.c checked both files). */
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; /* lws: "this vhost uses TLS" */
        vi.ssl_cert_filepath = cfg->tls_cert;
        vi.ssl_private_key_filepath = cfg->tls_key;
    }
    int lrc = parse_listen(ex, &vi);
    if (lrc == -EINVAL)
        executor_log("error", "bad listen address \"%s\" (tcp:HOST:PORT or unix:/path)",
                     cfg->listen);
    if (lrc != 0)
        goto fail;
    if (!lws_create_vhost(ex->ctx, &vi)) {
        executor_log("error", "cannot listen on %s", cfg->listen);
        goto fail;
    }
    /* Only the executor's own user may connect (lws creates the socket 0660 at best). */
    if (ex->unix_path[0] && chmod(ex->unix_path, 0600) != 0) {
        executor_log("error", "chmod 0600 %s: %s", ex->unix_path, strerror(errno));
        goto fail;
    }
    cJSON *f = cJSON_CreateObject();
    if (f) {
        cJSON_AddStringToObject(f, "listen", cfg->listen);
        cJSON_AddStringToObject(f, "language", cfg->language);
        cJSON_AddStringToObject(f, "version", cfg->version);
        cJSON_AddNumberToObject(f, "slots", cfg->slots);
        cJSON_AddBoolToObject(f, "tls", cfg->tls_cert != NULL);
    }
    log_event(LOG_INFO, "listen", f);
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

/* No job runs any more (or none may): each connection closes from its WRITEABLE callback once
 * its queue is empty and its job has ended (lws_set_timeout(LWS_TO_KILL_ASYNC) from outside
 * lws's service would wait for lws's next timer tick, seconds away on a foreign loop). A peer
 * that keeps its socket open past EXECUTOR_STOP_MS is not waited for. */
static void begin_closing(executor_t *ex)
{
    ex->draining = true;
    ex->closing = true;
    if (ex->drain_timer_started)
        uv_timer_stop(&ex->drain_timer);
    if (!ex->stop_timer_started && uv_timer_init(ex->loop, &ex->stop_timer) == 0) {
        ex->stop_timer.data = ex;
        ex->stop_timer_started = true;
        uv_timer_start(&ex->stop_timer, on_stop_timer, EXECUTOR_STOP_MS, 0);
        uv_unref((uv_handle_t *)&ex->stop_timer);
    }
    for (conn_t *c = ex->conns; c; c = c->next)
        lws_callback_on_writable(c->wsi);
}

static void on_drain_timer(uv_timer_t *t)
{
    executor_t *ex = t->data;
    int left = runner_active(ex->runner);

    executor_log("warn", "drain grace of %d ms over: killing the %d job%s still running",
                 ex->cfg.drain_ms, left, left == 1 ? "" : "s");
    runner_abort_all(ex->runner, "the executor stopped before this run ended: its drain grace "
                                 "period (EXECUTOR_DRAIN_MS) ran out");
    begin_closing(ex);
    maybe_stop(ex, runner_active(ex->runner));
}

void executor_drain(executor_t *ex)
{
    int busy = runner_active(ex->runner);

    if (ex->draining)
        return;
    ex->draining = true;
    cJSON *f = cJSON_CreateObject();
    if (f) {
        cJSON_AddNumberToObject(f, "graceMs", ex->cfg.drain_ms);
        cJSON_AddNumberToObject(f, "jobs", busy);
        cJSON_AddNumberToObject(f, "conns", ex->nconns);
    }
    log_event(LOG_INFO, "drain", f);
    for (conn_t *c = ex->conns; c; c = c->next)
        conn_send(c, cg_encode_drain(ex->cfg.drain_ms));
    if (busy > 0 && uv_timer_init(ex->loop, &ex->drain_timer) == 0) {
        ex->drain_timer.data = ex;
        ex->drain_timer_started = true;
        uv_timer_start(&ex->drain_timer, on_drain_timer, (uint64_t)ex->cfg.drain_ms, 0);
    }
    maybe_stop(ex, busy);
}

void executor_stop(executor_t *ex)
{
    int left = runner_active(ex->runner);

    executor_log("info", "stopping now%s", left ? ": killing the jobs still running" : "");
    if (!ex->draining)
        for (conn_t *c = ex->conns; c; c = c->next)
            conn_send(c, cg_encode_drain(0));
    runner_abort_all(ex->runner, "the executor stopped before this run ended (asked to stop "
                                 "at once)");
    begin_closing(ex);
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
    if (ex->drain_timer_started) {
        uv_timer_stop(&ex->drain_timer);
        uv_close((uv_handle_t *)&ex->drain_timer, NULL);
    }
    if (ex->ctx)
        lws_context_destroy(ex->ctx);
    if (ex->unix_path[0])
        unlink(ex->unix_path);
    runner_free(ex->runner);
    ccache_free(ex->ccache);
    free(ex);
}
