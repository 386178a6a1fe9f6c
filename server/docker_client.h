/*
 * docker_client.h - a thin client for the Docker Engine API (v1.41) over its unix socket.
 *
 * Only the calls the docker runtime needs: ping/version, image inspect and build, networks,
 * containers (create, start, stop, kill, remove, inspect, list, wait, logs) and the event stream.
 * Transport is libcurl with CURLOPT_UNIX_SOCKET_PATH and URLs "http://localhost/v1.41/...".
 *
 * Threads: docker_client_t is immutable after docker_client_new(). Every call makes its own curl
 * easy handle (no shared connection state, CURLOPT_NOSIGNAL), so any thread may call any function
 * on the same client at the same time - the gateway's runtime watcher, runtime_start's thread and
 * the threads that stop containers in parallel. docker_client_free() must not race with calls.
 * Streaming calls (docker_build, docker_events) invoke their callback on the calling thread.
 *
 * Errors: every call returns 0 (or a count / flag where it says so) or a negative DOCKER_E*
 * code; docker_strerror() names the code. When the caller passes a docker_err_t, it receives the
 * HTTP status and the daemon's {"message"} (or the transport or build error) as text. err may be
 * NULL everywhere.
 *
 * Bounds: response bodies are capped at DOCKER_MAX_BODY (DOCKER_ETOOBIG beyond), stream lines
 * at DOCKER_MAX_LINE (longer lines are skipped whole).
 *
 * Ownership: docker_client_new() returns a client freed with docker_client_free() (NULL is a
 * no-op). Functions that return arrays say who frees them. Callers keep every argument alive
 * for the duration of the call only.
 *
 * The pure helpers at the end (URL and filter building, error mapping, stream parsing, create
 * body building, inspect parsing) need no daemon; tests/unit/test_docker_client.c covers them.
 */
#ifndef CG_DOCKER_CLIENT_H
#define CG_DOCKER_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define DOCKER_API_VERSION "1.41"
#define DOCKER_MAX_BODY (8u * 1024u * 1024u)
#define DOCKER_MAX_LINE (256u * 1024u)
#define DOCKER_ID_LEN 72 /* 64 hex + "sha256:" + NUL fits */

enum {
    DOCKER_OK = 0,
    DOCKER_ENOMEM = -1,   /* allocation failed */
    DOCKER_EINVAL = -2,   /* bad argument (e.g. a name with characters outside [A-Za-z0-9_.:/@-]) */
    DOCKER_ECONNECT = -3, /* socket missing or connection refused */
    DOCKER_ETIMEDOUT = -4,  /* the call's deadline passed */
    DOCKER_ETRANSPORT = -5, /* other libcurl failure */
    DOCKER_EBADREQ = -6,    /* HTTP 400 */
    DOCKER_EFORBIDDEN = -7, /* HTTP 403 (e.g. removing a predefined network) */
    DOCKER_ENOTFOUND = -8,  /* HTTP 404: no such container / image / network */
    DOCKER_ECONFLICT = -9,  /* HTTP 409: name in use, container not running, ... */
    DOCKER_ESERVER = -10,   /* HTTP 5xx */
    DOCKER_EPROTO = -11,    /* unexpected status or an unparsable answer */
    DOCKER_ETOOBIG = -12,   /* answer larger than DOCKER_MAX_BODY */
    DOCKER_EBUILD = -13,    /* the build stream reported an error (HTTP was 200) */
    DOCKER_ECANCELED = -14, /* a callback or the stop flag ended a streaming call */
};

/* Details of a failure, filled when the caller passes one. Plain value; zeroed on success. */
typedef struct {
    long http_status; /* 0 when no HTTP answer arrived */
    char msg[768];    /* daemon's message, transport or build error; "" when none */
    char step[256];   /* docker_build: the last "Step N/M : ..." line seen before the error */
    char tail[1024];  /* docker_build: the end of the build output before the error */
} docker_err_t;

/* A key/value pair; arrays of them end with {NULL, NULL}. */
typedef struct {
    const char *key;
    const char *value;
} docker_kv_t;

typedef struct docker_client docker_client_t;

/* Static text for a DOCKER_E* code. */
const char *docker_strerror(int code);

/*
 * A client for the daemon at socket_path (NULL = "/var/run/docker.sock"). Does not connect.
 * default_timeout_ms bounds every call that takes no explicit timeout (0 = 30000).
 * Returns NULL when out of memory or the path is too long.
 */
docker_client_t *docker_client_new(const char *socket_path, long default_timeout_ms);
void docker_client_free(docker_client_t *dc);
const char *docker_client_socket(const docker_client_t *dc);

/* GET /_ping: 0 when the daemon answers "OK" within timeout_ms (0 = default). */
int docker_ping(docker_client_t *dc, long timeout_ms, docker_err_t *err);

/* GET /version: the daemon's API version ("1.41") and engine version ("20.10.24+dfsg1").
 * Either output may be NULL. */
