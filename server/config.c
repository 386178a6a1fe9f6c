/*
 * config.c - the option table (see config.h). Adding an option = one row here + one member of
 * config_t; --help, the environment, validation and the README table follow from the row.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "version.h"

typedef enum { OPT_INT, OPT_STR, OPT_BOOL } opt_type_t;

typedef struct {
    const char *name;    /* flag without "--" */
    const char *env;
    opt_type_t type;
    const char *def;     /* default as text ("" = empty) */
    long min, max;       /* OPT_INT range */
    size_t off, size;    /* member of config_t */
    const char *choices; /* OPT_STR: "a|b|c" or NULL */
    const char *help;
} opt_t;

#define M(f) offsetof(config_t, f), sizeof(((config_t *)0)->f)

static const opt_t opts[] = {
    {"bind", "CODEGATE_BIND", OPT_STR, "127.0.0.1", 0, 0, M(bind), NULL,
     "IPv4 address the HTTP server listens on"},
    {"port", "PORT", OPT_INT, "5000", 1, 65535, M(port), NULL, "HTTP port"},
    {"cors-origins", "CODEGATE_CORS_ORIGINS", OPT_STR, "*", 0, 0, M(cors_origins), NULL,
     "allowed CORS origins: * or a comma-separated list"},
    {"runtime", "CODEGATE_RUNTIME", OPT_STR, "auto", 0, 0, M(runtime), "auto|docker|local",
     "where executors run: docker, local processes, or auto (docker when the daemon answers)"},
    {"executors", "CODEGATE_EXECUTORS", OPT_INT, "1", 1, 16, M(executors), NULL,
     "executors (containers or processes) per language"},
    {"slots", "CODEGATE_SLOTS", OPT_INT, "4", 1, 64, M(slots), NULL,
     "programs one executor runs at once (= pooled connections per executor)"},
    {"queue-max", "CODEGATE_QUEUE_MAX", OPT_INT, "64", 1, 100000, M(queue_max), NULL,
     "requests that may wait for a free slot; beyond: 503 overloaded"},
    {"queue-wait-ms", "CODEGATE_QUEUE_WAIT_MS", OPT_INT, "10000", 100, 600000, M(queue_wait_ms),
     NULL, "longest wait for a free slot before 503 overloaded"},
    {"output-limit-kb", "CODEGATE_OUTPUT_LIMIT_KB", OPT_INT, "1024", 1, 16384,
     M(output_limit_kb), NULL, "stdout+stderr kept per run, in KiB; the program is stopped there"},
    {"drain-ms", "CODEGATE_DRAIN_MS", OPT_INT, "10000", 0, 600000, M(drain_ms), NULL,
     "on SIGTERM, how long requests in flight may finish"},
    {"ping-ms", "CODEGATE_PING_MS", OPT_INT, "1000", 100, 60000, M(ping_ms), NULL,
     "ping interval on executor connections (dead after 3 missed)"},
    {"instance", "CODEGATE_INSTANCE", OPT_STR, "default", 0, 0, M(instance), NULL,
     "name of this gateway instance: owns its containers, network and state dir"},
    {"state-dir", "CODEGATE_STATE_DIR", OPT_STR, "", 0, 0, M(state_dir), NULL,
     "local runtime: sockets and work dirs (default /run/codegate-<instance>)"},
    {"executor-bin", "CODEGATE_EXECUTOR_BIN", OPT_STR, "", 0, 0, M(executor_bin), NULL,
     "local runtime: executor binary (default: next to the gateway)"},
    {"launcher-bin", "CODEGATE_LAUNCHER_BIN", OPT_STR, "", 0, 0, M(launcher_bin), NULL,
     "local runtime: launcher binary (default: next to the gateway)"},
    {"docker-socket", "CODEGATE_DOCKER_SOCKET", OPT_STR, "", 0, 0, M(docker_socket), NULL,
     "Docker API socket (default: DOCKER_HOST=unix://..., else /var/run/docker.sock)"},
    {"base-image", "CODEGATE_BASE_IMAGE", OPT_STR, "debian:bookworm-slim", 0, 0, M(base_image),
     NULL, "base image of the executor images (made locally when it cannot be pulled)"},
    {"container-memory-mb", "CODEGATE_CONTAINER_MEMORY_MB", OPT_INT, "2048", 128, 65536,
     M(container_memory_mb), NULL, "memory limit of each executor container"},
    {"container-cpus", "CODEGATE_CONTAINER_CPUS", OPT_INT, "2000", 100, 64000,
     M(container_cpus_milli), NULL, "CPU limit of each executor container, in millicores"},
    {"container-pids", "CODEGATE_CONTAINER_PIDS", OPT_INT, "512", 32, 100000, M(container_pids),
     NULL, "process/thread limit of each executor container"},
    {"src-dir", "CODEGATE_SRC_DIR", OPT_STR, "", 0, 0, M(src_dir), NULL,
     "source tree the images are built from (default: found from the gateway's path)"},
    {"log-requests", "CODEGATE_LOG_REQUESTS", OPT_BOOL, "true", 0, 0, M(log_requests), NULL,
     "one JSON log line per request"},
};

