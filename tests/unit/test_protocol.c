/*
 * test_protocol.c - every frame type round-trips through its encoder and the parser; malformed
 * frames are rejected with the right error code and a sentence naming the member; encoders
 * refuse frames the parser would not accept and keep the wire valid UTF-8.
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
#include "utf8.h"

static cJSON *root;
static cg_msg_t m;
static char errbuf[256];

/* Parses a frame given with single quotes for readability ('  becomes "). */
static int parse_q(const char *s)
{
    char *buf = strdup(s);
    int rc;

    assert_non_null(buf);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    cJSON_Delete(root);
    root = NULL;
    rc = cg_msg_parse(buf, strlen(buf), &root, &m, errbuf, sizeof errbuf);
    free(buf);
    return rc;
}

/* Parses an encoder's output and frees it; the exact length is given, no NUL is relied on. */
static int parse_owned(char *s)
{
    size_t n;
    char *exact;
    int rc;

    assert_non_null(s);
    n = strlen(s);
    exact = malloc(n ? n : 1);
    assert_non_null(exact);
    memcpy(exact, s, n);
    free(s);
    cJSON_Delete(root);
    root = NULL;
    /* root keeps the tree alive: pointers in m stay valid after the buffer is freed. */
    rc = cg_msg_parse(exact, n, &root, &m, errbuf, sizeof errbuf);
    free(exact);
    return rc;
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
    const char *args[] = {"a", "b c", "\xC3\xA9\"\\"}, *opts[] = {"-O0", "-std=c++20"};
    cg_execute_t ex = {.id = "job-1",
                       .options = opts,
                       .noptions = 2,
                       .language = "cpp",
                       .code = "int main(){}\n// \"q\"\t\\",
                       .args = args,
                       .nargs = 3,
                       .nruns = 3,
                       .memory_mb = 128,
                       .output_limit = 4096,
                       .stream = true,
                       .interactive = true,
                       .budget_ms = 45000};
    ex.code_len = strlen(ex.code);
    ex.runs[0] = (cg_run_spec_t){"1 2\n\xF0\x9F\x98\x80", 8, 1000};
    ex.runs[1] = (cg_run_spec_t){NULL, 0, 2000};
    ex.runs[2] = (cg_run_spec_t){"abcdef", 3, CG_MAX_TIMEOUT_MS}; /* only 3 bytes count */
    assert_int_equal(parse_owned(cg_encode_execute(&ex)), 0);
    assert_int_equal(m.type, CG_MSG_EXECUTE);
    assert_int_equal(m.version, CG_PROTO_VERSION);
    assert_string_equal(m.id, "job-1");
    assert_ptr_equal(m.exec.id, m.id);
    assert_string_equal(m.exec.language, "cpp");
    assert_string_equal(m.exec.code, ex.code);
    assert_int_equal(m.exec.code_len, ex.code_len);
    assert_int_equal(m.exec.nargs, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(m.exec.args[i], args[i]);
    assert_null(m.exec.args[3]);
    assert_ptr_equal(m.exec.args, m.argv);
    assert_int_equal(m.exec.noptions, 2);
    assert_string_equal(m.exec.options[0], "-O0");
    assert_string_equal(m.exec.options[1], "-std=c++20");
    assert_null(m.exec.options[2]);
    assert_ptr_equal(m.exec.options, m.optv);
    assert_int_equal(m.exec.nruns, 3);
    assert_string_equal(m.exec.runs[0].input, "1 2\n\xF0\x9F\x98\x80");
    assert_int_equal(m.exec.runs[0].input_len, 8);
    assert_int_equal(m.exec.runs[0].timeout_ms, 1000);
    assert_string_equal(m.exec.runs[1].input, "");
    assert_int_equal(m.exec.runs[1].input_len, 0);
    assert_int_equal(m.exec.runs[1].timeout_ms, 2000);
    assert_string_equal(m.exec.runs[2].input, "abc");
    assert_int_equal(m.exec.runs[2].timeout_ms, CG_MAX_TIMEOUT_MS);
    assert_int_equal(m.exec.memory_mb, 128);
    assert_int_equal(m.exec.output_limit, 4096);
    assert_true(m.exec.stream);
    assert_true(m.exec.interactive);
    assert_int_equal(m.exec.budget_ms, 45000);
}

static void test_execute_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse_q("{'type':'execute','v':1,'id':'j','language':'python','code':'',"
                             "'runs':[{}],'futureMember':[1,2]}"),
                     0);
    assert_int_equal(m.exec.nargs, 0);
    assert_non_null(m.exec.args);
    assert_null(m.exec.args[0]);
    assert_int_equal(m.exec.noptions, 0); /* an older gateway sends none */
    assert_non_null(m.exec.options);
    assert_null(m.exec.options[0]);
    assert_int_equal(m.exec.nruns, 1);
    assert_null(m.exec.runs[0].input);
    assert_int_equal(m.exec.runs[0].timeout_ms, CG_DEFAULT_TIMEOUT_MS);
    assert_int_equal(m.exec.memory_mb, CG_DEFAULT_MEMORY_MB);
    assert_int_equal(m.exec.output_limit, CG_DEFAULT_OUTPUT_LIMIT);
    assert_false(m.exec.stream);
    assert_false(m.exec.interactive);
    assert_int_equal(m.exec.budget_ms, 0); /* none: an older gateway */
    assert_int_equal(m.exec.code_len, 0);
}

