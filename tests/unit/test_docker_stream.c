/*
 * test_docker_stream.c - the stream parsers fed the way the transport feeds them: lines and
 * frames split at every possible place, stdout and stderr frames interleaved, the error line a
 * failing build sends with HTTP 200, cancellation from a callback, over-long lines.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alarm_fixture.h"

#include "docker_samples.h"
#include "docker_stream.h"

/* ---- line splitting ---- */

typedef struct {
    char lines[16][64];
    int n;
    int stop_at; /* return 7 on this line number (1-based), 0 = never */
} collect_t;

static int collect(void *arg, const char *line, size_t len)
{
    collect_t *c = arg;
    assert_true(c->n < 16 && len < 64);
    memcpy(c->lines[c->n], line, len);
    c->lines[c->n][len] = '\0';
    c->n++;
    return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

static void test_lines_every_split(void **state)
{
    (void)state;
    const char *s = "{\"a\":1}\r\n\nsecond line\nthird\r\nlast";
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        collect_t c = {0};
        docker_stream_lines_t lb;
        docker_stream_lines_init(&lb, collect, &c);
        assert_int_equal(docker_stream_lines_feed(&lb, s, cut), 0);
        assert_int_equal(docker_stream_lines_feed(&lb, s + cut, n - cut), 0);
        assert_int_equal(docker_stream_lines_flush(&lb), 0);
        docker_stream_lines_free(&lb);
        assert_int_equal(c.n, 5);
        assert_string_equal(c.lines[0], "{\"a\":1}");
        assert_string_equal(c.lines[1], "");
        assert_string_equal(c.lines[2], "second line");
        assert_string_equal(c.lines[3], "third");
        assert_string_equal(c.lines[4], "last");
    }
}

static void test_lines_stop_and_long(void **state)
{
    (void)state;
    collect_t c = {.stop_at = 2};
    docker_stream_lines_t lb;
    docker_stream_lines_init(&lb, collect, &c);
    assert_int_equal(docker_stream_lines_feed(&lb, "a\nb\nc\n", 6), 7);
    assert_int_equal(c.n, 2);
    docker_stream_lines_free(&lb);

    /* An over-long line is skipped whole, even when it arrives in pieces. */
    collect_t d = {0};
    docker_stream_lines_init(&lb, collect, &d);
    char *big = malloc(DOCKER_MAX_LINE / 2 + 1);
    assert_non_null(big);
    memset(big, 'y', DOCKER_MAX_LINE / 2);
    assert_int_equal(docker_stream_lines_feed(&lb, "before\n", 7), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(docker_stream_lines_feed(&lb, big, DOCKER_MAX_LINE / 2), 0);
    assert_int_equal(docker_stream_lines_feed(&lb, "tail\nafter\n", 11), 0);
    assert_int_equal(docker_stream_lines_flush(&lb), 0);
    docker_stream_lines_free(&lb);
    free(big);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.lines[0], "before");
    assert_string_equal(d.lines[1], "after");
}

/* ---- build stream ---- */

static int count_progress(void *arg, const char *text)
{
    (void)text;
    (*(int *)arg)++;
    return 0;
}

static int build_parse_cb(void *arg, const char *line, size_t len)
{
    return docker_stream_build_line(arg, line, len);
}

static int parse_stream(docker_stream_build_t *st, const char *s)
{
    docker_stream_lines_t lb;
    int rc = 0;
    docker_stream_lines_init(&lb, build_parse_cb, st);
    /* Odd-sized pieces: lines arrive split. */
    for (size_t i = 0, n = strlen(s); i < n && !rc; i += 7)
        rc = docker_stream_lines_feed(&lb, s + i, n - i < 7 ? n - i : 7);
    if (!rc)
        rc = docker_stream_lines_flush(&lb);
    docker_stream_lines_free(&lb);
    return rc;
}

static void test_build_stream_error(void **state)
{
    (void)state;
    int lines = 0;
    docker_stream_build_t st = {.progress = count_progress, .progress_arg = &lines};
    assert_int_equal(parse_stream(&st, build_fail), DOCKER_EBUILD);
    assert_true(st.failed);
    assert_string_equal(st.step, "Step 3/4 : RUN echo to stderr >&2; false");
    assert_string_equal(
        st.error, "The command '/bin/sh -c echo to stderr >&2; false' returned a non-zero code: 1");
    assert_int_equal(lines, 14);
    assert_non_null(strstr(st.tail, "to stderr\n"));
    assert_non_null(strstr(st.tail, "Removing intermediate container 33b82a40fdba\n"));
    assert_string_equal(st.image_id, "");
}

