/*
 * docker_image.c - image inspect and build (see docker_image.h).
 */
#include "docker_image.h"

#include <stdio.h>
#include <stdlib.h>

int docker_image_inspect(docker_client_t *dc, const char *name, char id_out[DOCKER_ID_LEN],
                         docker_err_t *err)
{
    char path[320];
    docker_body_t b = {0};
    docker_error_reset(err);
    int rc = docker_client_path(path, sizeof path, "/images/%s/json", name, err);
    const docker_call_t call = {.method = "GET", .path = path};
    rc = rc ? rc : docker_client_call(dc, &call, &b, err);
    if (rc == 0 && id_out)
        docker_json_get_str(b.data, b.len, "Id", id_out, DOCKER_ID_LEN);
    free(b.data);
    return rc;
}

static int build_line(void *arg, const char *line, size_t len)
{
    int rc = docker_stream_build_line(arg, line, len);
    return rc == DOCKER_EBUILD ? 0 : rc; /* read on to the end; the state remembers */
}

int docker_image_build(docker_client_t *dc, const void *tar, size_t tar_len,
                       const docker_image_build_opts_t *opts, char id_out[DOCKER_ID_LEN],
                       docker_err_t *err)
{
    docker_stream_build_t st = {.progress = opts->progress, .progress_arg = opts->progress_arg};
    docker_stream_lines_t lb;
    docker_error_reset(err);
    if (id_out)
        id_out[0] = '\0';
    if (!docker_client_ref_ok(opts->tag))
        return docker_error_set(err, DOCKER_EINVAL, "invalid image tag '%.200s'", opts->tag);
    const docker_kv_t query[] = {
        {"t", opts->tag},
        {"dockerfile", opts->dockerfile},
        {"buildargs", opts->buildargs_json},
        {"labels", opts->labels_json},
        {"rm", "1"},
        {"forcerm", "1"},
        {"nocache", opts->nocache ? "1" : NULL},
        {NULL, NULL},
    };
    const docker_call_t call = {.method = "POST",
                                .path = "/build",
                                .query = query,
                                .ctype = "application/x-tar",
                                .body = tar,
                                .body_len = tar_len,
                                .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : -1,
                                .lines = &lb};
    docker_stream_lines_init(&lb, build_line, &st);
    int rc = docker_client_call(dc, &call, NULL, err);
    if (rc == 0)
        rc = docker_stream_lines_flush(&lb) == DOCKER_ECANCELED ? DOCKER_ECANCELED : 0;
    if ((rc == 0 || rc == DOCKER_ECANCELED) && st.failed) {
        rc = DOCKER_EBUILD;
        if (err) {
            snprintf(err->msg, sizeof err->msg, "%s", st.error);
            snprintf(err->step, sizeof err->step, "%s", st.step);
            snprintf(err->tail, sizeof err->tail, "%s", st.tail);
        }
    } else if (rc == 0 && id_out) {
        snprintf(id_out, DOCKER_ID_LEN, "%s", st.image_id);
    }
    docker_stream_lines_free(&lb);
    return rc;
}
