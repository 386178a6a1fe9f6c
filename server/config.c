/*
 * config.c - the option table (see config.h). Adding an option = one row here + one member of
 * config_t; the environment, the command line, validation, --help and the README table all
 * follow from the row.
 *
 * Values are read in order: the row's default, then its environment variable (an empty
 * variable counts as unset), then the command line (--name value or --name=value; a boolean
 * flag alone means true). Each value is checked when it is read, so an error names the flag or
 * variable it came from. DOCKER_HOST is consulted last, only when no socket was given.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "async_util.h"
#include "extaddr.h"
#include "netpolicy.h"
#include "protocol.h"
#include "version.h"

typedef enum { OPT_INT, OPT_STR, OPT_BOOL } opt_type_t;

/* Extra check of a string value; returns NULL when fine, else what it must be. */
typedef const char *(*opt_check_t)(const char *val);

typedef struct {
    const char *name; /* flag without "--" */
    const char *env;  /* environment variable */
    opt_type_t type;
    const char *def;     /* default as text ("" = empty, see help) */
    long min, max;       /* OPT_INT range */
    size_t off, size;    /* member of config_t */
    const char *choices; /* OPT_STR: "a|b|c" or NULL */
    opt_check_t check;   /* OPT_STR: or NULL */
    const char *help;
} opt_t;

static const char *check_ipv4(const char *val)
{
    struct in_addr a;

    return inet_pton(AF_INET, val, &a) == 1 ? NULL : "an IPv4 address such as 127.0.0.1";
}

static const char *check_instance(const char *val)
{
    size_t n = strlen(val);

    if (n < 1 || n > 32)
        return "1 to 32 characters of [A-Za-z0-9_-]";
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)val[i]) && val[i] != '_' && val[i] != '-')
            return "1 to 32 characters of [A-Za-z0-9_-]";
    return NULL;
}

static const char *check_nonempty(const char *val)
{
    return val[0] ? NULL : "not empty";
}

/* The Redis URL's syntax (server/async_util.c). */
static const char *check_redis_url(const char *val)
{
    return val[0] ? async_url_check(val) : NULL;
}

static const char *check_host_patterns(const char *val)
{
    return netpolicy_check_patterns(val);
}

static const char *check_networks(const char *val)
{
    netpolicy_t np;
    char err[160];

    return netpolicy_parse_networks(&np, val, err, sizeof err) == 0
               ? NULL
               : "a comma-separated list of networks such as 127.0.0.1/32,fd00::/8 (no host "
                 "bits below the prefix, at most 32)";
}

/* The message lives in a static buffer: options are read once, by main's thread at start. */
static const char *check_addrs(const char *val)
{
    static char why[320];
    extaddr_target_t t[EXTADDR_MAX_TARGETS];
    char detail[256];
    int n;

    if (!val[0] || extaddr_parse(val, t, EXTADDR_MAX_TARGETS, &n, detail, sizeof detail) == 0)
        return NULL;
    snprintf(why, sizeof why, "LANG=HOST:PORT[,HOST:PORT...][;LANG=...] (%s)", detail);
    return why;
}

#define M(f) offsetof(config_t, f), sizeof(((config_t *)0)->f)

