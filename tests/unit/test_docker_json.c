/*
 * test_docker_json.c - the Engine API bodies built and parsed without a daemon: create and
 * network bodies (exact int64 digits), list filters, inspect / list / version / wait answers.
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

#include "docker_json.h"

static void test_filters_json(void **state)
{
    (void)state;
    const docker_kv_t f[] = {{"label", "codegate.instance=default"},
                             {"name", "codegate-"},
                             {"label", "codegate.lang"},
                             {NULL, NULL}};
    char *j = docker_json_filters(f);
    assert_string_equal(j, "{\"label\":[\"codegate.instance=default\",\"codegate.lang\"],"
                           "\"name\":[\"codegate-\"]}");
    free(j);
    const docker_kv_t empty[] = {{NULL, NULL}};
    j = docker_json_filters(empty);
    assert_string_equal(j, "{}");
    free(j);
}

/* ---- create body ---- */

static void test_spec_json(void **state)
{
    (void)state;
    const char *cmd[] = {"/usr/local/bin/executor", "--language", "python", NULL};
    const char *env[] = {"EXECUTOR_TOKEN=abc", NULL};
    const docker_kv_t labels[] = {
        {"codegate.instance", "default"}, {"codegate.lang", "python"}, {NULL, NULL}};
    const docker_kv_t tmpfs[] = {{"/work", "rw,exec,nosuid,size=256m,mode=1777"}, {NULL, NULL}};
    const char *drop[] = {"ALL", NULL};
    const char *add[] = {"SETUID", "SETGID", "KILL", NULL};
    const char *sec[] = {"no-new-privileges", NULL};
    docker_container_spec_t s = {
        .image = "codegate-python:0123456789ab",
        .cmd = cmd,
        .env = env,
        .labels = labels,
        .memory = 68719476736LL,
        .memory_swap = 68719476736LL,
        .nano_cpus = 2000000000LL,
        .pids_limit = 512,
        .network_mode = "codegate-default",
        .readonly_rootfs = true,
        .tmpfs = tmpfs,
        .cap_drop = drop,
        .cap_add = add,
        .security_opt = sec,
        .init = true,
        .ulimit_nofile = 1024,
    };
    cJSON *o = docker_json_container_spec(&s);
    assert_non_null(o);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    /* Exact int64 digits, no exponent. */
    assert_non_null(strstr(text, "\"Memory\":68719476736,"));
    assert_non_null(strstr(text, "\"NanoCpus\":2000000000,"));
    cJSON *p = cJSON_Parse(text);
    free(text);
    assert_non_null(p);
    assert_string_equal(docker_json_str(p, "Image"), "codegate-python:0123456789ab");
    cJSON *c = cJSON_GetObjectItem(p, "Cmd");
    assert_int_equal(cJSON_GetArraySize(c), 3);
    assert_string_equal(cJSON_GetArrayItem(c, 2)->valuestring, "python");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "Env"), 0)->valuestring,
                        "EXECUTOR_TOKEN=abc");
    assert_string_equal(docker_json_str(cJSON_GetObjectItem(p, "Labels"), "codegate.lang"),
                        "python");
    assert_null(cJSON_GetObjectItem(p, "User"));
    cJSON *hc = cJSON_GetObjectItem(p, "HostConfig");
    assert_non_null(hc);
    assert_true(cJSON_GetObjectItem(hc, "MemorySwap")->valuedouble == 68719476736.0);
    assert_int_equal(cJSON_GetObjectItem(hc, "PidsLimit")->valueint, 512);
    assert_string_equal(docker_json_str(hc, "NetworkMode"), "codegate-default");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(hc, "ReadonlyRootfs")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(hc, "Init")));
    assert_string_equal(docker_json_str(cJSON_GetObjectItem(hc, "Tmpfs"), "/work"),
                        "rw,exec,nosuid,size=256m,mode=1777");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(hc, "CapDrop"), 0)->valuestring,
                        "ALL");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(hc, "CapAdd")), 3);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(hc, "SecurityOpt"), 0)->valuestring,
                        "no-new-privileges");
    cJSON *ul = cJSON_GetArrayItem(cJSON_GetObjectItem(hc, "Ulimits"), 0);
    assert_string_equal(docker_json_str(ul, "Name"), "nofile");
    assert_int_equal(cJSON_GetObjectItem(ul, "Hard")->valueint, 1024);
    assert_null(cJSON_GetObjectItem(hc, "ShmSize"));
    cJSON_Delete(p);

    docker_container_spec_t bad = {0};
    assert_null(docker_json_container_spec(&bad));
    assert_null(docker_json_container_spec(NULL));
}

/* ---- answer parsing ---- */

static const char inspect_json[] =
    "{\"Id\":\"ba033ac4401106a3\",\"Name\":\"/codegate-python-0\","
    "\"State\":{\"Status\":\"exited\",\"Running\":false,\"OOMKilled\":true,\"ExitCode\":137,"
    "\"Pid\":0,\"Error\":\"\",\"Health\":{\"Status\":\"unhealthy\",\"FailingStreak\":3}},"
    "\"NetworkSettings\":{\"Networks\":{"
    "\"bridge\":{\"IPAddress\":\"172.17.0.2\"},"
    "\"codegate-default\":{\"IPAddress\":\"172.20.0.5\"}}}}";

