/*
 * session_int.h - what the session files share (not part of session.h's API): the session and
 * hub structs, their limits, and the functions one file calls in another.
 *
 *   session.c      the hub, the HTTP side, and the connection thread (socket I/O, limits)
 *   session_out.c  frames for the client and every way a session ends; the pool thread's events
 *   session_in.c   frames from the client: start (admission, keys), stdin, eof, kill, close
 *
 * Threads and locks: see the theory of operation in session.c; every function named *_locked
 * is called with s->mu held.
 */
#ifndef CG_SESSION_INT_H
#define CG_SESSION_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "frameq.h"
#include "job.h"
#include "request.h"
#include "session.h"
#include "wsframe.h"

#define SESSION_QUEUE_HIGH (1024u * 1024u)
#define SESSION_QUEUE_LOW (256u * 1024u)
/* Above this the client's frames are not read either: only a client that sends without
 * reading (each bad frame answered with an error frame) gets here. */
#define SESSION_QUEUE_HARD (4u * 1024u * 1024u)
#define SESSION_MAX_FRAME (512u * 1024u) /* one client message, all fragments together */
#define SESSION_STALL_MS 30000           /* a client that takes no bytes for this long is gone */
#define SESSION_CLOSE_WAIT_MS 2000       /* after our close frame, wait this long for theirs */
#define SESSION_READ_CHUNK 16384
#define SESSION_STACK_BYTES (256u * 1024u)
/* Connections that have not sent "start" yet. */
#define SESSION_PENDING_MAX(cfg) (2 * (cfg)->sessions_max + 16)

/* Frames for the client are frameq items: header + payload, `counted` = the payload of data
 * frames (session.out.bytes), `close` marks the close frame, the last one we send. */

typedef struct session session_t;

struct session_hub {
    const config_t *cfg;
    pool_t *pool;
    session_auth_t auth;
    bool hook_ok; /* our upgrade wrapper is the one libulfius calls */
    pthread_mutex_t mu;
    int count;    /* connections alive */
    int admitted; /* of which hold a session place (start accepted) */
    session_t *list;
    bool closing;
};

struct session {
    session_hub_t *hub;
    int fd;
    void (*close_fn)(void *);
    void *close_arg;
    int wake; /* eventfd: frames queued, hub closing */
    char *bearer;
    unsigned char *extra;
    size_t extra_len;

    pthread_mutex_t mu;
    int refs;
    frameq_t out;       /* data frames for the client; out.bytes: their payload bytes */
    frameq_item_t *ctl; /* a pong, sent before data frames */
    job_t *job;         /* referenced while set */
    bool started;       /* a start frame was accepted and its job created */
    bool run_started;   /* "started" was sent: an "exit" will follow */
    bool finished;      /* the last frame is queued: close with close_code after it */
    bool exit_sent;
    bool killed;        /* by the client, the idle limit or shutdown */
    bool shutdown;      /* ended by the gateway's shutdown */
    bool admitted;      /* holds a place in hub->admitted */
    bool key_held;      /* holds a place of principal (auth.acquire) */
    bool closed;        /* the connection thread ended: frames are dropped */
    size_t stdin_bytes; /* sent to the program so far (at most CG_MAX_INPUT_BYTES) */
    const void *principal;
    int close_code;
    char refused[32];        /* the error code of a refusal, for the log */
    const char *kill_status; /* status reported for a killed run */
    int64_t opened_ms, last_client_ms, started_ms;
    session_t *next; /* hub list */

    /* connection thread only */
    wsframe_parser_t parser;
    frameq_item_t *cur;
    size_t cur_off;
    int64_t last_progress_ms;
    bool close_sent, peer_closed, gone;
    int64_t close_deadline_ms;
};

void session_wake(session_t *s);
void session_unref(session_t *s);
frameq_item_t *session_frame_new(int opcode, const void *payload, size_t n);
void session_push_locked(session_t *s, cJSON *o);
cJSON *session_frame(const char *type);
void session_push_error_locked(session_t *s, const char *code, const char *message);
void session_push_exit_locked(session_t *s, const char *status, const cg_outcome_t *oc);
void session_drop_queue_locked(session_t *s);
void session_end_locked(session_t *s, int close_code);
int session_refusal_close_code(const char *code);
void session_refuse_locked(session_t *s, const char *code, const char *message);
void session_kill_locked(session_t *s, const char *status);
void session_job_ended_locked(session_t *s, job_t *job);
void session_on_job_event(void *arg, job_t *job, const cg_msg_t *m);
int session_parse_start(session_t *s, const cJSON *o, request_t *r, char *err, size_t errlen);
void session_refuse(session_t *s, const char *code, const char *message);
int session_admit(session_t *s, const cJSON *start);
void session_handle_start(session_t *s, const cJSON *o);
void session_send_to_job(session_t *s, char *frame_text);
void session_handle_text(session_t *s, const unsigned char *data, size_t len);
void session_push_pong_locked(session_t *s, frameq_item_t *f);
void session_peer_close(session_t *s, int code);
void session_protocol_error(session_t *s);
void session_feed(session_t *s, const unsigned char *buf, size_t len);

#endif
