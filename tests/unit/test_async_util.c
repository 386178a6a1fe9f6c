/*
 * test_async_util.c - the pure parts of the asynchronous submissions: the Redis URL, ids and
 * idempotency keys, fairness keys, the retry backoff (range, growth, cap, jitter), the fairness
 * rotation (a big backlog does not starve the others), which failures are retried, times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "async_util.h"

static void test_url_unix(void **state)
{
    async_url_t u;

    (void)state;
    assert_null(async_url_parse("unix:///tmp/r/redis.sock", &u));
    assert_true(u.unix_socket);
    assert_string_equal(u.path, "/tmp/r/redis.sock");
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");
    assert_null(async_url_parse("unix:///run/r.sock?db=3&password=s3cret", &u));
    assert_string_equal(u.path, "/run/r.sock");
    assert_int_equal(u.db, 3);
    assert_string_equal(u.password, "s3cret");
    assert_non_null(async_url_parse("unix://relative.sock", &u));
    assert_non_null(async_url_parse("unix:///r.sock?db=x", &u));
    assert_non_null(async_url_parse("unix:///r.sock?user=a", &u));
}

static void test_url_tcp(void **state)
{
    async_url_t u;

    (void)state;
    assert_null(async_url_parse("redis://127.0.0.1", &u));
    assert_false(u.unix_socket);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_null(async_url_parse("redis://:pw@cache.internal:6380/2", &u));
    assert_string_equal(u.host, "cache.internal");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_string_equal(u.password, "pw");
    assert_null(async_url_parse("redis://default:p:w@h:1/", &u)); /* user:password; ':' in it */
    assert_string_equal(u.password, "p:w");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.db, 0);
    assert_non_null(async_url_parse("redis://h:0", &u));
    assert_non_null(async_url_parse("redis://h:65536", &u));
    assert_non_null(async_url_parse("redis://h:x", &u));
    assert_non_null(async_url_parse("redis://", &u));
    assert_non_null(async_url_parse("redis://h/db", &u));
    assert_non_null(async_url_parse("redis://pw@h", &u)); /* credentials need ':' */
    assert_non_null(async_url_parse("redis://h o", &u));
}

static void test_url_refused(void **state)
{
    async_url_t u;
    const char *why;

    (void)state;
    why = async_url_parse("rediss://h:6379", &u);
    assert_non_null(why);
    assert_non_null(strstr(why, "TLS"));
    assert_non_null(async_url_parse("http://h", &u));
    assert_non_null(async_url_parse("", &u));
    assert_null(async_url_check("redis://h"));
    assert_non_null(async_url_check("h:6379"));
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(async_id_ok("0123456789abcdef0123456789abcdef"));
    assert_false(async_id_ok("0123456789abcdef0123456789abcde"));   /* 31 */
    assert_false(async_id_ok("0123456789abcdef0123456789abcdef0")); /* 33 */
    assert_false(async_id_ok("0123456789ABCDEF0123456789abcdef"));  /* upper case */
    assert_false(async_id_ok("0123456789abcdef0123456789abcde/"));
    assert_false(async_id_ok(""));
    assert_false(async_id_ok(NULL));
}

static void test_idem_keys(void **state)
{
    char big[ASYNC_IDEM_MAX + 2];

    (void)state;
    assert_true(async_idem_ok("3f2c1a9e-7b9d-4b1e-9a49-3d1f5f0a2b7c"));
    assert_true(async_idem_ok("grade:hw3.student_42"));
    assert_false(async_idem_ok(""));
    assert_false(async_idem_ok(NULL));
    assert_false(async_idem_ok("a b"));
    assert_false(async_idem_ok("a/b"));
    assert_false(async_idem_ok("caf\xc3\xa9"));
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(async_idem_ok(big)); /* 201 */
    big[ASYNC_IDEM_MAX] = '\0';
    assert_true(async_idem_ok(big)); /* 200 */
}

static void test_fairness_keys(void **state)
{
    char out[ASYNC_FKEY_MAX + 1], big[300];

    (void)state;
    async_fkey("teacher-a", out);
    assert_string_equal(out, "teacher-a");
    async_fkey("::ffff:10.0.0.1", out);
    assert_string_equal(out, "::ffff:10.0.0.1");
    async_fkey("a b/c{d}", out);
    assert_string_equal(out, "a_b_c_d_");
    async_fkey("", out);
    assert_string_equal(out, "-");
    async_fkey(NULL, out);
    assert_string_equal(out, "-");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    async_fkey(big, out);
    assert_int_equal(strlen(out), ASYNC_FKEY_MAX);
}

