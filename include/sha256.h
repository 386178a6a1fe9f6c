/*
 * sha256.h - SHA-256 of content: image tags (server/tar_context.c) and the executor's compile
 * cache keys (executors/ccache.c), through OpenSSL libcrypto's EVP interface (the library
 * libwebsockets already loads; docs/PERFORMANCE.md has the numbers against the hand-written
 * version it replaced). Programs that include this link libcrypto; the launcher does not.
 *
 * Ownership: cg_sha256_t is a value on the caller's stack; cg_sha256_init() gives it an EVP
 * context that cg_sha256_final() frees, whatever happened before (call final exactly once after
 * init, even after a failure). Errors are sticky, like enc_t in protocol.c: update is a no-op
 * after one, and final reports it. Any thread; one state per thread at a time.
 */
#ifndef CG_SHA256_H
#define CG_SHA256_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/types.h>

typedef struct {
    EVP_MD_CTX *ctx;
    bool ok;
} cg_sha256_t;

void cg_sha256_init(cg_sha256_t *s);
void cg_sha256_update(cg_sha256_t *s, const void *data, size_t len);
/* The 32-byte digest into out and 0, or -1 when any step failed (out is then all zero). */
int cg_sha256_final(cg_sha256_t *s, unsigned char out[32]);
/* 64 lowercase hex digits and a NUL. */
void cg_sha256_hex(const unsigned char md[32], char out[65]);

#endif
