/*
 * docker_json.h - the Docker Engine API's JSON bodies, built and parsed without a daemon.
 *
 * Builders turn the client's typed values into request bodies (container create, network
 * create, list filters); parsers turn answers into fixed-size structs (inspect, lists, the "Id"
 * of a create, version, wait). Pure functions over cJSON: no I/O, no state, any thread;
 * tests/unit/test_docker_json.c covers them. Layering: see docker_error.h.
 *
 * Ownership: builders return memory the caller frees (cJSON_Delete for cJSON *, free() for
 * char *); parsers write into the caller's structs, except the list parsers, which return a
 * malloc'ed array the caller frees. Arguments are only read during the call.
 */
#ifndef CG_DOCKER_JSON_H
#define CG_DOCKER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "docker_error.h"

#define DOCKER_ID_LEN 72 /* 64 hex + "sha256:" + NUL fits */

/* A key/value pair; arrays of them end with {NULL, NULL}. */
typedef struct {
    const char *key;
    const char *value;
} docker_kv_t;

/*
 * What a container needs; docker_json_container_spec() turns it into the create body. String
 * lists are NULL-terminated arrays, pairs are {NULL, NULL}-terminated; NULL means "not set".
 * Numbers of 0 mean "not set" (Docker's default), except where noted.
 */
typedef struct {
    const char *image;
    const char *const *cmd;
    const char *const *env; /* "KEY=value" */
    const docker_kv_t *labels;
    const char *user; /* NULL = image default */
    const char *working_dir;
    const char *hostname;
    int64_t memory;      /* bytes */
    int64_t memory_swap; /* bytes (memory+swap); = memory disables swap; -1 unlimited */
    int64_t nano_cpus;   /* 1e9 = one CPU */
    int64_t pids_limit;
    int64_t shm_size;         /* bytes */
    const char *network_mode; /* network name, "none", "bridge" */
    bool readonly_rootfs;
    const docker_kv_t *tmpfs;        /* {"/work", "rw,exec,nosuid,size=256m,mode=1777"} */
    const char *const *cap_drop;     /* {"ALL", NULL} */
    const char *const *cap_add;      /* {"SETUID", "SETGID", "KILL", NULL} */
    const char *const *security_opt; /* {"no-new-privileges", NULL} */
    bool init;                       /* tini as pid 1 reaps orphans */
    bool auto_remove;
    const char *stop_signal; /* NULL = SIGTERM */
    int stop_timeout;        /* seconds; 0 = not set */
    int ulimit_nofile;       /* soft = hard; 0 = not set */
} docker_container_spec_t;

/* A container inspect answer, the parts the runtime reads. */
typedef struct {
    char id[DOCKER_ID_LEN];
    char name[128];  /* without the leading '/' */
    char status[16]; /* created, running, paused, restarting, removing, exited, dead */
    bool running;
    bool oom_killed;
    int exit_code;
    int pid;
    char health[16]; /* "" without a healthcheck, else starting / healthy / unhealthy */
    char ip[48];     /* IPv4 address on the requested network, "" when not attached */
    char error[256]; /* State.Error */
} docker_container_info_t;

/* One entry of a container list. */
typedef struct {
    char id[DOCKER_ID_LEN];
    char name[128]; /* first name, without the leading '/' */
    char image[128];
    char state[16]; /* running, exited, created, ... */
} docker_container_summary_t;

/* One entry of a network list. */
typedef struct {
    char id[DOCKER_ID_LEN];
    char name[128];
    bool internal;
} docker_network_t;

/* The string member key of object o, or NULL (o may be NULL or not an object). */
const char *docker_json_str(const cJSON *o, const char *key);

/* The top-level string member key of a JSON object answer into out (truncated at outlen - 1).
 * 0, or DOCKER_EPROTO when the answer has no such string (out is then ""). */
int docker_json_get_str(const char *json, size_t len, const char *key, char *out, size_t outlen);

/* The body of POST /containers/create. The caller may add members before sending it.
 * NULL when out of memory or spec (or spec->image) is NULL. */
cJSON *docker_json_container_spec(const docker_container_spec_t *spec);

/* {"Name","Driver":"bridge","Internal","CheckDuplicate":true,"Labels"} for POST
 * /networks/create; labels may be NULL. NULL when out of memory. */
cJSON *docker_json_network_create(const char *name, bool internal, const docker_kv_t *labels);

/* Filters as Docker's JSON map[string][]string: {"label":["a=b","c"],"name":["x"]}, keys in
 * first-seen order. Not URL-escaped (docker_client_url does that). NULL when out of memory. */
char *docker_json_filters(const docker_kv_t *filters);

/* GET /version: ApiVersion ("1.41") and Version ("20.10.24+dfsg1"); either output may be NULL.
 * 0, or DOCKER_EPROTO without ApiVersion. */
int docker_json_version(const char *json, size_t len, char *api, size_t api_len, char *server,
                        size_t server_len);

/* POST /containers/{id}/wait: StatusCode into *exit_code (may be NULL). 0 or DOCKER_EPROTO. */
int docker_json_wait(const char *json, size_t len, int *exit_code);

/* GET /containers/{id}/json into info. network names the network whose IP goes to info->ip
 * (NULL = the first one the container is attached to). 0 or DOCKER_EPROTO. */
int docker_json_container_info(const char *json, size_t len, const char *network,
                               docker_container_info_t *info);

/* GET /containers/json and GET /networks: entries without an Id are skipped. Return the count
 * (>= 0) and a malloc'ed array in *out (NULL when 0), or DOCKER_EPROTO / DOCKER_ENOMEM. */
int docker_json_container_list(const char *json, size_t len, docker_container_summary_t **out);
int docker_json_network_list(const char *json, size_t len, docker_network_t **out);

#endif