int docker_version(docker_client_t *dc, char *api, size_t api_len, char *server, size_t server_len,
                   docker_err_t *err);

/* GET /images/{name}/json: 0 when the image exists (its "sha256:..." id in id_out, may be NULL),
 * DOCKER_ENOTFOUND when it does not. */
int docker_image_inspect(docker_client_t *dc, const char *name, char id_out[DOCKER_ID_LEN],
                         docker_err_t *err);

/* Called for each "stream" line of a build (text as Docker sent it, usually ending in "\n").
 * Return 0 to go on, non-zero to abort the build (docker_build then returns DOCKER_ECANCELED). */
typedef int (*docker_progress_cb)(void *arg, const char *text);

typedef struct {
    const char *tag;            /* "codegate-python:0123456789ab" (required) */
    const char *dockerfile;     /* path inside the context; NULL = "Dockerfile" */
    const char *buildargs_json; /* {"K":"V",...} or NULL */
    const char *labels_json;    /* {"K":"V",...} or NULL */
    bool nocache;
    long timeout_ms;             /* 0 = no deadline (apt-get inside a build takes minutes) */
    docker_progress_cb progress; /* may be NULL */
    void *progress_arg;
} docker_build_opts_t;

/*
 * POST /build with an in-memory tar context (Content-Type application/x-tar, rm=1, forcerm=1).
 * The answer is parsed line by line as it arrives. A failing RUN still answers HTTP 200 with an
 * "error"/"errorDetail" line: docker_build then returns DOCKER_EBUILD with the message in
 * err->msg, the last "Step N/M : ..." in err->step and the output before the error in
 * err->tail. On success the image id ("sha256:...") goes to id_out when not NULL (from the
 * "aux" line; "" if the daemon sent none).
 */
int docker_build(docker_client_t *dc, const void *tar, size_t tar_len,
                 const docker_build_opts_t *opts, char id_out[DOCKER_ID_LEN], docker_err_t *err);

/* ---- networks ---- */

/* POST /networks/create {"Name","Driver":"bridge","Internal","CheckDuplicate":true,"Labels"}.
 * DOCKER_ECONFLICT when a network of that name exists. id_out may be NULL. */
int docker_network_create(docker_client_t *dc, const char *name, bool internal,
                          const docker_kv_t *labels, char id_out[DOCKER_ID_LEN], docker_err_t *err);

/* DELETE /networks/{id or name}. DOCKER_ENOTFOUND when it does not exist; DOCKER_EFORBIDDEN for
 * predefined networks; DOCKER_ESERVER while containers are still attached. */
int docker_network_remove(docker_client_t *dc, const char *id_or_name, docker_err_t *err);

typedef struct {
    char id[DOCKER_ID_LEN];
    char name[128];
    bool internal;
} docker_network_t;

/* GET /networks?filters=...: filters are {key, value} pairs, e.g. {"label","k=v"},
 * {"name","x"} (repeated keys are ORed by Docker within one key, ANDed across keys).
 * Returns the count (>= 0) and a malloc'ed array in *out (NULL when 0) that the caller frees. */
int docker_network_list(docker_client_t *dc, const docker_kv_t *filters, docker_network_t **out,
                        docker_err_t *err);

/* ---- containers ---- */

/*
 * What a container needs; docker_container_spec_json() turns it into the create body. String
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

/* Builds the JSON body of POST /containers/create from spec. The caller owns the result (free
 * with cJSON_Delete) and may add members before passing it to docker_container_create().
 * NULL when out of memory or spec->image is NULL. */
cJSON *docker_container_spec_json(const docker_container_spec_t *spec);

/* POST /containers/create?name=...: body is a create body (see above), not consumed.
 * name may be NULL (Docker picks one). The new id goes to id_out. DOCKER_ECONFLICT when the
 * name is taken, DOCKER_ENOTFOUND when the image is missing. */
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

/* GET /containers/{id}/json. network names the network whose IP goes to info->ip (NULL = the
 * first network the container is attached to). DOCKER_ENOTFOUND when it does not exist. */
int docker_container_inspect(docker_client_t *dc, const char *id, const char *network,
                             docker_container_info_t *info, docker_err_t *err);

typedef struct {
    char id[DOCKER_ID_LEN];
    char name[128]; /* first name, without the leading '/' */
    char image[128];
    char state[16]; /* running, exited, created, ... */
} docker_container_summary_t;

/* GET /containers/json?all=1&filters=...: see docker_network_list for filters, count and
 * ownership of *out. */
int docker_container_list(docker_client_t *dc, const docker_kv_t *filters,
                          docker_container_summary_t **out, docker_err_t *err);

/* POST /containers/{id}/wait?condition=not-running: blocks until the container is not running
 * (or timeout_ms passes: DOCKER_ETIMEDOUT; 0 = no deadline) and stores its exit code. */
int docker_container_wait(docker_client_t *dc, const char *id, long timeout_ms, int *exit_code,
                          docker_err_t *err);