static void test_outcome_round_trip(void **state)
{
    (void)state;
    cg_outcome_t o = {.run = CG_MAX_RUNS - 1,
                      .status = CG_ST_TIMEOUT,
                      .exit_code = -1,
                      .signal = SIGKILL,
                      .timed_out = true,
                      .truncated = true,
                      .duration_ms = 1001,
                      .cpu_ms = 999,
                      .memory_kb = INT64_C(1) << 40,
                      .out = "x\xE2\x9C\x93\n",
                      .err = "e\"rr"};
    char *s = cg_encode_outcome(CG_MSG_RESULT, "j", &o);
    assert_non_null(strstr(s, "\"signal\":\"SIGKILL\""));
    assert_non_null(strstr(s, "\"timedOut\":true"));
    assert_int_equal(parse_owned(s), 0);
    assert_int_equal(m.type, CG_MSG_RESULT);
    assert_string_equal(m.id, "j");
    assert_int_equal(m.outcome.run, CG_MAX_RUNS - 1);
    assert_int_equal(m.outcome.status, CG_ST_TIMEOUT);
    assert_int_equal(m.outcome.signal, SIGKILL);
    assert_int_equal(m.outcome.exit_code, -1);
    assert_true(m.outcome.timed_out);
    assert_true(m.outcome.truncated);
    assert_int_equal(m.outcome.duration_ms, 1001);
    assert_int_equal(m.outcome.cpu_ms, 999);
    assert_true(m.outcome.memory_kb == INT64_C(1) << 40);
    assert_string_equal(m.outcome.out, "x\xE2\x9C\x93\n");
    assert_string_equal(m.outcome.err, "e\"rr");

    /* COMPILE: no run on the wire, run -1 after parsing, null signal. */
    o = (cg_outcome_t){
        .run = -1, .status = CG_ST_COMPILE_ERROR, .exit_code = 1, .err = "main.cpp:1: error"};
    s = cg_encode_outcome(CG_MSG_COMPILE, "j", &o);
    assert_non_null(strstr(s, "\"signal\":null"));
    assert_null(strstr(s, "\"run\""));
    assert_null(strstr(s, "\"cached\"")); /* only said when true */
    assert_int_equal(parse_owned(s), 0);
    assert_int_equal(m.type, CG_MSG_COMPILE);
    assert_int_equal(m.outcome.run, -1);
    assert_int_equal(m.outcome.signal, 0);
    assert_int_equal(m.outcome.exit_code, 1);
    assert_int_equal(m.outcome.status, CG_ST_COMPILE_ERROR);
    assert_string_equal(m.outcome.out, ""); /* NULL encodes as "" */
    assert_false(m.outcome.timed_out);
    assert_false(m.outcome.cached);
    /* A compile answered from the cache says so. */
    o = (cg_outcome_t){.run = -1, .status = CG_ST_OK, .cached = true};
    s = cg_encode_outcome(CG_MSG_COMPILE, "j", &o);
    assert_non_null(strstr(s, "\"cached\":true"));
    assert_int_equal(parse_owned(s), 0);
    assert_true(m.outcome.cached);

    /* Every status survives. */
    for (int st = 0; st < CG_ST__COUNT; st++) {
        o = (cg_outcome_t){.run = 0, .status = (cg_status_t)st};
        assert_int_equal(parse_owned(cg_encode_outcome(CG_MSG_RESULT, "j", &o)), 0);
        assert_int_equal(m.outcome.status, st);
    }
    /* A signal without a name travels as SIGUNKNOWN and comes back as -1, still "a signal". */
    o = (cg_outcome_t){.run = 0, .status = CG_ST_RUNTIME_ERROR, .exit_code = -1, .signal = 40};
    s = cg_encode_outcome(CG_MSG_RESULT, "j", &o);
    assert_non_null(strstr(s, "\"signal\":\"SIGUNKNOWN\""));
    assert_int_equal(parse_owned(s), 0);
    assert_int_equal(m.outcome.signal, -1);
    assert_string_equal(cg_signal_name(m.outcome.signal), "SIGUNKNOWN");
}

