/*
 * secret.h - one set of rules for every shared secret the programs read: the executor's bearer
 * token (EXECUTOR_TOKEN or --token-file), the gateway's copy of it for external executors
 * (--executor-token-file) and the key that signs submission callbacks (--callback-secret-file).
 * They had three readers with three rules (one newline stripped, every CR/LF stripped, all
 * trailing whitespace stripped), so a secret one program took the other could refuse.
 *
 * The rules (common/secret.c):
 *   - one line end at the very end is not part of the secret ("\n" or "\r\n": echo, editors,
 *     Kubernetes Secrets made from files); nothing else is stripped;
 *   - the rest is printable ASCII without blanks (0x21..0x7e): it travels in an Authorization
 *     header, and a space or a second line is a mistake, not a secret;
 *   - at least min and at most max characters (a longer one is refused, never cut).
 * Errors name the secret by `what` (a path or a variable name) and never repeat its value.
 * Buffers that held a secret are wiped (explicit_bzero). Any thread; no state.
 */
#ifndef CG_SECRET_H
#define CG_SECRET_H

#include <stddef.h>

/* The shortest secret any of them accepts: 16 characters (openssl rand -hex 32 gives 64). */
#define CG_SECRET_MIN 16

/* Checks and trims the secret in buf (len bytes, need not be NUL-terminated; buf must have room
 * for len + 1): on success *out_len is its length and buf[*out_len] is NUL. 0, or -1 with err
 * naming `what`. */
int cg_secret_check(const char *what, char *buf, size_t len, size_t min, size_t max,
                    size_t *out_len, char *err, size_t errlen);

/* Reads the secret file at path into out (outcap bytes, at least max + 4) by those rules. 0 with
 * out NUL-terminated and *out_len set, or -1 with err (out is then all zero). */
int cg_secret_read(const char *path, size_t min, size_t max, char *out, size_t outcap,
                   size_t *out_len, char *err, size_t errlen);

#endif
