/*
 * runner_step.c - one step (the compile or a run) of a job as a process: its request to the
 * slot's launcher, the pipes and the backup timer, reading and capping its output (streamed
 * to the connection for sessions), writing its stdin (see runner_int.h; the theory of
 * operation is in runner.c).
 */
#include "runner_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_util.h"
#include "pty.h"
#include "runreq.h"
#include "utf8.h"

/* ---- process handles ---- */

static void on_handle_closed(uv_handle_t *h)
{
    rjob_t *job = h->data;

    if (--job->p.open == 0) {
        runner_next_step(job);
        return;
    }
    /* The launcher exited and every pipe reached EOF: no need to wait for the drain timer. */
    if (job->p.exited && job->p.open == 1 && !uv_is_closing((uv_handle_t *)&job->p.timer))
        uv_close((uv_handle_t *)&job->p.timer, on_handle_closed);
}

static void close_handle(rjob_t *job, uv_handle_t *h)
{
    (void)job; /* h->data is the job; the parameter documents whose handle it is */
    if (h->data && !uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

static void close_pipes(rjob_t *job)
{
    close_handle(job, (uv_handle_t *)&job->p.pin);
    close_handle(job, (uv_handle_t *)&job->p.pout);
    close_handle(job, (uv_handle_t *)&job->p.perr);
    close_handle(job, (uv_handle_t *)&job->p.pstat);
}

/* The pid of the slot's launcher, or 0. */
static pid_t launcher_pid(const rjob_t *job)
{
    return keeper_pid(&job->r->keepers[job->slot]);
}

void runner_step_stop(rjob_t *job)
{
    pid_t pid = launcher_pid(job);

    if (job->p.spawned && !job->p.exited && !job->p.term_sent && pid > 0) {
        /* A stop request names its run: one that comes late never stops the next. */
        union sigval v = {.sival_int = (int)job->p.seq};
        job->p.term_sent = true;
        (void)sigqueue(pid, SIGRTMIN, v);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char chunk[65536];
    /* One loop thread, and every read callback consumes its data before the next read. */
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void stream_out(rjob_t *job, bool is_err, const char *data, size_t n)
{
    cg_utf8_state_t *st = is_err ? &job->p.u_err : &job->p.u_out;
    char *tmp = malloc(CG_UTF8_MAX_OUT(n));

    if (!tmp)
        return;
    size_t len = cg_utf8_sanitize(st, (const unsigned char *)data, n, tmp, false);
    if (len > 0)
        runner_send(job, cg_encode_data(is_err ? CG_MSG_STDERR : CG_MSG_STDOUT, job->id,
                                        job->step < 0 ? 0 : job->step, tmp, len));
    free(tmp);
}

static void run_ended(rjob_t *job);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    rjob_t *job = s->data;
    rproc_t *p = &job->p;

    if (n < 0) {
        if (s == (uv_stream_t *)&p->pstat)
            run_ended(job); /* the launcher closes the status pipe once the run is over */
        close_handle(job, (uv_handle_t *)s);
        return;
    }
    if (n == 0)
        return;
    if (s == (uv_stream_t *)&p->pstat) {
        if (p->status.len + (size_t)n <= RUNREQ_REPORT_MAX)
            cg_buf_append(&p->status, buf->base, (size_t)n);
        return;
    }
    bool is_err = s == (uv_stream_t *)&p->perr;
    size_t keep = (size_t)n;
    if (p->total + keep > p->limit) {
        keep = p->limit > p->total ? p->limit - p->total : 0;
        p->truncated = true;
        runner_step_stop(job);
    }
    p->total += keep;
    if (keep == 0)
        return;
    if (job->msg.exec.stream && job->step >= 0) {
        stream_out(job, is_err, buf->base, keep);
        if (job->conn && job->r->cfg.queued && job->r->cfg.queued(job->conn) > RUNNER_QUEUE_HIGH &&
            !p->paused && !p->exited) {
            p->paused = true;
            uv_read_stop((uv_stream_t *)&p->pout);
            uv_read_stop((uv_stream_t *)&p->perr);
        }
    } else
        cg_buf_append(is_err ? &p->err : &p->out, buf->base, keep);
}

static void on_written(uv_write_t *req, int status)
{
    rjob_t *job = req->data;

    (void)status; /* EPIPE / ECANCELED: the program did not read it all; that is its choice */
    if (!job->msg.exec.interactive)
        close_handle(job, (uv_handle_t *)&job->p.pin);
}

static void on_timer(uv_timer_t *t)
{
    rjob_t *job = t->data;

    if (!job->p.exited) {
        /* The launcher did not end the run in time: it is hung. Killing it closes its end of
         * the status pipe (the run ends as a time-out) and the next run gets a new one. */
        pid_t pid = launcher_pid(job);
        job->p.backup_fired = true;
        if (pid > 0)
            kill(pid, SIGKILL);
        else
            run_ended(job);
    } else {
        close_pipes(job); /* something still holds a pipe after the exit */
        close_handle(job, (uv_handle_t *)t);
    }
}

static void run_ended(rjob_t *job)
{
    if (job->p.exited)
        return;
    job->p.exited = true;
    /* Every writer is gone: what is left in the pipes is bounded, read it despite backpressure
     * (else the drain timer would drop it). */
    runner_resume(job);
    uv_timer_stop(&job->p.timer);
    uv_timer_start(&job->p.timer, on_timer, RUN_DRAIN_MS, 0);
}

/* ---- starting a step ---- */

int runner_fallback_as_mb(int memory_mb, int as_extra_mb)
{
    return memory_mb + as_extra_mb + RUNNER_AS_THREADS * RUNNER_STACK_MB + RUNNER_AS_ARENA_MB;
}

/* A step's request to the launcher and the strings it points to (besides the job's own). */
typedef struct {
    runreq_t rq;
    char home[PATH_MAX + 8];
    char tmpdir[PATH_MAX + 8];
    char prog[PATH_MAX + 1024]; /* the profile's command, expanded */
} stepreq_t;

/* Fills the request of the current step. 0, or -1 when it does not fit. */
static int build_request(rjob_t *job, stepreq_t *sr, int wall_ms, bool compile)
{
    const runner_cfg_t *c = &job->r->cfg;
    const cg_execute_t *ex = &job->msg.exec;
    const profile_t *pf = c->profile;
    runreq_t *rq = &sr->rq;
    const char *prog[PROFILE_MAX_ARGV];
    bool has_cgroup = c->drop_uid && c->cg && c->cg[job->slot].dir[0];
    int k;

    runreq_init(rq);
    rq->seq = job->p.seq;
    if (c->drop_uid) {
        rq->ids = true;
        rq->uid = rq->gid =
            c->userns ? RUNNER_USERNS_UID : (uint32_t)(c->uid_base + (uid_t)job->slot);
        rq->own_userns = c->userns;
        /* The slot's launcher lives in the slot's cgroups (keeper_start): the limit only. */
        if (has_cgroup)
            rq->cgroup_mb =
                compile ? RUNNER_COMPILE_CGROUP_MB : ex->memory_mb + RUNNER_CGROUP_EXTRA_MB;
    }
    rq->cwd = job->progdir;
    rq->zygote = !compile && pf->zygote; /* the launcher decides whether it can (runreq.h) */
    rq->wall_ms = wall_ms;
    rq->wait_credit_ms = runner_wait_credit_ms(ex->budget_ms, cg_now_ms() - job->t_start, wall_ms);
    rq->cpu_ms = ex->interactive && !compile && wall_ms > RUNNER_INTERACTIVE_CPU_MS
                     ? RUNNER_INTERACTIVE_CPU_MS
                     : wall_ms + 1000;
    rq->fsize_mb = 64;
    rq->nofile = RUNNER_NOFILE;
    rq->nproc = compile ? 128 : 64;
    rq->stack_mb = RUNNER_STACK_MB;
    /* Memory is what the run really uses, capped by its slot's memory cgroup. Where there is
     * none (the unprivileged runtime), every process's writable memory is capped on its own -
     * Node's Buffers too, which no address-space limit could cover - and its address space
     * (threads and runtimes reserve far more of it than they use). */
    if (!compile && !has_cgroup)
        rq->data_mb = runner_fallback_as_mb(ex->memory_mb, 0);
    if (!compile && !has_cgroup && pf->as_extra_mb >= 0)
        rq->as_mb = runner_fallback_as_mb(ex->memory_mb, pf->as_extra_mb);
    snprintf(sr->home, sizeof sr->home, "HOME=%s", job->progdir);
    snprintf(sr->tmpdir, sizeof sr->tmpdir, "TMPDIR=%s", job->progdir);
    rq->env[rq->nenv++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    rq->env[rq->nenv++] = sr->home;
    rq->env[rq->nenv++] = sr->tmpdir;
    rq->env[rq->nenv++] = "LANG=C.UTF-8";
    if (!compile && !has_cgroup && pf->as_extra_mb >= 0)
        rq->env[rq->nenv++] = RUNNER_AS_ARENA_ENV;
    for (int i = 0; !compile && pf->env[i]; i++) {
        if (rq->nenv == RUNREQ_MAX_ENV)
            return -1;
        rq->env[rq->nenv++] = pf->env[i];
    }
    if (compile)
        k = runner_compile_argv(job, prog, sr->prog, sizeof sr->prog);
    else
        k = profile_expand_run(pf->run, pf->file, job->progdir, ex->memory_mb, has_cgroup,
                               ex->options, prog, sr->prog, sizeof sr->prog);
    if (k < 0 || k + (compile ? 0 : ex->nargs) > RUNREQ_MAX_ARGV)
        return -1;
    for (int i = 0; i < k; i++)
        rq->argv[rq->nargv++] = prog[i];
    for (int i = 0; !compile && i < ex->nargs; i++)
        rq->argv[rq->nargv++] = ex->args[i];
    return 0;
}

static int pipe_init(rjob_t *job, uv_pipe_t *p)
{
    int rc = uv_pipe_init(job->r->cfg.loop, p, 0);

    if (rc == 0) {
        p->data = job;
        job->p.open++;
    }
    return rc;
}

void runner_step_reset(rproc_t *p)
{
    cg_buf_free(&p->out);
    cg_buf_free(&p->err);
    cg_buf_free(&p->status);
    if (p->pty_slave > 0)
        close(p->pty_slave);
    memset(p, 0, sizeof *p);
    p->pty_slave = -1;
}

/*
 * A pipe for one of the program's standard streams (or the status channel). fds[0] is our
 * end (the read end, or the write end when we_write: stdin), fds[1] the program's. 0 or -errno.
 *
 * A pipe, not a socket pair: the program's end is its own open file, so the O_NONBLOCK that
 * libuv sets on ours never reaches it, and a program that writes faster than we read blocks
 * in write() once the pipe is full (64 KiB) - C, C++ and Python as they are, Node through the
 * profile's preload (profiles.c). Output then cannot pile up anywhere but in the pipe, and the
 * output cap (on_read) stops the program as the bytes arrive. A socket pair also carries less:
 * each small write costs a whole buffer's worth of accounting (~9 KiB of console.log lines
 * filled it, where a pipe holds 64 KiB).
 */
static int channel(uv_pipe_t *p, int fds[2], bool we_write)
{
    int pfd[2], rc;

    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -errno;
    fds[0] = we_write ? pfd[1] : pfd[0];
    fds[1] = we_write ? pfd[0] : pfd[1];
    rc = uv_pipe_open(p, fds[0]);
    if (rc != 0) {
        close(fds[0]);
        close(fds[1]);
        fds[0] = fds[1] = -1;
        return rc;
    }
    return 0;
}

void runner_step_start(rjob_t *job)
{
    runner_t *r = job->r;
    const cg_execute_t *ex = &job->msg.exec;
    bool compile = job->step < 0;
    int wall = compile ? r->cfg.compile_timeout_ms : job->run_wall_ms;
    stepreq_t sr;
    unsigned char *msg = NULL;
    long msglen = -1;
    int ch[4][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}}; /* in, out, err, status */
    int child[4];
    rproc_t *p = &job->p;
    int rc;

    runner_step_reset(p);
    p->seq = ++r->seq;
    p->limit = compile ? COMPILE_OUTPUT_LIMIT : ex->output_limit;
    p->t0 = cg_now_ms();
    rc = uv_timer_init(r->cfg.loop, &p->timer);
    if (rc == 0) {
        p->timer.data = job;
        p->open++;
    }
    if (rc || pipe_init(job, &p->pin) || pipe_init(job, &p->pout) || pipe_init(job, &p->perr) ||
        pipe_init(job, &p->pstat) || build_request(job, &sr, wall, compile) != 0 ||
        (msglen = runreq_encode(&sr.rq, NULL, 0)) < 0) {
        cg_buf_append(&p->err, "executor: cannot prepare the run", 32);
        goto fail;
    }
    if (!(msg = malloc((size_t)msglen)) || runreq_encode(&sr.rq, msg, (size_t)msglen) != msglen) {
        cg_buf_append(&p->err, "executor: out of memory", 23);
        goto fail;
    }
    if (ex->interactive && !compile && r->cfg.profile->pty != PROFILE_PTY_NONE) {
        int master = pty_open(&p->pty_slave);
        uv_pipe_t *mp = r->cfg.profile->pty == PROFILE_PTY_INOUT ? &p->pout : &p->pin;
        if (master >= 0 && uv_pipe_open(mp, master) == 0) {
            p->pty = true;
            ch[0][1] = p->pty_slave; /* stdin is the pty */
            if (mp == &p->pout)
                ch[1][1] = p->pty_slave; /* and stdout */
        } else if (master >= 0) {
            close(master);
        }
    }
    if ((ch[0][1] < 0 && channel(&p->pin, ch[0], true) != 0) ||
        (ch[1][1] < 0 && channel(&p->pout, ch[1], false) != 0) ||
        channel(&p->perr, ch[2], false) != 0 || channel(&p->pstat, ch[3], false) != 0) {
        cg_buf_append(&p->err, "executor: cannot make the run's pipes", 37);
        goto fail_fds;
    }
    for (int i = 0; i < 4; i++)
        child[i] = ch[i][1];
    rc = keeper_send(&r->keepers[job->slot], msg, (size_t)msglen, child);
    free(msg);
    msg = NULL;
    if (rc != 0) {
        char m[160];
        int k = snprintf(m, sizeof m, "executor: cannot reach the sandbox launcher %s: %s",
                         r->cfg.launcher, strerror(-rc));
        cg_buf_append(&p->err, m, (size_t)k);
        goto fail_fds;
    }
    /* The launcher has them now: EOF comes when its copies and the program's are closed. */
    for (int i = 0; i < 4; i++)
        if (ch[i][1] >= 0 && ch[i][1] != p->pty_slave)
            close(ch[i][1]);
    if (p->pty_slave >= 0) {
        close(p->pty_slave);
        p->pty_slave = -1;
    }
    p->spawned = true;
    uv_read_start((uv_stream_t *)&p->pout, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&p->perr, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&p->pstat, on_alloc, on_read);
    /* The launcher may extend the wall limit by the time the program waited for a CPU. */
    uv_timer_start(&p->timer, on_timer,
                   (uint64_t)wall + (uint64_t)sr.rq.wait_credit_ms + RUN_BACKUP_MS, 0);
    const cg_run_spec_t *rs = compile ? NULL : &ex->runs[job->step];
    if (rs && rs->input_len > 0) {
        uv_buf_t b = uv_buf_init((char *)rs->input, (unsigned)rs->input_len);
        p->wreq.data = job;
        if (uv_write(&p->wreq, (uv_stream_t *)&p->pin, &b, 1, on_written) != 0)
            close_handle(job, (uv_handle_t *)&p->pin);
    } else if (!ex->interactive || compile) {
        close_handle(job, (uv_handle_t *)&p->pin);
    } else if (p->pty && r->cfg.profile->pty == PROFILE_PTY_INOUT) {
        close_handle(job, (uv_handle_t *)&p->pin); /* stdin is the pty master (pout) */
    }
    return;
fail_fds:
    for (int i = 0; i < 4; i++)
        if (ch[i][1] >= 0 && ch[i][1] != p->pty_slave)
            close(ch[i][1]);
fail:
    free(msg);
    close_pipes(job);
    close_handle(job, (uv_handle_t *)&p->timer);
}

typedef struct {
    uv_write_t req;
    char data[];
} stdin_write_t;

static void on_stdin_written(uv_write_t *req, int status)
{
    (void)status; /* the program may have stopped reading: its choice */
    free(req);
}

void runner_stdin(rjob_t *job, const char *data)
{
    size_t n = strlen(data);
    stdin_write_t *w;
    uv_stream_t *in =
        (uv_stream_t *)(job->p.pty && job->r->cfg.profile->pty == PROFILE_PTY_INOUT ? &job->p.pout
                                                                                    : &job->p.pin);

    if (!job->msg.exec.interactive || !job->p.spawned || job->p.exited || n == 0 ||
        uv_is_closing((uv_handle_t *)in))
        return;
    w = malloc(sizeof *w + n);
    if (!w)
        return;
    memcpy(w->data, data, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, in, &b, 1, on_stdin_written) != 0)
        free(w);
    else
        job->p.line_open = data[n - 1] != '\n';
}

static void on_stdin_shut(uv_shutdown_t *req, int status)
{
    rjob_t *job = req->data;

    (void)status;
    close_handle(job, (uv_handle_t *)&job->p.pin);
    free(req);
}

void runner_close_stdin(rjob_t *job)
{
    uv_shutdown_t *req;

    if (job->p.pty) {
        /* ^D ends a pending partial line first; at the start of a line it is EOF. */
        runner_stdin(job, job->p.line_open ? "\x04\x04" : "\x04");
        job->p.line_open = false;
        return;
    }
    if (!job->p.spawned || job->p.exited || uv_is_closing((uv_handle_t *)&job->p.pin))
        return;
    req = malloc(sizeof *req);
    if (!req)
        return;
    req->data = job;
    /* After the writes already queued: the program reads them, then EOF. */
    if (uv_shutdown(req, (uv_stream_t *)&job->p.pin, on_stdin_shut) != 0) {
        free(req);
        close_handle(job, (uv_handle_t *)&job->p.pin);
    }
}

void runner_resume(rjob_t *job)
{
    rproc_t *p = &job->p;

    if (!p->paused)
        return;
    p->paused = false;
    if (!uv_is_closing((uv_handle_t *)&p->pout))
        uv_read_start((uv_stream_t *)&p->pout, on_alloc, on_read);
    if (!uv_is_closing((uv_handle_t *)&p->perr))
        uv_read_start((uv_stream_t *)&p->perr, on_alloc, on_read);
}