static void test_info_parse(void **state)
{
    (void)state;
    docker_container_info_t i;
    assert_int_equal(
        docker_json_container_info(inspect_json, strlen(inspect_json), "codegate-default", &i), 0);
    assert_string_equal(i.id, "ba033ac4401106a3");
    assert_string_equal(i.name, "codegate-python-0");
    assert_string_equal(i.status, "exited");
    assert_false(i.running);
    assert_true(i.oom_killed);
    assert_int_equal(i.exit_code, 137);
    assert_string_equal(i.health, "unhealthy");
    assert_string_equal(i.ip, "172.20.0.5");
    assert_int_equal(docker_json_container_info(inspect_json, strlen(inspect_json), NULL, &i), 0);
    assert_string_equal(i.ip, "172.17.0.2");
    assert_int_equal(docker_json_container_info(inspect_json, strlen(inspect_json), "other", &i),
                     0);
    assert_string_equal(i.ip, "");

    const char *running = "{\"Id\":\"x\",\"State\":{\"Status\":\"running\",\"Running\":true,"
                          "\"Pid\":4242,\"ExitCode\":0}}";
    assert_int_equal(docker_json_container_info(running, strlen(running), "n", &i), 0);
    assert_true(i.running);
    assert_int_equal(i.pid, 4242);
    assert_string_equal(i.health, "");
    assert_int_equal(docker_json_container_info("{}", 2, NULL, &i), DOCKER_EPROTO);
    assert_int_equal(docker_json_container_info("nonsense", 8, NULL, &i), DOCKER_EPROTO);
}

static void test_list_parse(void **state)
{
    (void)state;
    const char *cl =
        "[{\"Id\":\"aaa\",\"Names\":[\"/codegate-python-0\"],\"Image\":\"codegate-python:1\","
        "\"State\":\"running\"},{\"Names\":[\"/no-id\"]},"
        "{\"Id\":\"bbb\",\"Names\":[],\"State\":\"exited\"}]";
    docker_container_summary_t *c;
    assert_int_equal(docker_json_container_list(cl, strlen(cl), &c), 2);
    assert_string_equal(c[0].id, "aaa");
    assert_string_equal(c[0].name, "codegate-python-0");
    assert_string_equal(c[0].image, "codegate-python:1");
    assert_string_equal(c[0].state, "running");
    assert_string_equal(c[1].id, "bbb");
    assert_string_equal(c[1].name, "");
    free(c);
    assert_int_equal(docker_json_container_list("[]", 2, &c), 0);
    assert_null(c);
    assert_int_equal(docker_json_container_list("{}", 2, &c), DOCKER_EPROTO);

    const char *nl = "[{\"Name\":\"codegate-default\",\"Id\":\"n1\",\"Internal\":true},"
                     "{\"Name\":\"bridge\",\"Id\":\"n2\",\"Internal\":false}]";
    docker_network_t *n;
    assert_int_equal(docker_json_network_list(nl, strlen(nl), &n), 2);
    assert_string_equal(n[0].name, "codegate-default");
    assert_true(n[0].internal);
    assert_false(n[1].internal);
    free(n);
}

static void test_network_body(void **state)
{
    (void)state;
    const docker_kv_t labels[] = {{"codegate.instance", "t1"}, {NULL, NULL}};
    cJSON *o = docker_json_network_create("codegate-t1", true, labels);
    assert_non_null(o);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    assert_string_equal(text, "{\"Name\":\"codegate-t1\",\"Driver\":\"bridge\",\"Internal\":true,"
                              "\"CheckDuplicate\":true,\"Labels\":{\"codegate.instance\":\"t1\"}}");
    free(text);
    o = docker_json_network_create("n", false, NULL);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    assert_string_equal(text, "{\"Name\":\"n\",\"Driver\":\"bridge\",\"Internal\":false,"
                              "\"CheckDuplicate\":true}");
    free(text);
}

static void test_small_answers(void **state)
{
    (void)state;
    char id[DOCKER_ID_LEN] = "stale", api[8], server[64];
    const char *created = "{\"Id\":\"e90e34656806\",\"Warnings\":[]}";
    assert_int_equal(docker_json_get_str(created, strlen(created), "Id", id, sizeof id), 0);
    assert_string_equal(id, "e90e34656806");
    assert_int_equal(docker_json_get_str("{\"Id\":7}", 8, "Id", id, sizeof id), DOCKER_EPROTO);
    assert_string_equal(id, "");
    assert_int_equal(docker_json_get_str("", 0, "Id", id, sizeof id), DOCKER_EPROTO);
    assert_int_equal(docker_json_get_str(created, strlen(created), "Id", id, 5), 0);
    assert_string_equal(id, "e90e");

    const char *ver = "{\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\"}";
    assert_int_equal(docker_json_version(ver, strlen(ver), api, sizeof api, server, sizeof server),
                     0);
    assert_string_equal(api, "1.41");
    assert_string_equal(server, "20.10.24+dfsg1");
    assert_int_equal(docker_json_version(ver, strlen(ver), NULL, 0, NULL, 0), 0);
    assert_int_equal(docker_json_version("{\"Version\":\"1\"}", 15, api, sizeof api, NULL, 0),
                     DOCKER_EPROTO);

    int code = -1;
    assert_int_equal(docker_json_wait("{\"StatusCode\":137,\"Error\":null}", 32, &code), 0);
    assert_int_equal(code, 137);
    assert_int_equal(docker_json_wait("{\"StatusCode\":\"0\"}", 18, &code), DOCKER_EPROTO);
    assert_int_equal(code, 137);
    assert_int_equal(docker_json_wait("{\"StatusCode\":0}", 16, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filters_json, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_spec_json, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_info_parse, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_list_parse, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_network_body, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_small_answers, setup_alarm, teardown_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
