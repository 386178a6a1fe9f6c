/*
 * verdict.c - a step's status from the launcher's report (see verdict.h).
 */
#include "verdict.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static cg_status_t decide(const verdict_step_t *s, const runreq_report_t *st, cg_outcome_t *o)
{
    bool timed_out = st->timed_out;

    o->exit_code = st->exit_code;
    o->signal = st->signal;
    o->cpu_ms = st->cpu_ms;
    o->memory_kb = st->maxrss_kb;
    o->duration_ms = st->wall_ms;
    if (o->signal == SIGXCPU)
        timed_out = true;
    o->timed_out = timed_out;
    if (s->compile) {
        if (timed_out)
            return CG_ST_TIMEOUT;
        return o->exit_code == 0 ? CG_ST_OK : CG_ST_COMPILE_ERROR;
    }
    /* The OOM killer struck in the run's cgroup: whichever process it picked, the run as a
     * whole went over its memory (even if the main process then ended "normally"). */
    if (st->oom_killed)
        return CG_ST_MEMORY_LIMIT;
    if (timed_out)
        return CG_ST_TIMEOUT;
    if (s->truncated)
        return CG_ST_OUTPUT_LIMIT;
    if (o->exit_code == 0 && o->signal == 0)
        return CG_ST_OK;
    if (profile_is_oom(s->profile, s->err))
        return CG_ST_MEMORY_LIMIT;
    if (o->signal == SIGKILL && !st->killed)
        return CG_ST_MEMORY_LIMIT; /* killed by nobody we know of: the cgroup OOM killer */
    return CG_ST_RUNTIME_ERROR;
}

/* Did a run step fail to start because of what the program itself did to its work dir in an
 * earlier test case? It may have made the dir unsearchable (chdir, as the slot uid, fails) or,
 * when it is a compiled program, removed or replaced its binary (the exec fails). */
static bool user_start_failure(const verdict_step_t *s, const char *stage, const char *error)
{
    if (s->compile)
        return false;
    /* exec refused for the process limit (RLIMIT_NPROC, where no pids cgroup exists): the
     * run's own budget, spent by the run's own processes. */
    if (!strcmp(stage, "exec") && strstr(error, strerror(EAGAIN)))
        return true;
    return !strcmp(stage, "chdir") || (s->profile->binary && !strcmp(stage, "exec"));
}

void verdict_decide(const verdict_step_t *s, const void *report, size_t len, cg_outcome_t *o,
                    char *msg, size_t msglen)
{
    runreq_report_t st;
    bool reported = runreq_report_decode(report, len, &st) == 0;
    char stage[64];

    msg[0] = '\0';
    o->exit_code = -1;
    if (reported && !st.error[0]) {
        o->status = decide(s, &st, o);
        return;
    }
    o->status = s->backup_fired ? CG_ST_TIMEOUT : CG_ST_INTERNAL_ERROR;
    o->timed_out = s->backup_fired;
    o->duration_ms = s->elapsed_ms;
    if (!reported) {
        if ((!s->err || !s->err[0]) && !s->backup_fired)
            snprintf(msg, msglen, "executor: the sandbox launcher failed");
        return;
    }
    runreq_report_stage(&st, stage, sizeof stage);
    if (user_start_failure(s, stage, st.error)) {
        /* The program's own doing (it removed or replaced its binary in an earlier test
         * case): a failed run of the program, not a fault of the service. */
        o->status = CG_ST_RUNTIME_ERROR;
        snprintf(msg, msglen, "cannot start the program: %s", st.error);
    } else {
        snprintf(msg, msglen, "%s", st.error);
    }
}

bool verdict_slot_failed(const void *report, size_t len)
{
    runreq_report_t st;
    char stage[64];

    if (runreq_report_decode(report, len, &st) != 0)
        return false;
    runreq_report_stage(&st, stage, sizeof stage);
    return !strcmp(stage, "slot");
}