/* GET /containers/{id}/logs?stdout=1&stderr=1&tail=N: the last `lines` lines of both streams
 * (demultiplexed, interleaved in arrival order) into out, NUL-terminated and truncated at
 * outlen - 1. Returns the number of bytes stored. For containers created without a TTY. */
int docker_container_logs(docker_client_t *dc, const char *id, int lines, char *out, size_t outlen,
                          docker_err_t *err);

/* ---- events ---- */

/* Called once per event with the decoded object ({"Type","Action","Actor":{"ID","Attributes"},
 * "time",...}), valid during the call only. Return non-zero to stop the stream. */
typedef int (*docker_event_cb)(void *arg, const cJSON *event);

/*
 * GET /events?filters=...: streams events until cb returns non-zero (returns 0), *stop becomes
 * true (checked at least once a second; returns DOCKER_ECANCELED), the daemon closes the stream
 * (returns 0) or an error. stop may be NULL. No deadline. Runs on the calling thread.
 */
int docker_events(docker_client_t *dc, const docker_kv_t *filters, docker_event_cb cb, void *arg,
                  const atomic_bool *stop, docker_err_t *err);

/* ---- pure helpers (no daemon; exported for tests and for the runtime) ---- */

/* True when s is non-empty, at most 255 bytes and only [A-Za-z0-9_.:/@-] (container, network
 * and image references; path-safe without escaping). */
bool docker_ref_ok(const char *s);

/* Percent-encodes s (RFC 3986: everything but [A-Za-z0-9-._~]). malloc'ed; caller frees. */
char *docker_url_escape(const char *s);

/* "http://localhost/v1.41" + path + "?k=v&..." with values percent-encoded; query may be NULL
 * and entries with a NULL value are skipped. malloc'ed; caller frees. NULL when out of memory. */
char *docker_url_new(const char *path, const docker_kv_t *query);

/* Filters as Docker's JSON map[string][]string: {"label":["a=b","c"],"name":["x"]}, keys in
 * first-seen order. Not escaped (docker_url_new does that). malloc'ed; caller frees. */
char *docker_filters_json(const docker_kv_t *filters);

/* DOCKER_E* code for an HTTP status: 2xx/304 -> 0, 400, 403, 404, 409, 5xx, other -> EPROTO. */
int docker_status_error(long status);

/* Fills err (when not NULL) from an error answer: status and the "message" member of body (or
 * the start of body when it is not JSON). Returns docker_status_error(status). */
int docker_error_from_body(docker_err_t *err, long status, const char *body, size_t len);

/* Splits a byte stream into lines ('\n', a trailing '\r' dropped) and hands each to a callback.
 * Lines longer than DOCKER_MAX_LINE are skipped whole. Zero-initialise with
 * docker_lines_init(); free with docker_lines_free(). One stream, one thread. */
typedef int (*docker_line_cb)(void *arg, const char *line, size_t len);
typedef struct {
    char *buf;
    size_t len, cap;
    bool skipping; /* inside an over-long line */
    docker_line_cb cb;
    void *arg;
} docker_lines_t;
void docker_lines_init(docker_lines_t *lb, docker_line_cb cb, void *arg);
/* Returns 0, DOCKER_ENOMEM, or the first non-zero value a callback returned (feeding stops). */
int docker_lines_feed(docker_lines_t *lb, const char *data, size_t len);
/* Hands over a last line without '\n', if any. Same return values. */
int docker_lines_flush(docker_lines_t *lb);
void docker_lines_free(docker_lines_t *lb);

/* State of one build while its stream is parsed. Zero-initialise. */
typedef struct {
    char step[256];  /* last "Step N/M : ..." (first line of it, no "\n") */
    char error[768]; /* the error message, "" while none */
    char tail[1024]; /* the last output bytes, NUL-terminated */
    size_t tail_len;
    char image_id[DOCKER_ID_LEN]; /* from {"aux":{"ID":"sha256:..."}} */
    bool failed;
    docker_progress_cb progress;
    void *progress_arg;
} docker_build_state_t;

/* Parses one line of a build stream (a JSON object). Calls the progress callback for "stream"
 * lines. Returns 0 (also for blank or unparsable lines, which are ignored), DOCKER_EBUILD for an
 * error line (st->error and st->failed set; st->step keeps the last step), or DOCKER_ECANCELED
 * when the progress callback asked to stop. */
int docker_build_parse_line(docker_build_state_t *st, const char *line, size_t len);

/* Parses a container inspect answer (see docker_container_inspect). 0 or DOCKER_EPROTO. */
int docker_container_info_parse(const char *json, size_t len, const char *network,
                                docker_container_info_t *info);

/* Demultiplexes a logs answer (8-byte frame headers: stream, 0, 0, 0, big-endian size) into
 * out (NUL-terminated, truncated at outlen - 1). Bytes that do not form frames (a TTY
 * container) are copied as they are. Returns the number of bytes stored. */
size_t docker_logs_demux(const unsigned char *in, size_t len, char *out, size_t outlen);

#endif
