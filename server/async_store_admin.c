/*
 * async_store_admin.c - dead letters (list, re-queue) and the queue's statistics for /metrics
 * (see async_store.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_store_int.h"
#include "log.h"

/* ---- dead letters ---- */

cJSON *async_store_dead_list(const async_store_t *st, redisContext *c, int limit, int *rc)
{
    char dlq[96];
    redisReply *r;
    cJSON *arr;

    as_key(st, dlq, sizeof dlq, "dead", NULL);
    r = redisCommand(c, "XRANGE %s - + COUNT %d", dlq, limit);
    if (!r) {
        *rc = -EIO;
        return NULL;
    }
    arr = cJSON_CreateArray();
    for (size_t i = 0; arr && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *en = r->element[i], *f;
        cJSON *o;
        if (en->type != REDIS_REPLY_ARRAY || en->elements < 2)
            continue;
        f = en->element[1];
        if (!(o = cJSON_CreateObject()))
            break;
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
            const char *name = as_elem_str(f, k), *val = as_elem_str(f, k + 1);
            if (!strcmp(name, "attempts"))
                cJSON_AddNumberToObject(o, "attempts", (double)strtol(val, NULL, 10));
            else if (!strcmp(name, "at")) {
                char iso[40];
                async_iso_time(strtoll(val, NULL, 10), iso, sizeof iso);
                cJSON_AddStringToObject(o, "deadAt", iso);
            } else if (!strcmp(name, "id") || !strcmp(name, "code") || !strcmp(name, "reason"))
                cJSON_AddStringToObject(o, name, val);
        }
        cJSON_AddItemToArray(arr, o);
    }
    freeReplyObject(r);
    *rc = arr ? 0 : -ENOMEM;
    return arr;
}

/* KEYS: hash dlq. ARGV: hash_prefix stream_prefix group fkeys bell id. Returns 'ok', 'gone'
 * or the status of a submission that is not a dead letter. */
static const char requeue_lua[] =
    ENQUEUE_LUA "local s = redis.call('HGET', KEYS[1], 'status')\n"
                "if not s then return 'gone' end\n"
                "local d = redis.call('HGET', KEYS[1], 'dead')\n"
                "if s ~= 'failed' or not d then return s end\n"
                "if not redis.call('HGET', KEYS[1], 'body') then return 'gone' end\n"
                "redis.call('XDEL', KEYS[2], d)\n"
                "redis.call('HDEL', KEYS[1], 'dead', 'finishedAt', 'startedAt', 'errorCode',\n"
                "  'errorMessage', 'result')\n"
                "redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', 0)\n"
                "redis.call('PERSIST', KEYS[1])\n"
                "enqueue(ARGV[6])\n"
                "return 'ok'\n";

int async_store_requeue(const async_store_t *st, redisContext *c, const char *id)
{
    char hash[160], dlq[96], hp[96], qp[96], fkeys[96], bell[96], s[16];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;

    as_key(st, hash, sizeof hash, "sub", id);
    as_key(st, dlq, sizeof dlq, "dead", NULL);
    as_arg(&a, "EVAL");
    as_arg(&a, requeue_lua);
    as_arg(&a, "2");
    as_arg(&a, hash);
    as_arg(&a, dlq);
    as_prefix_args(st, &a, hp, qp, fkeys, bell);
    as_arg(&a, id);
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    snprintf(s, sizeof s, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    if (!strcmp(s, "gone"))
        return -ENOENT;
    return strcmp(s, "ok") == 0 ? 0 : -EBUSY;
}

/* ---- statistics ---- */

/* Adds one stream's numbers: XLEN, its group's pending count, its oldest undelivered entry. */
static int stream_stats(redisContext *c, const char *q, async_stats_t *s, int64_t now)
{
    redisReply *r = redisCommand(c, "XLEN %s", q), *g;
    long long len, pending = 0;
    char last[48] = "0-0";

    if (!r)
        return -EIO;
    len = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    g = redisCommand(c, "XINFO GROUPS %s", q);
    if (!g)
        return -EIO;
    for (size_t i = 0; g->type == REDIS_REPLY_ARRAY && i < g->elements; i++) {
        const redisReply *gi = g->element[i];
        for (size_t k = 0; gi->type == REDIS_REPLY_ARRAY && k + 1 < gi->elements; k += 2) {
            if (!strcmp(as_elem_str(gi, k), "pending"))
                pending = as_elem_int(gi, k + 1);
            else if (!strcmp(as_elem_str(gi, k), "last-delivered-id"))
                snprintf(last, sizeof last, "%s", as_elem_str(gi, k + 1));
        }
    }
    freeReplyObject(g);
    s->running += pending;
    s->queued += len - pending > 0 ? len - pending : 0;
    if (len - pending <= 0)
        return 0;
    r = redisCommand(c, "XRANGE %s (%s + COUNT 1", q, last);
    if (!r)
        return -EIO;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        int64_t t = strtoll(as_elem_str(r->element[0], 0), NULL, 10);
        if (t > 0 && now - t > s->oldest_ms)
            s->oldest_ms = now - t;
    }
    freeReplyObject(r);
    return 0;
}

