/*
 * async_store_int.h - helpers shared by async_store.c, async_store_run.c and async_store_admin.c:
 * argument lists for redisCommandArgv, key names, reply accessors, the fairness key list, and
 * the Lua enqueue step that move_due and requeue share. Same threads rule as async_store.h.
 */
#ifndef CG_ASYNC_STORE_INT_H
#define CG_ASYNC_STORE_INT_H

#include "async_store.h"

#define AS_MAXARGS 32

/* An argument vector; numbers are formatted into num[] (valid as long as the struct). */
typedef struct {
    const char *v[AS_MAXARGS];
    size_t l[AS_MAXARGS];
    char num[AS_MAXARGS][24];
    int n;
} args_t;

void as_arg(args_t *a, const char *s);              /* NUL-terminated (NULL = "") */
void as_argb(args_t *a, const char *s, size_t len); /* binary */
void as_argi(args_t *a, long long v);
/* Runs a->v; NULL when the connection failed (*rc = -EIO) or Redis answered an error
 * (*rc = -EPROTO, logged). The caller frees the reply. */
redisReply *as_run(redisContext *c, args_t *a, int *rc);
/* "<prefix>:<kind>[:<s>]" */
void as_key(const async_store_t *st, char *buf, size_t len, const char *kind, const char *s);
const char *as_elem_str(const redisReply *r, size_t i); /* "" when absent */
long long as_elem_int(const redisReply *r, size_t i);   /* 0 when absent */
/* The fairness keys, sorted: *r owns the strings, *keys (malloc'ed) points into it. */
int as_fair_keys(const async_store_t *st, redisContext *c, redisReply **r, const char ***keys,
                 int *n);
/* ACK and delete a stream entry. 0 or -EIO. */
int as_ack(const async_store_t *st, redisContext *c, const char *fk, const char *entry);
/* Appends ARGV hash_prefix stream_prefix group fkeys bell (buffers of 96 bytes). */
void as_prefix_args(const async_store_t *st, args_t *a, char *hp, char *qp, char *fkeys,
                    char *bell);

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

#endif
