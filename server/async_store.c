/*
 * async_store.c - the queue's Redis commands and Lua scripts (see async_store.h for the keys).
 *
 * Every change of a submission's state is one Lua script, so that Redis applies it whole or
 * not at all (a gateway killed between two commands cannot leave a half state): submit (hash,
 * stream entry, fairness key, bell, idempotency key), start, finish, retry, move_due, cancel,
 * requeue. Scripts are sent with EVAL every time: Redis caches them by digest, and nothing is
 * lost when Redis restarts. Keys that a script derives from the prefix are passed in ARGV: this
 * is a single Redis server, not a cluster.
 */
#include "async_store_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_util.h"
#include "log.h"

/* ---- argument lists ---- */

void as_arg(args_t *a, const char *s)
{
    if (a->n < AS_MAXARGS) {
        a->v[a->n] = s ? s : "";
        a->l[a->n] = strlen(a->v[a->n]);
        a->n++;
    }
}

void as_argb(args_t *a, const char *s, size_t len)
{
    if (a->n < AS_MAXARGS) {
        a->v[a->n] = s;
        a->l[a->n] = len;
        a->n++;
    }
}

void as_argi(args_t *a, long long v)
{
    if (a->n < AS_MAXARGS) {
        snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", v);
        as_arg(a, a->num[a->n]);
    }
}

/* Runs a->v; NULL when the connection failed (*rc = -EIO) or Redis answered an error
 * (*rc = -EPROTO, logged, reply freed). */
redisReply *as_run(redisContext *c, args_t *a, int *rc)
{
    redisReply *r = redisCommandArgv(c, a->n, a->v, a->l);

    if (!r) {
        *rc = -EIO;
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        log_msg(LOG_WARN, "async: Redis refused %s: %s", a->v[0], r->str);
        freeReplyObject(r);
        *rc = -EPROTO;
        return NULL;
    }
    *rc = 0;
    return r;
}

void as_key(const async_store_t *st, char *buf, size_t len, const char *kind, const char *s)
{
    snprintf(buf, len, "%s:%s%s%s", st->prefix, kind, s ? ":" : "", s ? s : "");
}

/* A string element of an array reply, or "". */
const char *as_elem_str(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return "";
    const redisReply *e = r->element[i];
    return (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) ? e->str : "";
}

