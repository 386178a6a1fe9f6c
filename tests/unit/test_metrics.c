/*
 * test_metrics.c - the Prometheus text: well-formed lines, counters and histograms that move.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(void)
{
    metrics_gauges_t g = {.queue_depth = 3,
                          .sessions_open = 2,
                          .connections = {4, 4, 4},
                          .endpoints = {1, 1, 1},
                          .busy = {1, 0, 2}};
    char *s = metrics_render(&g);
    assert_non_null(s);
    return s;
}

/* Every non-comment line is `name{labels} value` or `name value` with a numeric value. */
static void check_format(const char *text)
{
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            assert_true(!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7));
            continue;
        }
        char *sp = strrchr(line, ' ');
        assert_non_null(sp);
        char *end;
        strtod(sp + 1, &end);
        assert_true(*end == '\0');
        for (char *c = line; c < sp && *c != '{'; c++)
            assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
    }
    free(copy);
}

static void test_counters_move(void **state)
{
    (void)state;
    metrics_reset();
    metrics_request(0, "ok");
    metrics_request(0, "ok");
    metrics_request(2, "compile_error");
    metrics_request(-1, "invalid_json");
    metrics_observe(METRIC_H_TOTAL, 0, 12);
    metrics_observe(METRIC_H_TOTAL, 0, 700);
    metrics_observe(METRIC_H_COMPILE, 2, 300);
    metrics_compile_cache(2, true);
    metrics_compile_cache(2, true);
    metrics_compile_cache(2, false);
    metrics_compile_cache(7, true); /* no such language: ignored */
    metrics_executor_restart();
    char *s = render();
    check_format(s);
    assert_non_null(strstr(s, "codegate_requests_total{language=\"python\",status=\"ok\"} 2\n"));
    assert_non_null(
        strstr(s, "codegate_requests_total{language=\"cpp\",status=\"compile_error\"} 1\n"));
    assert_non_null(
        strstr(s, "codegate_requests_total{language=\"none\",status=\"invalid_json\"} 1\n"));
    assert_non_null(strstr(s, "codegate_request_duration_seconds_count{language=\"python\"} 2\n"));
    assert_non_null(strstr(
        s, "codegate_request_duration_seconds_bucket{language=\"python\",le=\"0.025\"} 1\n"));
    assert_non_null(
        strstr(s, "codegate_request_duration_seconds_bucket{language=\"python\",le=\"1\"} 2\n"));
    assert_non_null(
        strstr(s, "codegate_request_duration_seconds_bucket{language=\"python\",le=\"+Inf\"} 2\n"));
    assert_non_null(
        strstr(s, "codegate_request_duration_seconds_sum{language=\"python\"} 0.712\n"));
    assert_non_null(strstr(s, "codegate_compile_duration_seconds_count{language=\"cpp\"} 1\n"));
    assert_non_null(strstr(s, "codegate_executor_restarts_total 1\n"));
    assert_non_null(strstr(s, "codegate_compile_cache_total{language=\"cpp\",result=\"hit\"} 2\n"));
    assert_non_null(
        strstr(s, "codegate_compile_cache_total{language=\"cpp\",result=\"miss\"} 1\n"));
    assert_null(strstr(s, "codegate_compile_cache_total{language=\"python\""));
    assert_non_null(strstr(s, "codegate_queue_depth 3\n"));
    assert_non_null(strstr(s, "codegate_sessions_open 2\n"));
    assert_non_null(
        strstr(s, "codegate_executor_connections{language=\"cpp\",state=\"busy\"} 2\n"));
    assert_non_null(
        strstr(s, "codegate_executor_connections{language=\"python\",state=\"idle\"} 3\n"));
    free(s);
}

static void test_bad_input_ignored(void **state)
{
    (void)state;
    metrics_reset();
    metrics_request(7, "ok");
    metrics_request(0, NULL);
    metrics_observe(METRIC_H__COUNT, 0, 5);
    metrics_observe(METRIC_H_RUN, 0, -5);
    char *s = render();
    check_format(s);
    assert_null(strstr(s, "codegate_requests_total{"));
    assert_non_null(strstr(s, "codegate_run_duration_seconds_count{language=\"python\"} 0\n"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_move),
        cmocka_unit_test(test_bad_input_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
