/*
 * docker_error.h - the error codes and error details of the Docker Engine API client.
 *
 * The client is five parts, bottom to top (each includes only the ones below it):
 *   docker_error   codes, docker_err_t, HTTP status and {"message"} mapping
 *   docker_json    pure builders and parsers of the Engine API's JSON bodies
 *   docker_stream  stream parsers: lines, build progress, multiplexed logs
 *   docker_client  the transport: one libcurl request per call over the unix socket
 *   docker_system, docker_image, docker_network, docker_container   the endpoints
 *
 * Errors: every call returns 0 (or a count / flag where it says so) or a negative DOCKER_E*
 * code; docker_error_str() names the code. When the caller passes a docker_err_t, it receives
 * the HTTP status and the daemon's {"message"} (or the transport or build error) as text. err
 * may be NULL everywhere.
 *
 * Ownership: docker_err_t is a plain value of the caller's; nothing here allocates. Any thread.
 */
#ifndef CG_DOCKER_ERROR_H
#define CG_DOCKER_ERROR_H

#include <stddef.h>

enum {
    DOCKER_OK = 0,
    DOCKER_ENOMEM = -1,   /* allocation failed */
    DOCKER_EINVAL = -2,   /* bad argument (e.g. a name with characters outside [A-Za-z0-9_.:/@-]) */
    DOCKER_ECONNECT = -3, /* socket missing or connection refused */
    DOCKER_ETIMEDOUT = -4,  /* the call's deadline passed */
    DOCKER_ETRANSPORT = -5, /* other libcurl failure */
    DOCKER_EBADREQ = -6,    /* HTTP 400 */
    DOCKER_EFORBIDDEN = -7, /* HTTP 403 (e.g. removing a predefined network) */
    DOCKER_ENOTFOUND = -8,  /* HTTP 404: no such container / image / network */
    DOCKER_ECONFLICT = -9,  /* HTTP 409: name in use, container not running, ... */
    DOCKER_ESERVER = -10,   /* HTTP 5xx */
    DOCKER_EPROTO = -11,    /* unexpected status or an unparsable answer */
    DOCKER_ETOOBIG = -12,   /* answer larger than DOCKER_MAX_BODY */
    DOCKER_EBUILD = -13,    /* the build stream reported an error (HTTP was 200) */
    DOCKER_ECANCELED = -14, /* a callback or the stop flag ended a streaming call */
};

/* Details of a failure, filled when the caller passes one. Plain value; zeroed on success. */
typedef struct {
    long http_status; /* 0 when no HTTP answer arrived */
    char msg[768];    /* daemon's message, transport or build error; "" when none */
    char step[256];   /* docker_image_build: the last "Step N/M : ..." line before the error */
    char tail[1024];  /* docker_image_build: the end of the build output before the error */
} docker_err_t;

/* Static text for a DOCKER_E* code. */
const char *docker_error_str(int code);

/* DOCKER_E* code for an HTTP status: 2xx/304 -> 0, 400, 403, 404, 409, 5xx, other -> EPROTO. */
int docker_error_from_status(long status);

/* Fills err (when not NULL) from an error answer: status and the "message" member of body (or
 * the start of body when it is not JSON). Returns docker_error_from_status(status). */
int docker_error_from_body(docker_err_t *err, long status, const char *body, size_t len);

/* Zeroes err (NULL: nothing). */
void docker_error_reset(docker_err_t *err);

/* Formats err->msg from fmt with one string argument (NULL prints as ""), when err is not NULL.
 * Returns code, so a failure path reads `return docker_error_set(err, DOCKER_EINVAL, ...)`. */
int docker_error_set(docker_err_t *err, int code, const char *fmt, const char *arg);

#endif
