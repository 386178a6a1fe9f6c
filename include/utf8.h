/*
 * utf8.h - making program output safe to carry as JSON text.
 *
 * The rule (documented in the README): program output is bytes; on the wire and in API answers
 * it is UTF-8 text. Every byte sequence that is not well-formed UTF-8 (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF) is replaced by U+FFFD, one replacement per maximal
 * ill-formed subpart (the Unicode "substitution of maximal subparts" practice), and every NUL
 * byte is replaced by U+FFFD too (cJSON strings are NUL-terminated). Valid input is unchanged.
 *
 * Streaming: cg_utf8_sanitize() can be fed consecutive chunks of one stream; a multi-byte
 * sequence cut at a chunk end is held in the state (at most 3 bytes) and completed by the next
 * chunk, or replaced when the stream ends (final = true).
 *
 * Ownership: the output buffer is the caller's; no allocation happens here.
 */
#ifndef CG_UTF8_H
#define CG_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned char pend[4];
    size_t npend;
} cg_utf8_state_t;

/* Worst case output size for len input bytes (each byte may become 3 bytes) plus a pending
 * tail of 3 bytes, plus 1 for a terminating NUL. */
#define CG_UTF8_MAX_OUT(len) ((len)*3 + 3 * 3 + 1)

/*
 * Sanitizes in[0..len) (preceded by any bytes pending in st) into out, which must hold
 * CG_UTF8_MAX_OUT(len) bytes. Writes a terminating NUL and returns the number of bytes written
 * (without the NUL). st may be NULL for a one-shot conversion (then final is implied).
 */
size_t cg_utf8_sanitize(cg_utf8_state_t *st, const unsigned char *in, size_t len, char *out,
                        bool final);

/* True when buf[0..len) is well-formed UTF-8 without NUL bytes. */
bool cg_utf8_valid(const unsigned char *buf, size_t len);

#endif
