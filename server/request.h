/*
 * request.h - parsing and validating the body of POST /api/code/execute.
 *
 * request_parse() turns the JSON body into a request_t with every default applied, or explains
 * precisely what is wrong (which field, and why: missing, wrong type, out of range, too large).
 *
 * Ownership: request_t owns all its strings (malloc'ed copies); release with request_free(),
 * which also accepts a zeroed or partially filled request. Not shared between threads while
 * being filled.
 */
#ifndef CG_REQUEST_H
#define CG_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "lang.h"
#include "protocol.h"

/* pool.c's name for LANG_COUNT. */
#define REQUEST_NLANG LANG_COUNT

typedef struct {
    char *input; /* may be NULL: empty stdin */
    size_t input_len;
    char *expected; /* may be NULL: no expectation (then passed = status ok) */
    size_t expected_len;
    int timeout_ms; /* defaults to the request's timeoutMs */
} request_test_t;

/* A file given next to the code (files.h). */
typedef struct {
    char *name;
    char *b64; /* its contents, base64-encoded as they travel to the executor */
    size_t b64_len;
    size_t size; /* decoded bytes */
} request_file_t;

typedef struct {
    const char *language; /* canonical static string: a lang_table[] name */
    char *code;
    size_t code_len;
    char *input; /* may be NULL */
    size_t input_len;
    char **args; /* nargs strings, may be NULL when nargs == 0 */
    int nargs;
    char **options; /* noptions strings of the language's allow-list, NULL when none */
    int noptions;
    int timeout_ms; /* default CG_DEFAULT_TIMEOUT_MS, range [1, CG_MAX_TIMEOUT_MS] */
    int memory_mb;  /* default CG_DEFAULT_MEMORY_MB, range [CG_MIN_MEMORY_MB, CG_MAX_MEMORY_MB] */
    request_test_t *tests; /* ntests entries or NULL */
    int ntests;            /* 0 .. CG_MAX_RUNS */
    bool submit;           /* mode: "submit" (stop at first failure) vs "run" */
    bool exact;            /* compare: "exact" vs "trim" */
    request_file_t *files; /* nfiles entries or NULL */
    int nfiles;
} request_t;

/* What is wrong with a request: HTTP status, API error code, a message for humans, and the
 * field it concerns ("" for the whole body). */
typedef struct {
    int http_status; /* 400 or 413 */
    const char
        *code; /* "invalid_json", "invalid_request", "unsupported_language", "payload_too_large" */
    char field[64];
    char reason[32]; /* "missing", "type", "range", "too_large", "value", "" */
    char message[256];
    const lang_t *lang; /* a refused option: the language whose allowed options to list */
} request_error_t;

/* Returns 0 and fills req, or -1 and fills err (req is then freed/zeroed). len is the real body
 * size; the body need not be NUL-terminated. */
int request_parse(const char *body, size_t len, request_t *req, request_error_t *err);

/* The limits of "files" and of what comes back from out/ (the gateway's options, clamped to
 * the hard maxima of files.h). Set once at start-up before any thread parses a request (the
 * defaults of files.h hold until then); read-only afterwards. */
void request_set_file_limits(const cg_files_limits_t *in, const cg_out_limits_t *out);
const cg_files_limits_t *request_file_limits(void);
const cg_out_limits_t *request_out_limits(void);

/* Parses the optional member "files" of obj into req (also used for session start frames).
 * 0, or -1 with err filled. */
int request_parse_files(const cJSON *obj, request_t *req, request_error_t *err);
void request_free(request_t *req);

/* The "options" member (value: the member, NULL when absent) of a request for language l:
 * checked with lang_options_check() and copied into req->options. 0, or -1 and err (400
 * invalid_request naming the entry and the allowed values). Also used for session starts. */
int request_parse_options(const cJSON *value, const lang_t *l, request_t *req,
                          request_error_t *err);

/* Builds the "details" object for an error (field, reason, and for unsupported_language the
 * list of supported languages, for a refused option the allowed ones). Returns a new cJSON object
 * the caller deletes. */
cJSON *request_error_details(const request_error_t *err);

#endif
