/*
 * test_log.c - the shared JSON-lines logger (common/log.c): the order and shape of a line with
 * and without "src", events and messages, the level filter, and level names.
 */
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

static int pipe_fd[2];

/* Everything logged since the last call (the pipe is non-blocking: nothing written, ""). */
static char *drain(void)
{
    static char buf[8192];
    ssize_t n = read(pipe_fd[0], buf, sizeof buf - 1);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int setup(void **state)
{
    (void)state;
    if (pipe2(pipe_fd, O_NONBLOCK) != 0)
        return -1;
    log_setup(pipe_fd[1], NULL);
    log_set_level(LOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_setup(STDOUT_FILENO, NULL);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
    return 0;
}

/* "ts" is RFC 3339 UTC with milliseconds: {"ts":"2026-11-27T08:07:45.123Z",... */
static void assert_ts(const char *line)
{
    assert_int_equal(strncmp(line, "{\"ts\":\"", 7), 0);
    assert_int_equal(line[7 + 4], '-');
    assert_int_equal(line[7 + 10], 'T');
    assert_int_equal(line[7 + 19], '.');
    assert_int_equal(line[7 + 23], 'Z');
    assert_int_equal(line[7 + 24], '"');
}

static void test_gateway_lines(void **state)
{
    (void)state;
    char *out;
    cJSON *f = cJSON_CreateObject();

    cJSON_AddStringToObject(f, "id", "j1");
    cJSON_AddNumberToObject(f, "http", 200);
    log_event(LOG_INFO, "request", f);
    out = drain();
    assert_ts(out);
    assert_non_null(strstr(out, "Z\",\"level\":\"info\",\"event\":\"request\",\"id\":\"j1\","
                                "\"http\":200}\n"));
    assert_null(strstr(out, "\"src\""));

    log_msg(LOG_WARN, "slot %d: %s", 3, "down \"x\"");
    out = drain();
    assert_ts(out);
    assert_non_null(strstr(out, "Z\",\"level\":\"warn\",\"msg\":\"slot 3: down \\\"x\\\"\"}\n"));

    log_event(LOG_ERROR, "bare", NULL); /* an event without fields */
    out = drain();
    assert_non_null(strstr(out, "\"level\":\"error\",\"event\":\"bare\"}\n"));
}

static void test_executor_lines(void **state)
{
    (void)state;
    char *out;
    cJSON *f = cJSON_CreateObject();

    log_setup(pipe_fd[1], "executor");
    cJSON_AddStringToObject(f, "peer", "unix");
    log_event(LOG_INFO, "conn_accept", f);
    out = drain();
    assert_ts(out);
    assert_non_null(strstr(out, "Z\",\"level\":\"info\",\"src\":\"executor\",\"event\":"
                                "\"conn_accept\",\"peer\":\"unix\"}\n"));
    log_msg(LOG_ERROR, "cannot listen on %s", "tcp:x");
    out = drain();
    assert_non_null(strstr(out, "\"level\":\"error\",\"src\":\"executor\",\"msg\":"
                                "\"cannot listen on tcp:x\"}\n"));
    log_setup(pipe_fd[1], NULL);
}

static void test_levels(void **state)
{
    (void)state;
    log_level_t l = LOG_ERROR;

    log_msg(LOG_DEBUG, "hidden");
    log_event(LOG_DEBUG, "job_start", cJSON_CreateObject()); /* dropped and freed */
    assert_string_equal(drain(), "");
    assert_false(log_enabled(LOG_DEBUG));
    assert_true(log_enabled(LOG_INFO));

    log_set_level(LOG_DEBUG);
    log_msg(LOG_DEBUG, "shown");
    assert_non_null(strstr(drain(), "\"level\":\"debug\",\"msg\":\"shown\""));
    log_set_level(LOG_ERROR);
    log_msg(LOG_WARN, "hidden");
    assert_string_equal(drain(), "");
    log_set_level(LOG_INFO);

    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_level_parse("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("error", &l), 0);
    assert_int_equal(l, LOG_ERROR);
    assert_int_equal(log_level_parse("warning", &l), -1);
    assert_int_equal(log_level_parse("INFO", &l), -1);
    assert_int_equal(log_level_parse(NULL, &l), -1);
    assert_int_equal(l, LOG_ERROR); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_lines),
        cmocka_unit_test(test_executor_lines),
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