static const opt_t opts[] = {
    {"bind", "CODEGATE_BIND", OPT_STR, "127.0.0.1", 0, 0, M(bind), NULL, check_ipv4,
     "IPv4 address the HTTP server listens on"},
    {"port", "PORT", OPT_INT, "5000", 1, 65535, M(port), NULL, NULL, "HTTP port"},
    {"cors-origins", "CODEGATE_CORS_ORIGINS", OPT_STR, "", 0, 0, M(cors_origins), NULL, NULL,
     "web page origins that may use the API from a browser: * (any), a comma-separated list, or "
     "empty: loopback origins when bound to loopback, else any; the gateway's own pages always"},
    {"allowed-hosts", "CODEGATE_ALLOWED_HOSTS", OPT_STR, "", 0, 0, M(allowed_hosts), NULL, NULL,
     "Host names answered besides localhost/127.x/[::1] (comma-separated, or * for any); "
     "empty: a gateway bound to loopback answers loopback names only (DNS rebinding), "
     "one bound elsewhere answers any"},
    {"max-connections", "CODEGATE_MAX_CONNECTIONS", OPT_INT, "16000", 16, 1000000,
     M(max_connections), NULL, NULL,
     "HTTP connections open at once (each has a thread); lowered to fit the open-files limit, "
     "which the gateway raises to its hard limit at start"},
    {"max-conns-per-ip", "CODEGATE_MAX_CONNS_PER_IP", OPT_INT, "256", 0, 1000000,
     M(max_conns_per_ip), NULL, NULL,
     "HTTP connections one client address may hold; more are closed at once (0 = no cap; "
     "loopback clients are exempt unless --per-ip-loopback)"},
    {"per-ip-loopback", "CODEGATE_PER_IP_LOOPBACK", OPT_BOOL, "false", 0, 0, M(per_ip_loopback),
     NULL, NULL,
     "apply --max-conns-per-ip to loopback clients too (off: a reverse proxy on this host "
     "carries every client)"},
    {"header-timeout-ms", "CODEGATE_HEADER_TIMEOUT_MS", OPT_INT, "10000", 100, 600000,
     M(header_timeout_ms), NULL, NULL,
     "a request line and headers must arrive within this time (else 408 and close)"},
    {"body-timeout-ms", "CODEGATE_BODY_TIMEOUT_MS", OPT_INT, "30000", 100, 600000,
     M(body_timeout_ms), NULL, NULL,
     "a request body must arrive within this time after its headers (else 408 and close)"},
    {"api-keys-file", "CODEGATE_API_KEYS_FILE", OPT_STR, "", 0, 0, M(api_keys_file), NULL, NULL,
     "file of API keys (name key [rpm=N] [concurrent=N] per line; re-read on SIGHUP); empty: "
     "no keys, the API is open"},
    {"runtime", "CODEGATE_RUNTIME", OPT_STR, "auto", 0, 0, M(runtime), "auto|docker|local|external",
     NULL,
     "where executors run: docker, local processes, external (run by an orchestrator, found "
     "through --executor-addrs), or auto (docker when the daemon answers, else local)"},
    {"executor-addrs", "CODEGATE_EXECUTOR_ADDRS", OPT_STR, "", 0, 0, M(executor_addrs), NULL,
     check_addrs,
     "external runtime: executors per language, LANG=HOST:PORT[,HOST:PORT...][;LANG=...] "
     "(HOST a DNS name, resolved to every address it has, an IPv4 address or [IPv6]); a "
     "language not named is not offered"},
    {"resolve-ms", "CODEGATE_RESOLVE_MS", OPT_INT, "3000", 100, 600000, M(resolve_ms), NULL, NULL,
     "external runtime: how often the executor names are resolved again (a name that fails to "
     "resolve keeps its last known addresses)"},
    {"executor-token-file", "CODEGATE_EXECUTOR_TOKEN_FILE", OPT_STR, "", 0, 0,
     M(executor_token_file), NULL, NULL,
     "external runtime (required there): file holding the secret shared with the executors, 16 "
     "to 255 printable characters without blanks (one line end after it is ignored)"},
    {"executor-ca-file", "CODEGATE_EXECUTOR_CA_FILE", OPT_STR, "", 0, 0, M(executor_ca_file), NULL,
     NULL,
     "external runtime: PEM CA certificate(s); when set, executor connections use TLS and the "
     "executor's certificate must be issued by this CA for the HOST name configured; empty: "
     "plain WebSocket"},
    {"executors", "CODEGATE_EXECUTORS", OPT_INT, "0", 0, 16, M(executors), NULL, NULL,
     "executors (containers or processes) per language; 0 = sized from the machine: one per "
     "32 slots (docs/PERFORMANCE.md, Sizing)"},
    {"slots", "CODEGATE_SLOTS", OPT_INT, "0", 0, 64, M(slots), NULL, NULL,
     "programs one executor runs at once (= pooled connections per executor; external runtime: "
     "connections per executor, set it to the executors' EXECUTOR_SLOTS: one that announces "
     "fewer gets fewer jobs); 0 = sized from the machine: 4 per core of each language, fewer "
     "when memory is short (128 MiB per slot of every language after 512 MiB); external "
     "runtime: 4"},
    {"queue-max", "CODEGATE_QUEUE_MAX", OPT_INT, "0", 0, 100000, M(queue_max), NULL, NULL,
     "requests that may wait for a free slot; beyond: 503 overloaded; 0 = sized: 8 per slot, "
     "at least 64"},
    {"queue-wait-ms", "CODEGATE_QUEUE_WAIT_MS", OPT_INT, "0", 0, 600000, M(queue_wait_ms), NULL,
     NULL,
     "longest wait for a free slot before 503 overloaded; 0 = sized: a class of 30 passes "
     "through the slots one 5-second run after another, each with its whole wait for a CPU "
     "credited (ceil(30 / slots) x 20 s, 10 s to 120 s)"},
    {"output-limit-kb", "CODEGATE_OUTPUT_LIMIT_KB", OPT_INT, "1024", 1, 16384, M(output_limit_kb),
     NULL, NULL, "stdout+stderr kept per run, in KiB; the program is stopped there"},
    {"files-max", "CODEGATE_FILES_MAX", OPT_INT, LANG_STR(CG_DEFAULT_FILES), 0, CG_MAX_FILES,
     M(files_max), NULL, NULL, "files a request may give next to its code (\"files\")"},
    {"files-max-kb", "CODEGATE_FILES_MAX_KB", OPT_INT, LANG_STR(CG_DEFAULT_FILES_KB), 1,
     CG_MAX_FILES_KB, M(files_max_kb), NULL, NULL,
     "decoded size of a request's files together, in KiB"},
    {"file-name-max", "CODEGATE_FILE_NAME_MAX", OPT_INT, LANG_STR(CG_DEFAULT_FILE_NAME_MAX), 16,
     CG_FILE_NAME_MAX, M(file_name_max), NULL, NULL, "bytes of a given file's name (its path)"},
    {"file-depth-max", "CODEGATE_FILE_DEPTH_MAX", OPT_INT, LANG_STR(CG_DEFAULT_FILE_DEPTH_MAX), 1,
     CG_FILE_DEPTH_MAX, M(file_depth_max), NULL, NULL,
     "components of a given file's name (a/b/c.txt is 3)"},
    {"out-files-max", "CODEGATE_OUT_FILES_MAX", OPT_INT, LANG_STR(CG_DEFAULT_OUT_FILES), 0,
     CG_MAX_OUT_FILES, M(out_files_max), NULL, NULL,
     "files returned from the program's out/ directory; the rest is listed in filesOmitted"},
    {"out-file-max-kb", "CODEGATE_OUT_FILE_MAX_KB", OPT_INT, LANG_STR(CG_DEFAULT_OUT_FILE_KB), 1,
     CG_MAX_OUT_FILE_KB, M(out_file_max_kb), NULL, NULL,
     "size of one returned out/ file, in KiB; larger ones are omitted (too_large)"},
    {"out-files-max-kb", "CODEGATE_OUT_FILES_MAX_KB", OPT_INT, LANG_STR(CG_DEFAULT_OUT_FILES_KB), 1,
     CG_MAX_OUT_FILES_KB, M(out_files_max_kb), NULL, NULL,
     "size of all returned out/ files together, in KiB, counting the stdout and stderr of the "
     "request's runs"},
    {"job-budget-ms", "CODEGATE_JOB_BUDGET_MS", OPT_INT, "60000", CG_MIN_BUDGET_MS,
     CG_MAX_BUDGET_MS, M(job_budget_ms), NULL, NULL,
     "wall clock of one request's compile and test cases together; cases that do not fit are "
     "skipped (budgetExceeded), each case's timeout is cut to what is left"},
    {"drain-ms", "CODEGATE_DRAIN_MS", OPT_INT, "10000", 0, 600000, M(drain_ms), NULL, NULL,
     "on SIGTERM, how long requests in flight may finish"},
    {"ping-ms", "CODEGATE_PING_MS", OPT_INT, "1000", 100, 60000, M(ping_ms), NULL, NULL,
     "ping interval on executor connections (dead after 3 missed)"},
    {"instance", "CODEGATE_INSTANCE", OPT_STR, "default", 0, 0, M(instance), NULL, check_instance,
     "name of this gateway instance ([A-Za-z0-9_-], at most 32): owns its "
     "containers, network and state dir"},
    {"state-dir", "CODEGATE_STATE_DIR", OPT_STR, "", 0, 0, M(state_dir), NULL, NULL,
     "local runtime: sockets and work dirs (default /run/codegate-<instance>)"},
    {"allow-unsandboxed", "CODEGATE_ALLOW_UNSANDBOXED", OPT_BOOL, "false", 0, 0,
     M(allow_unsandboxed), NULL, NULL,
     "local runtime without root where user namespaces are unavailable: run programs as this "
     "user with rlimits only instead of refusing to start (untrusted code can then read what "
     "this user can)"},
    {"executor-bin", "CODEGATE_EXECUTOR_BIN", OPT_STR, "", 0, 0, M(executor_bin), NULL, NULL,
     "local runtime: executor binary (default: next to the gateway)"},
    {"launcher-bin", "CODEGATE_LAUNCHER_BIN", OPT_STR, "", 0, 0, M(launcher_bin), NULL, NULL,
     "local runtime: launcher binary (default: next to the gateway)"},
    {"docker-socket", "CODEGATE_DOCKER_SOCKET", OPT_STR, "", 0, 0, M(docker_socket), NULL, NULL,
     "Docker API socket (default: the path of DOCKER_HOST=unix://..., else "
     "/var/run/docker.sock)"},
    {"base-image", "CODEGATE_BASE_IMAGE", OPT_STR, "debian:bookworm-slim", 0, 0, M(base_image),
     NULL, check_nonempty,
     "base image of the executor images (made locally when it cannot be pulled)"},
    {"container-memory-mb", "CODEGATE_CONTAINER_MEMORY_MB", OPT_INT, "0", 0, 1048576,
     M(container_memory_mb), NULL, NULL,
     "memory limit of each executor container, in MiB; 0 = slots x (1024 + 128) + 768, so that "
     "every slot can hold the largest run at once (a smaller value is refused)"},
    {"container-cpus", "CODEGATE_CONTAINER_CPUS", OPT_INT, "0", 0, 64000, M(container_cpus_milli),
     NULL, NULL,
     "CPU limit of each executor container, in millicores (1000 = one CPU); 0 = every CPU the "
     "gateway may use"},
    {"container-pids", "CODEGATE_CONTAINER_PIDS", OPT_INT, "512", 32, 100000, M(container_pids),
     NULL, NULL, "process/thread limit of each executor container"},
    {"src-dir", "CODEGATE_SRC_DIR", OPT_STR, "", 0, 0, M(src_dir), NULL, NULL,
     "source tree the images are built from (default: found from the gateway's path)"},
    {"callback-secret-file", "CODEGATE_CALLBACK_SECRET_FILE", OPT_STR, "", 0, 0,
     M(callback_secret_file), NULL, NULL,
     "file holding the HMAC-SHA256 key that signs submission callbacks (16 to 4096 printable "
     "characters without blanks; one line end after it is ignored); empty: a callbackUrl is "
     "refused with 400"},
    {"callback-allowed-hosts", "CODEGATE_CALLBACK_ALLOWED_HOSTS", OPT_STR, "*", 0, 0,
     M(callback_allowed_hosts), NULL, check_host_patterns,
     "host names a callbackUrl may name: * (any), names, *.suffix (names below suffix), "
     "comma-separated; their addresses must still pass the network policy"},
    {"callback-allow-networks", "CODEGATE_CALLBACK_ALLOW_NETWORKS", OPT_STR, "", 0, 0,
     M(callback_allow_networks), NULL, check_networks,
     "networks (CIDRs, comma-separated) callbacks may reach although loopback, private, "
     "link-local or otherwise special; empty: public addresses only"},
    {"callback-max-attempts", "CODEGATE_CALLBACK_MAX_ATTEMPTS", OPT_INT, "6", 1, 30,
     M(callback_max_attempts), NULL, NULL,
     "attempts per callback (retries on connection errors, timeouts, 408, 429, 5xx)"},
    {"callback-connect-timeout-ms", "CODEGATE_CALLBACK_CONNECT_TIMEOUT_MS", OPT_INT, "5000", 100,
     60000, M(callback_connect_timeout_ms), NULL, NULL,
     "time one callback attempt may take to connect (TCP and TLS)"},
    {"callback-timeout-ms", "CODEGATE_CALLBACK_TIMEOUT_MS", OPT_INT, "10000", 100, 300000,
     M(callback_timeout_ms), NULL, NULL, "time one callback attempt may take in all"},
    {"callback-backoff-ms", "CODEGATE_CALLBACK_BACKOFF_MS", OPT_INT, "2000", 10, 600000,
     M(callback_backoff_ms), NULL, NULL,
     "first retry delay bound: retry n waits a random time up to backoff x 2^(n-1)"},
    {"callback-backoff-max-ms", "CODEGATE_CALLBACK_BACKOFF_MAX_MS", OPT_INT, "300000", 10, 3600000,
     M(callback_backoff_max_ms), NULL, NULL,
     "cap of a retry delay (also of an honoured Retry-After)"},
    {"callback-queue-max", "CODEGATE_CALLBACK_QUEUE_MAX", OPT_INT, "10000", 1, 1000000,
     M(callback_queue_max), NULL, NULL,
     "callbacks held in memory at once (sending or waiting to retry); beyond, new ones are "
     "refused"},
    {"callback-concurrency", "CODEGATE_CALLBACK_CONCURRENCY", OPT_INT, "32", 1, 1024,
     M(callback_concurrency), NULL, NULL, "callback requests in flight at once"},
    {"log-requests", "CODEGATE_LOG_REQUESTS", OPT_BOOL, "true", 0, 0, M(log_requests), NULL, NULL,
     "one JSON log line per request"},
    {"sessions-max", "CODEGATE_SESSIONS_MAX", OPT_INT, "8", 0, 1000, M(sessions_max), NULL, NULL,
     "interactive sessions running or waiting for an executor at once; 0 disables them"},
    {"session-share", "CODEGATE_SESSION_SHARE", OPT_INT, "50", 10, 90, M(session_share), NULL, NULL,
     "percent of each language's executor slots interactive sessions may hold; the rest stays "
     "for batch runs"},
    {"session-start-ms", "CODEGATE_SESSION_START_MS", OPT_INT, "10000", 500, 600000,
     M(session_start_ms), NULL, NULL,
     "a session connection that sends no start frame for this long is closed"},
    {"session-ms", "CODEGATE_SESSION_MS", OPT_INT, "300000", 1000, 3600000, M(session_ms), NULL,
     NULL, "longest wall-clock time of an interactive session"},
    {"session-idle-ms", "CODEGATE_SESSION_IDLE_MS", OPT_INT, "60000", 1000, 3600000,
     M(session_idle_ms), NULL, NULL,
     "an interactive session with no message from its client for this long is ended"},
    /* Asynchronous submissions (server/async.h). Keep these rows together. */
    {"redis-url", "CODEGATE_REDIS_URL", OPT_STR, "", 0, 0, M(redis_url), NULL, check_redis_url,
     "Redis of the asynchronous submissions API: unix:///path/redis.sock[?db=N] or "
     "redis://[:password@]host:port[/db] (rediss:// TLS is not supported by this hiredis); "
     "empty: /api/submissions answers 503 async_unavailable"},
    {"redis-prefix", "CODEGATE_REDIS_PREFIX", OPT_STR, "codegate", 0, 0, M(redis_prefix), NULL,
     check_instance,
     "prefix of every Redis key of the queue; gateways sharing one queue use the same prefix"},
    {"async-workers", "CODEGATE_ASYNC_WORKERS", OPT_INT, "0", 0, 256, M(async_workers), NULL, NULL,
     "submissions this gateway runs at once; 0 = --executors x --slots"},
    {"async-visibility-ms", "CODEGATE_ASYNC_VISIBILITY_MS", OPT_INT, "30000", 500, 3600000,
     M(async_visibility_ms), NULL, NULL,
     "a taken submission whose gateway has not shown life for this long is claimed by another "
     "gateway and run again (a running gateway renews its claim every third of it)"},
    {"async-max-attempts", "CODEGATE_ASYNC_MAX_ATTEMPTS", OPT_INT, "5", 1, 100,
     M(async_max_attempts), NULL, NULL,
     "attempts at a submission (the service's own failures only) before it goes to the dead "
     "letters as failed"},
    {"async-backoff-ms", "CODEGATE_ASYNC_BACKOFF_MS", OPT_INT, "1000", 10, 3600000,
     M(async_backoff_ms), NULL, NULL,
     "first retry delay; doubled per attempt, with jitter (between half and all of it)"},
    {"async-backoff-max-ms", "CODEGATE_ASYNC_BACKOFF_MAX_MS", OPT_INT, "60000", 10, 86400000,
     M(async_backoff_max_ms), NULL, NULL, "largest retry delay"},
    {"async-result-ttl-s", "CODEGATE_ASYNC_RESULT_TTL_S", OPT_INT, "86400", 1, 2592000,
     M(async_result_ttl_s), NULL, NULL,
     "a finished submission (result and source) is deleted this long after it finished"},
    {"async-callback-lease-ms", "CODEGATE_ASYNC_CALLBACK_LEASE_MS", OPT_INT, "600000", 1000,
     86400000, M(async_callback_lease_ms), NULL, NULL,
     "a callback claimed by a gateway that stops renewing it (it died) is delivered again by "
     "any gateway this long after its last renewal (renewed every third of it)"},
    {"async-max-waiters", "CODEGATE_ASYNC_MAX_WAITERS", OPT_INT, "256", 0, 100000,
     M(async_max_waiters), NULL, NULL,
     "GET /api/submissions/<id>?wait=S requests waiting at once; beyond, they answer at once"},
    {"static-dir", "CODEGATE_STATIC_DIR", OPT_STR, "", 0, 0, M(static_dir), NULL, NULL,
     "files served at / (the playground; default: server/static of the source tree)"},
};