static void test_small_frames(void **state)
{
    (void)state;
    assert_int_equal(parse_owned(cg_encode_hello("python", "3.11.2", 4)), 0);
    assert_int_equal(m.type, CG_MSG_HELLO);
    assert_int_equal(m.version, CG_PROTO_VERSION);
    assert_string_equal(m.language, "python");
    assert_string_equal(m.lang_version, "3.11.2");
    assert_int_equal(m.slots, 4);
    assert_null(m.id);

    static const cg_msg_type_t data_types[] = {CG_MSG_STDIN, CG_MSG_STDOUT, CG_MSG_STDERR};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(parse_owned(cg_encode_data(data_types[i], "j", 2, "abcdef", 3)), 0);
        assert_int_equal(m.type, data_types[i]);
        assert_string_equal(m.id, "j");
        assert_string_equal(m.data, "abc");
        assert_int_equal(m.run, 2);
    }

    assert_int_equal(parse_owned(cg_encode_done("j", CG_MAX_RUNS, false)), 0);
    assert_int_equal(m.type, CG_MSG_DONE);
    assert_int_equal(m.runs, CG_MAX_RUNS);
    assert_false(m.budget_exceeded);
    assert_int_equal(parse_owned(cg_encode_done("j", 2, true)), 0);
    assert_int_equal(m.runs, 2);
    assert_true(m.budget_exceeded);
    assert_int_equal(parse_q("{'type':'done','id':'j','runs':1}"), 0);
    assert_false(m.budget_exceeded); /* absent: an older executor */

    assert_int_equal(parse_owned(cg_encode_error(NULL, "busy", "all slots busy")), 0);
    assert_int_equal(m.type, CG_MSG_ERROR);
    assert_null(m.id);
    assert_string_equal(m.code, "busy");
    assert_string_equal(m.message, "all slots busy");
    assert_int_equal(parse_owned(cg_encode_error("j-2", "bad_frame", NULL)), 0);
    assert_string_equal(m.id, "j-2");
    assert_string_equal(m.message, "");

    assert_int_equal(parse_owned(cg_encode_ping(CG_MSG_PONG, 123456789012LL)), 0);
    assert_int_equal(m.type, CG_MSG_PONG);
    assert_true(m.seq == 123456789012LL);
    assert_int_equal(parse_owned(cg_encode_ping(CG_MSG_PING, -7)), 0);
    assert_int_equal(m.type, CG_MSG_PING);
    assert_true(m.seq == -7);
    assert_int_equal(m.slots_down, 0);
    /* An executor's PONG says how many of its slots are out of service. */
    assert_int_equal(parse_owned(cg_encode_pong(9, 2, false)), 0);
    assert_int_equal(m.type, CG_MSG_PONG);
    assert_true(m.seq == 9);
    assert_int_equal(m.slots_down, 2);
    assert_false(m.draining);
    /* ... and whether it is draining. */
    assert_int_equal(parse_owned(cg_encode_pong(10, 0, true)), 0);
    assert_true(m.draining);
    /* DRAIN: no id, the grace period; out of range is a field error. */
    assert_int_equal(parse_owned(cg_encode_drain(25000)), 0);
    assert_int_equal(m.type, CG_MSG_DRAIN);
    assert_null(m.id);
    assert_true(m.grace_ms == 25000);
    assert_string_equal(cg_msg_type_name(CG_MSG_DRAIN), "drain");

    static const cg_msg_type_t simple[] = {CG_MSG_CANCEL, CG_MSG_KILL, CG_MSG_CLOSE_STDIN};
    for (size_t i = 0; i < 3; i++) {
        char *s = cg_encode_simple(simple[i], "abc_DEF-1");
        assert_non_null(strstr(s, cg_msg_type_name(simple[i])));
        assert_int_equal(parse_owned(s), 0);
        assert_int_equal(m.type, simple[i]);
        assert_string_equal(m.id, "abc_DEF-1");
    }
    /* DONE through the simple encoder: runs defaults to 0. */
    assert_int_equal(parse_owned(cg_encode_simple(CG_MSG_DONE, "j")), 0);
    assert_int_equal(m.type, CG_MSG_DONE);
    assert_int_equal(m.runs, 0);
}

/* Output that is not valid UTF-8 (or holds NUL) is sanitized by the encoders; a length-bounded
 * buffer without a terminator is read only within its length (ASan checks). */
static void test_encoders_keep_wire_utf8(void **state)
{
    (void)state;
    char *raw = malloc(5);
    memcpy(raw, "a\xFF\0b\xE2", 5); /* no NUL terminator after the 5 bytes */
    char *s = cg_encode_data(CG_MSG_STDOUT, "j", 0, raw, 5);
    free(raw);
    assert_true(cg_utf8_valid((const unsigned char *)s, strlen(s)));
    assert_int_equal(parse_owned(s), 0);
    assert_string_equal(m.data, "a\xEF\xBF\xBD\xEF\xBF\xBD"
                                "b\xEF\xBF\xBD");

    cg_outcome_t o = {.run = 0, .out = "bad \xC0\xAF", .err = "\xED\xA0\x80"};
    assert_int_equal(parse_owned(cg_encode_outcome(CG_MSG_RESULT, "j", &o)), 0);
    assert_string_equal(m.outcome.out, "bad \xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(m.outcome.err, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");

    /* Source code and input are carried byte for byte; a NUL cannot be, so the frame fails. */
    cg_execute_t ex = {.id = "j",
                       .language = "python",
                       .code = "a\0b",
                       .code_len = 3,
                       .nruns = 1,
                       .memory_mb = 64,
                       .output_limit = 1};
    assert_null(cg_encode_execute(&ex));
    ex.code_len = 1;
    ex.runs[0] = (cg_run_spec_t){"x\0y", 3, 100};
    assert_null(cg_encode_execute(&ex));
    ex.runs[0].input_len = 1;
    char *ok = cg_encode_execute(&ex);
    assert_non_null(ok);
    free(ok);
    /* Counts outside the arrays are refused rather than truncated. */
    ex.nruns = 0;
    assert_null(cg_encode_execute(&ex));
    ex.nruns = CG_MAX_RUNS + 1;
    assert_null(cg_encode_execute(&ex));
    ex.nruns = 1;
    ex.nargs = CG_MAX_ARGS + 1;
    assert_null(cg_encode_execute(&ex));
}