static void test_build_stream_ok(void **state)
{
    (void)state;
    int lines = 0;
    docker_stream_build_t st = {.progress = count_progress, .progress_arg = &lines};
    assert_int_equal(parse_stream(&st, build_ok), 0);
    assert_false(st.failed);
    assert_string_equal(st.step, "Step 2/2 : RUN echo hello");
    assert_string_equal(st.image_id,
                        "sha256:ef52b0637f1babdfa4e7749ab794576ab6db228bfe9d2d4d187f50317c261e56");
    assert_int_equal(lines, 9);
    /* Garbage and blank lines are ignored. */
    assert_int_equal(docker_stream_build_line(&st, "not json", 8), 0);
    assert_int_equal(docker_stream_build_line(&st, "", 0), 0);
    assert_int_equal(docker_stream_build_line(&st, "[1]", 3), 0);
    assert_false(st.failed);
    /* "error" alone (no errorDetail) is an error too. */
    const char *e = "{\"error\":\"failed to export image\\n\"}";
    assert_int_equal(docker_stream_build_line(&st, e, strlen(e)), DOCKER_EBUILD);
    assert_string_equal(st.error, "failed to export image");
}

static int cancel_progress(void *arg, const char *text)
{
    (void)arg;
    return strncmp(text, "Step 2/", 7) == 0;
}

static void test_build_stream_cancel_and_tail(void **state)
{
    (void)state;
    docker_stream_build_t st = {.progress = cancel_progress};
    assert_int_equal(parse_stream(&st, build_ok), DOCKER_ECANCELED);
    assert_string_equal(st.step, "Step 2/2 : RUN echo hello");

    /* The tail keeps the last sizeof(tail) - 1 bytes. */
    docker_stream_build_t t = {0};
    char line[128];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(line, sizeof line, "{\"stream\":\"line %03d xxxxxxxxxxxxxxxxxxx\\n\"}", i);
        assert_int_equal(docker_stream_build_line(&t, line, (size_t)n), 0);
    }
    assert_int_equal(t.tail_len, sizeof t.tail - 1);
    assert_int_equal(strlen(t.tail), sizeof t.tail - 1);
    const char *end = "line 099 xxxxxxxxxxxxxxxxxxx\n";
    assert_string_equal(t.tail + strlen(t.tail) - strlen(end), end);
    assert_null(strstr(t.tail, "line 000"));
}

/* ---- multiplexed logs ---- */

/* What the demuxer handed over: bytes per stream, and the pieces in order ("1:he|2:x|..."). */
typedef struct {
    char out[3][256];
    size_t len[3];
    char order[512];
    int pieces;
    int stop_after; /* return 5 after this many pieces, 0 = never */
} frames_t;

static int on_frame(void *arg, int stream, const char *data, size_t len)
{
    frames_t *f = arg;
    assert_true(stream >= 0 && stream <= 2);
    assert_true(f->len[stream] + len < sizeof f->out[stream]);
    memcpy(f->out[stream] + f->len[stream], data, len);
    f->len[stream] += len;
    f->out[stream][f->len[stream]] = '\0';
    size_t o = strlen(f->order);
    snprintf(f->order + o, sizeof f->order - o, "%d:%.*s|", stream, (int)len, data);
    f->pieces++;
    return f->stop_after && f->pieces == f->stop_after ? 5 : 0;
}

/* Feeds in in two pieces cut at cut, then finishes. */
static int demux_cut(frames_t *f, const unsigned char *in, size_t len, size_t cut)
{
    docker_stream_demux_t d;
    memset(f, 0, sizeof *f);
    docker_stream_demux_init(&d, on_frame, f);
    int rc = docker_stream_demux_feed(&d, (const char *)in, cut);
    rc = rc ? rc : docker_stream_demux_feed(&d, (const char *)in + cut, len - cut);
    return rc ? rc : docker_stream_demux_finish(&d);
}

