/*
 * extaddr.c - parsing --executor-addrs and diffing resolved endpoint sets (see extaddr.h).
 *
 * The parser walks the specification once, section by section (';'), and inside a section
 * entry by entry (','); every error names the section or entry it is about, so an operator sees
 * which part of a long value is wrong.
 */
#include "extaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"

/* [s, e) without blanks at both ends. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > EXTADDR_HOST_MAX || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/* One "HOST:PORT" entry of [s, e). 0 or -1 with err. */
static int parse_entry(const char *s, const char *e, extaddr_target_t *t, char *err, size_t errlen)
{
    const char *colon, *host = s, *host_end;
    char portbuf[8], *end;
    long port;
    int len = (int)(e - s);

    if (s == e) {
        snprintf(err, errlen, "an empty address in the list of %s", lang_table[t->lang].name);
        return -1;
    }
    if (*s == '[') {
        const char *rb = memchr(s, ']', (size_t)(e - s));
        struct in6_addr a6;
        char ip[EXTADDR_IP_MAX];
        if (!rb || rb + 1 >= e || rb[1] != ':') {
            snprintf(err, errlen, "\"%.*s\": an IPv6 address is written [ADDRESS]:PORT", len, s);
            return -1;
        }
        host = s + 1;
        host_end = rb;
        colon = rb + 1;
        size_t hl = (size_t)(host_end - host);
        if (hl >= sizeof ip) {
            snprintf(err, errlen, "\"%.*s\": not an IPv6 address", len, s);
            return -1;
        }
        memcpy(ip, host, hl);
        ip[hl] = '\0';
        if (inet_pton(AF_INET6, ip, &a6) != 1) {
            snprintf(err, errlen, "\"%.*s\": not an IPv6 address", len, s);
            return -1;
        }
    } else {
        colon = NULL;
        for (const char *c = s; c < e; c++)
            if (*c == ':')
                colon = c;
        if (!colon) {
            snprintf(err, errlen, "\"%.*s\": the port is missing (HOST:PORT)", len, s);
            return -1;
        }
        host_end = colon;
        if (!valid_name(host, (size_t)(host_end - host))) {
            snprintf(err, errlen,
                     "\"%.*s\": the host must be a name of [A-Za-z0-9._-] (at most %d), an IPv4 "
                     "address or [IPv6]",
                     len, s, EXTADDR_HOST_MAX);
            return -1;
        }
    }
    if (e - colon - 1 < 1 || e - colon - 1 > 5) {
        snprintf(err, errlen, "\"%.*s\": the port must be 1..65535", len, s);
        return -1;
    }
    memcpy(portbuf, colon + 1, (size_t)(e - colon - 1));
    portbuf[e - colon - 1] = '\0';
    port = strtol(portbuf, &end, 10);
    if (!isdigit((unsigned char)portbuf[0]) || *end || port < 1 || port > 65535) {
        snprintf(err, errlen, "\"%.*s\": the port must be 1..65535", len, s);
        return -1;
    }
    memcpy(t->host, host, (size_t)(host_end - host));
    t->host[host_end - host] = '\0';
    t->port = (int)port;
    return 0;
}

/* One "LANG=HOST:PORT,..." section of [s, e), appended to out. */
static int parse_section(const char *s, const char *e, extaddr_target_t *out, int max, int *n,
                         bool *seen, char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', (size_t)(e - s)), *ls = s, *le;
    char name[32];
    int lang, before = *n;

    if (!eq) {
        snprintf(err, errlen, "\"%.*s\": each part is LANGUAGE=HOST:PORT[,HOST:PORT...]",
                 (int)(e - s), s);
        return -1;
    }
    le = eq;
    trim(&ls, &le);
    if ((size_t)(le - ls) >= sizeof name)
        lang = -1;
    else {
        memcpy(name, ls, (size_t)(le - ls));
        name[le - ls] = '\0';
        lang = lang_index(name);
    }
    if (lang < 0) {
        char names[96];
        size_t k = 0;
        names[0] = '\0';
        for (int i = 0; i < LANG_COUNT && k < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "",
                                  lang_table[i].name);
        snprintf(err, errlen, "\"%.*s\" is not a language (one of %s)", (int)(le - ls), ls, names);
        return -1;
    }
    if (seen[lang]) {
        snprintf(err, errlen, "%s appears twice", lang_table[lang].name);
        return -1;
    }
    seen[lang] = true;
    for (const char *p = eq + 1; p <= e;) {
        const char *comma = memchr(p, ',', (size_t)(e - p)), *ee = comma ? comma : e, *ps = p;
        trim(&ps, &ee);
        if (*n == max) {
            snprintf(err, errlen, "more than %d addresses", max);
            return -1;
        }
        out[*n].lang = lang;
        if (parse_entry(ps, ee, &out[*n], err, errlen))
            return -1;
        (*n)++;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (*n == before) {
        snprintf(err, errlen, "no address for %s", lang_table[lang].name);
        return -1;
    }
    return 0;
}

int extaddr_parse(const char *spec, extaddr_target_t *out, int max, int *n, char *err,
                  size_t errlen)
{
    bool seen[LANG_COUNT] = {false};
    const char *p = spec, *end = spec + strlen(spec);

    *n = 0;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p)), *se = semi ? semi : end, *ss = p;
        trim(&ss, &se);
        if (ss == se) {
            if (semi) { /* ";;" or a trailing ';' : allowed */
                p = semi + 1;
                continue;
            }
            break;
        }
        if (parse_section(ss, se, out, max, n, seen, err, errlen))
            return -1;
        p = semi ? semi + 1 : end;
    }
    if (*n == 0) {
        snprintf(err, errlen, "no executor address (LANGUAGE=HOST:PORT[,...][;...])");
        return -1;
    }
    return 0;
}

void extaddr_id(const extaddr_ep_t *e, char *buf, size_t len)
{
    bool v6 = strchr(e->ip, ':') != NULL;

    snprintf(buf, len, "%s@%s%s%s:%d", lang_table[e->lang].name, v6 ? "[" : "", e->ip,
             v6 ? "]" : "", e->port);
}

bool extaddr_contains(const extaddr_ep_t *set, int n, const extaddr_ep_t *e)
{
    for (int i = 0; i < n; i++)
        if (set[i].lang == e->lang && set[i].port == e->port && strcmp(set[i].ip, e->ip) == 0)
            return true;
    return false;
}

void extaddr_diff(const extaddr_ep_t *old, int nold, const extaddr_ep_t *cur, int ncur,
                  extaddr_ep_t *gone, int *ngone, extaddr_ep_t *came, int *ncame)
{
    *ngone = *ncame = 0;
    for (int i = 0; i < nold; i++)
        if (!extaddr_contains(cur, ncur, &old[i]))
            gone[(*ngone)++] = old[i];
    for (int i = 0; i < ncur; i++)
        if (!extaddr_contains(old, nold, &cur[i]))
            came[(*ncame)++] = cur[i];
}
