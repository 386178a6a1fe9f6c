/*
 * async_store_run.c - the scripts of an attempt: start, the final write (exactly once), retry
 * into the delayed set, moving due retries back, the bell (see async_store.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_store_int.h"
#include "log.h"

/* ---- attempts and outcomes ---- */

/* KEYS: hash. ARGV: now consumer max_attempts. */
static const char start_lua[] =
    "local s = redis.call('HGET', KEYS[1], 'status')\n"
    "if not s then return {'gone'} end\n"
    "if s ~= 'queued' and s ~= 'running' then return {'final', s} end\n"
    "local a = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')\n"
    "if a >= tonumber(ARGV[3]) then return {'exhausted', tostring(a)} end\n"
    "a = redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
    "redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[1], 'worker', ARGV[2])\n"
    "return {'run', tostring(a), redis.call('HGET', KEYS[1], 'body') or '',\n"
    "  redis.call('HGET', KEYS[1], 'owner') or ''}\n";

int async_store_start(const async_store_t *st, redisContext *c, async_entry_t *e, int max_attempts,
                      char **body, int *attempt)
{
    char hash[160];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;
    const char *what;

    *body = NULL;
    *attempt = 0;
    as_key(st, hash, sizeof hash, "sub", e->id);
    as_arg(&a, "EVAL");
    as_arg(&a, start_lua);
    as_arg(&a, "1");
    as_arg(&a, hash);
    as_argi(&a, async_epoch_ms());
    as_arg(&a, st->consumer);
    as_argi(&a, max_attempts);
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    what = as_elem_str(r, 0);
    if (!strcmp(what, "run")) {
        *attempt = (int)as_elem_int(r, 1);
        const redisReply *b = r->element[2];
        *body = malloc(b->len + 1);
        if (!*body) {
            freeReplyObject(r);
            return -ENOMEM;
        }
        memcpy(*body, b->str, b->len);
        (*body)[b->len] = '\0';
        snprintf(e->owner, sizeof e->owner, "%s", as_elem_str(r, 3));
        rc = ASYNC_START_RUN;
    } else if (!strcmp(what, "exhausted")) {
        *attempt = (int)as_elem_int(r, 1);
        rc = ASYNC_START_EXHAUSTED;
    } else {
        rc = ASYNC_START_SKIP;
    }
    freeReplyObject(r);
    if (rc == ASYNC_START_SKIP && as_ack(st, c, e->fk, e->entry) < 0)
        return -EIO;
    return rc;
}

/* KEYS: hash stream dlq. ARGV: id status result code message now ttl group entry dead
 * minid delayed cb_due. A submission with a callbackUrl gets its callback obligation in the
 * same script: cbStatus pending and an entry in cb_due, due now (durable with the state). */
static const char finish_lua[] =
    "if ARGV[9] ~= '' then\n"
    "  redis.call('XACK', KEYS[2], ARGV[8], ARGV[9])\n"
    "  redis.call('XDEL', KEYS[2], ARGV[9])\n"
    "end\n"
    "local s = redis.call('HGET', KEYS[1], 'status')\n"
    "if not s or s == 'done' or s == 'failed' or s == 'cancelled' then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finishedAt', ARGV[6])\n"
    "if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[3]) end\n"
    "if ARGV[4] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'errorCode', ARGV[4], 'errorMessage', ARGV[5])\n"
    "end\n"
    "if ARGV[10] == '1' then\n"
    "  local d = redis.call('XADD', KEYS[3], 'MINID', '~', ARGV[11], '*', 'id', ARGV[1],\n"
    "    'code', ARGV[4], 'reason', ARGV[5],\n"
    "    'attempts', redis.call('HGET', KEYS[1], 'attempts') or '0', 'at', ARGV[6])\n"
    "  redis.call('HSET', KEYS[1], 'dead', d)\n"
    "else\n"
    "  redis.call('HDEL', KEYS[1], 'body')\n"
    "end\n"
    "redis.call('ZREM', ARGV[12], ARGV[1])\n"
    "if redis.call('HEXISTS', KEYS[1], 'callbackUrl') == 1 then\n"
    "  redis.call('HSET', KEYS[1], 'cbStatus', 'pending', 'cbAttempts', 0)\n"
    "  redis.call('ZADD', ARGV[13], ARGV[6], ARGV[1])\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[7])\n"
    "return 1\n";

