/*
 * test_apikeys.c - the keys file, authentication, the per-minute token bucket, the
 * concurrency quota, reloads that keep counters, and the metrics text (names, never keys).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "apikeys.h"

#define KEY_A "aaaaaaaaaaaaaaaa-key-of-a"
#define KEY_B "bbbbbbbbbbbbbbbb-key-of-b"

static int64_t fake_now;
static int64_t now_ms(void)
{
    return fake_now;
}
static char path[64];

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/test_apikeys_%d", (int)getpid());
    fake_now = 1000000;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static apikeys_t *load(const char *text)
{
    char err[256];
    apikeys_t *ks;

    write_file(text);
    ks = apikeys_new(path, err, sizeof err);
    if (!ks)
        fail_msg("load: %s", err);
    apikeys_set_clock(ks, now_ms);
    return ks;
}

static void test_disabled_is_anonymous(void **state)
{
    (void)state;
    char err[64];
    apikeys_t *ks = apikeys_new("", err, sizeof err);
    const apikey_t *k;
    apikey_quota_t q;

    assert_non_null(ks);
    assert_false(apikeys_enabled(ks));
    k = apikeys_authenticate(ks, NULL);
    assert_non_null(k);
    assert_string_equal(apikey_name(k), "anonymous");
    assert_ptr_equal(apikeys_authenticate(ks, "whatever"), k);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(apikeys_take_request(ks, k, &q), 0);
    assert_int_equal(apikeys_acquire(ks, k, &q), 0);
    apikeys_release(ks, k);
    apikeys_free(ks);
}

static void test_authenticate(void **state)
{
    (void)state;
    apikeys_t *ks = load("# comment\n\n teacher " KEY_A " rpm=10\ngrader\t" KEY_B "\n");

    assert_true(apikeys_enabled(ks));
    assert_string_equal(apikey_name(apikeys_authenticate(ks, KEY_A)), "teacher");
    assert_string_equal(apikey_name(apikeys_authenticate(ks, KEY_B)), "grader");
    assert_null(apikeys_authenticate(ks, NULL));
    assert_null(apikeys_authenticate(ks, ""));
    assert_null(apikeys_authenticate(ks, KEY_A "x"));
    assert_null(apikeys_authenticate(ks, "aaaaaaaaaaaaaaaa"));
    assert_null(apikeys_authenticate(ks, "teacher"));
    apikeys_free(ks);
}

static void test_bearer(void **state)
{
    (void)state;
    assert_string_equal(apikeys_bearer("Bearer abc"), "abc");
    assert_string_equal(apikeys_bearer("bearer   abc"), "abc");
    assert_null(apikeys_bearer("Basic abc"));
    assert_null(apikeys_bearer("Bearer"));
    assert_null(apikeys_bearer("Bearer "));
    assert_null(apikeys_bearer("Bearerabc"));
    assert_null(apikeys_bearer(NULL));
}

static void test_bad_files(void **state)
{
    (void)state;
    const char *bad[] = {
        "",                           /* no keys */
        "onlyname\n",                 /* no key */
        "a short\n",                  /* key too short */
        "bad/name " KEY_A "\n",       /* name characters */
        "a " KEY_A " rpm=x\n",        /* limit syntax */
        "a " KEY_A " burst=3\n",      /* unknown limit */
        "a " KEY_A " admin=2\n",      /* admin is 0 or 1 */
        "a " KEY_A " admin\n",        /* admin needs its value */
        "a " KEY_A "\nb " KEY_A "\n", /* duplicate key */
        "a " KEY_A "\na " KEY_B "\n", /* duplicate name */
    };
    char err[256];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(bad[i]);
        apikeys_t *ks = apikeys_new(path, err, sizeof err);
        if (ks)
            fail_msg("file %zu accepted", i);
        assert_non_null(strstr(err, path));
    }
    assert_null(apikeys_new("/nonexistent/keys", err, sizeof err));
}

static void test_token_bucket(void **state)
{
    (void)state;
    apikeys_t *ks = load("t " KEY_A " rpm=3\n");
    const apikey_t *k = apikeys_authenticate(ks, KEY_A);
    apikey_quota_t q;

    for (int i = 0; i < 3; i++) {
        assert_int_equal(apikeys_take_request(ks, k, &q), 0);
        assert_int_equal(q.limit, 3);
        assert_int_equal(q.remaining, 2 - i);
    }
    assert_int_equal(apikeys_take_request(ks, k, &q), -1);
    assert_int_equal(q.remaining, 0);
    assert_int_equal(q.retry_after, 20); /* one token per 20 s at 3 per minute */
    assert_int_equal(q.reset_s, 60);
    fake_now += 19000;
    assert_int_equal(apikeys_take_request(ks, k, &q), -1);
    assert_int_equal(q.retry_after, 1);
    fake_now += 1000;
    assert_int_equal(apikeys_take_request(ks, k, &q), 0);
    /* A long pause refills to the burst, not beyond. */
    fake_now += 3600 * 1000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(apikeys_take_request(ks, k, NULL), 0);
    assert_int_equal(apikeys_take_request(ks, k, NULL), -1);
    apikeys_free(ks);
}