typedef struct {
    const char *frame; /* single quotes stand for double quotes */
    int rc;
    const char *msg; /* a substring of errbuf */
} reject_t;

#define EXE "{'type':'execute','v':1,'id':'j','language':'py','code':'x',"
#define RES                                                                                        \
    "{'type':'result','id':'j','status':'ok','exitCode':0,'signal':null,'timedOut':false,"         \
    "'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'','stderr':'',"

static const reject_t rejects[] = {
    {"nope", CG_EPROTO_JSON, "not valid JSON"},
    {"", CG_EPROTO_JSON, "not valid JSON"},
    {"[]", CG_EPROTO_JSON, "not an object"},
    {"'cancel'", CG_EPROTO_JSON, "not an object"},
    {"{'type':'cancel','id':'j'} {}", CG_EPROTO_JSON, "data after"},
    {"{'type':'cancel','id':'j'", CG_EPROTO_JSON, "not valid JSON"},
    {"{}", CG_EPROTO_TYPE, "\"type\" is missing"},
    {"{'type':5}", CG_EPROTO_TYPE, "\"type\" must be a string"},
    {"{'type':null}", CG_EPROTO_TYPE, "\"type\" must be a string"},
    /* ids */
    {"{'type':'cancel'}", CG_EPROTO_FIELD, "cancel frame: \"id\" is missing"},
    {"{'type':'cancel','id':7}", CG_EPROTO_FIELD, "\"id\" must be a string, not a number"},
    {"{'type':'cancel','id':'a b'}", CG_EPROTO_FIELD, "\"id\" must be 1 to 64 characters"},
    {"{'type':'cancel','id':''}", CG_EPROTO_FIELD, "\"id\" must be 1 to 64"},
    {"{'type':'kill','id':'../x'}", CG_EPROTO_FIELD, "\"id\""},
    {"{'type':'cancel','id':'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}",
     CG_EPROTO_FIELD, "\"id\""}, /* 65 characters */
    {"{'type':'error','id':'a/b','code':'x'}", CG_EPROTO_FIELD, "\"id\""},
    {"{'type':'teleport','id':5}", CG_EPROTO_FIELD, "\"id\""},
    /* execute */
    {"{'type':'execute','id':'j','language':'py','code':'x','runs':[{}]}", CG_EPROTO_FIELD,
     "execute frame: \"v\" is missing"},
    {"{'type':'execute','v':2,'id':'j','language':'py','code':'x','runs':[{}]}", CG_EPROTO_FIELD,
     "version \"v\" 2 is not supported"},
    {"{'type':'execute','v':'1','id':'j','language':'py','code':'x','runs':[{}]}", CG_EPROTO_FIELD,
     "\"v\" must be an integer, not a string"},
    {"{'type':'execute','v':1,'language':'py','code':'x','runs':[{}]}", CG_EPROTO_FIELD,
     "\"id\" is missing"},
    {"{'type':'execute','v':1,'id':'j','code':'x','runs':[{}]}", CG_EPROTO_FIELD,
     "\"language\" is missing"},
    {"{'type':'execute','v':1,'id':'j','language':'','code':'x','runs':[{}]}", CG_EPROTO_FIELD,
     "\"language\" must not be empty"},
    {"{'type':'execute','v':1,'id':'j','language':'py','runs':[{}]}", CG_EPROTO_FIELD,
     "\"code\" is missing"},
    {"{'type':'execute','v':1,'id':'j','language':'py','code':{},'runs':[{}]}", CG_EPROTO_FIELD,
     "\"code\" must be a string, not an object"},
    {EXE "'runs':[{}],'args':'a'}", CG_EPROTO_FIELD, "\"args\" must be an array"},
    {EXE "'runs':[{}],'args':['a',1]}", CG_EPROTO_FIELD, "\"args[1]\" must be a string"},
    {EXE "'runs':[{}],'args':[null]}", CG_EPROTO_FIELD, "\"args[0]\" must be a string, not null"},
    {EXE "'args':[]}", CG_EPROTO_FIELD, "\"runs\" is missing"},
    {EXE "'runs':[{}],'options':'-O2'}", CG_EPROTO_FIELD, "\"options\" must be an array"},
    {EXE "'runs':[{}],'options':['-O2',{}]}", CG_EPROTO_FIELD, "\"options[1]\" must be a string"},
    {EXE "'runs':{}}", CG_EPROTO_FIELD, "\"runs\" must be an array"},
    {EXE "'runs':[]}", CG_EPROTO_FIELD, "\"runs\" must hold at least one run"},
    {EXE "'runs':[{},5]}", CG_EPROTO_FIELD, "\"runs[1]\" must be an object, not a number"},
    {EXE "'runs':[{},{},{},{'timeoutMs':99999}]}", CG_EPROTO_FIELD,
     "execute frame: \"runs[3].timeoutMs\" must be an integer between 1 and 30000 (got 99999)"},
    {EXE "'runs':[{'timeoutMs':0}]}", CG_EPROTO_FIELD, "\"runs[0].timeoutMs\" must be an integer"},
    {EXE "'runs':[{'timeoutMs':1.5}]}", CG_EPROTO_FIELD, "(got 1.5)"},
    {EXE "'runs':[{'timeoutMs':'5'}]}", CG_EPROTO_FIELD,
     "\"runs[0].timeoutMs\" must be an "
     "integer, not a string"},
    {EXE "'runs':[{'timeoutMs':1e300}]}", CG_EPROTO_FIELD, "between 1 and 30000"},
    {EXE "'runs':[{'timeoutMs':-1e300}]}", CG_EPROTO_FIELD, "between 1 and 30000"},
    {EXE "'runs':[{'input':3}]}", CG_EPROTO_FIELD, "\"runs[0].input\" must be a string"},
    {EXE "'runs':[{}],'memoryMb':8}", CG_EPROTO_FIELD,
     "\"memoryMb\" must be an integer between "
     "16 and 1024"},
    {EXE "'runs':[{}],'memoryMb':null}", CG_EPROTO_FIELD,
     "\"memoryMb\" must be an integer, not "
     "null"},
    {EXE "'runs':[{}],'outputLimit':0}", CG_EPROTO_FIELD, "\"outputLimit\""},
    {EXE "'runs':[{}],'outputLimit':16777217}", CG_EPROTO_FIELD, "\"outputLimit\""},
    {EXE "'runs':[{}],'stream':'yes'}", CG_EPROTO_FIELD, "\"stream\" must be a boolean"},
    {EXE "'runs':[{}],'interactive':1}", CG_EPROTO_FIELD, "\"interactive\" must be a boolean"},
    {EXE "'runs':[{}],'budgetMs':999}", CG_EPROTO_FIELD,
     "\"budgetMs\" must be 0 (none) or between"},
    {EXE "'runs':[{}],'budgetMs':3600001}", CG_EPROTO_FIELD, "\"budgetMs\" must be an integer"},
    {EXE "'runs':[{}],'budgetMs':-1}", CG_EPROTO_FIELD, "\"budgetMs\""},
    {"{'type':'done','id':'j','budgetExceeded':1}", CG_EPROTO_FIELD,
     "\"budgetExceeded\" must be a boolean"},
    /* compile / result */
    {"{'type':'result','id':'j','status':'ok','exitCode':0,'signal':null,'timedOut':false,"
     "'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'','stderr':''}",
     CG_EPROTO_FIELD, "result frame: \"run\" is missing"},
    {RES "'run':50}", CG_EPROTO_FIELD, "\"run\" must be an integer between 0 and 49"},
    {RES "'run':-1}", CG_EPROTO_FIELD, "\"run\""},
    {"{'type':'compile','id':'j','run':0,'status':'ok','exitCode':0,'signal':null,"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'',"
     "'stderr':''}",
     CG_EPROTO_FIELD, "compile frame: \"run\" must be an integer between -1 and -1"},
    {"{'type':'result','id':'j','run':0,'status':'great','exitCode':0,'signal':null,"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'',"
     "'stderr':''}",
     CG_EPROTO_FIELD, "\"status\" \"great\" is not a known status"},
    {"{'type':'result','id':'j','run':0,'exitCode':0,'signal':null,'timedOut':false,"
     "'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'','stderr':''}",
     CG_EPROTO_FIELD, "\"status\" is missing"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':256,'signal':null,"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'',"
     "'stderr':''}",
     CG_EPROTO_FIELD, "\"exitCode\" must be an integer between -1 and 255"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':9,"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'',"
     "'stderr':''}",
     CG_EPROTO_FIELD, "\"signal\" must be a signal name or null, not a number"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':'SIGNOPE',"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'',"
     "'stderr':''}",
     CG_EPROTO_FIELD, "\"signal\" \"SIGNOPE\" is not a signal name"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'timedOut':false,"
     "'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'','stderr':''}",
     CG_EPROTO_FIELD, "\"signal\" is missing"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':null,"
     "'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'','stderr':''}",
     CG_EPROTO_FIELD, "\"timedOut\" is missing"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':null,"
     "'timedOut':0,'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':'',"
     "'stderr':''}",
     CG_EPROTO_FIELD, "\"timedOut\" must be a boolean, not a number"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':null,"
     "'timedOut':false,'truncated':false,'durationMs':-1,'cpuMs':1,'memoryKb':1,'stdout':'',"
     "'stderr':''}",
     CG_EPROTO_FIELD, "\"durationMs\" must be an integer between 0 and"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':null,"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1e300,'memoryKb':1,'stdout':'',"
     "'stderr':''}",
     CG_EPROTO_FIELD, "\"cpuMs\""},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':null,"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1,'stdout':'','stderr':''}",
     CG_EPROTO_FIELD, "\"memoryKb\" is missing"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':null,"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':[],"
     "'stderr':''}",
     CG_EPROTO_FIELD, "\"stdout\" must be a string, not an array"},
    {"{'type':'result','id':'j','run':0,'status':'ok','exitCode':0,'signal':null,"
     "'timedOut':false,'truncated':false,'durationMs':1,'cpuMs':1,'memoryKb':1,'stdout':''}",
     CG_EPROTO_FIELD, "\"stderr\" is missing"},
    /* data, done, error, ping, hello */
    {"{'type':'stdout','id':'j','run':0}", CG_EPROTO_FIELD, "stdout frame: \"data\" is missing"},
    {"{'type':'stdin','id':'j','data':'x'}", CG_EPROTO_FIELD, "stdin frame: \"run\" is missing"},
    {"{'type':'stderr','id':'j','run':0,'data':false}", CG_EPROTO_FIELD,
     "\"data\" must be a string, not a boolean"},
    {"{'type':'stdout','id':'j','run':50,'data':''}", CG_EPROTO_FIELD, "\"run\""},
    {"{'type':'done','id':'j','runs':51}", CG_EPROTO_FIELD,
     "\"runs\" must be an integer between 0 and 50"},
    {"{'type':'error','message':'m'}", CG_EPROTO_FIELD, "error frame: \"code\" is missing"},
    {"{'type':'error','code':'','message':'m'}", CG_EPROTO_FIELD, "\"code\" must not be empty"},
    {"{'type':'error','code':'x','message':7}", CG_EPROTO_FIELD, "\"message\" must be a string"},
    {"{'type':'ping'}", CG_EPROTO_FIELD, "ping frame: \"seq\" is missing"},
    {"{'type':'pong','seq':1e300}", CG_EPROTO_FIELD, "\"seq\""},
    {"{'type':'pong','seq':0.5}", CG_EPROTO_FIELD, "\"seq\""},
    {"{'type':'drain','graceMs':-1}", CG_EPROTO_FIELD, "\"graceMs\""},
    {"{'type':'pong','seq':1,'draining':1}", CG_EPROTO_FIELD, "\"draining\""},
    {"{'type':'hello','language':'python','version':'3','slots':4}", CG_EPROTO_FIELD,
     "hello frame: \"v\" is missing"},
    {"{'type':'hello','v':1,'language':'python','version':'3','slots':0}", CG_EPROTO_FIELD,
     "\"slots\" must be an integer between 1 and 1024"},
    {"{'type':'hello','v':1,'version':'3','slots':1}", CG_EPROTO_FIELD, "\"language\" is missing"},
    {"{'type':'hello','v':1,'language':'python','slots':1}", CG_EPROTO_FIELD,
     "\"version\" is missing"},
};

