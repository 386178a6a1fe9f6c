/*
 * uidrange.h - a range of host uids of this gateway instance's own, for its executors' slots.
 *
 * Every slot runs its programs as a uid of its own. Two executors (containers or processes) of
 * this or another instance on the same host must never share one: files, signals and process
 * counts would cross between their students. An instance claims a range of UIDRANGE_SPAN uids
 * by holding an advisory lock on /run/codegate-uids/<base>.lock for as long as it runs (the
 * kernel drops the lock when the gateway dies, so a crashed instance leaves nothing held). The
 * first candidate base comes from a hash of the instance name (stable across restarts); a base
 * another live instance holds is skipped. Executor k of the instance gets base + k * slots.
 *
 * Ownership: the caller keeps the uidrange_t and calls uidrange_release() at the end.
 */
#ifndef CG_UIDRANGE_H
#define CG_UIDRANGE_H

#define UIDRANGE_FIRST 100000u
#define UIDRANGE_SPAN 4096u
#define UIDRANGE_COUNT 4096u

typedef struct {
    unsigned base; /* first uid of the range */
    int lock_fd;   /* -1 when nothing is held (not root: uids are not ours to hand out) */
} uidrange_t;

/* The first candidate base for an instance name (pure; for tests). */
unsigned uidrange_candidate(const char *instance, unsigned attempt);
/* Claims a range under lock_dir (NULL: /run/codegate-uids). 0, or -errno when every range is
 * held or the lock directory cannot be used. Without root it succeeds without a lock. */
int uidrange_claim(const char *instance, const char *lock_dir, uidrange_t *out);
void uidrange_release(uidrange_t *r);

#endif
