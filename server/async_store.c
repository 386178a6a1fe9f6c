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
#include "async_store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_util.h"
#include "log.h"

/* ---- argument lists ---- */

#define MAXARGS 32

typedef struct {
    const char *v[MAXARGS];
    size_t l[MAXARGS];
    char num[MAXARGS][24];
    int n;
} args_t;

static void arg(args_t *a, const char *s)
{
    if (a->n < MAXARGS) {
        a->v[a->n] = s ? s : "";
        a->l[a->n] = strlen(a->v[a->n]);
        a->n++;
    }
}

static void argb(args_t *a, const char *s, size_t len)
{
    if (a->n < MAXARGS) {
        a->v[a->n] = s;
        a->l[a->n] = len;
        a->n++;
    }
}

static void argi(args_t *a, long long v)
{
    if (a->n < MAXARGS) {
        snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", v);
        arg(a, a->num[a->n]);
    }
}

/* Runs a->v; NULL when the connection failed (*rc = -EIO) or Redis answered an error
 * (*rc = -EPROTO, logged, reply freed). */
static redisReply *run(redisContext *c, args_t *a, int *rc)
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

static void key(const async_store_t *st, char *buf, size_t len, const char *kind, const char *s)
{
    snprintf(buf, len, "%s:%s%s%s", st->prefix, kind, s ? ":" : "", s ? s : "");
}

/* A string element of an array reply, or "". */
static const char *elem_str(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return "";
    const redisReply *e = r->element[i];
    return (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) ? e->str : "";
}

static long long elem_int(const redisReply *r, size_t i)
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

    key(st, fkeys, sizeof fkeys, "fkeys", NULL);
    key(st, bell, sizeof bell, "bell", NULL);
    snprintf(hp, sizeof hp, "%s:sub:", st->prefix);
    for (int i = 0; i < n; i++) {
        args_t a = {.n = 0};
        if (cg_random_hex(ids[i], ASYNC_ID_LEN / 2) != 0)
            return -EIO;
        key(st, hash, sizeof hash, "sub", ids[i]);
        key(st, q, sizeof q, "q", subs[i].fkey);
        if (subs[i].idem)
            snprintf(idem, sizeof idem, "%s:idem:%s:%s", st->prefix, subs[i].owner, subs[i].idem);
        else
            key(st, idem, sizeof idem, "idem", "-");
        arg(&a, "EVAL");
        arg(&a, submit_lua);
        arg(&a, "5");
        arg(&a, hash);
        arg(&a, q);
        arg(&a, fkeys);
        arg(&a, bell);
        arg(&a, idem);
        arg(&a, ids[i]);
        arg(&a, subs[i].fkey);
        argi(&a, now);
        argb(&a, subs[i].body, subs[i].body_len);
        arg(&a, subs[i].callback_url);
        arg(&a, subs[i].owner);
        argi(&a, ASYNC_IDEM_TTL_S);
        arg(&a, subs[i].idem ? "1" : "0");
        arg(&a, ASYNC_GROUP);
        arg(&a, hp);
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
            snprintf(ids[i], ASYNC_ID_LEN + 1, "%s", elem_str(r, 1));
            snprintf(status[i], 16, "%s", elem_str(r, 2));
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
    key(st, hash, sizeof hash, "sub", id);
    arg(&a, "HMGET");
    arg(&a, hash);
    static const char *const f[] = {"status",       "owner",       "result",    "errorCode",
                                    "errorMessage", "callbackUrl", "fk",        "attempts",
                                    "createdAt",    "startedAt",   "finishedAt"};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        arg(&a, f[i]);
    r = run(c, &a, &rc);
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
#undef S
    v->attempts = (int)elem_int(r, 7);
    v->created = elem_int(r, 8);
    v->started = elem_int(r, 9);
    v->finished = elem_int(r, 10);
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
    memset(v, 0, sizeof *v);
}

/* ---- cancel ---- */

