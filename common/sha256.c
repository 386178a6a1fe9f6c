/*
 * sha256.c - SHA-256 through libcrypto's EVP interface (see sha256.h).
 */
#include "sha256.h"

#include <string.h>

#include <openssl/evp.h>

void cg_sha256_init(cg_sha256_t *s)
{
    s->ctx = EVP_MD_CTX_new();
    s->ok = s->ctx && EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) == 1;
}

void cg_sha256_update(cg_sha256_t *s, const void *data, size_t len)
{
    if (s->ok && len)
        s->ok = EVP_DigestUpdate(s->ctx, data, len) == 1;
}

int cg_sha256_final(cg_sha256_t *s, unsigned char out[32])
{
    unsigned int n = 0;
    bool ok = s->ok && EVP_DigestFinal_ex(s->ctx, out, &n) == 1 && n == 32;
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
    s->ok = false;
    if (!ok)
        memset(out, 0, 32);
    return ok ? 0 : -1;
}

void cg_sha256_hex(const unsigned char md[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}
