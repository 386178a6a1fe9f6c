/*
 * runner.c - one job at a time per connection, several per executor (see runner.h).
 *
 * Theory of operation
 * -------------------
 * A job takes a free slot (uid_base + slot when root), creates the fresh work dir
 * <work_root>/<slot>-<id> (0700, owned by the slot uid), writes the source file, then runs the
 * profile's compile step (if any) and each run in turn. Each step goes to the slot's own
 * long-lived launcher ("launcher --serve", one per slot, started with the runner and again
 * when one dies): a SOCK_SEQPACKET message with the step's options and four descriptors,
 *
 *   fd 0  stdin   executor -> program: the run's input, written with uv_write, then closed
 *                 (EPIPE when the program never reads is normal)
 *   fd 1  stdout  program -> executor
 *   fd 2  stderr  program -> executor
 *   fd 3  status  launcher -> executor: one report (runreq.h) when everything has ended, then EOF
 *
 * so that a run costs one process - the program's - and no fork of the executor or exec of a
 * launcher (on the VMs here each of those cost 1-3 ms). The launcher enforces the wall clock
 * itself, and kills every process of the run before it closes the status pipe, so the other
 * pipes reach EOF right after. A backup timer (wall + 2 s) SIGKILLs the launcher if it ever
 * hangs (its status pipe closes; the next step gets a new launcher); after the status EOF a
 * short drain timer closes pipes that some stray holder keeps open. A step is complete when the
 * pipes and the timer are all closed (p.open == 0). stdout and stderr together are capped at
 * the job's output limit: at the cap the launcher gets a stop request (SIGRTMIN queued with the
 * step's number: a late one never stops the next step) and kills the program tree at once;
 * further output is read and dropped.
 *
 * Output is sanitized to UTF-8 (common/utf8.c) when it is sent: in RESULT frames, or as it
 * arrives in STDOUT/STDERR frames for streamed jobs. Files given with the job are written next
 * to the source file, and an empty out/ made, before the first step (workdir.c). After the
 * last step, the files the program left in out/ are read (outfiles.c) and the work dir is
 * removed (never following user symlinks), both on libuv's thread pool, since a program can
 * leave a large tree; then DONE is sent with those files, the slot is freed and the ended
 * callback runs.
 */
#include "runner_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_util.h"
#include "homeseed.h"
#include "outfiles.h"
#include "runreq.h"
#include "utf8.h"
#include "verdict.h"
#include "workdir.h"

static void step_next_fresh(rjob_t *job);

/* ---- small helpers ---- */

/* Sanitized copy of a whole buffer (malloc'ed), or NULL. */
/* The captured output as UTF-8 text (utf8.h). Valid output (nearly all) is used where it is,
 * *copy = NULL; otherwise a sanitized copy is returned in *copy for the caller to free. */
static const char *sanitized(const cg_buf_t *b, char **copy)
{
    const char *data = b->data ? b->data : "";

    *copy = NULL;
    if (cg_utf8_valid((const unsigned char *)data, b->len))
        return data; /* cg_buf_t keeps a NUL after its bytes */
    *copy = malloc(CG_UTF8_MAX_OUT(b->len));
    if (*copy)
        cg_utf8_sanitize(NULL, (const unsigned char *)data, b->len, *copy, true);
    return *copy;
}

static void runner_log(const runner_t *r, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void runner_log(const runner_t *r, const char *level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->cfg.log)
        r->cfg.log(level, "%s", msg);
    else
        fprintf(stderr, "runner %s: %s\n", level, msg);
}

/* ---- finishing a step ---- */

/* The step was killed by runner_abort: internal_error, and the reason after its stderr (as a
 * frame of its own when stderr is streamed). */
static void abort_verdict(rjob_t *job, cg_outcome_t *o)
{
    const cg_buf_t *e = &job->p.err;
    bool stream = job->msg.exec.stream && job->step >= 0;
    /* On a line of its own: after what the program wrote last (streamed: to either stream). */
    bool nl = stream ? job->p.total > 0 : e->len > 0 && e->data[e->len - 1] != '\n';
    char line[256];
    int n = snprintf(line, sizeof line, "%s%s\n", nl ? "\n" : "",
                     job->abort_msg ? job->abort_msg : "the executor stopped");

    o->status = CG_ST_INTERNAL_ERROR;
    if (n < 0 || (size_t)n >= sizeof line)
        n = (int)strlen(line);
    if (stream)
        runner_send(job, cg_encode_data(CG_MSG_STDERR, job->id, job->step, line, (size_t)n));
    else
        cg_buf_append(&job->p.err, line, (size_t)n);
}

