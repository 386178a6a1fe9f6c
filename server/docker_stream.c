/*
 * docker_stream.c - line splitting, build-progress lines and log frames (see docker_stream.h).
 */
#include "docker_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lines ---- */

void docker_stream_lines_init(docker_stream_lines_t *lb, docker_stream_line_cb cb, void *arg)
{
    memset(lb, 0, sizeof *lb);
    lb->cb = cb;
    lb->arg = arg;
}

static int lines_emit(docker_stream_lines_t *lb, const char *p, size_t n)
{
    if (n && p[n - 1] == '\r')
        n--;
    return lb->cb(lb->arg, p, n);
}

/* Appends a piece of a line to lb->line. */
static int lines_keep(docker_stream_lines_t *lb, const char *data, size_t n)
{
    return cg_buf_append(&lb->line, data, n) == 0 ? 0 : DOCKER_ENOMEM;
}

int docker_stream_lines_feed(docker_stream_lines_t *lb, const char *data, size_t len)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t chunk = nl ? (size_t)(nl - data) : len;
        int rc = 0;
        if (lb->skipping) {
            /* drop the rest of an over-long line */
        } else if (lb->line.len + chunk > DOCKER_MAX_LINE) {
            lb->skipping = true;
            lb->line.len = 0;
        } else if (nl && lb->line.len == 0) {
            rc = lines_emit(lb, data, chunk); /* a whole line: no copy */
        } else if ((rc = lines_keep(lb, data, chunk)) == 0 && nl) {
            rc = lines_emit(lb, lb->line.data, lb->line.len);
            lb->line.len = 0;
        }
        if (nl)
            lb->skipping = false;
        if (rc)
            return rc;
        data += chunk + (nl ? 1 : 0);
        len -= chunk + (nl ? 1 : 0);
    }
    return 0;
}

int docker_stream_lines_flush(docker_stream_lines_t *lb)
{
    int rc = 0;
    if (!lb->skipping && lb->line.len)
        rc = lines_emit(lb, lb->line.data, lb->line.len);
    lb->line.len = 0;
    lb->skipping = false;
    return rc;
}

void docker_stream_lines_free(docker_stream_lines_t *lb)
{
    cg_buf_free(&lb->line);
}

/* ---- build progress ---- */

static void tail_append(docker_stream_build_t *st, const char *s)
{
    size_t n = strlen(s), room = sizeof st->tail - 1;
    if (n >= room) {
        memcpy(st->tail, s + n - room, room);
        st->tail_len = room;
    } else {
        if (st->tail_len + n > room) {
            size_t drop = st->tail_len + n - room;
            memmove(st->tail, st->tail + drop, st->tail_len - drop);
            st->tail_len -= drop;
        }
        memcpy(st->tail + st->tail_len, s, n);
        st->tail_len += n;
    }
    st->tail[st->tail_len] = '\0';
}

int docker_stream_build_line(docker_stream_build_t *st, const char *line, size_t len)
{
    cJSON *o = len ? cJSON_ParseWithLength(line, len) : NULL;
    int rc = 0;
    if (!cJSON_IsObject(o))
        goto out; /* blank or not JSON: ignore */
    const char *stream = docker_json_str(o, "stream");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(o, "errorDetail");
    const char *error = docker_json_str(o, "error");
    const char *dmsg = docker_json_str(detail, "message");
    if (error || dmsg) {
        snprintf(st->error, sizeof st->error, "%s", dmsg ? dmsg : error);
        size_t n = strlen(st->error);
        while (n && (st->error[n - 1] == '\n' || st->error[n - 1] == '\r'))
            st->error[--n] = '\0';
        st->failed = true;
        rc = DOCKER_EBUILD;
        goto out;
    }
    if (stream) {
        if (strncmp(stream, "Step ", 5) == 0) {
            size_t n = strcspn(stream, "\r\n");
            if (n >= sizeof st->step)
                n = sizeof st->step - 1;
            memcpy(st->step, stream, n);
            st->step[n] = '\0';
        }
        tail_append(st, stream);
        if (st->progress && st->progress(st->progress_arg, stream) != 0)
            rc = DOCKER_ECANCELED;
    }
    const char *id = docker_json_str(cJSON_GetObjectItemCaseSensitive(o, "aux"), "ID");
    if (id)
        snprintf(st->image_id, sizeof st->image_id, "%s", id);
out:
    cJSON_Delete(o);
    return rc;
}

/* ---- multiplexed logs ---- */

void docker_stream_demux_init(docker_stream_demux_t *d, docker_stream_frame_cb cb, void *arg)
{
    memset(d, 0, sizeof *d);
    d->cb = cb;
    d->arg = arg;
}

static bool is_header(const unsigned char h[8])
{
    return h[0] <= DOCKER_STREAM_STDERR && !h[1] && !h[2] && !h[3];
}

int docker_stream_demux_feed(docker_stream_demux_t *d, const char *data, size_t len)
{
    while (len) {
        if (d->raw)
            return d->cb(d->arg, DOCKER_STREAM_STDOUT, data, len);
        if (d->left) {
            size_t n = len < d->left ? len : d->left;
            int rc = d->cb(d->arg, d->stream, data, n);
            data += n;
            len -= n;
            d->left -= n;
            if (rc)
                return rc;
            continue;
        }
        size_t n = sizeof d->hdr - d->hdr_len < len ? sizeof d->hdr - d->hdr_len : len;
        memcpy(d->hdr + d->hdr_len, data, n);
        d->hdr_len += n;
        data += n;
        len -= n;
        if (d->hdr_len < sizeof d->hdr)
            break;
        d->hdr_len = 0;
        if (!is_header(d->hdr)) {
            d->raw = true;
            int rc = d->cb(d->arg, DOCKER_STREAM_STDOUT, (const char *)d->hdr, sizeof d->hdr);
            if (rc)
                return rc;
            continue;
        }
        const unsigned char *h = d->hdr;
        d->stream = h[0];
        d->left = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    }
    return 0;
}

int docker_stream_demux_finish(docker_stream_demux_t *d)
{
    size_t n = d->hdr_len;
    d->hdr_len = 0;
    return n ? d->cb(d->arg, DOCKER_STREAM_STDOUT, (const char *)d->hdr, n) : 0;
}
