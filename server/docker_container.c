/*
 * docker_container.c - the container endpoints (see docker_container.h).
 */
#include "docker_container.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A call without a request body on /containers/{id}<suffix>; the answer in *resp if not NULL. */
static int container_call(docker_client_t *dc, const char *method, const char *fmt, const char *id,
                          const docker_kv_t *query, long timeout_ms, docker_body_t *resp,
                          docker_err_t *err)
{
    char path[320];
    docker_error_reset(err);
    int rc = docker_client_path(path, sizeof path, fmt, id, err);
    const docker_call_t call = {
        .method = method, .path = path, .query = query, .timeout_ms = timeout_ms};
    return rc ? rc : docker_client_call(dc, &call, resp, err);
}

int docker_container_create(docker_client_t *dc, const char *name, const cJSON *body,
                            char id_out[DOCKER_ID_LEN], docker_err_t *err)
{
    docker_body_t b = {0};
    docker_error_reset(err);
    id_out[0] = '\0';
    if (name && !docker_client_ref_ok(name))
        return docker_error_set(err, DOCKER_EINVAL, "invalid container name '%.200s'", name);
    const docker_kv_t query[] = {{"name", name}, {NULL, NULL}};
    int rc = docker_client_post_json(dc, "/containers/create", query, body, &b, err);
    if (rc == 0 && docker_json_get_str(b.data, b.len, "Id", id_out, DOCKER_ID_LEN) != 0)
        rc = docker_error_set(err, DOCKER_EPROTO, "%s", "create answer without Id");
    free(b.data);
    return rc;
}

int docker_container_start(docker_client_t *dc, const char *id, docker_err_t *err)
{
    return container_call(dc, "POST", "/containers/%s/start", id, NULL, 0, NULL, err);
}

int docker_container_stop(docker_client_t *dc, const char *id, int timeout_s, docker_err_t *err)
{
    char t[16];
    if (timeout_s < 0)
        timeout_s = 0;
    snprintf(t, sizeof t, "%d", timeout_s);
    const docker_kv_t query[] = {{"t", t}, {NULL, NULL}};
    return container_call(dc, "POST", "/containers/%s/stop", id, query, (timeout_s + 30) * 1000L,
                          NULL, err);
}

int docker_container_kill(docker_client_t *dc, const char *id, const char *sig, docker_err_t *err)
{
    const docker_kv_t query[] = {{"signal", sig}, {NULL, NULL}};
    return container_call(dc, "POST", "/containers/%s/kill", id, query, 0, NULL, err);
}

int docker_container_remove(docker_client_t *dc, const char *id, bool force, docker_err_t *err)
{
    const docker_kv_t query[] = {{"v", "1"}, {"force", force ? "1" : NULL}, {NULL, NULL}};
    return container_call(dc, "DELETE", "/containers/%s", id, query, 0, NULL, err);
}

int docker_container_inspect(docker_client_t *dc, const char *id, const char *network,
                             docker_container_info_t *info, docker_err_t *err)
{
    docker_body_t b = {0};
    memset(info, 0, sizeof *info);
    int rc = container_call(dc, "GET", "/containers/%s/json", id, NULL, 0, &b, err);
    if (rc == 0 && (rc = docker_json_container_info(b.data, b.len, network, info)) != 0)
        docker_error_set(err, rc, "%s", "cannot parse the inspect answer");
    free(b.data);
    return rc;
}

int docker_container_list(docker_client_t *dc, const docker_kv_t *filters,
                          docker_container_summary_t **out, docker_err_t *err)
{
    docker_body_t b = {0};
    *out = NULL;
    docker_error_reset(err);
    int rc = docker_client_get_filtered(dc, "/containers/json", true, filters, &b, err);
    if (rc == 0 && (rc = docker_json_container_list(b.data, b.len, out)) < 0)
        docker_error_set(err, rc, "%s", "cannot parse the container list");
    free(b.data);
    return rc;
}

int docker_container_wait(docker_client_t *dc, const char *id, long timeout_ms, int *exit_code,
                          docker_err_t *err)
{
    docker_body_t b = {0};
    const docker_kv_t query[] = {{"condition", "not-running"}, {NULL, NULL}};
    int rc = container_call(dc, "POST", "/containers/%s/wait", id, query,
                            timeout_ms > 0 ? timeout_ms : -1, &b, err);
    if (rc == 0 && docker_json_wait(b.data, b.len, exit_code) != 0)
        rc = docker_error_set(err, DOCKER_EPROTO, "%s", "wait answer without StatusCode");
    free(b.data);
    return rc;
}

/* Where docker_container_logs() collects both streams. */
typedef struct {
    char *out;
    size_t len, cap; /* cap = outlen: room for cap - 1 bytes and the NUL */
} logs_sink_t;

static int logs_append(void *arg, int stream, const char *data, size_t n)
{
    logs_sink_t *s = arg;
    (void)stream; /* interleaved as they arrived */
    size_t room = s->cap - 1 - s->len;
    if (n > room)
        n = room;
    memcpy(s->out + s->len, data, n);
    s->len += n;
    return 0;
}

int docker_container_logs(docker_client_t *dc, const char *id, int lines, char *out, size_t outlen,
                          docker_err_t *err)
{
    char tail[16];
    docker_body_t b = {0};
    if (outlen)
        out[0] = '\0';
    snprintf(tail, sizeof tail, "%d", lines > 0 ? lines : 100);
    const docker_kv_t query[] = {{"stdout", "1"}, {"stderr", "1"}, {"tail", tail}, {NULL, NULL}};
    int rc = container_call(dc, "GET", "/containers/%s/logs", id, query, 0, &b, err);
    if (rc == 0 && outlen) {
        logs_sink_t sink = {.out = out, .cap = outlen};
        docker_stream_demux_t d;
        docker_stream_demux_init(&d, logs_append, &sink);
        docker_stream_demux_feed(&d, b.data, b.len);
        docker_stream_demux_finish(&d);
        out[sink.len] = '\0';
        rc = (int)sink.len;
    }
    free(b.data);
    return rc;
}
