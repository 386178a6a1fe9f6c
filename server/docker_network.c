/*
 * docker_network.c - network create, remove and list (see docker_network.h).
 */
#include "docker_network.h"

#include <stdlib.h>

int docker_network_create(docker_client_t *dc, const char *name, bool internal,
                          const docker_kv_t *labels, char id_out[DOCKER_ID_LEN], docker_err_t *err)
{
    docker_body_t b = {0};
    docker_error_reset(err);
    if (!docker_client_ref_ok(name))
        return docker_error_set(err, DOCKER_EINVAL, "invalid network name '%.200s'", name);
    cJSON *o = docker_json_network_create(name, internal, labels);
    if (!o)
        return docker_error_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    int rc = docker_client_post_json(dc, "/networks/create", NULL, o, &b, err);
    if (rc == 0 && id_out)
        docker_json_get_str(b.data, b.len, "Id", id_out, DOCKER_ID_LEN);
    cJSON_Delete(o);
    free(b.data);
    return rc;
}

int docker_network_remove(docker_client_t *dc, const char *id_or_name, docker_err_t *err)
{
    char path[320];
    docker_error_reset(err);
    int rc = docker_client_path(path, sizeof path, "/networks/%s", id_or_name, err);
    const docker_call_t call = {.method = "DELETE", .path = path};
    return rc ? rc : docker_client_call(dc, &call, NULL, err);
}

int docker_network_list(docker_client_t *dc, const docker_kv_t *filters, docker_network_t **out,
                        docker_err_t *err)
{
    docker_body_t b = {0};
    *out = NULL;
    docker_error_reset(err);
    int rc = docker_client_get_filtered(dc, "/networks", false, filters, &b, err);
    if (rc == 0 && (rc = docker_json_network_list(b.data, b.len, out)) < 0)
        docker_error_set(err, rc, "%s", "cannot parse the network list");
    free(b.data);
    return rc;
}
