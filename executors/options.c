/*
 * options.c - the executor's configuration (see options.h): the option table, loading from
 * the environment and argv, the token, the slot uid base and the TLS files.
 */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cg_util.h"
#include "lang.h"
#include "protocol.h"
#include "secret.h"
#include "version.h"

/* One row per option: the flag, its environment variable, default, bounds (integers), help. */
typedef struct {
    const char *flag, *env, *def;
    bool is_int;
    long min, max;
    size_t off; /* in options_t: const char * or int */
    const char *help;
} opt_def_t;

// clang-format off
#define STR_OPT(f, e, d, field, h) {f, e, d, false, 0, 0, offsetof(options_t, field), h}
#define INT_OPT(f, e, d, lo, hi, field, h) {f, e, d, true, lo, hi, offsetof(options_t, field), h}
// clang-format on

static const opt_def_t opt_table[] = {
    STR_OPT("--language", "EXECUTOR_LANGUAGE", NULL, language,
            "a name of the language table, common/lang.c (required)"),
    STR_OPT("--listen", "EXECUTOR_LISTEN", "tcp:0.0.0.0:8765", listen,
            "tcp:HOST:PORT or unix:/path (the socket is made 0600)"),
    INT_OPT("--slots", "EXECUTOR_SLOTS", "4", 1, 64, slots, "jobs run at once"),
    STR_OPT("--token-file", "EXECUTOR_TOKEN_FILE", NULL, token_file,
            "file holding the bearer token: 16 to 255 printable characters without blanks, one "
            "line end after it ignored (else EXECUTOR_TOKEN; one is required)"),
    STR_OPT("--launcher", "EXECUTOR_LAUNCHER", NULL, launcher,
            "sandbox launcher (default: launcher next to this binary)"),
    STR_OPT("--work-root", "EXECUTOR_WORK_ROOT", "/tmp/codegate-work", work_root,
            "parent of the per-run work dirs (made 0711, must be ours)"),
    STR_OPT("--uid-base", "EXECUTOR_UID_BASE", "60000", uid_base_spec,
            "slot i runs as uid/gid base+i (when root): 1000..2000000000, or auto (from the "
            "IPv4 address: replicas on one kernel get disjoint ranges)"),
    INT_OPT("--compile-timeout-ms", "EXECUTOR_COMPILE_TIMEOUT_MS",
            LANG_STR(LANG_COMPILE_TIMEOUT_MS), 1000, LANG_COMPILE_TIMEOUT_MAX_MS,
            compile_timeout_ms,
            "wall clock of one compile (the gateway waits this long by default: lang.h)"),
    INT_OPT("--drain-ms", "EXECUTOR_DRAIN_MS", "25000", 0, 3600000, drain_ms,
            "after SIGTERM: how long running jobs may still take before they are killed (a "
            "second SIGTERM kills them at once)"),
    STR_OPT("--tls-cert-file", "EXECUTOR_TLS_CERT_FILE", NULL, tls_cert,
            "PEM certificate (chain) of the listener: it then speaks TLS (wss); needs the key"),
    STR_OPT("--tls-key-file", "EXECUTOR_TLS_KEY_FILE", NULL, tls_key,
            "PEM private key of that certificate"),
    STR_OPT("--log-level", "EXECUTOR_LOG_LEVEL", "info", log_level,
            "debug (also a line per job), info, warn or error"),
    INT_OPT("--slot-disk-mb", "EXECUTOR_SLOT_DISK_MB", "128", 16, 4096, slot_disk_mb,
            "size of each slot's private work area (a tmpfs; its pages count against the "
            "run's memory)"),
    STR_OPT("--box-ro", "EXECUTOR_BOX_RO", NULL, box_ro,
            "more read-only paths programs may see (colon-separated; /usr, /bin, /lib... and "
            "a few /etc files are always there)"),
    STR_OPT("--pch-dir", "EXECUTOR_PCH_DIR", "auto", pch_dir,
            "C++: the precompiled header's directory (scripts/build-pch.sh), none, or auto: "
            "pch/ or ../pch/ beside the executor binary, when there"),
    INT_OPT("--allow-unsandboxed", "EXECUTOR_ALLOW_UNSANDBOXED", "0", 0, 1, allow_unsandboxed,
            "1: without root and without user namespaces, run programs as this user with "
            "rlimits only (untrusted code can then read what this user can); 0: refuse to start"),
    INT_OPT("--zygote", "EXECUTOR_ZYGOTE", "1", 0, 1, zygote,
            "1: Python runs fork from an interpreter each slot starts once (launcher-py next to "
            "the launcher; it is not used when it cannot start); 0: every run starts python3"),
    INT_OPT("--require-namespaces", "EXECUTOR_REQUIRE_NAMESPACES", "0", 0, 1, require_ns,
            "1: refuse to start (as root) without per-slot namespaces and memory cgroups "
            "instead of warning"),
};
#define NOPTS (sizeof opt_table / sizeof opt_table[0])