static void test_backoff(void **state)
{
    (void)state;
    /* Attempt n: base * 2^(n-1), capped, then between half and all of it. */
    for (uint32_t r = 0; r < 2000; r += 7) {
        for (int n = 1; n <= 12; n++) {
            int64_t full = 1000LL << (n - 1);
            if (full > 30000)
                full = 30000;
            int64_t d = async_backoff_ms(n, 1000, 30000, r * 2654435761u);
            assert_true(d >= full / 2);
            assert_true(d <= full);
        }
    }
    /* The extremes of the jitter are reached. */
    assert_int_equal(async_backoff_ms(1, 1000, 30000, 0), 500);
    assert_int_equal(async_backoff_ms(1, 1000, 30000, 500), 1000);
    assert_int_equal(async_backoff_ms(3, 1000, 30000, 0), 2000);
    /* A huge attempt number neither overflows nor passes the cap. */
    assert_true(async_backoff_ms(1000, 1000, 60000, 123456) <= 60000);
    assert_true(async_backoff_ms(1000, 1000, 60000, 0) >= 30000);
    /* Jitter spreads the retries: not all the same. */
    int64_t first = async_backoff_ms(4, 1000, 60000, 1), differ = 0;
    for (uint32_t r = 2; r < 50; r++)
        differ += async_backoff_ms(4, 1000, 60000, r * 7919u) != first;
    assert_true(differ > 40);
}

static void test_fair_order(void **state)
{
    const char *keys[] = {"alice", "bob", "carol"};
    int order[3];

    (void)state;
    async_fair_order(keys, 3, "", order);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    async_fair_order(keys, 3, "alice", order);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[2], 0);
    async_fair_order(keys, 3, "carol", order); /* wraps */
    assert_int_equal(order[0], 0);
    async_fair_order(keys, 3, "bobby", order); /* a key that left: the next one by name */
    assert_int_equal(order[0], 2);
    async_fair_order(keys, 3, "zed", order);
    assert_int_equal(order[0], 0);
}

/* A simulation of the rule: client A queues 100, B and C queue 3 each; serving by the rotation
 * (take from the first key in the order that still has work) serves B and C within the first
 * 7 runs instead of after A's 100. */
static void test_fairness_simulation(void **state)
{
    const char *keys[] = {"a", "b", "c"};
    int left[3] = {100, 3, 3}, order[3], served_bc = 0, run;
    char last[ASYNC_FKEY_MAX + 1] = "";

    (void)state;
    for (run = 1; run <= 106; run++) {
        async_fair_order(keys, 3, last, order);
        int k = -1;
        for (int i = 0; i < 3 && k < 0; i++)
            if (left[order[i]] > 0)
                k = order[i];
        assert_true(k >= 0);
        left[k]--;
        snprintf(last, sizeof last, "%s", keys[k]);
        if (k > 0 && ++served_bc == 6)
            break;
    }
    assert_int_equal(served_bc, 6);
    assert_true(run <= 9);
    assert_int_equal(left[0], 100 - (run - 6));
}

static void test_classification(void **state)
{
    (void)state;
    assert_true(async_retryable(500));  /* sandbox internal_error */
    assert_true(async_retryable(503));  /* overloaded, executor_unavailable */
    assert_false(async_retryable(200)); /* any program result: wrong answer, timeout, crash */
    assert_false(async_retryable(400));
    assert_false(async_retryable(413));
    assert_true(async_handback("shutting_down"));
    assert_false(async_handback("executor_unavailable"));
    assert_false(async_handback(NULL));
    assert_true(async_status_final("done"));
    assert_true(async_status_final("failed"));
    assert_true(async_status_final("cancelled"));
    assert_false(async_status_final("queued"));
    assert_false(async_status_final("running"));
    assert_false(async_status_final(NULL));
}

static void test_iso_time(void **state)
{
    char buf[40];

    (void)state;
    async_iso_time(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    async_iso_time(1795774860123LL, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-27T10:21:00.123Z");
    assert_true(async_epoch_ms() > 1700000000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_unix),
        cmocka_unit_test(test_url_tcp),
        cmocka_unit_test(test_url_refused),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_idem_keys),
        cmocka_unit_test(test_fairness_keys),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_fair_order),
        cmocka_unit_test(test_fairness_simulation),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_iso_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
