/*
 * executor.h - the executor's WebSocket server: one lws vhost on the caller's libuv loop,
 * token check on upgrade, frame reassembly, and dispatch of frames to the runner.
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
    const char *cache_dir;   /* compiled-program cache, or NULL */
    const slotns_t *ns;      /* per-slot namespaces (slots entries), or NULL */
    const slotcg_t *cg;      /* per-slot memory and pids cgroups (slots entries), or NULL */
    char (*areas)[PATH_MAX]; /* with ns: each slot's work area (slots entries), or NULL */
} executor_cfg_t;

typedef struct executor executor_t;

/* Creates the lws context on loop and starts listening. NULL on failure (logged). */
executor_t *executor_new(uv_loop_t *loop, const executor_cfg_t *cfg);

/* Begins shutdown: running jobs are cancelled; *done becomes true (and the loop is stopped)
 * when none is left. */
void executor_shutdown(executor_t *ex);
void executor_free(executor_t *ex);

/* JSON log line on stderr: {"ts","level","msg"} (printf-style message). */
void executor_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Lines below this level ("debug", "info", "warn", "error") are not written. Default "info":
 * per-job lines (job_start, job_end) are "debug". -1 for an unknown name. */
int executor_set_log_level(const char *level);
bool executor_log_enabled(const char *level);

#endif