#define NOPTS (sizeof opts / sizeof opts[0])

/* True when val is exactly one of the '|'-separated words of choices. */
static bool is_choice(const char *choices, const char *val)
{
    size_t n = strlen(val);

    for (const char *c = choices; *c;) {
        size_t k = strcspn(c, "|");
        if (k == n && strncmp(c, val, n) == 0)
            return true;
        c += k + (c[k] == '|');
    }
    return false;
}

static int set_int(const opt_t *o, const char *val, const char *src, int *dst, char *err,
                   size_t errlen)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(val, &end, 10);
    /* strtol accepts leading blanks and '+': a configuration value must be plain digits. */
    if (!(isdigit((unsigned char)val[0]) || (val[0] == '-' && isdigit((unsigned char)val[1]))) ||
        errno || *end || v < o->min || v > o->max) {
        snprintf(err, errlen, "%s: \"%s\" is not an integer between %ld and %ld", src, val, o->min,
                 o->max);
        return -1;
    }
    *dst = (int)v;
    return 0;
}

static int set_bool(const char *val, const char *src, bool *dst, char *err, size_t errlen)
{
    if (!strcasecmp(val, "true") || !strcmp(val, "1") || !strcasecmp(val, "yes")) {
        *dst = true;
    } else if (!strcasecmp(val, "false") || !strcmp(val, "0") || !strcasecmp(val, "no")) {
        *dst = false;
    } else {
        snprintf(err, errlen, "%s: \"%s\" is not a boolean (true/false, 1/0, yes/no)", src, val);
        return -1;
    }
    return 0;
}

