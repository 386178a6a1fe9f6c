/*
 * test_async_store.c - the queue's Redis scripts against a real redis-server (started by the
 * test on a unix socket in a temporary directory; no mocks): submit and idempotency keys,
 * take/start/finish with exactly one final result, cancel, retries through the delayed set,
 * dead letters and their re-queue, exhausted attempts, claims from a quiet consumer, the
 * fairness rotation across keys, expiry, the statistics of /metrics, and the durable
 * callback obligations (P:cb:due: written with the final state, claimed with a lease,
 * claimable again when the lease ends, removed when done).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TEST_ALARM_S 30
#include "alarm_fixture.h"
#include "async_store.h"

static char dir[64], sock[128], url[160];
static pid_t redis_pid;
static async_store_t st, st2; /* two consumers ("gateways") on one queue */
static redisContext *c, *c2;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int start_redis(void **state)
{
    char err[256];

    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_async_store.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof sock, "%s/redis.sock", dir);
    snprintf(url, sizeof url, "unix://%s", sock);
    redis_pid = fork();
    if (redis_pid == 0) {
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--dir", dir,
               "--save", "", "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    if (redis_pid < 0)
        return -1;
    if (async_store_init(&st, url, "t", "gw-a", 60, err, sizeof err) != 0 ||
        async_store_init(&st2, url, "t", "gw-b", 60, err, sizeof err) != 0)
        return -1;
    for (int i = 0; i < 100 && !c; i++) {
        c = async_store_connect(&st, 500, err, sizeof err);
        if (!c)
            sleep_ms(50);
    }
    if (!c) {
        fprintf(stderr, "redis-server did not start: %s\n", err);
        return -1;
    }
    c2 = async_store_connect(&st2, 500, err, sizeof err);
    return c2 ? 0 : -1;
}

static int stop_redis(void **state)
{
    char cmd[128];

    (void)state;
    if (c)
        redisFree(c);
    if (c2)
        redisFree(c2);
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    redisReply *r = redisCommand(c, "FLUSHALL");

    freeReplyObject(r);
    return setup_alarm(state);
}

