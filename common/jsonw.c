/*
 * jsonw.c - JSON string escaping and a one-buffer object writer (see jsonw.h).
 *
 * The escaper looks each byte up in a 256-entry table: 0 means "copy as is". Plain bytes are
 * found in runs and copied with one memcpy per run; an escaped byte writes its 2- or 6-byte
 * form. The length pass uses the same table, so a quoted string is allocated at its exact
 * size and written once.
 */
#include "jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Extra bytes an escaped byte adds: 0 (plain), 1 (\n, \", ...) or 5 (\u00XX). */
static const unsigned char esc_extra[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, /* 0x00: \b \t \n \f \r short */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50: '\\' */
};

/* True when none of the 8 bytes at p needs escaping: no byte below 0x20, no '"', no '\\'.
 * The "has a zero byte" word trick on w ^ '"' and w ^ '\\', and its "has a byte below n" form
 * on w. It may answer false for plain bytes (a borrow), never true for one that needs escaping;
 * a false only sends those 8 bytes down the byte-wise path. */
static bool plain8(const unsigned char *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
    uint64_t w, q, b;

    memcpy(&w, p, sizeof w);
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    return !((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high);
}

size_t cg_json_escaped_len(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = len, i = 0;

    for (; i + 8 <= len; i += 8)
        if (!plain8(p + i))
            for (int k = 0; k < 8; k++)
                n += esc_extra[p[i + k]];
    for (; i < len; i++)
        n += esc_extra[p[i]];
    return n;
}

/* Writes the escaped form of the byte c (esc_extra[c] != 0) at o; returns the bytes written. */
static size_t escape_one(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";

    o[0] = '\\';
    switch (c) {
    case '\b':
        o[1] = 'b';
        return 2;
    case '\t':
        o[1] = 't';
        return 2;
    case '\n':
        o[1] = 'n';
        return 2;
    case '\f':
        o[1] = 'f';
        return 2;
    case '\r':
        o[1] = 'r';
        return 2;
    case '"':
    case '\\':
        o[1] = (char)c;
        return 2;
    default:
        o[1] = 'u';
        o[2] = '0';
        o[3] = '0';
        o[4] = hex[c >> 4];
        o[5] = hex[c & 15];
        return 6;
    }
}

size_t cg_json_escape(char *dst, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    char *o = dst;
    size_t i = 0;

    while (i < len) {
        if (esc_extra[p[i]]) { /* runs of escaped bytes go one by one, without a memcpy */
            o += escape_one(o, p[i++]);
            continue;
        }
        size_t run = i + 1;
        while (run + 8 <= len && plain8(p + run))
            run += 8;
        while (run < len && !esc_extra[p[run]])
            run++;
        memcpy(o, p + i, run - i);
        o += run - i;
        i = run;
    }
    return (size_t)(o - dst);
}

char *cg_json_quote(const char *s, size_t len, size_t *out_len)
{
    size_t n = cg_json_escaped_len(s, len);
    char *q = malloc(n + 3);

    if (!q)
        return NULL;
    q[0] = '"';
    cg_json_escape(q + 1, s, len);
    q[n + 1] = '"';
    q[n + 2] = '\0';
    if (out_len)
        *out_len = n + 2;
    return q;
}

/* ---- the writer ---- */

/* Room for n more bytes (and a NUL). */
static bool reserve(cg_jw_t *w, size_t n)
{
    if (!w->ok)
        return false;
    if (w->len + n + 1 <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->ok = false;
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

static void put(cg_jw_t *w, const char *s, size_t n)
{
    if (reserve(w, n)) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
    }
}

/* Writes ,"name": (the comma from the second member on). */
static void key(cg_jw_t *w, const char *name)
{
    size_t n = strlen(name);

    if (!reserve(w, n + 4))
        return;
    if (!w->first)
        w->buf[w->len++] = ',';
    w->first = false;
    w->buf[w->len++] = '"';
    memcpy(w->buf + w->len, name, n);
    w->len += n;
    w->buf[w->len++] = '"';
    w->buf[w->len++] = ':';
}

void cg_jw_begin(cg_jw_t *w, size_t hint)
{
    *w = (cg_jw_t){NULL, 0, 0, true, true};
    if (reserve(w, hint + 1))
        w->buf[w->len++] = '{';
}

void cg_jw_str(cg_jw_t *w, const char *name, const char *s, size_t len)
{
    size_t n = s ? cg_json_escaped_len(s, len) : 0;

    key(w, name);
    if (!reserve(w, n + 2))
        return;
    w->buf[w->len++] = '"';
    if (s)
        w->len += cg_json_escape(w->buf + w->len, s, len);
    w->buf[w->len++] = '"';
}

void cg_jw_int(cg_jw_t *w, const char *name, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);

    key(w, name);
    put(w, num, (size_t)n);
}

void cg_jw_bool(cg_jw_t *w, const char *name, bool v)
{
    key(w, name);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void cg_jw_null(cg_jw_t *w, const char *name)
{
    key(w, name);
    put(w, "null", 4);
}

char *cg_jw_finish(cg_jw_t *w)
{
    char *s;

    put(w, "}", 1);
    if (!w->ok) {
        free(w->buf);
        *w = (cg_jw_t){NULL, 0, 0, false, false};
        return NULL;
    }
    w->buf[w->len] = '\0';
    s = w->buf;
    *w = (cg_jw_t){NULL, 0, 0, false, false};
    return s;
}
