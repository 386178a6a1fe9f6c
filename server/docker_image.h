/*
 * docker_image.h - the Engine API's image endpoints: inspect, and build from a tar context.
 *
 * Errors, threads and ownership as in docker_client.h. docker_image_build() calls its progress
 * callback on the calling thread while the build runs.
 */
#ifndef CG_DOCKER_IMAGE_H
#define CG_DOCKER_IMAGE_H

#include "docker_client.h"

/* GET /images/{name}/json: 0 when the image exists (its "sha256:..." id in id_out, may be NULL),
 * DOCKER_ENOTFOUND when it does not. */
int docker_image_inspect(docker_client_t *dc, const char *name, char id_out[DOCKER_ID_LEN],
                         docker_err_t *err);

typedef struct {
    const char *tag;            /* "codegate-python:0123456789ab" (required) */
    const char *dockerfile;     /* path inside the context; NULL = "Dockerfile" */
    const char *buildargs_json; /* {"K":"V",...} or NULL */
    const char *labels_json;    /* {"K":"V",...} or NULL */
    bool nocache;
    long timeout_ms;                    /* 0 = no deadline (apt-get inside a build takes minutes) */
    docker_stream_progress_cb progress; /* may be NULL; non-zero aborts: DOCKER_ECANCELED */
    void *progress_arg;
} docker_image_build_opts_t;

/*
 * POST /build with an in-memory tar context (Content-Type application/x-tar, rm=1, forcerm=1).
 * The answer is parsed line by line as it arrives. A failing RUN still answers HTTP 200 with an
 * "error"/"errorDetail" line: docker_image_build then returns DOCKER_EBUILD with the message in
 * err->msg, the last "Step N/M : ..." in err->step and the output before the error in
 * err->tail. On success the image id ("sha256:...") goes to id_out when not NULL (from the
 * "aux" line; "" if the daemon sent none).
 */
int docker_image_build(docker_client_t *dc, const void *tar, size_t tar_len,
                       const docker_image_build_opts_t *opts, char id_out[DOCKER_ID_LEN],
                       docker_err_t *err);

#endif
