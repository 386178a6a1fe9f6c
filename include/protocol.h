/*
 * protocol.h - the gateway <-> executor wire protocol.
 *
 * Shared by build/gateway and build/executor (common/protocol.c). Every frame is one WebSocket
 * text frame holding one JSON object with a "type" member. Program output on the wire is always
 * valid UTF-8 without NUL bytes (see common/utf8.h for the replacement rule), so cJSON can carry
 * it and browsers accept it.
 *
 * Theory of operation
 * -------------------
 * The gateway opens N WebSocket connections to each executor (subprotocol CG_PROTO_NAME), passing
 * "Authorization: Bearer <token>" in the upgrade; the executor refuses an upgrade without the
 * right token. On accept the executor sends HELLO (language, version, slots). A connection carries
 * at most one job at a time:
 *
 *   gateway                                   executor
 *   EXECUTE {id, code, runs[...], limits}  ->
 *                                          <- COMPILE {id, status, ...}        (compiled languages)
 *                                          <- STDOUT/STDERR {id, run, data}    (only if "stream")
 *                                          <- RESULT {id, run, status, ...}    (one per run)
 *   CANCEL {id}                            ->  (optional: stop now, remaining runs not started)
 *                                          <- DONE {id, runs, budgetExceeded}  (always last)
 *
 * STDIN/CLOSE_STDIN are for streamed (interactive) jobs. An executor that cannot take a job
 * answers ERROR {id, code, message} followed by DONE. PING {seq} is answered with PONG {seq} at
 * any time. Unknown types are answered with ERROR and otherwise ignored (forward compatibility).
 *
 * Draining: an executor told to stop (SIGTERM) sends DRAIN {graceMs} on every connection, refuses
 * new EXECUTEs (ERROR executor_draining, then DONE), lets the jobs it runs finish within graceMs
 * and then exits. Its PONGs carry "draining": true from then on. The gateway sends it no new job.
 *
 * Ownership: cg_msg_t is filled by cg_msg_parse() and owns nothing itself; its string pointers
 * point into the cJSON tree it was parsed from, which the caller keeps alive and frees. The
 * encoders return a malloc'ed NUL-terminated string the caller frees with free().
 */
#ifndef CG_PROTOCOL_H
#define CG_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "files.h"
#include "lang.h"

#define CG_PROTO_VERSION 1
#define CG_PROTO_NAME "codegate-exec.v1"

/* Limits, defined once for both sides. */
#define CG_MAX_CODE_BYTES (256u * 1024u)        /* source code of one job */
#define CG_MAX_INPUT_BYTES (8u * 1024u * 1024u) /* stdin of one run */
#define CG_MAX_BODY_BYTES (16u * 1024u * 1024u) /* HTTP request body */
#define CG_MAX_RUNS 50                          /* test cases of one job */
#define CG_MAX_ARGS 64                          /* argv entries */
#define CG_MAX_ARG_BYTES 4096                   /* one argv entry */
#define CG_MAX_OPTIONS LANG_MAX_OPTIONS         /* compiler/interpreter options */
#define CG_MAX_OPTION_BYTES LANG_OPTION_MAX_BYTES
#define CG_DEFAULT_OUTPUT_LIMIT (1024u * 1024u) /* stdout+stderr bytes of one run */
#define CG_MAX_OUTPUT_LIMIT (16u * 1024u * 1024u)
/* A frame carries at most all inputs (runs x input) plus code and slack; we cap at 64 MiB and
 * additionally cap the sum of run inputs at CG_MAX_BODY_BYTES in the gateway. */
#define CG_MAX_FRAME_BYTES (64u * 1024u * 1024u)
#define CG_DEFAULT_TIMEOUT_MS 5000
#define CG_MAX_TIMEOUT_MS 30000
/* A run's wall-clock limit is extended by the time its program waited for a CPU (shared cores),
 * by at most this percent of the limit (executors/launcher.c); the executor's and the gateway's
 * backstops allow for it. */
#define CG_WALL_CREDIT_PCT 300
#define CG_MAX_SESSION_MS 3600000 /* interactive runs (sessions) */
#define CG_DEFAULT_MEMORY_MB 256
#define CG_MIN_MEMORY_MB 16
#define CG_MAX_MEMORY_MB 1024
/* A run as a whole (every process, the runtime's own baseline, its /tmp files) may use its
 * memoryMb plus this in its slot's memory cgroup. */
#define CG_RUN_MEMORY_EXTRA_MB 128
/* What an executor container needs besides its slots' runs: the executor, the slot launchers,
 * the compile cache and work dirs it writes (its /work tmpfs), with room to spare. */
