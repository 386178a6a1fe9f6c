/*
 * async_cb.c - the callback dispatcher of a gateway: delivers the callbacks owed in Redis
 * (P:cb:due, see async_store.h) through callback_post, so that a callback survives the death
 * of the gateway that wrote the final state.
 *
 * Theory of operation
 * -------------------
 * The final write of a submission with a callbackUrl records the obligation in the same
 * script (async_store_finish, async_store_cancel). One dispatcher thread per gateway, with
 * its own Redis connection, loops:
 *
 *   record the deliveries that ended (callback done(): cb_done -> ZREM, cbStatus, cbAttempts)
 *   renew the lease of those in flight every third of --async-callback-lease-ms (ZADD XX)
 *   claim due ones (score <= now -> now + lease) up to the free in-flight places, read each
 *   submission's state (the body: its GET answer) and callback_post it
 *   sleep until woken (a final state was written here, a delivery ended) or 500 ms
 *
 * callback_post answering -EAGAIN (queue full) hands the entry back due 1 s later: never
 * dropped. A URL the policy refuses now (-EPERM, -EINVAL, -ENOTSUP) is recorded as failed.
 * A submission gone (expired) is dropped. When the gateway stops, the deliveries callback_stop
 * abandons are handed back due now (not recorded as failed): the restarted gateway, or any
 * other, delivers them at once. A gateway killed hands back nothing: its leases run out and
 * another dispatcher claims the entries then. Delivery is at least once.
 *
 * Threads: the dispatcher thread owns its connection and reads/writes slots[] under cb_mu;
 * done() runs on the callback delivery thread and only marks a slot (under cb_mu) and
 * signals cb_cv. async_cb_wake may be called from any thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "async_int.h"
#include "cg_util.h"
#include "log.h"

#define CB_IDLE_MS 500        /* longest sleep between two rounds */
#define CB_BUSY_DELAY_MS 1000 /* a full delivery queue: try again this much later */

static void on_done(void *arg, const char *id, bool delivered, int attempts, const char *why)
{
    async_t *a = arg;

    if (delivered)
        log_msg(LOG_INFO, "async: callback of %s delivered (attempt %d)", id, attempts);
    else if (!atomic_load(&a->cb_stopping))
        log_msg(LOG_WARN, "async: callback of %s not delivered after %d attempt(s): %s", id,
                attempts, why ? why : "?");
    pthread_mutex_lock(&a->cb_mu);
    for (int i = 0; i < ASYNC_CB_SLOTS; i++)
        if (a->cb_slots[i].state == CB_SENDING && !strcmp(a->cb_slots[i].id, id)) {
            a->cb_slots[i].state = CB_ENDED;
            a->cb_slots[i].delivered = delivered;
            /* Abandoned by a stopping gateway: handed back, not a failure. */
            a->cb_slots[i].abandoned = !delivered && atomic_load(&a->cb_stopping);
            a->cb_slots[i].attempts = attempts;
            break;
        }
    pthread_cond_signal(&a->cb_cv);
    pthread_mutex_unlock(&a->cb_mu);
}

void async_cb_wake(async_t *a)
{
    pthread_mutex_lock(&a->cb_mu);
    a->cb_kick = true;
    pthread_cond_signal(&a->cb_cv);
    pthread_mutex_unlock(&a->cb_mu);
}

/* Records the ended deliveries. -EIO when the connection failed (those not recorded stay). */
static int record_ended(async_t *a, redisContext *c)
{
    for (int i = 0; i < ASYNC_CB_SLOTS; i++) {
        async_cb_slot_t s;
        int rc;
        pthread_mutex_lock(&a->cb_mu);
        s = a->cb_slots[i];
        pthread_mutex_unlock(&a->cb_mu);
        if (s.state != CB_ENDED)
            continue;
        if (s.abandoned)
            rc = async_store_cb_defer(&a->st, c, s.id, async_epoch_ms());
        else
            rc = async_store_cb_done(&a->st, c, s.id, s.delivered, s.attempts);
        if (rc == -EIO)
            return rc;
        pthread_mutex_lock(&a->cb_mu);
        a->cb_slots[i].state = CB_FREE;
        a->cb_inflight--;
        pthread_mutex_unlock(&a->cb_mu);
    }
    return 0;
}

/* Renews the lease of every delivery in flight. */
static int renew(async_t *a, redisContext *c)
{
    int64_t until = async_epoch_ms() + a->cfg->async_callback_lease_ms;

    for (int i = 0; i < ASYNC_CB_SLOTS; i++) {
        char id[ASYNC_ID_LEN + 1];
        pthread_mutex_lock(&a->cb_mu);
        bool sending = a->cb_slots[i].state == CB_SENDING;
        memcpy(id, a->cb_slots[i].id, sizeof id);
        pthread_mutex_unlock(&a->cb_mu);
        if (sending && async_store_cb_defer(&a->st, c, id, until) == -EIO)
            return -EIO;
    }
    return 0;
}

/* A free slot for id (marked sending), or -1: none free, or id is in flight here already. */
static int reserve(async_t *a, const char *id)
{
    int free_slot = -1;

    pthread_mutex_lock(&a->cb_mu);
    for (int i = 0; i < ASYNC_CB_SLOTS; i++) {
        if (a->cb_slots[i].state == CB_FREE) {
            if (free_slot < 0)
                free_slot = i;
        } else if (!strcmp(a->cb_slots[i].id, id)) {
            free_slot = -1;
            break;
        }
    }
    if (free_slot >= 0) {
        memset(&a->cb_slots[free_slot], 0, sizeof a->cb_slots[free_slot]);
        memcpy(a->cb_slots[free_slot].id, id, ASYNC_ID_LEN + 1);
        a->cb_slots[free_slot].state = CB_SENDING;
        a->cb_inflight++;
    }
    pthread_mutex_unlock(&a->cb_mu);
    return free_slot;
}