void options_usage(FILE *f)
{
    fprintf(f, "usage: executor --language LANG [options]\n"
               "       executor --probe [options]   (GET /healthz of the running executor: "
               "exit 0 when healthy)\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_def_t *d = &opt_table[i];
        fprintf(f, "  %-22s %-28s %s", d->flag, d->env, d->help);
        if (d->def)
            fprintf(f, " [%s]", d->def);
        if (d->is_int)
            fprintf(f, " (%ld..%ld)", d->min, d->max);
        fputc('\n', f);
    }
    fprintf(f, "  %-22s %-28s %s\n", "", "EXECUTOR_TOKEN", "the bearer token itself");
    fprintf(f, "  --probe, --version, --help\n");
}

/* Stores value v for option d into o. 0 or -1 (a message was written to err). */
static int set_opt(options_t *o, const opt_def_t *d, const char *v, const char *origin, FILE *err)
{
    char *field = (char *)o + d->off;

    if (!d->is_int) {
        *(const char **)(void *)field = v;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < d->min || n > d->max) {
        fprintf(err, "executor: %s must be an integer between %ld and %ld (got \"%s\")\n", origin,
                d->min, d->max, v);
        return -1;
    }
    *(int *)(void *)field = (int)n;
    return 0;
}

int options_load(options_t *o, int argc, char **argv, FILE *err)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < NOPTS; i++) {
        const char *e = getenv(opt_table[i].env);
        const char *v = e && *e ? e : opt_table[i].def;
        if (v && set_opt(o, &opt_table[i], v, opt_table[i].env, err) != 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const opt_def_t *d = NULL;
        if (!strcmp(a, "--version")) {
            printf("codegate executor %s (protocol %d)\n", CG_VERSION, CG_PROTO_VERSION);
            return 1;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            options_usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--probe")) {
            o->probe = true;
            continue;
        }
        for (size_t k = 0; k < NOPTS; k++)
            if (!strcmp(a, opt_table[k].flag))
                d = &opt_table[k];
        if (!d) {
            fprintf(err, "executor: unknown option %s\n", a);
            options_usage(err);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(err, "executor: %s needs a value\n", a);
            return -1;
        }
        if (set_opt(o, d, argv[++i], a, err) != 0)
            return -1;
    }
    return 0;
}

int options_read_token(options_t *o, char *err, size_t errlen)
{
    char *env = getenv("EXECUTOR_TOKEN");
    char buf[OPTIONS_TOKEN_MAX + 4]; /* a CR LF and one more: a longer token is refused */
    char what[PATH_MAX + 16];
    size_t len = 0;
    int rc = -1;

    memset(o->token, 0, sizeof o->token);
    memset(buf, 0, sizeof buf);
    if (env) {
        len = strnlen(env, sizeof buf - 1);
        memcpy(buf, env, len);
        memset(env, 0, strlen(env));
    }
    unsetenv("EXECUTOR_TOKEN");
    snprintf(what, sizeof what, "the token (EXECUTOR_TOKEN)");
    if (o->token_file) {
        int fd = open(o->token_file, O_RDONLY | O_CLOEXEC);
        explicit_bzero(buf, sizeof buf); /* the file replaces EXECUTOR_TOKEN: none of it stays */
        ssize_t n = fd < 0 ? -errno : cg_read_full(fd, buf, sizeof buf - 1);
        if (fd >= 0)
            close(fd);
        if (n < 0) {
            snprintf(err, errlen, "cannot read the token file %s: %s", o->token_file,
                     strerror((int)-n));
            goto out;
        }
        len = (size_t)n;
        snprintf(what, sizeof what, "the token in %s", o->token_file);
    }
    if (len == 0 || !strcmp(buf, "\n") || !strcmp(buf, "\r\n")) {
        snprintf(err, errlen,
                 "a token is required (EXECUTOR_TOKEN, or a non-empty "
                 "EXECUTOR_TOKEN_FILE / --token-file)");
        goto out;
    }
    /* The rules every secret follows (common/secret.c): one line end ignored, printable ASCII
     * without blanks, OPTIONS_TOKEN_MIN..OPTIONS_TOKEN_MAX characters. */
    if (cg_secret_check(what, buf, len, OPTIONS_TOKEN_MIN, OPTIONS_TOKEN_MAX, &len, err, errlen) ==
        0) {
        memcpy(o->token, buf, len + 1);
        rc = 0;
    }
out:
    explicit_bzero(buf, sizeof buf);
    return rc;
}

