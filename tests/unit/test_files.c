/*
 * test_files.c - the rules of given files (names), MIME types and base64 (common/files.c),
 * and the gateway's "files" member (server/request.c) and its EXECUTE frame round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "files.h"
#include "lang.h"
#include "protocol.h"
#include "request.h"

static const char *rule(const char *name)
{
    return cg_file_name_rule(name, strlen(name), 128, 8, lang_get("python"));
}

static void good_names(void **state)
{
    (void)state;
    const char *ok[] = {"util.py", "a/b/c.txt", "data.csv",        "x",       "A-b_c+d.e", "..a",
                        "a..b",    ".hidden",   "pkg/__init__.py", "out.txt", "outx/y",    NULL};
    for (int i = 0; ok[i]; i++)
        assert_null(rule(ok[i]));
    assert_null(cg_file_name_rule("main.py", 7, 128, 8, lang_get("cpp"))); /* not C++'s entry */
}

static void hostile_names(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "/etc/passwd",
                         "../x",
                         "a/../../x",
                         ".",
                         "..",
                         "a/.",
                         "a//b",
                         "a/",
                         "/",
                         "a b",
                         "a\tb",
                         "a\nb",
                         "a\x01"
                         "b",
                         "a\x7f",
                         "caf\xc3\xa9",
                         "a\xe2\x88\x95"
                         "b",
                         "\xe2\x80\xae"
                         "gnp.py",
                         "\xef\xbc\x8e\xef\xbc\x8e/x",
                         "a\\b",
                         "-o",
                         "a/-rf",
                         "main.py",
                         "_codegate_mpl.py",
                         "out",
                         "out/x",
                         ".codegate-x",
                         "a/.codegate",
                         "a/b/c/d/e/f/g/h/i",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        const char *why = rule(bad[i]);
        if (!why)
            fail_msg("accepted %s", bad[i]);
    }
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_string_equal(rule(longname), "is too long");
    assert_non_null(cg_file_name_rule("a\0b", 3, 128, 8, NULL)); /* NUL inside */
    assert_non_null(cg_file_name_rule("main", 4, 128, 8, lang_get("cpp")));
    assert_non_null(cg_file_name_rule(".codegate-stdio.js", 18, 128, 8, lang_get("javascript")));
    assert_null(cg_file_name_rule("a/b/c/d/e/f/g/h", 15, 128, 8, NULL)); /* 8 levels */
}

static void clashes(void **state)
{
    (void)state;
    assert_true(cg_file_name_clash("a", 1, "a/b", 3));
    assert_false(cg_file_name_clash("a", 1, "ab/c", 4));
    assert_false(cg_file_name_clash("a/b", 3, "a", 1));
    assert_false(cg_file_name_clash("a", 1, "a", 1));
}

static void mime_types(void **state)
{
    (void)state;
    const unsigned char png[] = "\x89PNG\r\n\x1a\nxxxx", jpg[] = "\xff\xd8\xff\xe0",
                        pdf[] = "%PDF-1.4";
    assert_string_equal(cg_mime_type("a.png", NULL, 0), "image/png");
    assert_string_equal(cg_mime_type("a/b.JPG", NULL, 0), "image/jpeg");
    assert_string_equal(cg_mime_type("a.jpeg", NULL, 0), "image/jpeg");
    assert_string_equal(cg_mime_type("a.gif", NULL, 0), "image/gif");
    assert_string_equal(cg_mime_type("a.svg", NULL, 0), "image/svg+xml");
    assert_string_equal(cg_mime_type("a.pdf", NULL, 0), "application/pdf");
    assert_string_equal(cg_mime_type("a.csv", NULL, 0), "text/csv");
    assert_string_equal(cg_mime_type("a.txt", NULL, 0), "text/plain");
    assert_string_equal(cg_mime_type("a.json", NULL, 0), "application/json");
    assert_string_equal(cg_mime_type("noext", png, 12), "image/png");
    assert_string_equal(cg_mime_type("x.bin", jpg, 4), "image/jpeg");
    assert_string_equal(cg_mime_type("x", (const unsigned char *)"GIF89a..", 8), "image/gif");
    assert_string_equal(cg_mime_type("x", pdf, 8), "application/pdf");
    assert_string_equal(cg_mime_type("d.png/x", NULL, 0), "application/octet-stream");
    assert_string_equal(cg_mime_type("x", (const unsigned char *)"\x89PN", 3),
                        "application/octet-stream");
}

