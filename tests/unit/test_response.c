/*
 * test_response.c - the JSON contract of POST /api/code/execute answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "job.h"
#include "response.h"

static job_t *make_job(const char *body)
{
    request_t r;
    request_error_t err;

    assert_int_equal(request_parse(body, strlen(body), &r, &err), 0);
    job_t *job = job_new(&r, 1 << 20, CG_DEFAULT_BUDGET_MS);
    assert_non_null(job);
    return job;
}

static void set_run(job_outcome_t *o, cg_status_t st, int code, int sig, const char *out,
                    const char *err, int64_t dur)
{
    cg_outcome_t src;

    memset(&src, 0, sizeof src);
    src.status = st;
    src.exit_code = code;
    src.signal = sig;
    src.out = out;
    src.err = err;
    src.duration_ms = dur;
    src.cpu_ms = dur / 2;
    src.memory_kb = 1000 + dur;
    assert_int_equal(job_outcome_set(o, &src), 0);
}

static cJSON *parse(char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    free(s);
    return j;
}

static const cJSON *get(const cJSON *o, const char *path)
{
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
        o = cJSON_GetObjectItemCaseSensitive(o, t);
    assert_non_null(o);
    return o;
}

static void test_success_shape(void **state)
{
    (void)state;
    job_t *job = make_job("{\"language\":\"py\",\"code\":\"print(1)\"}");
    int http;
    const char *st;

    snprintf(job->lang_version, sizeof job->lang_version, "3.11.2");
    set_run(&job->runs[0], CG_ST_OK, 0, 0, "1\n", "", 12);
    job->nresults = 1;
    cJSON *j = parse(response_job(job, &http, &st));
    assert_int_equal(http, 200);
    assert_string_equal(st, "ok");
    assert_true(cJSON_IsTrue(get(j, "success")));
    assert_string_equal(get(j, "data.language")->valuestring, "python");
    assert_string_equal(get(j, "data.version")->valuestring, "3.11.2");
    assert_string_equal(get(j, "data.output")->valuestring, "1\n");
    assert_string_equal(get(j, "data.stdout")->valuestring, "1\n");
    assert_true(cJSON_IsFalse(get(j, "data.error")));
    assert_int_equal(get(j, "data.executionTime")->valueint, 12);
    assert_int_equal(get(j, "data.exitCode")->valueint, 0);
    assert_true(cJSON_IsNull(get(j, "data.signal")));
    assert_string_equal(get(j, "data.status")->valuestring, "ok");
    assert_true(cJSON_IsFalse(get(j, "data.timedOut")));
    assert_int_equal(get(j, "data.memoryKb")->valueint, 1012);
    assert_null(cJSON_GetObjectItem(get(j, "data"), "compile"));
    assert_null(cJSON_GetObjectItem(get(j, "data"), "tests"));
    assert_true(cJSON_IsFalse(get(j, "data.budgetExceeded")));
    assert_null(cJSON_GetObjectItem(get(j, "data"), "reason"));
    cJSON_Delete(j);
    job_unref(job);
}

/* The run's texts are spliced into the printed answer (response.c splice_texts): quotes,
 * backslashes, control bytes (\x01 too, the byte of the markers) and a big text come back
 * exactly; a failed run's output is stdout then stderr; no marker is left in the answer. */
static void test_texts_spliced(void **state)
{
    (void)state;
    job_t *job = make_job("{\"language\":\"py\",\"code\":\"x\"}");
    size_t big = 300 * 1024;
    char *out = malloc(big + 1);
    const char *err = "Trace\x01\"back\"\\\n";
    int http;

    assert_non_null(out);
    for (size_t i = 0; i < big; i++)
        out[i] = "ab\"\\\x01\n\t\x1f"[i % 8];
    out[big] = '\0';
    set_run(&job->runs[0], CG_ST_RUNTIME_ERROR, 1, 0, out, err, 5);
    char *text = response_job(job, &http, NULL);
    assert_non_null(text);
    assert_null(memchr(text, '\x01', strlen(text)));
    cJSON *j = parse(text);
    assert_int_equal(http, 200);
    assert_string_equal(get(j, "data.stdout")->valuestring, out);
    assert_string_equal(get(j, "data.stderr")->valuestring, err);
    const char *both = get(j, "data.output")->valuestring;
    assert_int_equal(strlen(both), big + strlen(err));
    assert_memory_equal(both, out, big);
    assert_string_equal(both + big, err);
    cJSON_Delete(j);

    /* A run that passed: output is stdout alone (the same text written twice). */
    set_run(&job->runs[0], CG_ST_OK, 0, 0, out, err, 5);
    j = parse(response_job(job, &http, NULL));
    assert_string_equal(get(j, "data.output")->valuestring, out);
    assert_string_equal(get(j, "data.stdout")->valuestring, out);
    assert_string_equal(get(j, "data.stderr")->valuestring, err);
    cJSON_Delete(j);
    free(out);
    job_unref(job);
}

