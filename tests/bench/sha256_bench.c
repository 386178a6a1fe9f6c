/*
 * sha256_bench.c - throughput of cg_sha256 (include/sha256.h) in the two shapes the code uses:
 * a large stream in 64 KiB pieces (an image context in tar_context.c), and many small keys of
 * a few pieces each (the executor's compile-cache key in ccache.c: compiler version, argv, a
 * 2 KiB source). Prints the best of five rounds of each. Not part of make test:
 *
 *   make build/bench/sha256_bench && build/bench/sha256_bench
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sha256.h"

#define STREAM_BYTES (256u << 20)
#define PIECE (64u << 10)
#define KEYS 200000
#define ROUNDS 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    static unsigned char piece[PIECE], src[2048];
    unsigned char md[32], sink = 0;
    for (size_t i = 0; i < sizeof piece; i++)
        piece[i] = (unsigned char)(i * 131u + 7u);
    memcpy(src, piece, sizeof src);

    double best_stream = 1e9, best_keys = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
        cg_sha256_t s;
        double t0 = now_s();
        cg_sha256_init(&s);
        for (size_t done = 0; done < STREAM_BYTES; done += PIECE)
            cg_sha256_update(&s, piece, PIECE);
        cg_sha256_final(&s, md);
        double t = now_s() - t0;
        sink ^= md[0];
        best_stream = t < best_stream ? t : best_stream;

        t0 = now_s();
        for (int k = 0; k < KEYS; k++) {
            cg_sha256_init(&s);
            cg_sha256_update(&s, "g++ (Debian 12.2.0-14) 12.2.0", 30);
            cg_sha256_update(&s, "-std=c++17\0-O2\0-o\0main\0main.cpp", 32);
            cg_sha256_update(&s, "\n", 1);
            src[0] = (unsigned char)k;
            cg_sha256_update(&s, src, sizeof src);
            cg_sha256_final(&s, md);
            sink ^= md[0];
        }
        t = now_s() - t0;
        best_keys = t < best_keys ? t : best_keys;
    }
    printf("stream: %.0f MB/s (%u MiB in 64 KiB pieces, best of %d)\n",
           STREAM_BYTES / 1e6 / best_stream, STREAM_BYTES >> 20, ROUNDS);
    printf("keys:   %.2f us per 2 KiB compile-cache key, %.0f MB/s (best of %d)\n",
           best_keys / KEYS * 1e6, KEYS * (double)sizeof src / 1e6 / best_keys, ROUNDS);
    printf("(digest byte xor %02x keeps the work observable)\n", sink);
    return 0;
}
