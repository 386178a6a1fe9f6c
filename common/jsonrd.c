/*
 * jsonrd.c - typed, bounded readers of parsed JSON (see jsonrd.h).
 */
#include "jsonrd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static jsonrd_status_t set(jsonrd_err_t *err, jsonrd_status_t st, const cJSON *it, int index,
                           size_t len)
{
    if (err) {
        err->status = st;
        err->item = it;
        err->index = index;
        err->len = len;
    }
    return st;
}

const cJSON *jsonrd_member(const cJSON *obj, const char *name, unsigned flags)
{
    const cJSON *it = flags & JSONRD_ANY_CASE ? cJSON_GetObjectItem(obj, name)
                                              : cJSON_GetObjectItemCaseSensitive(obj, name);

    return (flags & JSONRD_NULL_ABSENT) && cJSON_IsNull(it) ? NULL : it;
}

jsonrd_status_t jsonrd_string(const cJSON *it, size_t max, const char **out, size_t *len,
                              jsonrd_err_t *err)
{
    size_t n;

    if (!it)
        return set(err, JSONRD_ABSENT, it, -1, 0);
    if (!cJSON_IsString(it) || !it->valuestring)
        return set(err, JSONRD_TYPE, it, -1, 0);
    n = strlen(it->valuestring);
    if (n > max)
        return set(err, JSONRD_TOO_LARGE, it, -1, n);
    *out = it->valuestring;
    if (len)
        *len = n;
    return set(err, JSONRD_OK, it, -1, n);
}

jsonrd_status_t jsonrd_int(const cJSON *it, int64_t min, int64_t max, int64_t *out,
                           jsonrd_err_t *err)
{
    double d;

    if (!it)
        return set(err, JSONRD_ABSENT, it, -1, 0);
    if (!cJSON_IsNumber(it))
        return set(err, JSONRD_TYPE, it, -1, 0);
    d = it->valuedouble;
    /* Range first: converting an out-of-range double to an integer is undefined. */
    if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d)
        return set(err, JSONRD_RANGE, it, -1, 0);
    *out = (int64_t)d;
    return set(err, JSONRD_OK, it, -1, 0);
}

jsonrd_status_t jsonrd_bool(const cJSON *it, bool *out, jsonrd_err_t *err)
{
    if (!it)
        return set(err, JSONRD_ABSENT, it, -1, 0);
    if (!cJSON_IsBool(it))
        return set(err, JSONRD_TYPE, it, -1, 0);
    *out = cJSON_IsTrue(it);
    return set(err, JSONRD_OK, it, -1, 0);
}

jsonrd_status_t jsonrd_choice(const cJSON *it, const char *const *choices, int *index,
                              jsonrd_err_t *err)
{
    if (!it)
        return set(err, JSONRD_ABSENT, it, -1, 0);
    if (!cJSON_IsString(it) || !it->valuestring)
        return set(err, JSONRD_TYPE, it, -1, 0);
    for (int i = 0; choices[i]; i++)
        if (strcasecmp(it->valuestring, choices[i]) == 0) {
            *index = i;
            return set(err, JSONRD_OK, it, -1, 0);
        }
    return set(err, JSONRD_RANGE, it, -1, 0);
}

jsonrd_status_t jsonrd_strings(const cJSON *it, int max_count, size_t max_len, const char **out,
                               int *n, jsonrd_err_t *err)
{
    const cJSON *e;
    int count;

    *n = 0;
    out[0] = NULL;
    if (!it)
        return set(err, JSONRD_ABSENT, it, -1, 0);
    if (!cJSON_IsArray(it))
        return set(err, JSONRD_TYPE, it, -1, 0);
    count = cJSON_GetArraySize(it);
    if (count > max_count)
        return set(err, JSONRD_RANGE, it, -1, (size_t)count);
    cJSON_ArrayForEach(e, it)
    {
        jsonrd_err_t one;
        jsonrd_status_t st = jsonrd_string(e, max_len, &out[*n], NULL, &one);
        if (st != JSONRD_OK) {
            out[*n] = NULL;
            return set(err, st, e, *n, one.len);
        }
        out[++*n] = NULL;
    }
    return set(err, JSONRD_OK, it, -1, (size_t)*n);
}

const char *jsonrd_kind(const cJSON *it)
{
    if (cJSON_IsString(it))
        return "a string";
    if (cJSON_IsNumber(it))
        return "a number";
    if (cJSON_IsBool(it))
        return "a boolean";
    if (cJSON_IsNull(it))
        return "null";
    if (cJSON_IsArray(it))
        return "an array";
    return "an object";
}

bool jsonrd_nul_escape(const char *p, size_t len, char *field, size_t flen)
{
    const char *str = NULL, *last = NULL;
    size_t last_len = 0;
    int depth = 0;
    bool in_str = false;
    char key[48] = "";

    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\') {
                if (i + 5 < len && p[i + 1] == 'u' && !memcmp(p + i + 2, "0000", 4)) {
                    snprintf(field, flen, "%s", depth == 1 ? key : "");
                    return true;
                }
                i++; /* the escaped character */
            } else if (c == '"') {
                in_str = false;
                last = str;
                last_len = (size_t)(p + i - str);
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
            str = p + i + 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ':' && depth == 1 && last) {
            snprintf(key, sizeof key, "%.*s", (int)(last_len < 40 ? last_len : 40), last);
        }
    }
    return false;
}
