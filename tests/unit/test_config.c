/*
 * test_config.c - the option table: defaults, environment, flags over environment, validation
 * messages that name the flag or variable, --help and the README table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static config_t cfg;
static char err[256];

static int load(int argc, const char **argv)
{
    return config_load(&cfg, argc, (char **)argv, err, sizeof err);
}

static int setup(void **state)
{
    (void)state;
    unsetenv("PORT");
    unsetenv("CODEGATE_SLOTS");
    unsetenv("CODEGATE_RUNTIME");
    unsetenv("CODEGATE_LOG_REQUESTS");
    unsetenv("DOCKER_HOST");
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    const char *argv[] = {"gw"};
    assert_int_equal(load(1, argv), 0);
    assert_string_equal(cfg.bind, "127.0.0.1");
    assert_int_equal(cfg.port, 5000);
    assert_string_equal(cfg.runtime, "auto");
    assert_int_equal(cfg.slots, 4);
    assert_int_equal(cfg.queue_max, 64);
    assert_int_equal(cfg.output_limit_kb, 1024);
    assert_string_equal(cfg.instance, "default");
    assert_string_equal(cfg.cors_origins, "*");
    assert_string_equal(cfg.docker_socket, "/var/run/docker.sock");
    assert_true(cfg.log_requests);
}

static void test_env_and_flags(void **state)
{
    (void)state;
    setenv("PORT", "6000", 1);
    setenv("CODEGATE_SLOTS", "8", 1);
    setenv("CODEGATE_LOG_REQUESTS", "no", 1);
    setenv("DOCKER_HOST", "unix:///tmp/d.sock", 1);
    const char *argv[] = {"gw", "--port", "7000", "--runtime=local", "--instance", "a-b_1"};
    assert_int_equal(load(6, argv), 0);
    assert_int_equal(cfg.port, 7000); /* flag wins */
    assert_int_equal(cfg.slots, 8);   /* env applies */
    assert_false(cfg.log_requests);
    assert_string_equal(cfg.runtime, "local");
    assert_string_equal(cfg.instance, "a-b_1");
    assert_string_equal(cfg.docker_socket, "/tmp/d.sock");
}

static void test_errors(void **state)
{
    (void)state;
    const char *a1[] = {"gw", "--port", "70000"};
    assert_int_equal(load(3, a1), -1);
    assert_non_null(strstr(err, "--port"));
    const char *a2[] = {"gw", "--runtime", "kubernetes"};
    assert_int_equal(load(3, a2), -1);
    assert_non_null(strstr(err, "auto|docker|local"));
    const char *a3[] = {"gw", "--nope"};
    assert_int_equal(load(2, a3), -1);
    assert_non_null(strstr(err, "--nope"));
    const char *a4[] = {"gw", "--port"};
    assert_int_equal(load(2, a4), -1);
    const char *a5[] = {"gw", "--instance", "../etc"};
    assert_int_equal(load(3, a5), -1);
    setenv("CODEGATE_SLOTS", "zero", 1);
    const char *a6[] = {"gw"};
    assert_int_equal(load(1, a6), -1);
    assert_non_null(strstr(err, "CODEGATE_SLOTS"));
    unsetenv("CODEGATE_SLOTS");
    const char *a7[] = {"gw", "--slots", "65"};
    assert_int_equal(load(3, a7), -1);
}

static void test_help_and_markdown(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_print_help(f, "gateway");
    fclose(f);
    static const char *const vars[] = {"PORT", "CODEGATE_BIND", "CODEGATE_RUNTIME",
                                       "CODEGATE_QUEUE_MAX", "CODEGATE_QUEUE_WAIT_MS",
                                       "CODEGATE_DRAIN_MS", "CODEGATE_DOCKER_SOCKET", "--slots"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        assert_non_null(strstr(buf, vars[i]));
    free(buf);
    f = open_memstream(&buf, &len);
    config_print_markdown(f);
    fclose(f);
    assert_non_null(strstr(buf, "| `--port` | `PORT` | `5000` | 1..65535 |"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_env_and_flags, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_help_and_markdown, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