#define NOPTS (sizeof opts / sizeof opts[0])

static int set_value(config_t *cfg, const opt_t *o, const char *val, const char *src, char *err,
                     size_t errlen)
{
    char *p = (char *)cfg + o->off;

    switch (o->type) {
    case OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer between %ld and %ld", src, val,
                     o->min, o->max);
            return -1;
        }
        *(int *)p = (int)v;
        return 0;
    }
    case OPT_BOOL:
        if (!strcasecmp(val, "true") || !strcmp(val, "1") || !strcasecmp(val, "yes"))
            *(bool *)p = true;
        else if (!strcasecmp(val, "false") || !strcmp(val, "0") || !strcasecmp(val, "no"))
            *(bool *)p = false;
        else {
            snprintf(err, errlen, "%s: \"%s\" is not a boolean (true/false)", src, val);
            return -1;
        }
        return 0;
    case OPT_STR:
        if (strlen(val) >= o->size) {
            snprintf(err, errlen, "%s: value longer than %zu characters", src, o->size - 1);
            return -1;
        }
        if (o->choices) {
            size_t n = strlen(val);
            const char *c = strstr(o->choices, val);
            bool ok = n > 0 && c && (c == o->choices || c[-1] == '|') && (c[n] == '|' || !c[n]);
            if (!ok) {
                snprintf(err, errlen, "%s: \"%s\" is not one of %s", src, val, o->choices);
                return -1;
            }
        }
        memcpy(p, val, strlen(val) + 1);
        return 0;
    }
    return -1;
}

static bool instance_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static const opt_t *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

static int parse_argv(config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val, *eq;
        char src[96];
        const opt_t *o;
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
            snprintf(err, errlen, "unknown option \"%s\"", a);
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
        if (!v)
            continue;
        snprintf(src, sizeof src, "%s", opts[i].env);
        if (set_value(cfg, &opts[i], v, src, err, errlen))
            return -1;
    }
    rc = parse_argv(cfg, argc, argv, err, errlen);
    if (rc != 0)
        return rc;
    if (!instance_ok(cfg->instance)) {
        snprintf(err, errlen, "--instance: \"%s\" must be 1-32 characters of [A-Za-z0-9_-]",
                 cfg->instance);
        return -1;
    }
    if (!cfg->docker_socket[0]) {
        const char *dh = getenv("DOCKER_HOST");
        if (dh && strncmp(dh, "unix://", 7) == 0)
            snprintf(cfg->docker_socket, sizeof cfg->docker_socket, "%s", dh + 7);
        else if (dh && dh[0] && strcmp(cfg->runtime, "docker") == 0) {
            snprintf(err, errlen, "DOCKER_HOST=%s: only unix:// sockets are supported", dh);
            return -1;
        } else
            snprintf(cfg->docker_socket, sizeof cfg->docker_socket, "/var/run/docker.sock");
    }
    return 0;
}

static void range_text(const opt_t *o, char *buf, size_t len)
{
    if (o->type == OPT_INT)
        snprintf(buf, len, "%ld..%ld", o->min, o->max);
    else if (o->choices)
        snprintf(buf, len, "%s", o->choices);
    else if (o->type == OPT_BOOL)
        snprintf(buf, len, "true|false");
    else
        buf[0] = '\0';
}

void config_print_help(FILE *f, const char *argv0)
{
    char range[64];

    fprintf(f, "codegate %s - code-execution gateway\n\nUsage: %s [--option value]...\n\n"
               "Every option can also be set by its environment variable; flags win.\n\n",
            CG_VERSION, argv0);
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        range_text(o, range, sizeof range);
        fprintf(f, "  --%-22s %s\n      %s (default: %s%s%s)\n", o->name, o->env, o->help,
                o->def[0] ? o->def : "\"\"", range[0] ? "; " : "", range);
    }
    fprintf(f, "\n  --help, --version\n");
}

void config_print_markdown(FILE *f)
{
    char range[64];

    fprintf(f, "| flag | environment | default | range | description |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        range_text(o, range, sizeof range);
        fprintf(f, "| `--%s` | `%s` | %s%s%s | %s | %s |\n", o->name, o->env,
                o->def[0] ? "`" : "", o->def[0] ? o->def : "(see description)",
                o->def[0] ? "`" : "", range, o->help);
    }
}
