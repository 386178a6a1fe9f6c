/*
 * options.h - the executor's configuration: one table of options drives the flags, the
 * environment (EXECUTOR_*), validation and --help (docker/README.md lists the same), plus the
 * checks that need more than a range: the token (length, file), the slot uid base ("auto":
 * derived from this host's or container's IPv4 address) and the TLS files.
 *
 * Flags win over the environment. The token comes from EXECUTOR_TOKEN or a token file, never
 * from a flag (argv is public in ps); options_read_token wipes EXECUTOR_TOKEN from the
 * environment block, so neither a child nor a reader of /proc/<pid>/environ sees it.
 *
 * Ownership: options_t holds pointers into argv and the environment (both live as long as the
 * process) and buffers of its own; nothing is allocated. Threads: start-up only (getenv).
 */
#ifndef CG_OPTIONS_H
#define CG_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct ifaddrs;

/* A shorter shared secret is refused at start (a guessable token opens the executor). */
#define OPTIONS_TOKEN_MIN 16
#define OPTIONS_TOKEN_MAX 255
/* EXECUTOR_UID_BASE=auto: OPTIONS_UID_AUTO_FIRST + (low 16 bits of the IPv4 address) *
 * OPTIONS_UID_AUTO_STRIDE; the stride is the largest --slots, so the ranges of two addresses
 * never overlap. The first uid is above every range the gateway's own runtimes hand out
 * (server/uidrange.h: 100000 + 4096 x 4096), so both kinds of executor can share a kernel. */
#define OPTIONS_UID_AUTO_FIRST 20000000u
#define OPTIONS_UID_AUTO_STRIDE 64u

typedef struct {
    const char *language, *listen, *token_file, *launcher, *work_root, *log_level, *box_ro;
    const char *pch_dir;       /* "auto", "none" or a directory (cxxfast.h) */
    const char *uid_base_spec; /* a number or "auto" (options_uid_base) */
    const char *tls_cert, *tls_key;
    int slots, compile_timeout_ms, require_ns, slot_disk_mb, allow_unsandboxed, drain_ms;
    int zygote; /* 1: Python runs fork from the slot's interpreter (launcher-py) when it works */
    bool probe; /* --probe: ask the running executor's /healthz and exit */
    char token[OPTIONS_TOKEN_MAX + 1];
    char launcher_buf[PATH_MAX];
} options_t;

/* Defaults, then the environment, then argv. 0, 1 (--help or --version answered on stdout)
 * or -1 (a message was written to err). */
int options_load(options_t *o, int argc, char **argv, FILE *err);
void options_usage(FILE *f);

/*
 * Takes the token from EXECUTOR_TOKEN (wiped and unset) or, when a token file is named, from
 * that file (a trailing newline is not part of it). 0, or -1 with a sentence in err that never
 * contains the token.
 */
int options_read_token(options_t *o, char *err, size_t errlen);

/*
 * The slot uid base of spec: a number in 1000..2000000000, or "auto": the base of the first
 * IPv4 address of an interface that is up and not loopback in ifs (getifaddrs order). 0 and
 * *out set (how: "the address 172.18.0.5" or "configured"), or -1 with a sentence in err.
 */
int options_uid_base(const char *spec, const struct ifaddrs *ifs, uid_t *out, char *how,
                     size_t howlen, char *err, size_t errlen);
/* The auto base of an IPv4 address (host byte order). */
uid_t options_uid_auto_base(uint32_t ipv4);

/* Both TLS files or neither; readable; the key matches the certificate. 0, or -1 with a
 * sentence in err. */
int options_check_tls(const options_t *o, char *err, size_t errlen);

#endif
