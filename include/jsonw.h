/*
 * jsonw.h - fast JSON text for big strings: a table-driven string escaper and a small writer
 * that builds a JSON object into one growing buffer.
 *
 * Why: program output (up to 16 MiB) crosses three JSON encodings on its way to a client (the
 * executor's RESULT/STDOUT frame, the gateway's answer). cJSON copies a string into its tree,
 * escapes it byte by byte in two passes and writes \u00XX with sprintf; these functions escape
 * in one pass over runs of plain bytes (memcpy) into a buffer sized once.
 *
 * Escaping: '"' and '\\' get a backslash; \b \f \n \r \t their short forms; every other byte
 * below 0x20 becomes \u00XX (lower-case hex, as cJSON writes it); all other bytes are copied
 * as they are, so the input must already be valid UTF-8 (common/utf8.h) for the text to be
 * valid JSON. A NUL byte is escaped as \u0000 like any control character.
 *
 * Ownership: cg_json_escape() writes into the caller's buffer. A cg_jw_t owns its buffer until
 * cg_jw_finish() hands it to the caller (free()). Any thread; no shared state.
 */
#ifndef CG_JSONW_H
#define CG_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes the escaped form of s[0..len) takes, without quotes. */
size_t cg_json_escaped_len(const char *s, size_t len);

/* Writes the escaped form of s[0..len) (no quotes, no NUL) to dst, which must hold
 * cg_json_escaped_len(s, len) bytes; returns the bytes written. */
size_t cg_json_escape(char *dst, const char *s, size_t len);

/* "s" as a JSON string (quotes included), NUL-terminated, malloc'ed; NULL when out of memory.
 * *out_len (may be NULL) gets its length. The caller frees it. */
char *cg_json_quote(const char *s, size_t len, size_t *out_len);

/* A JSON object under construction. Sticky error: after a failed allocation every call does
 * nothing and cg_jw_finish() returns NULL, so a half-written text is never handed out. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool ok;
    bool first; /* no member written yet */
} cg_jw_t;

/* Starts an object ("{"), reserving hint bytes. */
void cg_jw_begin(cg_jw_t *w, size_t hint);
/* Members: "name":value. cg_jw_str escapes s[0..len) (UTF-8 already). */
void cg_jw_str(cg_jw_t *w, const char *name, const char *s, size_t len);
void cg_jw_int(cg_jw_t *w, const char *name, int64_t v);
void cg_jw_bool(cg_jw_t *w, const char *name, bool v);
void cg_jw_null(cg_jw_t *w, const char *name);
/* Closes the object and returns the NUL-terminated text (the caller frees it), or NULL after
 * any failure (the buffer is freed then). */
char *cg_jw_finish(cg_jw_t *w);

#endif