static void unreserve(async_t *a, int slot)
{
    pthread_mutex_lock(&a->cb_mu);
    a->cb_slots[slot].state = CB_FREE;
    a->cb_inflight--;
    pthread_mutex_unlock(&a->cb_mu);
}

/* The body of a callback: the GET answer of the submission in its final state. */
static char *state_body(const char *id, const async_view_t *v)
{
    cJSON *root = cJSON_CreateObject(), *data = async_view_json(id, v);
    char *body = NULL;

    if (root && data) {
        cJSON_DeleteItemFromObjectCaseSensitive(data, "callback"); /* being sent */
        cJSON_AddTrueToObject(root, "success");
        cJSON_AddItemToObject(root, "data", data);
        data = NULL;
        body = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(data);
    cJSON_Delete(root);
    return body;
}

/* Sends one claimed id. -EIO when the connection failed. */
static int send_one(async_t *a, redisContext *c, const char *id)
{
    async_view_t v;
    char *body;
    int rc, slot;

    rc = async_store_get(&a->st, c, id, &v);
    if (rc == -ENOENT) /* expired meanwhile */
        return async_store_cb_done(&a->st, c, id, false, 0) == -EIO ? -EIO : 0;
    if (rc < 0)
        return rc == -EIO ? -EIO : 0; /* stays leased; due again when the lease ends */
    if (!v.callback_url || !async_status_final(v.status)) {
        async_view_free(&v);
        return async_store_cb_done(&a->st, c, id, false, 0) == -EIO ? -EIO : 0;
    }
    if ((slot = reserve(a, id)) < 0) { /* in flight here already (its lease was renewed) */
        async_view_free(&v);
        return 0;
    }
    body = state_body(id, &v);
    rc = body ? callback_post(a->cb, v.callback_url, id, body, strlen(body), on_done, a) : -ENOMEM;
    free(body);
    if (rc != 0) {
        unreserve(a, slot);
        if (rc == -EAGAIN || rc == -ENOMEM || rc == -ESHUTDOWN) {
            /* Not now: back in the set, due soon (or at once for another gateway). */
            rc = async_store_cb_defer(&a->st, c, id,
                                      async_epoch_ms() + (rc == -ESHUTDOWN ? 0 : CB_BUSY_DELAY_MS));
        } else {
            log_msg(LOG_WARN, "async: callback of %s not sent: %s", id, strerror(-rc));
            rc = async_store_cb_done(&a->st, c, id, false, 0);
        }
    }
    async_view_free(&v);
    return rc == -EIO ? -EIO : 0;
}

static int claim_and_send(async_t *a, redisContext *c)
{
    char ids[ASYNC_CB_CLAIM_MAX][ASYNC_ID_LEN + 1];
    int n, room;

    pthread_mutex_lock(&a->cb_mu);
    room = ASYNC_CB_SLOTS - a->cb_inflight;
    pthread_mutex_unlock(&a->cb_mu);
    if (room <= 0)
        return 0;
    n = async_store_cb_claim(&a->st, c, a->cfg->async_callback_lease_ms, room, ids);
    if (n < 0)
        return n == -EIO ? -EIO : 0;
    for (int i = 0; i < n; i++)
        if (send_one(a, c, ids[i]) == -EIO)
            return -EIO;
    return n;
}

/* Sleeps up to ms, until woken (kick, quit, or with on_ended a delivery that ended). */
static void wait_round(async_t *a, int ms, bool on_ended)
{
    struct timespec ts;
    int64_t until = cg_now_ms() + ms;

    ts.tv_sec = (time_t)(until / 1000);
    ts.tv_nsec = (long)(until % 1000) * 1000000L;
    pthread_mutex_lock(&a->cb_mu);
    while (!a->cb_kick && !a->cb_quit && pthread_cond_timedwait(&a->cb_cv, &a->cb_mu, &ts) == 0) {
        bool ended = false;
        for (int i = 0; on_ended && i < ASYNC_CB_SLOTS && !ended; i++)
            ended = a->cb_slots[i].state == CB_ENDED;
        if (ended)
            break;
    }
    a->cb_kick = false;
    pthread_mutex_unlock(&a->cb_mu);
}

static bool quitting(async_t *a)
{
    pthread_mutex_lock(&a->cb_mu);
    bool q = a->cb_quit;
    pthread_mutex_unlock(&a->cb_mu);
    return q;
}

void *async_cb_main(void *arg)
{
    async_t *a = arg;
    redisContext *c = NULL;
    char err[256];
    int64_t next_renew = 0;

    for (;;) {
        bool quit = quitting(a);
        int rc = 0, n = 0;
        if (!c && !(c = async_store_connect(&a->st, 2000, err, sizeof err))) {
            if (quit)
                break; /* what is left comes due when its lease ends */
            wait_round(a, 1000, false);
            continue;
        }
        rc = record_ended(a, c);
        if (rc == 0 && cg_now_ms() >= next_renew) {
            rc = renew(a, c);
            next_renew = cg_now_ms() + a->cfg->async_callback_lease_ms / 3;
        }
        if (quit) /* on a failure too: what is left comes due when its lease ends */
            break;
        if (rc == 0 && !atomic_load(&a->cb_stopping))
            rc = n = claim_and_send(a, c);
        if (rc == -EIO || c->err) {
            redisFree(c);
            c = NULL;
            continue;
        }
        if (n < ASYNC_CB_CLAIM_MAX) /* a full claim: there may be more due at once */
            wait_round(a, CB_IDLE_MS, true);
    }
    if (c)
        redisFree(c);
    return NULL;
}
