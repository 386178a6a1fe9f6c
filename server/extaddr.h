/*
 * extaddr.h - the external runtime's executor addresses: parsing --executor-addrs, and the
 * difference between two resolved sets of endpoints (what appeared, what went away).
 *
 * Syntax of --executor-addrs / CODEGATE_EXECUTOR_ADDRS:
 *
 *   LANG=HOST:PORT[,HOST:PORT]...[;LANG=HOST:PORT[,...]]...
 *
 * LANG is a canonical language name (common/lang.c: python, javascript, cpp); HOST is a DNS
 * name ([A-Za-z0-9._-], at most 253 characters), an IPv4 literal or an IPv6 literal in
 * brackets ("[fd00::7]:8765"); PORT is 1..65535. Blanks around the separators are ignored. A
 * language may appear once; a language that does not appear is not offered. Example:
 *
 *   python=python-exec:8765,10.0.0.7:8765;javascript=js:8765;cpp=cpp:8765
 *
 * Every name is resolved (getaddrinfo, all A/AAAA records) by the runtime; each address:port is
 * one executor endpoint with the id "LANG@IP:PORT" ("LANG@[IPv6]:PORT").
 *
 * Ownership: plain values in caller-owned arrays; nothing here allocates, any thread may call.
 */
#ifndef CG_EXTADDR_H
#define CG_EXTADDR_H

#include <stdbool.h>
#include <stddef.h>

#define EXTADDR_MAX_TARGETS 32 /* HOST:PORT entries over all languages */
#define EXTADDR_HOST_MAX 253
#define EXTADDR_IP_MAX 46         /* INET6_ADDRSTRLEN */
#define EXTADDR_MAX_ENDPOINTS 128 /* resolved endpoints over all languages (pool's bound) */

/* One configured HOST:PORT of a language. */
typedef struct {
    int lang; /* index in lang_table */
    char host[EXTADDR_HOST_MAX + 1];
    int port;
} extaddr_target_t;

/* One resolved executor endpoint. */
typedef struct {
    int lang;
    int target; /* index of the target it was resolved from */
    char ip[EXTADDR_IP_MAX];
    int port;
} extaddr_ep_t;

/* Parses spec into out[0..*n). 0, or -1 with a message naming the faulty part in err. */
int extaddr_parse(const char *spec, extaddr_target_t *out, int max, int *n, char *err,
                  size_t errlen);

/* The endpoint's id: "python@10.0.0.5:8765" or "python@[fd00::5]:8765". */
void extaddr_id(const extaddr_ep_t *e, char *buf, size_t len);

/* True when set[0..n) holds an endpoint with e's language, ip and port. */
bool extaddr_contains(const extaddr_ep_t *set, int n, const extaddr_ep_t *e);

/* What changed from old to cur: gone[] = in old, not in cur; came[] = in cur, not in old (each
 * at most EXTADDR_MAX_ENDPOINTS, as are old and cur). */
void extaddr_diff(const extaddr_ep_t *old, int nold, const extaddr_ep_t *cur, int ncur,
                  extaddr_ep_t *gone, int *ngone, extaddr_ep_t *came, int *ncame);

#endif