static int set_str(const opt_t *o, const char *val, const char *src, char *dst, char *err,
                   size_t errlen)
{
    const char *must;

    if (strlen(val) >= o->size) {
        snprintf(err, errlen, "%s: the value is longer than %zu characters", src, o->size - 1);
        return -1;
    }
    if (o->choices && !is_choice(o->choices, val)) {
        snprintf(err, errlen, "%s: \"%.80s\" is not one of %s", src, val, o->choices);
        return -1;
    }
    if (o->check && (must = o->check(val)) != NULL) {
        snprintf(err, errlen, "%s: \"%.80s\" must be %s", src, val, must);
        return -1;
    }

    memcpy(dst, val, strlen(val) + 1);
    return 0;
}

/* Parses val for option o into cfg; src names the origin in messages. */
static int set_value(config_t *cfg, const opt_t *o, const char *val, const char *src, char *err,
                     size_t errlen)
{
    char *p = (char *)cfg + o->off;

    switch (o->type) {
    case OPT_INT:
        return set_int(o, val, src, (int *)(void *)p, err, errlen);
    case OPT_BOOL:
        return set_bool(val, src, (bool *)p, err, errlen);
    case OPT_STR:
        return set_str(o, val, src, p, err, errlen);
    }
    snprintf(err, errlen, "%s: option of unknown type", src);
    return -1;
}

