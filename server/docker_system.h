/*
 * docker_system.h - the Engine API's system endpoints: /_ping, /version and the /events stream.
 *
 * Errors, threads and ownership as in docker_client.h: each call is one request on the calling
 * thread; results go into the caller's buffers.
 */
#ifndef CG_DOCKER_SYSTEM_H
#define CG_DOCKER_SYSTEM_H

#include "docker_client.h"

/* GET /_ping: 0 when the daemon answers "OK" within timeout_ms (0 = the client's default). */
int docker_system_ping(docker_client_t *dc, long timeout_ms, docker_err_t *err);

/* GET /version: the daemon's API version ("1.41") and engine version ("20.10.24+dfsg1").
 * Either output may be NULL. */
int docker_system_version(docker_client_t *dc, char *api, size_t api_len, char *server,
                          size_t server_len, docker_err_t *err);

/* Called once per event with the decoded object ({"Type","Action","Actor":{"ID","Attributes"},
 * "time",...}), valid during the call only. Return non-zero to stop the stream. */
typedef int (*docker_system_event_cb)(void *arg, const cJSON *event);

/*
 * GET /events?filters=...: streams events until cb returns non-zero (returns 0), *stop becomes
 * true (checked at least once a second; returns DOCKER_ECANCELED), the daemon closes the stream
 * (returns 0) or an error. filters as for docker_client_get_filtered(); stop may be NULL. No
 * deadline. Runs on the calling thread.
 */
int docker_system_events(docker_client_t *dc, const docker_kv_t *filters, docker_system_event_cb cb,
                         void *arg, const atomic_bool *stop, docker_err_t *err);

#endif