/* KEYS: hash delayed. ARGV: id now ttl owner. Returns 'ok', 'gone' or the status that
 * prevents it. */
static const char cancel_lua[] =
    "local s = redis.call('HGET', KEYS[1], 'status')\n"
    "if not s then return 'gone' end\n"
    "if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[4] then return 'gone' end\n"
    "if s ~= 'queued' then return s end\n"
    "redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[2])\n"
    "redis.call('HDEL', KEYS[1], 'body')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "return 'ok'\n";

int async_store_cancel(const async_store_t *st, redisContext *c, const char *id, const char *owner,
                       char status[16])
{
    char hash[160], dly[96];
    args_t a = {.n = 0};
    int rc;
    redisReply *r;

    key(st, hash, sizeof hash, "sub", id);
    key(st, dly, sizeof dly, "delayed", NULL);
    arg(&a, "EVAL");
    arg(&a, cancel_lua);
    arg(&a, "2");
    arg(&a, hash);
    arg(&a, dly);
    arg(&a, id);
    argi(&a, async_epoch_ms());
    argi(&a, st->ttl_s);
    arg(&a, owner ? owner : "");
    if (!(r = run(c, &a, &rc)))
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
        if (!strcmp(elem_str(fields, i), "id")) {
            snprintf(e->id, sizeof e->id, "%s", elem_str(fields, i + 1));
            return async_id_ok(e->id);
        }
    return false;
}

/* ACK and delete an entry (a malformed one, or one whose submission is gone). */
static int ack(const async_store_t *st, redisContext *c, const char *fk, const char *entry)
{
    char q[160];
    redisReply *r;

    key(st, q, sizeof q, "q", fk);
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

    key(st, q, sizeof q, "q", fk);
    key(st, fkeys, sizeof fkeys, "fkeys", NULL);
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
static int fair_keys(const async_store_t *st, redisContext *c, redisReply **r, const char ***keys,
                     int *n)
{
    char fkeys[96];

    key(st, fkeys, sizeof fkeys, "fkeys", NULL);
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

    key(st, q, sizeof q, "q", fk);
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
            ack(st, c, fk, elem_str(ents->element[0], 0));
    }
    freeReplyObject(r);
    return got;
}