/* A raw command's integer or string reply as a number (-1 = nil). */
static long long raw_num(const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(c, fmt, arg);
    long long v = -1;

    assert_non_null(r);
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

static void submit(const char *fk, const char *owner, const char *idem, char *id)
{
    static const char body[] = "{\"language\":\"python\",\"code\":\"print(1)\"}";
    async_new_t n = {body, sizeof body - 1, NULL, owner, fk, idem};
    char ids[1][ASYNC_ID_LEN + 1], status[1][16];

    assert_int_equal(async_store_submit(&st, c, &n, 1, ids, status), 0);
    assert_true(async_id_ok(ids[0]));
    strcpy(id, ids[0]);
}

static void expect_status(const char *id, const char *want, int attempts)
{
    async_view_t v;

    assert_int_equal(async_store_get(&st, c, id, &v), 0);
    assert_string_equal(v.status, want);
    assert_int_equal(v.attempts, attempts);
    async_view_free(&v);
}

static void take_start(async_store_t *s, redisContext *cc, const char *id, async_entry_t *e,
                       int want_attempt)
{
    char last[ASYNC_FKEY_MAX + 1] = "", *body = NULL;
    int attempt;

    assert_int_equal(async_store_take(s, cc, last, e), 1);
    assert_string_equal(e->id, id);
    assert_int_equal(async_store_start(s, cc, e, 5, &body, &attempt), ASYNC_START_RUN);
    assert_int_equal(attempt, want_attempt);
    assert_non_null(strstr(body, "print(1)"));
    assert_true(e->owner[0] != '\0'); /* the key it runs under (quotas) */
    free(body);
}

static void test_submit_get(void **state)
{
    char id[ASYNC_ID_LEN + 1], hash[96];
    async_view_t v;
    int64_t before = async_epoch_ms();

    (void)state;
    submit("alice", "alice", NULL, id);
    assert_int_equal(async_store_get(&st, c, id, &v), 0);
    assert_string_equal(v.fk, "alice");
    assert_string_equal(v.status, "queued");
    assert_int_equal(v.attempts, 0);
    assert_string_equal(v.owner, "alice");
    assert_true(v.created >= before && v.created <= async_epoch_ms());
    assert_int_equal(v.started, 0);
    assert_null(v.result);
    async_view_free(&v);
    snprintf(hash, sizeof hash, "t:sub:%s", id);
    assert_int_equal(raw_num("TTL %s", hash), -1); /* no expiry while queued */
    assert_int_equal(async_store_get(&st, c, "0123456789abcdef0123456789abcdef", &v), -ENOENT);
}

static void test_idempotency(void **state)
{
    char a[ASYNC_ID_LEN + 1], b[ASYNC_ID_LEN + 1], other[ASYNC_ID_LEN + 1];

    (void)state;
    submit("k", "alice", "req-1", a);
    submit("k", "alice", "req-1", b);
    assert_string_equal(a, b);
    submit("k", "bob", "req-1", other); /* keys are per owner */
    assert_string_not_equal(a, other);
    assert_int_equal(raw_num("XLEN %s", "t:q:k"), 2); /* queued once per distinct key */
    assert_true(raw_num("TTL %s", "t:idem:alice:req-1") > 86000);
}

static void test_batch_pipelined(void **state)
{
    static const char body[] = "{\"language\":\"python\",\"code\":\"print(1)\"}";
    async_new_t n[3];
    char ids[3][ASYNC_ID_LEN + 1], status[3][16];

    (void)state;
    for (int i = 0; i < 3; i++)
        n[i] = (async_new_t){body, sizeof body - 1, i == 1 ? "https://x/cb" : NULL, "o", "k", NULL};
    assert_int_equal(async_store_submit(&st, c, n, 3, ids, status), 0);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(status[i], "queued");
        for (int k = 0; k < i; k++)
            assert_string_not_equal(ids[i], ids[k]);
    }
    async_view_t v;
    assert_int_equal(async_store_get(&st, c, ids[1], &v), 0);
    assert_string_equal(v.callback_url, "https://x/cb");
    async_view_free(&v);
    assert_int_equal(raw_num("XLEN %s", "t:q:k"), 3);
}

static void test_run_finish_once(void **state)
{
    char id[ASYNC_ID_LEN + 1], hash[96], last[ASYNC_FKEY_MAX + 1] = "";
    async_entry_t e, none;
    async_view_t v;

    (void)state;
    submit("k", "o", NULL, id);
    take_start(&st, c, id, &e, 1);
    expect_status(id, "running", 1);
    assert_int_equal(async_store_take(&st, c, last, &none), 0); /* nothing else queued */
    assert_int_equal(
        async_store_finish(&st, c, id, &e, "done", "{\"stdout\":\"1\\n\"}", "", "", false), 1);
    /* A second run of the same submission (claimed elsewhere) does not overwrite it. */
    assert_int_equal(async_store_finish(&st, c, id, &e, "failed", "", "internal_error", "x", false),
                     0);
    assert_int_equal(async_store_get(&st, c, id, &v), 0);
    assert_string_equal(v.status, "done");
    assert_string_equal(v.result, "{\"stdout\":\"1\\n\"}");
    assert_null(v.error_code);
    assert_true(v.finished >= v.started && v.started >= v.created);
    async_view_free(&v);
    snprintf(hash, sizeof hash, "t:sub:%s", id);
    assert_true(raw_num("TTL %s", hash) > 50 && raw_num("TTL %s", hash) <= 60);
    assert_int_equal(raw_num("HEXISTS %s body", hash), 0); /* the source is gone */
    /* The entry is acknowledged and deleted; the emptied stream leaves the key set. */
    assert_int_equal(raw_num("XLEN %s", "t:q:k"), 0);
    assert_int_equal(async_store_take(&st, c, last, &none), 0);
    assert_int_equal(raw_num("SCARD %s", "t:fkeys"), 0);
}