static void test_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        memset(&m, 0xA5, sizeof m);
        int rc = parse_q(rejects[i].frame);
        if (rc != rejects[i].rc || !strstr(errbuf, rejects[i].msg))
            fail_msg("frame %zu %s: rc %d, want %d; message \"%s\", want \"%s\"", i,
                     rejects[i].frame, rc, rejects[i].rc, errbuf, rejects[i].msg);
        assert_null(root);
        assert_int_equal(m.type, CG_MSG_UNKNOWN); /* zeroed on failure */
        assert_null(m.id);
    }
}

/* Builds an execute frame with n entries in "runs" or "args". */
static char *frame_with(const char *member, int n, const char *entry)
{
    size_t cap = 256 + (size_t)n * (strlen(entry) + 1);
    char *buf = malloc(cap);
    int len = snprintf(buf, cap,
                       "{\"type\":\"execute\",\"v\":1,\"id\":\"j\",\"language\":\"py\","
                       "\"code\":\"x\",%s\"%s\":[",
                       strcmp(member, "runs") ? "\"runs\":[{}]," : "", member);
    for (int i = 0; i < n; i++)
        len += snprintf(buf + len, cap - (size_t)len, "%s%s", i ? "," : "", entry);
    snprintf(buf + len, cap - (size_t)len, "]}");
    return buf;
}

