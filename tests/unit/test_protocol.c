/*
 * test_protocol.c - every frame type round-trips; malformed frames are rejected with a reason.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

static cJSON *root;
static cg_msg_t m;
static char errbuf[200];

static int parse(const char *s)
{
    cJSON_Delete(root);
    root = NULL;
    return cg_msg_parse(s, strlen(s), &root, &m, errbuf, sizeof errbuf);
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(root);
    root = NULL;
    return 0;
}

static void test_execute_round_trip(void **state)
{
    (void)state;
    const char *args[] = {"a", "b c"};
    cg_execute_t ex = {.id = "job-1", .language = "cpp", .code = "int main(){}", .code_len = 12,
                       .args = args, .nargs = 2, .nruns = 2, .memory_mb = 128,
                       .output_limit = 4096, .stream = true};
    ex.runs[0] = (cg_run_spec_t){"1 2\n", 4, 1000};
    ex.runs[1] = (cg_run_spec_t){NULL, 0, 2000};
    char *s = cg_encode_execute(&ex);
    assert_non_null(s);
    assert_int_equal(parse(s), 0);
    free(s);
    assert_int_equal(m.type, CG_MSG_EXECUTE);
    assert_string_equal(m.id, "job-1");
    assert_string_equal(m.exec.language, "cpp");
    assert_string_equal(m.exec.code, "int main(){}");
    assert_int_equal(m.exec.nargs, 2);
    assert_string_equal(m.exec.args[1], "b c");
    assert_int_equal(m.exec.nruns, 2);
    assert_string_equal(m.exec.runs[0].input, "1 2\n");
    assert_int_equal(m.exec.runs[1].timeout_ms, 2000);
    assert_int_equal(m.exec.runs[1].input_len, 0);
    assert_int_equal(m.exec.memory_mb, 128);
    assert_int_equal(m.exec.output_limit, 4096);
    assert_true(m.exec.stream);
    assert_false(m.exec.interactive);
}

static void test_outcome_round_trip(void **state)
{
    (void)state;
    cg_outcome_t o = {.run = 3, .status = CG_ST_TIMEOUT, .exit_code = -1, .signal = SIGKILL,
                      .timed_out = true, .duration_ms = 1001, .cpu_ms = 999, .memory_kb = 5000,
                      .out = "x\xE2\x9C\x93", .err = "e"};
    char *s = cg_encode_outcome(CG_MSG_RESULT, "j", &o);
    assert_non_null(strstr(s, "\"signal\":\"SIGKILL\""));
    assert_int_equal(parse(s), 0);
    free(s);
    assert_int_equal(m.type, CG_MSG_RESULT);
    assert_int_equal(m.outcome.run, 3);
    assert_int_equal(m.outcome.status, CG_ST_TIMEOUT);
    assert_int_equal(m.outcome.signal, SIGKILL);
    assert_int_equal(m.outcome.exit_code, -1);
    assert_true(m.outcome.timed_out);
    assert_int_equal(m.outcome.duration_ms, 1001);
    assert_string_equal(m.outcome.out, "x\xE2\x9C\x93");
    o.run = -1;
    o.signal = 0;
    s = cg_encode_outcome(CG_MSG_COMPILE, "j", &o);
    assert_non_null(strstr(s, "\"signal\":null"));
    assert_int_equal(parse(s), 0);
    free(s);
    assert_int_equal(m.type, CG_MSG_COMPILE);
    assert_int_equal(m.outcome.run, -1);
    assert_int_equal(m.outcome.signal, 0);
}

static void test_small_frames(void **state)
{
    (void)state;
    char *s = cg_encode_hello("python", "3.11.2", 4);
    assert_int_equal(parse(s), 0);
    free(s);
    assert_int_equal(m.type, CG_MSG_HELLO);
    assert_int_equal(m.version, CG_PROTO_VERSION);
    assert_string_equal(m.lang_version, "3.11.2");
    assert_int_equal(m.slots, 4);

    s = cg_encode_data(CG_MSG_STDOUT, "j", 2, "abcdef", 3);
    assert_int_equal(parse(s), 0);
    free(s);
    assert_int_equal(m.type, CG_MSG_STDOUT);
    assert_string_equal(m.data, "abc");
    assert_int_equal(m.run, 2);

    s = cg_encode_done("j", 7);
    assert_int_equal(parse(s), 0);
    free(s);
    assert_int_equal(m.type, CG_MSG_DONE);
    assert_int_equal(m.runs, 7);

    s = cg_encode_error(NULL, "busy", "all slots busy");
    assert_int_equal(parse(s), 0);
    free(s);
    assert_int_equal(m.type, CG_MSG_ERROR);
    assert_null(m.id);
    assert_string_equal(m.code, "busy");

    s = cg_encode_ping(CG_MSG_PONG, 123456789012LL);
    assert_int_equal(parse(s), 0);
    free(s);
    assert_int_equal(m.type, CG_MSG_PONG);
    assert_true(m.seq == 123456789012LL);

    static const cg_msg_type_t simple[] = {CG_MSG_CANCEL, CG_MSG_KILL, CG_MSG_CLOSE_STDIN};
    for (size_t i = 0; i < 3; i++) {
        s = cg_encode_simple(simple[i], "abc_DEF-1");
        assert_int_equal(parse(s), 0);
        free(s);
        assert_int_equal(m.type, simple[i]);
        assert_string_equal(m.id, "abc_DEF-1");
    }
}

static void test_rejects(void **state)
{
    (void)state;
    assert_int_equal(parse("nope"), CG_EPROTO_JSON);
    assert_int_equal(parse("[]"), CG_EPROTO_JSON);
    assert_int_equal(parse("{}"), CG_EPROTO_TYPE);
    assert_int_equal(parse("{\"type\":5}"), CG_EPROTO_TYPE);
    assert_int_equal(parse("{\"type\":\"cancel\"}"), CG_EPROTO_FIELD);
    assert_non_null(strstr(errbuf, "id"));
    assert_int_equal(parse("{\"type\":\"cancel\",\"id\":\"a b\"}"), CG_EPROTO_FIELD);
    assert_int_equal(parse("{\"type\":\"execute\",\"id\":\"j\",\"language\":\"py\",\"code\":\"x\"}"),
                     CG_EPROTO_FIELD); /* no runs */
    assert_int_equal(parse("{\"type\":\"execute\",\"id\":\"j\",\"language\":\"py\",\"code\":\"x\","
                           "\"runs\":[]}"),
                     CG_EPROTO_TOOBIG);
    assert_int_equal(parse("{\"type\":\"execute\",\"id\":\"j\",\"language\":\"py\",\"code\":\"x\","
                           "\"runs\":[{\"timeoutMs\":999999}]}"),
                     CG_EPROTO_FIELD);
    assert_int_equal(parse("{\"type\":\"result\",\"id\":\"j\",\"run\":0,\"status\":\"great\"}"),
                     CG_EPROTO_FIELD);
    assert_int_equal(parse("{\"type\":\"result\",\"id\":\"j\",\"run\":0,\"status\":\"ok\","
                           "\"signal\":\"SIGNOPE\"}"),
                     CG_EPROTO_FIELD);
    /* 51 runs */
    char buf[2048] = "{\"type\":\"execute\",\"id\":\"j\",\"language\":\"py\",\"code\":\"x\",\"runs\":[";
    for (int i = 0; i < 51; i++)
        strcat(buf, i ? ",{}" : "{}");
    strcat(buf, "]}");
    assert_int_equal(parse(buf), CG_EPROTO_TOOBIG);
    /* unknown types parse (forward compatibility) */
    assert_int_equal(parse("{\"type\":\"teleport\"}"), 0);
    assert_int_equal(m.type, CG_MSG_UNKNOWN);
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < CG_ST__COUNT; i++)
        assert_int_equal(cg_status_parse(cg_status_name((cg_status_t)i)), i);
    assert_int_equal(cg_status_parse("nope"), -1);
    assert_string_equal(cg_signal_name(SIGSEGV), "SIGSEGV");
    assert_null(cg_signal_name(0));
    assert_true(cg_id_valid("a"));
    assert_false(cg_id_valid(""));
    assert_false(cg_id_valid("a/b"));
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    assert_false(cg_id_valid(long_id));
    long_id[64] = '\0';
    assert_true(cg_id_valid(long_id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_execute_round_trip, teardown),
        cmocka_unit_test_teardown(test_outcome_round_trip, teardown),
        cmocka_unit_test_teardown(test_small_frames, teardown),
        cmocka_unit_test_teardown(test_rejects, teardown),
        cmocka_unit_test_teardown(test_names, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
