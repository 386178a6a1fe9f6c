/*
 * docker_network.h - the Engine API's network endpoints: create, remove, list.
 *
 * Errors, threads and ownership as in docker_client.h.
 */
#ifndef CG_DOCKER_NETWORK_H
#define CG_DOCKER_NETWORK_H

#include "docker_client.h"

/* POST /networks/create {"Name","Driver":"bridge","Internal","CheckDuplicate":true,"Labels"}.
 * DOCKER_ECONFLICT when a network of that name exists. id_out may be NULL. */
int docker_network_create(docker_client_t *dc, const char *name, bool internal,
                          const docker_kv_t *labels, char id_out[DOCKER_ID_LEN], docker_err_t *err);

/* DELETE /networks/{id or name}. DOCKER_ENOTFOUND when it does not exist; DOCKER_EFORBIDDEN for
 * predefined networks; DOCKER_ESERVER while containers are still attached. */
int docker_network_remove(docker_client_t *dc, const char *id_or_name, docker_err_t *err);

/* GET /networks?filters=...: filters are {key, value} pairs, e.g. {"label","k=v"},
 * {"name","x"} (repeated keys are ORed by Docker within one key, ANDed across keys).
 * Returns the count (>= 0) and a malloc'ed array in *out (NULL when 0) that the caller frees. */
int docker_network_list(docker_client_t *dc, const docker_kv_t *filters, docker_network_t **out,
                        docker_err_t *err);

#endif