#define CG_EXECUTOR_BASE_MB 768
#define CG_ID_MAX 64 /* job id length, [A-Za-z0-9_-] */
/* Total wall-clock budget of one job (compile and every run): the gateway's --job-budget-ms. */
#define CG_DEFAULT_BUDGET_MS 60000
#define CG_MIN_BUDGET_MS 1000
#define CG_MAX_BUDGET_MS 3600000

typedef enum {
    CG_MSG_UNKNOWN = 0,
    CG_MSG_HELLO,       /* e->g: {"v","language","version","slots"} */
    CG_MSG_EXECUTE,     /* g->e */
    CG_MSG_STDIN,       /* g->e: {"id","data"} */
    CG_MSG_CLOSE_STDIN, /* g->e: {"id"} */
    CG_MSG_CANCEL,      /* g->e: {"id"} stop the job; the current run is killed */
    CG_MSG_KILL,        /* g->e: alias of CANCEL kept for the session API */
    CG_MSG_COMPILE,     /* e->g */
    CG_MSG_STDOUT,      /* e->g: {"id","run","data"} */
    CG_MSG_STDERR,      /* e->g: {"id","run","data"} */
    CG_MSG_RESULT,      /* e->g */
    CG_MSG_DONE,        /* e->g: {"id","runs"} */
    CG_MSG_ERROR,       /* both: {"id"?,"code","message"} */
    CG_MSG_PING,        /* both: {"seq"} */
    CG_MSG_PONG,        /* both: {"seq"}; from an executor also {"slotsDown", "draining"} */
    CG_MSG_DRAIN,       /* e->g: {"graceMs"} the executor is stopping: no new jobs */
} cg_msg_type_t;

/* Outcome of one compile or run, as decided by the executor. The gateway adds the test-only
 * statuses (wrong_answer, skipped). Order matters for nothing; names are the API strings. */
typedef enum {
    CG_ST_OK = 0,
    CG_ST_RUNTIME_ERROR,
    CG_ST_COMPILE_ERROR,
    CG_ST_TIMEOUT,
    CG_ST_MEMORY_LIMIT,
    CG_ST_OUTPUT_LIMIT,
    CG_ST_WRONG_ANSWER,
    CG_ST_SKIPPED,
    CG_ST_INTERNAL_ERROR,
    CG_ST_CANCELLED, /* killed on request (session kill, client gone) */
    CG_ST__COUNT
} cg_status_t;

const char *cg_status_name(cg_status_t st);
/* Returns -1 when the name is unknown. */
int cg_status_parse(const char *name);

/* Signal number -> "SIGKILL"; NULL for 0; "SIG<n>" style for unknown numbers is not produced:
 * unknown numbers give "SIGUNKNOWN". */
const char *cg_signal_name(int sig);

/* One run of a job: its stdin and wall-clock limit. */
typedef struct {
    const char *input; /* may be NULL = empty */
    size_t input_len;
    int timeout_ms;
} cg_run_spec_t;

/* A file given with a job (files.h): its name and its contents, base64-encoded. */
typedef struct {
    const char *name;
    const char *b64; /* base64 of the contents (files.h: cg_b64_decode) */
    size_t b64_len;
} cg_file_t;

/* EXECUTE, as built by the gateway and parsed by the executor. */
typedef struct {
    const char *id;
    const char *language; /* canonical name: python, javascript, cpp */
    const char *code;
    size_t code_len;
    const char *const *args; /* argv[1..] of the program */
    int nargs;
    const char *const *options; /* compiler/interpreter options (lang_options_check()) */
    int noptions;
    cg_run_spec_t runs[CG_MAX_RUNS];
    int nruns; /* >= 1 */
    int memory_mb;
    size_t output_limit;    /* stdout+stderr bytes per run */
    bool stream;            /* send STDOUT/STDERR frames as output arrives (sessions) */
    bool interactive;       /* run 0 reads stdin from STDIN frames, stdout is a pty */
    int budget_ms;          /* wall clock of the whole job (compile + runs); 0 = none. The
                               executor starts no run once it is spent and cuts each run's
                               timeout to what is left (DONE then says budgetExceeded) */
    const cg_file_t *files; /* files written next to the entry file before the first step */
    int nfiles;             /* 0..CG_MAX_FILES */
    cg_out_limits_t out;    /* what of out/ comes back in DONE */
} cg_execute_t;