static void test_concurrency(void **state)
{
    (void)state;
    apikeys_t *ks = load("t " KEY_A " concurrent=2\nu " KEY_B "\n");
    const apikey_t *k = apikeys_authenticate(ks, KEY_A), *u = apikeys_authenticate(ks, KEY_B);
    apikey_quota_t q;

    assert_int_equal(apikeys_acquire(ks, k, &q), 0);
    assert_int_equal(apikeys_acquire(ks, k, &q), 0);
    assert_int_equal(apikeys_acquire(ks, k, &q), -1);
    assert_true(q.retry_after >= 1);
    for (int i = 0; i < 50; i++) /* no limit on u, and k's limit is k's own */
        assert_int_equal(apikeys_acquire(ks, u, &q), 0);
    apikeys_release(ks, k);
    assert_int_equal(apikeys_acquire(ks, k, &q), 0);
    apikeys_free(ks);
}

static void test_reload(void **state)
{
    (void)state;
    char err[256];
    apikeys_t *ks = load("t " KEY_A " rpm=2\n");
    const apikey_t *k = apikeys_authenticate(ks, KEY_A);

    assert_int_equal(apikeys_take_request(ks, k, NULL), 0);
    assert_int_equal(apikeys_take_request(ks, k, NULL), 0);
    /* Same name, new key: the entry (and its empty bucket) is kept. */
    write_file("t " KEY_B " rpm=2\n");
    assert_int_equal(apikeys_reload(ks, err, sizeof err), 0);
    assert_null(apikeys_authenticate(ks, KEY_A));
    assert_ptr_equal(apikeys_authenticate(ks, KEY_B), k);
    assert_int_equal(apikeys_take_request(ks, k, NULL), -1);
    /* A bad file keeps the previous keys. */
    write_file("t\n");
    assert_int_equal(apikeys_reload(ks, err, sizeof err), -1);
    assert_ptr_equal(apikeys_authenticate(ks, KEY_B), k);
    /* A name that left the file is refused; its pointer stays valid. */
    write_file("other " KEY_A "\n");
    assert_int_equal(apikeys_reload(ks, err, sizeof err), 0);
    assert_null(apikeys_authenticate(ks, KEY_B));
    assert_string_equal(apikey_name(k), "t");
    assert_string_equal(apikey_name(apikeys_authenticate(ks, KEY_A)), "other");
    apikeys_free(ks);
}

/* admin=1 opens the admin endpoints (async dead letters); the anonymous entry never has it;
 * a reload that drops the attribute or the key takes it away. */
static void test_admin(void **state)
{
    (void)state;
    char err[256];
    apikeys_t *ks = load("ops " KEY_A " admin=1\nuser " KEY_B " rpm=5 admin=0\n");
    const apikey_t *ops = apikeys_authenticate(ks, KEY_A), *user = apikeys_authenticate(ks, KEY_B);
    apikeys_t *open_ks = apikeys_new("", err, sizeof err);

    assert_true(apikeys_is_admin(ks, ops));
    assert_false(apikeys_is_admin(ks, user));
    /* Found by name (an async submission runs under the key that made it). */
    assert_ptr_equal(apikeys_find(ks, "ops"), ops);
    assert_ptr_equal(apikeys_find(ks, "user"), user);
    assert_null(apikeys_find(ks, "nobody"));
    assert_null(apikeys_find(ks, NULL));
    assert_string_equal(apikey_name(apikeys_find(open_ks, "whoever")), "anonymous");
    assert_false(apikeys_is_admin(open_ks, apikeys_authenticate(open_ks, NULL)));
    write_file("ops " KEY_A "\n");
    assert_int_equal(apikeys_reload(ks, err, sizeof err), 0);
    assert_false(apikeys_is_admin(ks, ops));
    write_file("ops " KEY_A " admin=1\n");
    assert_int_equal(apikeys_reload(ks, err, sizeof err), 0);
    assert_true(apikeys_is_admin(ks, ops));
    write_file("other " KEY_B " admin=1\n");
    assert_int_equal(apikeys_reload(ks, err, sizeof err), 0);
    assert_false(apikeys_is_admin(ks, ops)); /* removed from the file */
    assert_null(apikeys_find(ks, "ops"));
    apikeys_free(open_ks);
    apikeys_free(ks);
}

static void test_metrics_names_not_keys(void **state)
{
    (void)state;
    apikeys_t *ks = load("teacher " KEY_A " rpm=1\n");
    const apikey_t *k = apikeys_authenticate(ks, KEY_A);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    apikeys_take_request(ks, k, NULL);
    apikeys_take_request(ks, k, NULL);
    apikeys_count_refused(ks);
    apikeys_render_metrics(ks, f);
    fclose(f);
    assert_non_null(
        strstr(text, "codegate_apikey_requests_total{key=\"teacher\",result=\"ok\"} 1"));
    assert_non_null(
        strstr(text, "codegate_apikey_requests_total{key=\"teacher\",result=\"rate_limited\"} 1"));
    assert_non_null(strstr(text, "codegate_auth_refused_total 1"));
    assert_null(strstr(text, "aaaaaaaa"));
    free(text);
    apikeys_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disabled_is_anonymous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authenticate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bearer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_names_not_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
