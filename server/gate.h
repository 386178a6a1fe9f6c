/*
 * gate.h - the checks the front door makes on a request's head, as pure functions of strings:
 * Host allow-list (DNS rebinding), Content-Type, Content-Length headers (request smuggling),
 * CORS origin matching, loopback addresses. No MHD here, so the unit tests and the fuzzer
 * drive these directly (server/frontdoor.c applies them to live requests).
 *
 * Ownership: nothing is allocated; every function reads its arguments only. Any thread.
 */
#ifndef CG_GATE_H
#define CG_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * True when the Host header value may be answered. host may be NULL (no Host header: HTTP/1.0;
 * allowed, a browser always sends one). Loopback names (localhost, *.localhost, 127.x.y.z,
 * [::1]), with or without a port, are always allowed. allowed is the --allowed-hosts value:
 * "*" allows every name, otherwise a comma-separated list of extra names (case-insensitive,
 * without port). When loopback_only is false (the gateway listens on a non-loopback address)
 * and allowed is empty, every name is allowed.
 */
bool gate_host_allowed(const char *host, const char *allowed, bool loopback_only);

/* True for "application/json", any case, optionally followed by ";parameters". */
bool gate_is_json(const char *content_type);

/*
 * The request's body length from its Content-Length header values (n of them, in arrival
 * order) and whether a Transfer-Encoding header was present. Returns 0 and sets *len (or
 * *len = UINT64_MAX when there is no Content-Length); -1 when the head is ambiguous or
 * malformed: more than one Content-Length (even equal ones: a proxy may read another one),
 * a value that is not plain digits or overflows, or both Content-Length and Transfer-Encoding.
 */
int gate_content_length(const char *const *values, int n, bool has_transfer_encoding,
                        uint64_t *len);

/*
 * The Access-Control-Allow-Origin value for a request's Origin, or NULL when that origin may
 * not use the API from a browser. origins is --cors-origins: "*" allows every origin; a
 * comma-separated list allows those exactly; "" (the default) is automatic: when the gateway
 * listens on loopback (loopback_bind) only loopback origins (http or https, localhost,
 * *.localhost, 127.x.y.z or [::1], any port), else every origin ("*"). The gateway's own pages
 * (Origin = scheme://Host) are always allowed. origin NULL (not a browser): NULL, but "*" for
 * "*".
 */
const char *gate_cors_origin(const char *origins, const char *origin, const char *host,
                             bool loopback_bind);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool gate_addr_is_loopback(const struct sockaddr *sa);

/* True when the IPv4 text address is in 127.0.0.0/8. */
bool gate_bind_is_loopback(const char *ipv4);

#endif
