/*
 * judge.h - comparing a program's output with the expected output of a test case.
 *
 * trim (default): trailing spaces and tabs at the end of every line, a trailing "\r" before
 * "\n", and trailing newlines at the end are ignored on both sides. exact: byte equality.
 * Pure functions; any thread.
 */
#ifndef CG_JUDGE_H
#define CG_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { JUDGE_TRIM = 0, JUDGE_EXACT = 1 } judge_mode_t;

bool judge_equal(const char *actual, size_t alen, const char *expected, size_t elen,
                 judge_mode_t mode);

#endif
