/*
 * test_pool.c - the job queue in front of the executor connections: bounded length, wait
 * deadline, failure of everything on shutdown, and retry semantics that do not need executors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_util.h"
#include "job.h"
#include "pool.h"
#include "request.h"

static config_t cfg;

static job_t *make_job(const char *lang)
{
    request_t r;
    request_error_t err;
    char body[128];

    snprintf(body, sizeof body, "{\"language\":\"%s\",\"code\":\"print(1)\"}", lang);
    assert_int_equal(request_parse(body, strlen(body), &r, &err), 0);
    job_t *job = job_new(&r, 1024, CG_DEFAULT_BUDGET_MS);
    assert_non_null(job);
    return job;
}

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    cfg.slots = 2;
    cfg.queue_max = 3;
    cfg.queue_wait_ms = 300;
    cfg.ping_ms = 1000;
    alarm(30);
    return 0;
}

static void test_queue_bounded(void **state)
{
    (void)state;
    pool_t *p = pool_new(&cfg, NULL, NULL);
    job_t *jobs[4];

    assert_non_null(p);
    /* Not started: nothing drains the queue, so the bound is visible. */
    for (int i = 0; i < 3; i++) {
        jobs[i] = make_job("python");
        assert_int_equal(pool_submit(p, jobs[i]), 0);
    }
    assert_int_equal(pool_queue_length(p), 3);
    jobs[3] = make_job("python");
    assert_int_equal(pool_submit(p, jobs[3]), -EAGAIN);
    job_unref(jobs[3]);
    pool_free(p); /* fails the queued jobs with 503 shutting_down */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(jobs[i]->state, JOB_DONE);
        assert_int_equal(jobs[i]->fail_http, 503);
        assert_string_equal(jobs[i]->fail_code, "shutting_down");
        job_unref(jobs[i]);
    }
}

static void test_wait_deadline_without_executors(void **state)
{
    (void)state;
    pool_t *p = pool_new(&cfg, NULL, NULL);
    job_t *job = make_job("javascript");
    int64_t t0;

    assert_int_equal(pool_start(p), 0);
    t0 = cg_now_ms();
    assert_int_equal(pool_submit(p, job), 0);
    assert_true(job_wait(job, cg_now_ms() + 5000));
    /* Failed at the queue deadline, not before, and not much after. */
    assert_true(cg_now_ms() - t0 >= cfg.queue_wait_ms - 5);
    assert_true(cg_now_ms() - t0 < cfg.queue_wait_ms + 1000);
    assert_int_equal(job->fail_http, 503);
    assert_string_equal(job->fail_code, "executor_unavailable");
    assert_int_equal(pool_queue_length(p), 0);
    job_unref(job);
    pool_stop(p);
    pool_free(p);
}

/* A language the runtime does not offer (external runtime, not in --executor-addrs): its jobs
 * fail at once with 400 unsupported_language, not at the queue deadline; /readyz and
 * /api/languages see it as not offered. */
static void test_language_not_offered(void **state)
{
    (void)state;
    cfg.queue_wait_ms = 60000;
    pool_t *p = pool_new(&cfg, NULL, NULL);
    job_t *job = make_job("cpp");
    pool_lang_info_t info;
    int64_t t0;

    pool_language_info(p, "cpp", &info);
    assert_true(info.offered);
    pool_set_offered(p, lang_index("cpp"), false);
    pool_language_info(p, "cpp", &info);
    assert_false(info.offered);
    pool_language_info(p, "python", &info);
    assert_true(info.offered);
    assert_int_equal(pool_start(p), 0);
    t0 = cg_now_ms();
    assert_int_equal(pool_submit(p, job), 0);
    assert_true(job_wait(job, cg_now_ms() + 5000));
    assert_true(cg_now_ms() - t0 < 2000);
    assert_int_equal(job->fail_http, 400);
    assert_string_equal(job->fail_code, "unsupported_language");
    assert_string_equal(job->fail_msg, "this gateway has no executors for cpp");
    job_unref(job);
    pool_stop(p);
    pool_free(p);
}

static void test_fail_all_and_refuse(void **state)
{
    (void)state;
    cfg.queue_wait_ms = 60000;
    pool_t *p = pool_new(&cfg, NULL, NULL);
    job_t *a = make_job("cpp"), *b = make_job("python");

    assert_int_equal(pool_start(p), 0);
    assert_int_equal(pool_submit(p, a), 0);
    pool_fail_all(p, "shutting_down", "bye");
    assert_true(job_wait(a, cg_now_ms() + 5000));
    assert_int_equal(a->fail_http, 503);
    assert_string_equal(a->fail_code, "shutting_down");
    assert_string_equal(a->fail_msg, "bye");
    assert_int_equal(pool_submit(p, b), -ESHUTDOWN);
    job_unref(a);
    job_unref(b);
    pool_stop(p);
    pool_free(p);
}

static void test_cancel_queued_job(void **state)
{
    (void)state;
    cfg.queue_wait_ms = 60000;
    pool_t *p = pool_new(&cfg, NULL, NULL);
    job_t *a = make_job("python");
    int64_t t0;

    assert_int_equal(pool_start(p), 0);
    assert_int_equal(pool_submit(p, a), 0);
    t0 = cg_now_ms();
    pool_cancel(p, a);
    assert_true(job_wait(a, cg_now_ms() + 5000));
    /* Taken out of the queue at once (the queue deadline is 60 s away), never sent anywhere,
     * and failed like any queued job that leaves without an executor: 503 executor_unavailable
     * (no executor is connected here), with no result. */
    assert_true(cg_now_ms() - t0 < 2000);
    assert_int_equal(job_get_state(a), JOB_DONE);
    assert_int_equal(a->fail_http, 503);
    assert_string_equal(a->fail_code, "executor_unavailable");
    assert_string_equal(a->fail_msg, "no executor for this language is available right now");
    assert_int_equal(a->nresults, 0);
    assert_false(a->cancel_sent);
    assert_int_equal(a->attempts, 0);
    assert_int_equal(pool_queue_length(p), 0);
    job_unref(a);
    pool_stop(p);
    pool_free(p);
}

static void test_language_info_empty(void **state)
{
    (void)state;
    pool_t *p = pool_new(&cfg, NULL, NULL);
    pool_lang_info_t info;

    pool_language_info(p, "python", &info);
    assert_int_equal(info.connections, 0);
    assert_int_equal(info.endpoints, 0);
    pool_language_info(p, "cobol", &info);
    assert_int_equal(info.connections, 0);
    pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_queue_bounded, setup),
        cmocka_unit_test_setup(test_wait_deadline_without_executors, setup),
        cmocka_unit_test_setup(test_language_not_offered, setup),
        cmocka_unit_test_setup(test_fail_all_and_refuse, setup),
        cmocka_unit_test_setup(test_cancel_queued_job, setup),
        cmocka_unit_test_setup(test_language_info_empty, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