static const opt_t *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

/* Returns 0, 1 after --help/--version, or -1 with err filled. */
static int parse_argv(config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val, *eq;
        const opt_t *o;
        char src[96];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            config_print_help(stdout, argv[0]);
            return 1;
        }
        if (!strcmp(a, "--version")) {
            printf("codegate %s\n", CG_VERSION);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\"", a);
            return -1;
        }
        eq = strchr(a + 2, '=');
        o = find_flag(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
        if (!o) {
            snprintf(err, errlen, "unknown option \"%.*s\"", eq ? (int)(eq - a) : (int)strlen(a),
                     a);
            return -1;
        }
        if (eq)
            val = eq + 1;
        else if (o->type == OPT_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            snprintf(err, errlen, "--%s needs a value", o->name);
            return -1;
        }
        snprintf(src, sizeof src, "--%s", o->name);
        if (set_value(cfg, o, val, src, err, errlen))
            return -1;
    }
    return 0;
}

/* docker_socket when none was given: DOCKER_HOST=unix://PATH, else the usual path. Another
 * DOCKER_HOST scheme cannot be used; that only matters when the runtime must be docker. */
static int default_docker_socket(config_t *cfg, char *err, size_t errlen)
{
    const char *dh = getenv("DOCKER_HOST");

    if (cfg->docker_socket[0])
        return 0;
    if (dh && strncmp(dh, "unix://", 7) == 0 && dh[7]) {
        if (strlen(dh + 7) >= sizeof cfg->docker_socket) {
            snprintf(err, errlen, "DOCKER_HOST: the socket path is too long");
            return -1;
        }
        snprintf(cfg->docker_socket, sizeof cfg->docker_socket, "%s", dh + 7);
        return 0;
    }
    if (dh && dh[0] && strcmp(cfg->runtime, "docker") == 0) {
        snprintf(err, errlen,
                 "DOCKER_HOST=%s: only unix:// sockets are supported (or set --docker-socket)", dh);
        return -1;
    }
    snprintf(cfg->docker_socket, sizeof cfg->docker_socket, "/var/run/docker.sock");
    return 0;
}