static void report_step(rjob_t *job)
{
    rproc_t *p = &job->p;
    cg_outcome_t o;
    char *out = NULL, *err = NULL, msg[VERDICT_MSG_MAX];
    const verdict_step_t vs = {.profile = job->r->cfg.profile,
                               .compile = job->step < 0,
                               .truncated = p->truncated,
                               .backup_fired = p->backup_fired,
                               .err = p->err.data,
                               .elapsed_ms = cg_now_ms() - p->t0};

    memset(&o, 0, sizeof o);
    o.run = job->step;
    o.truncated = p->truncated;
    verdict_decide(&vs, p->status.data, p->status.len, &o, msg, sizeof msg);
    if (msg[0]) { /* the program did not start: stderr says why */
        cg_buf_free(&p->err);
        cg_buf_append(&p->err, msg, strlen(msg));
    }
    if (job->abort_killed)
        abort_verdict(job, &o);
    if (job->step >= 0 && job->budget_capped && o.timed_out)
        job->budget_exceeded = true; /* it ran out of the job's time, not of its own */
    if (job->step < 0) {
        job->compile_failed = o.status != CG_ST_OK;
        if (!job->compile_failed && job->cache_key[0])
            (void)ccache_store(job->r->cfg.ccache, job->cache_key, job->dirpath,
                               job->r->cfg.profile->binary);
    }
    job->answer_bytes += p->out.len + p->err.len;
    o.out = sanitized(&p->out, &out);
    o.err = sanitized(&p->err, &err);
    o.out = o.out ? o.out : "";
    o.err = o.err ? o.err : "";
    if (job->msg.exec.stream && job->step >= 0) {
        /* Flush what the streaming decoders held back. */
        char tail[16];
        if (cg_utf8_sanitize(&p->u_out, NULL, 0, tail, true))
            runner_send(job, cg_encode_data(CG_MSG_STDOUT, job->id, job->step, tail, strlen(tail)));
        if (cg_utf8_sanitize(&p->u_err, NULL, 0, tail, true))
            runner_send(job, cg_encode_data(CG_MSG_STDERR, job->id, job->step, tail, strlen(tail)));
    }
    runner_send(job,
                cg_encode_outcome(job->step < 0 ? CG_MSG_COMPILE : CG_MSG_RESULT, job->id, &o));
    free(out);
    free(err);
}

static void job_free(rjob_t *job)
{
    runner_t *r = job->r;

    for (rjob_t **pp = &r->jobs; *pp; pp = &(*pp)->next)
        if (*pp == job) {
            *pp = job->next;
            break;
        }
    r->active--;
    if (job->slot >= 0)
        r->slot_used[job->slot] = false;
    runner_step_reset(&job->p);
    cJSON_Delete(job->out_files);
    cJSON_Delete(job->out_omitted);
    cJSON_Delete(job->root);
    free(job);
}

static void complete_job(rjob_t *job)
{
    runner_t *r = job->r;

    if (job->rm_rc != 0)
        runner_log(r, "warn", "work dir %s not fully removed: %s", job->dirpath,
                   strerror(-job->rm_rc));
    if (job->out_rc != 0)
        runner_log(r, "warn", "job %s: cannot read %s/: %s", job->id, CG_OUT_DIR,
                   strerror(-job->out_rc));
    runner_send(job, cg_encode_done_files(job->id, job->runs_done, job->budget_exceeded,
                                          job->out_files, job->out_omitted));
    job->out_files = job->out_omitted = NULL; /* taken over */
    r->cfg.ended(job->conn, job);
    job_free(job);
}

static void rm_work(uv_work_t *w)
{
    rjob_t *job = w->data;
    cg_out_limits_t lim = job->msg.exec.out;

    /* What the program left in out/ is read first, then everything goes. The files' total
     * shares one budget with the stdout and stderr the job's steps returned. */
    lim.max_bytes = job->answer_bytes >= lim.max_bytes ? 0 : lim.max_bytes - job->answer_bytes;
    job->out_rc =
        outfiles_collect(job->area, job->dirname, &lim, &job->out_files, &job->out_omitted);
    job->rm_rc = workdir_remove(job->area, job->dirname);
}

static void rm_done(uv_work_t *w, int status)
{
    (void)status; /* never cancelled: we do not call uv_cancel */
    complete_job(w->data);
}

static void finish_job(rjob_t *job)
{
    if (job->dir_made) {
        job->rm_req.data = job;
        if (uv_queue_work(job->r->cfg.loop, &job->rm_req, rm_work, rm_done) == 0)
            return;
        rm_work(&job->rm_req);
    }
    complete_job(job);
}