static void test_cancel(void **state)
{
    char id[ASYNC_ID_LEN + 1], run[ASYNC_ID_LEN + 1], s[16], last[ASYNC_FKEY_MAX + 1] = "";
    async_entry_t e;
    char *body = NULL;
    int attempt;

    (void)state;
    submit("k", "alice", NULL, run);
    submit("k", "alice", NULL, id);
    take_start(&st, c, run, &e, 1);
    assert_int_equal(async_store_cancel(&st, c, run, "alice", s), -EBUSY);
    assert_string_equal(s, "running");
    assert_int_equal(async_store_cancel(&st, c, id, "bob", s), -ENOENT); /* another key's */
    assert_int_equal(async_store_cancel(&st, c, id, "alice", s), 0);
    expect_status(id, "cancelled", 0);
    assert_int_equal(async_store_cancel(&st, c, id, NULL, s), -EBUSY);
    assert_string_equal(s, "cancelled");
    assert_int_equal(async_store_cancel(&st, c, "0123456789abcdef0123456789abcdef", NULL, s),
                     -ENOENT);
    /* A worker that takes the cancelled entry skips it (and acknowledges it). */
    assert_int_equal(async_store_take(&st, c, last, &e), 1);
    assert_string_equal(e.id, id);
    assert_int_equal(async_store_start(&st, c, &e, 5, &body, &attempt), ASYNC_START_SKIP);
    assert_null(body);
    expect_status(id, "cancelled", 0);
}

static void test_retry_delayed(void **state)
{
    char id[ASYNC_ID_LEN + 1], last[ASYNC_FKEY_MAX + 1] = "";
    async_entry_t e, e2;
    async_view_t v;

    (void)state;
    submit("k", "o", NULL, id);
    take_start(&st, c, id, &e, 1);
    /* Only the consumer running it may send it back. */
    assert_int_equal(async_store_retry(&st2, c2, &e, async_epoch_ms(), "x", "y", false), 0);
    expect_status(id, "running", 1);
    assert_int_equal(async_store_retry(&st, c, &e, async_epoch_ms() + 300, "executor_unavailable",
                                       "the executor connection was lost", false),
                     1);
    assert_int_equal(async_store_get(&st, c, id, &v), 0);
    assert_string_equal(v.status, "queued");
    assert_string_equal(v.error_code, "executor_unavailable");
    async_view_free(&v);
    assert_int_equal(raw_num("ZCARD %s", "t:delayed"), 1);
    /* Not due yet: nothing moves, nothing to take. */
    assert_int_equal(async_store_move_due(&st, c), 0);
    assert_int_equal(async_store_take(&st, c, last, &e2), 0);
    sleep_ms(350);
    assert_int_equal(async_store_move_due(&st, c), 1);
    assert_int_equal(raw_num("ZCARD %s", "t:delayed"), 0);
    take_start(&st, c, id, &e2, 2);
}

static void test_handback_keeps_attempts(void **state)
{
    char id[ASYNC_ID_LEN + 1];
    async_entry_t e;

    (void)state;
    submit("k", "o", NULL, id);
    take_start(&st, c, id, &e, 1);
    assert_int_equal(
        async_store_retry(&st, c, &e, async_epoch_ms(), "shutting_down", "stopping", true), 1);
    expect_status(id, "queued", 0); /* the gateway stopped: not an attempt */
    assert_int_equal(async_store_move_due(&st, c), 1);
    take_start(&st2, c2, id, &e, 1);
}

