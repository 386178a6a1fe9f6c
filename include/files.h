/*
 * files.h - files given with a program ("files" next to "code") and files a program leaves in
 * its out/ directory: the rules both sides check, defined once.
 *
 * Files in: the gateway (server/request.c) validates every name and the limits against its
 * configured values and sends the contents base64-encoded in the EXECUTE frame; the executor
 * checks the same rules again against the hard maxima below (it never trusts the wire) and
 * writes the files into the fresh work dir before the first step.
 *
 * Files out: after the last run, the executor reads the regular files under out/ of the work
 * dir (executors/outfiles.c) and sends them in DONE; the gateway passes them on unchanged.
 *
 * A name is a relative path of 1..CG_FILE_DEPTH_MAX components joined by '/', at most
 * CG_FILE_NAME_MAX bytes. Each component holds only ASCII letters, digits and . _ - +, does
 * not start with '-' (it would read as a compiler option) and is not "." or "..". So there are
 * no absolute paths, no empty components (a//b), no control characters, no NUL, no spaces and
 * no look-alike Unicode characters. Reserved: the entry file (code), the files the executor
 * writes itself (the language's preload, a compiled binary), anything under out/ (the
 * program's results) and any component starting with ".codegate".
 *
 * Ownership: nothing here allocates but cg_b64_encode (the caller frees). Any thread.
 */
#ifndef CG_FILES_H
#define CG_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "lang.h"

/* Hard maxima (the executor's checks; the gateway's configured limits are at most these). */
#define CG_MAX_FILES 64           /* files given with one job */
#define CG_MAX_FILES_KB 8192      /* their decoded contents together, KiB */
#define CG_FILE_NAME_MAX 255      /* bytes of one name */
#define CG_FILE_DEPTH_MAX 16      /* components of one name */
#define CG_MAX_OUT_FILES 256      /* files returned from out/ */
#define CG_MAX_OUT_FILE_KB 16384  /* one of them, KiB */
#define CG_MAX_OUT_FILES_KB 32768 /* all of them together, KiB */
#define CG_MAX_FILES_BYTES (CG_MAX_FILES_KB * 1024u)
#define CG_MAX_OUT_FILE_BYTES (CG_MAX_OUT_FILE_KB * 1024u)
#define CG_MAX_OUT_FILES_BYTES (CG_MAX_OUT_FILES_KB * 1024u)
/* Entries of filesOmitted (beyond that, one last entry says how many more). */
#define CG_MAX_OUT_OMITTED 32

/* Defaults of the gateway's options (server/config.c; plain numbers: they are stringified). */
#define CG_DEFAULT_FILES 32
#define CG_DEFAULT_FILES_KB 4096
#define CG_DEFAULT_FILE_NAME_MAX 128
#define CG_DEFAULT_FILE_DEPTH_MAX 8
#define CG_DEFAULT_OUT_FILES 16
#define CG_DEFAULT_OUT_FILE_KB 4096
#define CG_DEFAULT_OUT_FILES_KB 8192

/* The directory (in the work dir) whose files come back. */
#define CG_OUT_DIR "out"

/* Limits of the files of one job. */
typedef struct {
    int max_files;
    size_t max_bytes; /* decoded, all files together */
    int name_max;
    int depth_max;
} cg_files_limits_t;

/* Limits of what comes back from out/. */
typedef struct {
    int max_files;
    size_t max_file_bytes;
    size_t max_bytes;
} cg_out_limits_t;

/* NULL when name (len bytes, not necessarily NUL-terminated) is an acceptable file name for
 * language l (l may be NULL: no reserved names checked), else a short sentence saying which
 * rule it breaks ("must be a relative path", ...). */
const char *cg_file_name_rule(const char *name, size_t len, int name_max, int depth_max,
                              const lang_t *l);

/* True when a (alen bytes) is a directory prefix of b ("a" of "a/x"): both cannot be files. */
bool cg_file_name_clash(const char *a, size_t alen, const char *b, size_t blen);

/* The MIME type of an out/ file from its extension, then its first bytes: image/png,
 * image/jpeg, image/gif, image/svg+xml, application/pdf, text/csv, text/plain,
 * application/json, else application/octet-stream. Static strings. */
const char *cg_mime_type(const char *name, const unsigned char *head, size_t len);

/* Base64 (RFC 4648, with padding). cg_b64_encode returns a malloc'ed NUL-terminated string
 * (*outlen without the NUL when not NULL), or NULL on allocation failure. */
char *cg_b64_encode(const void *data, size_t len, size_t *outlen);
/* The most bytes cg_b64_decode can write for len characters. */
#define CG_B64_DECODED_MAX(len) ((len) / 4 * 3 + 3)
/* Strict decoding (no whitespace, padding only at the end, length a multiple of 4) into out
 * (at least CG_B64_DECODED_MAX(len) bytes). Returns the decoded length, or -1. */
long cg_b64_decode(const char *in, size_t len, unsigned char *out);

#endif