/* Builds an execute frame whose member (a JSON path written by fmt) holds a string of n 'a's. */
static char *frame_big(const char *fmt, size_t n)
{
    char *s = malloc(n + 1), *buf = malloc(n + 256);
    memset(s, 'a', n);
    s[n] = '\0';
    snprintf(buf, n + 256, fmt, s);
    free(s);
    return buf;
}

static int parse_str(const char *s)
{
    cJSON_Delete(root);
    root = NULL;
    return cg_msg_parse(s, strlen(s), &root, &m, errbuf, sizeof errbuf);
}

static void test_limits(void **state)
{
    (void)state;
    char *f = frame_with("runs", CG_MAX_RUNS, "{}");
    assert_int_equal(parse_str(f), 0);
    assert_int_equal(m.exec.nruns, CG_MAX_RUNS);
    free(f);
    f = frame_with("runs", CG_MAX_RUNS + 1, "{}");
    assert_int_equal(parse_str(f), CG_EPROTO_TOOBIG);
    assert_non_null(strstr(errbuf, "\"runs\" has 51 entries, more than the limit of 50"));
    free(f);

    f = frame_with("args", CG_MAX_ARGS, "\"a\"");
    assert_int_equal(parse_str(f), 0);
    assert_int_equal(m.exec.nargs, CG_MAX_ARGS);
    assert_null(m.exec.args[CG_MAX_ARGS]);
    free(f);
    f = frame_with("args", CG_MAX_ARGS + 1, "\"a\"");
    assert_int_equal(parse_str(f), CG_EPROTO_TOOBIG);
    assert_non_null(strstr(errbuf, "\"args\" has 65 entries"));
    free(f);

    static const char *const code_fmt =
        "{\"type\":\"execute\",\"v\":1,\"id\":\"j\",\"language\":\"py\",\"code\":\"%s\","
        "\"runs\":[{}]}";
    f = frame_big(code_fmt, CG_MAX_CODE_BYTES);
    assert_int_equal(parse_str(f), 0);
    assert_int_equal(m.exec.code_len, CG_MAX_CODE_BYTES);
    free(f);
    f = frame_big(code_fmt, CG_MAX_CODE_BYTES + 1);
    assert_int_equal(parse_str(f), CG_EPROTO_TOOBIG);
    assert_non_null(strstr(errbuf, "\"code\" is 262145 bytes, more than the limit of 262144"));
    free(f);

    static const char *const arg_fmt =
        "{\"type\":\"execute\",\"v\":1,\"id\":\"j\",\"language\":\"py\",\"code\":\"\","
        "\"runs\":[{}],\"args\":[\"x\",\"%s\"]}";
    f = frame_big(arg_fmt, CG_MAX_ARG_BYTES);
    assert_int_equal(parse_str(f), 0);
    free(f);
    f = frame_big(arg_fmt, CG_MAX_ARG_BYTES + 1);
    assert_int_equal(parse_str(f), CG_EPROTO_TOOBIG);
    assert_non_null(strstr(errbuf, "\"args[1]\" is longer than the limit of 4096 bytes"));
    free(f);

    static const char *const in_fmt =
        "{\"type\":\"execute\",\"v\":1,\"id\":\"j\",\"language\":\"py\",\"code\":\"\","
        "\"runs\":[{},{\"input\":\"%s\"}]}";
    f = frame_big(in_fmt, CG_MAX_INPUT_BYTES);
    assert_int_equal(parse_str(f), 0);
    assert_int_equal(m.exec.runs[1].input_len, CG_MAX_INPUT_BYTES);
    free(f);
    f = frame_big(in_fmt, CG_MAX_INPUT_BYTES + 1);
    assert_int_equal(parse_str(f), CG_EPROTO_TOOBIG);
    assert_non_null(strstr(errbuf, "\"runs[1].input\" is 8388609 bytes"));
    free(f);

    /* The frame size is checked before a byte is read. */
    cJSON *r = (cJSON *)1;
    assert_int_equal(
        cg_msg_parse("{}", (size_t)CG_MAX_FRAME_BYTES + 1, &r, &m, errbuf, sizeof errbuf),
        CG_EPROTO_TOOBIG);
    assert_null(r);
    assert_non_null(strstr(errbuf, "more than the limit"));
}

