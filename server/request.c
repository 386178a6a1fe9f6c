/*
 * request.c - parsing and validating POST /api/code/execute bodies (see request.h).
 *
 * Members (camelCase; unknown members are ignored; null counts as absent):
 *   language  required string: a name or alias of the language table (common/lang.c),
 *             case-insensitive
 *   code      required string, at most CG_MAX_CODE_BYTES (413 beyond)
 *   input     optional string, at most CG_MAX_INPUT_BYTES (413 beyond); "stdin" is an alias,
 *             giving both is an error
 *   args      optional array of at most CG_MAX_ARGS strings of at most CG_MAX_ARG_BYTES
 *   options   optional array of at most CG_MAX_OPTIONS strings, each a value of the language's
 *             allow-list (lang_t.options; lang_options_check): compiler/interpreter flags
 *   timeoutMs optional integer 1..CG_MAX_TIMEOUT_MS, default CG_DEFAULT_TIMEOUT_MS
 *   memoryMb  optional integer CG_MIN_MEMORY_MB..CG_MAX_MEMORY_MB, default CG_DEFAULT_MEMORY_MB
 *   tests     optional array of at most CG_MAX_RUNS objects {input|stdin, expectedOutput|
 *             expectedStdout, timeoutMs (default: the request's timeoutMs)}
 *   mode      optional "run" (default) or "submit"; compare: optional "trim" (default) or "exact"
 *   files     optional array of objects {name, content, encoding: "utf8" (default) | "base64"}:
 *             files written next to the entry file; names follow files.h, are unique, and no
 *             name is a directory of another; at most request_file_limits() (count, decoded
 *             bytes together, name length, depth). Each violation names the file and the rule.
 *
 * Every error names the field with its path ("tests[3].timeoutMs") and a reason: missing,
 * type, range, too_large or value. No string may contain U+0000 (400, reason value): cJSON
 * would end it there.
 */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "jsonrd.h"

void request_free(request_t *req)
{
    if (!req)
        return;
    free(req->code);
    free(req->input);
    for (int i = 0; req->args && i < req->nargs; i++)
        free(req->args[i]);
    free(req->args);
    for (int i = 0; req->options && i < req->noptions; i++)
        free(req->options[i]);
    free(req->options);
    for (int i = 0; req->tests && i < req->ntests; i++) {
        free(req->tests[i].input);
        free(req->tests[i].expected);
    }
    free(req->tests);
    for (int i = 0; req->files && i < req->nfiles; i++) {
        free(req->files[i].name);
        free(req->files[i].b64);
    }
    free(req->files);
    memset(req, 0, sizeof *req);
}