int async_store_stats(const async_store_t *st, redisContext *c, async_stats_t *s)
{
    char k[160];
    redisReply *r;
    const char **keys;
    int n, rc;
    int64_t now = async_epoch_ms();

    memset(s, 0, sizeof *s);
    rc = as_fair_keys(st, c, &r, &keys, &n);
    for (int i = 0; rc == 0 && i < n; i++) {
        as_key(st, k, sizeof k, "q", keys[i]);
        rc = stream_stats(c, k, s, now);
    }
    free(keys);
    freeReplyObject(r);
    if (rc < 0)
        return rc;
    as_key(st, k, sizeof k, "delayed", NULL);
    if (!(r = redisCommand(c, "ZCARD %s", k)))
        return -EIO;
    s->delayed = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    as_key(st, k, sizeof k, "dead", NULL);
    if (!(r = redisCommand(c, "XLEN %s", k)))
        return -EIO;
    s->dead = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    as_key(st, k, sizeof k, "cb:due", NULL);
    if (!(r = redisCommand(c, "ZCARD %s", k)))
        return -EIO;
    s->callbacks_owed = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return 0;
}

/* ---- consumers ---- */

/* Deletes one stream's consumers that hold nothing and were idle longer than min_idle_ms
 * (gateways that stopped; a live one re-appears at its next read). Never this consumer. */
static int prune_stream(const async_store_t *st, redisContext *c, const char *q, int min_idle_ms,
                        int *pruned)
{
    redisReply *r = redisCommand(c, "XINFO CONSUMERS %s %s", q, ASYNC_GROUP);

    if (!r)
        return -EIO;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *ci = r->element[i];
        const char *name = "";
        long long pending = 1, idle = 0;
        for (size_t k = 0; ci->type == REDIS_REPLY_ARRAY && k + 1 < ci->elements; k += 2) {
            const char *f = as_elem_str(ci, k);
            if (!strcmp(f, "name"))
                name = as_elem_str(ci, k + 1);
            else if (!strcmp(f, "pending"))
                pending = as_elem_int(ci, k + 1);
            else if (!strcmp(f, "idle"))
                idle = as_elem_int(ci, k + 1);
        }
        if (pending != 0 || idle <= min_idle_ms || !name[0] || !strcmp(name, st->consumer))
            continue;
        redisReply *d = redisCommand(c, "XGROUP DELCONSUMER %s %s %s", q, ASYNC_GROUP, name);
        if (!d) {
            freeReplyObject(r);
            return -EIO;
        }
        if (d->type == REDIS_REPLY_INTEGER)
            (*pruned)++;
        freeReplyObject(d);
    }
    freeReplyObject(r);
    return 0;
}

int async_store_prune_consumers(const async_store_t *st, redisContext *c, int min_idle_ms)
{
    char q[160];
    redisReply *r;
    const char **keys;
    int n, rc, pruned = 0;

    rc = as_fair_keys(st, c, &r, &keys, &n);
    for (int i = 0; rc == 0 && i < n; i++) {
        as_key(st, q, sizeof q, "q", keys[i]);
        rc = prune_stream(st, c, q, min_idle_ms, &pruned);
    }
    free(keys);
    freeReplyObject(r);
    return rc < 0 ? rc : pruned;
}
