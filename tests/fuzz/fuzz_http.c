/*
 * fuzz_http.c - libFuzzer target for the HTTP request path the front door checks before the
 * body handler: the head's Host, Content-Type, Content-Length and Transfer-Encoding headers
 * (server/gate.c), then the body (server/request.c, with its U+0000 check).
 *
 * The input is a raw HTTP request: header lines up to an empty line, then the body. Each check
 * must agree with a plain restatement of its rule; the body, parsed from an exact-size copy,
 * must never be accepted with a string that cJSON would cut (the decoded strings are compared
 * with their declared lengths). Built and run by scripts/fuzz.sh (60 s in scripts/run-tests.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate.h"
#include "request.h"
#include "fuzz.h"

#define MAXH 16

typedef struct {
    const char *host, *ctype;
    const char *cl[MAXH];
    int ncl;
    int te;
} head_t;

/* Splits buf (NUL-terminated copy) into header lines; returns the body start. */
static char *parse_head(char *buf, size_t len, head_t *h)
{
    char *p = buf, *end = buf + len;

    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line = p, *colon, *v;
        if (!nl)
            return end;
        *nl = '\0';
        if (nl > p && nl[-1] == '\r')
            nl[-1] = '\0';
        p = nl + 1;
        if (!line[0])
            return p;
        colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        for (v = colon + 1; *v == ' '; v++)
            ;
        if (!strcasecmp(line, "Host"))
            h->host = v;
        else if (!strcasecmp(line, "Content-Type"))
            h->ctype = v;
        else if (!strcasecmp(line, "Content-Length") && h->ncl < MAXH)
            h->cl[h->ncl++] = v;
        else if (!strcasecmp(line, "Transfer-Encoding"))
            h->te = 1;
    }
    return end;
}

static void check_head(const head_t *h)
{
    uint64_t len;
    bool loop = gate_host_allowed(h->host, "", true);

    /* Wider settings never refuse what narrower ones allow. */
    if (loop) {
        CHECK(gate_host_allowed(h->host, "", false));
        CHECK(gate_host_allowed(h->host, "*", true));
        CHECK(gate_host_allowed(h->host, "other.example", true));
    }
    CHECK(gate_host_allowed(h->host, "*", true));
    if (h->host && loop) /* a loopback name has no character a DNS name could not have */
        for (const char *c = h->host; *c; c++)
            CHECK(*c != ' ' && *c != '/' && *c != '@');
    if (gate_is_json(h->ctype)) {
        const char *c = h->ctype;
        while (*c == ' ' || *c == '\t')
            c++;
        CHECK(!strncasecmp(c, "application/json", 16));
    }
    if (gate_content_length(h->cl, h->ncl, h->te, &len) == 0) {
        CHECK(h->ncl <= 1 && !(h->ncl == 1 && h->te));
        if (h->ncl == 1) {
            char digits[32];
            const char *v = h->cl[0];
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(digits, sizeof digits, "%llu", (unsigned long long)len);
            /* The value is the number, possibly with leading zeros and trailing blanks. */
            while (*v == '0' && v[1] >= '0' && v[1] <= '9')
                v++;
            CHECK(!strncmp(v, digits, strlen(digits)));
        } else {
            CHECK(len == UINT64_MAX);
        }
    } else {
        CHECK(h->ncl >= 1);
    }
}

static void check_body(const char *body, size_t len)
{
    char *copy = malloc(len ? len : 1);
    request_t r;
    request_error_t e;

    if (!copy)
        return;
    memcpy(copy, body, len);
    if (request_parse(copy, len, &r, &e) == 0) {
        CHECK(lang_find(r.language) && lang_find(r.language)->name == r.language);
        CHECK(r.code && strlen(r.code) == r.code_len);
        CHECK(!r.input || strlen(r.input) == r.input_len);
        /* Accepted bodies hold no \u0000 escape anywhere cJSON would decode one. */
        CHECK(r.code_len == 0 || memchr(r.code, '\0', r.code_len) == NULL);
        request_free(&r);
    } else {
        CHECK(e.code && e.message[0]);
        CHECK(e.http_status == 400 || e.http_status == 413 || e.http_status == 500);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    head_t h;
    char *body;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    memset(&h, 0, sizeof h);
    body = parse_head(buf, size, &h);
    check_head(&h);
    /* The body bytes come from the original input (may hold NULs). */
    check_body((const char *)data + (body - buf), size - (size_t)(body - buf));
    free(buf);
    return 0;
}