__attribute__((format(printf, 6, 7))) static int fail(request_error_t *err, int http,
                                                      const char *code, const char *field,
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

static int fail_nomem(request_error_t *err, const char *field)
{
    return fail(err, 500, "internal_error", field, "", "out of memory while reading %s", field);
}

/* The member `name` of obj, or NULL when absent or null. */
static const cJSON *member(const cJSON *obj, const char *name)
{
    return jsonrd_member(obj, name, JSONRD_NULL_ABSENT);
}

/* Copies an optional string member of at most max bytes (413 beyond). Absent leaves *out NULL.
 * Returns 0 or -1 with err filled. */
static int get_string(const cJSON *obj, const char *name, const char *field, size_t max, char **out,
                      size_t *len, request_error_t *err)
{
    const char *s = NULL;
    jsonrd_err_t je;

    *out = NULL;
    *len = 0;
    switch (jsonrd_string(member(obj, name), max, &s, len, &je)) {
    case JSONRD_OK:
        break;
    case JSONRD_ABSENT:
        return 0;
    case JSONRD_TOO_LARGE:
        return fail(err, 413, "payload_too_large", field, "too_large",
                    "%s is %zu bytes; the limit is %zu bytes", field, je.len, max);
    default:
        return fail(err, 400, "invalid_request", field, "type", "%s must be a string, not %s",
                    field, jsonrd_kind(je.item));
    }
    *out = strdup(s);
    if (!*out)
        return fail_nomem(err, field);
    return 0;
}

static int get_int(const cJSON *obj, const char *name, const char *field, int def, int min, int max,
                   int *out, request_error_t *err)
{
    int64_t v = def;
    jsonrd_err_t je;

    switch (jsonrd_int(member(obj, name), min, max, &v, &je)) {
    case JSONRD_OK:
    case JSONRD_ABSENT:
        *out = (int)v;
        return 0;
    case JSONRD_TYPE:
        *out = def;
        return fail(err, 400, "invalid_request", field, "type",
                    "%s must be an integer between %d and %d, not %s", field, min, max,
                    jsonrd_kind(je.item));
    default:
        *out = def;
        return fail(err, 400, "invalid_request", field, "range",
                    "%s must be an integer between %d and %d", field, min, max);
    }
}

/* Which of two alias names obj uses (a when neither); giving both is an error (*rc = -1). */
static const char *pick_alias(const cJSON *obj, const char *a, const char *b, const char *prefix,
                              request_error_t *err, int *rc)
{
    bool ha = member(obj, a) != NULL, hb = member(obj, b) != NULL;
    char field[64];

    *rc = 0;
    if (ha && hb) {
        snprintf(field, sizeof field, "%s%s", prefix, b);
        *rc = fail(err, 400, "invalid_request", field, "value", "give %s%s or %s%s, not both",
                   prefix, a, prefix, b);
    }
    return hb ? b : a;
}

static int parse_args(const cJSON *root, request_t *req, request_error_t *err)
{
    const char *args[CG_MAX_ARGS + 1];
    char field[32];
    int count = 0;
    jsonrd_err_t je;

    switch (
        jsonrd_strings(member(root, "args"), CG_MAX_ARGS, CG_MAX_ARG_BYTES, args, &count, &je)) {
    case JSONRD_OK:
        break;
    case JSONRD_ABSENT:
        return 0;
    case JSONRD_RANGE:
        return fail(err, 400, "invalid_request", "args", "range",
                    "args may hold at most %d entries (got %zu)", CG_MAX_ARGS, je.len);
    case JSONRD_TYPE:
        if (je.index < 0)
            return fail(err, 400, "invalid_request", "args", "type",
                        "args must be an array of strings, not %s", jsonrd_kind(je.item));
        snprintf(field, sizeof field, "args[%d]", je.index);
        return fail(err, 400, "invalid_request", field, "type", "%s must be a string, not %s",
                    field, jsonrd_kind(je.item));
    default: /* an entry too long */
        snprintf(field, sizeof field, "args[%d]", je.index);
        return fail(err, 400, "invalid_request", field, "range", "%s is longer than %d bytes",
                    field, CG_MAX_ARG_BYTES);
    }
    if (count == 0)
        return 0;
    req->args = calloc((size_t)count + 1, sizeof *req->args);
    if (!req->args)
        return fail_nomem(err, "args");
    for (int i = 0; i < count; i++) {
        req->args[i] = strdup(args[i]);
        if (!req->args[i]) {
            snprintf(field, sizeof field, "args[%d]", i);
            return fail_nomem(err, field);
        }
        req->nargs = i + 1;
    }
    return 0;
}

int request_parse_options(const cJSON *value, const lang_t *l, request_t *req, request_error_t *err)
{
    const char *opts[CG_MAX_OPTIONS + 1];
    char field[32], why[160];
    int count = 0, bad;
    jsonrd_err_t je;

    switch (jsonrd_strings(value, CG_MAX_OPTIONS, CG_MAX_OPTION_BYTES, opts, &count, &je)) {
    case JSONRD_OK:
        break;
    case JSONRD_ABSENT:
        return 0;
    case JSONRD_RANGE:
        return fail(err, 400, "invalid_request", "options", "range",
                    "options may hold at most %d entries (got %zu)", CG_MAX_OPTIONS, je.len);
    case JSONRD_TYPE:
        if (je.index < 0)
            return fail(err, 400, "invalid_request", "options", "type",
                        "options must be an array of strings, not %s", jsonrd_kind(je.item));
        snprintf(field, sizeof field, "options[%d]", je.index);
        return fail(err, 400, "invalid_request", field, "type", "%s must be a string, not %s",
                    field, jsonrd_kind(je.item));
    default: /* an entry too long: no allowed value is */
        snprintf(field, sizeof field, "options[%d]", je.index);
        err->lang = l;
        return fail(err, 400, "invalid_request", field, "value",
                    "%s is not an option %s accepts (allowed: %s)", field, l->name,
                    lang_options_allowed(l, why, sizeof why));
    }
    if (lang_options_check(l, opts, count, &bad, why, sizeof why) != 0) {
        char allowed[160];
        if (bad < 0)
            snprintf(field, sizeof field, "options");
        else
            snprintf(field, sizeof field, "options[%d]", bad);
        err->lang = l;
        return fail(err, 400, "invalid_request", field, "value", "%s: %s (allowed: %s)", field, why,
                    lang_options_allowed(l, allowed, sizeof allowed));
    }
    if (count == 0)
        return 0;
    req->options = calloc((size_t)count + 1, sizeof *req->options);
    if (!req->options)
        return fail_nomem(err, "options");
    for (int i = 0; i < count; i++) {
        req->options[i] = strdup(opts[i]);
        if (!req->options[i])
            return fail_nomem(err, "options");
        req->noptions = i + 1;
    }
    return 0;
}

/* One element of "tests"; index i, destination t. */
static int parse_test(const cJSON *it, int i, int def_timeout, request_test_t *t,
                      request_error_t *err)
{
    char prefix[24], field[64];
    const char *name;
    int rc;

    snprintf(prefix, sizeof prefix, "tests[%d].", i);
    if (!cJSON_IsObject(it)) {
        snprintf(field, sizeof field, "tests[%d]", i);
        return fail(err, 400, "invalid_request", field, "type", "%s must be an object, not %s",
                    field, jsonrd_kind(it));
    }
    name = pick_alias(it, "input", "stdin", prefix, err, &rc);
    if (rc)
        return rc;
    snprintf(field, sizeof field, "%s%s", prefix, name);
    if (get_string(it, name, field, CG_MAX_INPUT_BYTES, &t->input, &t->input_len, err))
        return -1;
    name = pick_alias(it, "expectedOutput", "expectedStdout", prefix, err, &rc);
    if (rc)
        return rc;
    snprintf(field, sizeof field, "%s%s", prefix, name);
    if (get_string(it, name, field, CG_MAX_INPUT_BYTES, &t->expected, &t->expected_len, err))
        return -1;
    snprintf(field, sizeof field, "%stimeoutMs", prefix);
    return get_int(it, "timeoutMs", field, def_timeout, 1, CG_MAX_TIMEOUT_MS, &t->timeout_ms, err);
}

static int parse_tests(const cJSON *root, request_t *req, request_error_t *err)
{
    const cJSON *tests = member(root, "tests"), *it;
    size_t total = req->input_len;
    int count, n = 0;

    if (!tests)
        return 0;
    if (!cJSON_IsArray(tests))
        return fail(err, 400, "invalid_request", "tests", "type",
                    "tests must be an array of objects, not %s", jsonrd_kind(tests));
    count = cJSON_GetArraySize(tests);
    if (count > CG_MAX_RUNS)
        return fail(err, 400, "invalid_request", "tests", "range",
                    "tests may hold at most %d cases (got %d)", CG_MAX_RUNS, count);
    if (count == 0)
        return 0;
    req->tests = calloc((size_t)count, sizeof *req->tests);
    if (!req->tests)
        return fail_nomem(err, "tests");
    cJSON_ArrayForEach(it, tests)
    {
        request_test_t *t = &req->tests[n];
        req->ntests = ++n; /* counted before filling: request_free() frees partial entries */
        if (parse_test(it, n - 1, req->timeout_ms, t, err))
            return -1;
        total += t->input_len + t->expected_len;
        if (total > CG_MAX_BODY_BYTES)
            return fail(err, 413, "payload_too_large", "tests", "too_large",
                        "the inputs and expected outputs of all tests exceed %u bytes",
                        CG_MAX_BODY_BYTES);
    }
    return 0;
}

/* An optional member that must be one of two strings (case-insensitive); *is_b says which. */
static int parse_choice(const cJSON *root, const char *name, const char *a, const char *b,
                        bool *is_b, request_error_t *err)
{
    const char *const choices[] = {a, b, NULL};
    int which = 0;
    jsonrd_err_t je;

    *is_b = false;
    switch (jsonrd_choice(member(root, name), choices, &which, &je)) {
    case JSONRD_OK:
        *is_b = which == 1;
        return 0;
    case JSONRD_ABSENT:
        return 0;
    case JSONRD_TYPE:
        return fail(err, 400, "invalid_request", name, "type",
                    "%s must be \"%s\" or \"%s\", not %s", name, a, b, jsonrd_kind(je.item));
    default:
        return fail(err, 400, "invalid_request", name, "value",
                    "%s must be \"%s\" or \"%s\", not \"%.40s\"", name, a, b, je.item->valuestring);
    }
}

static int parse_language(const cJSON *root, request_t *req, request_error_t *err)
{
    const cJSON *lang = member(root, "language");
    const lang_t *l;
    char names[128];

    if (!lang)
        return fail(err, 400, "invalid_request", "language", "missing", "language is required (%s)",
                    lang_names(names, sizeof names, ", ", " or "));
    if (!cJSON_IsString(lang))
        return fail(err, 400, "invalid_request", "language", "type",
                    "language must be a string, not %s", jsonrd_kind(lang));
    l = lang_find(lang->valuestring);
    if (!l)
        return fail(err, 400, "unsupported_language", "language", "value",
                    "language \"%.40s\" is not supported; supported: %s", lang->valuestring,
                    lang_names(names, sizeof names, ", ", ", "));
    req->language = l->name;
    return 0;
}

static cg_files_limits_t files_in = {CG_DEFAULT_FILES, CG_DEFAULT_FILES_KB * 1024u,
                                     CG_DEFAULT_FILE_NAME_MAX, CG_DEFAULT_FILE_DEPTH_MAX};
static cg_out_limits_t files_out = {CG_DEFAULT_OUT_FILES, CG_DEFAULT_OUT_FILE_KB * 1024u,
                                    CG_DEFAULT_OUT_FILES_KB * 1024u};

void request_set_file_limits(const cg_files_limits_t *in, const cg_out_limits_t *out)
{
    files_in = *in;
    files_out = *out;
}

const cg_files_limits_t *request_file_limits(void)
{
    return &files_in;
}

const cg_out_limits_t *request_out_limits(void)
{
    return &files_out;
}

/* A name quoted for a message: at most 40 bytes, anything outside printable ASCII as '?'. */
static const char *quoted(const char *s, size_t len, char out[48])
{
    size_t n = len < 40 ? len : 40;

    for (size_t i = 0; i < n; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    snprintf(out + n, 8, "%s", len > n ? "..." : "");
    return out;
}

/* The contents of one file: its text ("utf8") or base64 ("base64"), as base64. */
static int file_content(const cJSON *it, const char *pre, request_file_t *f, request_error_t *err)
{
    const cJSON *c = member(it, "content"), *enc = member(it, "encoding");
    char field[64];
    bool b64 = false;

    snprintf(field, sizeof field, "%sencoding", pre);
    if (enc && (!cJSON_IsString(enc) ||
                (strcmp(enc->valuestring, "utf8") != 0 && strcmp(enc->valuestring, "base64") != 0)))
        return fail(err, 400, "invalid_request", field, "value",
                    "%s must be \"utf8\" or \"base64\"", field);
    b64 = enc && strcmp(enc->valuestring, "base64") == 0;
    snprintf(field, sizeof field, "%scontent", pre);
    if (!c)
        return fail(err, 400, "invalid_request", field, "missing", "%s is required", field);
    if (!cJSON_IsString(c))
        return fail(err, 400, "invalid_request", field, "type", "%s must be a string, not %s",
                    field, jsonrd_kind(c));
    size_t len = strlen(c->valuestring);
    if (!b64) {
        f->size = len;
        f->b64 = cg_b64_encode(c->valuestring, len, &f->b64_len);
        return f->b64 ? 0 : fail_nomem(err, field);
    }
    unsigned char *tmp = malloc(CG_B64_DECODED_MAX(len) + 1);
    if (!tmp)
        return fail_nomem(err, field);
    long n = cg_b64_decode(c->valuestring, len, tmp);
    free(tmp);
    if (n < 0)
        return fail(err, 400, "invalid_request", field, "value",
                    "%s is not valid base64 (RFC 4648 with padding, no line breaks)", field);
    f->size = (size_t)n;
    f->b64_len = len;
    f->b64 = strdup(c->valuestring);
    return f->b64 ? 0 : fail_nomem(err, field);
}

/* One element of "files"; i its index. Names are checked against the language's. */
static int parse_file(const cJSON *it, int i, request_t *req, request_error_t *err)
{
    const cg_files_limits_t *lim = &files_in;
    request_file_t *f = &req->files[i];
    const cJSON *name = member(it, "name");
    char pre[24], field[64], q[48];
    const char *why;
    size_t len;

    snprintf(pre, sizeof pre, "files[%d].", i);
    snprintf(field, sizeof field, "files[%d]", i);
    if (!cJSON_IsObject(it))
        return fail(err, 400, "invalid_request", field, "type", "%s must be an object, not %s",
                    field, jsonrd_kind(it));
    snprintf(field, sizeof field, "%sname", pre);
    if (!name)
        return fail(err, 400, "invalid_request", field, "missing", "%s is required", field);
    if (!cJSON_IsString(name))
        return fail(err, 400, "invalid_request", field, "type", "%s must be a string, not %s",
                    field, jsonrd_kind(name));
    len = strlen(name->valuestring);
    why = cg_file_name_rule(name->valuestring, len, lim->name_max, lim->depth_max,
                            lang_get(req->language));
    if (why)
        return fail(err, 400, "invalid_request", field, "value",
                    "file \"%s\" (%s) %s (names: at most %d bytes and %d levels)",
                    quoted(name->valuestring, len, q), field, why, lim->name_max, lim->depth_max);
    for (int k = 0; k < i; k++) {
        const char *o = req->files[k].name;
        size_t olen = strlen(o);
        if (strcmp(o, name->valuestring) == 0 ||
            cg_file_name_clash(o, olen, name->valuestring, len) ||
            cg_file_name_clash(name->valuestring, len, o, olen))
            return fail(err, 400, "invalid_request", field, "value",
                        "file \"%s\" (%s) clashes with files[%d] \"%s\" (the same name, or "
                        "one is a directory of the other)",
                        quoted(name->valuestring, len, q), field, k, o);
    }
    f->name = strdup(name->valuestring);
    if (!f->name)
        return fail_nomem(err, field);
    return file_content(it, pre, f, err);
}

static int parse_files_member(const cJSON *files, request_t *req, request_error_t *err)
{
    const cg_files_limits_t *lim = &files_in;
    const cJSON *it;
    size_t total = 0;
    int count, n = 0;
    char q[48];

    if (!files)
        return 0;
    if (!cJSON_IsArray(files))
        return fail(err, 400, "invalid_request", "files", "type",
                    "files must be an array of objects, not %s", jsonrd_kind(files));
    count = cJSON_GetArraySize(files);
    if (count > lim->max_files)
        return fail(err, 400, "invalid_request", "files", "range",
                    "files may hold at most %d files (got %d)", lim->max_files, count);
    if (count == 0)
        return 0;
    req->files = calloc((size_t)count, sizeof *req->files);
    if (!req->files)
        return fail_nomem(err, "files");
    cJSON_ArrayForEach(it, files)
    {
        req->nfiles = ++n; /* counted before filling: request_free() frees partial entries */
        if (parse_file(it, n - 1, req, err))
            return -1;
        total += req->files[n - 1].size;
        if (total > lim->max_bytes) {
            char field[24];
            snprintf(field, sizeof field, "files[%d]", n - 1);
            return fail(err, 400, "invalid_request", field, "too_large",
                        "file \"%s\" (%s) brings the files to more than %zu bytes together",
                        quoted(req->files[n - 1].name, strlen(req->files[n - 1].name), q), field,
                        lim->max_bytes);
        }
    }
    return 0;
}

int request_parse_files(const cJSON *obj, request_t *req, request_error_t *err)
{
    return parse_files_member(member(obj, "files"), req, err);
}

static int parse_object(const cJSON *root, request_t *req, request_error_t *err)
{
    const char *in;
    int rc;

    if (parse_language(root, req, err))
        return -1;
    if (!member(root, "code"))
        return fail(err, 400, "invalid_request", "code", "missing", "code is required");
    if (get_string(root, "code", "code", CG_MAX_CODE_BYTES, &req->code, &req->code_len, err))
        return -1;
    in = pick_alias(root, "input", "stdin", "", err, &rc);
    if (rc)
        return rc;
    if (get_string(root, in, in, CG_MAX_INPUT_BYTES, &req->input, &req->input_len, err))
        return -1;
    if (get_int(root, "timeoutMs", "timeoutMs", CG_DEFAULT_TIMEOUT_MS, 1, CG_MAX_TIMEOUT_MS,
                &req->timeout_ms, err) ||
        get_int(root, "memoryMb", "memoryMb", CG_DEFAULT_MEMORY_MB, CG_MIN_MEMORY_MB,
                CG_MAX_MEMORY_MB, &req->memory_mb, err))
        return -1;
    if (parse_args(root, req, err) || parse_tests(root, req, err) ||
        request_parse_options(member(root, "options"), lang_get(req->language), req, err) ||
        request_parse_files(root, req, err))
        return -1;
    if (parse_choice(root, "mode", "run", "submit", &req->submit, err) ||
        parse_choice(root, "compare", "trim", "exact", &req->exact, err))
        return -1;
    return 0;
}

static bool only_space(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

int request_parse(const char *body, size_t len, request_t *req, request_error_t *err)
{
    const char *end = NULL;
    cJSON *root;
    int rc;

    memset(req, 0, sizeof *req);
    memset(err, 0, sizeof *err);
    if (len > CG_MAX_BODY_BYTES)
        return fail(err, 413, "payload_too_large", "", "too_large",
                    "the request body exceeds %u bytes", CG_MAX_BODY_BYTES);
    if (!body || only_space(body, body + len))
        return fail(err, 400, "invalid_json", "", "missing",
                    "the request body is empty; send a JSON object");
    root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!root)
        return fail(err, 400, "invalid_json", "", "", "the request body is not valid JSON");
    /* cJSON stops after the first value: anything but whitespace after it is garbage. */
    if (!end || end < body || end > body + len || !only_space(end, body + len)) {
        cJSON_Delete(root);
        return fail(err, 400, "invalid_json", "", "",
                    "the request body has data after its JSON value");
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, 400, "invalid_json", "", "", "the request body must be a JSON object");
    }
    {
        char field[48];
        if (jsonrd_nul_escape(body, len, field, sizeof field)) {
            cJSON_Delete(root);
            return fail(err, 400, "invalid_request", field, "value",
                        "%s%sstrings must not contain U+0000 (NUL)", field, field[0] ? ": " : "");
        }
    }
    rc = parse_object(root, req, err);
    cJSON_Delete(root);
    if (rc != 0)
        request_free(req);
    return rc;
}

cJSON *request_error_details(const request_error_t *err)
{
    cJSON *d = cJSON_CreateObject(), *arr;
    bool ok = d != NULL;

    if (ok && err->field[0])
        ok = cJSON_AddStringToObject(d, "field", err->field) != NULL;
    if (ok && err->reason[0])
        ok = cJSON_AddStringToObject(d, "reason", err->reason) != NULL;
    if (ok && err->code && strcmp(err->code, "unsupported_language") == 0) {
        ok = (arr = cJSON_AddArrayToObject(d, "supported")) != NULL;
        for (int i = 0; ok && i < LANG_COUNT; i++) {
            cJSON *s = cJSON_CreateString(lang_table[i].name);
            ok = s && cJSON_AddItemToArray(arr, s);
            if (!ok)
                cJSON_Delete(s);
        }
    }
    if (ok && err->lang) {
        ok = (arr = cJSON_AddArrayToObject(d, "allowed")) != NULL;
        for (const lang_option_t *o = err->lang->options; ok && o && o->value; o++) {
            cJSON *s = cJSON_CreateString(o->value);
            ok = s && cJSON_AddItemToArray(arr, s);
            if (!ok)
                cJSON_Delete(s);
        }
    }
    if (!ok || !d->child) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}