static void test_dead_letter_requeue(void **state)
{
    char id[ASYNC_ID_LEN + 1];
    async_entry_t e;
    async_view_t v;
    cJSON *list;
    int rc;

    (void)state;
    submit("k", "o", NULL, id);
    take_start(&st, c, id, &e, 1);
    assert_int_equal(async_store_finish(&st, c, id, &e, "failed", "", "executor_unavailable",
                                        "gave up after 1 attempts: no executor", true),
                     1);
    assert_int_equal(async_store_get(&st, c, id, &v), 0);
    assert_string_equal(v.status, "failed");
    assert_string_equal(v.error_code, "executor_unavailable");
    assert_non_null(strstr(v.error_message, "gave up"));
    async_view_free(&v);
    list = async_store_dead_list(&st, c, 100, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cJSON_GetArraySize(list), 1);
    const cJSON *d = cJSON_GetArrayItem(list, 0);
    assert_string_equal(cJSON_GetObjectItem(d, "id")->valuestring, id);
    assert_string_equal(cJSON_GetObjectItem(d, "code")->valuestring, "executor_unavailable");
    assert_int_equal(cJSON_GetObjectItem(d, "attempts")->valueint, 1);
    assert_non_null(cJSON_GetObjectItem(d, "deadAt"));
    cJSON_Delete(list);
    /* Re-queue: back to queued with attempts from 0, out of the dead letters, runnable. */
    assert_int_equal(async_store_requeue(&st, c, id), 0);
    expect_status(id, "queued", 0);
    assert_int_equal(raw_num("XLEN %s", "t:dead"), 0);
    assert_int_equal(async_store_requeue(&st, c, id), -EBUSY); /* not a dead letter now */
    assert_int_equal(async_store_requeue(&st, c, "0123456789abcdef0123456789abcdef"), -ENOENT);
    take_start(&st, c, id, &e, 1);
    assert_int_equal(async_store_finish(&st, c, id, &e, "done", "{}", "", "", false), 1);
    assert_int_equal(async_store_requeue(&st, c, id), -EBUSY); /* done is not a dead letter */
}

static void test_exhausted(void **state)
{
    char id[ASYNC_ID_LEN + 1], last[ASYNC_FKEY_MAX + 1] = "", *body = NULL;
    async_entry_t e;
    int attempt;

    (void)state;
    submit("k", "o", NULL, id);
    take_start(&st, c, id, &e, 1);
    /* The gateway dies; another claims the entry and finds the attempts used up. */
    assert_int_equal(async_store_claim(&st2, c2, 0, &e), 1);
    assert_true(e.claimed);
    assert_int_equal(async_store_start(&st2, c2, &e, 1, &body, &attempt), ASYNC_START_EXHAUSTED);
    assert_int_equal(attempt, 1);
    assert_null(body);
    assert_int_equal(async_store_take(&st2, c2, last, &e), 0);
}

static void test_claim_quiet_consumer(void **state)
{
    char id[ASYNC_ID_LEN + 1];
    async_entry_t e, e2;
    char *body = NULL;
    int attempt;

    (void)state;
    submit("k", "o", NULL, id);
    take_start(&st, c, id, &e, 1);
    /* Not idle long enough yet: nothing to claim. */
    assert_int_equal(async_store_claim(&st2, c2, 400, &e2), 0);
    sleep_ms(250);
    assert_int_equal(async_store_heartbeat(&st, c, &e), 0); /* gw-a renews its claim */
    sleep_ms(250);
    assert_int_equal(async_store_claim(&st2, c2, 400, &e2), 0);
    sleep_ms(450); /* gw-a went quiet */
    assert_int_equal(async_store_claim(&st2, c2, 400, &e2), 1);
    assert_string_equal(e2.id, id);
    assert_int_equal(async_store_start(&st2, c2, &e2, 5, &body, &attempt), ASYNC_START_RUN);
    assert_int_equal(attempt, 2);
    free(body);
    /* Both finish: one result. */
    assert_int_equal(async_store_finish(&st2, c2, id, &e2, "done", "{\"n\":2}", "", "", false), 1);
    assert_int_equal(async_store_finish(&st, c, id, &e, "done", "{\"n\":1}", "", "", false), 0);
    async_view_t v;
    assert_int_equal(async_store_get(&st, c, id, &v), 0);
    assert_string_equal(v.result, "{\"n\":2}");
    async_view_free(&v);
}

