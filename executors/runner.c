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
 * arrives in STDOUT/STDERR frames for streamed jobs. After the last step, the work dir is
 * removed (never following user symlinks) on libuv's thread pool, since a program can leave a
 * large tree; then DONE is sent, the slot is freed and the ended callback runs.
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cg_util.h"
#include "runreq.h"
#include "utf8.h"
#include "workdir.h"

/* The launcher enforces the wall clock itself; this is only the backstop for a hung launcher. */
#define RUN_BACKUP_MS 2000
/* After the launcher's exit every process of the run is dead, so the pipes hold at most what
 * is buffered in them and EOF comes at once; only a holder we could not kill (no slot uid)
 * keeps one open. Generous enough for a loaded machine, short enough not to matter. */
#define RUN_DRAIN_MS 500
#define COMPILE_OUTPUT_LIMIT (256u * 1024u)

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

typedef struct {
    uv_pipe_t pin, pout, perr, pstat;
    uv_timer_t timer;
    uv_write_t wreq;
    int open; /* handles not yet closed */
    bool exited;
    bool spawned;
    bool term_sent;
    bool backup_fired;
    bool truncated;
    bool paused;    /* output reading stopped for backpressure */
    int pty_slave;  /* interactive runs with a pty (profile->pty): its slave side */
    bool pty;       /* stdin is a pty: EOF is ^D; the master is pout (INOUT) or pin (IN) */
    bool line_open; /* the last stdin written did not end with a newline */
    size_t limit;   /* stdout+stderr cap */
    size_t total;
    buf_t out, err, status;
    cg_utf8_state_t u_out, u_err;
    int64_t t0;
    long seq; /* the run's number at its slot's launcher (stop requests name it) */
} rproc_t;

/*
 * One long-lived launcher per slot ("launcher --serve", see launcher.c): it lives in the slot's
 * namespaces and takes the slot's runs one at a time over a SOCK_SEQPACKET socket, so that a
 * run costs the program's own process and nothing else of ours. Started with the runner,
 * started again when one dies (a run it was serving ends as a failure of the launcher).
 */
typedef struct {
    uv_process_t *proc; /* NULL when none runs; freed when its handle has closed */
    int ctl;            /* our end of the control socket, -1 when none */
} keeper_t;

struct rjob {
    runner_t *r;
    void *conn; /* NULL once detached */
    cJSON *root;
    cg_msg_t msg; /* msg.exec points into root */
    char id[CG_ID_MAX + 1];
    int slot;
    char dirname[CG_ID_MAX + 32];
    const char *area;       /* the slot's work area (or the work root), our view */
    char dirpath[PATH_MAX]; /* root/dirname: the job's dir as we see it */
    char progdir[PATH_MAX]; /* the same dir as the program sees it (in its box: /box/...) */
    bool dir_made;
    int step;           /* -1 = compile, else run index */
    char cache_key[65]; /* compiled languages with a cache: the source's key */
    int runs_done;
    int run_wall_ms;      /* the current run's wall clock: its timeout, cut by the budget */
    bool budget_capped;   /* ... and the budget did cut it */
    bool budget_exceeded; /* runs cut short or not started because the budget was spent */
    bool cancelled;
    bool compile_failed;
    bool slot_retried; /* the step failed once for its slot's sake and ran again */
    int64_t t_start;
    rproc_t p;
    uv_work_t rm_req; /* work dir removal on the thread pool */
    int rm_rc;
    rjob_t *next;
};

struct runner {
    runner_cfg_t cfg;
    keeper_t *keepers; /* one per slot */
    long seq;
    bool stopping;
    bool *slot_used;
    bool *slot_down; /* out of service: its limits could not be applied even after a reset */
    int slots_down;
    rjob_t *jobs;
    int active;
};

static void step_next(rjob_t *job);
static void step_next_fresh(rjob_t *job);

/* ---- small helpers ---- */

