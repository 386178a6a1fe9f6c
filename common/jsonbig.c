/*
 * jsonbig.c - cJSON parsing with the long top-level string values cut out (see jsonbig.h).
 *
 * Three steps. scan_object walks the top-level object as cJSON would read it (whitespace is
 * any byte up to 32, as in cJSON) and records the long string values ("cuts"); anything it is
 * not sure of makes it give up, and cJSON parses the input alone. The skeleton (the input less
 * the cuts' contents) is parsed by cJSON. Each cut is unescaped into its member's valuestring,
 * with the escapes cJSON would decode to the same bytes; any other escape gives up the same
 * way. A cut's end is the first quote not escaped, as cJSON finds it: a quote after an odd run
 * of backslashes is part of the string.
 */
#include "jsonbig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CUTS 8

typedef struct {
    size_t key, key_len; /* the key's bytes (no escapes) */
    size_t val, val_len; /* the value's bytes between its quotes */
} cut_t;

typedef struct {
    cut_t c[MAX_CUTS];
    int n;
} cuts_t;

static size_t skip_ws(const char *b, size_t i, size_t n)
{
    while (i < n && (unsigned char)b[i] <= 32)
        i++;
    return i;
}

/* The index of the quote that ends the string whose contents start at i, or n. */
static size_t string_end(const char *b, size_t i, size_t n)
{
    size_t from = i;

    for (;;) {
        const char *q = memchr(b + i, '"', n - i);
        size_t k, bs = 0;
        if (!q)
            return n;
        k = (size_t)(q - b);
        while (k - bs > from && b[k - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return k;
        i = k + 1;
    }
}

/* Skips a value that is not a top-level string: a nested object or array (strings in it
 * skipped whole), or a number or literal. Returns the index after it, or n to give up. */
static size_t skip_value(const char *b, size_t i, size_t n)
{
    int depth = 0;

    while (i < n) {
        char ch = b[i];
        if (ch == '"') {
            i = string_end(b, i + 1, n);
            if (i == n)
                return n;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (ch == ',' || (unsigned char)ch <= 32)) {
            return i;
        }
        i++;
    }
    return n;
}

/* Records the long string values of the top-level object; false to give up. */
static bool scan_object(const char *b, size_t n, cuts_t *cuts)
{
    size_t i = skip_ws(b, 0, n);

    cuts->n = 0;
    if (i == n || b[i] != '{')
        return false;
    i = skip_ws(b, i + 1, n);
    if (i < n && b[i] == '}')
        return true;
    for (;;) {
        size_t key, key_end, v;
        if (i == n || b[i] != '"')
            return false;
        key = i + 1;
        key_end = string_end(b, key, n);
        if (key_end == n || memchr(b + key, '\\', key_end - key) ||
            memchr(b + key, 0, key_end - key))
            return false;
        i = skip_ws(b, key_end + 1, n);
        if (i == n || b[i] != ':')
            return false;
        i = skip_ws(b, i + 1, n);
        if (i == n)
            return false;
        if (b[i] == '"') {
            v = string_end(b, i + 1, n);
            if (v == n)
                return false;
            if (v - (i + 1) >= JSONBIG_MIN) {
                if (cuts->n == MAX_CUTS)
                    return false;
                cuts->c[cuts->n++] = (cut_t){key, key_end - key, i + 1, v - (i + 1)};
            }
            i = v + 1;
        } else {
            i = skip_value(b, i, n);
        }
        i = skip_ws(b, i, n);
        if (i == n)
            return false;
        if (b[i] == '}')
            return true;
        if (b[i] != ',')
            return false;
        i = skip_ws(b, i + 1, n);
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Unescapes s[0..len) into out (room for len + 1); NULL to give up. */
static char *unescape(const char *s, size_t len, char *out)
{
    const char *r = s, *end = s + len;
    char *w = out;

    while (r < end) {
        const char *e = memchr(r, '\\', (size_t)(end - r));
        if (!e) {
            memcpy(w, r, (size_t)(end - r));
            w += end - r;
            break;
        }
        memcpy(w, r, (size_t)(e - r));
        w += e - r;
        if (end - e < 2)
            return NULL;
        switch (e[1]) {
        case '"':
        case '\\':
        case '/':
            *w++ = e[1];
            break;
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'u': {
            /* Only what jsonw.c writes: \u0001 to \u001f, one byte each. */
            int v = 0;
            if (end - e < 6)
                return NULL;
            for (int k = 2; k < 6; k++) {
                int h = hexval(e[k]);
                if (h < 0)
                    return NULL;
                v = v * 16 + h;
            }
            if (v < 1 || v > 0x1f)
                return NULL;
            *w++ = (char)v;
            r = e + 6;
            continue;
        }
        default:
            return NULL;
        }
        r = e + 2;
    }
    *w = '\0';
    return out;
}

/* The one member named like the cut's key, a string that is "" in the skeleton; or NULL. */
static cJSON *cut_item(cJSON *tree, const char *b, const cut_t *c)
{
    cJSON *found = NULL;

    for (cJSON *it = tree->child; it; it = it->next)
        if (it->string && strlen(it->string) == c->key_len &&
            memcmp(it->string, b + c->key, c->key_len) == 0) {
            if (found)
                return NULL;
            found = it;
        }
    if (!found || !cJSON_IsString(found) || !found->valuestring || found->valuestring[0])
        return NULL;
    return found;
}

/* Parses the skeleton and puts the cuts in; NULL to give up. */
static cJSON *parse_cut(const char *b, size_t n, const cuts_t *cuts, size_t *end_off)
{
    size_t cut = 0, w = 0, at = 0;
    const char *end = NULL;
    char *skel;
    cJSON *tree = NULL;

    for (int k = 0; k < cuts->n; k++)
        cut += cuts->c[k].val_len;
    if (!(skel = malloc(n - cut + 1)))
        return NULL;
    for (int k = 0; k < cuts->n; k++) {
        memcpy(skel + w, b + at, cuts->c[k].val - at);
        w += cuts->c[k].val - at;
        at = cuts->c[k].val + cuts->c[k].val_len;
    }
    memcpy(skel + w, b + at, n - at);
    w += n - at;
    skel[w] = '\0';
    tree = cJSON_ParseWithLengthOpts(skel, w, &end, false);
    /* The skeleton's object must end after the last cut, as the scan saw it. */
    if (!tree || !cJSON_IsObject(tree) ||
        (size_t)(end - skel) + cut <= cuts->c[cuts->n - 1].val + cuts->c[cuts->n - 1].val_len)
        goto fail;
    for (int k = 0; k < cuts->n; k++) {
        cJSON *it = cut_item(tree, b, &cuts->c[k]);
        char *s = it ? malloc(cuts->c[k].val_len + 1) : NULL;
        if (!s || !unescape(b + cuts->c[k].val, cuts->c[k].val_len, s)) {
            free(s);
            goto fail;
        }
        free(it->valuestring);
        it->valuestring = s;
    }
    if (end_off)
        *end_off = (size_t)(end - skel) + cut;
    free(skel);
    return tree;
fail:
    cJSON_Delete(tree);
    free(skel);
    return NULL;
}

cJSON *cg_json_parse_big(const char *buf, size_t len, size_t *end_off)
{
    const char *end = NULL;
    cuts_t cuts;
    cJSON *tree;

    if (len >= JSONBIG_MIN && scan_object(buf, len, &cuts) && cuts.n > 0 &&
        (tree = parse_cut(buf, len, &cuts, end_off)))
        return tree;
    tree = cJSON_ParseWithLengthOpts(buf, len, &end, false);
    if (end_off)
        *end_off = tree ? (size_t)(end - buf) : 0;
    return tree;
}