static void base64_round_trip(void **state)
{
    (void)state;
    const char *vec[][2] = {{"", ""},
                            {"f", "Zg=="},
                            {"fo", "Zm8="},
                            {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="},
                            {"fooba", "Zm9vYmE="},
                            {"foobar", "Zm9vYmFy"}};
    unsigned char out[64];
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        size_t n;
        char *e = cg_b64_encode(vec[i][0], strlen(vec[i][0]), &n);
        assert_non_null(e);
        assert_string_equal(e, vec[i][1]);
        assert_int_equal(n, strlen(vec[i][1]));
        free(e);
        long d = cg_b64_decode(vec[i][1], strlen(vec[i][1]), out);
        assert_int_equal(d, (long)strlen(vec[i][0]));
        assert_memory_equal(out, vec[i][0], (size_t)d);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *e = cg_b64_encode(all, sizeof all, NULL);
    unsigned char back[CG_B64_DECODED_MAX(400)];
    assert_int_equal(cg_b64_decode(e, strlen(e), back), 256);
    assert_memory_equal(all, back, 256);
    free(e);
    const char *bad[] = {"Zg=", "Zg", "Z===", "Zm9v\n", "Zm 9", "Zg==Zg==", "Zm9*", "=Zg=", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(cg_b64_decode(bad[i], strlen(bad[i]), out), -1);
}

/* ---- the gateway's "files" ---- */

static int parse(const char *body, request_t *r, request_error_t *e)
{
    return request_parse(body, strlen(body), r, e);
}

static void request_files(void **state)
{
    (void)state;
    request_t r;
    request_error_t e;

    assert_int_equal(parse("{\"language\":\"python\",\"code\":\"x\",\"files\":["
                           "{\"name\":\"a.py\",\"content\":\"hi\"},"
                           "{\"name\":\"d/b.bin\",\"content\":\"AAH/\",\"encoding\":\"base64\"}]}",
                           &r, &e),
                     0);
    assert_int_equal(r.nfiles, 2);
    assert_string_equal(r.files[0].name, "a.py");
    assert_string_equal(r.files[0].b64, "aGk=");
    assert_int_equal(r.files[0].size, 2);
    assert_string_equal(r.files[1].b64, "AAH/");
    assert_int_equal(r.files[1].size, 3);

    /* The EXECUTE frame carries them; the executor's decoder checks the names again. */
    cg_file_t fv[2] = {{r.files[0].name, r.files[0].b64, r.files[0].b64_len},
                       {r.files[1].name, r.files[1].b64, r.files[1].b64_len}};
    cg_execute_t ex = {.id = "j1",
                       .language = "python",
                       .code = "x",
                       .code_len = 1,
                       .nruns = 1,
                       .memory_mb = 64,
                       .output_limit = 100,
                       .files = fv,
                       .nfiles = 2,
                       .out = {3, 100, 200}};
    ex.runs[0].timeout_ms = 1000;
    char *frame = cg_encode_execute(&ex);
    cJSON *root;
    cg_msg_t *m = calloc(1, sizeof *m);
    char err[256];
    assert_int_equal(cg_msg_parse(frame, strlen(frame), &root, m, err, sizeof err), 0);
    assert_int_equal(m->exec.nfiles, 2);
    assert_string_equal(m->exec.files[1].name, "d/b.bin");
    assert_string_equal(m->exec.files[1].b64, "AAH/");
    assert_int_equal(m->exec.out.max_files, 3);
    assert_int_equal(m->exec.out.max_bytes, 200);
    cJSON_Delete(root);
    free(frame);

    /* A hostile name on the wire is refused by the decoder too. */
    fv[0].name = "../evil";
    ex.nfiles = 1;
    frame = cg_encode_execute(&ex);
    assert_int_not_equal(cg_msg_parse(frame, strlen(frame), &root, m, err, sizeof err), 0);
    assert_non_null(strstr(err, "files[0].name"));
    free(frame);
    free(m);
    request_free(&r);
}

/* Frames without the new members (an older peer) still decode; DONE carries the out/ files. */
static void frames_old_and_done(void **state)
{
    (void)state;
    const char *old = "{\"type\":\"execute\",\"v\":1,\"id\":\"j\",\"language\":\"cpp\","
                      "\"code\":\"x\",\"runs\":[{}]}";
    cg_msg_t *m = calloc(1, sizeof *m);
    cJSON *root;
    char err[256];

    assert_int_equal(cg_msg_parse(old, strlen(old), &root, m, err, sizeof err), 0);
    assert_int_equal(m->exec.nfiles, 0);
    assert_int_equal(m->exec.out.max_files, CG_DEFAULT_OUT_FILES);
    assert_int_equal(m->exec.out.max_bytes, CG_DEFAULT_OUT_FILES_KB * 1024);
    cJSON_Delete(root);

    const char *done = "{\"type\":\"done\",\"id\":\"j\",\"runs\":1}";
    assert_int_equal(cg_msg_parse(done, strlen(done), &root, m, err, sizeof err), 0);
    assert_null(m->files);
    assert_null(m->files_omitted);
    cJSON_Delete(root);

    cJSON *files = cJSON_Parse("[{\"name\":\"a.txt\",\"size\":1,\"mimeType\":\"text/plain\","
                               "\"content\":\"eA==\"}]");
    cJSON *om = cJSON_Parse("[{\"name\":\"l\",\"reason\":\"symlink\"}]");
    char *frame = cg_encode_done_files("j", 1, false, files, om);
    assert_non_null(frame);
    assert_int_equal(cg_msg_parse(frame, strlen(frame), &root, m, err, sizeof err), 0);
    assert_int_equal(cJSON_GetArraySize(m->files), 1);
    assert_string_equal(cJSON_GetArrayItem(m->files_omitted, 0)->child->valuestring, "l");
    cJSON_Delete(root);
    free(frame);

    const char *bad[] = {
        "{\"type\":\"done\",\"id\":\"j\",\"files\":{}}",
        "{\"type\":\"done\",\"id\":\"j\",\"files\":[1]}",
        "{\"type\":\"done\",\"id\":\"j\",\"files\":[{\"name\":\"a\"}]}",
        "{\"type\":\"done\",\"id\":\"j\",\"files\":[{\"name\":\"a\",\"size\":\"1\","
        "\"mimeType\":\"x\",\"content\":\"\"}]}",
        "{\"type\":\"done\",\"id\":\"j\",\"filesOmitted\":[{\"name\":\"a\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(cg_msg_parse(bad[i], strlen(bad[i]), &root, m, err, sizeof err), 0);
    /* a duplicate or clashing name on the wire */
    const char *dup = "{\"type\":\"execute\",\"v\":1,\"id\":\"j\",\"language\":\"cpp\","
                      "\"code\":\"x\",\"runs\":[{}],\"files\":[{\"name\":\"a\",\"content\":\"\"},"
                      "{\"name\":\"a/b\",\"content\":\"\"}]}";
    assert_int_not_equal(cg_msg_parse(dup, strlen(dup), &root, m, err, sizeof err), 0);
    assert_non_null(strstr(err, "clashes"));
    free(m);
}

static void request_files_errors(void **state)
{
    (void)state;
    request_t r;
    request_error_t e;
    const struct {
        const char *files, *field, *text;
    } cases[] = {
        {"{}", "files", "array"},
        {"[1]", "files[0]", "object"},
        {"[{\"content\":\"x\"}]", "files[0].name", "required"},
        {"[{\"name\":\"a\"}]", "files[0].content", "required"},
        {"[{\"name\":\"a\",\"content\":1}]", "files[0].content", "string"},
        {"[{\"name\":\"../a\",\"content\":\"x\"}]", "files[0].name", "'..'"},
        {"[{\"name\":\"a\",\"content\":\"x\",\"encoding\":\"hex\"}]", "files[0].encoding", "utf8"},
        {"[{\"name\":\"a\",\"content\":\"@@@@\",\"encoding\":\"base64\"}]", "files[0].content",
         "base64"},
        {"[{\"name\":\"a\",\"content\":\"x\"},{\"name\":\"a\",\"content\":\"y\"}]", "files[1].name",
         "clashes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"language\":\"python\",\"code\":\"x\",\"files\":%s}",
                 cases[i].files);
        assert_int_equal(parse(body, &r, &e), -1);
        assert_int_equal(e.http_status, 400);
        assert_string_equal(e.field, cases[i].field);
        if (!strstr(e.message, cases[i].text))
            fail_msg("case %zu: %s", i, e.message);
    }
    /* Configured limits: count and total. */
    cg_files_limits_t in = {2, 4, 128, 8};
    cg_out_limits_t out = *request_out_limits();
    cg_files_limits_t saved = *request_file_limits();
    request_set_file_limits(&in, &out);
    assert_int_equal(parse("{\"language\":\"python\",\"code\":\"x\",\"files\":[{\"name\":\"a\","
                           "\"content\":\"1\"},{\"name\":\"b\",\"content\":\"2\"},{\"name\":\"c\","
                           "\"content\":\"3\"}]}",
                           &r, &e),
                     -1);
    assert_string_equal(e.field, "files");
    assert_int_equal(parse("{\"language\":\"python\",\"code\":\"x\",\"files\":[{\"name\":\"a\","
                           "\"content\":\"123\"},{\"name\":\"b\",\"content\":\"45\"}]}",
                           &r, &e),
                     -1);
    assert_string_equal(e.field, "files[1]");
    assert_string_equal(e.reason, "too_large");
    request_set_file_limits(&saved, &out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_names),
        cmocka_unit_test(hostile_names),
        cmocka_unit_test(clashes),
        cmocka_unit_test(mime_types),
        cmocka_unit_test(base64_round_trip),
        cmocka_unit_test(request_files),
        cmocka_unit_test(request_files_errors),
        cmocka_unit_test(frames_old_and_done),
    };
    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
