/*
 * fuzz_utf8.c - libFuzzer target for the output sanitizer (common/utf8.c).
 *
 * The first input byte picks a chunk size; the rest is the stream. Properties: the one-shot
 * result is valid UTF-8 and fits CG_UTF8_MAX_OUT, valid input comes back unchanged, feeding
 * the stream in chunks gives the one-shot result byte for byte, and sanitizing twice changes
 * nothing. Output buffers are exact-size heap blocks, so ASan checks the documented bound.
 * Built and run by scripts/fuzz.sh (not part of make test).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t step, len, n1, n2 = 0, n3;
    unsigned char *in;
    char *one, *acc, *twice;
    cg_utf8_state_t st = {{0}, 0};

    if (size < 1)
        return 0;
    step = (size_t)(data[0] % 7) + 1;
    len = size - 1;
    in = malloc(len ? len : 1);
    one = malloc(CG_UTF8_MAX_OUT(len));
    acc = malloc(CG_UTF8_MAX_OUT(len));
    if (!in || !one || !acc)
        abort();
    memcpy(in, data + 1, len);

    n1 = cg_utf8_sanitize(NULL, in, len, one, true);
    CHECK(n1 < CG_UTF8_MAX_OUT(len) && one[n1] == '\0');
    CHECK(cg_utf8_valid((const unsigned char *)one, n1));
    if (cg_utf8_valid(in, len))
        CHECK(n1 == len && memcmp(one, in, len) == 0);

    for (size_t i = 0; i < len; i += step) {
        size_t k = len - i < step ? len - i : step;
        char *tmp = malloc(CG_UTF8_MAX_OUT(k));
        size_t got = cg_utf8_sanitize(&st, in + i, k, tmp, false);
        CHECK(st.npend <= 3 && n2 + got <= n1);
        memcpy(acc + n2, tmp, got);
        n2 += got;
        free(tmp);
    }
    char tail[CG_UTF8_MAX_OUT(0)];
    size_t got = cg_utf8_sanitize(&st, NULL, 0, tail, true);
    CHECK(st.npend == 0 && n2 + got == n1);
    memcpy(acc + n2, tail, got);
    CHECK(memcmp(acc, one, n1) == 0);

    twice = malloc(CG_UTF8_MAX_OUT(n1));
    n3 = cg_utf8_sanitize(NULL, (const unsigned char *)one, n1, twice, true);
    CHECK(n3 == n1 && memcmp(twice, one, n1) == 0);
    free(twice);
    free(in);
    free(one);
    free(acc);
    return 0;
}
