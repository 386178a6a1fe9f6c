/*
 * executor.h - the executor's WebSocket server: one lws vhost on the caller's libuv loop (TLS
 * when configured), token check on upgrade, frame reassembly, dispatch of frames to the
 * runner, GET /healthz, and the drain on SIGTERM.
 *
 * Ownership: executor_t is created by executor_new and freed by executor_free after the loop
 * has stopped. Threads: the loop's thread only.
 */
#ifndef CG_EXECUTOR_H
#define CG_EXECUTOR_H

#include <stdbool.h>
#include <sys/types.h>

#include <uv.h>

#include "profiles.h"
#include "slotcg.h"
#include "slotns.h"

typedef struct {
    const char *language;
    const char *version; /* of the language runtime, sent in HELLO */
    const char *listen;  /* "tcp:HOST:PORT" or "unix:/path" */
    const char *token;
    const char *launcher;
    const char *work_root;
    int slots;
    uid_t uid_base;
    bool drop_uid;
    bool userns; /* root only in a user namespace of our own (see runner.h) */
    int compile_timeout_ms;
    const char *tls_cert; /* PEM files: the listener speaks TLS (wss); NULL = plain */
    const char *tls_key;
    int drain_ms;            /* executor_drain: how long running jobs may still take */
    const char *cache_dir;   /* compiled-program cache, or NULL */
    const char *pch_dir;     /* C++: the precompiled header's directory (cxxfast.h), or NULL */
    const char *pch_run_dir; /* where compiles see it (a box's SLOTNS_PCH); NULL: pch_dir */
    const slotns_t *ns;      /* per-slot namespaces (slots entries), or NULL */
    const slotcg_t *cg;      /* per-slot memory and pids cgroups (slots entries), or NULL */
    char (*areas)[PATH_MAX]; /* with ns: each slot's work area (slots entries), or NULL */
} executor_cfg_t;

typedef struct executor executor_t;

/* Creates the lws context on loop and starts listening. NULL on failure (logged). */
executor_t *executor_new(uv_loop_t *loop, const executor_cfg_t *cfg);

/*
 * Stopping. executor_drain (the first SIGTERM): DRAIN {graceMs: cfg.drain_ms} goes out on every
 * connection; from then on new upgrades are refused, an EXECUTE is answered ERROR
 * executor_draining + DONE (nothing ran: the gateway may send it elsewhere) and PONGs say
 * "draining". Running jobs (interactive ones too) go on; when the last one has ended, every
 * connection is closed (1001) and the loop stops. Jobs still running after drain_ms are ended
 * with runner_abort: the run they were in reports internal_error with the reason in its stderr.
 * executor_stop (a second signal) does that at once. In both cases connections still open
 * EXECUTOR_STOP_MS after the closing began are not waited for. A second executor_drain is a
 * no-op.
 */
#define EXECUTOR_STOP_MS 3000
void executor_drain(executor_t *ex);
void executor_stop(executor_t *ex);
void executor_free(executor_t *ex);

/* JSON log line on stderr: {"ts","level","msg"} (printf-style message). */
void executor_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Lines below this level ("debug", "info", "warn", "error") are not written. Default "info":
 * per-job lines (job_start, job_end) are "debug". -1 for an unknown name. */
int executor_set_log_level(const char *level);
bool executor_log_enabled(const char *level);

#endif
