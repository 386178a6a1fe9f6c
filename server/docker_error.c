/*
 * docker_error.c - DOCKER_E* codes, their text, and the mapping of HTTP answers to them.
 */
#include "docker_error.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

const char *docker_error_str(int code)
{
    static const char *const text[] = {
        [0] = "success",
        [-DOCKER_ENOMEM] = "out of memory",
        [-DOCKER_EINVAL] = "invalid argument",
        [-DOCKER_ECONNECT] = "cannot connect to the Docker daemon",
        [-DOCKER_ETIMEDOUT] = "Docker call timed out",
        [-DOCKER_ETRANSPORT] = "Docker transport error",
        [-DOCKER_EBADREQ] = "Docker rejected the request (400)",
        [-DOCKER_EFORBIDDEN] = "Docker refused the operation (403)",
        [-DOCKER_ENOTFOUND] = "no such object (404)",
        [-DOCKER_ECONFLICT] = "conflict (409)",
        [-DOCKER_ESERVER] = "Docker daemon error (5xx)",
        [-DOCKER_EPROTO] = "unexpected answer from Docker",
        [-DOCKER_ETOOBIG] = "Docker answer too large",
        [-DOCKER_EBUILD] = "image build failed",
        [-DOCKER_ECANCELED] = "canceled",
    };
    if (code > 0 || -code >= (int)(sizeof text / sizeof text[0]) || !text[-code])
        return "unknown Docker client error";
    return text[-code];
}

int docker_error_from_status(long status)
{
    if ((status >= 200 && status < 300) || status == 304)
        return 0;
    switch (status) {
    case 400:
        return DOCKER_EBADREQ;
    case 403:
        return DOCKER_EFORBIDDEN;
    case 404:
        return DOCKER_ENOTFOUND;
    case 409:
        return DOCKER_ECONFLICT;
    default:
        return status >= 500 && status < 600 ? DOCKER_ESERVER : DOCKER_EPROTO;
    }
}

int docker_error_from_body(docker_err_t *err, long status, const char *body, size_t len)
{
    int code = docker_error_from_status(status);
    if (!err)
        return code;
    err->http_status = status;
    err->msg[0] = '\0';
    cJSON *o = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
    if (cJSON_IsString(m)) {
        snprintf(err->msg, sizeof err->msg, "%s", m->valuestring);
    } else if (body && len) {
        size_t n = len < sizeof err->msg - 1 ? len : sizeof err->msg - 1;
        memcpy(err->msg, body, n);
        err->msg[n] = '\0';
    } else {
        snprintf(err->msg, sizeof err->msg, "HTTP %ld", status);
    }
    cJSON_Delete(o);
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == '\r'))
        err->msg[--n] = '\0';
    return code;
}

void docker_error_reset(docker_err_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

int docker_error_set(docker_err_t *err, int code, const char *fmt, const char *arg)
{
    if (err)
        snprintf(err->msg, sizeof err->msg, fmt, arg ? arg : "");
    return code;
}
