/*
 * test_runtime.c - the runtime skeleton both runtimes share (server/runtime.c), driven by a
 * fake runtime: the watcher runs the runtime's pass until runtime_stop(), which joins it before
 * stop_all; announce logs and calls back with the endpoint; free destroys and releases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "runtime.h"

typedef struct {
    runtime_t base; /* first: the skeleton frees this struct through it */
    atomic_int watches;
    atomic_bool in_watch;
    int stop_alls, destroys;
    bool watching_at_stop_all; /* a watch pass ran during stop_all: the join failed */
    int *destroyed;            /* outlives the runtime */
    int fail_start;            /* what start answers */
} fake_rt_t;

static void fake_watch(runtime_t *base)
{
    fake_rt_t *rt = (fake_rt_t *)base;

    atomic_store(&rt->in_watch, true);
    atomic_fetch_add(&rt->watches, 1);
    usleep(1000);
    atomic_store(&rt->in_watch, false);
}

static void fake_stop_all(runtime_t *base)
{
    fake_rt_t *rt = (fake_rt_t *)base;
    int before = atomic_load(&rt->watches);

    rt->stop_alls++;
    usleep(200000); /* a watcher still running would make another pass meanwhile */
    rt->watching_at_stop_all = atomic_load(&rt->in_watch) || atomic_load(&rt->watches) != before;
}

static void fake_destroy(runtime_t *base)
{
    (*((fake_rt_t *)base)->destroyed)++;
}

static int fake_start(runtime_t *base)
{
    return ((fake_rt_t *)base)->fail_start;
}

static void fake_unhealthy(runtime_t *base, const char *id)
{
    (void)base;
    (void)id;
}

static const runtime_ops_t fake_ops = {
    .name = "fake",
    .watch_ms = 50,
    .start = fake_start,
    .report_unhealthy = fake_unhealthy,
    .watch = fake_watch,
    .stop_all = fake_stop_all,
    .destroy = fake_destroy,
};

static config_t cfg;
static runtime_endpoint_t seen;
static int seen_up = -1, calls;

static void on_endpoint(void *arg, const runtime_endpoint_t *ep, bool up)
{
    assert_ptr_equal(arg, &cfg);
    seen = *ep;
    seen_up = up;
    calls++;
}

static fake_rt_t *fake_new(int *destroyed)
{
    fake_rt_t *rt = calloc(1, sizeof *rt);

    assert_non_null(rt);
    runtime_init(&rt->base, &fake_ops, &cfg, on_endpoint, &cfg);
    rt->destroyed = destroyed;
    return rt;
}

static void test_init(void **state)
{
    (void)state;
    int destroyed = 0;
    fake_rt_t *rt = fake_new(&destroyed);

    assert_ptr_equal(rt->base.ops, &fake_ops);
    assert_ptr_equal(rt->base.cfg, &cfg);
    assert_int_equal(rt->base.uids.lock_fd, -1); /* nothing claimed: release is a no-op */
    assert_false(rt->base.watcher_started);
    assert_false(atomic_load(&rt->base.stopping));
    /* never started: stop still stops every executor once, without a watcher to join */
    runtime_stop(&rt->base);
    assert_int_equal(rt->stop_alls, 1);
    assert_int_equal(atomic_load(&rt->watches), 0);
    runtime_free(&rt->base);
    assert_int_equal(destroyed, 1);
    runtime_free(NULL);
}

static void test_watcher_until_stop(void **state)
{
    (void)state;
    int destroyed = 0;
    fake_rt_t *rt = fake_new(&destroyed);

    assert_int_equal(runtime_start(&rt->base), 0);
    assert_true(rt->base.watcher_started);
    for (int i = 0; i < 200 && atomic_load(&rt->watches) < 3; i++)
        usleep(10000);
    assert_true(atomic_load(&rt->watches) >= 3); /* a pass every watch_ms */
    runtime_stop(&rt->base);
    assert_false(rt->base.watcher_started);
    assert_true(atomic_load(&rt->base.stopping));
    assert_int_equal(rt->stop_alls, 1);
    assert_false(rt->watching_at_stop_all); /* the watcher was joined before stop_all */
    runtime_free(&rt->base);
    assert_int_equal(destroyed, 1);
}

/* A start that fails starts no watcher and is cleaned up at once (stop_all); nothing watches. */
static void test_failed_start(void **state)
{
    (void)state;
    int destroyed = 0;
    fake_rt_t *rt = fake_new(&destroyed);

    rt->fail_start = -ENOENT;
    assert_int_equal(runtime_start(&rt->base), -ENOENT);
    assert_false(rt->base.watcher_started);
    assert_int_equal(rt->stop_alls, 1);
    usleep(120000);
    assert_int_equal(atomic_load(&rt->watches), 0);
    runtime_stop(&rt->base);
    assert_int_equal(rt->stop_alls, 2);
    runtime_free(&rt->base);
    assert_int_equal(destroyed, 1);
}

static void test_announce(void **state)
{
    (void)state;
    int destroyed = 0;
    fake_rt_t *rt = fake_new(&destroyed);
    runtime_endpoint_t ep;
    cJSON *extra = cJSON_CreateObject();
    char line[512];
    int fds[2];
    ssize_t n;

    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    log_setup(fds[1], NULL);

    memset(&ep, 0, sizeof ep);
    snprintf(ep.id, sizeof ep.id, "python-0");
    ep.language = "python";
    snprintf(ep.address, sizeof ep.address, "+/run/x.sock");
    snprintf(ep.token, sizeof ep.token, "tok");
    cJSON_AddNumberToObject(extra, "pid", 42);
    calls = 0;
    runtime_announce(&rt->base, &ep, true, extra); /* takes extra */
    assert_int_equal(calls, 1);
    assert_int_equal(seen_up, 1);
    assert_string_equal(seen.id, "python-0");
    assert_string_equal(seen.address, "+/run/x.sock");
    assert_string_equal(seen.token, "tok");
    n = read(fds[0], line, sizeof line - 1);
    line[n > 0 ? n : 0] = '\0';
    assert_non_null(strstr(line, "\"level\":\"info\",\"event\":\"executor_up\",\"executor\":"
                                 "\"python-0\",\"runtime\":\"fake\",\"pid\":42}\n"));
    runtime_announce(&rt->base, &ep, false, NULL);
    assert_int_equal(calls, 2);
    assert_int_equal(seen_up, 0);
    n = read(fds[0], line, sizeof line - 1);
    line[n > 0 ? n : 0] = '\0';
    assert_non_null(strstr(line, "\"level\":\"warn\",\"event\":\"executor_down\",\"executor\":"
                                 "\"python-0\",\"runtime\":\"fake\"}\n"));
    log_setup(STDOUT_FILENO, NULL);
    close(fds[0]);
    close(fds[1]);
    runtime_stop(&rt->base);
    runtime_free(&rt->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_watcher_until_stop),
        cmocka_unit_test(test_failed_start),
        cmocka_unit_test(test_announce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