int runner_compile_argv(rjob_t *job, const char **argv, char *buf, size_t len)
{
    const runner_cfg_t *c = &job->r->cfg;
    const cg_execute_t *ex = &job->msg.exec;
    const char *opts[LANG_MAX_OPTIONS + CXXFAST_MAX_EXTRA + 1], *src[CG_MAX_FILES + 1];
    int nsrc = profile_sources(c->profile, ex->files, ex->nfiles, src, CG_MAX_FILES + 1);

    if (nsrc < 0)
        return -1;
    cxxfast_options(c->fast, c->profile->compile, ex->options, ex->code, ex->code_len, job->no_pch,
                    opts, &job->pch_used);
    return profile_expand_sources(c->profile->compile, c->profile->file, job->progdir,
                                  ex->memory_mb, opts, src, nsrc, argv, buf, len);
}

/* C++: a program compiled before from the same source, compiler and flags is taken from the
 * cache instead of being compiled again; the COMPILE frame then says so with durationMs 0. */
static bool cache_hit(rjob_t *job)
{
    const runner_cfg_t *c = &job->r->cfg;
    const cg_execute_t *ex = &job->msg.exec;
    const char *argv[PROFILE_MAX_ARGV];
    char buf[1024];
    uid_t uid = c->uid_base + (uid_t)job->slot;
    cg_outcome_t o;

    /* The key covers every given file (headers too), not only the sources compiled. */
    if (!c->ccache || !c->profile->binary || runner_compile_argv(job, argv, buf, sizeof buf) < 0 ||
        ccache_key_files(c->lang_version ? c->lang_version : "", argv, ex->code, ex->code_len,
                         ex->files, ex->nfiles, job->cache_key) != 0)
        return false;
    if (ccache_fetch(c->ccache, job->cache_key, job->dirpath, c->profile->binary, uid, uid,
                     c->drop_uid && !c->userns) != 0)
        return false;
    job->cache_key[0] = '\0'; /* nothing to store afterwards */
    memset(&o, 0, sizeof o);
    o.run = -1;
    o.status = CG_ST_OK;
    o.cached = true;
    o.out = "";
    o.err = "";
    runner_send(job, cg_encode_outcome(CG_MSG_COMPILE, job->id, &o));
    return true;
}

/* The compile ran and the compiler said no (not a timeout, a kill or a failure to start). */
static bool compile_error(const rjob_t *job)
{
    runreq_report_t st;

    return runreq_report_decode(job->p.status.data, job->p.status.len, &st) == 0 && !st.error[0] &&
           st.exit_code > 0 && !st.timed_out && !st.killed;
}

/* A step failed for its slot's sake: the first time the slot is reset and the step runs again;
 * the second time the slot goes out of service (the step reports the failure). Returns true
 * when the step was started again. */
static bool slot_recover(rjob_t *job)
{
    runner_t *r = job->r;

    if (!job->slot_retried) {
        runreq_report_t st;
        job->slot_retried = true;
        if (runreq_report_decode(job->p.status.data, job->p.status.len, &st) != 0)
            st.error[0] = '\0';
        runner_log(r, "warn", "slot %d could not be prepared (%s): resetting it", job->slot,
                   st.error);
        keeper_reset(&r->keepers[job->slot]);
        runner_step_start(job);
        return true;
    }
    if (!r->slot_down[job->slot]) {
        r->slot_down[job->slot] = true;
        r->slots_down++;
        runner_log(r, "error",
                   "slot %d taken out of service: it could not be prepared even "
                   "after a reset; %d of %d slots remain",
                   job->slot, r->cfg.slots - r->slots_down, r->cfg.slots);
    }
    return false;
}

int runner_budget_wall_ms(int budget_ms, int64_t elapsed_ms, int timeout_ms)
{
    int64_t left = (int64_t)budget_ms - elapsed_ms;

    if (budget_ms <= 0 || left >= timeout_ms)
        return timeout_ms;
    return left >= RUNNER_BUDGET_MIN_MS ? (int)left : 0;
}

int runner_wait_credit_ms(int budget_ms, int64_t elapsed_ms, int wall_ms)
{
    int64_t credit = (int64_t)wall_ms * CG_WALL_CREDIT_PCT / 100;
    int64_t left = (int64_t)budget_ms - elapsed_ms - wall_ms;

    if (budget_ms > 0 && left < credit)
        credit = left > 0 ? left : 0;
    return (int)credit;
}