static int buf_append(buf_t *b, const char *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
            return -ENOMEM;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static void buf_free(buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Sanitized copy of a whole buffer (malloc'ed), or NULL. */
static char *sanitized(const buf_t *b)
{
    char *s = malloc(CG_UTF8_MAX_OUT(b->len));

    if (s)
        cg_utf8_sanitize(NULL, (const unsigned char *)(b->data ? b->data : ""), b->len, s, true);
    return s;
}

static void send_frame(rjob_t *job, char *frame)
{
    if (!frame)
        return;
    if (job->conn)
        job->r->cfg.send(job->conn, frame);
    else
        free(frame);
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

/* ---- process handles ---- */

static void on_handle_closed(uv_handle_t *h)
{
    rjob_t *job = h->data;

    if (--job->p.open == 0) {
        step_next(job);
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
static pid_t keeper_pid(const rjob_t *job)
{
    const keeper_t *k = &job->r->keepers[job->slot];
    return k->proc ? k->proc->pid : 0;
}

static void stop_program(rjob_t *job)
{
    pid_t pid = keeper_pid(job);

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
        send_frame(job, cg_encode_data(is_err ? CG_MSG_STDERR : CG_MSG_STDOUT, job->id,
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
            buf_append(&p->status, buf->base, (size_t)n);
        return;
    }
    bool is_err = s == (uv_stream_t *)&p->perr;
    size_t keep = (size_t)n;
    if (p->total + keep > p->limit) {
        keep = p->limit > p->total ? p->limit - p->total : 0;
        p->truncated = true;
        stop_program(job);
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
        buf_append(is_err ? &p->err : &p->out, buf->base, keep);
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
        pid_t pid = keeper_pid(job);
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

/* ---- the slots' launchers ---- */

static void keeper_closed(uv_handle_t *h)
{
    free(h);
}

static void keeper_exit(uv_process_t *proc, int64_t status, int sig)
{
    runner_t *r = proc->data;

    for (int i = 0; r && i < r->cfg.slots; i++)
        if (r->keepers[i].proc == proc) {
            if (!r->stopping)
                runner_log(r, "warn", "the launcher of slot %d ended (status %lld, signal %d)", i,
                           (long long)status, sig);
            r->keepers[i].proc = NULL;
            if (r->keepers[i].ctl >= 0)
                close(r->keepers[i].ctl);
            r->keepers[i].ctl = -1;
        }
    uv_close((uv_handle_t *)proc, keeper_closed);
}

/* Starts the launcher of a slot. 0 or a negative libuv/errno code. */
static int keeper_start(runner_t *r, int slot)
{
    keeper_t *k = &r->keepers[slot];
    const runner_cfg_t *c = &r->cfg;
    uv_stdio_container_t stdio[7];
    uv_process_options_t opt;
    const char *argv[12];
    int sv[2], rc, n = 0;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    k->proc = calloc(1, sizeof *k->proc);
    if (!k->proc) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    argv[n++] = c->launcher;
    argv[n++] = "--serve";
    argv[n++] = "--control-fd";
    argv[n++] = "3";
    memset(&opt, 0, sizeof opt);
    memset(stdio, 0, sizeof stdio);
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD; /* its rare complaints go to our log */
    stdio[2].data.fd = 2;
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = sv[1];
    opt.stdio_count = 4;
    if (c->drop_uid && c->ns) {
        const int fds[3] = {c->ns[slot].net, c->ns[slot].ipc, c->ns[slot].mnt};
        for (int i = 0; i < 3; i++) {
            stdio[4 + i].flags = UV_INHERIT_FD;
            stdio[4 + i].data.fd = fds[i];
        }
        opt.stdio_count = 7;
        argv[n++] = "--ns-fds";
        argv[n++] = "4";
    }
    if (c->drop_uid && c->cg && c->cg[slot].dir[0]) {
        argv[n++] = "--cgroup";
        argv[n++] = c->cg[slot].dir;
        argv[n++] = "--pids-cgroup";
        argv[n++] = c->cg[slot].pids;
    }
    argv[n] = NULL;
    opt.file = c->launcher;
    opt.args = (char **)argv;
    opt.stdio = stdio;
    opt.exit_cb = keeper_exit;
    k->proc->data = r;
    rc = uv_spawn(c->loop, k->proc, &opt);
    close(sv[1]);
    if (rc != 0) {
        uv_close((uv_handle_t *)k->proc, keeper_closed);
        k->proc = NULL;
        close(sv[0]);
        return rc;
    }
    uv_unref((uv_handle_t *)k->proc); /* it waits for work; it keeps no loop alive */
    k->ctl = sv[0];
    return 0;
}

/* Hands a run to the slot's launcher: its encoded request (runreq.h) and the four descriptors of
 * the program's stdin, stdout, stderr and the status pipe. A request longer than
 * RUNREQ_INLINE_MAX (64 arguments of 4 KiB) travels in a memfd, as a fifth descriptor with a
 * one-byte message.
 * 0 or -errno. */
static int keeper_send(runner_t *r, int slot, const void *msg, size_t len, const int fds4[4])
{
    union {
        char b[CMSG_SPACE(5 * sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    int fds[5] = {fds4[0], fds4[1], fds4[2], fds4[3], -1}, nfd = 4;
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf.b,
                        .msg_controllen = CMSG_SPACE(4 * sizeof(int))};
    struct cmsghdr *cm;
    int rc = 0;

    if (len > RUNREQ_INLINE_MAX) {
        int mfd = memfd_create("codegate-run", MFD_CLOEXEC);
        if (mfd < 0)
            return -errno;
        if (cg_write_all(mfd, msg, len) != 0) {
            close(mfd);
            return -EIO;
        }
        fds[nfd++] = mfd;
        iov.iov_base = (void *)"";
        iov.iov_len = 1;
        mh.msg_controllen = CMSG_SPACE(5 * sizeof(int));
    }

    for (int attempt = 0; attempt < 2; attempt++) {
        keeper_t *k = &r->keepers[slot];
        if (k->ctl < 0 && (rc = keeper_start(r, slot)) != 0)
            return rc;
        memset(&cbuf, 0, sizeof cbuf);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, (size_t)nfd * sizeof(int));
        ssize_t n;
        do
            n = sendmsg(k->ctl, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)iov.iov_len) {
            if (nfd == 5)
                close(fds[4]);
            return 0;
        }
        rc = n < 0 ? -errno : -EIO;
        /* Its launcher is gone (it died between runs): start another and try once more. The
         * old handle closes itself in keeper_exit once the process is reaped. */
        close(k->ctl);
        k->ctl = -1;
        if (k->proc) {
            kill(k->proc->pid, SIGKILL);
            k->proc = NULL;
        }
    }
    if (nfd == 5)
        close(fds[4]);
    return rc;
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
    rq->wall_ms = wall_ms;
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
    k = profile_expand(compile ? pf->compile : pf->run, pf->file, job->progdir, ex->memory_mb, prog,
                       sr->prog, sizeof sr->prog);
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

static void reset_proc(rproc_t *p)
{
    buf_free(&p->out);
    buf_free(&p->err);
    buf_free(&p->status);
    if (p->pty_slave > 0)
        close(p->pty_slave);
    memset(p, 0, sizeof *p);
    p->pty_slave = -1;
}

/*
 * Interactive runs: the program's stdin and stdout are the slave side of a pseudo-terminal, so
 * that it behaves as at a terminal: C stdio line-buffers stdout and flushes it before reading
 * stdin, so a prompt printed without a newline (printf("n? "); scanf(...)) appears before the
 * program blocks. stderr stays a separate pipe. The line discipline is canonical (the program
 * reads whole lines, ^D at the start of a line is EOF) with echo, signals and output processing
 * off (no "\n" -> "\r\n", no ^C). We read and write the master side; the slave goes to the
 * launcher and is closed here after the spawn. Returns the master fd, or -1.
 */
static int open_pty(int *slave)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios t;
    char *name;

    if (m < 0)
        return -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || !(name = ptsname(m)))
        goto fail;
    *slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*slave < 0)
        goto fail;
    if (tcgetattr(*slave, &t) == 0) {
        t.c_oflag &= ~(tcflag_t)OPOST;
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ISIG | IEXTEN);
        t.c_lflag |= ICANON;
        t.c_cc[VEOF] = 4;
        t.c_cc[VERASE] = t.c_cc[VKILL] = t.c_cc[VWERASE] = t.c_cc[VREPRINT] = _POSIX_VDISABLE;
        t.c_cc[VLNEXT] = t.c_cc[VEOL] = t.c_cc[VEOL2] = _POSIX_VDISABLE;
        tcsetattr(*slave, TCSANOW, &t);
    }
    return m;
fail:
    close(m);
    return -1;
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

/* Starts the current step at the slot's launcher. On failure the step completes as
 * internal_error (through the normal close path). */
static void start_step(rjob_t *job)
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

    reset_proc(p);
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
        buf_append(&p->err, "executor: cannot prepare the run", 32);
        goto fail;
    }
    if (!(msg = malloc((size_t)msglen)) || runreq_encode(&sr.rq, msg, (size_t)msglen) != msglen) {
        buf_append(&p->err, "executor: out of memory", 23);
        goto fail;
    }
    if (ex->interactive && !compile && r->cfg.profile->pty != PROFILE_PTY_NONE) {
        int master = open_pty(&p->pty_slave);
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
        buf_append(&p->err, "executor: cannot make the run's pipes", 37);
        goto fail_fds;
    }
    for (int i = 0; i < 4; i++)
        child[i] = ch[i][1];
    rc = keeper_send(r, job->slot, msg, (size_t)msglen, child);
    free(msg);
    msg = NULL;
    if (rc != 0) {
        char m[160];
        int k = snprintf(m, sizeof m, "executor: cannot reach the sandbox launcher %s: %s",
                         r->cfg.launcher, strerror(-rc));
        buf_append(&p->err, m, (size_t)k);
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
    uv_timer_start(&p->timer, on_timer, (uint64_t)wall + RUN_BACKUP_MS, 0);
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

/* ---- finishing a step ---- */

static cg_status_t decide(rjob_t *job, const runreq_report_t *st, cg_outcome_t *o)
{
    const profile_t *pf = job->r->cfg.profile;
    rproc_t *p = &job->p;
    bool compile = job->step < 0;
    bool timed_out = st->timed_out;
    bool killed = st->killed;

    o->exit_code = st->exit_code;
    o->signal = st->signal;
    o->cpu_ms = st->cpu_ms;
    o->memory_kb = st->maxrss_kb;
    o->duration_ms = st->wall_ms;
    if (o->signal == SIGXCPU)
        timed_out = true;
    o->timed_out = timed_out;
    if (compile) {
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
    if (p->truncated)
        return CG_ST_OUTPUT_LIMIT;
    if (o->exit_code == 0 && o->signal == 0)
        return CG_ST_OK;
    if (profile_is_oom(pf, p->err.data))
        return CG_ST_MEMORY_LIMIT;
    if (o->signal == SIGKILL && !killed)
        return CG_ST_MEMORY_LIMIT; /* killed by nobody we know of: the cgroup OOM killer */
    return CG_ST_RUNTIME_ERROR;
}

/* Did a run step fail to start because of what the program itself did to its work dir in an
 * earlier test case? It may have made the dir unsearchable (chdir, as the slot uid, fails) or,
 * when it is a compiled program, removed or replaced its binary (the exec fails). */
static bool user_start_failure(const rjob_t *job, const char *stage, const char *error)
{
    if (job->step < 0 || !stage)
        return false;
    /* exec refused for the process limit (RLIMIT_NPROC, where no pids cgroup exists): the
     * run's own budget, spent by the run's own processes. */
    if (!strcmp(stage, "exec") && error && strstr(error, strerror(EAGAIN)))
        return true;
    return !strcmp(stage, "chdir") || (job->r->cfg.profile->binary && !strcmp(stage, "exec"));
}

static void report_step(rjob_t *job)
{
    rproc_t *p = &job->p;
    cg_outcome_t o;
    runreq_report_t st;
    bool reported = runreq_report_decode(p->status.data, p->status.len, &st) == 0;
    char *out = NULL, *err = NULL;

    memset(&o, 0, sizeof o);
    o.run = job->step;
    o.exit_code = -1;
    o.truncated = p->truncated;
    if (reported && !st.error[0]) {
        o.status = decide(job, &st, &o);
    } else {
        char stage[64];
        runreq_report_stage(&st, stage, sizeof stage);
        o.status = p->backup_fired ? CG_ST_TIMEOUT : CG_ST_INTERNAL_ERROR;
        o.timed_out = p->backup_fired;
        o.duration_ms = cg_now_ms() - p->t0;
        if (reported && user_start_failure(job, stage, st.error)) {
            /* The program's own doing (it removed or replaced its binary in an earlier test
             * case): a failed run of the program, not a fault of the service. */
            o.status = CG_ST_RUNTIME_ERROR;
            buf_free(&p->err);
            buf_append(&p->err, "cannot start the program: ", 26);
            buf_append(&p->err, st.error, strlen(st.error));
        } else if (reported) {
            buf_free(&p->err);
            buf_append(&p->err, st.error, strlen(st.error));
        } else if (!p->err.len && !p->backup_fired) {
            buf_append(&p->err, "executor: the sandbox launcher failed", 37);
        }
    }
    if (job->step >= 0 && job->budget_capped && o.timed_out)
        job->budget_exceeded = true; /* it ran out of the job's time, not of its own */
    if (job->step < 0) {
        job->compile_failed = o.status != CG_ST_OK;
        if (!job->compile_failed && job->cache_key[0])
            (void)ccache_store(job->r->cfg.ccache, job->cache_key, job->dirpath,
                               job->r->cfg.profile->binary);
    }
    out = sanitized(&p->out);
    err = sanitized(&p->err);
    o.out = out ? out : "";
    o.err = err ? err : "";
    if (job->msg.exec.stream && job->step >= 0) {
        /* Flush what the streaming decoders held back. */
        char tail[16];
        if (cg_utf8_sanitize(&p->u_out, NULL, 0, tail, true))
            send_frame(job, cg_encode_data(CG_MSG_STDOUT, job->id, job->step, tail, strlen(tail)));
        if (cg_utf8_sanitize(&p->u_err, NULL, 0, tail, true))
            send_frame(job, cg_encode_data(CG_MSG_STDERR, job->id, job->step, tail, strlen(tail)));
    }
    send_frame(job, cg_encode_outcome(job->step < 0 ? CG_MSG_COMPILE : CG_MSG_RESULT, job->id, &o));
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
    reset_proc(&job->p);
    cJSON_Delete(job->root);
    free(job);
}

static void complete_job(rjob_t *job)
{
    runner_t *r = job->r;

    if (job->rm_rc != 0)
        runner_log(r, "warn", "work dir %s not fully removed: %s", job->dirpath,
                   strerror(-job->rm_rc));
    send_frame(job, cg_encode_done(job->id, job->runs_done, job->budget_exceeded));
    r->cfg.ended(job->conn, job);
    job_free(job);
}

static void rm_work(uv_work_t *w)
{
    rjob_t *job = w->data;

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

/* C++: a program compiled before from the same source, compiler and flags is taken from the
 * cache instead of being compiled again; the COMPILE frame then says so with durationMs 0. */
static bool cache_hit(rjob_t *job)
{
    const runner_cfg_t *c = &job->r->cfg;
    const char *argv[PROFILE_MAX_ARGV];
    char buf[1024];
    uid_t uid = c->uid_base + (uid_t)job->slot;
    cg_outcome_t o;

    if (!c->ccache || !c->profile->binary ||
        profile_expand(c->profile->compile, c->profile->file, job->progdir, job->msg.exec.memory_mb,
                       argv, buf, sizeof buf) < 0)
        return false;
    ccache_key(c->lang_version ? c->lang_version : "", argv, job->msg.exec.code,
               job->msg.exec.code_len, job->cache_key);
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
    send_frame(job, cg_encode_outcome(CG_MSG_COMPILE, job->id, &o));
    return true;
}

/* Did the step fail before the program started because the slot could not be prepared (its
 * cgroup limits could not be set: "slot: ..." from the launcher)? */
static bool slot_failed(const rjob_t *job)
{
    const rproc_t *p = &job->p;
    runreq_report_t st;
    char stage[64];

    if (runreq_report_decode(p->status.data, p->status.len, &st) != 0)
        return false;
    runreq_report_stage(&st, stage, sizeof stage);
    return !strcmp(stage, "slot");
}

/* Ends the slot's launcher at once (a fresh one, with a fresh pid namespace, is started for the
 * next run); the old handle closes itself in keeper_exit. */
static void keeper_reset(runner_t *r, int slot)
{
    keeper_t *k = &r->keepers[slot];

    if (k->ctl >= 0)
        close(k->ctl);
    k->ctl = -1;
    if (k->proc) {
        kill(k->proc->pid, SIGKILL);
        k->proc = NULL;
    }
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
        keeper_reset(r, job->slot);
        start_step(job);
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
static void step_next(rjob_t *job)
{
    const cg_execute_t *ex = &job->msg.exec;

    if (job->p.spawned && !job->cancelled && slot_failed(job) && slot_recover(job))
        return;
    if (job->p.spawned || job->p.err.len) {
        /* A step just ended. */
        if (!job->cancelled) {
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
    start_step(job);
}

/* ---- API ---- */

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
        r->keepers[i].ctl = -1;
        int rc = keeper_start(r, i); /* ready before the first run; retried per run if not */
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
    for (int i = 0; i < r->cfg.slots; i++) {
        keeper_t *k = &r->keepers[i];
        /* EOF on its control socket ends a launcher; the handle goes with our loop. */
        if (k->ctl >= 0)
            close(k->ctl);
        k->ctl = -1;
        if (k->proc) {
            k->proc->data = NULL;
            uv_close((uv_handle_t *)k->proc, keeper_closed);
            k->proc = NULL;
        }
    }
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
    if (rc != 0) {
        job->conn = NULL;
        job_free(job);
        return rc;
    }
    job->step = c->profile->compile ? -1 : 0;
    *out = job;
    step_next(job);
    return 0;
}

void runner_cancel(rjob_t *job)
{
    job->cancelled = true;
    stop_program(job);
}

void runner_detach(rjob_t *job)
{
    job->conn = NULL;
    runner_cancel(job);
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

static void step_next_fresh(rjob_t *job)
{
    if (job->cancelled || job->step >= job->msg.exec.nruns || !budget_allows(job)) {
        finish_job(job);
        return;
    }
    start_step(job);
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
