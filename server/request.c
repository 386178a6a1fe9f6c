/*
 * request.c - parsing and validating POST /api/code/execute bodies (see request.h).
 */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const request_languages[REQUEST_NLANG] = {"python", "javascript", "cpp"};

static const char *const aliases_python[] = {"py", "python3", NULL};
static const char *const aliases_js[] = {"js", "node", "nodejs", NULL};
static const char *const aliases_cpp[] = {"c++", "cxx", NULL};
static const char *const *const aliases[REQUEST_NLANG] = {aliases_python, aliases_js,
                                                          aliases_cpp};

const char *request_language(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < REQUEST_NLANG; i++) {
        if (strcasecmp(name, request_languages[i]) == 0)
            return request_languages[i];
        for (const char *const *a = aliases[i]; *a; a++)
            if (strcasecmp(name, *a) == 0)
                return request_languages[i];
    }
    return NULL;
}

const char *const *request_language_aliases(const char *canonical)
{
    for (int i = 0; i < REQUEST_NLANG; i++)
        if (canonical && strcmp(canonical, request_languages[i]) == 0)
            return aliases[i];
    return NULL;
}

void request_free(request_t *req)
{
    if (!req)
        return;
    free(req->code);
    free(req->input);
    for (int i = 0; i < req->nargs; i++)
        free(req->args[i]);
    free(req->args);
    for (int i = 0; i < req->ntests; i++) {
        free(req->tests[i].input);
        free(req->tests[i].expected);
    }
    free(req->tests);
    memset(req, 0, sizeof *req);
}

static int fail(request_error_t *err, int http, const char *code, const char *field,
                const char *reason, const char *fmt, ...)
{
    va_list ap;

    err->http_status = http;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field);
    snprintf(err->reason, sizeof err->reason, "%s", reason);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Copies an optional string member. 0 = ok (absent leaves *out NULL), -1 = error filled. */
static int get_string(const cJSON *obj, const char *name, const char *field, size_t max,
                      char **out, size_t *len, request_error_t *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    size_t n;

    *out = NULL;
    if (len)
        *len = 0;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it) || !it->valuestring)
        return fail(err, 400, "invalid_request", field, "type", "%s must be a string", field);
    n = strlen(it->valuestring);
    if (n > max)
        return fail(err, 413, "payload_too_large", field, "too_large",
                    "%s is %zu bytes; the limit is %zu bytes", field, n, max);
    *out = strdup(it->valuestring);
    if (!*out)
        return fail(err, 500, "internal_error", field, "", "out of memory");
    if (len)
        *len = n;
    return 0;
}

static int get_int(const cJSON *obj, const char *name, const char *field, int def, int min,
                   int max, int *out, request_error_t *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    *out = def;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsNumber(it))
        return fail(err, 400, "invalid_request", field, "type",
                    "%s must be an integer between %d and %d", field, min, max);
    double d = it->valuedouble;
    if (d != (double)(long long)d || d < min || d > max)
        return fail(err, 400, "invalid_request", field, "range",
                    "%s must be an integer between %d and %d", field, min, max);
    *out = (int)d;
    return 0;
}

/* One of two alias names; both given is an error. */
static const char *pick_alias(const cJSON *obj, const char *a, const char *b, const char *prefix,
                              request_error_t *err, int *rc)
{
    bool ha = cJSON_GetObjectItemCaseSensitive(obj, a) != NULL;
    bool hb = cJSON_GetObjectItemCaseSensitive(obj, b) != NULL;

    *rc = 0;
    if (ha && hb)
        *rc = fail(err, 400, "invalid_request", b, "value", "give %s%s or %s%s, not both", prefix,
                   a, prefix, b);
    return hb ? b : a;
}

static int parse_args(const cJSON *root, request_t *req, request_error_t *err)
{
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "args"), *it;
    int n = 0;

    if (!args || cJSON_IsNull(args))
        return 0;
    if (!cJSON_IsArray(args))
        return fail(err, 400, "invalid_request", "args", "type", "args must be an array of strings");
    if (cJSON_GetArraySize(args) > CG_MAX_ARGS)
        return fail(err, 400, "invalid_request", "args", "range", "args may hold at most %d entries",
                    CG_MAX_ARGS);
    req->args = calloc((size_t)cJSON_GetArraySize(args) + 1, sizeof *req->args);
    if (!req->args)
        return fail(err, 500, "internal_error", "args", "", "out of memory");
    cJSON_ArrayForEach(it, args)
    {
        char field[32];
        snprintf(field, sizeof field, "args[%d]", n);
        if (!cJSON_IsString(it))
            return fail(err, 400, "invalid_request", field, "type", "%s must be a string", field);
        if (strlen(it->valuestring) > CG_MAX_ARG_BYTES)
            return fail(err, 400, "invalid_request", field, "range",
                        "%s is longer than %d bytes", field, CG_MAX_ARG_BYTES);
        req->args[n] = strdup(it->valuestring);
        if (!req->args[n])
            return fail(err, 500, "internal_error", field, "", "out of memory");
        req->nargs = ++n;
    }
    return 0;
}

