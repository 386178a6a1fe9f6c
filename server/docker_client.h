/*
 * docker_client.h - the transport to the Docker Engine API (v1.41): libcurl over the daemon's
 * unix socket (CURLOPT_UNIX_SOCKET_PATH, URLs "http://localhost/v1.41/...").
 *
 * One docker_client_call() is one HTTP request with a bounded answer, or a streamed one whose
 * 2xx body goes to a docker_stream_lines_t as it arrives. The endpoints (docker_system.h,
 * docker_image.h, docker_network.h, docker_container.h) are built on it; the layering is in
 * docker_error.h.
 *
 * Threads: docker_client_t is immutable after docker_client_new(). Every call makes its own curl
 * easy handle (no shared connection state, CURLOPT_NOSIGNAL), so any thread may call any function
 * on the same client at the same time - the gateway's runtime watcher, runtime_start's thread and
 * the threads that stop containers in parallel. docker_client_free() must not race with calls.
 * Streaming calls invoke their line callback on the calling thread.
 *
 * Bounds: answers are capped at DOCKER_MAX_BODY (DOCKER_ETOOBIG beyond), stream lines at
 * DOCKER_MAX_LINE (longer lines are skipped whole).
 *
 * Ownership: docker_client_new() returns a client freed with docker_client_free() (NULL is a
 * no-op). An answer's docker_body_t.data belongs to the caller (free()). Callers keep every
 * argument alive for the duration of the call only.
 */
#ifndef CG_DOCKER_CLIENT_H
#define CG_DOCKER_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "docker_error.h"
#include "docker_json.h"
#include "docker_stream.h"

#define DOCKER_API_VERSION "1.41"
#define DOCKER_MAX_BODY (8u * 1024u * 1024u)

typedef struct docker_client docker_client_t;

/*
 * A client for the daemon at socket_path (NULL = "/var/run/docker.sock"). Does not connect.
 * default_timeout_ms bounds every call that takes no explicit timeout (0 = 30000).
 * Returns NULL when out of memory or the path is too long.
 */
docker_client_t *docker_client_new(const char *socket_path, long default_timeout_ms);
void docker_client_free(docker_client_t *dc);
const char *docker_client_socket(const docker_client_t *dc);

/* One request. Zero-initialise, then set what the call needs. */
typedef struct {
    const char *method;       /* "GET", "POST", "DELETE" */
    const char *path;         /* "/containers/x/start": see docker_client_path() */
    const docker_kv_t *query; /* may be NULL; entries with a NULL value are skipped */
    const char *ctype;        /* Content-Type of body, or NULL */
    const void *body;
    size_t body_len;
    long timeout_ms;              /* > 0 deadline, 0 the client's default, < 0 none */
    docker_stream_lines_t *lines; /* streaming: a 2xx body is fed here as it arrives */
    const atomic_bool *stop;      /* streaming: true ends the call (polled at least 1/s) */
} docker_call_t;

/* An answer: NUL-terminated (data[len] == '\0'), malloc'ed, the caller frees data. */
typedef struct {
    char *data;
    size_t len;
} docker_body_t;

/*
 * Performs call. Returns 0 for 2xx and 304 (the answer in *resp when resp is not NULL, "" when
 * empty or streamed), else the mapped error with the daemon's message in err. Streaming: a
 * line callback's negative value is returned as the error, a positive one ends the call with
 * 0; the stop flag ends it with DOCKER_ECANCELED. err->http_status is the answer's status.
 */
int docker_client_call(docker_client_t *dc, const docker_call_t *call, docker_body_t *resp,
                       docker_err_t *err);

/* POST path?query with body as application/json. Same returns as docker_client_call(). */
int docker_client_post_json(docker_client_t *dc, const char *path, const docker_kv_t *query,
                            const cJSON *body, docker_body_t *resp, docker_err_t *err);

/* GET path?[all=1&]filters=<docker_json_filters(filters)> (filters NULL or empty: none). */
int docker_client_get_filtered(docker_client_t *dc, const char *path, bool all,
                               const docker_kv_t *filters, docker_body_t *resp, docker_err_t *err);

/* True when s is non-empty, at most 255 bytes and only [A-Za-z0-9_.:/@-] (container, network
 * and image references; path-safe without escaping). */
bool docker_client_ref_ok(const char *s);

/* fmt (one %s) with ref into out: DOCKER_EINVAL (err says why) when ref fails
 * docker_client_ref_ok() or the path does not fit. */
int docker_client_path(char *out, size_t outlen, const char *fmt, const char *ref,
                       docker_err_t *err);

/* "http://localhost/v1.41" + path + "?k=v&..." with values percent-encoded by libcurl (all but
 * RFC 3986's unreserved [A-Za-z0-9-._~]); query may be NULL and entries with a NULL value are
 * skipped. malloc'ed; caller frees. NULL when out of memory. */
char *docker_client_url(const char *path, const docker_kv_t *query);

#endif
