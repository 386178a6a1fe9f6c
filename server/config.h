/*
 * config.h - the gateway's configuration: one table of options drives the command line, the
 * environment, validation, --help, and the README's configuration section.
 *
 * Precedence: built-in default < environment variable < command-line flag. Every option has a
 * long flag (--name value or --name=value) and an environment variable; integers have a min and
 * max and are rejected with a clear message outside them; string options with a fixed set of
 * values (runtime) are checked against it.
 *
 * Ownership: config_t is a plain value (fixed-size strings); config_load() fills a caller-owned
 * struct. Read-only after start-up, so every thread may read it.
 */
#ifndef CG_CONFIG_H
#define CG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct {
    /* HTTP front end */
    char bind[64];           /* --bind, CODEGATE_BIND, "127.0.0.1" */
    int port;                /* --port, PORT, 5000 */
    char cors_origins[512];  /* --cors-origins, CODEGATE_CORS_ORIGINS, "" = automatic */
    char allowed_hosts[512]; /* --allowed-hosts, CODEGATE_ALLOWED_HOSTS, "" (comma list or *) */
    int max_connections;     /* --max-connections, CODEGATE_MAX_CONNECTIONS, 16000 */
    int max_conns_per_ip;    /* --max-conns-per-ip, CODEGATE_MAX_CONNS_PER_IP, 256 (0 = no cap) */
    bool per_ip_loopback;    /* --per-ip-loopback, CODEGATE_PER_IP_LOOPBACK, false */
    int header_timeout_ms;   /* --header-timeout-ms, CODEGATE_HEADER_TIMEOUT_MS, 10000 */
    int body_timeout_ms;     /* --body-timeout-ms, CODEGATE_BODY_TIMEOUT_MS, 30000 */
    char api_keys_file[PATH_MAX]; /* --api-keys-file, CODEGATE_API_KEYS_FILE, "" = no keys */
    /* runtime */
    char runtime[16]; /* --runtime, CODEGATE_RUNTIME, "auto": auto|docker|local|external */
    int executors;    /* --executors, CODEGATE_EXECUTORS, 0 = sized (per language) [0,16] */
    int slots;        /* --slots, CODEGATE_SLOTS, 0 = sized (jobs at once per executor) [0,64] */
    char executor_bin[PATH_MAX]; /* --executor-bin, CODEGATE_EXECUTOR_BIN, "" = next to gateway */
    char launcher_bin[PATH_MAX]; /* --launcher-bin, CODEGATE_LAUNCHER_BIN, "" = next to gateway */
    char state_dir[PATH_MAX]; /* --state-dir, CODEGATE_STATE_DIR, "" = /run/codegate-<instance> or
                                 $XDG_RUNTIME_DIR/... */
    char instance[64];        /* --instance, CODEGATE_INSTANCE, "default" [A-Za-z0-9_-] */
    bool allow_unsandboxed;   /* --allow-unsandboxed, CODEGATE_ALLOW_UNSANDBOXED, false */
    /* external runtime (executors run by an orchestrator) */
    char executor_addrs[2048]; /* --executor-addrs, CODEGATE_EXECUTOR_ADDRS, "" (extaddr.h) */
    int resolve_ms;            /* --resolve-ms, CODEGATE_RESOLVE_MS, 3000 [100,600000] */
    char executor_token_file[PATH_MAX]; /* --executor-token-file, CODEGATE_EXECUTOR_TOKEN_FILE */
    char
        executor_ca_file[PATH_MAX]; /* --executor-ca-file, CODEGATE_EXECUTOR_CA_FILE, "" = no TLS */
    /* queue and limits */
    int queue_max;       /* --queue-max, CODEGATE_QUEUE_MAX, 0 = sized [0,100000] */
    int queue_wait_ms;   /* --queue-wait-ms, CODEGATE_QUEUE_WAIT_MS, 0 = sized [0,600000] */
    int output_limit_kb; /* --output-limit-kb, CODEGATE_OUTPUT_LIMIT_KB, 1024 [1,16384] */
    int files_max;       /* --files-max: files given with a request (files.h) */
    int files_max_kb;    /* --files-max-kb: their decoded size together */
    int file_name_max;   /* --file-name-max: bytes of one name */
    int file_depth_max;  /* --file-depth-max: components of one name */
    int out_files_max;   /* --out-files-max: files returned from out/ */
    int out_file_max_kb; /* --out-file-max-kb: one of them */
    int out_files_max_kb; /* --out-files-max-kb: all of them */
    int job_budget_ms;   /* --job-budget-ms, CODEGATE_JOB_BUDGET_MS, 60000 [1000,3600000] */
    int drain_ms;        /* --drain-ms, CODEGATE_DRAIN_MS, 10000 [0,600000] */
    int ping_ms;         /* --ping-ms, CODEGATE_PING_MS, 1000 [100,60000] */
    /* docker */
    char docker_socket[PATH_MAX]; /* --docker-socket, CODEGATE_DOCKER_SOCKET; default from
                                     DOCKER_HOST=unix://... else /var/run/docker.sock */
    char base_image[128];         /* --base-image, CODEGATE_BASE_IMAGE, "debian:bookworm-slim" */
    int container_memory_mb;  /* --container-memory-mb, CODEGATE_CONTAINER_MEMORY_MB, 0 = sized from
                                 the slots */
    int container_cpus_milli; /* --container-cpus, CODEGATE_CONTAINER_CPUS, 0 = sized (millicores)
                                 [0,64000] */
    int container_pids;       /* --container-pids, CODEGATE_CONTAINER_PIDS, 512 [32,100000] */
    char src_dir[PATH_MAX];   /* --src-dir, CODEGATE_SRC_DIR, "" = the repository the gateway was
                                 built from (for image builds) */
    /* interactive sessions and the playground */
    int sessions_max;     /* --sessions-max, CODEGATE_SESSIONS_MAX, 8 [0,1000] */
    int session_share;    /* --session-share, CODEGATE_SESSION_SHARE, 50 (percent) [10,90] */
    int session_start_ms; /* --session-start-ms, CODEGATE_SESSION_START_MS, 10000 [500,600000] */
    int session_ms;       /* --session-ms, CODEGATE_SESSION_MS, 300000 */
    int session_idle_ms;  /* --session-idle-ms, CODEGATE_SESSION_IDLE_MS, 60000 */
    char static_dir[PATH_MAX]; /* --static-dir, CODEGATE_STATIC_DIR, "" = <src>/server/static */
    /* callbacks of asynchronous submissions (server/callback.c) */
    char callback_secret_file[PATH_MAX];  /* --callback-secret-file, CODEGATE_CALLBACK_SECRET_FILE, "" = callbacks refused */
    char callback_allowed_hosts[512];     /* --callback-allowed-hosts, CODEGATE_CALLBACK_ALLOWED_HOSTS, "*" */
    char callback_allow_networks[512];    /* --callback-allow-networks, CODEGATE_CALLBACK_ALLOW_NETWORKS, "" (CIDRs) */
    int callback_max_attempts;            /* --callback-max-attempts, CODEGATE_CALLBACK_MAX_ATTEMPTS, 6 [1,30] */
    int callback_connect_timeout_ms;      /* --callback-connect-timeout-ms, CODEGATE_CALLBACK_CONNECT_TIMEOUT_MS, 5000 */
    int callback_timeout_ms;              /* --callback-timeout-ms, CODEGATE_CALLBACK_TIMEOUT_MS, 10000 */
    int callback_backoff_ms;              /* --callback-backoff-ms, CODEGATE_CALLBACK_BACKOFF_MS, 2000 */
    int callback_backoff_max_ms;          /* --callback-backoff-max-ms, CODEGATE_CALLBACK_BACKOFF_MAX_MS, 300000 */
    int callback_queue_max;               /* --callback-queue-max, CODEGATE_CALLBACK_QUEUE_MAX, 10000 */
    int callback_concurrency;             /* --callback-concurrency, CODEGATE_CALLBACK_CONCURRENCY, 32 */
    /* asynchronous submissions (server/async.h; issue #14) */
    char redis_url[512];      /* --redis-url, CODEGATE_REDIS_URL, "" = async API off (503) */
    char redis_prefix[64];    /* --redis-prefix, CODEGATE_REDIS_PREFIX, "codegate" */
    int async_workers;        /* --async-workers, CODEGATE_ASYNC_WORKERS, 0 = executors x slots */
    int async_visibility_ms;  /* --async-visibility-ms, CODEGATE_ASYNC_VISIBILITY_MS, 30000 */
    int async_max_attempts;   /* --async-max-attempts, CODEGATE_ASYNC_MAX_ATTEMPTS, 5 */
    int async_backoff_ms;     /* --async-backoff-ms, CODEGATE_ASYNC_BACKOFF_MS, 1000 */
    int async_backoff_max_ms; /* --async-backoff-max-ms, CODEGATE_ASYNC_BACKOFF_MAX_MS, 60000 */
    int async_result_ttl_s;   /* --async-result-ttl-s, CODEGATE_ASYNC_RESULT_TTL_S, 86400 */
    int async_max_waiters;    /* --async-max-waiters, CODEGATE_ASYNC_MAX_WAITERS, 256 */
    int async_callback_lease_ms; /* --async-callback-lease-ms, CODEGATE_ASYNC_CALLBACK_LEASE_MS, 600000 */
    /* logging */
    bool log_requests; /* --log-requests, CODEGATE_LOG_REQUESTS, true */
    /* Not options: what server/sizing.c read of the machine and which options it filled in
     * (SIZED_* bits) for those left at 0; set once at start by sizing_apply. */
    int sized_cpu_milli, sized_memory_mb;
    unsigned sized;
} config_t;

/*
 * Fills cfg from defaults, then the environment, then argv. Returns 0 on success; 1 when --help
 * or --version was given and printed (caller exits 0); -1 on an error, with a one-line message
 * naming the flag or variable and the reason in err.
 */
int config_load(config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/* Prints usage with every option, its variable, default and range. */
void config_print_help(FILE *f, const char *argv0);

/* Prints the options as a Markdown table (flag | variable | default | range | description). */
void config_print_markdown(FILE *f);

#endif
