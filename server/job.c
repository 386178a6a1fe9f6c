/*
 * job.c - life cycle of one execution request (see job.h for ownership and threads).
 */
#include "job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cg_util.h"
#include "judge.h"
#include "lang.h"

static void outcome_clear(job_outcome_t *o)
{
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof *o);
}

static char *encode_frame(const job_t *job, size_t output_limit, bool interactive)
{
    cg_execute_t ex;
    const request_t *r = &job->req;
    cg_file_t files[CG_MAX_FILES];
    char *frame;

    memset(&ex, 0, sizeof ex);
    ex.id = job->id;
    ex.language = r->language;
    ex.code = r->code;
    ex.code_len = r->code_len;
    ex.args = (const char *const *)r->args;
    ex.nargs = r->nargs;
    ex.options = (const char *const *)r->options;
    ex.noptions = r->noptions;
    ex.memory_mb = r->memory_mb;
    ex.output_limit = output_limit;
    ex.stream = interactive;
    ex.interactive = interactive;
    ex.budget_ms = job->budget_ms;
    if (r->ntests > 0) {
        ex.nruns = r->ntests;
        for (int i = 0; i < r->ntests; i++) {
            ex.runs[i].input = r->tests[i].input;
            ex.runs[i].input_len = r->tests[i].input_len;
            ex.runs[i].timeout_ms = r->tests[i].timeout_ms;
        }
    } else {
        ex.nruns = 1;
        ex.runs[0].input = r->input;
        ex.runs[0].input_len = r->input_len;
        ex.runs[0].timeout_ms = r->timeout_ms;
    }
    if (r->nfiles > CG_MAX_FILES)
        return NULL;
    for (int i = 0; i < r->nfiles; i++)
        files[i] = (cg_file_t){r->files[i].name, r->files[i].b64, r->files[i].b64_len};
    ex.files = files;
    ex.nfiles = r->nfiles;
    ex.out = *request_out_limits();
    frame = cg_encode_execute(&ex);
    return frame;
}

static job_t *job_create(request_t *req, size_t output_limit, int budget_ms, bool interactive)
{
    job_t *job = calloc(1, sizeof *job);

    if (!job)
        goto fail;
    job->req = *req;
    memset(req, 0, sizeof *req);
    job->nruns = job->req.ntests > 0 ? job->req.ntests : 1;
    job->budget_ms = budget_ms;
    if (cg_random_hex(job->id, 8) != 0)
        goto fail_job;
    job->frame = encode_frame(job, output_limit, interactive);
    if (!job->frame)
        goto fail_job;
    job->frame_len = strlen(job->frame);
    pthread_mutex_init(&job->mu, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&job->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    job->refs = 1;
    job->state = JOB_NEW;
    job->t_created = cg_now_ms();
    return job;

fail_job:
    request_free(&job->req);
    free(job->frame);
    free(job);
    return NULL;
fail:
    request_free(req);
    return NULL;
}

job_t *job_new(request_t *req, size_t output_limit, int budget_ms)
{
    return job_create(req, output_limit, budget_ms, false);
}

job_t *job_new_interactive(request_t *req, size_t output_limit)
{
    return job_create(req, output_limit, 0, true);
}

void job_ref(job_t *job)
{
    pthread_mutex_lock(&job->mu);
    job->refs++;
    pthread_mutex_unlock(&job->mu);
}

void job_unref(job_t *job)
{
    int left;

    if (!job)
        return;
    pthread_mutex_lock(&job->mu);
    left = --job->refs;
    pthread_mutex_unlock(&job->mu);
    if (left > 0)
        return;
    outcome_clear(&job->compile);
    for (int i = 0; i < CG_MAX_RUNS; i++)
        outcome_clear(&job->runs[i]);
    request_free(&job->req);
    free(job->frame);
    cJSON_Delete(job->out_files);
    cJSON_Delete(job->out_omitted);
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cv);
    free(job);
}

int job_outcome_set(job_outcome_t *dst, const cg_outcome_t *src)
{
    char *out = strdup(src->out ? src->out : "");
    char *err = strdup(src->err ? src->err : "");

    if (!out || !err) {
        free(out);
        free(err);
        return -ENOMEM;
    }
    outcome_clear(dst);
    dst->present = true;
    dst->status = src->status;
    dst->exit_code = src->exit_code;
    dst->signal = src->signal;
    dst->timed_out = src->timed_out;
    dst->truncated = src->truncated;
    dst->duration_ms = src->duration_ms;
    dst->cpu_ms = src->cpu_ms;
    dst->memory_kb = src->memory_kb;
    dst->cached = src->cached;
    dst->out = out;
    dst->err = err;
    return 0;
}