static void test_fair_rotation(void **state)
{
    char id[ASYNC_ID_LEN + 1], last[ASYNC_FKEY_MAX + 1] = "", seq[16] = "";
    async_entry_t e;

    (void)state;
    for (int i = 0; i < 20; i++)
        submit("a", "a", NULL, id);
    submit("b", "b", NULL, id);
    submit("b", "b", NULL, id);
    submit("c", "c", NULL, id);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(async_store_take(&st, c, last, &e), 1);
        seq[i] = e.fk[0];
    }
    /* a's backlog of 20 does not hold b and c back. */
    assert_string_equal(seq, "abcabaaa");
}

static void test_stats(void **state)
{
    char a1[ASYNC_ID_LEN + 1], a2[ASYNC_ID_LEN + 1], b1[ASYNC_ID_LEN + 1];
    char last[ASYNC_FKEY_MAX + 1] = "";
    async_entry_t e;
    async_stats_t s;

    (void)state;
    submit("a", "a", NULL, a1);
    submit("a", "a", NULL, a2);
    submit("b", "b", NULL, b1);
    sleep_ms(120);
    assert_int_equal(async_store_stats(&st, c, &s), 0);
    assert_int_equal(s.queued, 3);
    assert_int_equal(s.running, 0);
    assert_true(s.oldest_ms >= 100 && s.oldest_ms < 10000);
    take_start(&st, c, a1, &e, 1);
    assert_int_equal(async_store_retry(&st, c, &e, async_epoch_ms() + 60000, "x", "y", false), 1);
    assert_int_equal(async_store_take(&st, c, last, &e), 1); /* a2, left running */
    assert_string_equal(e.id, a2);
    assert_int_equal(async_store_stats(&st, c, &s), 0);
    assert_int_equal(s.queued, 1); /* b1 */
    assert_int_equal(s.running, 1);
    assert_int_equal(s.delayed, 1);
    assert_int_equal(s.dead, 0);
}

/* Consumers of stopped gateways are forgotten once idle and empty; never one that holds an
 * entry, never the caller. */
static void test_prune_consumers(void **state)
{
    char id[ASYNC_ID_LEN + 1], id2[ASYNC_ID_LEN + 1], last[ASYNC_FKEY_MAX + 1] = "";
    async_entry_t e;
    async_store_t st3;
    redisContext *c3;
    char err[256];

    (void)state;
    assert_int_equal(async_store_init(&st3, url, "t", "gw-c", 60, err, sizeof err), 0);
    c3 = async_store_connect(&st3, 500, err, sizeof err);
    assert_non_null(c3);
    submit("k", "o", NULL, id);
    submit("k", "o", NULL, id2);
    take_start(&st, c, id, &e, 1);                             /* gw-a holds one */
    assert_int_equal(async_store_take(&st3, c3, last, &e), 1); /* gw-c takes and finishes */
    assert_int_equal(async_store_finish(&st3, c3, e.id, &e, "done", "{}", "", "", false), 1);
    assert_int_equal(async_store_take(&st2, c2, last, &e), 0); /* gw-b: nothing to take */
    sleep_ms(150);
    assert_int_equal(async_store_prune_consumers(&st2, c2, 100), 1); /* gw-c; not gw-a, gw-b */
    assert_int_equal(async_store_prune_consumers(&st2, c2, 100), 0);
    redisReply *r = redisCommand(c, "XINFO CONSUMERS t:q:k workers");
    assert_non_null(r);
    assert_int_equal(r->elements, 1); /* gw-a, holding its entry */
    assert_non_null(strstr(r->element[0]->element[1]->str, "gw-a"));
    freeReplyObject(r);
    redisFree(c3);
}

static void submit_cb(const char *fk, char *id)
{
    static const char body[] = "{\"language\":\"python\",\"code\":\"print(1)\"}";
    async_new_t n = {body, sizeof body - 1, "https://x/cb", "o", fk, NULL};
    char ids[1][ASYNC_ID_LEN + 1], status[1][16];

    assert_int_equal(async_store_submit(&st, c, &n, 1, ids, status), 0);
    strcpy(id, ids[0]);
}

