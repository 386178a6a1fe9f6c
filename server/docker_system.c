/*
 * docker_system.c - /_ping, /version and /events (see docker_system.h).
 */
#include "docker_system.h"

#include <stdlib.h>
#include <string.h>

int docker_system_ping(docker_client_t *dc, long timeout_ms, docker_err_t *err)
{
    docker_body_t b;
    docker_error_reset(err);
    const docker_call_t call = {.method = "GET", .path = "/_ping", .timeout_ms = timeout_ms};
    int rc = docker_client_call(dc, &call, &b, err);
    if (rc == 0 && strncmp(b.data, "OK", 2) != 0)
        rc = docker_error_set(err, DOCKER_EPROTO, "unexpected _ping answer '%.64s'", b.data);
    free(b.data);
    return rc;
}

int docker_system_version(docker_client_t *dc, char *api, size_t api_len, char *server,
                          size_t server_len, docker_err_t *err)
{
    docker_body_t b;
    docker_error_reset(err);
    const docker_call_t call = {.method = "GET", .path = "/version"};
    int rc = docker_client_call(dc, &call, &b, err);
    if (rc == 0 && docker_json_version(b.data, b.len, api, api_len, server, server_len) != 0)
        rc = docker_error_set(err, DOCKER_EPROTO, "%s", "version answer without ApiVersion");
    free(b.data);
    return rc;
}

typedef struct {
    docker_system_event_cb cb;
    void *arg;
} events_ctx_t;

static int event_line(void *arg, const char *line, size_t len)
{
    events_ctx_t *ec = arg;
    cJSON *o = len ? cJSON_ParseWithLength(line, len) : NULL;
    int rc = cJSON_IsObject(o) && ec->cb(ec->arg, o) != 0 ? 1 : 0; /* > 0: clean stop */
    cJSON_Delete(o);
    return rc;
}

int docker_system_events(docker_client_t *dc, const docker_kv_t *filters, docker_system_event_cb cb,
                         void *arg, const atomic_bool *stop, docker_err_t *err)
{
    events_ctx_t ec = {cb, arg};
    docker_stream_lines_t lb;
    docker_error_reset(err);
    char *f = filters && filters->key ? docker_json_filters(filters) : NULL;
    if (filters && filters->key && !f)
        return docker_error_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    const docker_kv_t query[] = {{"filters", f}, {NULL, NULL}};
    const docker_call_t call = {.method = "GET",
                                .path = "/events",
                                .query = query,
                                .timeout_ms = -1,
                                .lines = &lb,
                                .stop = stop};
    docker_stream_lines_init(&lb, event_line, &ec);
    int rc = docker_client_call(dc, &call, NULL, err);
    docker_stream_lines_free(&lb);
    free(f);
    return rc;
}
