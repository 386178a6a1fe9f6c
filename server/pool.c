/*
 * pool.c - the lws glue of the executor pool (see pool.h for the theory of operation and
 * pool_int.h for its parts and the thread table): the pool thread's service loop, its
 * periodic tick, the protocol callback (one helper per case), wake-ups from other threads
 * (lws_cancel_service, handled in LWS_CALLBACK_EVENT_WAIT_CANCELLED), and the public API.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_util.h"
#include "log.h"
#include "pool_int.h"

pool_fail_t pool_fail_get(pool_t *p)
{
    pool_fail_t f;

    pthread_mutex_lock(&p->mu);
    f = p->fail;
    pthread_mutex_unlock(&p->mu);
    return f;
}

/* After pool_fail_all: running jobs fail now (their CANCEL frames were queued by
 * pool_conn_check; the executors kill the runs). */
static void fail_running(pool_t *p, const pool_fail_t *fail)
{
    for (int i = 0; i < p->neps; i++)
        for (int k = 0; k < p->eps[i].nconns; k++) {
            conn_t *c = &p->eps[i].conns[k];
            if (c->job) {
                job_t *job = c->job;
                c->job = NULL;
                if (c->state == CONN_BUSY)
                    c->state = CONN_READY;
                job_end(job, 503, fail->code, fail->msg);
            }
        }
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    pool_t *p = lws_container_of(sul, pool_t, tick);
    int64_t now = cg_now_ms();
    pool_fail_t fail;

    pool_conn_apply_updates(p);
    pool_frame_outbox(p);
    fail = pool_fail_get(p);
    for (int i = 0; i < p->neps; i++)
        for (int k = 0; k < p->eps[i].nconns; k++)
            pool_conn_check(p, &p->eps[i].conns[k], now);
    if (fail.on)
        fail_running(p, &fail);
    pool_queue_expire(p, now);
    pool_queue_dispatch(p);
    pool_conn_snapshot(p);
    lws_sul_schedule(p->ctx, 0, &p->tick, tick_cb, POOL_TICK_MS * LWS_US_PER_MS);
}

/* ---- lws callback ---- */

static int on_append_header(conn_t *c, struct lws *wsi, void *in, size_t len)
{
    unsigned char **pp = (unsigned char **)in;
    unsigned char *end = *pp + len;
    char value[RUNTIME_TOKEN_MAX + 16];

    snprintf(value, sizeof value, "Bearer %s", c->ep->info.token);
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)value,
                                     (int)strlen(value), pp, end))
        return -1;
    return 0;
}

static int on_cancelled(pool_t *p)
{
    if (p) {
        pool_conn_apply_updates(p);
        pool_queue_expire(p, cg_now_ms());
        pool_queue_dispatch(p);
        pool_frame_outbox(p);
    }
    return 0;
}

static int on_established(conn_t *c, struct lws *wsi)
{
    if (c && (c->wsi == wsi || (c->wsi == NULL && c->state == CONN_CONNECTING))) {
        c->wsi = wsi;
        c->last_rx_ms = cg_now_ms();
    }
    return 0;
}

void pool_connect_error(conn_t *c, unsigned int status, const char *in)
{
    endpoint_t *ep = c->ep;
    char why[sizeof ep->last_err];

    if (status == 401 || status == 403)
        snprintf(why, sizeof why, "refused with HTTP %u: the executor does not accept our token",
                 status);
    else if (status && status != 101)
        snprintf(why, sizeof why, "HTTP %u instead of a WebSocket upgrade", status);
    else if (ep->info.tls && in && strstr(in, "SSL"))
        snprintf(why, sizeof why,
                 "TLS handshake failed: the executor's certificate does not verify against "
                 "--executor-ca-file for the name %s (lws' \"SSL error\" line says why), or it "
                 "does not speak TLS (%.60s)",
                 ep->info.host[0] ? ep->info.host : ep->info.address, in);
    else if (in && strcmp(in, "read failed") == 0)
        snprintf(why, sizeof why,
                 "the executor closed the connection during the WebSocket upgrade: it does not "
                 "accept our token (compare --executor-token-file with its token), it drains%s",
                 ep->info.tls ? "" : ", or it speaks TLS (give --executor-ca-file)");
    else
        snprintf(why, sizeof why, "%s", in && in[0] ? in : "unknown error");
    pool_conn_log_error(ep, why);
}