/* Before each run: the run's wall clock under the job's budget, counted from the job's start
 * (work dir, compile and the runs before). False when the budget is spent: the remaining runs
 * are not started (the gateway reports them as skipped) and DONE says why. */
static bool budget_allows(rjob_t *job)
{
    const cg_execute_t *ex = &job->msg.exec;
    int timeout = ex->runs[job->step].timeout_ms;

    job->run_wall_ms = runner_budget_wall_ms(ex->budget_ms, cg_now_ms() - job->t_start, timeout);
    job->budget_capped = job->run_wall_ms < timeout;
    if (job->run_wall_ms == 0)
        job->budget_exceeded = true;
    return job->run_wall_ms > 0;
}

/* Called when the current step's handles are all closed (or to start the first step). */
void runner_next_step(rjob_t *job)
{
    const cg_execute_t *ex = &job->msg.exec;

    if (job->p.spawned && !job->cancelled &&
        verdict_slot_failed(job->p.status.data, job->p.status.len) && slot_recover(job))
        return;
    if (job->step < 0 && job->p.spawned && !job->cancelled && job->pch_used && !job->no_pch &&
        compile_error(job)) {
        /* The precompiled header shows the program more than it included: compile as given,
         * so that the verdict and the diagnostics are those of a plain compile (cxxfast.h). */
        job->no_pch = true;
        /* cache_key stays that of the command with the header: this source and these options
         * always end here, so the plain compile's program is what a later request should get. */
        runner_step_start(job);
        return;
    }
    if (job->p.spawned || job->p.err.len) {
        /* A step just ended (one killed by runner_abort is reported too). */
        if (!job->cancelled || job->abort_killed) {
            report_step(job);
            if (job->step >= 0)
                job->runs_done++; /* runs reported; a cancelled run is not */
        }
        job->step++;
    }
    if (job->cancelled || job->compile_failed || job->step >= ex->nruns) {
        finish_job(job);
        return;
    }
    if (job->step < 0 && cache_hit(job)) {
        job->step = 0;
        step_next_fresh(job);
        return;
    }
    if (job->step >= 0 && !budget_allows(job)) {
        finish_job(job);
        return;
    }
    runner_step_start(job);
}

/* ---- API ---- */

static void keeper_exited(keeper_t *k, int64_t status, int sig)
{
    runner_t *r = k->data;

    if (!r->stopping)
        runner_log(r, "warn", "the launcher of slot %d ended (status %lld, signal %d)", k->slot,
                   (long long)status, sig);
}

runner_t *runner_new(const runner_cfg_t *cfg)
{
    runner_t *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    r->cfg = *cfg;
    r->slot_used = calloc((size_t)cfg->slots, sizeof *r->slot_used);
    r->slot_down = calloc((size_t)cfg->slots, sizeof *r->slot_down);
    r->keepers = calloc((size_t)cfg->slots, sizeof *r->keepers);
    if (!r->slot_used || !r->slot_down || !r->keepers) {
        free(r->slot_used);
        free(r->slot_down);
        free(r->keepers);
        free(r);
        return NULL;
    }
    for (int i = 0; i < cfg->slots; i++) {
        keeper_t *k = &r->keepers[i];
        bool box = cfg->drop_uid;
        k->loop = cfg->loop;
        k->launcher = cfg->launcher;
        k->slot = i;
        k->ns = box && cfg->ns ? &cfg->ns[i] : NULL;
        k->cg = box && cfg->cg && cfg->cg[i].dir[0] ? &cfg->cg[i] : NULL;
        k->exited = keeper_exited;
        k->data = r;
        k->ctl = -1;
        int rc = keeper_start(k); /* ready before the first run; retried per run if not */
        if (rc != 0)
            runner_log(r, "warn", "cannot start the launcher of slot %d: %s", i, uv_strerror(rc));
    }
    return r;
}

void runner_free(runner_t *r)
{
    if (!r)
        return;
    r->stopping = true;
    for (int i = 0; i < r->cfg.slots; i++)
        keeper_close(&r->keepers[i]);
    free(r->keepers);
    free(r->slot_used);
    free(r->slot_down);
    free(r);
}

int runner_slots_down(const runner_t *r)
{
    return r->slots_down;
}

