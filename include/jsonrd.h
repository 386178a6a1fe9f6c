/*
 * jsonrd.h - typed, bounded readers of parsed JSON (cJSON) for the request validators: the
 * execute body (server/request.c), the session start frame (server/session.c) and the wire
 * protocol (common/protocol.c).
 *
 * Each reader checks one value against its type and bounds and says what is wrong in one shape,
 * jsonrd_err_t; the validators turn that into their own messages (each API keeps its wording).
 * Readers never allocate: strings are pointers into the cJSON tree, valid while it lives. A
 * reader given NULL (an absent member) answers JSONRD_ABSENT and leaves its output untouched,
 * so a default set before the call stays. Any thread; no state.
 *
 * cJSON decodes "\u0000" into a NUL byte and ends the string there, so a NUL cannot be seen in
 * the tree: jsonrd_nul_escape() finds one in the raw text before it is parsed.
 */
#ifndef CG_JSONRD_H
#define CG_JSONRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum {
    JSONRD_OK = 0,
    JSONRD_ABSENT,    /* no value (the member is missing, or null with JSONRD_NULL_ABSENT) */
    JSONRD_TYPE,      /* the value has the wrong JSON type */
    JSONRD_RANGE,     /* a number outside [min, max] or not whole; a choice not offered; an
                         array with more entries than allowed */
    JSONRD_TOO_LARGE, /* a string longer than allowed */
} jsonrd_status_t;

/* What a reader found wrong. For array readers, index is the entry at fault (-1: the array
 * itself); item is the value at fault (NULL when absent); len the length of a string too long
 * or the entry count of an array with too many. */
typedef struct {
    jsonrd_status_t status;
    int index;
    const cJSON *item;
    size_t len;
} jsonrd_err_t;

#define JSONRD_NULL_ABSENT 1u /* jsonrd_member(): a null member counts as absent */
#define JSONRD_ANY_CASE 2u    /* jsonrd_member(): match the name case-insensitively */

/* The member name of obj (JSONRD_* flags), or NULL. */
const cJSON *jsonrd_member(const cJSON *obj, const char *name, unsigned flags);

/* A string of at most max bytes: *out points into the tree, *len (may be NULL) its length. */
jsonrd_status_t jsonrd_string(const cJSON *it, size_t max, const char **out, size_t *len,
                              jsonrd_err_t *err);

/* A whole number in [min, max] (both within +-2^53). */
jsonrd_status_t jsonrd_int(const cJSON *it, int64_t min, int64_t max, int64_t *out,
                           jsonrd_err_t *err);

/* true or false. */
jsonrd_status_t jsonrd_bool(const cJSON *it, bool *out, jsonrd_err_t *err);

/* A string equal (case-insensitively) to one of choices (NULL-terminated); *index which. */
jsonrd_status_t jsonrd_choice(const cJSON *it, const char *const *choices, int *index,
                              jsonrd_err_t *err);

/* An array of at most max_count strings of at most max_len bytes each. out (room for
 * max_count + 1) gets pointers into the tree and a NULL; *n the count. On an error out and *n
 * hold the entries before the one at fault. */
jsonrd_status_t jsonrd_strings(const cJSON *it, int max_count, size_t max_len, const char **out,
                               int *n, jsonrd_err_t *err);

/* "a string", "a number", "a boolean", "null", "an array" or "an object". */
const char *jsonrd_kind(const cJSON *it);

/* True when the raw JSON text (already valid) holds a "\u0000" escape; field gets the
 * top-level member it is in ("" when not in one). */
bool jsonrd_nul_escape(const char *text, size_t len, char *field, size_t flen);

#endif