static int on_connection_error(pool_t *p, conn_t *c, struct lws *wsi, const void *in)
{
    if (c && (c->wsi == wsi || c->wsi == NULL) && c->state != CONN_DOWN) {
        /* A raw connection has no lws HTTP status: pool_raw.c reports its upgrade's. */
        pool_connect_error(c, c->raw || !wsi ? 0 : lws_http_client_http_response(wsi), in);
        pool_conn_down(p, c, "connect failed");
        pool_conn_snapshot(p);
    }
    return 0;
}

static int on_closed(pool_t *p, conn_t *c, struct lws *wsi)
{
    if (c && c->wsi == wsi) {
        /* A raw connection closed before its upgrade was through, as lws' "read failed". */
        if (c->raw && c->state == CONN_CONNECTING && !c->upgraded && !c->closing)
            pool_connect_error(c, 0, "read failed");
        pool_conn_down(p, c, "closed");
        pool_conn_snapshot(p);
    }
    return 0;
}

static int pool_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    pool_t *p = lws_context_user(lws_get_context(wsi));
    conn_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        return on_cancelled(p);
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return c ? on_append_header(c, wsi, in, len) : 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        return on_established(c, wsi);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return c && c->wsi == wsi ? pool_frame_receive(p, c, wsi, in, len) : -1;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return c && c->wsi == wsi ? pool_frame_writeable(c, wsi) : 0;
    case LWS_CALLBACK_RAW_CONNECTED:
        on_established(c, wsi);
        return c && c->wsi == wsi ? pool_raw_connected(c, wsi) : -1;
    case LWS_CALLBACK_RAW_RX:
        return c && c->wsi == wsi ? pool_raw_receive(p, c, wsi, in, len) : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return c && c->wsi == wsi ? pool_frame_writeable(c, wsi) : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        return on_connection_error(p, c, wsi, in);
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_WSI_DESTROY: /* whatever else ends a handle we still hold */
        return on_closed(p, c, wsi);
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
    for (int l = 0; l < REQUEST_NLANG; l++)
        atomic_init(&p->offered[l], true);
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
    /* lws reads the socket into one per-thread buffer of this size per poll round (4 KiB by
     * default): program output of megabytes then took hundreds of rounds. */
    info.pt_serv_buf_size = POOL_SERV_BUF;
    if (cfg->executor_ca_file[0]) {
        /* TLS to executors: their certificate must chain to this CA and name the host. */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = cfg->executor_ca_file;
    }
    lws_set_log_level(LLL_ERR, NULL);
    p->ctx = lws_create_context(&info);
    if (!p->ctx) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

void pool_set_offered(pool_t *p, int lang, bool offered)
{
    if (lang >= 0 && lang < REQUEST_NLANG)
        atomic_store(&p->offered[lang], offered);
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
    if (p->q.len >= p->cfg->queue_max) {
        pthread_mutex_unlock(&p->mu);
        return -EAGAIN;
    }
    job_ref(job);
    job_set_state(job, JOB_QUEUED);
    job->deadline_ms = cg_now_ms() + p->cfg->queue_wait_ms;
    pool_queue_push_locked(p, job);
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
    p->fail.on = true;
    snprintf(p->fail.code, sizeof p->fail.code, "%s", code);
    snprintf(p->fail.msg, sizeof p->fail.msg, "%s", message);
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
    info->offered = atomic_load(&p->offered[li]); /* also before the first snapshot */
}

int pool_queue_length(pool_t *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->q.len;
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
                job_end(c->job, 503, "shutting_down", "the gateway is shutting down");
            frameq_clear(&c->out);
            cg_buf_free(&c->rx);
            pool_raw_free(c);
        }
        free(p->eps[i].conns);
    }
    while (p->q.head) {
        job_t *job = p->q.head;
        p->q.head = job->next;
        job_end(job, 503, "shutting_down", "the gateway is shutting down");
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