int async_store_take(const async_store_t *st, redisContext *c, char *last, async_entry_t *e)
{
    redisReply *r;
    const char **keys;
    int n, rc, *order = NULL, got = 0;

    rc = fair_keys(st, c, &r, &keys, &n);
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

    rc = fair_keys(st, c, &r, &keys, &n);
    for (int i = 0; rc == 0 && i < n && !got; i++) {
        char q[160];
        redisReply *x, *ents;
        key(st, q, sizeof q, "q", keys[i]);
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
                ack(st, c, keys[i], elem_str(ents->element[0], 0));
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

    key(st, q, sizeof q, "q", e->fk);
    r = redisCommand(c, "XCLAIM %s %s %s 0 %s JUSTID", q, ASYNC_GROUP, st->consumer, e->entry);
    if (!r)
        return -EIO;
    freeReplyObject(r);
    return 0;
}

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
    "return {'run', tostring(a), redis.call('HGET', KEYS[1], 'body') or ''}\n";

int async_store_start(const async_store_t *st, redisContext *c, const async_entry_t *e,
                      int max_attempts, char **body, int *attempt)
{
    char hash[160];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;
    const char *what;

    *body = NULL;
    *attempt = 0;
    key(st, hash, sizeof hash, "sub", e->id);
    arg(&a, "EVAL");
    arg(&a, start_lua);
    arg(&a, "1");
    arg(&a, hash);
    argi(&a, async_epoch_ms());
    arg(&a, st->consumer);
    argi(&a, max_attempts);
    if (!(r = run(c, &a, &rc)))
        return rc;
    what = elem_str(r, 0);
    if (!strcmp(what, "run")) {
        *attempt = (int)elem_int(r, 1);
        const redisReply *b = r->element[2];
        *body = malloc(b->len + 1);
        if (!*body) {
            freeReplyObject(r);
            return -ENOMEM;
        }
        memcpy(*body, b->str, b->len);
        (*body)[b->len] = '\0';
        rc = ASYNC_START_RUN;
    } else if (!strcmp(what, "exhausted")) {
        *attempt = (int)elem_int(r, 1);
        rc = ASYNC_START_EXHAUSTED;
    } else {
        rc = ASYNC_START_SKIP;
    }
    freeReplyObject(r);
    if (rc == ASYNC_START_SKIP && ack(st, c, e->fk, e->entry) < 0)
        return -EIO;
    return rc;
}

/* KEYS: hash stream dlq. ARGV: id status result code message now ttl group entry dead
 * minid. */
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
    "redis.call('EXPIRE', KEYS[1], ARGV[7])\n"
    "return 1\n";

int async_store_finish(const async_store_t *st, redisContext *c, const char *id,
                       const async_entry_t *e, const char *status, const char *result,
                       const char *code, const char *message, bool dead)
{
    char hash[160], q[160], dlq[96], dly[96];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;
    int64_t now = async_epoch_ms();

    key(st, hash, sizeof hash, "sub", id);
    key(st, q, sizeof q, "q", e ? e->fk : "-");
    key(st, dlq, sizeof dlq, "dead", NULL);
    key(st, dly, sizeof dly, "delayed", NULL);
    arg(&a, "EVAL");
    arg(&a, finish_lua);
    arg(&a, "3");
    arg(&a, hash);
    arg(&a, q);
    arg(&a, dlq);
    arg(&a, id);
    arg(&a, status);
    arg(&a, result);
    arg(&a, code);
    arg(&a, message);
    argi(&a, now);
    argi(&a, st->ttl_s);
    arg(&a, ASYNC_GROUP);
    arg(&a, e ? e->entry : "");
    arg(&a, dead ? "1" : "0");
    argi(&a, now - (int64_t)st->ttl_s * 1000);
    arg(&a, dly);
    if (!(r = run(c, &a, &rc)))
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

    key(st, hash, sizeof hash, "sub", e->id);
    key(st, q, sizeof q, "q", e->fk);
    key(st, dly, sizeof dly, "delayed", NULL);
    arg(&a, "EVAL");
    arg(&a, retry_lua);
    arg(&a, "3");
    arg(&a, hash);
    arg(&a, q);
    arg(&a, dly);
    arg(&a, e->id);
    arg(&a, ASYNC_GROUP);
    arg(&a, e->entry);
    argi(&a, due_ms);
    arg(&a, code);
    arg(&a, message);
    arg(&a, handback ? "1" : "0");
    arg(&a, st->consumer);
    if (!(r = run(c, &a, &rc)))
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return rc;
}

/* The enqueue step shared by move_due and requeue (Lua text pasted into both). ARGV of the
 * caller: hash_prefix stream_prefix group fkeys bell. */
#define ENQUEUE_LUA                                                                                \
    "local function enqueue(id)\n"                                                                 \
    "  local h = ARGV[1] .. id\n"                                                                  \
    "  local fk = redis.call('HGET', h, 'fk')\n"                                                   \
    "  if not fk then return 0 end\n"                                                              \
    "  local q = ARGV[2] .. fk\n"                                                                  \
    "  redis.pcall('XGROUP', 'CREATE', q, ARGV[3], '0', 'MKSTREAM')\n"                             \
    "  redis.call('XADD', q, '*', 'id', id)\n"                                                     \
    "  redis.call('SADD', ARGV[4], fk)\n"                                                          \
    "  redis.call('LPUSH', ARGV[5], '1')\n"                                                        \
    "  redis.call('LTRIM', ARGV[5], 0, 255)\n"                                                     \
    "  return 1\n"                                                                                 \
    "end\n"

/* KEYS: delayed. ARGV: hash_prefix stream_prefix group fkeys bell now. */
static const char move_lua[] = ENQUEUE_LUA
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[6], 'LIMIT', 0, 32)\n"
    "local n = 0\n"
    "for _, id in ipairs(due) do\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  if redis.call('HGET', ARGV[1] .. id, 'status') == 'queued' then n = n + enqueue(id) end\n"
    "end\n"
    "return n\n";