/* COMPILE and RESULT share this shape. Strings point into the parsed tree. */
typedef struct {
    int run; /* RESULT: index of the run; COMPILE: -1 */
    cg_status_t status;
    int exit_code; /* -1 when killed by a signal */
    int signal;    /* 0 when none */
    bool timed_out;
    bool truncated;
    int64_t duration_ms; /* wall clock */
    int64_t cpu_ms;
    int64_t memory_kb; /* peak RSS */
    bool cached;       /* COMPILE: the program came from the compile cache ("cached", optional) */
    const char *out;   /* stdout (empty when streamed) */
    const char *err;   /* stderr (empty when streamed) */
} cg_outcome_t;

/* A parsed frame. Only the members of its type are meaningful. */
typedef struct {
    cg_msg_type_t type;
    const char *id; /* job id or NULL */
    /* HELLO */
    int version;
    const char *language;
    const char *lang_version;
    int slots;
    /* STDIN/STDOUT/STDERR */
    const char *data;
    int run;
    /* ERROR */
    const char *code;
    const char *message;
    /* PING/PONG */
    int64_t seq;
    int slots_down; /* PONG from an executor: slots out of service (0 when absent) */
    bool draining;  /* PONG from an executor: it is draining (false when absent) */
    /* DRAIN */
    int64_t grace_ms;
    /* DONE */
    int runs;
    bool budget_exceeded;       /* the job's budget cut a run short or left runs unstarted */
    const cJSON *files;         /* DONE: the out/ files [{name,size,mimeType,content}] or NULL */
    const cJSON *files_omitted; /* DONE: [{name,reason}] of out/ entries left out, or NULL */
    /* COMPILE/RESULT */
    cg_outcome_t outcome;
    /* EXECUTE */
    cg_execute_t exec;
    const char *argv[CG_MAX_ARGS + 1];    /* storage behind exec.args */
    const char *optv[CG_MAX_OPTIONS + 1]; /* storage behind exec.options */
    cg_file_t filev[CG_MAX_FILES];        /* storage behind exec.files */
} cg_msg_t;

/* Error codes of the protocol functions (negative, 0 = success). */
enum {
    CG_EPROTO_JSON = -1001,   /* not JSON / not an object */
    CG_EPROTO_TYPE = -1002,   /* missing or unknown "type" */
    CG_EPROTO_FIELD = -1003,  /* a member is missing, of the wrong type or out of range */
    CG_EPROTO_TOOBIG = -1004, /* exceeds a CG_MAX_* limit */
    CG_EPROTO_NOMEM = -1005,
};
const char *cg_proto_strerror(int err);

/*
 * Parses one frame. On success returns 0, stores the tree in *root (caller frees with
 * cJSON_Delete) and fills *msg with pointers into it. On failure returns a CG_EPROTO_* code,
 * *root is NULL, and if errbuf is not NULL a sentence naming the offending member is written
 * to it. An unknown "type" still returns 0 with msg->type == CG_MSG_UNKNOWN.
 */
int cg_msg_parse(const char *buf, size_t len, cJSON **root, cg_msg_t *msg, char *errbuf,
                 size_t errlen);

/* Encoders: each returns a malloc'ed JSON string (free() it) or NULL on allocation failure. */
char *cg_encode_hello(const char *language, const char *version, int slots);
char *cg_encode_execute(const cg_execute_t *ex);
char *cg_encode_simple(cg_msg_type_t type, const char *id); /* CLOSE_STDIN, CANCEL, KILL, DONE */
char *cg_encode_data(cg_msg_type_t type, const char *id, int run, const char *data,
                     size_t len); /* STDIN, STDOUT, STDERR; data must be valid UTF-8 */
char *cg_encode_outcome(cg_msg_type_t type, const char *id, const cg_outcome_t *o);
char *cg_encode_done(const char *id, int runs, bool budget_exceeded);
/* DONE with the out/ files: files and omitted (either may be NULL) are taken over (always
 * deleted, also on failure). */
char *cg_encode_done_files(const char *id, int runs, bool budget_exceeded, cJSON *files,
                           cJSON *omitted);
char *cg_encode_error(const char *id, const char *code, const char *message);
char *cg_encode_ping(cg_msg_type_t type, int64_t seq); /* PING or PONG */
/* An executor's PONG: also how many of its slots are out of service. */
char *cg_encode_pong(int64_t seq, int slots_down, bool draining);
/* An executor's DRAIN: it stops taking jobs; those it runs have grace_ms to finish. */
char *cg_encode_drain(int64_t grace_ms);

const char *cg_msg_type_name(cg_msg_type_t t);

/* True when id is 1..CG_ID_MAX chars of [A-Za-z0-9_-]. */
bool cg_id_valid(const char *id);

#endif
