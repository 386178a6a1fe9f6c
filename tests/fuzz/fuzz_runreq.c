/*
 * fuzz_runreq.c - libFuzzer target for the launcher's request and report decoders
 * (executors/runreq.c), which read what crosses the executor/launcher boundary.
 *
 * Properties: decoding never reads or writes out of bounds (the store is an exact-size heap
 * block of len bytes, the documented bound); a request that decodes passes runreq_check and
 * encodes back to the same bytes (the format is canonical); a report that decodes encodes back
 * to the same bytes. Built and run by scripts/fuzz.sh (not part of make test).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runreq.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static runreq_t rq;
    runreq_report_t rep;
    char err[128];
    char *store = malloc(size ? size : 1);

    CHECK(store);
    if (runreq_decode(data, size, &rq, store, size, err, sizeof err) == 0) {
        unsigned char *again = malloc(size);
        CHECK(again);
        CHECK(runreq_check(&rq, err, sizeof err) == 0);
        CHECK(runreq_encode(&rq, again, size) == (long)size);
        CHECK(memcmp(again, data, size) == 0);
        free(again);
    }
    free(store);
    if (runreq_report_decode(data, size, &rep) == 0) {
        unsigned char buf[RUNREQ_REPORT_MAX];
        CHECK(runreq_report_encode(&rep, buf) == size);
        CHECK(memcmp(buf, data, size) == 0);
    }
    return 0;
}
