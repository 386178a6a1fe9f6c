/*
 * probe.h - `executor --probe`: the health check of images without curl (Compose healthcheck,
 * Kubernetes exec probe). It asks GET /healthz of the executor that listens at the configured
 * address - 127.0.0.1 when it listens on every address (0.0.0.0), the unix socket path, over
 * TLS when the listener has a certificate (not verified: it is the local process) - and
 * answers with an exit status: 0 on HTTP 200, 1 otherwise, with a one-line reason on stderr.
 * The whole probe is bounded by timeout_ms.
 *
 * Ownership: nothing is kept. Threads: any; it blocks.
 */
#ifndef CG_PROBE_H
#define CG_PROBE_H

#include <stdbool.h>
#include <stdio.h>

#define PROBE_TIMEOUT_MS 3000

/* The exit status (0 healthy, 1 not). The body of a 200 goes to out (one line). */
int probe_run(const char *listen, bool tls, int timeout_ms, FILE *out, FILE *err);

/* The host the probe connects to for a tcp: listen host: 127.0.0.1 for 0.0.0.0 or "", the
 * host itself otherwise. */
const char *probe_host(const char *listen_host);

#endif
