/*
 * docker_container.h - the Engine API's container endpoints: create, start, stop, kill,
 * remove, inspect, list, wait and logs. The bodies and answers are built and parsed by
 * docker_json.h (docker_container_spec_t, docker_container_info_t, ...).
 *
 * Errors, threads and ownership as in docker_client.h.
 */
#ifndef CG_DOCKER_CONTAINER_H
#define CG_DOCKER_CONTAINER_H

#include "docker_client.h"

/* POST /containers/create?name=...: body is a create body (docker_json_container_spec()), not
 * consumed. name may be NULL (Docker picks one). The new id goes to id_out. DOCKER_ECONFLICT
 * when the name is taken, DOCKER_ENOTFOUND when the image is missing. */
int docker_container_create(docker_client_t *dc, const char *name, const cJSON *body,
                            char id_out[DOCKER_ID_LEN], docker_err_t *err);

/* POST /containers/{id}/start: 0 also when it was already running (HTTP 304). */
int docker_container_start(docker_client_t *dc, const char *id, docker_err_t *err);

/* POST /containers/{id}/stop?t=timeout_s: SIGTERM (or the stop signal), SIGKILL after
 * timeout_s. 0 also when it was not running (HTTP 304). The call waits up to timeout_s + 30 s. */
int docker_container_stop(docker_client_t *dc, const char *id, int timeout_s, docker_err_t *err);

/* POST /containers/{id}/kill?signal=sig (NULL = SIGKILL). DOCKER_ECONFLICT when not running. */
int docker_container_kill(docker_client_t *dc, const char *id, const char *sig, docker_err_t *err);

/* DELETE /containers/{id}?v=1[&force=1]. DOCKER_ENOTFOUND when it does not exist,
 * DOCKER_ECONFLICT when running and !force (or a removal is already in progress). */
int docker_container_remove(docker_client_t *dc, const char *id, bool force, docker_err_t *err);

/* GET /containers/{id}/json. network names the network whose IP goes to info->ip (NULL = the
 * first network the container is attached to). DOCKER_ENOTFOUND when it does not exist. */
int docker_container_inspect(docker_client_t *dc, const char *id, const char *network,
                             docker_container_info_t *info, docker_err_t *err);

/* GET /containers/json?all=1&filters=...: see docker_network_list() for filters, count and
 * ownership of *out. */
int docker_container_list(docker_client_t *dc, const docker_kv_t *filters,
                          docker_container_summary_t **out, docker_err_t *err);

/* POST /containers/{id}/wait?condition=not-running: blocks until the container is not running
 * (or timeout_ms passes: DOCKER_ETIMEDOUT; 0 = no deadline) and stores its exit code. */
int docker_container_wait(docker_client_t *dc, const char *id, long timeout_ms, int *exit_code,
                          docker_err_t *err);

/* GET /containers/{id}/logs?stdout=1&stderr=1&tail=N: the last `lines` lines of both streams
 * (demultiplexed, interleaved in arrival order; a TTY container's bytes as they are) into out,
 * NUL-terminated and truncated at outlen - 1. Returns the number of bytes stored. */
int docker_container_logs(docker_client_t *dc, const char *id, int lines, char *out, size_t outlen,
                          docker_err_t *err);

#endif