/* The external runtime needs addresses and the shared secret; a CA file must be readable. */
static int check_external(const config_t *cfg, char *err, size_t errlen)
{
    if (strcmp(cfg->runtime, "external") != 0)
        return 0;
    if (!cfg->executor_addrs[0]) {
        snprintf(err, errlen,
                 "--runtime external needs --executor-addrs (CODEGATE_EXECUTOR_ADDRS),"
                 " e.g. python=python-exec:8765;javascript=js-exec:8765");
        return -1;
    }
    if (!cfg->executor_token_file[0]) {
        snprintf(err, errlen,
                 "--runtime external needs --executor-token-file "
                 "(CODEGATE_EXECUTOR_TOKEN_FILE): the secret the executors expect");
        return -1;
    }
    if (cfg->executor_ca_file[0] && access(cfg->executor_ca_file, R_OK) != 0) {
        snprintf(err, errlen, "--executor-ca-file: cannot read %s: %s", cfg->executor_ca_file,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int config_load(config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    char src[96];
    int rc;

    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NOPTS; i++) {
        snprintf(src, sizeof src, "default of --%s", opts[i].name);
        if (set_value(cfg, &opts[i], opts[i].def, src, err, errlen))
            return -1;
    }
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v = getenv(opts[i].env);
        if (!v || !v[0])
            continue;
        snprintf(src, sizeof src, "%s", opts[i].env);
        if (set_value(cfg, &opts[i], v, src, err, errlen))
            return -1;
    }
    rc = parse_argv(cfg, argc, argv, err, errlen);
    if (rc != 0)
        return rc;
    if (check_external(cfg, err, errlen) != 0)
        return -1;
    return default_docker_socket(cfg, err, errlen);
}

/* The range column: "1..65535", "auto|docker|local" (sep replaces '|'), "true|false" or "". */
static void range_text(const opt_t *o, const char *sep, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    if (o->type == OPT_INT) {
        snprintf(buf, len, "%ld..%ld", o->min, o->max);
    } else if (o->type == OPT_BOOL) {
        snprintf(buf, len, "true%sfalse", sep);
    } else if (o->choices) {
        for (const char *c = o->choices; *c && n + strlen(sep) + 1 < len; c++) {
            if (*c == '|') {
                n += (size_t)snprintf(buf + n, len - n, "%s", sep);
            } else {
                buf[n++] = *c;
                buf[n] = '\0';
            }
        }
    }
}

void config_print_help(FILE *f, const char *argv0)
{
    char range[64];

    fprintf(f,
            "codegate %s - code-execution gateway\n\n"
            "Usage: %s [--option value | --option=value]...\n\n"
            "Every option can also be set by its environment variable (shown after the flag);\n"
            "a flag wins over the variable, an empty variable counts as unset.\n\n",
            CG_VERSION, argv0);
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        range_text(o, "|", range, sizeof range);
        fprintf(f, "  --%-22s %s\n      %s (default: %s%s%s)\n", o->name, o->env, o->help,
                o->def[0] ? o->def : "see text", range[0] ? "; " : "", range);
    }
    fprintf(f, "\n  --help      print this text\n  --version   print the version\n");
}

void config_print_markdown(FILE *f)
{
    char range[64];

    fprintf(f, "| flag | environment | default | range | description |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        /* A '|' would end the table cell: choices are listed with commas. */
        range_text(o, ", ", range, sizeof range);
        fprintf(f, "| `--%s` | `%s` | %s%s%s | %s | %s |\n", o->name, o->env, o->def[0] ? "`" : "",
                o->def[0] ? o->def : "(see description)", o->def[0] ? "`" : "", range, o->help);
    }
}
