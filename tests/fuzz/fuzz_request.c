/*
 * fuzz_request.c - libFuzzer target for the HTTP body parser (server/request.c) and the output
 * judge (server/judge.c).
 *
 * The body is parsed from an exact-size copy (ASan sees any read past it). An accepted request
 * must respect every documented default and limit; a refused one must carry a complete error
 * (status, code, message, details that build). The same bytes, split in two, exercise
 * judge_equal: exact equality implies trim equality, and trim equality is symmetric.
 * Built and run by scripts/fuzz.sh (not part of make test).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "request.h"
#include "fuzz.h"

static void check_request(const request_t *r)
{
    CHECK(lang_find(r->language) && lang_find(r->language)->name == r->language);
    CHECK(r->code && strlen(r->code) == r->code_len && r->code_len <= CG_MAX_CODE_BYTES);
    CHECK(!r->input || (strlen(r->input) == r->input_len && r->input_len <= CG_MAX_INPUT_BYTES));
    CHECK(r->input || r->input_len == 0);
    CHECK(r->timeout_ms >= 1 && r->timeout_ms <= CG_MAX_TIMEOUT_MS);
    CHECK(r->memory_mb >= CG_MIN_MEMORY_MB && r->memory_mb <= CG_MAX_MEMORY_MB);
    CHECK(r->nargs >= 0 && r->nargs <= CG_MAX_ARGS && (r->nargs == 0 || r->args));
    for (int i = 0; i < r->nargs; i++)
        CHECK(r->args[i] && strlen(r->args[i]) <= CG_MAX_ARG_BYTES);
    CHECK(r->ntests >= 0 && r->ntests <= CG_MAX_RUNS && (r->ntests == 0) == (r->tests == NULL));
    for (int i = 0; i < r->ntests; i++) {
        const request_test_t *t = &r->tests[i];
        CHECK(t->timeout_ms >= 1 && t->timeout_ms <= CG_MAX_TIMEOUT_MS);
        CHECK(!t->input || strlen(t->input) == t->input_len);
        CHECK(!t->expected || strlen(t->expected) == t->expected_len);
    }
}

static void check_error(const request_error_t *e, const request_t *r)
{
    cJSON *d;

    CHECK(e->http_status == 400 || e->http_status == 413 || e->http_status == 500);
    CHECK(e->code != NULL && e->message[0] != '\0');
    CHECK(r->code == NULL && r->tests == NULL && r->args == NULL && r->input == NULL);
    d = request_error_details(e);
    if (e->field[0] || e->reason[0])
        CHECK(d != NULL);
    cJSON_Delete(d);
}

static void check_judge(const char *a, size_t alen, const char *b, size_t blen)
{
    bool exact = judge_equal(a, alen, b, blen, JUDGE_EXACT);
    bool trim = judge_equal(a, alen, b, blen, JUDGE_TRIM);

    CHECK(!exact || trim);
    CHECK(trim == judge_equal(b, blen, a, alen, JUDGE_TRIM));
    CHECK(judge_equal(a, alen, a, alen, JUDGE_TRIM));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    request_t req;
    request_error_t err;
    size_t half = size / 2;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (request_parse(buf, size, &req, &err) == 0) {
        check_request(&req);
        request_free(&req);
        CHECK(req.code == NULL && req.ntests == 0);
    } else {
        check_error(&err, &req);
    }
    free(buf);

    char *a = malloc(half ? half : 1), *b = malloc(size - half ? size - half : 1);
    if (a && b) {
        memcpy(a, data, half);
        memcpy(b, data + half, size - half);
        check_judge(a, half, b, size - half);
    }
    free(a);
    free(b);
    return 0;
}
