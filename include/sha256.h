/*
 * sha256.h - SHA-256 for content hashes: image tags (tar_context.c) and the executor's compile
 * cache keys. Streaming interface; the state is a plain value owned by the caller. Any thread.
 */
#ifndef CG_SHA256_H
#define CG_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t total;
    unsigned char block[64];
    size_t used;
} cg_sha256_t;

void cg_sha256_init(cg_sha256_t *s);
void cg_sha256_update(cg_sha256_t *s, const void *data, size_t len);
void cg_sha256_final(cg_sha256_t *s, unsigned char out[32]);
/* 64 lowercase hex digits and a NUL. */
void cg_sha256_hex(const unsigned char md[32], char out[65]);

#endif