static void test_unknown_and_errbuf(void **state)
{
    (void)state;
    /* Unknown types parse (forward compatibility); the id is still checked when present. */
    assert_int_equal(parse_q("{'type':'teleport','to':'mars'}"), 0);
    assert_int_equal(m.type, CG_MSG_UNKNOWN);
    assert_non_null(root);
    assert_int_equal(parse_q("{'type':'teleport','id':'x1'}"), 0);
    assert_string_equal(m.id, "x1");
    /* hello, ping and pong have no id: one given is ignored like any unknown member. */
    assert_int_equal(parse_q("{'type':'ping','seq':1,'id':'a b'}"), 0);
    assert_null(m.id);
    assert_int_equal(parse_q("{'type':'hello','v':1,'language':'c','version':'','slots':1,"
                             "'id':'j'}"),
                     0);
    assert_null(m.id);
    /* Interactive runs (sessions) may last up to CG_MAX_SESSION_MS, batch runs not. */
    assert_int_equal(parse_q("{'type':'execute','v':1,'id':'j','language':'py','code':'x',"
                             "'interactive':true,'runs':[{'timeoutMs':3600000}]}"),
                     0);
    assert_int_equal(m.exec.runs[0].timeout_ms, CG_MAX_SESSION_MS);
    assert_int_equal(parse_q("{'type':'execute','v':1,'id':'j','language':'py','code':'x',"
                             "'runs':[{'timeoutMs':3600000}],'interactive':true}"),
                     0); /* member order does not matter */
    assert_int_equal(parse_q("{'type':'execute','v':1,'id':'j','language':'py','code':'x',"
                             "'interactive':true,'runs':[{'timeoutMs':3600001}]}"),
                     CG_EPROTO_FIELD);
    assert_non_null(strstr(errbuf, "between 1 and 3600000"));
    assert_int_equal(parse_q("{'type':'execute','v':1,'id':'j','language':'py','code':'x',"
                             "'interactive':false,'runs':[{'timeoutMs':30001}]}"),
                     CG_EPROTO_FIELD);
    /* Leading/trailing whitespace is fine; unknown members are ignored. */
    assert_int_equal(parse_q(" \n{'type':'cancel','id':'j','extra':{'a':[1]}}\r\n "), 0);
    assert_int_equal(m.type, CG_MSG_CANCEL);

    /* A tiny or absent error buffer is safe and a success clears the buffer. */
    char small[8];
    cJSON *r = NULL;
    assert_int_equal(cg_msg_parse("{\"type\":\"cancel\"}", 17, &r, &m, small, sizeof small),
                     CG_EPROTO_FIELD);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(cg_msg_parse("{\"type\":\"cancel\"}", 17, &r, &m, NULL, 0), CG_EPROTO_FIELD);
    assert_int_equal(cg_msg_parse(NULL, 0, &r, &m, NULL, 0), CG_EPROTO_JSON);
    assert_int_equal(parse_q("{'type':'cancel','id':'j'}"), 0);
    assert_string_equal(errbuf, "");
    /* The first error is the one reported. */
    assert_int_equal(parse_q("{'type':'error','id':'a b','code':5}"), CG_EPROTO_FIELD);
    assert_non_null(strstr(errbuf, "\"id\""));
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < CG_ST__COUNT; i++)
        assert_int_equal(cg_status_parse(cg_status_name((cg_status_t)i)), i);
    assert_string_equal(cg_status_name(CG_ST_MEMORY_LIMIT), "memory_limit");
    assert_string_equal(cg_status_name(CG_ST__COUNT), "internal_error");
    assert_int_equal(cg_status_parse("nope"), -1);
    assert_int_equal(cg_status_parse(NULL), -1);

    static const int sigs[] = {SIGKILL, SIGSEGV, SIGABRT, SIGFPE, SIGXCPU, SIGXFSZ,
                               SIGPIPE, SIGBUS,  SIGTERM, SIGSYS, SIGILL,  SIGALRM};
    static const char *const names[] = {"SIGKILL", "SIGSEGV", "SIGABRT", "SIGFPE",
                                        "SIGXCPU", "SIGXFSZ", "SIGPIPE", "SIGBUS",
                                        "SIGTERM", "SIGSYS",  "SIGILL",  "SIGALRM"};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        assert_string_equal(cg_signal_name(sigs[i]), names[i]);
    assert_null(cg_signal_name(0));
    assert_string_equal(cg_signal_name(99), "SIGUNKNOWN");

    /* Every type name maps back to its type. */
    for (int t = CG_MSG_HELLO; t <= CG_MSG_PONG; t++) {
        char frame[128];
        snprintf(frame, sizeof frame, "{\"type\":\"%s\"}", cg_msg_type_name((cg_msg_type_t)t));
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s frame: ", cg_msg_type_name((cg_msg_type_t)t));
        cJSON *r = NULL;
        int rc = cg_msg_parse(frame, strlen(frame), &r, &m, errbuf, sizeof errbuf);
        cJSON_Delete(r);
        /* Without members most frames fail, but as their own type, never as an unknown one. */
        if (rc == 0)
            assert_int_equal(m.type, t);
        else
            assert_memory_equal(errbuf, prefix, strlen(prefix));
    }
    assert_string_equal(cg_msg_type_name(CG_MSG_CLOSE_STDIN), "close_stdin");
    assert_string_equal(cg_msg_type_name((cg_msg_type_t)99), "unknown");

    static const int errs[] = {
        0, CG_EPROTO_JSON, CG_EPROTO_TYPE, CG_EPROTO_FIELD, CG_EPROTO_TOOBIG, CG_EPROTO_NOMEM, -1};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(cg_proto_strerror(errs[i]), cg_proto_strerror(errs[j]));
}