/* The score of id in t:cb:due, -1 when absent. */
static long long due_score(const char *id)
{
    redisReply *r = redisCommand(c, "ZSCORE t:cb:due %s", id);
    long long v = -1;

    assert_non_null(r);
    if (r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

static void expect_cb(const char *id, const char *status, int attempts)
{
    async_view_t v;

    assert_int_equal(async_store_get(&st, c, id, &v), 0);
    if (status) {
        assert_non_null(v.cb_status);
        assert_string_equal(v.cb_status, status);
    } else {
        assert_null(v.cb_status);
    }
    assert_int_equal(v.cb_attempts, attempts);
    async_view_free(&v);
}

/* The final write adds the callback obligation exactly once, in the same script; a repeated
 * (refused) final write leaves it alone; no callbackUrl, no entry. */
static void test_callback_due_with_final_write(void **state)
{
    char id[ASYNC_ID_LEN + 1], plain[ASYNC_ID_LEN + 1], cid[ASYNC_ID_LEN + 1], s[16];
    async_entry_t e, e2;
    int64_t before = async_epoch_ms();

    (void)state;
    submit_cb("k", id);
    submit("k", "o", NULL, plain);
    take_start(&st, c, id, &e, 1);
    expect_cb(id, NULL, 0); /* nothing owed before the final state */
    assert_int_equal(raw_num("ZCARD %s", "t:cb:due"), 0);
    assert_int_equal(async_store_finish(&st, c, id, &e, "done", "{}", "", "", false), 1);
    assert_int_equal(raw_num("ZCARD %s", "t:cb:due"), 1);
    assert_true(due_score(id) >= before && due_score(id) <= async_epoch_ms());
    expect_cb(id, "pending", 0);
    /* A second run's final write is refused and does not touch the obligation. */
    assert_int_equal(async_store_cb_defer(&st, c, id, 12345), 1);
    assert_int_equal(async_store_finish(&st, c, id, &e, "failed", "", "internal_error", "x", false),
                     0);
    assert_int_equal(due_score(id), 12345);
    assert_int_equal(raw_num("ZCARD %s", "t:cb:due"), 1);
    /* Without a callbackUrl: nothing owed. */
    take_start(&st, c, plain, &e2, 1);
    assert_int_equal(async_store_finish(&st, c, plain, &e2, "done", "{}", "", "", false), 1);
    assert_int_equal(due_score(plain), -1);
    expect_cb(plain, NULL, 0);
    /* Cancelled is final too: once, and not again when the cancel is refused. */
    submit_cb("k2", cid);
    assert_int_equal(async_store_cancel(&st, c, cid, NULL, s), 0);
    assert_true(due_score(cid) >= before);
    expect_cb(cid, "pending", 0);
    assert_int_equal(async_store_cb_defer(&st, c, cid, 777), 1);
    assert_int_equal(async_store_cancel(&st, c, cid, NULL, s), -EBUSY);
    assert_int_equal(due_score(cid), 777);
    assert_int_equal(raw_num("ZCARD %s", "t:cb:due"), 2);
    async_stats_t stats;
    assert_int_equal(async_store_stats(&st, c, &stats), 0);
    assert_int_equal(stats.callbacks_owed, 2); /* /metrics: codegate_async_callbacks_owed */
}

/* Claims take due entries only, under a lease; the lease renews; an ended lease makes the
 * entry claimable by another dispatcher; done removes it (idempotent); an expired
 * submission's entry is dropped. */
static void test_callback_claim_lease_done(void **state)
{
    char id[ASYNC_ID_LEN + 1], later[ASYNC_ID_LEN + 1], gone[ASYNC_ID_LEN + 1], hash[96];
    char ids[ASYNC_CB_CLAIM_MAX][ASYNC_ID_LEN + 1];
    async_entry_t e;

    (void)state;
    submit_cb("k", id);
    take_start(&st, c, id, &e, 1);
    assert_int_equal(async_store_finish(&st, c, id, &e, "done", "{}", "", "", false), 1);
    submit_cb("k", later);
    take_start(&st, c, later, &e, 1);
    assert_int_equal(async_store_finish(&st, c, later, &e, "done", "{}", "", "", false), 1);
    /* later is not due yet (as a hand-back after a full delivery queue leaves it). */
    assert_int_equal(async_store_cb_defer(&st, c, later, async_epoch_ms() + 60000), 1);
    assert_int_equal(async_store_cb_claim(&st, c, 300, 10, ids), 1);
    assert_string_equal(ids[0], id);
    /* Leased: nobody else takes it meanwhile. */
    assert_int_equal(async_store_cb_claim(&st2, c2, 300, 10, ids), 0);
    assert_true(due_score(id) > async_epoch_ms());
    /* A renewal holds it longer. */
    assert_int_equal(async_store_cb_defer(&st, c, id, async_epoch_ms() + 600), 1);
    sleep_ms(350);
    assert_int_equal(async_store_cb_claim(&st2, c2, 300, 10, ids), 0);
    /* The claimer died (no renewal): once the lease ends, another one claims it. */
    sleep_ms(400);
    assert_int_equal(async_store_cb_claim(&st2, c2, 60000, 10, ids), 1);
    assert_string_equal(ids[0], id);
    expect_cb(id, "pending", 0);
    /* Done: removed, recorded; a late second outcome changes nothing. */
    assert_int_equal(async_store_cb_done(&st2, c2, id, true, 2), 1);
    assert_int_equal(due_score(id), -1);
    expect_cb(id, "delivered", 2);
    assert_int_equal(async_store_cb_done(&st, c, id, false, 7), 0);
    expect_cb(id, "delivered", 2);
    assert_int_equal(async_store_cb_defer(&st, c, id, 1), 0); /* no renewal brings it back */
    assert_int_equal(due_score(id), -1);
    /* A failed delivery is recorded as failed. */
    assert_int_equal(async_store_cb_defer(&st, c, later, 1), 1);
    assert_int_equal(async_store_cb_claim(&st, c, 60000, 10, ids), 1);
    assert_string_equal(ids[0], later);
    assert_int_equal(async_store_cb_done(&st, c, later, false, 5), 1);
    expect_cb(later, "failed", 5);
    /* The submission expired before its callback went out: the entry is dropped. */
    submit_cb("k", gone);
    take_start(&st, c, gone, &e, 1);
    assert_int_equal(async_store_finish(&st, c, gone, &e, "done", "{}", "", "", false), 1);
    snprintf(hash, sizeof hash, "t:sub:%s", gone);
    assert_int_equal(raw_num("DEL %s", hash), 1);
    assert_int_equal(async_store_cb_claim(&st, c, 60000, 10, ids), 0);
    assert_int_equal(raw_num("ZCARD %s", "t:cb:due"), 0);
    assert_int_equal(async_store_cb_done(&st, c, gone, true, 1), 0);
}

static void test_connect_errors(void **state)
{
    async_store_t bad;
    char err[256];

    (void)state;
    assert_int_equal(async_store_init(&bad, "rediss://h:1", "t", "x", 60, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "TLS"));
    assert_int_equal(
        async_store_init(&bad, "unix:///nonexistent/r.sock", "t", "x", 60, err, sizeof err), 0);
    assert_null(async_store_connect(&bad, 200, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/r.sock"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown_alarm)
    const struct CMUnitTest tests[] = {
        T(test_submit_get),
        T(test_idempotency),
        T(test_batch_pipelined),
        T(test_run_finish_once),
        T(test_cancel),
        T(test_retry_delayed),
        T(test_handback_keeps_attempts),
        T(test_dead_letter_requeue),
        T(test_exhausted),
        T(test_claim_quiet_consumer),
        T(test_fair_rotation),
        T(test_stats),
        T(test_prune_consumers),
        T(test_callback_due_with_final_write),
        T(test_callback_claim_lease_done),
        T(test_connect_errors),
    };
    return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