static void prefix_args(const async_store_t *st, args_t *a, char *hp, char *qp, char *fkeys,
                        char *bell)
{
    snprintf(hp, 96, "%s:sub:", st->prefix);
    snprintf(qp, 96, "%s:q:", st->prefix);
    key(st, fkeys, 96, "fkeys", NULL);
    key(st, bell, 96, "bell", NULL);
    arg(a, hp);
    arg(a, qp);
    arg(a, ASYNC_GROUP);
    arg(a, fkeys);
    arg(a, bell);
}

int async_store_move_due(const async_store_t *st, redisContext *c)
{
    char dly[96], hp[96], qp[96], fkeys[96], bell[96];
    args_t a = {.n = 0};
    redisReply *r;
    int rc;

    key(st, dly, sizeof dly, "delayed", NULL);
    arg(&a, "EVAL");
    arg(&a, move_lua);
    arg(&a, "1");
    arg(&a, dly);
    prefix_args(st, &a, hp, qp, fkeys, bell);
    argi(&a, async_epoch_ms());
    if (!(r = run(c, &a, &rc)))
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return rc;
}

int async_store_wait_bell(const async_store_t *st, redisContext *c, int timeout_ms)
{
    char bell[96], t[24];
    redisReply *r;

    key(st, bell, sizeof bell, "bell", NULL);
    snprintf(t, sizeof t, "%d.%03d", timeout_ms / 1000, timeout_ms % 1000);
    r = redisCommand(c, "BRPOP %s %s", bell, t);
    if (!r)
        return -EIO;
    freeReplyObject(r);
    return 0;
}

/* ---- dead letters ---- */

cJSON *async_store_dead_list(const async_store_t *st, redisContext *c, int limit, int *rc)
{
    char dlq[96];
    redisReply *r;
    cJSON *arr;

    key(st, dlq, sizeof dlq, "dead", NULL);
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
            const char *name = elem_str(f, k), *val = elem_str(f, k + 1);
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

    key(st, hash, sizeof hash, "sub", id);
    key(st, dlq, sizeof dlq, "dead", NULL);
    arg(&a, "EVAL");
    arg(&a, requeue_lua);
    arg(&a, "2");
    arg(&a, hash);
    arg(&a, dlq);
    prefix_args(st, &a, hp, qp, fkeys, bell);
    arg(&a, id);
    if (!(r = run(c, &a, &rc)))
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
            if (!strcmp(elem_str(gi, k), "pending"))
                pending = elem_int(gi, k + 1);
            else if (!strcmp(elem_str(gi, k), "last-delivered-id"))
                snprintf(last, sizeof last, "%s", elem_str(gi, k + 1));
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
        int64_t t = strtoll(elem_str(r->element[0], 0), NULL, 10);
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
    rc = fair_keys(st, c, &r, &keys, &n);
    for (int i = 0; rc == 0 && i < n; i++) {
        key(st, k, sizeof k, "q", keys[i]);
        rc = stream_stats(c, k, s, now);
    }
    free(keys);
    freeReplyObject(r);
    if (rc < 0)
        return rc;
    key(st, k, sizeof k, "delayed", NULL);
    if (!(r = redisCommand(c, "ZCARD %s", k)))
        return -EIO;
    s->delayed = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    key(st, k, sizeof k, "dead", NULL);
    if (!(r = redisCommand(c, "XLEN %s", k)))
        return -EIO;
    s->dead = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return 0;
}
