/*
 * fuzz_jsonbig.c - libFuzzer target for the parse of big top-level strings (common/jsonbig.c).
 *
 * Built with JSONBIG_MIN 4 (scripts/fuzz.sh), so short inputs take the fast path. Property:
 * cg_json_parse_big gives what cJSON_ParseWithLengthOpts gives - NULL for the same inputs,
 * else the same tree (compared printed) and the same end. Run by scripts/fuzz.sh by name.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbig.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* exact size: ASan sees a read past the end */
    const char *end = NULL;
    size_t off = 0;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    cJSON *a = cg_json_parse_big(buf, size, &off);
    cJSON *b = cJSON_ParseWithLengthOpts(buf, size, &end, false);
    CHECK((a == NULL) == (b == NULL));
    if (b) {
        char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
        CHECK(pa && pb && strcmp(pa, pb) == 0);
        CHECK(off == (size_t)(end - buf));
        free(pa);
        free(pb);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(buf);
    return 0;
}