static void test_id_valid(void **state)
{
    (void)state;
    char id[80];

    assert_true(cg_id_valid("a"));
    assert_true(cg_id_valid("Az09_-"));
    assert_false(cg_id_valid(NULL));
    assert_false(cg_id_valid(""));
    assert_false(cg_id_valid("a/b"));
    assert_false(cg_id_valid("a.b"));
    assert_false(cg_id_valid("a b"));
    assert_false(cg_id_valid("\xC3\xA9"));
    memset(id, 'a', 65);
    id[65] = '\0';
    assert_false(cg_id_valid(id));
    id[64] = '\0';
    assert_true(cg_id_valid(id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_execute_round_trip, teardown),
        cmocka_unit_test_teardown(test_execute_defaults, teardown),
        cmocka_unit_test_teardown(test_outcome_round_trip, teardown),
        cmocka_unit_test_teardown(test_small_frames, teardown),
        cmocka_unit_test_teardown(test_encoders_keep_wire_utf8, teardown),
        cmocka_unit_test_teardown(test_rejects, teardown),
        cmocka_unit_test_teardown(test_limits, teardown),
        cmocka_unit_test_teardown(test_unknown_and_errbuf, teardown),
        cmocka_unit_test_teardown(test_names, teardown),
        cmocka_unit_test_teardown(test_id_valid, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
