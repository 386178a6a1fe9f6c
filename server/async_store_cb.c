/*
 * async_store_cb.c - the durable callback obligations (P:cb:due, see async_store.h): claim
 * with a lease, defer (lease renewal and hand-back), and the end of a delivery.
 *
 * Theory of operation: the final write of a submission with a callbackUrl (finish, cancel)
 * adds its id to P:cb:due with score "now" in the same script, so the obligation is exactly as
 * durable as the final state. A claim is one script: the ids due (score <= now) get the score
 * now + lease, so no other dispatcher takes them while the lease runs; the claiming dispatcher
 * renews it while the delivery goes on. When the delivery ends, cb_done removes the id. A
 * dispatcher that dies renews nothing: its ids come due when their lease ends and any
 * dispatcher (another gateway, or the restarted one) claims and delivers them again. Delivery
 * is therefore at least once. Same threads rule as async_store.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "async_store_int.h"

/* KEYS: due. ARGV: now lease_until max hash_prefix. */
static const char claim_lua[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])\n"
    "local out = {}\n"
    "for _, id in ipairs(due) do\n"
    "  if redis.call('HGET', ARGV[4] .. id, 'cbStatus') == 'pending' then\n"
    "    redis.call('ZADD', KEYS[1], ARGV[2], id)\n"
    "    out[#out + 1] = id\n"
    "  else\n"
    "    redis.call('ZREM', KEYS[1], id)\n"
    "  end\n"
    "end\n"
    "return out\n";

int async_store_cb_claim(const async_store_t *st, redisContext *c, int lease_ms, int max,
                         char (*ids)[ASYNC_ID_LEN + 1])
{
    char due[96], hp[96];
    args_t a = {.n = 0};
    redisReply *r;
    int rc, n = 0;
    int64_t now = async_epoch_ms();

    if (max > ASYNC_CB_CLAIM_MAX)
        max = ASYNC_CB_CLAIM_MAX;
    if (max <= 0)
        return 0;
    as_key(st, due, sizeof due, "cb:due", NULL);
    snprintf(hp, sizeof hp, "%s:sub:", st->prefix);
    as_arg(&a, "EVAL");
    as_arg(&a, claim_lua);
    as_arg(&a, "1");
    as_arg(&a, due);
    as_argi(&a, now);
    as_argi(&a, now + lease_ms);
    as_argi(&a, max);
    as_arg(&a, hp);
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && n < max; i++) {
        const char *id = as_elem_str(r, i);
        if (async_id_ok(id))
            snprintf(ids[n++], ASYNC_ID_LEN + 1, "%s", id);
    }
    freeReplyObject(r);
    return n;
}

/* KEYS: due. ARGV: id due_ms. */
static const char defer_lua[] = "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end\n"
                                "redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])\n"
                                "return 1\n";

int async_store_cb_defer(const async_store_t *st, redisContext *c, const char *id, int64_t due_ms)
{
    char due[96];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;

    as_key(st, due, sizeof due, "cb:due", NULL);
    as_arg(&a, "EVAL");
    as_arg(&a, defer_lua);
    as_arg(&a, "1");
    as_arg(&a, due);
    as_arg(&a, id);
    as_argi(&a, due_ms);
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return rc;
}

/* KEYS: due hash. ARGV: id status attempts. */
static const char done_lua[] =
    "redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "local s = redis.call('HGET', KEYS[2], 'cbStatus')\n"
    "if not s or s == 'delivered' then return 0 end\n"
    "redis.call('HSET', KEYS[2], 'cbStatus', ARGV[2], 'cbAttempts', ARGV[3])\n"
    "return 1\n";

int async_store_cb_done(const async_store_t *st, redisContext *c, const char *id, bool delivered,
                        int attempts)
{
    char due[96], hash[160];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;

    as_key(st, due, sizeof due, "cb:due", NULL);
    as_key(st, hash, sizeof hash, "sub", id);
    as_arg(&a, "EVAL");
    as_arg(&a, done_lua);
    as_arg(&a, "2");
    as_arg(&a, due);
    as_arg(&a, hash);
    as_arg(&a, id);
    as_arg(&a, delivered ? "delivered" : "failed");
    as_argi(&a, attempts);
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return rc;
}