void job_set_state(job_t *job, job_state_t state)
{
    pthread_mutex_lock(&job->mu);
    job->state = state;
    pthread_mutex_unlock(&job->mu);
}

job_state_t job_get_state(job_t *job)
{
    job_state_t st;

    pthread_mutex_lock(&job->mu);
    st = job->state;
    pthread_mutex_unlock(&job->mu);
    return st;
}

int job_take_outcome(job_t *job, bool compile, const cg_outcome_t *o)
{
    const request_t *r = &job->req;
    job_outcome_t *dst;

    job->got_output = true;
    if (compile) {
        dst = &job->compile;
    } else {
        if (o->run < 0 || o->run >= job->nruns)
            return 0;
        /* submit: after the first failure the rest are skipped, even a case the executor ran
         * before our cancel reached it (fast cases race with the cancel). */
        if (job->stopped_early)
            return 0;
        dst = &job->runs[o->run];
        if (o->run + 1 > job->nresults)
            job->nresults = o->run + 1;
    }
    if (job_outcome_set(dst, o) != 0)
        return -ENOMEM;
    if (compile || r->ntests == 0)
        return 0;
    const request_test_t *t = &r->tests[o->run];
    dst->passed =
        dst->status == CG_ST_OK &&
        (!t->expected || judge_equal(dst->out, strlen(dst->out), t->expected, t->expected_len,
                                     r->exact ? JUDGE_EXACT : JUDGE_TRIM));
    if (dst->status == CG_ST_OK && !dst->passed)
        dst->status = CG_ST_WRONG_ANSWER;
    if (r->submit && !dst->passed && o->run + 1 < job->nruns && !job->cancel_sent) {
        job->stopped_early = true;
        return JOB_STOP_RUNS;
    }
    return 0;
}

void job_end(job_t *job, int http, const char *code, const char *msg)
{
    if (http) {
        job->fail_http = http;
        snprintf(job->fail_code, sizeof job->fail_code, "%s", code);
        snprintf(job->fail_msg, sizeof job->fail_msg, "%s", msg);
    }
    /* Sessions hear about the end of their job exactly once. */
    if (job->on_event && !job->end_notified) {
        job->end_notified = true;
        job->on_event(job->event_arg, job, NULL);
    }
    job_finish(job);
    job_unref(job);
}

void job_finish(job_t *job)
{
    pthread_mutex_lock(&job->mu);
    job->state = JOB_DONE;
    job->t_done = cg_now_ms();
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

void job_fail(job_t *job, int http, const char *code, const char *msg)
{
    job->fail_http = http;
    snprintf(job->fail_code, sizeof job->fail_code, "%s", code);
    snprintf(job->fail_msg, sizeof job->fail_msg, "%s", msg);
    job_finish(job);
}

bool job_wait(job_t *job, int64_t abs_deadline_ms)
{
    struct timespec ts;
    bool done;

    ts.tv_sec = abs_deadline_ms / 1000;
    ts.tv_nsec = (abs_deadline_ms % 1000) * 1000000L;
    pthread_mutex_lock(&job->mu);
    while (job->state != JOB_DONE) {
        if (pthread_cond_timedwait(&job->cv, &job->mu, &ts) == ETIMEDOUT)
            break;
    }
    done = job->state == JOB_DONE;
    pthread_mutex_unlock(&job->mu);
    return done;
}

int64_t job_wait_budget_ms(const request_t *r, int queue_wait_ms, int job_budget_ms)
{
    const lang_t *l = lang_get(r->language);
    int64_t t = queue_wait_ms +
                (int64_t)(l ? l->compile_timeout_ms : 0) * (100 + CG_WALL_CREDIT_PCT) / 100 +
                JOB_WAIT_MARGIN_MS;
    int64_t runs = 0;
    int n = r->ntests > 0 ? r->ntests : 1;

    /* Each run's limit may be extended by the time it waited for a CPU (CG_WALL_CREDIT_PCT). */
    for (int i = 0; i < n; i++)
        runs += (int64_t)(r->ntests > 0 ? r->tests[i].timeout_ms : r->timeout_ms) *
                    (100 + CG_WALL_CREDIT_PCT) / 100 +
                1000;
    if (runs > (int64_t)job_budget_ms + 1000 * n) /* the credit stays within the budget */
        runs = (int64_t)job_budget_ms + 1000 * n;
    return t + runs;
}
