/*
 * test_jsonbig.c - the parse of big top-level strings (common/jsonbig.c): a RESULT frame of
 * the encoder is cut (its stdout and stderr), parsed to the same tree as cJSON's, with its end;
 * every escape jsonw.c writes comes back; what the fast path does not take (\u escapes other
 * than control bytes, a key with an escape, a key twice, a nested long string, bad JSON) gives
 * cJSON's own answer; an escaped quote or backslash run at a cut's edge is found as cJSON
 * finds it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/jsonbig.c"
#include "jsonw.h"
#include "protocol.h"

/* cg_json_parse_big and cJSON agree on buf: both NULL, or the same tree and end. */
static void same_as_cjson(const char *buf, size_t len)
{
    const char *end = NULL;
    size_t off = 12345;
    cJSON *a = cg_json_parse_big(buf, len, &off);
    cJSON *b = cJSON_ParseWithLengthOpts(buf, len, &end, false);

    assert_int_equal(a == NULL, b == NULL);
    if (b) {
        /* Printed, not cJSON_Compare: that looks members up by name, wrong for a key twice. */
        char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
        assert_non_null(pa);
        assert_non_null(pb);
        assert_string_equal(pa, pb);
        free(pa);
        free(pb);
        assert_int_equal(off, (size_t)(end - buf));
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* A long text (valid UTF-8) with every byte jsonw.c escapes, and plain runs between them. */
static char *long_text(size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = i % 97 == 5 ? (char)(1 + i % 31) : "ab\"\\/c\n\t\r\b\fz!"[i % 13];
    s[n] = '\0';
    return s;
}

static void test_result_frame_cut(void **state)
{
    (void)state;
    char *out = long_text(200000), *err = long_text(JSONBIG_MIN + 3);
    cg_outcome_t o = {.run = 0, .status = CG_ST_OK, .out = out, .err = err, .duration_ms = 7};
    char *frame = cg_encode_outcome(CG_MSG_RESULT, "job-1", &o);
    cuts_t cuts;
    size_t off = 0;

    assert_non_null(frame);
    assert_true(scan_object(frame, strlen(frame), &cuts));
    assert_int_equal(cuts.n, 2);
    cJSON *t = cg_json_parse_big(frame, strlen(frame), &off);
    assert_non_null(t);
    assert_int_equal(off, strlen(frame));
    assert_string_equal(cJSON_GetObjectItem(t, "stdout")->valuestring, out);
    assert_string_equal(cJSON_GetObjectItem(t, "stderr")->valuestring, err);
    assert_int_equal(cJSON_GetObjectItem(t, "durationMs")->valueint, 7);
    cJSON_Delete(t);
    same_as_cjson(frame, strlen(frame));

    /* Parsed as a frame, with whitespace after it. */
    cJSON *root = NULL;
    cg_msg_t m;
    char errbuf[128];
    size_t n = strlen(frame);
    frame = realloc(frame, n + 3);
    memcpy(frame + n, " \n", 3);
    assert_int_equal(cg_msg_parse(frame, n + 2, &root, &m, errbuf, sizeof errbuf), 0);
    assert_string_equal(m.outcome.out, out);
    cJSON_Delete(root);
    free(frame);
    free(out);
    free(err);
}

/* {"k":"<pad><tail>",<rest>} with pad long enough to be cut. */
static char *frame_with(const char *tail, const char *rest)
{
    size_t pad = JSONBIG_MIN + 10, n = pad + strlen(tail) + strlen(rest) + 16;
    char *f = malloc(n);

    assert_non_null(f);
    strcpy(f, "{\"k\":\"");
    memset(f + 6, 'p', pad);
    snprintf(f + 6 + pad, n - 6 - pad, "%s\"%s}", tail, rest);
    return f;
}

static void test_edges_and_fallbacks(void **state)
{
    (void)state;
    static const char *const tails[] = {
        "\\\\",                  /* a backslash run of two before the closing quote */
        "\\\"x",                 /* an escaped quote inside */
        "\\\\\\\"y\\\\",         /* odd and even runs */
        "\\u0041",               /* \u other than a control byte: cJSON decides */
        "\\u001F\\u0001",        /* control bytes, upper-case hex */
        "\\ud83d\\ude00",        /* a surrogate pair: cJSON decides */
        "\\x",                   /* an unknown escape: both refuse */
        "\\u00",                 /* a short \u: both refuse */
        "\\u0000",               /* NUL: cJSON decides */
        "\x01\x1f raw controls", /* raw control bytes: taken as they are */
    };
    static const char *const rests[] = {
        "",
        ",\"a\":[1,{\"b\":\"}\"},\"]\"],\"n\":-1.5e3,\"t\":true,\"z\":null",
        ",\"k\":\"again\"",        /* the key twice */
        ",\"k\\u0041\":1",         /* a key with an escape */
        ",\"o\":{\"deep\":\"x\"}", /* nested */
        ",,",                      /* bad JSON */
        ",\"a\":tru",              /* bad literal */
    };

    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++)
        for (size_t k = 0; k < sizeof rests / sizeof rests[0]; k++) {
            char *f = frame_with(tails[i], rests[k]);
            same_as_cjson(f, strlen(f));
            /* Cut short anywhere near the end: still the same answer. */
            for (size_t cut = 1; cut < 12; cut++)
                same_as_cjson(f, strlen(f) - cut);
            free(f);
        }
}

static void test_nested_long_string_not_cut(void **state)
{
    (void)state;
    size_t pad = JSONBIG_MIN * 2;
    char *f = malloc(pad + 32);
    cuts_t cuts;

    assert_non_null(f);
    strcpy(f, "{\"o\":{\"s\":\"");
    memset(f + 11, 'q', pad);
    strcpy(f + 11 + pad, "\"}}");
    assert_true(scan_object(f, strlen(f), &cuts));
    assert_int_equal(cuts.n, 0);
    same_as_cjson(f, strlen(f));
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_frame_cut),
        cmocka_unit_test(test_edges_and_fallbacks),
        cmocka_unit_test(test_nested_long_string_not_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