int async_store_finish(const async_store_t *st, redisContext *c, const char *id,
                       const async_entry_t *e, const char *status, const char *result,
                       const char *code, const char *message, bool dead)
{
    char hash[160], q[160], dlq[96], dly[96], due[96];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;
    int64_t now = async_epoch_ms();

    as_key(st, hash, sizeof hash, "sub", id);
    as_key(st, q, sizeof q, "q", e ? e->fk : "-");
    as_key(st, dlq, sizeof dlq, "dead", NULL);
    as_key(st, dly, sizeof dly, "delayed", NULL);
    as_key(st, due, sizeof due, "cb:due", NULL);
    as_arg(&a, "EVAL");
    as_arg(&a, finish_lua);
    as_arg(&a, "3");
    as_arg(&a, hash);
    as_arg(&a, q);
    as_arg(&a, dlq);
    as_arg(&a, id);
    as_arg(&a, status);
    as_arg(&a, result);
    as_arg(&a, code);
    as_arg(&a, message);
    as_argi(&a, now);
    as_argi(&a, st->ttl_s);
    as_arg(&a, ASYNC_GROUP);
    as_arg(&a, e ? e->entry : "");
    as_arg(&a, dead ? "1" : "0");
    as_argi(&a, now - (int64_t)st->ttl_s * 1000);
    as_arg(&a, dly);
    as_arg(&a, due);
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return rc;
}

/* KEYS: hash stream delayed. ARGV: id group entry due code message handback consumer. Only
 * the consumer running it may send it back (another may have claimed it meanwhile). */
static const char retry_lua[] =
    "redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])\n"
    "redis.call('XDEL', KEYS[2], ARGV[3])\n"
    "if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end\n"
    "if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[8] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'status', 'queued')\n"
    "if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[1], 'attempts', -1)\n"
    "else redis.call('HSET', KEYS[1], 'errorCode', ARGV[5], 'errorMessage', ARGV[6]) end\n"
    "redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])\n"
    "return 1\n";

int async_store_retry(const async_store_t *st, redisContext *c, const async_entry_t *e,
                      int64_t due_ms, const char *code, const char *message, bool handback)
{
    char hash[160], q[160], dly[96];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;

    as_key(st, hash, sizeof hash, "sub", e->id);
    as_key(st, q, sizeof q, "q", e->fk);
    as_key(st, dly, sizeof dly, "delayed", NULL);
    as_arg(&a, "EVAL");
    as_arg(&a, retry_lua);
    as_arg(&a, "3");
    as_arg(&a, hash);
    as_arg(&a, q);
    as_arg(&a, dly);
    as_arg(&a, e->id);
    as_arg(&a, ASYNC_GROUP);
    as_arg(&a, e->entry);
    as_argi(&a, due_ms);
    as_arg(&a, code);
    as_arg(&a, message);
    as_arg(&a, handback ? "1" : "0");
    as_arg(&a, st->consumer);
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return rc;
}

/* KEYS: delayed. ARGV: hash_prefix stream_prefix group fkeys bell now. */
static const char move_lua[] = ENQUEUE_LUA
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[6], 'LIMIT', 0, 32)\n"
    "local n = 0\n"
    "for _, id in ipairs(due) do\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  if redis.call('HGET', ARGV[1] .. id, 'status') == 'queued' then n = n + enqueue(id) end\n"
    "end\n"
    "return n\n";

int async_store_move_due(const async_store_t *st, redisContext *c)
{
    char dly[96], hp[96], qp[96], fkeys[96], bell[96];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;

    as_key(st, dly, sizeof dly, "delayed", NULL);
    as_arg(&a, "EVAL");
    as_arg(&a, move_lua);
    as_arg(&a, "1");
    as_arg(&a, dly);
    as_prefix_args(st, &a, hp, qp, fkeys, bell);
    as_argi(&a, async_epoch_ms());
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return rc;
}

int async_store_wait_bell(const async_store_t *st, redisContext *c, int timeout_ms)
{
    char bell[96], t[24];
    redisReply *r;

    as_key(st, bell, sizeof bell, "bell", NULL);
    snprintf(t, sizeof t, "%d.%03d", timeout_ms / 1000, timeout_ms % 1000);
    r = redisCommand(c, "BRPOP %s %s", bell, t);
    if (!r)
        return -EIO;
    freeReplyObject(r);
    return 0;
}