static int parse_tests(const cJSON *root, request_t *req, request_error_t *err)
{
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(root, "tests"), *it;
    size_t total_input = req->input_len;
    int rc, n = 0;

    if (!tests || cJSON_IsNull(tests))
        return 0;
    if (!cJSON_IsArray(tests))
        return fail(err, 400, "invalid_request", "tests", "type", "tests must be an array");
    int count = cJSON_GetArraySize(tests);
    if (count > CG_MAX_RUNS)
        return fail(err, 400, "invalid_request", "tests", "range",
                    "tests may hold at most %d cases (got %d)", CG_MAX_RUNS, count);
    if (count == 0)
        return 0;
    req->tests = calloc((size_t)count, sizeof *req->tests);
    if (!req->tests)
        return fail(err, 500, "internal_error", "tests", "", "out of memory");
    cJSON_ArrayForEach(it, tests)
    {
        request_test_t *t = &req->tests[n];
        char field[48], prefix[24];
        snprintf(prefix, sizeof prefix, "tests[%d].", n);
        req->ntests = ++n;
        if (!cJSON_IsObject(it)) {
            snprintf(field, sizeof field, "tests[%d]", n - 1);
            return fail(err, 400, "invalid_request", field, "type", "%s must be an object", field);
        }
        const char *in = pick_alias(it, "input", "stdin", prefix, err, &rc);
        if (rc)
            return rc;
        snprintf(field, sizeof field, "%s%s", prefix, in);
        if (get_string(it, in, field, CG_MAX_INPUT_BYTES, &t->input, &t->input_len, err))
            return -1;
        const char *ex = pick_alias(it, "expectedOutput", "expectedStdout", prefix, err, &rc);
        if (rc)
            return rc;
        snprintf(field, sizeof field, "%s%s", prefix, ex);
        if (get_string(it, ex, field, CG_MAX_INPUT_BYTES, &t->expected, &t->expected_len, err))
            return -1;
        snprintf(field, sizeof field, "%stimeoutMs", prefix);
        if (get_int(it, "timeoutMs", field, req->timeout_ms, 1, CG_MAX_TIMEOUT_MS, &t->timeout_ms,
                    err))
            return -1;
        total_input += t->input_len + t->expected_len;
        if (total_input > CG_MAX_BODY_BYTES)
            return fail(err, 413, "payload_too_large", "tests", "too_large",
                        "the inputs and expected outputs of all tests exceed %u bytes",
                        CG_MAX_BODY_BYTES);
    }
    return 0;
}

static int parse_enum(const cJSON *root, const char *name, const char *a, const char *b,
                      bool *is_b, request_error_t *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);

    *is_b = false;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it) || (strcasecmp(it->valuestring, a) && strcasecmp(it->valuestring, b)))
        return fail(err, 400, "invalid_request", name, cJSON_IsString(it) ? "value" : "type",
                    "%s must be \"%s\" or \"%s\"", name, a, b);
    *is_b = strcasecmp(it->valuestring, b) == 0;
    return 0;
}

static int parse_object(const cJSON *root, request_t *req, request_error_t *err)
{
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(root, "language");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    int rc;

    if (!lang || cJSON_IsNull(lang))
        return fail(err, 400, "invalid_request", "language", "missing", "language is required");
    if (!cJSON_IsString(lang))
        return fail(err, 400, "invalid_request", "language", "type", "language must be a string");
    req->language = request_language(lang->valuestring);
    if (!req->language)
        return fail(err, 400, "unsupported_language", "language", "value",
                    "language \"%.40s\" is not supported (python, javascript, cpp)",
                    lang->valuestring);
    if (!code || cJSON_IsNull(code))
        return fail(err, 400, "invalid_request", "code", "missing", "code is required");
    if (get_string(root, "code", "code", CG_MAX_CODE_BYTES, &req->code, &req->code_len, err))
        return -1;
    const char *in = pick_alias(root, "input", "stdin", "", err, &rc);
    if (rc)
        return rc;
    if (get_string(root, in, in, CG_MAX_INPUT_BYTES, &req->input, &req->input_len, err))
        return -1;
    if (get_int(root, "timeoutMs", "timeoutMs", CG_DEFAULT_TIMEOUT_MS, 1, CG_MAX_TIMEOUT_MS,
                &req->timeout_ms, err) ||
        get_int(root, "memoryMb", "memoryMb", CG_DEFAULT_MEMORY_MB, CG_MIN_MEMORY_MB,
                CG_MAX_MEMORY_MB, &req->memory_mb, err))
        return -1;
    if (parse_args(root, req, err) || parse_tests(root, req, err))
        return -1;
    if (parse_enum(root, "mode", "run", "submit", &req->submit, err) ||
        parse_enum(root, "compare", "trim", "exact", &req->exact, err))
        return -1;
    return 0;
}

int request_parse(const char *body, size_t len, request_t *req, request_error_t *err)
{
    cJSON *root;
    int rc;

    memset(req, 0, sizeof *req);
    memset(err, 0, sizeof *err);
    if (len > CG_MAX_BODY_BYTES)
        return fail(err, 413, "payload_too_large", "", "too_large",
                    "the request body exceeds %u bytes", CG_MAX_BODY_BYTES);
    if (!body || len == 0)
        return fail(err, 400, "invalid_json", "", "missing",
                    "the request body is empty; send a JSON object");
    root = cJSON_ParseWithLength(body, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, 400, "invalid_json", "", "",
                    "the request body is not a JSON object");
    }
    rc = parse_object(root, req, err);
    cJSON_Delete(root);
    if (rc != 0)
        request_free(req);
    return rc;
}

cJSON *request_error_details(const request_error_t *err)
{
    cJSON *d = cJSON_CreateObject();

    if (!d)
        return NULL;
    if (err->field[0])
        cJSON_AddStringToObject(d, "field", err->field);
    if (err->reason[0])
        cJSON_AddStringToObject(d, "reason", err->reason);
    if (err->code && strcmp(err->code, "unsupported_language") == 0) {
        cJSON *arr = cJSON_AddArrayToObject(d, "supported");
        for (int i = 0; arr && i < REQUEST_NLANG; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(request_languages[i]));
    }
    if (!d->child) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}
