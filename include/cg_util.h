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

/* Moves the calling (single-threaded) process into a new user namespace in which inside_uid and
 * inside_gid map to its current effective uid and gid, and nothing else is mapped (setgroups is
 * denied, as an unprivileged writer of gid_map must). 0 or -errno (errno set too). */
int cg_enter_userns(uid_t inside_uid, gid_t inside_gid);

/* This process's cgroup path as the file proc_cgroup (/proc/self/cgroup) names it: in the v1
 * hierarchy that holds controller ctrl, or in the v2 hierarchy ("0::/path") when ctrl is NULL.
 * 0 and the path ("/" in a cgroup namespace's root), or -1 when the file names none. */
int cg_own_cgroup(const char *proc_cgroup, const char *ctrl, char *out, size_t len);

/* The one growable byte buffer (a program's output, WebSocket message reassembly on both sides,
 * Docker answers and stream lines), kept NUL-terminated. Zero-initialised it is empty.
 * cg_buf_append adds n bytes, doubling the capacity from 4 KiB as needed: 0 or -ENOMEM (then
 * unchanged). cg_buf_reset empties it and frees the memory when it grew beyond keep bytes;
 * cg_buf_free frees it (the owner's to call). */
typedef struct {
    char *data;
    size_t len, cap;
} cg_buf_t;

int cg_buf_append(cg_buf_t *b, const void *data, size_t n);
void cg_buf_reset(cg_buf_t *b, size_t keep);
void cg_buf_free(cg_buf_t *b);

#endif
