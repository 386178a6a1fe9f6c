/*
 * files.c - the rules of given and returned files (see files.h): names, MIME types, base64.
 *
 * The name rule is deliberately narrow (ASCII letters, digits and . _ - + per component): a
 * wider alphabet would have to reason about Unicode look-alikes of '/' and '.', bidirectional
 * overrides, normalisation and terminal escapes, and none of that buys a program anything.
 */
#include "files.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '+';
}

static bool same(const char *s, size_t len, const char *lit)
{
    return lit && strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* The rule one component (s, n bytes) breaks, or NULL. */
static const char *component_rule(const char *s, size_t n)
{
    if (n == 0)
        return "must not have empty components (a leading, doubled or trailing '/')";
    if (same(s, n, ".") || same(s, n, ".."))
        return "must not have '.' or '..' components";
    if (s[0] == '-')
        return "must not have components starting with '-'";
    if (n >= 9 && memcmp(s, ".codegate", 9) == 0)
        return "must not use the reserved prefix .codegate";
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i]))
            return "may hold only ASCII letters, digits, '.', '_', '-', '+' and '/' between "
                   "components";
    return NULL;
}

const char *cg_file_name_rule(const char *name, size_t len, int name_max, int depth_max,
                              const lang_t *l)
{
    const char *p, *end, *slash;
    int depth = 0;

    if (!name || len == 0)
        return "must not be empty";
    if (len > (size_t)name_max)
        return "is too long";
    if (name[0] == '/')
        return "must be a relative path (no leading '/')";
    for (p = name, end = name + len; p <= end; p = slash + 1) {
        const char *why;
        slash = memchr(p, '/', (size_t)(end - p));
        if (!slash)
            slash = end;
        if ((why = component_rule(p, (size_t)(slash - p))) != NULL)
            return why;
        if (++depth > depth_max)
            return "is nested too deep";
        if (depth == 1 && same(p, (size_t)(slash - p), CG_OUT_DIR))
            return "must not be under out/ (the program's results go there)";
    }
    if (l && (same(name, len, l->file) || same(name, len, l->preload_file) ||
              same(name, len, l->binary)))
        return "is a name the executor uses itself (the entry file or one it writes)";
    return NULL;
}

bool cg_file_name_clash(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen < blen && memcmp(a, b, alen) == 0 && b[alen] == '/';
}

static const char *ext_of(const char *name)
{
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');

    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

const char *cg_mime_type(const char *name, const unsigned char *head, size_t len)
{
    static const struct {
        const char *ext, *type;
    } by_ext[] = {
        {"png", "image/png"}, {"jpg", "image/jpeg"},    {"jpeg", "image/jpeg"},
        {"gif", "image/gif"}, {"svg", "image/svg+xml"}, {"pdf", "application/pdf"},
        {"csv", "text/csv"},  {"txt", "text/plain"},    {"json", "application/json"},
    };
    const char *ext = ext_of(name ? name : "");

    for (size_t i = 0; i < sizeof by_ext / sizeof by_ext[0]; i++)
        if (strcasecmp(ext, by_ext[i].ext) == 0)
            return by_ext[i].type;
    if (len >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (len >= 3 && memcmp(head, "\xff\xd8\xff", 3) == 0)
        return "image/jpeg";
    if (len >= 6 && (memcmp(head, "GIF87a", 6) == 0 || memcmp(head, "GIF89a", 6) == 0))
        return "image/gif";
    if (len >= 5 && memcmp(head, "%PDF-", 5) == 0)
        return "application/pdf";
    return "application/octet-stream";
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cg_b64_encode(const void *data, size_t len, size_t *outlen)
{
    const unsigned char *in = data;
    size_t n = (len + 2) / 3 * 4, o = 0;
    char *out;

    if (len > (SIZE_MAX - 1) / 4 * 3 - 3 || !(out = malloc(n + 1)))
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64_chars[v >> 18 & 63];
        out[o++] = b64_chars[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64_chars[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64_chars[v & 63] : '=';
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
}

static int b64_val(unsigned char c)
{
    const char *p = c ? strchr(b64_chars, c) : NULL;

    return p ? (int)(p - b64_chars) : -1;
}

long cg_b64_decode(const char *in, size_t len, unsigned char *out)
{
    size_t o = 0;

    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        bool last = i + 4 == len;
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && last && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = b64_val((unsigned char)in[i + k])) < 0)
                return -1; /* a bad character, or data after padding */
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    return (long)o;
}