static void test_signal_and_compile(void **state)
{
    (void)state;
    job_t *job = make_job("{\"language\":\"cpp\",\"code\":\"x\"}");
    int http;

    set_run(&job->compile, CG_ST_OK, 0, 0, "", "warning: x", 300);
    set_run(&job->runs[0], CG_ST_RUNTIME_ERROR, -1, 6, "", "", 5);
    cJSON *j = parse(response_job(job, &http, NULL));
    assert_int_equal(http, 200);
    assert_string_equal(get(j, "data.signal")->valuestring, "SIGABRT");
    assert_true(cJSON_IsNull(get(j, "data.exitCode")));
    assert_true(cJSON_IsTrue(get(j, "data.error")));
    assert_string_equal(get(j, "data.compile.stderr")->valuestring, "warning: x");
    assert_int_equal(get(j, "data.compile.durationMs")->valueint, 300);
    assert_true(cJSON_IsFalse(get(j, "data.compile.cached")));
    cJSON_Delete(j);
    job_unref(job);
}

static void test_compile_error(void **state)
{
    (void)state;
    job_t *job = make_job("{\"language\":\"cpp\",\"code\":\"x\",\"tests\":[{\"input\":\"1\"}]}");
    int http;
    const char *st;

    set_run(&job->compile, CG_ST_COMPILE_ERROR, 1, 0, "", "main.cpp:1: error", 200);
    cJSON *j = parse(response_job(job, &http, &st));
    assert_int_equal(http, 200);
    assert_string_equal(st, "compile_error");
    assert_string_equal(get(j, "data.status")->valuestring, "compile_error");
    assert_string_equal(get(j, "data.stderr")->valuestring, "main.cpp:1: error");
    assert_true(cJSON_IsNull(get(j, "data.exitCode")));
    const cJSON *t0 = cJSON_GetArrayItem(get(j, "data.tests"), 0);
    assert_string_equal(cJSON_GetObjectItem(t0, "status")->valuestring, "compile_error");
    assert_int_equal(get(j, "data.failed")->valueint, 1);
    cJSON_Delete(j);
    job_unref(job);
}

static void test_tests_first_failure_is_primary(void **state)
{
    (void)state;
    job_t *job = make_job("{\"language\":\"python\",\"code\":\"x\",\"mode\":\"submit\",\"tests\":"
                          "[{\"input\":\"a\",\"expectedOutput\":\"1\"},{\"input\":\"b\","
                          "\"expectedOutput\":\"2\"},{\"input\":\"c\"}]}");
    int http;

    set_run(&job->runs[0], CG_ST_OK, 0, 0, "1\n", "", 10);
    job->runs[0].passed = true;
    set_run(&job->runs[1], CG_ST_WRONG_ANSWER, 0, 0, "3\n", "", 20);
    job->nresults = 2;
    cJSON *j = parse(response_job(job, &http, NULL));
    assert_string_equal(get(j, "data.status")->valuestring, "wrong_answer");
    assert_string_equal(get(j, "data.stdout")->valuestring, "3\n");
    assert_int_equal(get(j, "data.durationMs")->valueint, 30);
    assert_int_equal(get(j, "data.passed")->valueint, 1);
    assert_int_equal(get(j, "data.failed")->valueint, 1);
    assert_int_equal(get(j, "data.skipped")->valueint, 1);
    const cJSON *t2 = cJSON_GetArrayItem(get(j, "data.tests"), 2);
    assert_string_equal(cJSON_GetObjectItem(t2, "status")->valuestring, "skipped");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(t2, "expectedOutput")));
    const cJSON *t1 = cJSON_GetArrayItem(get(j, "data.tests"), 1);
    assert_string_equal(cJSON_GetObjectItem(t1, "expectedOutput")->valuestring, "2");
    cJSON_Delete(j);
    job_unref(job);
}

static void test_failures(void **state)
{
    (void)state;
    job_t *job = make_job("{\"language\":\"python\",\"code\":\"x\"}");
    int http;
    const char *st;

    job_fail(job, 503, "executor_unavailable", "gone");
    cJSON *j = parse(response_job(job, &http, &st));
    assert_int_equal(http, 503);
    assert_true(cJSON_IsFalse(get(j, "success")));
    assert_string_equal(get(j, "error.code")->valuestring, "executor_unavailable");
    assert_string_equal(get(j, "error.message")->valuestring, "gone");
    cJSON_Delete(j);
    job_unref(job);

    job = make_job("{\"language\":\"python\",\"code\":\"x\"}");
    set_run(&job->runs[0], CG_ST_INTERNAL_ERROR, -1, 0, "", "exec: No such file", 0);
    j = parse(response_job(job, &http, &st));
    assert_int_equal(http, 500);
    assert_string_equal(get(j, "error.code")->valuestring, "internal_error");
    assert_non_null(strstr(get(j, "error.message")->valuestring, "No such file"));
    cJSON_Delete(j);
    job_unref(job);

    job = make_job("{\"language\":\"python\",\"code\":\"x\"}");
    j = parse(response_job(job, &http, &st)); /* no result at all */
    assert_int_equal(http, 500);
    cJSON_Delete(j);
    job_unref(job);
}

