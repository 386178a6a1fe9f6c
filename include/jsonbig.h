/*
 * jsonbig.h - cJSON parsing of a JSON object whose top-level string values may be megabytes
 * (program output in RESULT frames, code and stdin in EXECUTE frames).
 *
 * cJSON reads a string twice byte by byte (to find its end, then to copy it). Here the long
 * string values of the top-level object (JSONBIG_MIN bytes or more) are cut out first: cJSON
 * parses the rest, a skeleton in which they are "", and each is then unescaped with memchr and
 * memcpy over its runs of plain bytes into the tree's valuestring.
 *
 * Same result as cJSON_ParseWithLengthOpts(buf, len, &end, false): the same tree, and NULL for
 * the same inputs. Whatever the fast path does not handle exactly as cJSON would - an escape
 * other than \" \\ \/ \b \f \n \r \t and \u0001 to \u001f, a key with an escape, a key that
 * appears twice - is parsed by cJSON alone.
 *
 * Ownership: the tree is the caller's (cJSON_Delete). Any thread; no state.
 */
#ifndef CG_JSONBIG_H
#define CG_JSONBIG_H

#include <stddef.h>

#include <cJSON.h>

#ifndef JSONBIG_MIN /* a fuzz build sets it low */
#define JSONBIG_MIN (16u * 1024u)
#endif

/* *end_off (may be NULL) gets the offset in buf just after the parsed value. */
cJSON *cg_json_parse_big(const char *buf, size_t len, size_t *end_off);

#endif
