/*
 * docker_stream.h - parsers for the Engine API's streamed answers, fed as bytes arrive.
 *
 * Three parsers, each a state struct the caller owns and feeds with whatever pieces the
 * transport hands over (a line, a frame header or a frame may be split anywhere):
 *   - docker_stream_lines_t splits a byte stream into lines (build progress, events);
 *   - docker_stream_build_t reads one build-progress line at a time: the "Step N/M" being run,
 *     the last output, the image id, and the error line a failing RUN sends although the HTTP
 *     status was 200;
 *   - docker_stream_demux_t splits a multiplexed logs/attach stream (8-byte frame headers:
 *     stream, 0, 0, 0, big-endian size) into stdout and stderr pieces.
 * No I/O; tests/unit/test_docker_stream.c covers them. Layering: see docker_error.h.
 *
 * Ownership and threads: one state per stream, used by one thread at a time. Only
 * docker_stream_lines_t allocates (its line buffer, freed by docker_stream_lines_free()).
 * Callbacks run on the feeding thread and may not keep pointers they are given.
 */
#ifndef CG_DOCKER_STREAM_H
#define CG_DOCKER_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "cg_util.h"

#include "docker_json.h"

#define DOCKER_MAX_LINE (256u * 1024u)

/* ---- lines ---- */

/* Gets each line without its '\n' (and a '\r' before it). Non-zero stops the feeding. */
typedef int (*docker_stream_line_cb)(void *arg, const char *line, size_t len);

/* Lines longer than DOCKER_MAX_LINE are skipped whole. Set up with docker_stream_lines_init(). */
typedef struct {
    cg_buf_t line; /* the piece of a line seen so far */
    bool skipping; /* inside an over-long line */
    docker_stream_line_cb cb;
    void *arg;
} docker_stream_lines_t;

void docker_stream_lines_init(docker_stream_lines_t *lb, docker_stream_line_cb cb, void *arg);
/* Returns 0, DOCKER_ENOMEM, or the first non-zero value a callback returned (feeding stops). */
int docker_stream_lines_feed(docker_stream_lines_t *lb, const char *data, size_t len);
/* Hands over a last line without '\n', if any. Same return values. */
int docker_stream_lines_flush(docker_stream_lines_t *lb);
void docker_stream_lines_free(docker_stream_lines_t *lb);

/* ---- build progress ---- */

/* Called for each "stream" line of a build (text as Docker sent it, usually ending in "\n").
 * Return 0 to go on, non-zero to abort the build. */
typedef int (*docker_stream_progress_cb)(void *arg, const char *text);

/* State of one build while its stream is parsed. Zero-initialise. */
typedef struct {
    char step[256];  /* last "Step N/M : ..." (first line of it, no "\n") */
    char error[768]; /* the error message, "" while none */
    char tail[1024]; /* the last output bytes, NUL-terminated */
    size_t tail_len;
    char image_id[DOCKER_ID_LEN]; /* from {"aux":{"ID":"sha256:..."}} */
    bool failed;
    docker_stream_progress_cb progress;
    void *progress_arg;
} docker_stream_build_t;

/* Parses one line of a build stream (a JSON object). Calls the progress callback for "stream"
 * lines. Returns 0 (also for blank or unparsable lines, which are ignored), DOCKER_EBUILD for an
 * error line (st->error and st->failed set; st->step keeps the last step), or DOCKER_ECANCELED
 * when the progress callback asked to stop. */
int docker_stream_build_line(docker_stream_build_t *st, const char *line, size_t len);

/* ---- multiplexed logs ---- */

enum { DOCKER_STREAM_STDIN = 0, DOCKER_STREAM_STDOUT = 1, DOCKER_STREAM_STDERR = 2 };

/* Gets a piece of one frame's payload (a frame may arrive in several pieces) with its stream.
 * Non-zero stops the feeding. */
typedef int (*docker_stream_frame_cb)(void *arg, int stream, const char *data, size_t len);

/* A stream whose first 8 bytes (or any later header) do not look like a frame header is not
 * multiplexed (a container with a TTY): from there on its bytes pass as they are, as stdout.
 * Zero-initialise with docker_stream_demux_init(). */
typedef struct {
    unsigned char hdr[8];
    size_t hdr_len; /* header bytes gathered so far */
    size_t left;    /* payload bytes still to come in the current frame */
    int stream;     /* of the current frame */
    bool raw;       /* not multiplexed: everything is payload */
    docker_stream_frame_cb cb;
    void *arg;
} docker_stream_demux_t;

void docker_stream_demux_init(docker_stream_demux_t *d, docker_stream_frame_cb cb, void *arg);
/* Returns 0 or the first non-zero value a callback returned (feeding stops). */
int docker_stream_demux_feed(docker_stream_demux_t *d, const char *data, size_t len);
/* At the end of the stream: bytes of a header cut short pass as they are (stdout). */
int docker_stream_demux_finish(docker_stream_demux_t *d);

#endif