uid_t options_uid_auto_base(uint32_t ipv4)
{
    return (uid_t)(OPTIONS_UID_AUTO_FIRST + (ipv4 & 0xffffu) * OPTIONS_UID_AUTO_STRIDE);
}

int options_uid_base(const char *spec, const struct ifaddrs *ifs, uid_t *out, char *how,
                     size_t howlen, char *err, size_t errlen)
{
    char *end;
    long n;

    if (spec && !strcmp(spec, "auto")) {
        for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
                (i->ifa_flags & IFF_LOOPBACK))
                continue;
            const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
            char addr[INET_ADDRSTRLEN] = "?";
            inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
            *out = options_uid_auto_base(ntohl(sin->sin_addr.s_addr));
            snprintf(how, howlen, "auto: from %s's address %s", i->ifa_name ? i->ifa_name : "?",
                     addr);
            return 0;
        }
        snprintf(err, errlen,
                 "EXECUTOR_UID_BASE=auto: no IPv4 address on an interface that is up (other "
                 "than loopback) to derive it from; set a number");
        return -1;
    }
    errno = 0;
    n = spec ? strtol(spec, &end, 10) : 0;
    if (!spec || errno || end == spec || *end || n < 1000 || n > 2000000000) {
        snprintf(err, errlen,
                 "EXECUTOR_UID_BASE / --uid-base must be auto or an integer between 1000 and "
                 "2000000000 (got \"%s\")",
                 spec ? spec : "");
        return -1;
    }
    *out = (uid_t)n;
    snprintf(how, howlen, "configured");
    return 0;
}

/* The first OpenSSL error as text (or "unknown error"). */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();

    if (!e)
        return "unknown error";
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

int options_check_tls(const options_t *o, char *err, size_t errlen)
{
    char why[256];
    SSL_CTX *ctx;
    int rc = -1;

    if (!o->tls_cert && !o->tls_key)
        return 0;
    if (!o->tls_cert || !o->tls_key) {
        snprintf(err, errlen,
                 "TLS needs both EXECUTOR_TLS_CERT_FILE and EXECUTOR_TLS_KEY_FILE "
                 "(--tls-cert-file, --tls-key-file): only the %s is set",
                 o->tls_cert ? "certificate" : "key");
        return -1;
    }
    const char *files[2] = {o->tls_cert, o->tls_key};
    for (int i = 0; i < 2; i++) {
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "TLS %s %s: %s", i ? "key" : "certificate", files[i],
                     strerror(errno));
            return -1;
        }
        close(fd);
    }
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: %s", ssl_reason(why, sizeof why));
        return -1;
    }
    /* The key first: loaded before a certificate it is not compared yet, so a mismatch is
     * told apart from a file that is not a key at all. */
    if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1)
        snprintf(err, errlen, "TLS key %s is not a PEM private key: %s", o->tls_key,
                 ssl_reason(why, sizeof why));
    else if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1)
        snprintf(err, errlen, "TLS certificate %s is not a PEM certificate: %s", o->tls_cert,
                 ssl_reason(why, sizeof why));
    else if (SSL_CTX_check_private_key(ctx) != 1)
        snprintf(err, errlen, "TLS key %s does not match the certificate %s: %s", o->tls_key,
                 o->tls_cert, ssl_reason(why, sizeof why));
    else
        rc = 0;
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}