/* The budget ended the job: the cases not run are skipped, the answer says why, and every
 * other field keeps its meaning (the top level describes the runs that did run). */
static void test_budget_exceeded(void **state)
{
    (void)state;
    job_t *job = make_job("{\"language\":\"python\",\"code\":\"x\",\"tests\":"
                          "[{\"input\":\"a\"},{\"input\":\"b\"},{\"input\":\"c\"},{}]}");
    int http;
    const char *st;

    job->budget_ms = 6000;
    set_run(&job->runs[0], CG_ST_TIMEOUT, -1, 9, "", "", 4000);
    set_run(&job->runs[1], CG_ST_TIMEOUT, -1, 9, "", "", 1900);
    job->budget_exceeded = true;
    cJSON *j = parse(response_job(job, &http, &st));
    assert_int_equal(http, 200);
    assert_string_equal(st, "timeout");
    assert_true(cJSON_IsTrue(get(j, "data.budgetExceeded")));
    assert_string_equal(get(j, "data.reason")->valuestring,
                        "the job's time budget of 6000 ms was spent: 2 of 4 test cases were not "
                        "run (status skipped)");
    assert_int_equal(get(j, "data.failed")->valueint, 2);
    assert_int_equal(get(j, "data.skipped")->valueint, 2);
    for (int i = 2; i < 4; i++) {
        const cJSON *t = cJSON_GetArrayItem(get(j, "data.tests"), i);
        assert_string_equal(cJSON_GetObjectItem(t, "status")->valuestring, "skipped");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "passed")));
    }
    cJSON_Delete(j);
    job_unref(job);

    /* The budget went in compiling: nothing ran. A 200 that says so, not a 500. */
    job = make_job("{\"language\":\"cpp\",\"code\":\"x\",\"tests\":[{},{}]}");
    job->budget_ms = 1000;
    set_run(&job->compile, CG_ST_OK, 0, 0, "", "", 1500);
    job->budget_exceeded = true;
    j = parse(response_job(job, &http, &st));
    assert_int_equal(http, 200);
    assert_string_equal(st, "skipped");
    assert_string_equal(get(j, "data.status")->valuestring, "skipped");
    assert_true(cJSON_IsTrue(get(j, "data.error")));
    assert_string_equal(get(j, "data.reason")->valuestring,
                        "the job's time budget of 1000 ms was spent before the program ran");
    assert_int_equal(get(j, "data.skipped")->valueint, 2);
    cJSON_Delete(j);
    job_unref(job);

    /* Every case ran, the last one was cut short. */
    job = make_job("{\"language\":\"python\",\"code\":\"x\"}");
    job->budget_ms = 2000;
    set_run(&job->runs[0], CG_ST_TIMEOUT, -1, 9, "", "", 2000);
    job->budget_exceeded = true;
    j = parse(response_job(job, &http, &st));
    assert_string_equal(st, "timeout");
    assert_non_null(strstr(get(j, "data.reason")->valuestring, "ran out during the last run"));
    cJSON_Delete(j);
    job_unref(job);
}

static void test_error_with_details(void **state)
{
    (void)state;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "field", "code");
    cJSON *j = parse(response_error("invalid_request", "code is missing", d));
    assert_string_equal(get(j, "error.details.field")->valuestring, "code");
    cJSON_Delete(j);
}

/* Output with characters JSON must escape: "output" joins stdout and stderr of a failed run
 * (escaped once each, joined), "stdout" and "output" share one text when the run is ok. */
static void test_output_escaping(void **state)
{
    (void)state;
    job_t *job = make_job("{\"language\":\"py\",\"code\":\"x\"}");
    int http;
    const char out[] = "a\"b\\c\n\x01\x1f\t\xc3\xa9", err[] = "Trace\"back\r\n\x7f";
    char both[64];

    snprintf(both, sizeof both, "%s%s", out, err);
    set_run(&job->runs[0], CG_ST_RUNTIME_ERROR, 1, 0, out, err, 3);
    cJSON *j = parse(response_job(job, &http, NULL));
    assert_int_equal(http, 200);
    assert_string_equal(get(j, "data.stdout")->valuestring, out);
    assert_string_equal(get(j, "data.stderr")->valuestring, err);
    assert_string_equal(get(j, "data.output")->valuestring, both);
    cJSON_Delete(j);
    job_unref(job);

    job = make_job("{\"language\":\"py\",\"code\":\"x\"}");
    set_run(&job->runs[0], CG_ST_OK, 0, 0, out, err, 3);
    j = parse(response_job(job, &http, NULL));
    assert_string_equal(get(j, "data.stdout")->valuestring, out);
    assert_string_equal(get(j, "data.output")->valuestring, out);
    assert_string_equal(get(j, "data.stderr")->valuestring, err);
    cJSON_Delete(j);
    job_unref(job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_shape),
        cmocka_unit_test(test_texts_spliced),
        cmocka_unit_test(test_output_escaping),
        cmocka_unit_test(test_signal_and_compile),
        cmocka_unit_test(test_compile_error),
        cmocka_unit_test(test_tests_first_failure_is_primary),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_budget_exceeded),
        cmocka_unit_test(test_error_with_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