int runner_start_job(runner_t *r, cJSON *root, const cg_msg_t *msg, void *conn, rjob_t **out)
{
    const runner_cfg_t *c = &r->cfg;
    rjob_t *job;
    int slot = -1, rc;
    uid_t uid;

    for (int i = 0; i < c->slots; i++)
        if (!r->slot_used[i] && !r->slot_down[i]) {
            slot = i;
            break;
        }
    if (slot < 0) {
        cJSON_Delete(root);
        return -EBUSY;
    }
    job = calloc(1, sizeof *job);
    if (!job) {
        cJSON_Delete(root);
        return -ENOMEM;
    }
    job->r = r;
    job->conn = conn;
    job->root = root;
    job->msg = *msg;
    job->msg.exec.args = job->msg.argv; /* re-point into our copy */
    job->msg.exec.files = job->msg.filev;
    job->msg.exec.options = job->msg.optv;
    job->slot = slot;
    job->t_start = cg_now_ms();
    snprintf(job->id, sizeof job->id, "%s", msg->id);
    snprintf(job->dirname, sizeof job->dirname, "%d-%s", slot, job->id);
    job->area = c->areas ? c->areas[slot] : c->work_root;
    snprintf(job->dirpath, sizeof job->dirpath, "%s/%s", job->area, job->dirname);
    if (c->box)
        snprintf(job->progdir, sizeof job->progdir, "%s/%s", c->box, job->dirname);
    else
        snprintf(job->progdir, sizeof job->progdir, "%s", job->dirpath);
    r->slot_used[slot] = true;
    r->active++;
    job->next = r->jobs;
    r->jobs = job;
    uid = c->uid_base + (uid_t)slot;
    /* A crashed executor may have left a dir of the same name: it goes first. */
    workdir_remove(job->area, job->dirname);
    rc = workdir_create(job->area, job->dirname, uid, uid, c->drop_uid && !c->userns);
    if (rc == 0) {
        job->dir_made = true;
        rc = workdir_write_file(job->area, job->dirname, c->profile->file, msg->exec.code,
                                msg->exec.code_len, uid, uid, c->drop_uid && !c->userns);
    }
    if (rc == 0 && c->profile->preload)
        rc = workdir_write_file(job->area, job->dirname, c->profile->preload_file,
                                c->profile->preload, strlen(c->profile->preload), uid, uid,
                                c->drop_uid && !c->userns);
    if (rc == 0)
        rc = homeseed_write(c->profile, job->area, job->dirname, uid, uid,
                            c->drop_uid && !c->userns);
    if (rc == 0) {
        int bad;
        rc = workdir_write_files(job->area, job->dirname, c->profile, msg->exec.files,
                                 msg->exec.nfiles, uid, uid, c->drop_uid && !c->userns, &bad);
        if (rc != 0)
            runner_log(r, "warn", "job %s: cannot write %s: %s", job->id,
                       bad >= 0 ? msg->exec.files[bad].name : CG_OUT_DIR "/", strerror(-rc));
    }
    if (rc != 0) {
        /* The dir goes at once: nothing ran in it. */
        if (job->dir_made)
            workdir_remove(job->area, job->dirname);
        job->conn = NULL;
        job_free(job);
        return rc;
    }
    job->step = c->profile->compile ? -1 : 0;
    *out = job;
    runner_next_step(job);
    return 0;
}

void runner_cancel(rjob_t *job)
{
    job->cancelled = true;
    runner_step_stop(job);
}

void runner_detach(rjob_t *job)
{
    job->conn = NULL;
    runner_cancel(job);
}

static void step_next_fresh(rjob_t *job)
{
    if (job->cancelled || job->step >= job->msg.exec.nruns || !budget_allows(job)) {
        finish_job(job);
        return;
    }
    runner_step_start(job);
}

const char *runner_job_id(const rjob_t *job)
{
    return job->id;
}

void *runner_owner(const rjob_t *job)
{
    return job->r->cfg.owner;
}

void runner_job_summary(const rjob_t *job, runner_summary_t *out)
{
    out->id = job->id;
    out->slot = job->slot;
    out->runs_done = job->runs_done;
    out->nruns = job->msg.exec.nruns;
    out->cancelled = job->cancelled;
    out->compile_failed = job->compile_failed;
    out->elapsed_ms = cg_now_ms() - job->t_start;
}

int runner_active(const runner_t *r)
{
    return r->active;
}

void runner_cancel_all(runner_t *r)
{
    for (rjob_t *j = r->jobs; j; j = j->next)
        runner_cancel(j);
}

void runner_abort(rjob_t *job, const char *why)
{
    if (job->cancelled)
        return; /* cancelled before: its run is not reported either way */
    job->abort_killed = job->p.spawned && !job->p.exited && !job->p.term_sent;
    job->abort_msg = why;
    runner_cancel(job);
}

void runner_abort_all(runner_t *r, const char *why)
{
    for (rjob_t *j = r->jobs; j; j = j->next)
        runner_abort(j, why);
}