long long as_elem_int(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

/* ---- set-up ---- */

int async_store_init(async_store_t *st, const char *url, const char *prefix, const char *consumer,
                     int ttl_s, char *err, size_t errlen)
{
    const char *why;

    memset(st, 0, sizeof *st);
    if ((why = async_url_parse(url, &st->url)) != NULL) {
        snprintf(err, errlen, "--redis-url: %s", why);
        return -EINVAL;
    }
    snprintf(st->prefix, sizeof st->prefix, "%s", prefix);
    snprintf(st->consumer, sizeof st->consumer, "%s", consumer);
    st->ttl_s = ttl_s;
    st->io_timeout_ms = 5000;
    return 0;
}

redisContext *async_store_connect(const async_store_t *st, int timeout_ms, char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    struct timeval io = {st->io_timeout_ms / 1000, (st->io_timeout_ms % 1000) * 1000};
    redisContext *c = st->url.unix_socket ? redisConnectUnixWithTimeout(st->url.path, tv)
                                          : redisConnectWithTimeout(st->url.host, st->url.port, tv);
    redisReply *r;

    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s: %s",
                 st->url.unix_socket ? st->url.path : st->url.host,
                 c ? c->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(c, io);
    if (st->url.password[0]) {
        r = redisCommand(c, "AUTH %s", st->url.password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis AUTH failed: %s", r ? r->str : c->errstr);
            freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    if (st->url.db > 0) {
        r = redisCommand(c, "SELECT %d", st->url.db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis SELECT %d failed: %s", st->url.db, r ? r->str : c->errstr);
            freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    return c;
fail:
    if (c)
        redisFree(c);
    return NULL;
}

/* ---- submit ---- */

/* KEYS: hash stream fkeys bell idem. ARGV: id fk now body callback owner idem_ttl use_idem
 * group hash_prefix. Returns {1, id, "queued"} or, for a known Idempotency-Key, {0, id,
 * status}. */
static const char submit_lua[] =
    "if ARGV[8] == '1' then\n"
    "  local prev = redis.call('GET', KEYS[5])\n"
    "  if prev then\n"
    "    local s = redis.call('HGET', ARGV[10] .. prev, 'status')\n"
    "    return {0, prev, s or 'expired'}\n"
    "  end\n"
    "  redis.call('SET', KEYS[5], ARGV[1], 'EX', ARGV[7])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', 0, 'createdAt', ARGV[3],\n"
    "  'body', ARGV[4], 'fk', ARGV[2], 'owner', ARGV[6])\n"
    "if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'callbackUrl', ARGV[5]) end\n"
    "redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[9], '0', 'MKSTREAM')\n"
    "redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])\n"
    "redis.call('SADD', KEYS[3], ARGV[2])\n"
    "redis.call('LPUSH', KEYS[4], '1')\n"
    "redis.call('LTRIM', KEYS[4], 0, 255)\n"
    "return {1, ARGV[1], 'queued'}\n";

int async_store_submit(const async_store_t *st, redisContext *c, const async_new_t *subs, int n,
                       char (*ids)[ASYNC_ID_LEN + 1], char (*status)[16])
{
    char hash[160], q[160], fkeys[96], bell[96], idem[400], hp[96];
    int64_t now = async_epoch_ms();
    int rc = 0;

    as_key(st, fkeys, sizeof fkeys, "fkeys", NULL);
    as_key(st, bell, sizeof bell, "bell", NULL);
    snprintf(hp, sizeof hp, "%s:sub:", st->prefix);
    for (int i = 0; i < n; i++) {
        args_t a = {.n = 0};
        if (cg_random_hex(ids[i], ASYNC_ID_LEN / 2) != 0)
            return -EIO;
        as_key(st, hash, sizeof hash, "sub", ids[i]);
        as_key(st, q, sizeof q, "q", subs[i].fkey);
        if (subs[i].idem)
            snprintf(idem, sizeof idem, "%s:idem:%s:%s", st->prefix, subs[i].owner, subs[i].idem);
        else
            as_key(st, idem, sizeof idem, "idem", "-");
        as_arg(&a, "EVAL");
        as_arg(&a, submit_lua);
        as_arg(&a, "5");
        as_arg(&a, hash);
        as_arg(&a, q);
        as_arg(&a, fkeys);
        as_arg(&a, bell);
        as_arg(&a, idem);
        as_arg(&a, ids[i]);
        as_arg(&a, subs[i].fkey);
        as_argi(&a, now);
        as_argb(&a, subs[i].body, subs[i].body_len);
        as_arg(&a, subs[i].callback_url);
        as_arg(&a, subs[i].owner);
        as_argi(&a, ASYNC_IDEM_TTL_S);
        as_arg(&a, subs[i].idem ? "1" : "0");
        as_arg(&a, ASYNC_GROUP);
        as_arg(&a, hp);
        if (redisAppendCommandArgv(c, a.n, a.v, a.l) != REDIS_OK)
            return -EIO;
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r)
            return -EIO;
        if (r->type == REDIS_REPLY_ERROR) {
            log_msg(LOG_WARN, "async: Redis refused a submission: %s", r->str);
            rc = -EPROTO;
            status[i][0] = '\0';
        } else {
            snprintf(ids[i], ASYNC_ID_LEN + 1, "%s", as_elem_str(r, 1));
            snprintf(status[i], 16, "%s", as_elem_str(r, 2));
        }
        freeReplyObject(r);
    }
    return rc;
}

/* ---- reading ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int async_store_get(const async_store_t *st, redisContext *c, const char *id, async_view_t *v)
{
    char hash[160];
    args_t a = {.n = 0};
    int rc;
    redisReply *r;

    memset(v, 0, sizeof *v);
    as_key(st, hash, sizeof hash, "sub", id);
    as_arg(&a, "HMGET");
    as_arg(&a, hash);
    static const char *const f[] = {
        "status",   "owner",     "result",    "errorCode",  "errorMessage", "callbackUrl", "fk",
        "attempts", "createdAt", "startedAt", "finishedAt", "cbStatus",     "cbAttempts"};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        as_arg(&a, f[i]);
    r = as_run(c, &a, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != sizeof f / sizeof f[0] ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -ENOENT;
    }
#define S(i) (r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL)
    v->status = dup_or_null(S(0));
    v->owner = dup_or_null(S(1));
    v->result = dup_or_null(S(2));
    v->error_code = dup_or_null(S(3));
    v->error_message = dup_or_null(S(4));
    v->callback_url = dup_or_null(S(5));
    v->fk = dup_or_null(S(6));
    v->cb_status = dup_or_null(S(11));
#undef S
    v->attempts = (int)as_elem_int(r, 7);
    v->created = as_elem_int(r, 8);
    v->started = as_elem_int(r, 9);
    v->finished = as_elem_int(r, 10);
    v->cb_attempts = (int)as_elem_int(r, 12);
    freeReplyObject(r);
    if (!v->status) {
        async_view_free(v);
        return -ENOMEM;
    }
    return 0;
}

void async_view_free(async_view_t *v)
{
    free(v->status);
    free(v->owner);
    free(v->result);
    free(v->error_code);
    free(v->error_message);
    free(v->callback_url);
    free(v->fk);
    free(v->cb_status);
    memset(v, 0, sizeof *v);
}

/* ---- cancel ---- */

/* KEYS: hash delayed cb_due. ARGV: id now ttl owner. Returns 'ok', 'gone' or the status that
 * prevents it. Cancelled is final: a callbackUrl gets its callback obligation here too. */
static const char cancel_lua[] =
    "local s = redis.call('HGET', KEYS[1], 'status')\n"
    "if not s then return 'gone' end\n"
    "if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[4] then return 'gone' end\n"
    "if s ~= 'queued' then return s end\n"
    "redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[2])\n"
    "redis.call('HDEL', KEYS[1], 'body')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "if redis.call('HEXISTS', KEYS[1], 'callbackUrl') == 1 then\n"
    "  redis.call('HSET', KEYS[1], 'cbStatus', 'pending', 'cbAttempts', 0)\n"
    "  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])\n"
    "end\n"
    "return 'ok'\n";

int async_store_cancel(const async_store_t *st, redisContext *c, const char *id, const char *owner,
                       char status[16])
{
    char hash[160], dly[96], due[96];
    args_t a = {.n = 0};
    int rc;
    redisReply *r;

    as_key(st, hash, sizeof hash, "sub", id);
    as_key(st, dly, sizeof dly, "delayed", NULL);
    as_key(st, due, sizeof due, "cb:due", NULL);
    as_arg(&a, "EVAL");
    as_arg(&a, cancel_lua);
    as_arg(&a, "3");
    as_arg(&a, hash);
    as_arg(&a, dly);
    as_arg(&a, due);
    as_arg(&a, id);
    as_argi(&a, async_epoch_ms());
    as_argi(&a, st->ttl_s);
    as_arg(&a, owner ? owner : "");
    if (!(r = as_run(c, &a, &rc)))
        return rc;
    snprintf(status, 16, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    if (!strcmp(status, "gone"))
        return -ENOENT;
    if (strcmp(status, "ok") != 0)
        return -EBUSY;
    snprintf(status, 16, "cancelled");
    return 0;
}

/* ---- taking work ---- */

/* One XREADGROUP/XAUTOCLAIM entry [entry-id, [k, v, ...]] into e. False when malformed or
 * deleted (nil fields). */
static bool entry_of(const redisReply *en, const char *fk, async_entry_t *e)
{
    const redisReply *fields;

    if (en->type != REDIS_REPLY_ARRAY || en->elements < 2 ||
        en->element[0]->type != REDIS_REPLY_STRING)
        return false;
    fields = en->element[1];
    snprintf(e->entry, sizeof e->entry, "%s", en->element[0]->str);
    snprintf(e->fk, sizeof e->fk, "%s", fk);
    for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2)
        if (!strcmp(as_elem_str(fields, i), "id")) {
            snprintf(e->id, sizeof e->id, "%s", as_elem_str(fields, i + 1));
            return async_id_ok(e->id);
        }
    return false;
}

/* ACK and delete an entry (a malformed one, or one whose submission is gone). */
int as_ack(const async_store_t *st, redisContext *c, const char *fk, const char *entry)
{
    char q[160];
    redisReply *r;

    as_key(st, q, sizeof q, "q", fk);
    r = redisCommand(c, "XACK %s %s %s", q, ASYNC_GROUP, entry);
    if (!r)
        return -EIO;
    freeReplyObject(r);
    r = redisCommand(c, "XDEL %s %s", q, entry);
    if (!r)
        return -EIO;
    freeReplyObject(r);
    return 0;
}

/* KEYS: stream fkeys. ARGV: fk. An empty stream leaves the set (and is deleted with its
 * group; the next submit creates both again). */
static const char tidy_lua[] = "if redis.call('XLEN', KEYS[1]) == 0 then\n"
                               "  redis.call('DEL', KEYS[1])\n"
                               "  redis.call('SREM', KEYS[2], ARGV[1])\n"
                               "end\n"
                               "return 0\n";

static int tidy(const async_store_t *st, redisContext *c, const char *fk)
{
    char q[160], fkeys[96];
    redisReply *r;

    as_key(st, q, sizeof q, "q", fk);
    as_key(st, fkeys, sizeof fkeys, "fkeys", NULL);
    r = redisCommand(c, "EVAL %s 2 %s %s %s", tidy_lua, q, fkeys, fk);
    if (!r)
        return -EIO;
    freeReplyObject(r);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The fairness keys, sorted: *r owns the strings, keys[] points into it. */
int as_fair_keys(const async_store_t *st, redisContext *c, redisReply **r, const char ***keys,
                 int *n)
{
    char fkeys[96];

    as_key(st, fkeys, sizeof fkeys, "fkeys", NULL);
    *r = redisCommand(c, "SMEMBERS %s", fkeys);
    *keys = NULL;
    *n = 0;
    if (!*r)
        return -EIO;
    if ((*r)->type != REDIS_REPLY_ARRAY || (*r)->elements == 0)
        return 0;
    *keys = calloc((*r)->elements, sizeof **keys);
    if (!*keys)
        return -ENOMEM;
    for (size_t i = 0; i < (*r)->elements; i++)
        if ((*r)->element[i]->type == REDIS_REPLY_STRING)
            (*keys)[(*n)++] = (*r)->element[i]->str;
    qsort(*keys, (size_t)*n, sizeof **keys, cmp_str);
    return 0;
}

/* XREADGROUP of one new entry of fk. 1, 0, < 0. */
static int read_one(const async_store_t *st, redisContext *c, const char *fk, async_entry_t *e)
{
    char q[160];
    redisReply *r, *s, *ents;
    int got = 0;

    as_key(st, q, sizeof q, "q", fk);
    r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT 1 STREAMS %s >", ASYNC_GROUP, st->consumer,
                     q);
    if (!r)
        return -EIO;
    if (r->type == REDIS_REPLY_ERROR) { /* NOGROUP: the stream was tidied away meanwhile */
        freeReplyObject(r);
        return 0;
    }
    /* [[stream, [[entry, fields]]]] */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && (s = r->element[0]) &&
        s->type == REDIS_REPLY_ARRAY && s->elements == 2 && (ents = s->element[1]) &&
        ents->type == REDIS_REPLY_ARRAY && ents->elements == 1) {
        memset(e, 0, sizeof *e);
        if (entry_of(ents->element[0], fk, e))
            got = 1;
        else if (ents->element[0]->type == REDIS_REPLY_ARRAY && ents->element[0]->elements >= 1)
            as_ack(st, c, fk, as_elem_str(ents->element[0], 0));
    }
    freeReplyObject(r);
    return got;
}

int async_store_take(const async_store_t *st, redisContext *c, char *last, async_entry_t *e)
{
    redisReply *r;
    const char **keys;
    int n, rc, *order = NULL, got = 0;

    rc = as_fair_keys(st, c, &r, &keys, &n);
    if (rc == 0 && n > 0 && !(order = calloc((size_t)n, sizeof *order)))
        rc = -ENOMEM;
    if (rc == 0 && n > 0) {
        async_fair_order(keys, n, last, order);
        for (int i = 0; i < n && !got; i++) {
            const char *fk = keys[order[i]];
            got = read_one(st, c, fk, e);
            if (got < 0) {
                rc = got;
                break;
            }
            if (got)
                snprintf(last, ASYNC_FKEY_MAX + 1, "%s", fk);
            else if (tidy(st, c, fk) < 0) {
                rc = -EIO;
                break;
            }
        }
    }
    free(order);
    free(keys);
    freeReplyObject(r);
    return rc < 0 ? rc : got;
}

int async_store_claim(const async_store_t *st, redisContext *c, int min_idle_ms, async_entry_t *e)
{
    redisReply *r;
    const char **keys;
    int n, rc, got = 0;

    rc = as_fair_keys(st, c, &r, &keys, &n);
    for (int i = 0; rc == 0 && i < n && !got; i++) {
        char q[160];
        redisReply *x, *ents;
        as_key(st, q, sizeof q, "q", keys[i]);
        x = redisCommand(c, "XAUTOCLAIM %s %s %s %d 0-0 COUNT 1", q, ASYNC_GROUP, st->consumer,
                         min_idle_ms);
        if (!x) {
            rc = -EIO;
            break;
        }
        /* [next-cursor, [[entry, fields]], [deleted ids]] */
        if (x->type == REDIS_REPLY_ARRAY && x->elements >= 2 && (ents = x->element[1]) &&
            ents->type == REDIS_REPLY_ARRAY && ents->elements >= 1) {
            memset(e, 0, sizeof *e);
            if (entry_of(ents->element[0], keys[i], e)) {
                e->claimed = true;
                got = 1;
            } else if (ents->element[0]->type == REDIS_REPLY_ARRAY &&
                       ents->element[0]->elements >= 1) {
                as_ack(st, c, keys[i], as_elem_str(ents->element[0], 0));
            }
        }
        freeReplyObject(x);
    }
    free(keys);
    freeReplyObject(r);
    return rc < 0 ? rc : got;
}

int async_store_heartbeat(const async_store_t *st, redisContext *c, const async_entry_t *e)
{
    char q[160];
    redisReply *r;

    as_key(st, q, sizeof q, "q", e->fk);
    r = redisCommand(c, "XCLAIM %s %s %s 0 %s JUSTID", q, ASYNC_GROUP, st->consumer, e->entry);
    if (!r)
        return -EIO;
    freeReplyObject(r);
    return 0;
}

void as_prefix_args(const async_store_t *st, args_t *a, char *hp, char *qp, char *fkeys, char *bell)
{
    snprintf(hp, 96, "%s:sub:", st->prefix);
    snprintf(qp, 96, "%s:q:", st->prefix);
    as_key(st, fkeys, 96, "fkeys", NULL);
    as_key(st, bell, 96, "bell", NULL);
    as_arg(a, hp);
    as_arg(a, qp);
    as_arg(a, ASYNC_GROUP);
    as_arg(a, fkeys);
    as_arg(a, bell);
}
