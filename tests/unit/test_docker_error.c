/*
 * test_docker_error.c - DOCKER_E* text and the mapping of HTTP answers to codes and messages.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alarm_fixture.h"

#include "docker_error.h"

static void test_strerror(void **state)
{
    (void)state;
    for (int c = DOCKER_ECANCELED; c <= DOCKER_OK; c++)
        assert_string_not_equal(docker_error_str(c), "unknown Docker client error");
    assert_string_equal(docker_error_str(-999), "unknown Docker client error");
}

static void test_status_error(void **state)
{
    (void)state;
    assert_int_equal(docker_error_from_status(200), 0);
    assert_int_equal(docker_error_from_status(201), 0);
    assert_int_equal(docker_error_from_status(204), 0);
    assert_int_equal(docker_error_from_status(304), 0);
    assert_int_equal(docker_error_from_status(400), DOCKER_EBADREQ);
    assert_int_equal(docker_error_from_status(403), DOCKER_EFORBIDDEN);
    assert_int_equal(docker_error_from_status(404), DOCKER_ENOTFOUND);
    assert_int_equal(docker_error_from_status(409), DOCKER_ECONFLICT);
    assert_int_equal(docker_error_from_status(500), DOCKER_ESERVER);
    assert_int_equal(docker_error_from_status(503), DOCKER_ESERVER);
    assert_int_equal(docker_error_from_status(101), DOCKER_EPROTO);
    assert_int_equal(docker_error_from_status(302), DOCKER_EPROTO);
    assert_int_equal(docker_error_from_status(0), DOCKER_EPROTO);
}

static void test_error_from_body(void **state)
{
    (void)state;
    docker_err_t err;
    const char *b = "{\"message\":\"No such container: c2ada9df5af8\"}\n";
    assert_int_equal(docker_error_from_body(&err, 404, b, strlen(b)), DOCKER_ENOTFOUND);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.msg, "No such container: c2ada9df5af8");
    b = "page not found\n";
    assert_int_equal(docker_error_from_body(&err, 400, b, strlen(b)), DOCKER_EBADREQ);
    assert_string_equal(err.msg, "page not found");
    assert_int_equal(docker_error_from_body(&err, 500, NULL, 0), DOCKER_ESERVER);
    assert_string_equal(err.msg, "HTTP 500");
    assert_int_equal(docker_error_from_body(NULL, 409, b, strlen(b)), DOCKER_ECONFLICT);
}

static void test_set_and_reset(void **state)
{
    (void)state;
    docker_err_t err;
    assert_int_equal(docker_error_set(&err, DOCKER_EINVAL, "bad name '%s'", "x y"), DOCKER_EINVAL);
    assert_string_equal(err.msg, "bad name 'x y'");
    assert_int_equal(docker_error_set(&err, DOCKER_EPROTO, "[%s]", NULL), DOCKER_EPROTO);
    assert_string_equal(err.msg, "[]");
    assert_int_equal(docker_error_set(NULL, DOCKER_ENOMEM, "%s", "x"), DOCKER_ENOMEM);
    err.http_status = 500;
    docker_error_reset(&err);
    assert_int_equal(err.http_status, 0);
    assert_string_equal(err.msg, "");
    docker_error_reset(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strerror, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_status_error, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_error_from_body, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_set_and_reset, setup_alarm, teardown_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
