/*
 * cg_util.h - small helpers shared by both binaries: constant-time comparison, random tokens,
 * monotonic time, EINTR-safe I/O.
 *
 * Ownership: nothing here allocates except cg_strndup-style helpers, which say so.
 */
#ifndef CG_UTIL_H
#define CG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Compares two NUL-terminated secrets in time depending only on the length of `expected`. */
bool cg_secret_equal(const char *given, const char *expected);

/* Fills out with 2*nbytes lowercase hex chars from getrandom() and a NUL; out must hold
 * 2*nbytes+1. Returns 0 or -errno. */
int cg_random_hex(char *out, size_t nbytes);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t cg_now_ms(void);

/* write()/read() loops that retry on EINTR and short writes. Return 0 / bytes read, or -errno. */
int cg_write_all(int fd, const void *buf, size_t len);
ssize_t cg_read_full(int fd, void *buf, size_t len);
/* Writes the string val to the existing file dir/name in one write() (cgroup and /proc files
 * take a value per write). 0 or -errno. */
int cg_write_file(const char *dir, const char *name, const char *val);
/* The same relative to a directory descriptor (AT_FDCWD: name is a path). 0 or -errno. */
int cg_write_at(int dirfd, const char *name, const char *val);

/* A growable byte buffer kept NUL-terminated (WebSocket message reassembly on both sides).
 * Appends n bytes, doubling the capacity from 64 KiB as needed. 0 or -ENOMEM (unchanged). */
int cg_grow_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n);
/* Empties the buffer after a message; frees it when it grew beyond keep bytes. */
void cg_grow_reset(char **buf, size_t *len, size_t *cap, size_t keep);

#endif
