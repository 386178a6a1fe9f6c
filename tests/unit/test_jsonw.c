/*
 * test_jsonw.c - the JSON escaper and writer of jsonw.h against a plain byte-by-byte reference
 * escaper: every byte value, every position of an escaped byte around the 8-byte words of the
 * fast path, random mixes, 0 bytes and 16 MiB. Output buffers are allocated at exactly
 * cg_json_escaped_len(), so under ASan any overrun fails the test. Also: quoted texts parse back
 * (cJSON) to the input, the writer's objects parse, output frames (protocol.c) carry control
 * characters and invalid UTF-8 correctly, and cg_utf8_valid's ASCII fast path sees a NUL or a
 * high byte at any offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "jsonw.h"
#include "protocol.h"
#include "utf8.h"

/* The reference: what RFC 8259 requires, written the slow and obvious way. */
static size_t ref_escape(char *dst, const unsigned char *s, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        const char *sh = c == '"'    ? "\\\""
                         : c == '\\' ? "\\\\"
                         : c == '\b' ? "\\b"
                         : c == '\f' ? "\\f"
                         : c == '\n' ? "\\n"
                         : c == '\r' ? "\\r"
                         : c == '\t' ? "\\t"
                                     : NULL;
        if (sh) {
            memcpy(dst + o, sh, 2);
            o += 2;
        } else if (c < 0x20) {
            o += (size_t)sprintf(dst + o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    return o;
}

/* Escapes s with jsonw into an exact-size buffer and compares with the reference. */
static void check_same(const unsigned char *s, size_t len)
{
    size_t n = cg_json_escaped_len((const char *)s, len);
    char *got = malloc(n ? n : 1), *want = malloc(len * 6 + 1);

    assert_non_null(got);
    assert_non_null(want);
    size_t wn = ref_escape(want, s, len);
    assert_int_equal(n, wn);
    assert_int_equal(cg_json_escape(got, (const char *)s, len), n);
    assert_memory_equal(got, want, n ? n : 0);
    free(got);
    free(want);
}

static void every_byte_value(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        unsigned char b = (unsigned char)c;
        check_same(&b, 1);
    }
    unsigned char all[256];
    for (int c = 0; c < 256; c++)
        all[c] = (unsigned char)c;
    check_same(all, sizeof all);
}

/* An escaped byte at each offset of buffers of 0..40 bytes: the word loop's edges. */
static void every_position(void **state)
{
    static const unsigned char special[] = {0, 1, '\n', 0x1f, '"', '\\', 0x7f, 0x80, 0xff, ' '};

    (void)state;
    for (size_t len = 0; len <= 40; len++) {
        unsigned char *buf = malloc(len ? len : 1);
        assert_non_null(buf);
        memset(buf, 'a', len);
        check_same(buf, len);
        for (size_t pos = 0; pos < len; pos++)
            for (size_t k = 0; k < sizeof special; k++) {
                memset(buf, 'a', len);
                buf[pos] = special[k];
                check_same(buf, len);
            }
        free(buf);
    }
}

static void random_mixes(void **state)
{
    unsigned seed = 12345;

    (void)state;
    for (int round = 0; round < 300; round++) {
        size_t len = (size_t)(rand_r(&seed) % 3000);
        unsigned char *buf = malloc(len + 1);
        int mode = round % 3;
        assert_non_null(buf);
        for (size_t i = 0; i < len; i++) {
            int r = rand_r(&seed);
            /* mode 0: any byte; 1: mostly plain text; 2: mostly control characters */
            buf[i] = mode == 0   ? (unsigned char)r
                     : mode == 1 ? (unsigned char)(r % 50 ? 'a' + r % 26 : r % 40)
                                 : (unsigned char)(r % 5 ? r % 32 : '"');
        }
        check_same(buf, len);
        free(buf);
    }
}

static void zero_bytes_and_null(void **state)
{
    char out[8] = "xxxxxxx";
    size_t n;

    (void)state;
    assert_int_equal(cg_json_escaped_len("", 0), 0);
    assert_int_equal(cg_json_escape(out, "", 0), 0);
    assert_int_equal(out[0], 'x');
    char *q = cg_json_quote("", 0, &n);
    assert_non_null(q);
    assert_string_equal(q, "\"\"");
    assert_int_equal(n, 2);
    free(q);
    /* an embedded NUL is a control character like the others */
    q = cg_json_quote("a\0b", 3, &n);
    assert_string_equal(q, "\"a\\u0000b\"");
    assert_int_equal(n, 10);
    free(q);
}

static void huge(void **state)
{
    size_t len = 16u * 1024 * 1024;
    char *buf = malloc(len);

    (void)state;
    assert_non_null(buf);
    memset(buf, 'x', len);
    assert_int_equal(cg_json_escaped_len(buf, len), len);
    memset(buf, 1, len);
    assert_int_equal(cg_json_escaped_len(buf, len), len * 6);
    check_same((const unsigned char *)buf, len);
    free(buf);
}

/* Valid UTF-8 quoted by jsonw parses back to itself. */
static void quote_parses_back(void **state)
{
    char text[200];
    size_t n = 0;

    (void)state;
    for (int c = 1; c < 128; c++)
        text[n++] = (char)c;
    memcpy(text + n, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9); /* é € 😀 */
    n += 9;
    text[n] = '\0';
    char *q = cg_json_quote(text, n, NULL);
    assert_non_null(q);
    cJSON *v = cJSON_Parse(q);
    assert_non_null(v);
    assert_true(cJSON_IsString(v));
    assert_string_equal(v->valuestring, text);
    cJSON_Delete(v);
    free(q);
}

static void writer_objects(void **state)
{
    cg_jw_t w;

    (void)state;
    cg_jw_begin(&w, 0);
    char *s = cg_jw_finish(&w);
    assert_string_equal(s, "{}");
    free(s);
    cg_jw_begin(&w, 1); /* grows from a tiny buffer */
    cg_jw_str(&w, "a", "x\"y", 3);
    cg_jw_str(&w, "nul", NULL, 5);
    cg_jw_int(&w, "min", INT64_MIN);
    cg_jw_int(&w, "max", INT64_MAX);
    cg_jw_bool(&w, "t", true);
    cg_jw_bool(&w, "f", false);
    cg_jw_null(&w, "z");
    s = cg_jw_finish(&w);
    assert_string_equal(s, "{\"a\":\"x\\\"y\",\"nul\":\"\",\"min\":-9223372036854775808,"
                           "\"max\":9223372036854775807,\"t\":true,\"f\":false,\"z\":null}");
    cJSON *v = cJSON_Parse(s);
    assert_non_null(v);
    cJSON_Delete(v);
    free(s);
}

/* RESULT and STDOUT frames written by jsonw parse with the protocol's own decoder. */
static void output_frames_round_trip(void **state)
{
    char ctl[40];
    cg_outcome_t oc;
    cJSON *root;
    cg_msg_t m;
    char err[160];

    (void)state;
    for (int i = 0; i < 31; i++)
        ctl[i] = (char)(i + 1);
    ctl[31] = '"';
    ctl[32] = '\\';
    ctl[33] = '\0';
    memset(&oc, 0, sizeof oc);
    oc.run = 2;
    oc.status = CG_ST_RUNTIME_ERROR;
    oc.exit_code = -1;
    oc.signal = 9;
    oc.duration_ms = 12;
    oc.memory_kb = 1 << 20;
    oc.out = ctl;
    oc.err = "bad \xff byte";
    char *f = cg_encode_outcome(CG_MSG_RESULT, "job-1", &oc);
    assert_non_null(f);
    assert_int_equal(cg_msg_parse(f, strlen(f), &root, &m, err, sizeof err), 0);
    assert_int_equal(m.type, CG_MSG_RESULT);
    assert_string_equal(m.id, "job-1");
    assert_int_equal(m.outcome.run, 2);
    assert_int_equal(m.outcome.signal, 9);
    assert_int_equal(m.outcome.exit_code, -1);
    assert_int_equal(m.outcome.memory_kb, 1 << 20);
    assert_string_equal(m.outcome.out, ctl);
    assert_string_equal(m.outcome.err, "bad \xEF\xBF\xBD byte");
    cJSON_Delete(root);
    free(f);
    f = cg_encode_data(CG_MSG_STDOUT, "job-1", 0, "a\0b", 3);
    assert_non_null(f);
    assert_int_equal(cg_msg_parse(f, strlen(f), &root, &m, err, sizeof err), 0);
    assert_string_equal(m.data, "a\xEF\xBF\xBD"
                                "b");
    cJSON_Delete(root);
    free(f);
}

static void utf8_valid_fast_path(void **state)
{
    unsigned char buf[40];

    (void)state;
    for (size_t len = 0; len <= sizeof buf; len++) {
        memset(buf, 'a', sizeof buf);
        assert_true(cg_utf8_valid(buf, len));
        for (size_t pos = 0; pos < len; pos++) {
            memset(buf, 'a', sizeof buf);
            buf[pos] = 0;
            assert_false(cg_utf8_valid(buf, len));
            buf[pos] = 0xff;
            assert_false(cg_utf8_valid(buf, len));
            buf[pos] = 0x7f;
            assert_true(cg_utf8_valid(buf, len));
            if (pos + 2 <= len) {
                buf[pos] = 0xC3;
                buf[pos + 1] = 0xA9;
                assert_true(cg_utf8_valid(buf, len));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_byte_value),
        cmocka_unit_test(every_position),
        cmocka_unit_test(random_mixes),
        cmocka_unit_test(zero_bytes_and_null),
        cmocka_unit_test(huge),
        cmocka_unit_test(quote_parses_back),
        cmocka_unit_test(writer_objects),
        cmocka_unit_test(output_frames_round_trip),
        cmocka_unit_test(utf8_valid_fast_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
