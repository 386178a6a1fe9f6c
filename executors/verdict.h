/*
 * verdict.h - how a step ended, decided from the launcher's report (runreq.h) and what the
 * runner saw of the step: the status (ok, timeout, memory_limit, output_limit, runtime_error,
 * compile_error, internal_error) and the measures of a COMPILE or RESULT frame. Pure: no I/O,
 * no clock, no state; the runner's only judge of a step.
 *
 * Ownership: nothing is allocated; the caller owns every argument. Any thread.
 */
#ifndef CG_VERDICT_H
#define CG_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profiles.h"
#include "protocol.h"
#include "runreq.h"

/* What the runner knows of a step besides the launcher's report. */
typedef struct {
    const profile_t *profile;
    bool compile;       /* the compile step (else a run) */
    bool truncated;     /* stdout+stderr reached the output cap */
    bool backup_fired;  /* the runner's backstop killed a hung launcher */
    const char *err;    /* the step's stderr so far (the profile's OOM messages); NULL = none */
    int64_t elapsed_ms; /* since the step was handed to the launcher */
} verdict_step_t;

/* The size of verdict_decide's message buffer that holds every message it writes. */
#define VERDICT_MSG_MAX (RUNREQ_ERROR_MAX + 32)

/*
 * Decides the step from the report's len bytes (a missing or malformed report: the launcher
 * failed). Sets o's status, exit_code, signal, timed_out, duration_ms, cpu_ms and memory_kb
 * (nothing else). When the program did not start, msg (VERDICT_MSG_MAX bytes) gets the text
 * that replaces the step's stderr; else msg is "".
 */
void verdict_decide(const verdict_step_t *s, const void *report, size_t len, cg_outcome_t *o,
                    char *msg, size_t msglen);
/* Did the step fail before the program started because the slot could not be prepared (its
 * cgroup limits could not be set: stage "slot")? */
bool verdict_slot_failed(const void *report, size_t len);

#endif