/* stdout "hello\n", stderr "err\n", stdout "" (an empty frame), stdout "bye" */
static const unsigned char frames[] = {
    1,   0,   0,    0, 0, 0, 0, 6, 'h', 'e', 'l', 'l', 'o', '\n', 2, 0, 0, 0, 0, 0,   0,   4,  'e',
    'r', 'r', '\n', 1, 0, 0, 0, 0, 0,   0,   0,   1,   0,   0,    0, 0, 0, 0, 3, 'b', 'y', 'e'};

static void test_demux_every_split(void **state)
{
    (void)state;
    for (size_t cut = 0; cut <= sizeof frames; cut++) {
        frames_t f;
        assert_int_equal(demux_cut(&f, frames, sizeof frames, cut), 0);
        assert_string_equal(f.out[1], "hello\nbye");
        assert_string_equal(f.out[2], "err\n");
        assert_int_equal(f.len[0], 0);
    }
    /* Byte by byte: every frame arrives in pieces, each tagged with its own stream. */
    frames_t f = {0};
    docker_stream_demux_t d;
    docker_stream_demux_init(&d, on_frame, &f);
    for (size_t i = 0; i < sizeof frames; i++)
        assert_int_equal(docker_stream_demux_feed(&d, (const char *)frames + i, 1), 0);
    assert_int_equal(docker_stream_demux_finish(&d), 0);
    assert_string_equal(f.order, "1:h|1:e|1:l|1:l|1:o|1:\n|2:e|2:r|2:r|2:\n|1:b|1:y|1:e|");
}

static void test_demux_interleaved_order(void **state)
{
    (void)state;
    frames_t f;
    assert_int_equal(demux_cut(&f, frames, sizeof frames, 0), 0);
    assert_string_equal(f.order, "1:hello\n|2:err\n|1:bye|");
}

static void test_demux_truncated_and_tty(void **state)
{
    (void)state;
    frames_t f;
    /* A frame whose size runs past the end: what is there is kept. */
    assert_int_equal(demux_cut(&f, frames, 11, 4), 0);
    assert_string_equal(f.order, "1:hel|");
    /* A header cut short at the end passes as it is. */
    assert_int_equal(demux_cut(&f, frames, 14 + 3, 14), 0);
    assert_memory_equal(f.out[1], "hello\n", 6);
    assert_int_equal(f.len[1], 6 + 3);
    assert_int_equal(f.out[1][6], 2);
    /* Not multiplexed (a TTY container): everything is stdout, as it came, in any pieces. */
    const unsigned char tty[] = "plain tty output\n\x01\x00";
    for (size_t cut = 0; cut <= sizeof tty - 1; cut++) {
        assert_int_equal(demux_cut(&f, tty, sizeof tty - 1, cut), 0);
        assert_int_equal(f.len[1], sizeof tty - 1);
        assert_memory_equal(f.out[1], tty, sizeof tty - 1);
    }
    /* A bad header after good frames: from there on the bytes pass as they are. */
    unsigned char mixed[14 + 10];
    memcpy(mixed, frames, 14);
    memcpy(mixed + 14, "\x07nonsense!", 10);
    assert_int_equal(demux_cut(&f, mixed, sizeof mixed, 17), 0);
    assert_int_equal(f.len[1], 6 + 10);
    assert_memory_equal(f.out[1] + 6, "\x07nonsense!", 10);
}

static void test_demux_stop(void **state)
{
    (void)state;
    frames_t f = {.stop_after = 2};
    docker_stream_demux_t d;
    docker_stream_demux_init(&d, on_frame, &f);
    assert_int_equal(docker_stream_demux_feed(&d, (const char *)frames, sizeof frames), 5);
    assert_int_equal(f.pieces, 2);
    assert_string_equal(f.order, "1:hello\n|2:err\n|");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines_every_split, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_lines_stop_and_long, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_build_stream_error, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_build_stream_ok, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_build_stream_cancel_and_tail, setup_alarm,
                                        teardown_alarm),
        cmocka_unit_test_setup_teardown(test_demux_every_split, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_demux_interleaved_order, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_demux_truncated_and_tty, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_demux_stop, setup_alarm, teardown_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
